/*
 * limbo.c - runs the x509-limbo suite (C2SP/x509-limbo) through
 * signet_verify and scores it.
 *
 * usage: limbo LIMBO.JSON [--floor FILE] [--only SUBSTRING] [--quiet]
 *
 * Per testcase one line "pass|FAIL|skip <id> (<ms>): <why>", then a table
 * per id prefix (the part before the first "::"), then exactly
 * "N passed, N failed, N skipped".  With --floor, exits non-zero when the
 * pass count is below the number in FILE, so CI notices a regression.
 * A malformed testcase (a field that must be a string is not) is a FAIL
 * line saying "malformed testcase: <field> ...", never a crash.
 *
 * A testcase is mapped onto signet_verify_opts and nothing else: no test
 * id or vector is special-cased.  Skips come only from features signet
 * deliberately does not implement (see skip_reason), never from results.
 */
#include <signet/cert.h>
#include <signet/file.h>
#include <signet/verify.h>

#include <jansson.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct tally {
	char prefix[64];
	int pass, fail, skip;
};

static struct tally tallies[64];
static int n_tallies;

static struct tally *tally_for(const char *id)
{
	char p[64];
	const char *sep = strstr(id, "::");
	size_t n = sep ? (size_t)(sep - id) : strlen(id);
	if (n >= sizeof(p))
		n = sizeof(p) - 1;
	memcpy(p, id, n);
	p[n] = '\0';
	for (int i = 0; i < n_tallies; i++)
		if (strcmp(tallies[i].prefix, p) == 0)
			return &tallies[i];
	if (n_tallies == 64)
		return &tallies[63];
	snprintf(tallies[n_tallies].prefix, sizeof(tallies[0].prefix), "%s", p);
	return &tallies[n_tallies++];
}

/* Features signet deliberately does not implement, and why. */
static const char *skip_reason(json_t *tc)
{
	json_t *f;
	size_t i;
	json_array_foreach(json_object_get(tc, "features"), i, f) {
		const char *s = json_string_value(f);
		if (s != NULL && strcmp(s, "rfc5280-incompatible-with-webpki") == 0)
			return "signet follows the web PKI where it and RFC 5280 disagree";
		if (s != NULL && strcmp(s, "pedantic-rfc5280") == 0)
			return "signet takes a trust anchor as a name and a key (RFC 5280 "
			       "6.1.1) and does not hold it to the certificate profile";
	}
	return NULL;
}

/* RFC 3339, seconds resolution (fractions truncated, as X.509 times have none). */
static int parse_time(const char *s, time_t *out)
{
	struct tm tm;
	const char *p;
	int off = 0;

	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (p == NULL)
		return -1;
	if (*p == '.')
		while (*++p >= '0' && *p <= '9')
			;
	if (*p == '+' || *p == '-') {
		int h, m;
		if (sscanf(p + 1, "%d:%d", &h, &m) != 2)
			return -1;
		off = (h * 3600 + m * 60) * (*p == '-' ? -1 : 1);
	} else if (*p != 'Z' && *p != 'z') {
		return -1;
	}
	*out = timegm(&tm) - off;
	return 0;
}

/* Does the case's extended_key_usage list name this EKU? */
static int eku_listed(json_t *tc, const char *name)
{
	json_t *v;
	size_t i;
	json_array_foreach(json_object_get(tc, "extended_key_usage"), i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
			return 1;
	return 0;
}

static STACK_OF(X509) *pem_list(json_t *arr, const char *what, struct signet_err *err)
{
	STACK_OF(X509) *all = sk_X509_new_null();
	json_t *v;
	size_t i;
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);
		STACK_OF(X509) *one = s ? signet_certs_parse((const unsigned char *)s, strlen(s),
							      what, err) : NULL;
		if (one == NULL) {
			sk_X509_pop_free(all, X509_free);
			return NULL;
		}
		while (sk_X509_num(one) > 0)
			sk_X509_push(all, sk_X509_shift(one));
		sk_X509_free(one);
	}
	return all;
}

