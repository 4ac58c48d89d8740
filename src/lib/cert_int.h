/*
 * cert_int.h - library-internal: CA certificates read without decoding
 * their public key (cert_fast.c), for the CA's own use in ca.c.
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

#endif
