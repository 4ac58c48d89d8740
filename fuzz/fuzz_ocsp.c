/*
 * fuzz_ocsp.c - OCSP requests as the responder (`signet ocsp serve`)
 * receives them from the network: signet_ocsp_request_parse, then
 * signet_ocsp_answer signing the reply with statuses from a lookup.
 *
 * The responder's CA is a fixed test-only key and certificate (below), so
 * the seed requests in fuzz/corpus/ocsp/ (made with `openssl ocsp
 * -reqout` against this certificate) name it and reach the answering
 * path, not only the "unauthorized" refusal.
 */
#include "fuzz.h"

#include <signet/cert.h>
#include <signet/key.h>
#include <signet/ocsp.h>

/* A fixed test-only CA (EC P-256), so that seed requests name it. */
static const char fixture_key[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgnUN8EdsPBc0bTyom\n"
	"ZgBzMNr9YYehunRjFTOfQ8yu+CyhRANCAAT0aoQRiv8C1L3B6qjnvHPGAK2dLzF/\n"
	"wpWwzDhO9LhfayEklIfZQDYAgveuxvfI6gUaSquAcqZrYKfZ0EutOpkZ\n"
	"-----END PRIVATE KEY-----\n"
	;
static const char fixture_crt[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBlTCCATugAwIBAgIURbZldYKO50ghRh5QUs4IlSWGKvkwCgYIKoZIzj0EAwIw\n"
	"FzEVMBMGA1UEAwwMRnV6eiBPQ1NQIENBMCAXDTI2MTEyODE4MDAzMFoYDzIxMjYx\n"
	"MTA0MTgwMDMwWjAXMRUwEwYDVQQDDAxGdXp6IE9DU1AgQ0EwWTATBgcqhkjOPQIB\n"
	"BggqhkjOPQMBBwNCAAT0aoQRiv8C1L3B6qjnvHPGAK2dLzF/wpWwzDhO9LhfayEk\n"
	"lIfZQDYAgveuxvfI6gUaSquAcqZrYKfZ0EutOpkZo2MwYTAdBgNVHQ4EFgQUrpBK\n"
	"9QGoJNwLTN/zLnUg13AZ/xIwHwYDVR0jBBgwFoAUrpBK9QGoJNwLTN/zLnUg13AZ\n"
	"/xIwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAQYwCgYIKoZIzj0EAwID\n"
	"SAAwRQIhANYtzBdl/xPkFPKo1s/eHfRndM3Ou4gnwO+9VA5TQKXJAiBFQU+P0MQE\n"
	"YHElTPSJ0KsYhCxVLWWDTKUkTePQyCqCWw==\n"
	"-----END CERTIFICATE-----\n"
	;

static struct signet_ocsp_responder *responder;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct signet_err err;
	EVP_PKEY *key;
	X509 *crt;

	(void)argc;
	(void)argv;
	signet_err_clear(&err);
	key = signet_key_parse((const unsigned char *)fixture_key, sizeof(fixture_key) - 1, NULL,
			       "fixture.key", &err);
	{
		STACK_OF(X509) *s = signet_certs_parse((const unsigned char *)fixture_crt,
						       sizeof(fixture_crt) - 1, "fixture.crt", &err);
		crt = s ? sk_X509_shift(s) : NULL;
		sk_X509_pop_free(s, X509_free);
	}
	if (key == NULL || crt == NULL ||
	    (responder = signet_ocsp_responder_new(crt, NULL, key, &err)) == NULL) {
		fprintf(stderr, "fuzz_ocsp setup: %s\n", err.msg);
		exit(1);
	}
	ERR_clear_error();
	EVP_PKEY_free(key);
	X509_free(crt);
	return 0;
}

/* A deterministic status per serial, covering good, revoked (with and
 * without a reason) and unknown; a serial starting 0xee fails the lookup. */
static int lookup(void *ctx, const unsigned char *serial, size_t len,
		  struct signet_ocsp_status *out)
{
	unsigned b = len ? serial[len - 1] : 0;
	(void)ctx;
	if (len > 0 && serial[0] == 0xee)
		return -1;
	out->status = (int)(b % 3);
	out->revoked_at = 1700000000 + (int64_t)b;
	out->reason = (b & 8) ? -1 : (int)(b % 11);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct signet_ocsp_request q;
	struct signet_err err;
	unsigned char *der = NULL;
	size_t len = 0;
	int r;

	signet_ocsp_request_parse(responder, data, size, &q);
	fuzz_check("signet_ocsp_request_parse", 0, &err);
	if (q.cacheable && (q.error != 0 || q.serial_len > sizeof(q.serial)))
		abort(); /* a cacheable request is a well-formed one */
	signet_err_clear(&err);
	r = signet_ocsp_answer(responder, &q, lookup, NULL, 1750000000, &der, &len, &err);
	fuzz_check("signet_ocsp_answer", r < 0, &err);
	if (r == 0) {
		const unsigned char *p = der;
		OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
		if (resp == NULL || p != der + len) {
			fprintf(stderr, "signet_ocsp_answer produced undecodable DER\n");
			abort();
		}
		OCSP_RESPONSE_free(resp);
	}
	OPENSSL_free(der);
	signet_ocsp_request_clear(&q);
	return 0;
}
