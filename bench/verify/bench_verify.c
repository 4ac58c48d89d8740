/*
 * bench_verify.c - chains verified per second in one process.
 *
 * usage: bench_verify ec|rsa [--runs N] [--ms MS] [--leaves N] [--write DIR]
 *
 * Makes a root, an intermediate and N distinct leaves (ECDSA P-256 or
 * RSA-2048, SHA-256), then runs, each for MS milliseconds and N times:
 *   signet     signet_verify with one shared trust store (the same
 *              intermediate repeats, so its signature comes from the cache)
 *   x509_loop  a plain loop of X509_STORE_CTX_init + X509_verify_cert
 *              (what a program using OpenSSL directly does)
 * and prints the median chains/s of each and their ratio.  --write DIR
 * also saves root.pem, inter.pem and leafN.pem for run.sh's
 * process-per-chain `openssl verify` comparison.
 */
#include <signet/verify.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static EVP_PKEY *gen(int rsa)
{
	return rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
}

static void ext(X509 *x, X509 *issuer, int nid, const char *v)
{
	X509V3_CTX c;
	X509_EXTENSION *e;
	X509V3_set_ctx(&c, issuer, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &c, nid, v);
	if (e == NULL || !X509_add_ext(x, e, -1)) {
		fprintf(stderr, "bench_verify: cannot add extension %d\n", nid);
		exit(1);
	}
	X509_EXTENSION_free(e);
}

/*
 * Certificates are verified as a relying party gets them: parsed from DER.
 * An X509 built in this process keeps no cached encoding, so every
 * signature check on it would re-encode the TBS, a cost no real verifier
 * sees.
 */
static X509 *reparse(X509 *built)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	int len = i2d_X509(built, &der);
	X509 *x;

	p = der;
	x = len > 0 ? d2i_X509(NULL, &p, len) : NULL;
	if (x == NULL) {
		fprintf(stderr, "bench_verify: cannot re-parse a certificate\n");
		exit(1);
	}
	OPENSSL_free(der);
	X509_free(built);
	return x;
}

static X509 *cert(const char *cn, EVP_PKEY *k, X509 *iss, EVP_PKEY *ik, int ca, long serial)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	char san[300];

	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, iss ? X509_get_subject_name(iss) : n);
	X509_NAME_free(n);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 90);
	X509_set_pubkey(x, k);
	ext(x, iss ? iss : x, NID_subject_key_identifier, "hash");
	if (iss)
		ext(x, iss, NID_authority_key_identifier, "keyid:always");
	if (ca) {
		ext(x, iss ? iss : x, NID_basic_constraints, "critical,CA:TRUE");
		ext(x, iss ? iss : x, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		snprintf(san, sizeof(san), "DNS:%s", cn);
		ext(x, iss, NID_basic_constraints, "critical,CA:FALSE");
		ext(x, iss, NID_key_usage, "critical,digitalSignature");
		ext(x, iss, NID_ext_key_usage, "serverAuth");
		ext(x, iss, NID_subject_alt_name, san);
	}
	if (!X509_sign(x, ik, EVP_sha256())) {
		fprintf(stderr, "bench_verify: cannot sign\n");
		exit(1);
	}
	return reparse(x);
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct world {
	X509 *root, *inter;
	X509 **leaves;
	int n;
	STACK_OF(X509) *unt;
	struct signet_trust *trust;
	X509_STORE *store;
	char (*hosts)[64];
};

static int one_signet(struct world *w, int i)
{
	struct signet_verify_opts o = { .max_depth = -1, .purpose = SIGNET_PURPOSE_SERVER };
	struct signet_err err;
	o.host = w->hosts[i];
	if (signet_verify(w->trust, w->leaves[i], w->unt, &o, NULL, &err) < 0) {
		fprintf(stderr, "bench_verify: signet refused: %s\n", err.msg);
		exit(1);
	}
	return 0;
}

static int one_x509(struct world *w, int i)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_VERIFY_PARAM *p;
	int ok;
	X509_STORE_CTX_init(ctx, w->store, w->leaves[i], w->unt);
	p = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_purpose(p, X509_PURPOSE_SSL_SERVER);
	X509_VERIFY_PARAM_set1_host(p, w->hosts[i], 0);
	ok = X509_verify_cert(ctx);
	X509_STORE_CTX_free(ctx);
	if (ok != 1) {
		fprintf(stderr, "bench_verify: X509_verify_cert refused\n");
		exit(1);
	}
	return 0;
}

static double rate(struct world *w, int (*fn)(struct world *, int), double ms)
{
	double t0 = now(), t;
	long n = 0;
	do {
		for (int k = 0; k < 16; k++, n++)
			fn(w, (int)(n % w->n));
		t = now();
	} while ((t - t0) * 1e3 < ms);
	return (double)n / (t - t0);
}

static void write_pem(const char *dir, const char *name, X509 *x)
{
	char path[4096];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f == NULL || !PEM_write_X509(f, x)) {
		fprintf(stderr, "bench_verify: cannot write %s\n", path);
		exit(1);
	}
	fclose(f);
}

