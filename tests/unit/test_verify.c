/*
 * test_verify.c - unit tests of the verifier: RFC 6125 name matching and a
 * few chains made here with OpenSSL (root -> intermediate -> leaf), each
 * failure class with its code and sentence, alternative paths, the
 * signature cache.
 */
#include <signet/verify.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static int dm(const char *pattern, const char *host)
{
	return signet_dns_match(pattern, strlen(pattern), host);
}

static void test_dns_valid(void **state)
{
	(void)state;
	assert_true(signet_dns_valid("example.com", 11, 0));
	assert_true(signet_dns_valid("a-b.example.com.", 16, 0));
	assert_true(signet_dns_valid("*.example.com", 13, 1));
	assert_false(signet_dns_valid("*.example.com", 13, 0));
	assert_false(signet_dns_valid("foo_bar.example.com", 19, 0));
	assert_false(signet_dns_valid("-a.example.com", 14, 0));
	assert_false(signet_dns_valid("a-.example.com", 14, 0));
	assert_false(signet_dns_valid("a..example.com", 14, 0));
	assert_false(signet_dns_valid(".example.com", 12, 0));
	assert_false(signet_dns_valid("f*.example.com", 14, 1));
	assert_false(signet_dns_valid("a.*.example.com", 15, 1));
	assert_false(signet_dns_valid("", 0, 0));
	assert_false(signet_dns_valid("exa\0mple.com", 12, 0));
	{
		char label[80];
		memset(label, 'a', 64);
		memcpy(label + 64, ".com", 5);
		assert_false(signet_dns_valid(label, strlen(label), 0));
		assert_true(signet_dns_valid(label + 1, strlen(label + 1), 0));
	}
}

static void test_dns_match(void **state)
{
	(void)state;
	assert_true(dm("www.example.com", "www.example.com"));
	assert_true(dm("www.example.com", "WWW.Example.COM"));
	assert_true(dm("www.example.com.", "www.example.com"));
	assert_false(dm("www.example.com", "example.com"));
	assert_false(dm("example.com", "www.example.com"));
	/* wildcards: one whole leftmost label */
	assert_true(dm("*.example.com", "foo.example.com"));
	assert_false(dm("*.example.com", "example.com"));
	assert_false(dm("*.example.com", "a.b.example.com"));
	assert_false(dm("f*.example.com", "foo.example.com"));
	assert_false(dm("*oo.example.com", "foo.example.com"));
	assert_false(dm("foo.*.com", "foo.example.com"));
	assert_false(dm("*", "com"));
	assert_false(dm("*.com", "example.com"));
	assert_false(dm("*.example.com", ".example.com"));
	/* reference identifiers must be DNS names themselves */
	assert_false(dm("*.example.com", "*.example.com"));
	assert_false(dm("foo_bar.example.com", "foo_bar.example.com"));
}

static void test_email_match(void **state)
{
	(void)state;
	assert_true(signet_email_match("alice@example.com", 17, "alice@EXAMPLE.com"));
	assert_false(signet_email_match("alice@example.com", 17, "Alice@example.com"));
	assert_false(signet_email_match("alice@example.com", 17, "alice@example.org"));
	assert_false(signet_email_match("example.com", 11, "alice@example.com"));
}

/* ---- chains ---- */

struct pki {
	EVP_PKEY *root_key, *inter_key, *leaf_key, *other_key;
	X509 *root, *inter, *leaf, *bogus_inter;
};

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
		       int ca, const char *san, long nb, long na, long serial)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();

	assert_non_null(x);
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509_NAME_free(n);
	X509_gmtime_adj(X509_getm_notBefore(x), nb);
	X509_gmtime_adj(X509_getm_notAfter(x), na);
	X509_set_pubkey(x, key);
	add_ext(x, issuer ? issuer : x, NID_subject_key_identifier, "hash");
	if (issuer != NULL)
		add_ext(x, issuer, NID_authority_key_identifier, "keyid:always");
	if (ca) {
		add_ext(x, issuer ? issuer : x, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, issuer ? issuer : x, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		add_ext(x, issuer, NID_key_usage, "critical,digitalSignature");
		add_ext(x, issuer, NID_ext_key_usage, "serverAuth");
		add_ext(x, issuer, NID_subject_alt_name, san);
	}
	assert_true(X509_sign(x, issuer_key, EVP_sha256()) > 0);
	return x;
}

static int setup_pki(void **state)
{
	struct pki *p = calloc(1, sizeof(*p));
	assert_non_null(p);
	p->root_key = EVP_EC_gen("P-256");
	p->inter_key = EVP_EC_gen("P-256");
	p->leaf_key = EVP_EC_gen("P-256");
	p->other_key = EVP_EC_gen("P-256");
	p->root = make_cert("Test Root", p->root_key, NULL, p->root_key, 1, NULL, -3600, 86400 * 365, 1);
	p->inter = make_cert("Test Intermediate", p->inter_key, p->root, p->root_key, 1, NULL,
			     -3600, 86400 * 180, 2);
	/* Same name and key identifiers as the intermediate, signed by a
	 * stranger: a candidate issuer whose signature never verifies. */
	p->bogus_inter = make_cert("Test Intermediate", p->inter_key, p->root, p->other_key, 1,
				   NULL, -3600, 86400 * 180, 3);
	p->leaf = make_cert("server.example.com", p->leaf_key, p->inter, p->inter_key, 0,
			    "DNS:server.example.com,DNS:*.cdn.example.com,IP:192.0.2.7", -3600,
			    86400 * 30, 4);
	*state = p;
	return 0;
}

