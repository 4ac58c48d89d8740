/*
 * fuzz_verify.c - signet_verify on a hostile chain, as the tunnel and
 * `signet verify` meet one from a peer: path building over attacker-chosen
 * intermediates, the profile and name rules, CRL checking.
 *
 * Input layout: byte 0 holds option bits (purpose, which name to match,
 * validation time); the rest is a PEM bundle (or one DER certificate).
 * The first certificate is the leaf, the last one the trust anchor, those
 * between are offered as untrusted intermediates.  Anything from the first
 * "-----BEGIN X509 CRL-----" on is a CRL checked against the path.
 * OCSP is never enabled: it would go to the network.
 */
#include "fuzz.h"

#include <stdlib.h>

#include <signet/cert.h>
#include <signet/verify.h>

static const char crl_marker[] = "-----BEGIN X509 CRL-----";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Every shortcut of the verifier is checked against OpenSSL's own
	 * X509_verify_cert / X509_verify; a difference aborts. */
	setenv("SIGNET_VERIFY_CROSSCHECK", "1", 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct signet_err err;
	struct signet_verify_opts o;
	struct signet_trust *trust = NULL;
	STACK_OF(X509) *certs = NULL, *untrusted = NULL, *chain = NULL;
	STACK_OF(X509_CRL) *crls = NULL;
	const uint8_t *crl_at;
	size_t clen;
	unsigned flags;
	int n, r;

	if (size < 2 || size > 65536)
		return 0;
	flags = data[0];
	data++;
	size--;
	crl_at = memmem(data, size, crl_marker, sizeof(crl_marker) - 1);
	clen = crl_at ? (size_t)(crl_at - data) : size;

	memset(&o, 0, sizeof(o));
	o.max_depth = -1;
	o.purpose = flags & 3; /* ANY, SERVER, CLIENT, EMAIL */
	switch ((flags >> 2) & 3) {
	case 1: o.host = "www.example.com"; break;
	case 2: o.ip = "10.0.0.1"; break;
	case 3: o.email = "ops@example.com"; break;
	}
	o.at = (flags & 0x10) ? 1735689600 /* 2025-01-01 */ : 0;
	if (flags & 0x20)
		o.key_usage = 0x80; /* digitalSignature */
	if (flags & 0x40)
		o.max_depth = 1;

	signet_err_clear(&err);
	certs = signet_certs_parse(data, clen, "fuzz.pem", &err);
	fuzz_check("signet_certs_parse", certs == NULL, &err);
	if (certs == NULL)
		goto out;
	if (crl_at != NULL) {
		X509_CRL *crl;
		signet_err_clear(&err);
		crl = signet_crl_parse(crl_at, size - clen, "fuzz.crl", &err);
		fuzz_check("signet_crl_parse", crl == NULL, &err);
		if (crl != NULL) {
			crls = sk_X509_CRL_new_null();
			if (crls == NULL || !sk_X509_CRL_push(crls, crl))
				abort();
			o.crls = crls;
		}
	}
	n = sk_X509_num(certs);
	signet_err_clear(&err);
	trust = signet_trust_new(&err);
	fuzz_check("signet_trust_new", trust == NULL, &err);
	if (trust == NULL)
		goto out;
	signet_err_clear(&err);
	r = signet_trust_add(trust, sk_X509_value(certs, n - 1), &err);
	fuzz_check("signet_trust_add", r < 0, &err);
	if (r < 0)
		goto out;
	untrusted = sk_X509_new_null();
	if (untrusted == NULL)
		abort();
	for (int i = 1; i < n - 1; i++)
		if (!sk_X509_push(untrusted, sk_X509_value(certs, i)))
			abort();
	signet_err_clear(&err);
	r = signet_verify(trust, sk_X509_value(certs, 0), untrusted, &o, &chain, &err);
	fuzz_check("signet_verify", r < 0, &err);
	if (r == 0) {
		/* A path is leaf first and ends in the anchor we gave. */
		if (chain == NULL || sk_X509_num(chain) < 1 ||
		    X509_cmp(sk_X509_value(chain, 0), sk_X509_value(certs, 0)) != 0 ||
		    X509_cmp(sk_X509_value(chain, sk_X509_num(chain) - 1),
			     sk_X509_value(certs, n - 1)) != 0) {
			fprintf(stderr, "signet_verify passed with a chain that does not run "
					"from the leaf to the anchor\n");
			abort();
		}
	} else if (err.code < SIGNET_E_UNTRUSTED || err.code > SIGNET_E_INVALID) {
		if (err.code != SIGNET_E_INTERNAL && err.code != SIGNET_E_USAGE) {
			fprintf(stderr, "signet_verify failed outside the verification classes: "
					"%d %s\n", err.code, err.msg);
			abort();
		}
	}
out:
	sk_X509_pop_free(chain, X509_free);
	sk_X509_free(untrusted);
	sk_X509_pop_free(certs, X509_free);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	signet_trust_free(trust);
	return 0;
}