static unsigned ku_bit(const char *name)
{
	static const struct {
		const char *n;
		unsigned bit;
	} t[] = {
		{ "digitalSignature", KU_DIGITAL_SIGNATURE }, { "contentCommitment", KU_NON_REPUDIATION },
		{ "nonRepudiation", KU_NON_REPUDIATION },     { "keyEncipherment", KU_KEY_ENCIPHERMENT },
		{ "dataEncipherment", KU_DATA_ENCIPHERMENT }, { "keyAgreement", KU_KEY_AGREEMENT },
		{ "keyCertSign", KU_KEY_CERT_SIGN },          { "cRLSign", KU_CRL_SIGN },
		{ "encipherOnly", KU_ENCIPHER_ONLY },         { "decipherOnly", KU_DECIPHER_ONLY },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(t[i].n, name) == 0)
			return t[i].bit;
	return 0;
}

/* NULL when field is absent or an array of strings, else why not. */
static const char *strings_or_absent(json_t *tc, const char *field, char *buf, size_t size)
{
	json_t *arr = json_object_get(tc, field), *v;
	size_t i;

	if (arr == NULL)
		return NULL;
	if (!json_is_array(arr)) {
		snprintf(buf, size, "%s is not an array", field);
		return buf;
	}
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v)) {
			snprintf(buf, size, "%s[%zu] is not a string", field, i);
			return buf;
		}
	}
	return NULL;
}

/* Checks the fields run_case reads as strings before anything uses them,
 * so that a malformed testcase is reported, not followed into a NULL
 * (docs/FINDINGS.md #2).  Returns NULL when the testcase is well formed,
 * else a sentence naming the field. */
static const char *malformed(json_t *tc, char *buf, size_t size)
{
	static const char *const lists[] = { "key_usage", "extended_key_usage", "trusted_certs",
					     "untrusted_intermediates", "crls" };
	const char *kind, *why;

	if (!json_is_object(tc))
		return "the testcase is not a JSON object";
	kind = json_string_value(json_object_get(tc, "validation_kind"));
	if (kind == NULL)
		return "validation_kind is missing or not a string";
	if (strcmp(kind, "CLIENT") != 0 && strcmp(kind, "SERVER") != 0) {
		snprintf(buf, size, "validation_kind \"%.64s\" is neither CLIENT nor SERVER", kind);
		return buf;
	}
	if (!json_is_string(json_object_get(tc, "peer_certificate")))
		return "peer_certificate is missing or not a string";
	for (size_t k = 0; k < sizeof(lists) / sizeof(lists[0]); k++)
		if ((why = strings_or_absent(tc, lists[k], buf, size)) != NULL)
			return why;
	return NULL;
}

/* Runs one testcase; returns 1 when signet accepted the chain, 0 when it
 * refused (msg says why), -1 when the case cannot be run (a malformed
 * testcase: msg names the field). */