/*
 * Cold: every chain has its own intermediate, seen once per run, and all
 * certificates are parsed afresh (untimed) before each run, so neither
 * side has anything cached: signet checks both signatures, as the loop
 * does.  The target for this case is the plain loop's rate.
 */
struct cold {
	unsigned char **der; /* inter0, leaf0, inter1, leaf1, ... */
	int *len;
	int k;
	X509 *root;
	X509 **x;
};

static X509 *parse_der(const unsigned char *d, int len)
{
	const unsigned char *p = d;
	X509 *x = d2i_X509(NULL, &p, len);
	if (x == NULL) {
		fprintf(stderr, "bench_verify: cannot parse\n");
		exit(1);
	}
	return x;
}

static double cold_run(struct cold *c, int use_signet)
{
	struct signet_err err;
	struct signet_trust *trust = NULL;
	X509_STORE *store = NULL;
	STACK_OF(X509) *unt = sk_X509_new_null();
	X509 *root = parse_der(c->der[2 * c->k], c->len[2 * c->k]);
	double t0, t;

	for (int i = 0; i < 2 * c->k; i++)
		c->x[i] = parse_der(c->der[i], c->len[i]);
	if (use_signet) {
		trust = signet_trust_new(&err);
		signet_trust_add(trust, root, &err);
	} else {
		store = X509_STORE_new();
		X509_STORE_add_cert(store, root);
	}
	t0 = now();
	for (int i = 0; i < c->k; i++) {
		char host[64];
		snprintf(host, sizeof(host), "host%d.cold.example", i);
		sk_X509_zero(unt);
		sk_X509_push(unt, c->x[2 * i]);
		if (use_signet) {
			struct signet_verify_opts o = { .max_depth = -1,
							.purpose = SIGNET_PURPOSE_SERVER };
			o.host = host;
			if (signet_verify(trust, c->x[2 * i + 1], unt, &o, NULL, &err) < 0) {
				fprintf(stderr, "bench_verify: signet refused: %s\n", err.msg);
				exit(1);
			}
		} else {
			X509_STORE_CTX *ctx = X509_STORE_CTX_new();
			X509_VERIFY_PARAM *p;
			X509_STORE_CTX_init(ctx, store, c->x[2 * i + 1], unt);
			p = X509_STORE_CTX_get0_param(ctx);
			X509_VERIFY_PARAM_set_purpose(p, X509_PURPOSE_SSL_SERVER);
			X509_VERIFY_PARAM_set1_host(p, host, 0);
			if (X509_verify_cert(ctx) != 1) {
				fprintf(stderr, "bench_verify: X509_verify_cert refused\n");
				exit(1);
			}
			X509_STORE_CTX_free(ctx);
		}
	}
	t = now();
	for (int i = 0; i < 2 * c->k; i++)
		X509_free(c->x[i]);
	sk_X509_free(unt);
	signet_trust_free(trust);
	X509_STORE_free(store);
	X509_free(root);
	return (double)c->k / (t - t0);
}

static void cold_bench(int rsa, X509 *root, EVP_PKEY *rk, EVP_PKEY *ik, EVP_PKEY *lk, int k,
		       int runs)
{
	struct cold c;
	double *rs = calloc((size_t)runs, sizeof(double)), *rx = calloc((size_t)runs, sizeof(double));

	c.k = k;
	c.der = calloc((size_t)(2 * k + 1), sizeof(*c.der));
	c.len = calloc((size_t)(2 * k + 1), sizeof(*c.len));
	c.x = calloc((size_t)(2 * k), sizeof(X509 *));
	for (int i = 0; i < k; i++) {
		char name[64], host[64];
		X509 *inter, *leaf;
		snprintf(name, sizeof(name), "Cold Intermediate %d", i);
		snprintf(host, sizeof(host), "host%d.cold.example", i);
		inter = cert(name, ik, root, rk, 1, 10000 + i);
		leaf = cert(host, lk, inter, ik, 0, 20000 + i);
		c.len[2 * i] = i2d_X509(inter, &c.der[2 * i]);
		c.len[2 * i + 1] = i2d_X509(leaf, &c.der[2 * i + 1]);
		X509_free(inter);
		X509_free(leaf);
	}
	c.len[2 * k] = i2d_X509(root, &c.der[2 * k]);
	for (int r = 0; r < runs; r++) {
		rs[r] = cold_run(&c, 1);
		rx[r] = cold_run(&c, 0);
	}
	qsort(rs, (size_t)runs, sizeof(double), cmp_d);
	qsort(rx, (size_t)runs, sizeof(double), cmp_d);
	printf("%s cold signet_verify %10.0f chains/s (median of %d runs of %d distinct chains)\n",
	       rsa ? "rsa2048" : "p256   ", rs[runs / 2], runs, k);
	printf("%s cold X509_verify   %10.0f chains/s\n", rsa ? "rsa2048" : "p256   ", rx[runs / 2]);
	printf("%s cold ratio         %10.2f\n", rsa ? "rsa2048" : "p256   ",
	       rs[runs / 2] / rx[runs / 2]);
	for (int i = 0; i <= 2 * k; i++)
		OPENSSL_free(c.der[i]);
	free(c.der);
	free(c.len);
	free(c.x);
	free(rs);
	free(rx);
}