static int teardown_pki(void **state)
{
	struct pki *p = *state;
	X509_free(p->root);
	X509_free(p->inter);
	X509_free(p->bogus_inter);
	X509_free(p->leaf);
	EVP_PKEY_free(p->root_key);
	EVP_PKEY_free(p->inter_key);
	EVP_PKEY_free(p->leaf_key);
	EVP_PKEY_free(p->other_key);
	free(p);
	return 0;
}

static int run(struct pki *p, struct signet_verify_opts *o, int with_inter,
	       struct signet_err *err, int *chain_len)
{
	struct signet_trust *t = signet_trust_new(err);
	STACK_OF(X509) *unt = sk_X509_new_null(), *chain = NULL;
	int rc;

	assert_non_null(t);
	assert_int_equal(signet_trust_add(t, p->root, err), 0);
	if (with_inter)
		sk_X509_push(unt, p->inter);
	rc = signet_verify(t, p->leaf, unt, o, &chain, err);
	if (chain_len != NULL)
		*chain_len = chain ? sk_X509_num(chain) : 0;
	sk_X509_pop_free(chain, X509_free);
	sk_X509_free(unt);
	signet_trust_free(t);
	return rc;
}

static void test_chain_ok(void **state)
{
	struct signet_verify_opts o = { .max_depth = -1, .purpose = SIGNET_PURPOSE_SERVER,
					.host = "server.example.com" };
	struct signet_err err;
	int n = 0;
	assert_int_equal(run(*state, &o, 1, &err, &n), 0);
	assert_int_equal(n, 3);
	o.host = "img.cdn.example.com";
	assert_int_equal(run(*state, &o, 1, &err, NULL), 0);
	o.host = NULL;
	o.ip = "192.0.2.7";
	assert_int_equal(run(*state, &o, 1, &err, NULL), 0);
	/* A host that is an IP literal is matched against iPAddress SANs. */
	o.ip = NULL;
	o.host = "192.0.2.7";
	assert_int_equal(run(*state, &o, 1, &err, NULL), 0);
	o.host = "192.0.2.8";
	assert_int_equal(run(*state, &o, 1, &err, NULL), -1);
	assert_int_equal(err.code, SIGNET_E_NAME);
}

static void test_chain_name_mismatch(void **state)
{
	struct signet_verify_opts o = { .max_depth = -1, .purpose = SIGNET_PURPOSE_SERVER,
					.host = "api.example.com" };
	struct signet_err err;
	assert_int_equal(run(*state, &o, 1, &err, NULL), -1);
	assert_int_equal(err.code, SIGNET_E_NAME);
	assert_string_equal(err.msg, "name mismatch: api.example.com is not covered by SANs "
				     "[server.example.com, *.cdn.example.com, 192.0.2.7]");
	o.host = NULL;
	o.ip = "192.0.2.8";
	assert_int_equal(run(*state, &o, 1, &err, NULL), -1);
	assert_int_equal(err.code, SIGNET_E_NAME);
}

static void test_chain_expired(void **state)
{
	struct signet_verify_opts o = { .max_depth = -1 };
	struct signet_err err;
	o.at = time(NULL) + 86400 * 33;
	assert_int_equal(run(*state, &o, 1, &err, NULL), -1);
	assert_int_equal(err.code, SIGNET_E_EXPIRED);
	assert_non_null(strstr(err.msg, "server.example.com: expired 3 days ago (notAfter "));
	o.at = time(NULL) - 86400 * 2;
	assert_int_equal(run(*state, &o, 1, &err, NULL), -1);
	assert_int_equal(err.code, SIGNET_E_EXPIRED);
	assert_non_null(strstr(err.msg, "not valid until"));
}

static void test_chain_untrusted(void **state)
{
	struct signet_verify_opts o = { .max_depth = -1 };
	struct signet_err err;
	assert_int_equal(run(*state, &o, 0, &err, NULL), -1);
	assert_int_equal(err.code, SIGNET_E_UNTRUSTED);
	assert_string_equal(err.msg, "no path to a trusted root: issuer 'CN=Test Intermediate' "
				     "of server.example.com not found among 0 untrusted and 1 "
				     "trusted certificates");
}

static void test_chain_depth(void **state)
{
	struct signet_verify_opts o = { .max_depth = 0 };
	struct signet_err err;
	assert_int_equal(run(*state, &o, 1, &err, NULL), -1);
	assert_int_equal(err.code, SIGNET_E_CONSTRAINT);
	o.max_depth = 1;
	assert_int_equal(run(*state, &o, 1, &err, NULL), 0);
}

static void test_alternative_path_and_cache(void **state)
{
	struct pki *p = *state;
	struct signet_verify_opts o = { .max_depth = -1 };
	struct signet_err err;
	struct signet_trust *t = signet_trust_new(&err);
	STACK_OF(X509) *unt = sk_X509_new_null();
	unsigned long hits, misses;

	assert_int_equal(signet_trust_add(t, p->root, &err), 0);
	/* The bogus candidate comes first; the search must move on. */
	sk_X509_push(unt, p->bogus_inter);
	sk_X509_push(unt, p->inter);
	assert_int_equal(signet_verify(t, p->leaf, unt, &o, NULL, &err), 0);
	signet_trust_cache_stats(t, &hits, &misses);
	assert_int_equal(hits, 0);
	assert_int_equal(signet_verify(t, p->leaf, unt, &o, NULL, &err), 0);
	signet_trust_cache_stats(t, &hits, &misses);
	assert_true(hits >= 1); /* intermediate's signature was not checked again */
	/* Only the bogus one: no path, and the sentence says why. */
	sk_X509_pop(unt);
	assert_int_equal(signet_verify(t, p->leaf, unt, &o, NULL, &err), -1);
	assert_int_equal(err.code, SIGNET_E_UNTRUSTED);
	assert_non_null(strstr(err.msg, "Test Intermediate: signature does not verify"));
	sk_X509_free(unt);
	signet_trust_free(t);
}