static int run_case(struct signet_trust **trustp, json_t *tc, char *msg, size_t msize)
{
	struct signet_err err;
	struct signet_verify_opts o;
	STACK_OF(X509) *trusted = NULL, *inter = NULL, *peer = NULL;
	STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
	const char *ekus[16];
	json_t *v, *names;
	size_t i;
	int accepted = 0;
	struct signet_trust *trust = NULL;
	const char *bad;
	char why[160];

	memset(&o, 0, sizeof(o));
	signet_err_clear(&err);
	o.max_depth = -1;
	if ((bad = malformed(tc, why, sizeof(why))) != NULL) {
		snprintf(msg, msize, "malformed testcase: %s", bad);
		accepted = -1;
		goto out;
	}
	if ((trusted = pem_list(json_object_get(tc, "trusted_certs"), "trusted_certs", &err)) == NULL ||
	    (inter = pem_list(json_object_get(tc, "untrusted_intermediates"), "untrusted_intermediates", &err)) == NULL)
		goto refused;
	{
		const char *pc = json_string_value(json_object_get(tc, "peer_certificate"));
		peer = pc ? signet_certs_parse((const unsigned char *)pc, strlen(pc),
					       "peer_certificate", &err) : NULL;
		if (peer == NULL)
			goto refused;
	}
	json_array_foreach(json_object_get(tc, "crls"), i, v) {
		const char *s = json_string_value(v);
		X509_CRL *crl = s ? signet_crl_parse((const unsigned char *)s, strlen(s), "crl", &err) : NULL;
		if (crl == NULL)
			goto refused;
		sk_X509_CRL_push(crls, crl);
	}
	o.crls = crls;
	trust = signet_trust_new(&err);
	if (trust == NULL)
		goto refused;
	for (int k = 0; k < sk_X509_num(trusted); k++)
		if (signet_trust_add(trust, sk_X509_value(trusted, k), &err) < 0)
			goto refused;
	v = json_object_get(tc, "validation_time");
	if (json_is_string(v) && parse_time(json_string_value(v), &o.at) < 0) {
		snprintf(msg, msize, "bad validation_time");
		accepted = -1;
		goto out;
	}
	o.purpose = strcmp(json_string_value(json_object_get(tc, "validation_kind")), "CLIENT") == 0 ?
			    SIGNET_PURPOSE_CLIENT : SIGNET_PURPOSE_SERVER;
	/* A client authenticated for email (S/MIME) rather than TLS: the
	 * case asks for emailProtection and not clientAuth. */
	if (o.purpose == SIGNET_PURPOSE_CLIENT && eku_listed(tc, "emailProtection") &&
	    !eku_listed(tc, "clientAuth"))
		o.purpose = SIGNET_PURPOSE_EMAIL;
	json_array_foreach(json_object_get(tc, "extended_key_usage"), i, v) {
		if (o.n_ekus < 16)
			ekus[o.n_ekus++] = json_string_value(v);
	}
	o.ekus = ekus;
	json_array_foreach(json_object_get(tc, "key_usage"), i, v)
		o.key_usage |= ku_bit(json_string_value(v));
	v = json_object_get(tc, "max_chain_depth");
	if (json_is_integer(v))
		o.max_depth = (int)json_integer_value(v);

	/* Every expected name must match; with none, no name check. */
	names = json_array();
	if (json_is_object(json_object_get(tc, "expected_peer_name")))
		json_array_append(names, json_object_get(tc, "expected_peer_name"));
	json_array_foreach(json_object_get(tc, "expected_peer_names"), i, v)
		json_array_append(names, v);
	accepted = 1;
	for (i = 0; accepted && i < (json_array_size(names) ? json_array_size(names) : 1); i++) {
		json_t *n = json_array_get(names, i);
		const char *kind = json_string_value(json_object_get(n, "kind"));
		const char *val = json_string_value(json_object_get(n, "value"));
		o.host = o.ip = o.email = NULL;
		if (kind != NULL && strcmp(kind, "DNS") == 0)
			o.host = val;
		else if (kind != NULL && strcmp(kind, "IP") == 0)
			o.ip = val;
		else if (kind != NULL && strcmp(kind, "RFC822") == 0)
			o.email = val;
		if (signet_verify(trust, sk_X509_value(peer, 0), inter, &o, NULL, &err) < 0)
			accepted = 0;
	}
	json_decref(names);
	if (!accepted)
		goto refused;
	snprintf(msg, msize, "accepted");
	goto out;
refused:
	accepted = 0;
	snprintf(msg, msize, "refused (%s): %s", signet_code_name(err.code), err.msg);
out:
	signet_trust_free(trust);
	sk_X509_pop_free(trusted, X509_free);
	sk_X509_pop_free(inter, X509_free);
	sk_X509_pop_free(peer, X509_free);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	*trustp = NULL;
	return accepted;
}

