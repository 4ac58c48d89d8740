/*
 * ext.h (internal) - building X.509v3 extensions from OpenSSL's typed
 * structures rather than config strings: no string parsing on the signing
 * hot path, and no way for a user value to smuggle extra syntax in.
 */
#ifndef SIGNET_EXT_H
#define SIGNET_EXT_H

#include <openssl/x509v3.h>
#include <signet/err.h>

int ext_add_bc(X509 *x, int ca, long pathlen, struct signet_err *err);
int ext_add_ku(X509 *x, unsigned bits, struct signet_err *err); /* KU_* bits */
int ext_add_eku(X509 *x, const int *nids, size_t n, struct signet_err *err);
int ext_add_ski(X509 *x, struct signet_err *err);
/* authorityKeyIdentifier = keyid of issuer (its SKI, or computed). */
X509_EXTENSION *ext_make_aki(X509 *issuer, struct signet_err *err);
int ext_add_san(X509 *x, const GENERAL_NAMES *names, struct signet_err *err);
X509_EXTENSION *ext_make_crldp(const char *url, struct signet_err *err);
X509_EXTENSION *ext_make_aia(const char *ocsp_url, const char *ca_issuers_url,
			     struct signet_err *err);
/* The host name a "dns:" name-constraint spec puts into a certificate
 * ("dns:.example.com" and "dns:example.com" both: "example.com"); NULL
 * for any other kind of spec. */
const char *ext_nc_dns(const char *spec);
/* nameConstraints from "dns:example.com"/"ip:10.0.0.0/8"/"email:..." lists. */
int ext_add_nc(X509 *x, const char *const *permit, size_t np,
	       const char *const *exclude, size_t ne, struct signet_err *err);

/* Key identifier bytes (SKI, computed when absent); NULL when none. */
const ASN1_OCTET_STRING *ext_key_id(X509 *x);

#endif