/* opts.cache_leaf: a leaf seen again skips its signature check, and only
 * the exact same bytes count as seen: a copy with a broken signature still
 * fails after the good one was cached. */
static void test_leaf_cache(void **state)
{
	struct pki *p = *state;
	struct signet_verify_opts o = { .max_depth = -1 };
	struct signet_err err;
	struct signet_trust *t = signet_trust_new(&err);
	STACK_OF(X509) *unt = sk_X509_new_null();
	unsigned long hits, misses;
	unsigned char *der = NULL;
	const unsigned char *q;
	X509 *broken;
	int len;

	assert_int_equal(signet_trust_add(t, p->root, &err), 0);
	sk_X509_push(unt, p->inter);
	/* Without it, only the intermediate's edge is remembered. */
	assert_int_equal(signet_verify(t, p->leaf, unt, &o, NULL, &err), 0);
	assert_int_equal(signet_verify(t, p->leaf, unt, &o, NULL, &err), 0);
	signet_trust_cache_stats(t, &hits, &misses);
	assert_int_equal(hits, 1);
	o.cache_leaf = 1;
	assert_int_equal(signet_verify(t, p->leaf, unt, &o, NULL, &err), 0);
	signet_trust_cache_stats(t, &hits, &misses);
	assert_int_equal(hits, 2); /* the leaf's edge was a miss, now stored */
	assert_int_equal(signet_verify(t, p->leaf, unt, &o, NULL, &err), 0);
	signet_trust_cache_stats(t, &hits, &misses);
	assert_int_equal(hits, 4); /* both edges */

	len = i2d_X509(p->leaf, &der);
	assert_true(len > 0);
	der[len - 1] ^= 0x01; /* the last byte of the signature value */
	q = der;
	broken = d2i_X509(NULL, &q, len);
	assert_non_null(broken);
	assert_int_equal(signet_verify(t, broken, unt, &o, NULL, &err), -1);
	assert_int_equal(err.code, SIGNET_E_UNTRUSTED);
	assert_non_null(strstr(err.msg, "signature does not verify"));
	X509_free(broken);
	OPENSSL_free(der);
	sk_X509_free(unt);
	signet_trust_free(t);
}

static void test_weak_algorithm(void **state)
{
	struct pki *p = *state;
	struct signet_verify_opts o = { .max_depth = -1 };
	struct signet_err err;
	struct signet_trust *t = signet_trust_new(&err);
	EVP_PKEY *rsa = EVP_RSA_gen(1024);
	X509 *weak = make_cert("weak.example.com", rsa, p->root, p->root_key, 0,
			       "DNS:weak.example.com", -60, 86400, 9);

	assert_int_equal(signet_trust_add(t, p->root, &err), 0);
	assert_int_equal(signet_verify(t, weak, NULL, &o, NULL, &err), -1);
	assert_int_equal(err.code, SIGNET_E_ALGORITHM);
	assert_string_equal(err.msg,
			    "weak.example.com: RSA key of 1024 bits is below the 2048-bit minimum");
	X509_free(weak);
	EVP_PKEY_free(rsa);
	signet_trust_free(t);
}

struct worker {
	struct signet_trust *t;
	struct pki *p;
	STACK_OF(X509) *unt;
	int failures;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct signet_verify_opts o = { .max_depth = -1, .purpose = SIGNET_PURPOSE_SERVER,
					.host = "server.example.com" };
	struct signet_err err;
	for (int i = 0; i < 100; i++)
		if (signet_verify(w->t, w->p->leaf, w->unt, &o, NULL, &err) != 0)
			w->failures++;
	return NULL;
}

/* One trust store, shared anchors and intermediates, four threads: the
 * cache and the memos on shared X509 objects stay consistent. */
static void test_concurrent(void **state)
{
	struct pki *p = *state;
	struct signet_err err;
	struct worker w[4];
	pthread_t th[4];
	struct signet_trust *t = signet_trust_new(&err);
	STACK_OF(X509) *unt = sk_X509_new_null();
	unsigned long hits, misses;

	assert_int_equal(signet_trust_add(t, p->root, &err), 0);
	sk_X509_push(unt, p->bogus_inter);
	sk_X509_push(unt, p->inter);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ t, p, unt, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	signet_trust_cache_stats(t, &hits, &misses);
	assert_true(hits >= 300);
	sk_X509_free(unt);
	signet_trust_free(t);
}

/*
 * The fast path (verify.c, constraints_check) against X509_verify_cert:
 * SIGNET_VERIFY_CROSSCHECK=1 (set in main) makes every fast-path
 * verdict also go through OpenSSL and abort on a difference.  These
 * chains vary each rule fast_check repeats, on the leaf and on the
 * intermediates; each is parsed back from DER as a relying party gets it.
 */
static X509 *mkx(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey, int version,
		 const char *const *exts)
{
	X509 *x = X509_new(), *back;
	X509_NAME *n = X509_NAME_new();
	unsigned char *der = NULL;
	const unsigned char *p;
	static long serial = 1000;
	int len;

	assert_non_null(x);
	X509_set_version(x, version);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	if (cn[0] != '\0')
		X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1,
					   -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509_NAME_free(n);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400 * 30);
	X509_set_pubkey(x, key);
	for (int i = 0; exts != NULL && exts[i] != NULL; i += 2) {
		X509V3_CTX ctx;
		X509_EXTENSION *ext;
		X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
		ext = X509V3_EXT_nconf(NULL, &ctx, exts[i], exts[i + 1]);
		if (ext == NULL && strcmp(exts[i], "authorityKeyIdentifier") == 0)
			ext = X509V3_EXT_nconf(NULL, &ctx, exts[i], "issuer:always"); /* no SKI above */
		if (ext == NULL)
			fprintf(stderr, "cannot make %s = %s\n", exts[i], exts[i + 1]);
		assert_non_null(ext);
		assert_int_equal(X509_add_ext(x, ext, -1), 1);
		X509_EXTENSION_free(ext);
	}
	assert_true(X509_sign(x, ikey, EVP_sha256()) > 0);
	len = i2d_X509(x, &der);
	assert_true(len > 0);
	p = der;
	back = d2i_X509(NULL, &p, len);
	assert_non_null(back);
	OPENSSL_free(der);
	X509_free(x);
	return back;
}

