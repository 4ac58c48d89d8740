/*
 * csr_int.h - library-internal: the request reader behind
 * signet_csr_parse_key (csr_fast.c).
 */
#ifndef SIGNET_CSR_INT_H
#define SIGNET_CSR_INT_H

#include <openssl/x509.h>
#include <signet/cert.h>

/*
 * d2i for a DER PKCS#10 request that also hands back its public key (*key,
 * the caller's reference, NULL when the key cannot be decoded).  Named-curve
 * EC and Ed25519 keys skip OpenSSL 3.0's decoder; anything else is read by
 * d2i_X509_REQ.  Advances *pp like a d2i function.  *key on entry is NULL
 * or a key this function returned before that the caller no longer uses:
 * it is reused for the new key when it can be, else freed.
 */
X509_REQ *signet_csr_d2i_fast(const unsigned char **pp, long len, EVP_PKEY **key);

/*
 * The same, given a checker (signet_csr_checker_new): an ECDSA request on
 * a named curve is returned only when its signature verifies, with
 * *checked set and no key made (*key NULL; the spare passed in is freed).
 * Any other request is read as signet_csr_d2i_fast reads it, unchecked.
 */
X509_REQ *signet_csr_d2i_checked(const unsigned char **pp, long len, EVP_PKEY **key,
				 struct signet_csr_checker *ck, int *checked);

/*
 * csr_check.c: whether sig, under the request's signature algorithm
 * sigalg, is an ECDSA signature of tbs by the uncompressed point on the
 * curve curve_nid.  1 it is, 0 it is not, -1 this cannot tell (another
 * algorithm, curve, digest or point form): ask X509_REQ_verify.
 */
int signet_csr_check_ecdsa(struct signet_csr_checker *ck, const X509_ALGOR *sigalg,
			   const ASN1_BIT_STRING *sig, int curve_nid, const unsigned char *point,
			   size_t point_len, const unsigned char *tbs, size_t tbs_len);

#endif
