/*
 * cert_int.h - library-internal: CA certificates read without decoding
 * their public key (cert_fast.c), for the CA's own use in ca.c, and the
 * undecoded SubjectPublicKeyInfo that it, csr_fast.c and issuance share.
 */
#ifndef SIGNET_CERT_INT_H
#define SIGNET_CERT_INT_H

#include <openssl/x509.h>
#include <signet/err.h>

/*
 * d2i for one DER certificate that leaves its public key undecoded:
 * X509_get0_pubkey answers NULL for the result (and EXFLAG_SS is never
 * set), which is otherwise the certificate read (it encodes back to the
 * same bytes).  NULL when it
 * cannot be read this way; the caller then uses d2i_X509.  Advances *pp
 * like a d2i function.
 */
X509 *signet_cert_d2i_light(const unsigned char **pp, long len);

/*
 * signet_cert_load for a CA's own certificate: read with
 * signet_cert_d2i_light when it can be (*light = 1), else with d2i_X509
 * (*light = 0).  Same messages as signet_cert_load.
 */
X509 *signet_cert_load_light(const char *path, int *light, struct signet_err *err);

/*
 * A SubjectPublicKeyInfo left undecoded, the algorithm and the key bits as
 * they are: the asn1t.h item (in cert_fast.c) that cert_fast.c and
 * csr_fast.c put in their templates instead of X509_PUBKEY, whose reader
 * would decode the key.
 */
typedef struct {
	X509_ALGOR *algor;
	ASN1_BIT_STRING *bits;
} SIGNET_SPKI;
DECLARE_ASN1_ITEM(SIGNET_SPKI)

/*
 * Sets pub to algor and the key bits (len bytes) as they are, without
 * decoding or re-encoding the key (OpenSSL 3.0's encoders and decoders cost
 * more than a signature).  1 on success.
 */
int signet_pubkey_set_raw(X509_PUBKEY *pub, const X509_ALGOR *algor, const unsigned char *key,
			  int len);

#endif
