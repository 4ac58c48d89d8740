/*
 * csr.h - PKCS#10 certificate signing requests.
 */
#ifndef SIGNET_CSR_H
#define SIGNET_CSR_H

#include <openssl/x509v3.h>
#include <signet/err.h>

/* Builds and signs a CSR for key with subject and optional SANs (borrowed). */
X509_REQ *signet_csr_create(EVP_PKEY *key, const X509_NAME *subject,
			    const GENERAL_NAMES *sans, struct signet_err *err);

/* Proof of possession: the CSR's self-signature verifies.  SIGNET_E_SIG
 * when it does not. */
int signet_csr_verify(X509_REQ *req, struct signet_err *err);
/* The same with the request's key given (from signet_csr_parse_key). */
int signet_csr_verify_key(X509_REQ *req, EVP_PKEY *pub, struct signet_err *err);

/* The SANs requested in the CSR's extensionRequest (NULL when none; caller
 * frees with GENERAL_NAMES_free). */
GENERAL_NAMES *signet_csr_sans(X509_REQ *req);

/* Like signet_csr_sans, but a malformed or repeated SAN extension is an
 * error (SIGNET_E_PARSE) rather than "no SANs".  *names may be NULL on
 * success when the CSR asks for none. */
int signet_csr_get_sans(X509_REQ *req, GENERAL_NAMES **names, struct signet_err *err);

int signet_csr_to_pem(X509_REQ *req, char **pem, size_t *len,
		      struct signet_err *err);

#endif