#define CA_EXTS "subjectKeyIdentifier", "hash", "authorityKeyIdentifier", "keyid:always"
#define LEAF_BASE "subjectKeyIdentifier", "hash", "authorityKeyIdentifier", "keyid:always", \
		  "keyUsage", "critical,digitalSignature", "extendedKeyUsage", "serverAuth"

static void test_fast_path_matches_openssl(void **state)
{
	struct pki *p = *state;
	EVP_PKEY *k2 = EVP_EC_gen("P-256"), *kx = NULL;
	EVP_PKEY_CTX *kctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	static const char *const inter_ok[] = { CA_EXTS, "basicConstraints", "critical,CA:TRUE",
		"keyUsage", "critical,keyCertSign,cRLSign", NULL };
	static const char *const inter_pathlen0[] = { CA_EXTS, "basicConstraints",
		"critical,CA:TRUE,pathlen:0", "keyUsage", "critical,keyCertSign,cRLSign", NULL };
	static const char *const inter_bc_noncrit[] = { CA_EXTS, "basicConstraints", "CA:TRUE",
		"keyUsage", "critical,keyCertSign,cRLSign", NULL };
	static const char *const inter_no_ku[] = { CA_EXTS, "basicConstraints", "critical,CA:TRUE",
		NULL };
	static const char *const inter_no_ski[] = { "authorityKeyIdentifier", "keyid:always",
		"basicConstraints", "critical,CA:TRUE", "keyUsage", "critical,keyCertSign", NULL };
	static const char *const inter_not_ca[] = { CA_EXTS, "basicConstraints", "critical,CA:FALSE",
		NULL };
	static const char *const *inters[] = { inter_ok, inter_pathlen0, inter_bc_noncrit,
					       inter_no_ku, inter_no_ski, inter_not_ca };
	static const char *const leaf_ok[] = { LEAF_BASE, "subjectAltName", "DNS:a.example", NULL };
	static const char *const leaf_ca[] = { LEAF_BASE, "subjectAltName", "DNS:a.example",
		"basicConstraints", "critical,CA:TRUE", NULL };
	static const char *const leaf_ca_noncrit[] = { "subjectKeyIdentifier", "hash",
		"authorityKeyIdentifier", "keyid:always", "subjectAltName", "DNS:a.example",
		"basicConstraints", "CA:TRUE", "keyUsage", "keyCertSign", NULL };
	static const char *const leaf_pathlen[] = { LEAF_BASE, "subjectAltName", "DNS:a.example",
		"basicConstraints", "critical,CA:FALSE,pathlen:1", NULL };
	static const char *const leaf_certsign[] = { "subjectKeyIdentifier", "hash",
		"authorityKeyIdentifier", "keyid:always", "keyUsage", "keyCertSign",
		"subjectAltName", "DNS:a.example", NULL };
	static const char *const leaf_no_akid[] = { "subjectKeyIdentifier", "hash",
		"subjectAltName", "DNS:a.example", NULL };
	static const char *const leaf_akid_crit[] = { "authorityKeyIdentifier",
		"critical,keyid:always", "subjectAltName", "DNS:a.example", NULL };
	static const char *const leaf_ski_crit[] = { "subjectKeyIdentifier", "critical,hash",
		"authorityKeyIdentifier", "keyid:always", "subjectAltName", "DNS:a.example", NULL };
	static const char *const leaf_unknown_crit[] = { LEAF_BASE, "subjectAltName",
		"DNS:a.example", "1.3.6.1.4.1.55555.1", "critical,DER:05:00", NULL };
	static const char *const leaf_unknown[] = { LEAF_BASE, "subjectAltName",
		"DNS:a.example", "1.3.6.1.4.1.55555.1", "DER:05:00", NULL };
	static const char *const leaf_san_crit[] = { LEAF_BASE, "subjectAltName",
		"critical,DNS:a.example", NULL };
	static const char *const leaf_san_empty[] = { LEAF_BASE, "subjectAltName", "DER:30:00",
		NULL };
	static const char *const leaf_no_san[] = { LEAF_BASE, NULL };
	static const char *const leaf_policy[] = { LEAF_BASE, "subjectAltName", "DNS:a.example",
		"certificatePolicies", "DER:30:0a:30:08:06:06:67:81:0c:01:02:01", NULL };
	static const char *const *leaves[] = { leaf_ok, leaf_ca, leaf_ca_noncrit, leaf_pathlen,
		leaf_certsign, leaf_no_akid, leaf_akid_crit, leaf_ski_crit, leaf_unknown_crit,
		leaf_unknown, leaf_san_crit, leaf_san_empty, leaf_no_san, leaf_policy, NULL };
	static const char *const subjects[] = { "a.example", "" };
	static const enum signet_purpose purposes[] = { SIGNET_PURPOSE_ANY, SIGNET_PURPOSE_SERVER };
	struct signet_err err;
	unsigned long fast = 0;
	int passed = 0, failed = 0;
	OSSL_PARAM params[3];

	/* An EC key whose certificate carries explicit curve parameters. */
	assert_non_null(kctx);
	params[0] = OSSL_PARAM_construct_utf8_string("group", "P-256", 0);
	params[1] = OSSL_PARAM_construct_utf8_string("encoding", "explicit", 0);
	params[2] = OSSL_PARAM_construct_end();
	assert_int_equal(EVP_PKEY_keygen_init(kctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_params(kctx, params), 1);
	assert_int_equal(EVP_PKEY_generate(kctx, &kx), 1);
	EVP_PKEY_CTX_free(kctx);

	for (size_t a = 0; a < sizeof(inters) / sizeof(inters[0]); a++) {
		X509 *inter = mkx("Fast Intermediate", p->inter_key, p->root, p->root_key,
				  X509_VERSION_3, inters[a]);
		/* A second intermediate below a pathlen:0 one exceeds it. */
		X509 *inter2 = mkx("Fast Intermediate 2", k2, inter, p->inter_key, X509_VERSION_3,
				   inter_ok);
		for (int depth = 0; depth < 2; depth++)
		for (int l = 0; leaves[l] != NULL; l++)
		for (int sj = 0; sj < 2; sj++)
		for (int kk = 0; kk < 2; kk++) {
			X509 *leaf = mkx(subjects[sj], kk ? kx : p->leaf_key, depth ? inter2 : inter,
					 depth ? k2 : p->inter_key, X509_VERSION_3, leaves[l]);
			struct signet_trust *t = signet_trust_new(&err);
			STACK_OF(X509) *unt = sk_X509_new_null();
			assert_non_null(t);
			assert_int_equal(signet_trust_add(t, p->root, &err), 0);
			sk_X509_push(unt, inter);
			if (depth)
				sk_X509_push(unt, inter2);
			for (size_t u = 0; u < 2; u++) {
				struct signet_verify_opts o = { .max_depth = -1,
								.purpose = purposes[u] };
				if (signet_verify(t, leaf, unt, &o, NULL, &err) == 0)
					passed++;
				else
					failed++;
			}
			fast += signet_trust_fast_paths(t);
			sk_X509_free(unt);
			signet_trust_free(t);
			X509_free(leaf);
		}
		X509_free(inter2);
		X509_free(inter);
	}
	/* Also a v1 leaf, which may carry no extensions. */
	{
		X509 *inter = mkx("Fast Intermediate", p->inter_key, p->root, p->root_key,
				  X509_VERSION_3, inter_ok);
		X509 *leaf = mkx("a.example", p->leaf_key, inter, p->inter_key, X509_VERSION_1, NULL);
		struct signet_trust *t = signet_trust_new(&err);
		STACK_OF(X509) *unt = sk_X509_new_null();
		struct signet_verify_opts o = { .max_depth = -1, .purpose = SIGNET_PURPOSE_ANY };
		signet_trust_add(t, p->root, &err);
		sk_X509_push(unt, inter);
		(void)signet_verify(t, leaf, unt, &o, NULL, &err);
		sk_X509_free(unt);
		signet_trust_free(t);
		X509_free(leaf);
		X509_free(inter);
	}
	/* Both verdicts occur, and the fast path was taken many times (the
	 * policy, explicit-curve and empty-subject cases go either way). */
	assert_true(passed > 20);
	assert_true(failed > 20);
	assert_true(fast > 100);
	EVP_PKEY_free(k2);
	EVP_PKEY_free(kx);
}

/* The fast path's own verdicts on two rules that OpenSSL enforces. */
static void test_fast_path_rules(void **state)
{
	struct pki *p = *state;
	static const char *const inter_pathlen0[] = { CA_EXTS, "basicConstraints",
		"critical,CA:TRUE,pathlen:0", "keyUsage", "critical,keyCertSign,cRLSign", NULL };
	static const char *const inter_ok[] = { CA_EXTS, "basicConstraints", "critical,CA:TRUE",
		"keyUsage", "critical,keyCertSign,cRLSign", NULL };
	static const char *const leaf_unknown_crit[] = { LEAF_BASE, "subjectAltName",
		"DNS:a.example", "1.3.6.1.4.1.55555.1", "critical,DER:05:00", NULL };
	static const char *const leaf_ok[] = { LEAF_BASE, "subjectAltName", "DNS:a.example", NULL };
	EVP_PKEY *k2 = EVP_EC_gen("P-256");
	X509 *inter = mkx("Fast Intermediate", p->inter_key, p->root, p->root_key, X509_VERSION_3,
			  inter_pathlen0);
	X509 *inter2 = mkx("Fast Intermediate 2", k2, inter, p->inter_key, X509_VERSION_3, inter_ok);
	X509 *deep = mkx("a.example", p->leaf_key, inter2, k2, X509_VERSION_3, leaf_ok);
	X509 *crit = mkx("a.example", p->leaf_key, inter, p->inter_key, X509_VERSION_3,
			 leaf_unknown_crit);
	struct signet_trust *t;
	STACK_OF(X509) *unt = sk_X509_new_null();
	struct signet_verify_opts o = { .max_depth = -1, .purpose = SIGNET_PURPOSE_SERVER,
					.host = "a.example" };
	struct signet_err err;

	t = signet_trust_new(&err);
	signet_trust_add(t, p->root, &err);
	sk_X509_push(unt, inter);
	sk_X509_push(unt, inter2);
	assert_int_equal(signet_verify(t, deep, unt, &o, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "path length constraint exceeded"));
	assert_int_equal(signet_verify(t, crit, unt, &o, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "unhandled critical extension"));
	assert_true(signet_trust_fast_paths(t) >= 2);
	signet_trust_free(t);
	sk_X509_free(unt);
	X509_free(deep);
	X509_free(crit);
	X509_free(inter2);
	X509_free(inter);
	EVP_PKEY_free(k2);
}

/*
 * Verifies leaf (with inter, when not NULL, as the untrusted
 * intermediate) against the test root, times times on one trust store,
 * and checks each verdict: rc, and when msg is set the error code (when
 * code is not 0) and that the sentence contains msg.
 */
static void expect_verify(struct pki *p, X509 *leaf, X509 *inter,
			  const struct signet_verify_opts *o, int times, int rc, int code,
			  const char *msg)
{
	struct signet_err err;
	struct signet_trust *t = signet_trust_new(&err);
	STACK_OF(X509) *unt = sk_X509_new_null();

	assert_non_null(t);
	assert_non_null(unt);
	assert_int_equal(signet_trust_add(t, p->root, &err), 0);
	if (inter != NULL)
		sk_X509_push(unt, inter);
	for (int i = 0; i < times; i++) {
		assert_int_equal(signet_verify(t, leaf, unt, o, NULL, &err), rc);
		if (code != 0)
			assert_int_equal(err.code, code);
		if (msg != NULL)
			assert_non_null(strstr(err.msg, msg));
	}
	sk_X509_free(unt);
	signet_trust_free(t);
}

/* S/MIME (--purpose email): the S/MIME BR rules on the leaf and CAs. */
static void test_smime_purpose(void **state)
{
	struct pki *p = *state;
	static const char *const inter_smime[] = { CA_EXTS, "basicConstraints", "critical,CA:TRUE",
		"keyUsage", "critical,keyCertSign,cRLSign", "extendedKeyUsage", "emailProtection",
		NULL };
	static const char *const inter_nocrl[] = { CA_EXTS, "basicConstraints", "critical,CA:TRUE",
		"keyUsage", "critical,keyCertSign", NULL };
	static const char *const ok[] = { "subjectKeyIdentifier", "hash", "authorityKeyIdentifier",
		"keyid:always", "keyUsage", "digitalSignature", "extendedKeyUsage", "emailProtection",
		"subjectAltName", "email:alice@example.com", NULL };
	static const char *const with_server[] = { "authorityKeyIdentifier", "keyid:always",
		"keyUsage", "digitalSignature", "extendedKeyUsage", "emailProtection,serverAuth",
		"subjectAltName", "email:alice@example.com", NULL };
	static const char *const no_eku[] = { "authorityKeyIdentifier", "keyid:always",
		"keyUsage", "digitalSignature", "subjectAltName", "email:alice@example.com", NULL };
	static const char *const no_ku[] = { "authorityKeyIdentifier", "keyid:always",
		"extendedKeyUsage", "emailProtection", "subjectAltName", "email:alice@example.com",
		NULL };
	static const char *const dns_only[] = { "authorityKeyIdentifier", "keyid:always",
		"keyUsage", "digitalSignature", "extendedKeyUsage", "emailProtection",
		"subjectAltName", "DNS:example.com", NULL };
	static const struct {
		const char *const *inter, *const *leaf;
		enum signet_purpose purpose;
		int rc;
		const char *msg;
	} cases[] = {
		{ inter_smime, ok, SIGNET_PURPOSE_EMAIL, 0, NULL },
		{ inter_smime, ok, SIGNET_PURPOSE_CLIENT, -1, "does not include clientAuth" },
		{ inter_smime, with_server, SIGNET_PURPOSE_EMAIL, -1, "also allows serverAuth" },
		{ inter_smime, no_eku, SIGNET_PURPOSE_EMAIL, -1, "without extendedKeyUsage" },
		{ inter_smime, no_ku, SIGNET_PURPOSE_EMAIL, -1, "without keyUsage" },
		{ inter_smime, dns_only, SIGNET_PURPOSE_EMAIL, -1, "rfc822Name" },
		{ inter_nocrl, ok, SIGNET_PURPOSE_EMAIL, -1, "without cRLSign" },
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		X509 *inter = mkx("Mail CA", p->inter_key, p->root, p->root_key, X509_VERSION_3,
				  cases[c].inter);
		X509 *leaf = mkx("Alice", p->leaf_key, inter, p->inter_key, X509_VERSION_3,
				 cases[c].leaf);
		struct signet_verify_opts o = { .max_depth = -1, .purpose = cases[c].purpose,
						.email = "alice@example.com" };
		if (cases[c].leaf == dns_only)
			o.email = NULL;
		expect_verify(p, leaf, inter, &o, 1, cases[c].rc, 0, cases[c].msg);
		X509_free(leaf);
		X509_free(inter);
	}
}

/* A TLS server certificate may add clientAuth, nothing the CA/B BRs ban. */
static void test_server_eku_extras(void **state)
{
	struct pki *p = *state;
	static const char *const both[] = { LEAF_BASE, "subjectAltName", "DNS:a.example", NULL };
	static const char *const codesign[] = { "subjectKeyIdentifier", "hash",
		"authorityKeyIdentifier", "keyid:always", "keyUsage", "critical,digitalSignature",
		"extendedKeyUsage", "serverAuth,codeSigning", "subjectAltName", "DNS:a.example", NULL };
	static const char *const ocsp[] = { "subjectKeyIdentifier", "hash",
		"authorityKeyIdentifier", "keyid:always", "keyUsage", "critical,digitalSignature",
		"extendedKeyUsage", "serverAuth,clientAuth,OCSPSigning", "subjectAltName",
		"DNS:a.example", NULL };
	static const char *const precert[] = { "subjectKeyIdentifier", "hash",
		"authorityKeyIdentifier", "keyid:always", "keyUsage", "critical,digitalSignature",
		"extendedKeyUsage", "serverAuth,1.3.6.1.4.1.11129.2.4.4", "subjectAltName",
		"DNS:a.example", NULL };
	static const char *const *leaves[] = { both, codesign, ocsp, precert };
	static const int want[] = { 0, -1, -1, -1 };

	for (int l = 0; l < 4; l++) {
		X509 *leaf = mkx("a.example", p->leaf_key, p->inter, p->inter_key, X509_VERSION_3,
				 leaves[l]);
		struct signet_verify_opts o = { .max_depth = -1, .purpose = SIGNET_PURPOSE_SERVER,
						.host = "a.example" };
		expect_verify(p, leaf, p->inter, &o, 1, want[l], 0,
			      want[l] < 0 ? "TLS server certificate must not" : NULL);
		X509_free(leaf);
	}
}

static void add_crl_ext(X509_CRL *crl, X509V3_CTX *ctx, const char *name, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_nconf(NULL, ctx, name, value);
	assert_non_null(ext);
	assert_int_equal(X509_CRL_add_ext(crl, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/* A leaf whose CRL distribution point is named by a directory name and a
 * URI (the URI of the partitioned CRL in test_crl_rules). */
static X509 *mkx_cdp_dir(struct pki *p)
{
	static const char *const exts[] = { LEAF_BASE, "subjectAltName", "DNS:a.example", NULL };
	X509 *x = mkx("a.example", p->leaf_key, p->inter, p->inter_key, X509_VERSION_3, exts);
	CRL_DIST_POINTS *cdp = sk_DIST_POINT_new_null();
	DIST_POINT *dp = DIST_POINT_new();
	GENERAL_NAME *dir = GENERAL_NAME_new(), *uri = GENERAL_NAME_new();
	ASN1_IA5STRING *u = ASN1_IA5STRING_new();
	X509_NAME *n = X509_NAME_new();
	unsigned char *der = NULL;
	const unsigned char *q;
	X509 *back;
	int len;

	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"CRL", -1, -1, 0);
	GENERAL_NAME_set0_value(dir, GEN_DIRNAME, n);
	ASN1_STRING_set(u, "http://crl.example/p1.crl", -1);
	GENERAL_NAME_set0_value(uri, GEN_URI, u);
	dp->distpoint = DIST_POINT_NAME_new();
	dp->distpoint->type = 0;
	dp->distpoint->name.fullname = sk_GENERAL_NAME_new_null();
	sk_GENERAL_NAME_push(dp->distpoint->name.fullname, dir);
	sk_GENERAL_NAME_push(dp->distpoint->name.fullname, uri);
	sk_DIST_POINT_push(cdp, dp);
	assert_int_equal(X509_add1_ext_i2d(x, NID_crl_distribution_points, cdp, 0, 0), 1);
	CRL_DIST_POINTS_free(cdp);
	assert_true(X509_sign(x, p->inter_key, EVP_sha256()) > 0);
	len = i2d_X509(x, &der);
	q = der;
	back = d2i_X509(NULL, &q, len);
	assert_non_null(back);
	OPENSSL_free(der);
	X509_free(x);
	return back;
}

/* A CRL from issuer, with the given entries and issuingDistributionPoint. */
static X509_CRL *mkcrl_by(X509 *issuer, EVP_PKEY *key, const long *serials, int n,
			  const char *idp)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_new();
	ASN1_INTEGER *num = ASN1_INTEGER_new();
	X509V3_CTX ctx;

	assert_non_null(crl);
	X509_CRL_set_version(crl, X509_CRL_VERSION_2);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer));
	X509_gmtime_adj(t, -600);
	X509_CRL_set1_lastUpdate(crl, t);
	X509_gmtime_adj(t, 86400);
	X509_CRL_set1_nextUpdate(crl, t);
	for (int i = 0; i < n; i++) {
		X509_REVOKED *r = X509_REVOKED_new();
		ASN1_INTEGER *sn = ASN1_INTEGER_new();
		ASN1_INTEGER_set(sn, serials[i]);
		X509_REVOKED_set_serialNumber(r, sn);
		X509_gmtime_adj(t, -300);
		X509_REVOKED_set_revocationDate(r, t);
		X509_CRL_add0_revoked(crl, r);
		ASN1_INTEGER_free(sn);
	}
	ASN1_INTEGER_set(num, 7);
	X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0);
	X509V3_set_ctx(&ctx, issuer, NULL, NULL, crl, 0);
	add_crl_ext(crl, &ctx, "authorityKeyIdentifier", "keyid:always");
	if (idp != NULL)
		add_crl_ext(crl, &ctx, "issuingDistributionPoint", idp);
	assert_true(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
	ASN1_TIME_free(t);
	ASN1_INTEGER_free(num);
	return crl;
}