int main(int argc, char **argv)
{
	const char *path = NULL, *floor_file = NULL, *only = NULL;
	int quiet = 0, pass = 0, fail = 0, skip = 0;
	json_error_t jerr;
	json_t *root, *cases, *tc;
	size_t i;
	double worst_ms = 0;
	const char *worst_id = "";

	for (int a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--floor") == 0 && a + 1 < argc)
			floor_file = argv[++a];
		else if (strcmp(argv[a], "--only") == 0 && a + 1 < argc)
			only = argv[++a];
		else if (strcmp(argv[a], "--quiet") == 0)
			quiet = 1;
		else if (path == NULL)
			path = argv[a];
		else {
			fprintf(stderr, "usage: limbo LIMBO.JSON [--floor FILE] [--only SUBSTR] [--quiet]\n");
			return 2;
		}
	}
	if (path == NULL) {
		fprintf(stderr, "usage: limbo LIMBO.JSON [--floor FILE] [--only SUBSTR] [--quiet]\n");
		return 2;
	}
	root = json_load_file(path, 0, &jerr);
	if (root == NULL) {
		fprintf(stderr, "limbo: FATAL: cannot read the x509-limbo suite %s: %s\n"
				"limbo: the conformance test needs ../shared/testdata/x509-limbo/limbo.json\n",
			path, jerr.text);
		return 3;
	}
	cases = json_object_get(root, "testcases");
	if (!json_is_array(cases) || json_array_size(cases) == 0) {
		fprintf(stderr, "limbo: FATAL: %s holds no testcases\n", path);
		return 4;
	}
	json_array_foreach(cases, i, tc) {
		const char *id = json_string_value(json_object_get(tc, "id"));
		const char *exp = json_string_value(json_object_get(tc, "expected_result"));
		const char *why;
		struct signet_trust *trust = NULL;
		struct tally *t;
		char msg[1200];
		struct timespec t0, t1;
		double ms;
		int got;

		if (id == NULL || exp == NULL)
			continue;
		if (only != NULL && strstr(id, only) == NULL)
			continue;
		t = tally_for(id);
		if ((why = skip_reason(tc)) != NULL) {
			skip++;
			t->skip++;
			printf("skip %s: %s\n", id, why);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		got = run_case(&trust, tc, msg, sizeof(msg));
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
		if (ms > worst_ms) {
			worst_ms = ms;
			worst_id = id;
		}
		if (got >= 0 && (got == 1) == (strcmp(exp, "SUCCESS") == 0)) {
			pass++;
			t->pass++;
			if (!quiet)
				printf("pass %s (%.1f ms): expected %s, %s\n", id, ms, exp, msg);
		} else {
			fail++;
			t->fail++;
			printf("FAIL %s (%.1f ms): expected %s, %s\n", id, ms, exp, msg);
		}
	}
	printf("\nper prefix:\n");
	for (int k = 0; k < n_tallies; k++)
		printf("  %-14s %3d passed, %3d failed, %3d skipped\n", tallies[k].prefix,
		       tallies[k].pass, tallies[k].fail, tallies[k].skip);
	printf("slowest case: %s (%.1f ms)\n", worst_id, worst_ms);
	printf("%d passed, %d failed, %d skipped\n", pass, fail, skip);
	json_decref(root);
	if (floor_file != NULL) {
		struct signet_err err;
		unsigned char *data = NULL;
		size_t len = 0;
		long floor_n;
		if (signet_file_read(floor_file, &data, &len, &err) < 0) {
			fprintf(stderr, "limbo: FATAL: %s\n", err.msg);
			return 3;
		}
		floor_n = strtol((char *)data, NULL, 10);
		free(data);
		if (floor_n <= 0 || pass < floor_n) {
			fprintf(stderr, "limbo: %d passed, below the recorded floor of %ld (%s)\n",
				pass, floor_n, floor_file);
			return 1;
		}
	}
	return 0;
}
