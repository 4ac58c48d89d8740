/*
 * csr_int.h - library-internal: the request reader behind
 * signet_csr_parse_key (csr_fast.c).
 */
#ifndef SIGNET_CSR_INT_H
#define SIGNET_CSR_INT_H

#include <openssl/x509.h>

/*
 * d2i for a DER PKCS#10 request that also hands back its public key (*key,
 * the caller's reference, NULL when the key cannot be decoded).  Named-curve
 * EC and Ed25519 keys skip OpenSSL 3.0's decoder; anything else is read by
 * d2i_X509_REQ.  Advances *pp like a d2i function.  *key on entry is NULL
 * or a key this function returned before that the caller no longer uses:
 * it is reused for the new key when it can be, else freed.
 */
X509_REQ *signet_csr_d2i_fast(const unsigned char **pp, long len, EVP_PKEY **key);

#endif