static X509_CRL *mkcrl(struct pki *p, const long *serials, int n, const char *idp)
{
	return mkcrl_by(p->inter, p->inter_key, serials, n, idp);
}

static void test_crl_rules(void **state)
{
	struct pki *p = *state;
	static const long once[] = { 77, 78 }, twice[] = { 77, 78, 77 };
	static const struct {
		const long *serials;
		int n;
		const char *idp;
		int dir_cdp;
		int rc;
		const char *msg;
	} cases[] = {
		{ once, 2, NULL, 0, 0, NULL },
		{ twice, 3, NULL, 0, -1, "lists a serial number more than once" },
		{ once, 2, "fullname:URI:http://crl.example/p1.crl,indirectCRL:TRUE", 0, -1,
		  "claims to be indirect" },
		{ once, 2, "fullname:email:crl@example.com", 0, -1, "something other than URIs" },
		{ once, 2, "fullname:URI:http://crl.example/p1.crl", 1, -1,
		  "cannot be matched" },
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		static const char *const leaf_exts[] = { LEAF_BASE, "subjectAltName", "DNS:a.example",
			NULL };
		X509 *leaf = cases[c].dir_cdp ? mkx_cdp_dir(p) :
				 mkx("a.example", p->leaf_key, p->inter, p->inter_key, X509_VERSION_3,
				     leaf_exts);
		X509_CRL *crl = mkcrl(p, cases[c].serials, cases[c].n, cases[c].idp);
		STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
		struct signet_verify_opts o = { .max_depth = -1, .purpose = SIGNET_PURPOSE_SERVER,
						.host = "a.example" };

		sk_X509_CRL_push(crls, crl);
		/* The intermediate is covered by a plain CRL of the root. */
		sk_X509_CRL_push(crls, mkcrl_by(p->root, p->root_key, NULL, 0, NULL));
		o.crls = crls;
		/* A refusal twice: the verdict on the CRL is remembered, not lost. */
		expect_verify(p, leaf, p->inter, &o, cases[c].msg != NULL ? 2 : 1, cases[c].rc,
			      cases[c].msg != NULL ? SIGNET_E_REVUNKNOWN : 0, cases[c].msg);
		sk_X509_CRL_pop_free(crls, X509_CRL_free);
		X509_free(leaf);
	}

	/* A partitioned CRL of the root covering a leaf whose distribution
	 * point it names (by URI): trusted. */
	{
		static const char *const leaf_cdp[] = { LEAF_BASE, "subjectAltName",
			"DNS:a.example", "crlDistributionPoints", "URI:http://crl.example/p2.crl",
			NULL };
		X509 *leaf = mkx("a.example", p->leaf_key, p->root, p->root_key, X509_VERSION_3,
				 leaf_cdp);
		X509_CRL *crl = mkcrl_by(p->root, p->root_key, once, 2,
					 "critical,fullname:URI:http://crl.example/p2.crl");
		STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
		struct signet_verify_opts o = { .max_depth = -1, .purpose = SIGNET_PURPOSE_SERVER,
						.host = "a.example" };
		sk_X509_CRL_push(crls, crl);
		o.crls = crls;
		expect_verify(p, leaf, NULL, &o, 1, 0, 0, NULL);
		sk_X509_CRL_pop_free(crls, X509_CRL_free);
		X509_free(leaf);
	}
}

