/*
 * verify_ocsp.c - `--ocsp`: asking the responders named in AIA about every
 * certificate of the path below the anchor (RFC 6960).
 *
 * Runs once, on the path that passed every other check, so a hostile chain
 * cannot make the verifier fetch from many URLs.  Only http:// responders
 * (OCSP responses are signed; TLS adds nothing but a dependency loop), one
 * request per certificate with a fresh nonce, 10 seconds each.  The
 * response is checked by the OCSP unit (signet_ocsp_check_response:
 * signature by the issuer or its delegated signer, CertID, nonce,
 * validity window).  Asking is a hard requirement once --ocsp is given:
 * no responder, no answer, or "unknown" all fail as revocation status
 * unknown; browsers soft-fail, but a user who asked wants to know.
 */
#include "verify_int.h"

#include <openssl/err.h>
#include <openssl/http.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>
#include <signet/ocsp.h>
#include <stdlib.h>
#include <string.h>

#define OCSP_TIMEOUT 10
#define OCSP_MAX_RESPONSE (1 << 20)

static int post(const char *url, OCSP_REQUEST *req, unsigned char **out, size_t *out_len,
		struct signet_err *err)
{
	char *host = NULL, *port = NULL, *path = NULL;
	unsigned char *der = NULL;
	BIO *body = NULL, *resp = NULL;
	int ssl = 0, rc = -1, len;
	size_t cap = 0;

	*out = NULL;
	*out_len = 0;
	ENSURE_OSSL(OSSL_HTTP_parse_url(url, &ssl, NULL, &host, &port, NULL, &path, NULL,
					NULL) == 1,
		    err, SIGNET_E_REVUNKNOWN, "OCSP responder '%s' is not a URL", url);
	ENSURE(!ssl, err, SIGNET_E_REVUNKNOWN, "OCSP responder %s: only http:// is supported", url);
	len = i2d_OCSP_REQUEST(req, &der);
	ENSURE_OSSL(len > 0, err, SIGNET_E_INTERNAL, "cannot encode the OCSP request");
	body = BIO_new_mem_buf(der, len);
	ENSURE(body != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	resp = OSSL_HTTP_transfer(NULL, host, port, path, 0, NULL, NULL, NULL, NULL, NULL, NULL,
				  0, NULL, "application/ocsp-request", body,
				  "application/ocsp-response", 1, OCSP_MAX_RESPONSE, OCSP_TIMEOUT, 0);
	ENSURE_OSSL(resp != NULL, err, SIGNET_E_REVUNKNOWN, "OCSP responder %s did not answer",
		    url);
	for (;;) {
		unsigned char buf[4096];
		int n = BIO_read(resp, buf, sizeof(buf));
		if (n <= 0)
			break;
		if (*out_len + (size_t)n > cap) {
			size_t nc = cap ? cap * 2 : 8192;
			unsigned char *nb;
			while (nc < *out_len + (size_t)n)
				nc *= 2;
			ENSURE(nc <= OCSP_MAX_RESPONSE && (nb = realloc(*out, nc)) != NULL, err,
			       SIGNET_E_REVUNKNOWN, "OCSP responder %s: response too large", url);
			*out = nb;
			cap = nc;
		}
		memcpy(*out + *out_len, buf, (size_t)n);
		*out_len += (size_t)n;
	}
	ENSURE(*out_len > 0, err, SIGNET_E_REVUNKNOWN, "OCSP responder %s sent nothing", url);
	rc = 0;
out:
	if (rc < 0) {
		free(*out);
		*out = NULL;
	}
	OPENSSL_free(host);
	OPENSSL_free(port);
	OPENSSL_free(path);
	OPENSSL_free(der);
	BIO_free(body);
	BIO_free(resp);
	ERR_clear_error();
	return rc;
}

static const char *reason_str(int r)
{
	static const char *const names[] = {
		"unspecified", "keyCompromise", "cACompromise", "affiliationChanged",
		"superseded", "cessationOfOperation", "certificateHold", "(7)",
		"removeFromCRL", "privilegeWithdrawn", "aACompromise",
	};
	return r >= 0 && r <= 10 ? names[r] : NULL;
}

static int ask_one(X509 *const *path, int i, int n, json_t *checks, struct signet_err *err)
{
	X509 *cert = path[i], *issuer = path[i + 1];
	STACK_OF(OPENSSL_STRING) *urls = X509_get1_ocsp(cert);
	STACK_OF(X509) *above = sk_X509_new_null();
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	OCSP_CERTID *id = NULL;
	struct signet_ocsp_status st;
	unsigned char *resp = NULL;
	size_t resp_len = 0;
	char label[256];
	const char *url;
	int rc = -1;

	vfy_cert_label(cert, label, sizeof(label));
	ENSURE(above != NULL && req != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	ENSURE(sk_OPENSSL_STRING_num(urls) > 0, err, SIGNET_E_REVUNKNOWN,
	       "%s: revocation status unknown: OCSP was asked for, but the certificate "
	       "names no OCSP responder", label);
	url = sk_OPENSSL_STRING_value(urls, 0);
	for (int k = i + 1; k < n; k++)
		ENSURE(sk_X509_push(above, path[k]) > 0, err, SIGNET_E_INTERNAL, "out of memory");
	id = OCSP_cert_to_id(NULL, cert, issuer);
	ENSURE_OSSL(id != NULL && OCSP_request_add0_id(req, id) != NULL, err, SIGNET_E_INTERNAL,
		    "%s: cannot build the OCSP request", label);
	id = NULL; /* owned by req now */
	ENSURE_OSSL(OCSP_request_add1_nonce(req, NULL, -1) == 1, err, SIGNET_E_INTERNAL,
		    "%s: cannot add an OCSP nonce", label);
	if (post(url, req, &resp, &resp_len, err) < 0 ||
	    signet_ocsp_check_response(resp, resp_len, cert, issuer, above, req, &st, NULL,
					err) < 0) {
		err->code = err->code == SIGNET_E_INTERNAL ? SIGNET_E_INTERNAL : SIGNET_E_REVUNKNOWN;
		signet_err_prefix(err, "%s: revocation status unknown (OCSP %s)", label, url);
		goto out;
	}
	if (st.status == SIGNET_OCSP_REVOKED) {
		char date[64] = "at an unknown date";
		time_t t = (time_t)st.revoked_at;
		struct tm tm;
		if (t != 0 && gmtime_r(&t, &tm) != NULL)
			strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S UTC", &tm);
		signet_err_set(err, SIGNET_E_REVOKED, "%s: revoked %s%s%s%s according to OCSP "
			       "responder %s", label, date, reason_str(st.reason) ? " (" : "",
			       reason_str(st.reason) ? reason_str(st.reason) : "",
			       reason_str(st.reason) ? ")" : "", url);
		goto out;
	}
	ENSURE(st.status == SIGNET_OCSP_GOOD, err, SIGNET_E_REVUNKNOWN,
	       "%s: revocation status unknown: OCSP responder %s does not know the certificate",
	       label, url);
	vfy_note(checks, "ocsp", cert, 1, url);
	rc = 0;
out:
	OCSP_CERTID_free(id);
	OCSP_REQUEST_free(req);
	X509_email_free(urls);
	sk_X509_free(above);
	free(resp);
	ERR_clear_error();
	return rc;
}

int vfy_ocsp_path(X509 *const *path, int n, json_t *checks, struct signet_err *err)
{
	for (int i = 0; i + 1 < n; i++)
		if (ask_one(path, i, n, checks, err) < 0)
			return -1;
	return 0;
}
