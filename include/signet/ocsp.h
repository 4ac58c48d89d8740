/*
 * ocsp.h - OCSP responses (RFC 6960) for one issuing CA.
 *
 * A responder object holds what every answer needs: the issuing CA's
 * certificate, the name and key hashes of that CA under each supported
 * CertID hash (SHA-1, SHA-256, SHA-384, SHA-512), the signing certificate
 * and key (the CA itself, or a delegated OCSP signer carrying
 * id-kp-OCSPSigning and id-pkix-ocsp-nocheck), and prebuilt DER for the
 * error statuses.  It is immutable once built, so any number of threads
 * may answer with it at once.
 *
 * Answering is two steps so that a server can cache: signet_ocsp_request_
 * parse() checks a DER request (malformed -> malformedRequest; a CertID
 * naming another CA or an unknown hash -> unauthorized) and tells whether
 * the answer depends only on (serial, hash) - one CertID, no nonce - so a
 * signed response can be reused; signet_ocsp_answer() signs the response,
 * asking a lookup callback for each serial's status and echoing the nonce.
 *
 * The client side checks a response (signet_ocsp_check_response) and
 * fetches one over http:// or https:// (signet_ocsp_fetch, ocsp_http.c).
 */
#ifndef SIGNET_OCSP_H
#define SIGNET_OCSP_H

#include <openssl/ocsp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <signet/ca.h>
#include <signet/db.h>
#include <signet/err.h>
#include <stddef.h>
#include <stdint.h>

enum signet_ocsp_cert_status {
	SIGNET_OCSP_GOOD = 0,
	SIGNET_OCSP_REVOKED = 1,
	SIGNET_OCSP_UNKNOWN = 2,
};

struct signet_ocsp_status {
	int status;          /* enum signet_ocsp_cert_status */
	int64_t revoked_at;
	int reason;          /* CRLReason; -1: none */
};

/* Status of one serial (magnitude bytes, big-endian); 0 or -1 on error. */
typedef int (*signet_ocsp_lookup_fn)(void *ctx, const unsigned char *serial, size_t len,
				     struct signet_ocsp_status *out);

struct signet_ocsp_responder;

/* issuer: the CA whose certificates are answered for; signer/key: who
 * signs (signer NULL: the issuer itself).  All borrowed, copied or
 * up-ref'ed.  A delegated signer must be issued by issuer and carry
 * id-kp-OCSPSigning, or this fails with SIGNET_E_POLICY. */
struct signet_ocsp_responder *signet_ocsp_responder_new(X509 *issuer, X509 *signer,
							EVP_PKEY *key,
							struct signet_err *err);
void signet_ocsp_responder_free(struct signet_ocsp_responder *r);

/* Validity of signed answers: nextUpdate = thisUpdate + seconds. */
void signet_ocsp_responder_set_validity(struct signet_ocsp_responder *r, int64_t seconds);
int64_t signet_ocsp_responder_validity(const struct signet_ocsp_responder *r);

#define SIGNET_OCSP_MAX_CERTS 32 /* CertIDs per request we answer */

struct signet_ocsp_request {
	OCSP_REQUEST *req;          /* owned */
	int error;                  /* 0, or an OCSP_RESPONSE_STATUS_* */
	int cacheable;              /* one CertID, no nonce */
	int hash;                   /* cacheable: index of the CertID hash (0..3) */
	unsigned char serial[32];   /* cacheable: the serial's magnitude */
	size_t serial_len;
};

/* Parses and checks a DER request.  Never fails: problems are reported in
 * out->error as the OCSP status to answer with.  Free with _request_clear. */
void signet_ocsp_request_parse(const struct signet_ocsp_responder *r,
			       const unsigned char *der, size_t len,
			       struct signet_ocsp_request *out);
void signet_ocsp_request_clear(struct signet_ocsp_request *q);

/* Signs the answer to a parsed request (or the error response when
 * q->error is set).  *der is OPENSSL_malloc'ed.  now: thisUpdate. */
int signet_ocsp_answer(const struct signet_ocsp_responder *r,
		       const struct signet_ocsp_request *q, signet_ocsp_lookup_fn lookup,
		       void *ctx, int64_t now, unsigned char **der, size_t *len,
		       struct signet_err *err);

/* The prebuilt DER of an error response (OCSP_RESPONSE_STATUS_*). */
const unsigned char *signet_ocsp_error_der(const struct signet_ocsp_responder *r,
					   int status, size_t *len);

/* Lookup context for the database: ca's signer is the issuer answered for. */
struct signet_ocsp_db_lookup {
	struct signet_db *db;
	const char *issuer_id;
};
int signet_ocsp_db_lookup(void *ctx, const unsigned char *serial, size_t len,
			  struct signet_ocsp_status *out);

/* Issues a delegated OCSP signing certificate (id-kp-OCSPSigning,
 * id-pkix-ocsp-nocheck, digitalSignature) with a fresh key of the CA key's
 * type, signed by the CA's signer and recorded in its database. */
int signet_ocsp_signer_issue(struct signet_ca *ca, int days, X509 **cert, EVP_PKEY **key,
			     struct signet_err *err);

/* Client side: checks a response for cert against issuer.  Verifies the
 * signature (the issuer or a delegated signer it certified; trust: the
 * issuer's chain in trust), the CertID, the nonce when nonce is set, and
 * the validity window (with 5 minutes of leeway).  Fills st. */
int signet_ocsp_check_response(const unsigned char *der, size_t len, X509 *cert,
			       X509 *issuer, STACK_OF(X509) *trust, OCSP_REQUEST *req,
			       struct signet_ocsp_status *st, int64_t *next_update,
			       struct signet_err *err);

/*
 * Client side transport (ocsp_http.c).  signet_ocsp_fetch POSTs a DER
 * request to an http:// or https:// URL and returns the body (*out,
 * malloc'ed) within timeout seconds.  With https the responder's TLS
 * certificate must pass signet_verify for serverAuth with the URL's host
 * (DNS name or IP address), under the anchors in tls_ca (a PEM file or
 * directory), or the system store when tls_ca is NULL.  Errors:
 * SIGNET_E_USAGE for a URL that is neither; SIGNET_E_NET for no answer, an
 * HTTP error, a TLS failure or a refused responder certificate (the
 * sentence says which); others (e.g. SIGNET_E_IO) for an unreadable tls_ca.
 */
int signet_ocsp_fetch(const char *url, const unsigned char *req, size_t len,
		      const char *tls_ca, int timeout, unsigned char **out, size_t *out_len,
		      struct signet_err *err);

/* The same TLS for callers that drive their own connections (the tunnel's
 * event loops): a context built once (anchors as above; thread-safe to
 * share), and one client SSL per connection, with SNI and the name the
 * responder's certificate must carry.  After a failed handshake,
 * signet_ocsp_tls_refusal says why the verifier refused the certificate
 * (NULL when it did not; valid while the SSL lives). */
struct signet_ocsp_tls;
struct signet_ocsp_tls *signet_ocsp_tls_new(const char *tls_ca, struct signet_err *err);
void signet_ocsp_tls_free(struct signet_ocsp_tls *t);
SSL *signet_ocsp_tls_ssl_new(struct signet_ocsp_tls *t, const char *host, struct signet_err *err);
const char *signet_ocsp_tls_refusal(const SSL *ssl);

#endif