/*
 * Name constraints constrain names of their own type (RFC 5280 4.2.1.10):
 * a DNS subtree says nothing about a subject CN.  A leaf whose only SAN is
 * an IP address inside the permitted range passes whatever its CN holds;
 * a dNSName or iPAddress SAN outside the subtrees is still refused.
 */
static void test_nc_ignores_cn(void **state)
{
	struct pki *p = *state;
	static const char *const nc_dns[] = { CA_EXTS, "basicConstraints", "critical,CA:TRUE",
		"keyUsage", "critical,keyCertSign,cRLSign", "nameConstraints",
		"critical,permitted;DNS:localhost,excluded;DNS:bad.example.com", NULL };
	static const char *const nc_ip[] = { CA_EXTS, "basicConstraints", "critical,CA:TRUE",
		"keyUsage", "critical,keyCertSign,cRLSign", "nameConstraints",
		"critical,permitted;IP:127.0.0.0/255.255.255.0", NULL };
	static const char *const ip_san[] = { LEAF_BASE, "subjectAltName", "IP:127.0.0.1", NULL };
	static const char *const dns_out[] = { LEAF_BASE, "subjectAltName",
		"IP:127.0.0.1,DNS:bad.example.com", NULL };
	static const char *const ip_out[] = { LEAF_BASE, "subjectAltName", "IP:1.1.1.1", NULL };
	static const struct {
		const char *const *inter, *const *leaf;
		const char *cn, *ip;
		int rc;
	} cases[] = {
		{ nc_dns, ip_san, "127.0.0.1", "127.0.0.1", 0 },
		{ nc_dns, ip_san, "bad.example.com", "127.0.0.1", 0 },
		{ nc_dns, ip_san, "test.example.org", "127.0.0.1", 0 },
		{ nc_ip, ip_san, "1.1.1.1", "127.0.0.1", 0 },
		{ nc_dns, dns_out, "127.0.0.1", "127.0.0.1", -1 },
		{ nc_ip, ip_out, "127.0.0.1", "1.1.1.1", -1 },
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		X509 *inter = mkx("Constrained CA", p->inter_key, p->root, p->root_key,
				  X509_VERSION_3, cases[c].inter);
		X509 *leaf = mkx(cases[c].cn, p->leaf_key, inter, p->inter_key, X509_VERSION_3,
				 cases[c].leaf);
		struct signet_verify_opts o = { .max_depth = -1, .purpose = SIGNET_PURPOSE_SERVER,
						.host = cases[c].ip };
		expect_verify(p, leaf, inter, &o, 1, cases[c].rc,
			      cases[c].rc < 0 ? SIGNET_E_CONSTRAINT : 0, NULL);
		X509_free(leaf);
		X509_free(inter);
	}
}

int main(void)
{
	setenv("SIGNET_VERIFY_CROSSCHECK", "1", 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dns_valid),
		cmocka_unit_test(test_dns_match),
		cmocka_unit_test(test_email_match),
		cmocka_unit_test(test_chain_ok),
		cmocka_unit_test(test_chain_name_mismatch),
		cmocka_unit_test(test_chain_expired),
		cmocka_unit_test(test_chain_untrusted),
		cmocka_unit_test(test_chain_depth),
		cmocka_unit_test(test_alternative_path_and_cache),
		cmocka_unit_test(test_leaf_cache),
		cmocka_unit_test(test_weak_algorithm),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_fast_path_matches_openssl),
		cmocka_unit_test(test_fast_path_rules),
		cmocka_unit_test(test_smime_purpose),
		cmocka_unit_test(test_server_eku_extras),
		cmocka_unit_test(test_crl_rules),
		cmocka_unit_test(test_nc_ignores_cn),
	};
	return cmocka_run_group_tests(tests, setup_pki, teardown_pki);
}
