/*
 * verify_ocsp.c - `--ocsp`: asking the responders named in AIA about every
 * certificate of the path below the anchor (RFC 6960).
 *
 * Runs once, on the path that passed every other check, so a hostile chain
 * cannot make the verifier fetch from many URLs.  http:// or https://
 * responders (signet_ocsp_fetch; an https responder's own TLS certificate
 * is verified by signet_verify under opts->ocsp_ca or the system store),
 * one request per certificate with a fresh nonce, 10 seconds each.  The
 * response is checked by the OCSP unit (signet_ocsp_check_response:
 * signature by the issuer or its delegated signer, CertID, nonce,
 * validity window).  Asking is a hard requirement once --ocsp is given:
 * no responder, no answer, or "unknown" all fail as revocation status
 * unknown; browsers soft-fail, but a user who asked wants to know.
 */
#include "verify_int.h"

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>
#include <signet/ocsp.h>
#include <stdlib.h>
#include <string.h>

#define OCSP_TIMEOUT 10

static const char *reason_str(int r)
{
	static const char *const names[] = {
		"unspecified", "keyCompromise", "cACompromise", "affiliationChanged",
		"superseded", "cessationOfOperation", "certificateHold", "(7)",
		"removeFromCRL", "privilegeWithdrawn", "aACompromise",
	};
	return r >= 0 && r <= 10 ? names[r] : NULL;
}

static int ask_one(X509 *const *path, int i, int n, const char *tls_ca, json_t *checks,
		   struct signet_err *err)
{
	X509 *cert = path[i], *issuer = path[i + 1];
	STACK_OF(OPENSSL_STRING) *urls = X509_get1_ocsp(cert);
	STACK_OF(X509) *above = sk_X509_new_null();
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	OCSP_CERTID *id = NULL;
	struct signet_ocsp_status st;
	unsigned char *resp = NULL, *der = NULL;
	size_t resp_len = 0;
	int der_len;
	char label[256];
	const char *url;
	int rc = -1;

	vfy_cert_label(cert, label, sizeof(label));
	ENSURE(above != NULL && req != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	if (i > 0 && sk_OPENSSL_STRING_num(urls) <= 0) {
		/* A CA certificate that names no responder (a signet CA's
		 * intermediate, which its root signs offline) is not asked:
		 * its revocation is the root's CRL's to say (--crl). */
		vfy_note(checks, "ocsp", cert, 1, "names no OCSP responder: not asked");
		rc = 0;
		goto out;
	}
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
	der_len = i2d_OCSP_REQUEST(req, &der);
	ENSURE_OSSL(der_len > 0, err, SIGNET_E_INTERNAL, "%s: cannot encode the OCSP request",
		    label);
	if (signet_ocsp_fetch(url, der, (size_t)der_len, tls_ca, OCSP_TIMEOUT, &resp, &resp_len,
			      err) < 0) {
		/* An unreadable or malformed tls_ca is the caller's file, not a
		 * revocation status: keep its code (exit 3 or 4). */
		if (err->code != SIGNET_E_INTERNAL && err->code != SIGNET_E_IO &&
		    err->code != SIGNET_E_PARSE)
			err->code = SIGNET_E_REVUNKNOWN;
		signet_err_prefix(err, "%s: revocation status unknown (OCSP %s)", label, url);
		goto out;
	}
	if (signet_ocsp_check_response(resp, resp_len, cert, issuer, above, req, &st, NULL,
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
	OPENSSL_free(der);
	ERR_clear_error();
	return rc;
}

int vfy_ocsp_path(X509 *const *path, int n, const char *tls_ca, json_t *checks,
		  struct signet_err *err)
{
	for (int i = 0; i + 1 < n; i++)
		if (ask_one(path, i, n, tls_ca, checks, err) < 0)
			return -1;
	return 0;
}
