/*
 * fuzz_allow.c - the tunnel server's --allow rules (src/tunnel/allow.c):
 * the rule text from the command line, and matching against a client
 * certificate, whose subject and SANs the client controls.
 *
 * Input layout: rule lines ("cn=..", "san:dns=..", ...) up to the first
 * NUL byte, then a certificate (PEM or DER).  Without a NUL the whole
 * input is rules and only parsing is exercised.  serial= rules are also
 * checked against a BIGNUM comparison (check_serial).
 */
#include "fuzz.h"

#include "tunnel.h"

#include <openssl/bn.h>
#include <signet/cert.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* A serial= rule matches exactly when the numbers are equal: compared
 * here as BIGNUMs, independently of the matcher's hex strings
 * (docs/FINDINGS.md #5: a long serial cut to a prefix matched). */
static void check_serial(const struct allow_rule *rule, X509 *cert)
{
	BIGNUM *want = NULL, *got = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	int match = tunnel_allow_match(rule, 1, cert);
	int equal;

	if (got == NULL || BN_hex2bn(&want, rule->value) <= 0) {
		ERR_clear_error();
		BN_free(got);
		BN_free(want);
		return;
	}
	equal = BN_cmp(want, got) == 0;
	if (match != equal) {
		fprintf(stderr, "serial=%s %s a certificate whose serial is %s that number\n",
			rule->value, match ? "matches" : "does not match", equal ? "" : "not");
		abort();
	}
	BN_free(got);
	BN_free(want);
	ERR_clear_error();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t tlen = nul ? (size_t)(nul - data) : size;
	struct allow_rule *rules = NULL;
	size_t n = 0, cap = 0;
	struct signet_err err;
	char *text, *save = NULL, *line;
	STACK_OF(X509) *certs = NULL;

	if (size > 65536)
		return 0;
	text = fuzz_cstr(data, tlen);
	for (line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		struct allow_rule r;
		int rc;
		signet_err_clear(&err);
		rc = tunnel_allow_parse(line, &r, &err);
		fuzz_check("tunnel_allow_parse", rc < 0, &err);
		if (rc < 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 4;
			rules = realloc(rules, cap * sizeof(*rules));
			if (rules == NULL)
				abort();
		}
		rules[n++] = r;
	}
	if (nul != NULL) {
		signet_err_clear(&err);
		certs = signet_certs_parse(nul + 1, size - tlen - 1, "fuzz.pem", &err);
		fuzz_check("signet_certs_parse", certs == NULL, &err);
		if (certs != NULL) {
			(void)tunnel_allow_match(rules, n, sk_X509_value(certs, 0));
			ERR_clear_error(); /* matching uses OpenSSL's SAN decoder */
			fuzz_check("tunnel_allow_match", 0, &err);
			for (size_t i = 0; i < n; i++)
				if (rules[i].kind == ALLOW_SERIAL)
					check_serial(&rules[i], sk_X509_value(certs, 0));
		}
	}
	sk_X509_pop_free(certs, X509_free);
	tunnel_allow_free(rules, n);
	free(text);
	return 0;
}
