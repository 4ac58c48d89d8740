/*
 * fuzz_ocsp_response.c - OCSP responses as a client receives them from a
 * responder it does not control: signet_ocsp_check_response, the check
 * behind `signet ocsp check`, the verifier's OCSP mode, the tunnel's OCSP
 * for client certificates and its stapling of its own.
 *
 * Input layout (every part from the input, so that a seed is complete by
 * itself and the fuzzer mutates the certificates too):
 *
 *   byte 0          options: bit 0 pass the request (nonce check),
 *                   bit 1 pass the trust stack, bit 2 ask for nextUpdate
 *   2 bytes + N     the DER response (length big-endian)
 *   2 bytes + M     the DER request whose nonce must be echoed (M may be 0)
 *   the rest        PEM certificates: the one asked about, its issuer, then
 *                   the trust stack (intermediates and self-signed anchors)
 *
 * Seeds (fuzz/corpus/ocsp_response/, made by fuzz/make-corpus.sh with
 * `signet ocsp respond`): good with a nonce, revoked with a reason,
 * unknown, SHA-256 CertID, a delegated signer, malformedRequest.  Answers
 * are made with --validity 36500d so that the seeds reach the status path
 * for decades, not one day.
 *
 * Checks besides "does not crash": the err.h contract (fuzz.h), and that
 * a success fills a status that is good, revoked or unknown, with a
 * revocation time or reason only when revoked, and a failure leaves the
 * status unknown.
 */
#include "fuzz.h"

#include <signet/cert.h>
#include <signet/ocsp.h>

static int verbose;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	return 0;
}

/* Takes a 2-byte length and that many bytes; 0 when the input is short. */
static int take(const uint8_t **p, size_t *left, const uint8_t **out, size_t *len)
{
	if (*left < 2)
		return 0;
	*len = (size_t)(*p)[0] << 8 | (*p)[1];
	*p += 2;
	*left -= 2;
	if (*len > *left)
		return 0;
	*out = *p;
	*p += *len;
	*left -= *len;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *resp, *reqder;
	size_t left = size, resp_len, req_len;
	unsigned opt;
	struct signet_err err;
	struct signet_ocsp_status st;
	STACK_OF(X509) *certs = NULL, *trust = NULL;
	OCSP_REQUEST *req = NULL;
	int64_t next_update = -1;
	int r;

	if (size < 1 || size > 65536)
		return 0;
	opt = p[0];
	p++;
	left--;
	if (!take(&p, &left, &resp, &resp_len) || !take(&p, &left, &reqder, &req_len))
		return 0;
	signet_err_clear(&err);
	certs = signet_certs_parse(p, left, "certs.pem", &err);
	fuzz_check("signet_certs_parse", certs == NULL, &err);
	if (certs == NULL || sk_X509_num(certs) < 2)
		goto out;
	if ((opt & 1) && req_len > 0) {
		const unsigned char *q = reqder;
		req = d2i_OCSP_REQUEST(NULL, &q, (long)req_len);
		ERR_clear_error(); /* the harness's own decode */
	}
	if (opt & 2) {
		trust = sk_X509_new_null();
		if (trust == NULL)
			abort();
		for (int i = 2; i < sk_X509_num(certs); i++)
			sk_X509_push(trust, sk_X509_value(certs, i));
	}
	signet_err_clear(&err);
	r = signet_ocsp_check_response(resp, resp_len, sk_X509_value(certs, 0),
				       sk_X509_value(certs, 1), trust, req, &st,
				       (opt & 4) ? &next_update : NULL, &err);
	fuzz_check("signet_ocsp_check_response", r < 0, &err);
	if (verbose) /* FUZZ_VERBOSE=1 with seed files: which path each one reaches */
		fprintf(stderr, "check: %s status=%d reason=%d next_update=%lld\n",
			r == 0 ? "ok" : err.msg, st.status, st.reason, (long long)next_update);
	if (r == 0) {
		if (st.status != SIGNET_OCSP_GOOD && st.status != SIGNET_OCSP_REVOKED &&
		    st.status != SIGNET_OCSP_UNKNOWN) {
			fprintf(stderr, "a checked response has status %d\n", st.status);
			abort();
		}
		if (st.status != SIGNET_OCSP_REVOKED && (st.revoked_at != 0 || st.reason != -1)) {
			fprintf(stderr, "status %d with a revocation time or reason\n", st.status);
			abort();
		}
	} else if (st.status != SIGNET_OCSP_UNKNOWN) {
		fprintf(stderr, "a failed check left status %d\n", st.status);
		abort();
	}
out:
	OCSP_REQUEST_free(req);
	sk_X509_free(trust);
	sk_X509_pop_free(certs, X509_free);
	return 0;
}