int main(int argc, char **argv)
{
	int rsa, runs = 5, nleaves = 64, cold = 1000;
	double ms = 1000;
	const char *dir = NULL, *only = NULL;
	struct world w;
	EVP_PKEY *rk, *ik, *lk;
	struct signet_err err;
	double *rs, *rx;

	if (argc < 2 || (strcmp(argv[1], "ec") != 0 && strcmp(argv[1], "rsa") != 0)) {
		fprintf(stderr, "usage: bench_verify ec|rsa [--runs N] [--ms MS] [--leaves N] [--write DIR] [--cold K] [--only signet|x509]\n");
		return 2;
	}
	rsa = strcmp(argv[1], "rsa") == 0;
	for (int a = 2; a + 1 < argc; a += 2) {
		if (strcmp(argv[a], "--runs") == 0)
			runs = atoi(argv[a + 1]);
		else if (strcmp(argv[a], "--ms") == 0)
			ms = atof(argv[a + 1]);
		else if (strcmp(argv[a], "--leaves") == 0)
			nleaves = atoi(argv[a + 1]);
		else if (strcmp(argv[a], "--write") == 0)
			dir = argv[a + 1];
		else if (strcmp(argv[a], "--cold") == 0) /* distinct chains; 0: skip */
			cold = atoi(argv[a + 1]);
		else if (strcmp(argv[a], "--only") == 0) /* for profiling one side */
			only = argv[a + 1];
	}
	if (runs < 1 || nleaves < 1 || ms <= 0)
		return 2;
	memset(&w, 0, sizeof(w));
	rk = gen(rsa);
	ik = gen(rsa);
	lk = gen(rsa); /* leaves share a key: key generation is not what we time */
	w.root = cert("Bench Root", rk, NULL, rk, 1, 1);
	w.inter = cert("Bench Intermediate", ik, w.root, rk, 1, 2);
	w.n = nleaves;
	w.leaves = calloc((size_t)nleaves, sizeof(X509 *));
	w.hosts = calloc((size_t)nleaves, sizeof(*w.hosts));
	for (int i = 0; i < nleaves; i++) {
		snprintf(w.hosts[i], sizeof(w.hosts[i]), "host%d.bench.example", i);
		w.leaves[i] = cert(w.hosts[i], lk, w.inter, ik, 0, 100 + i);
	}
	w.unt = sk_X509_new_null();
	sk_X509_push(w.unt, w.inter);
	w.trust = signet_trust_new(&err);
	signet_trust_add(w.trust, w.root, &err);
	w.store = X509_STORE_new();
	X509_STORE_add_cert(w.store, w.root);
	if (dir != NULL) {
		char name[64];
		write_pem(dir, "root.pem", w.root);
		write_pem(dir, "inter.pem", w.inter);
		for (int i = 0; i < nleaves; i++) {
			snprintf(name, sizeof(name), "leaf%d.pem", i);
			write_pem(dir, name, w.leaves[i]);
		}
	}
	rs = calloc((size_t)runs, sizeof(double));
	rx = calloc((size_t)runs, sizeof(double));
	for (int r = 0; r < runs; r++) { /* interleaved, so drift hits both */
		rs[r] = only && strcmp(only, "signet") != 0 ? 1 : rate(&w, one_signet, ms);
		rx[r] = only && strcmp(only, "x509") != 0 ? 1 : rate(&w, one_x509, ms);
	}
	qsort(rs, (size_t)runs, sizeof(double), cmp_d);
	qsort(rx, (size_t)runs, sizeof(double), cmp_d);
	{
		unsigned long hits, misses;
		signet_trust_cache_stats(w.trust, &hits, &misses);
		printf("%s signet_verify      %10.0f chains/s (median of %d runs; cache %lu hits, %lu misses)\n",
		       rsa ? "rsa2048" : "p256   ", rs[runs / 2], runs, hits, misses);
		printf("%s X509_verify_cert   %10.0f chains/s (median of %d runs)\n",
		       rsa ? "rsa2048" : "p256   ", rx[runs / 2], runs);
		printf("%s ratio signet/loop  %10.2f\n", rsa ? "rsa2048" : "p256   ",
		       rs[runs / 2] / rx[runs / 2]);
	}
	if (cold > 0 && only == NULL)
		cold_bench(rsa, w.root, rk, ik, lk, cold, runs);
	for (int i = 0; i < nleaves; i++)
		X509_free(w.leaves[i]);
	free(w.leaves);
	free(w.hosts);
	free(rs);
	free(rx);
	sk_X509_free(w.unt);
	X509_free(w.root);
	X509_free(w.inter);
	X509_STORE_free(w.store);
	signet_trust_free(w.trust);
	EVP_PKEY_free(rk);
	EVP_PKEY_free(ik);
	EVP_PKEY_free(lk);
	return 0;
}
