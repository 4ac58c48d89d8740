/*
 * cert_int.h - library-internal: CA certificates read without decoding
 * their public key (cert_fast.c), for the CA's own use in ca.c, and the
 * SubjectPublicKeyInfo copy both that and issuance use.
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
 * Sets x's SubjectPublicKeyInfo to algor and the key bits (len bytes) as
 * they are, without decoding or re-encoding the key (OpenSSL 3.0's
 * encoders and decoders cost more than a signature).  1 on success.
 */
int signet_x509_set_spki(X509 *x, const X509_ALGOR *algor, const unsigned char *key, int len);

#endif
