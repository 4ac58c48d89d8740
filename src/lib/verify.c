/*
 * verify.c - signet's certificate verifier: path building, then OpenSSL's
 * X509_verify_cert on each candidate path, then signet's own rules.
 *
 * Design.  OpenSSL builds one chain and gives up when it fails; it does
 * not go back and try another issuer (cross-signed roots, a root also sent
 * as an intermediate, CVE-2024-0567).  So signet builds paths itself:
 * a depth-first search from the leaf, trying trust anchors before
 * untrusted certificates at every step, accepting an issuer only when its
 * name and key identifiers match (X509_check_issued) and the signature
 * verifies (X509_verify, i.e. OpenSSL's crypto).  Each complete path is
 * then judged in full: validity at the requested time, signet's profile
 * rules (verify_profile.c), OpenSSL's X509_verify_cert restricted to
 * exactly that path (one anchor, the path's intermediates) for basic and
 * name constraints, policies and CRLs (or, for a path where those reduce
 * to per-certificate tests, the same tests applied directly: see
 * fast_check), and the leaf's names
 * (verify_name.c).  The first path that passes wins; when none does, the
 * error of the first complete path is reported, or, when no path reached
 * an anchor, why not.
 *
 * Bounds.  Hostile input can offer many candidate issuers and cycles, so
 * the search never revisits a certificate (or a subject+key pair) within a
 * path, stops at SIGNET_MAX_INTERMEDIATES, considers at most BUDGET_POOL
 * distinct untrusted certificates, and has budgets for nodes expanded,
 * signatures checked and paths judged.  Exhausting one is a
 * failure, never a pass.
 *
 * Caching.  Signatures on CA certificates that verified are remembered in
 * the trust store, and those on leaves too when the caller asks
 * (opts->cache_leaf: a tunnel's clients reconnect with the same
 * certificate), keyed by the SHA-256 of the issuer's DER and that of the
 * subject's DER: the exact bytes, so a cache hit means the same two
 * certificates.  X509_verify_cert is given a no-op signature callback,
 * since every edge of the path it sees was already checked here; its chain
 * is compared with ours afterwards.
 */
#include "verify_int.h"

#include <dirent.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <signet/cert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SIGNET_MAX_INTERMEDIATES 8
#define BUDGET_NODES 2048
#define BUDGET_SIGS 256
#define BUDGET_PATHS 32
#define BUDGET_POOL 256 /* distinct untrusted certificates considered */

/* ---- trust store ---- */

struct signet_trust *signet_trust_new(struct signet_err *err)
{
	struct signet_trust *t = calloc(1, sizeof(*t));

	if (t == NULL) {
		signet_err_set(err, SIGNET_E_INTERNAL, "out of memory");
		return NULL;
	}
	t->anchors = sk_X509_new_null();
	t->store = X509_STORE_new();
	t->cache = calloc(SIGCACHE_SLOTS, sizeof(*t->cache));
	if (t->anchors == NULL || t->store == NULL || t->cache == NULL ||
	    pthread_mutex_init(&t->lock, NULL) != 0) {
		sk_X509_free(t->anchors);
		X509_STORE_free(t->store);
		free(t->cache);
		free(t);
		signet_err_set(err, SIGNET_E_INTERNAL, "out of memory");
		return NULL;
	}
	return t;
}

void signet_trust_free(struct signet_trust *t)
{
	if (t == NULL)
		return;
	sk_X509_pop_free(t->anchors, X509_free);
	X509_STORE_free(t->store);
	free(t->cache);
	for (size_t i = 0; i < t->psl.n; i++)
		free(t->psl.rules[i]);
	free(t->psl.rules);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

int signet_trust_add(struct signet_trust *t, X509 *anchor, struct signet_err *err)
{
	for (int i = 0; i < sk_X509_num(t->anchors); i++)
		if (X509_cmp(sk_X509_value(t->anchors, i), anchor) == 0)
			return 0;
	if (!X509_up_ref(anchor))
		return signet_err_set(err, SIGNET_E_INTERNAL, "cannot reference certificate");
	if (sk_X509_push(t->anchors, anchor) <= 0) {
		X509_free(anchor);
		return signet_err_set(err, SIGNET_E_INTERNAL, "out of memory");
	}
	return 0;
}

static int trust_add_all(struct signet_trust *t, STACK_OF(X509) *certs,
			 struct signet_err *err)
{
	for (int i = 0; i < sk_X509_num(certs); i++)
		if (signet_trust_add(t, sk_X509_value(certs, i), err) < 0)
			return -1;
	return 0;
}

static int trust_load_file(struct signet_trust *t, const char *path,
			   struct signet_err *err)
{
	STACK_OF(X509) *certs = signet_certs_load(path, err);
	int rc;
	if (certs == NULL)
		return -1;
	rc = trust_add_all(t, certs, err);
	sk_X509_pop_free(certs, X509_free);
	return rc;
}

static int trust_load_dir(struct signet_trust *t, const char *dir,
			  struct signet_err *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int rc = 0, n = 0;

	if (d == NULL)
		return signet_err_set(err, SIGNET_E_IO, "%s: cannot open directory", dir);
	while ((de = readdir(d)) != NULL && rc == 0) {
		char path[4096];
		struct stat st;
		const char *dot = strrchr(de->d_name, '.');
		if (de->d_name[0] == '.' || dot == NULL ||
		    (strcmp(dot, ".pem") != 0 && strcmp(dot, ".crt") != 0 &&
		     strcmp(dot, ".cer") != 0 && strcmp(dot, ".0") != 0))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path) ||
		    stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		rc = trust_load_file(t, path, err);
		n++;
	}
	closedir(d);
	if (rc == 0 && n == 0)
		return signet_err_set(err, SIGNET_E_IO,
				      "%s: no .pem, .crt or .cer certificates in directory", dir);
	return rc;
}

int signet_trust_load(struct signet_trust *t, const char *what, struct signet_err *err)
{
	struct stat st;

	if (strcmp(what, "system") == 0) {
		const char *f = getenv(X509_get_default_cert_file_env());
		if (f == NULL)
			f = X509_get_default_cert_file();
		if (stat(f, &st) == 0)
			return trust_load_file(t, f, err);
		f = getenv(X509_get_default_cert_dir_env());
		if (f == NULL)
			f = X509_get_default_cert_dir();
		return trust_load_dir(t, f, err);
	}
	if (strcmp(what, "-") != 0 && stat(what, &st) == 0 && S_ISDIR(st.st_mode))
		return trust_load_dir(t, what, err);
	return trust_load_file(t, what, err);
}

void signet_trust_cache_stats(struct signet_trust *t, unsigned long *hits,
			      unsigned long *misses)
{
	pthread_mutex_lock(&t->lock);
	*hits = t->hits;
	*misses = t->misses;
	pthread_mutex_unlock(&t->lock);
}

unsigned long signet_trust_fast_paths(struct signet_trust *t)
{
	unsigned long n;
	pthread_mutex_lock(&t->lock);
	n = t->fast;
	pthread_mutex_unlock(&t->lock);
	return n;
}

/* ---- naming certificates in messages ---- */

void vfy_dn(const X509_NAME *n, char *buf, size_t size)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long len;

	buf[0] = '\0';
	if (b == NULL)
		return;
	if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		len = BIO_get_mem_data(b, &p);
		if (len > 0 && p != NULL)
			snprintf(buf, size, "%.*s", (int)(len > (long)size ? (long)size : len), p);
	}
	BIO_free(b);
	if (buf[0] == '\0')
		snprintf(buf, size, "(empty name)");
	ERR_clear_error();
}

void vfy_cert_label(X509 *x, char *buf, size_t size)
{
	X509_NAME *n = X509_get_subject_name(x);
	int idx = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
	GENERAL_NAMES *sans;

	if (idx >= 0) {
		unsigned char *u = NULL;
		int len = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, idx)));
		if (len > 0) {
			snprintf(buf, size, "%.*s", len > 200 ? 200 : len, (char *)u);
			OPENSSL_free(u);
			return;
		}
		OPENSSL_free(u);
	}
	sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		if (g->type == GEN_DNS || g->type == GEN_EMAIL) {
			ASN1_IA5STRING *s = g->type == GEN_DNS ? g->d.dNSName : g->d.rfc822Name;
			snprintf(buf, size, "%.*s", ASN1_STRING_length(s) > 200 ? 200 :
				 ASN1_STRING_length(s), (const char *)ASN1_STRING_get0_data(s));
			GENERAL_NAMES_free(sans);
			return;
		}
	}
	GENERAL_NAMES_free(sans);
	ERR_clear_error();
	vfy_dn(n, buf, size);
}

void vfy_note(json_t *checks, const char *check, X509 *x, int ok, const char *detail)
{
	char label[256];
	if (checks == NULL)
		return;
	if (x != NULL)
		vfy_cert_label(x, label, sizeof(label));
	json_array_append_new(checks, json_pack("{s:s, s:s?, s:b, s:s?}", "check", check,
						"certificate", x ? label : NULL, "ok", ok,
						"detail", detail));
}

/* ---- signature cache ---- */

/*
 * SHA-256 of a certificate's DER, memoised on the X509 object (ex_data), so
 * that repeated verifications with the same parsed intermediates do not
 * re-encode them.  Anchors are shared between threads, and setting ex_data
 * may grow its array, so every get/set of our memos holds the trust lock.
 */
static pthread_once_t der_idx_once = PTHREAD_ONCE_INIT;
static int der_idx = -1;

static void der_memo_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
			  void *argp)
{
	OPENSSL_free(ptr);
}

static void der_idx_init(void)
{
	der_idx = X509_get_ex_new_index(0, NULL, NULL, NULL, der_memo_free);
}

static int der_sha256(struct signet_trust *t, X509 *x, unsigned char out[32])
{
	unsigned char *der = NULL, *memo = NULL;
	unsigned int n = 0;
	int len, ok;

	pthread_once(&der_idx_once, der_idx_init);
	if (der_idx >= 0) {
		pthread_mutex_lock(&t->lock);
		memo = X509_get_ex_data(x, der_idx);
		if (memo != NULL)
			memcpy(out, memo, 32);
		pthread_mutex_unlock(&t->lock);
		if (memo != NULL)
			return 1;
	}
	len = i2d_X509(x, &der);
	ok = len > 0 && EVP_Digest(der, (size_t)len, out, &n, EVP_sha256(), NULL) && n == 32;
	OPENSSL_free(der);
	if (ok && der_idx >= 0 && (memo = OPENSSL_memdup(out, 32)) != NULL) {
		unsigned char *old;
		pthread_mutex_lock(&t->lock);
		old = X509_get_ex_data(x, der_idx); /* another thread may have won */
		if (old != NULL || !X509_set_ex_data(x, der_idx, memo)) {
			OPENSSL_free(memo);
		}
		pthread_mutex_unlock(&t->lock);
	}
	return ok;
}

/*
 * Profile memo: a bit per (role, purpose) whose profile checks this
 * certificate passed; the checks depend on nothing else.  A lost race
 * only means a check is repeated.
 */
static pthread_once_t prof_idx_once = PTHREAD_ONCE_INIT;
static int prof_idx = -1;

static void prof_idx_init(void)
{
	prof_idx = X509_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static uintptr_t profile_memo_bits(struct signet_trust *t, X509 *x)
{
	uintptr_t bits = 0;
	pthread_once(&prof_idx_once, prof_idx_init);
	if (prof_idx < 0)
		return 0;
	pthread_mutex_lock(&t->lock);
	bits = (uintptr_t)X509_get_ex_data(x, prof_idx);
	pthread_mutex_unlock(&t->lock);
	return bits;
}

static int profile_memo_has(struct signet_trust *t, X509 *x, int role)
{
	return (profile_memo_bits(t, x) & ((uintptr_t)1 << role)) != 0;
}

static void profile_memo_set(struct signet_trust *t, X509 *x, int role)
{
	pthread_once(&prof_idx_once, prof_idx_init);
	if (prof_idx < 0)
		return;
	pthread_mutex_lock(&t->lock);
	X509_set_ex_data(x, prof_idx,
			 (void *)((uintptr_t)X509_get_ex_data(x, prof_idx) | ((uintptr_t)1 << role)));
	pthread_mutex_unlock(&t->lock);
}

/* SIGNET_VERIFY_CROSSCHECK=1: check each shortcut of OpenSSL's
 * verification against OpenSSL itself and abort on a difference. */
static int crosscheck_on;
static pthread_once_t crosscheck_once = PTHREAD_ONCE_INIT;

static void crosscheck_init(void)
{
	const char *s = getenv("SIGNET_VERIFY_CROSSCHECK");
	crosscheck_on = s != NULL && strcmp(s, "1") == 0;
}

static int crosscheck(void)
{
	pthread_once(&crosscheck_once, crosscheck_init);
	return crosscheck_on;
}

/*
 * Per-certificate memo for issuers and anchors, which repeat across calls:
 * validity dates as time_t, and an EVP_MD_CTX set up (EVP_DigestVerifyInit)
 * with the certificate's key for one digest, copied for each signature it
 * checks.  Set once under the trust lock and never changed afterwards, so
 * a copy can be read without the lock.
 */
struct cert_memo {
	int times; /* 1: nb/na hold well-formed dates; -1: malformed */
	time_t nb, na;
	EVP_MD_CTX *vproto;
	int vproto_md;
};

static pthread_once_t memo_idx_once = PTHREAD_ONCE_INIT;
static int memo_idx = -1;

static void cert_memo_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
			   void *argp)
{
	struct cert_memo *m = ptr;
	if (m != NULL)
		EVP_MD_CTX_free(m->vproto);
	free(m);
}

static void memo_idx_init(void)
{
	memo_idx = X509_get_ex_new_index(0, NULL, NULL, NULL, cert_memo_free);
}

/* The memo of x, made when missing; NULL when out of memory.  Call with
 * the trust lock held. */
static struct cert_memo *cert_memo_locked(X509 *x)
{
	struct cert_memo *m;
	pthread_once(&memo_idx_once, memo_idx_init);
	if (memo_idx < 0)
		return NULL;
	m = X509_get_ex_data(x, memo_idx);
	if (m == NULL && (m = calloc(1, sizeof(*m))) != NULL && !X509_set_ex_data(x, memo_idx, m)) {
		free(m);
		m = NULL;
	}
	return m;
}

/* Validity of a CA certificate at t from its memo: 1 within, 0 outside
 * or unknown (the caller then runs the full check_time). */
static int memo_time_ok(struct signet_trust *t, X509 *x, time_t at)
{
	struct cert_memo *m;
	int ok = 0;

	pthread_mutex_lock(&t->lock);
	m = cert_memo_locked(x);
	if (m != NULL && m->times == 0) {
		const ASN1_TIME *nb = X509_get0_notBefore(x), *na = X509_get0_notAfter(x);
		m->times = ASN1_TIME_check(nb) == 1 && ASN1_TIME_check(na) == 1 &&
				   signet_asn1_time_to_time(nb, &m->nb) == 0 &&
				   signet_asn1_time_to_time(na, &m->na) == 0 ? 1 : -1;
		ERR_clear_error();
	}
	if (m != NULL && m->times == 1)
		ok = m->nb < at && m->na >= at;
	pthread_mutex_unlock(&t->lock);
	return ok;
}

/*
 * X509_verify(subject, issuer's key), as ASN1_item_verify_ctx does it for
 * a signature algorithm with a digest (RSA PKCS#1 v1.5, ECDSA), but with
 * the issuer's EVP_DigestVerifyInit done once and copied: in OpenSSL 3.0
 * that set-up (provider fetches) costs as much as hashing the certificate.
 * Other algorithms (RSA-PSS, EdDSA) go to X509_verify.
 */
static int cert_sig_ok(struct signet_trust *t, X509 *issuer, X509 *subject, EVP_PKEY *pk)
{
	const ASN1_BIT_STRING *sig;
	const X509_ALGOR *alg;
	struct cert_memo *m;
	EVP_MD_CTX *proto = NULL, *c = NULL;
	const EVP_MD *md;
	unsigned char *der = NULL;
	const unsigned char *p;
	long tbs_len;
	size_t n = 0;
	int mdnid, pknid, len, tag, cls, ok = 0;

	X509_get0_signature(&sig, &alg, subject);
	if (!OBJ_find_sigid_algs(OBJ_obj2nid(alg->algorithm), &mdnid, &pknid) ||
	    mdnid == NID_undef)
		return X509_verify(subject, pk) == 1;
	if (X509_ALGOR_cmp(alg, X509_get0_tbs_sigalg(subject)) != 0 ||
	    (sig->type == V_ASN1_BIT_STRING && (sig->flags & 0x7) != 0) ||
	    !EVP_PKEY_is_a(pk, OBJ_nid2sn(pknid)) || (md = EVP_get_digestbynid(mdnid)) == NULL)
		return 0;

	pthread_mutex_lock(&t->lock);
	m = cert_memo_locked(issuer);
	if (m != NULL && m->vproto != NULL && m->vproto_md == mdnid)
		proto = m->vproto;
	pthread_mutex_unlock(&t->lock);
	if (proto == NULL) {
		EVP_MD_CTX *fresh = EVP_MD_CTX_new();
		if (fresh == NULL || EVP_DigestVerifyInit(fresh, NULL, md, NULL, pk) != 1) {
			EVP_MD_CTX_free(fresh);
			return X509_verify(subject, pk) == 1;
		}
		pthread_mutex_lock(&t->lock);
		m = cert_memo_locked(issuer);
		if (m != NULL && m->vproto == NULL) {
			m->vproto = fresh;
			m->vproto_md = mdnid;
			proto = fresh;
			fresh = NULL;
		}
		pthread_mutex_unlock(&t->lock);
		if (fresh != NULL) { /* no memo, or one for another digest */
			proto = fresh;
			c = fresh;
		}
	}

	/* The signed bytes: the TBSCertificate as received (the X509 keeps
	 * its original encoding), the first element of the DER.  Anything
	 * but definite-length DER there goes to X509_verify. */
	len = i2d_X509(subject, &der);
	p = der;
	if (len > 0 && ASN1_get_object(&p, &tbs_len, &tag, &cls, len) == V_ASN1_CONSTRUCTED &&
	    tag == V_ASN1_SEQUENCE) {
		const unsigned char *tbs = p;
		long body;
		if (ASN1_get_object(&p, &body, &tag, &cls, len - (long)(p - der)) ==
			    V_ASN1_CONSTRUCTED && tag == V_ASN1_SEQUENCE)
			n = (size_t)(p - tbs) + (size_t)body;
		p = tbs;
	}
	if (n == 0) {
		OPENSSL_free(der);
		EVP_MD_CTX_free(c);
		return X509_verify(subject, pk) == 1;
	}
	if (c == NULL) {
		c = EVP_MD_CTX_new();
		if (c != NULL && EVP_MD_CTX_copy_ex(c, proto) != 1) {
			EVP_MD_CTX_free(c);
			c = NULL;
		}
	}
	if (c != NULL) {
		EVP_MD_CTX_set_flags(c, EVP_MD_CTX_FLAG_FINALISE);
		ok = EVP_DigestVerify(c, ASN1_STRING_get0_data(sig), (size_t)ASN1_STRING_length(sig),
				      p, n) == 1;
	}
	OPENSSL_free(der);
	EVP_MD_CTX_free(c);
	ERR_clear_error();
	return ok;
}

/* Key of "issuer's key verified subject's signature": the SHA-256 of
 * both exact DERs, side by side. */
static int cache_key(struct signet_trust *t, X509 *issuer, X509 *subject,
		     unsigned char key[64])
{
	return der_sha256(t, issuer, key) && der_sha256(t, subject, key + 32);
}

static size_t cache_slot(const unsigned char key[64])
{
	return ((size_t)(key[0] ^ key[32]) | (size_t)(key[1] ^ key[33]) << 8 |
		(size_t)(key[2] ^ key[34]) << 16) % SIGCACHE_SLOTS;
}

/* ---- the per-call search ---- */

struct vctx {
	struct signet_trust *t;
	const struct signet_verify_opts *o;
	STACK_OF(X509) *untrusted;
	time_t at;
	int max_inter;
	X509 *path[SIGNET_MAX_INTERMEDIATES + 2];
	int len;
	int logical; /* intermediates in path that are not self-issued */
	int nodes_left, sigs_left, paths_left, budget_hit;
	int done, have_err, n_paths, sig_failures;
	int want_report; /* build the JSON report (--json); costs time */
	struct signet_err first_err;
	json_t *first_report; /* checks of the path whose error we report */
	json_t *ok_report;
	STACK_OF(X509) *chain;
	X509 *stuck;          /* deepest certificate whose issuer was not found */
	int stuck_depth;
	char sig_fail_msg[600];
};

static int sig_ok(struct vctx *v, X509 *issuer, X509 *subject, int cacheable)
{
	unsigned char key[64];
	size_t slot = 0;
	EVP_PKEY *pk;
	int ok;

	cacheable = cacheable && cache_key(v->t, issuer, subject, key);
	if (cacheable) {
		slot = cache_slot(key);
		pthread_mutex_lock(&v->t->lock);
		ok = v->t->cache[slot].used && memcmp(v->t->cache[slot].key, key, 64) == 0;
		if (ok)
			v->t->hits++;
		else
			v->t->misses++;
		pthread_mutex_unlock(&v->t->lock);
		if (ok)
			return 1;
	}
	if (v->sigs_left <= 0) {
		v->budget_hit = 1;
		return 0;
	}
	v->sigs_left--;
	pk = X509_get0_pubkey(issuer);
	ok = pk != NULL && cert_sig_ok(v->t, issuer, subject, pk);
	if (pk != NULL && crosscheck() && ok != (X509_verify(subject, pk) == 1)) {
		fprintf(stderr, "signet: signature check disagrees with X509_verify (%d)\n", ok);
		abort();
	}
	ERR_clear_error();
	if (ok && cacheable) {
		pthread_mutex_lock(&v->t->lock);
		memcpy(v->t->cache[slot].key, key, 64);
		v->t->cache[slot].used = 1;
		pthread_mutex_unlock(&v->t->lock);
	}
	if (!ok) {
		char a[256], b[256];
		v->sig_failures++;
		vfy_cert_label(subject, a, sizeof(a));
		vfy_cert_label(issuer, b, sizeof(b));
		snprintf(v->sig_fail_msg, sizeof(v->sig_fail_msg),
			 "%s: signature does not verify with the key of '%s'", a, b);
	}
	return ok;
}

static int issued_by(struct vctx *v, X509 *child, X509 *issuer)
{
	if (X509_check_issued(issuer, child) != X509_V_OK) {
		ERR_clear_error();
		return 0;
	}
	return sig_ok(v, issuer, child, v->o->cache_leaf || v->len > 1 || child != v->path[0]);
}

static int in_path(struct vctx *v, X509 *x)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	for (int i = 0; i < v->len; i++) {
		X509 *p = v->path[i];
		if (X509_cmp(p, x) == 0)
			return 1;
		/* The same CA under another certificate is a cycle too. */
		if (X509_NAME_cmp(X509_get_subject_name(p), X509_get_subject_name(x)) == 0 &&
		    pk != NULL && X509_get0_pubkey(p) != NULL &&
		    EVP_PKEY_eq(X509_get0_pubkey(p), pk) == 1)
			return 1;
	}
	return 0;
}

static int self_issued(X509 *x)
{
	return X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0;
}

static int is_anchor(struct vctx *v, X509 *x)
{
	for (int i = 0; i < sk_X509_num(v->t->anchors); i++)
		if (X509_cmp(sk_X509_value(v->t->anchors, i), x) == 0)
			return 1;
	return 0;
}

/* "3 days", "1 second" */
static void span(long long s, char *buf, size_t size)
{
	const char *unit = "second";
	long long n = s;
	if (s >= 86400 * 2) {
		n = s / 86400;
		unit = "day";
	} else if (s >= 7200) {
		n = s / 3600;
		unit = "hour";
	} else if (s >= 120) {
		n = s / 60;
		unit = "minute";
	}
	snprintf(buf, size, "%lld %s%s", n, unit, n == 1 ? "" : "s");
}

static void fmt_time(time_t t, char *buf, size_t size)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, size, tm.tm_sec ? "%Y-%m-%d %H:%M:%S UTC" : "%Y-%m-%d %H:%M UTC", &tm);
}

static int check_time(struct vctx *v, X509 *x, json_t *checks, struct signet_err *err)
{
	const ASN1_TIME *nb = X509_get0_notBefore(x), *na = X509_get0_notAfter(x);
	char label[256], when[64], d[64];
	time_t tb = 0, ta = 0;
	int c;

	if (checks == NULL && ASN1_TIME_cmp_time_t(nb, v->at) == -1 &&
	    ASN1_TIME_cmp_time_t(na, v->at) >= 0)
		return 0; /* the common case, without building messages */
	vfy_cert_label(x, label, sizeof(label));
	if (ASN1_TIME_check(nb) != 1 || ASN1_TIME_check(na) != 1 ||
	    signet_asn1_time_to_time(nb, &tb) < 0 || signet_asn1_time_to_time(na, &ta) < 0) {
		ERR_clear_error();
		return signet_err_set(err, SIGNET_E_INVALID, "%s: malformed validity dates", label);
	}
	c = ASN1_TIME_cmp_time_t(nb, v->at);
	if (c > 0) {
		fmt_time(tb, when, sizeof(when));
		span((long long)(tb - v->at), d, sizeof(d));
		return signet_err_set(err, SIGNET_E_EXPIRED, "%s: not valid until %s (in %s)",
				      label, when, d);
	}
	c = ASN1_TIME_cmp_time_t(na, v->at);
	if (c < 0) {
		fmt_time(ta, when, sizeof(when));
		span((long long)(v->at - ta), d, sizeof(d));
		return signet_err_set(err, SIGNET_E_EXPIRED, "%s: expired %s ago (notAfter %s)",
				      label, d, when);
	}
	if (checks != NULL) {
		char a[64], b[64], det[160];
		fmt_time(tb, a, sizeof(a));
		fmt_time(ta, b, sizeof(b));
		snprintf(det, sizeof(det), "%s to %s", a, b);
		vfy_note(checks, "validity", x, 1, det);
	}
	return 0;
}

static const char *reason_name(int r)
{
	static const char *const names[] = {
		"unspecified", "keyCompromise", "cACompromise", "affiliationChanged",
		"superseded", "cessationOfOperation", "certificateHold", "(7)",
		"removeFromCRL", "privilegeWithdrawn", "aACompromise",
	};
	return r >= 0 && r <= 10 ? names[r] : "unknown reason";
}

static void revoked_msg(struct vctx *v, X509 *x, const char *label, struct signet_err *err)
{
	for (int i = 0; i < sk_X509_CRL_num(v->o->crls); i++) {
		X509_CRL *crl = sk_X509_CRL_value(v->o->crls, i);
		X509_REVOKED *rev = NULL;
		if (X509_CRL_get0_by_cert(crl, &rev, x) == 1 && rev != NULL) {
			ASN1_ENUMERATED *reason = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
			ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
			time_t when = 0;
			char date[64] = "at an unknown date", n[80] = "", rs[64] = "";
			if (signet_asn1_time_to_time(X509_REVOKED_get0_revocationDate(rev), &when) == 0)
				fmt_time(when, date, sizeof(date));
			if (reason != NULL)
				snprintf(rs, sizeof(rs), " (%s)", reason_name((int)ASN1_ENUMERATED_get(reason)));
			if (num != NULL) {
				char hex[64];
				signet_serial_hex(num, hex, sizeof(hex));
				snprintf(n, sizeof(n), " #%s", hex);
			}
			signet_err_set(err, SIGNET_E_REVOKED, "%s: revoked %s%s according to CRL%s",
				       label, date, rs, n);
			ASN1_ENUMERATED_free(reason);
			ASN1_INTEGER_free(num);
			ERR_clear_error();
			return;
		}
	}
	signet_err_set(err, SIGNET_E_REVOKED, "%s: revoked", label);
}

static int map_x509_error(int e)
{
	switch (e) {
	case X509_V_ERR_CERT_REVOKED:
		return SIGNET_E_REVOKED;
	case X509_V_ERR_UNABLE_TO_GET_CRL:
	case X509_V_ERR_CRL_NOT_YET_VALID:
	case X509_V_ERR_CRL_HAS_EXPIRED:
	case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
	case X509_V_ERR_CRL_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
	case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
	case X509_V_ERR_DIFFERENT_CRL_SCOPE:
	case X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION:
	case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
	case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
	case X509_V_ERR_CRL_PATH_VALIDATION_ERROR:
		return SIGNET_E_REVUNKNOWN;
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return SIGNET_E_EXPIRED;
	case X509_V_ERR_INVALID_PURPOSE:
	case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
	case X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE:
		return SIGNET_E_PURPOSE;
	case X509_V_ERR_INVALID_CA:
	case X509_V_ERR_PATH_LENGTH_EXCEEDED:
	case X509_V_ERR_PERMITTED_VIOLATION:
	case X509_V_ERR_EXCLUDED_VIOLATION:
	case X509_V_ERR_SUBTREE_MINMAX:
	case X509_V_ERR_UNSUPPORTED_CONSTRAINT_TYPE:
	case X509_V_ERR_UNSUPPORTED_CONSTRAINT_SYNTAX:
	case X509_V_ERR_UNSUPPORTED_NAME_SYNTAX:
	case X509_V_ERR_NO_EXPLICIT_POLICY:
	case X509_V_ERR_INVALID_POLICY_EXTENSION:
	case X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED:
	case X509_V_ERR_PATHLEN_INVALID_FOR_NON_CA:
	case X509_V_ERR_PATHLEN_WITHOUT_KU_KEY_CERT_SIGN:
	case X509_V_ERR_CA_BCONS_NOT_CRITICAL:
		return SIGNET_E_CONSTRAINT;
	case X509_V_ERR_EE_KEY_TOO_SMALL:
	case X509_V_ERR_CA_KEY_TOO_SMALL:
	case X509_V_ERR_CA_MD_TOO_WEAK:
	case X509_V_ERR_EC_KEY_EXPLICIT_PARAMS:
		return SIGNET_E_ALGORITHM;
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_EMAIL_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		return SIGNET_E_NAME;
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_UNTRUSTED:
	case X509_V_ERR_CERT_REJECTED:
		return SIGNET_E_UNTRUSTED;
	default:
		return SIGNET_E_INVALID;
	}
}

/*
 * X509_V_FLAG_X509_STRICT also demands a keyUsage extension in every CA
 * certificate; RFC 5280 4.2.1.3 only says it SHOULD be there (absent, all
 * usages are allowed), so that one error is waived.  So is any revocation
 * error about the trust anchor itself: X509_V_FLAG_CRL_CHECK_ALL checks
 * the anchor too, but an anchor is trusted as configured (RFC 5280 6.1.1)
 * and signet checks every certificate below it.
 */
static int relax_cb(int ok, X509_STORE_CTX *ctx)
{
	int e = X509_STORE_CTX_get_error(ctx);
	int revocation = map_x509_error(e) == SIGNET_E_REVOKED ||
			 map_x509_error(e) == SIGNET_E_REVUNKNOWN;
	if (ok)
		return ok;
	if (e == X509_V_ERR_CA_CERT_MISSING_KEY_USAGE ||
	    (revocation && X509_STORE_CTX_get0_parent_ctx(ctx) == NULL &&
	     X509_STORE_CTX_get_error_depth(ctx) ==
		     sk_X509_num(X509_STORE_CTX_get0_chain(ctx)) - 1)) {
		X509_STORE_CTX_set_error(ctx, X509_V_OK);
		return 1;
	}
	return ok;
}

/* Signatures of the path were checked by the search (sig_ok). */
static int sigs_already_checked(X509_STORE_CTX *ctx)
{
	(void)ctx;
	return 1;
}

static int path_has_nc(struct vctx *v, int n)
{
	for (int i = 1; i < n; i++)
		if (X509_get_ext_by_NID(v->path[i], NID_name_constraints, -1) >= 0)
			return 1;
	return 0;
}

/* The error of X509_verify_cert (or of fast_check, which mirrors it) at
 * depth, as one sentence naming the certificate. */
static void x509_fail(struct vctx *v, int n, int e, X509 *x, int depth, json_t *checks,
		      struct signet_err *err)
{
	char label[256];
	char label0[256];
	if (x == NULL && depth >= 0 && depth < n)
		x = v->path[depth];
	vfy_cert_label(v->path[0], label0, sizeof(label0));
	if (x != NULL)
		vfy_cert_label(x, label, sizeof(label));
	else
		snprintf(label, sizeof(label), "certificate %d of the chain", depth);
	if (e == X509_V_ERR_CERT_REVOKED && x != NULL)
		revoked_msg(v, x, label, err);
	else if (e == X509_V_ERR_UNSPECIFIED && path_has_nc(v, n))
		/* OpenSSL's bound on names x constraints (a DoS guard). */
		signet_err_set(err, SIGNET_E_CONSTRAINT,
			       "%s: too many names and name constraints to check; "
			       "refused rather than trusted", label);
	else if (e == X509_V_ERR_NO_EXPLICIT_POLICY)
		signet_err_set(err, SIGNET_E_CONSTRAINT,
			       "no acceptable certificate policy: the path from %s "
			       "asserts none of the %s policies, and an explicit policy "
			       "is required (RFC 5280 6.1.5)", label0,
			       v->o->n_policies ? "requested" : "initial");
	else if (map_x509_error(e) == SIGNET_E_REVUNKNOWN)
		signet_err_set(err, SIGNET_E_REVUNKNOWN,
			       "%s: revocation status unknown (%s)", label,
			       X509_verify_cert_error_string(e));
	else
		signet_err_set(err, map_x509_error(e), "%s: %s", label,
			       X509_verify_cert_error_string(e));
	vfy_note(checks, "openssl", x, 0, X509_verify_cert_error_string(e));
}

static int openssl_check(struct vctx *v, int n, json_t *checks, struct signet_err *err)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *unt = sk_X509_new_null(), *anc = sk_X509_new_null();
	STACK_OF(ASN1_OBJECT) *pols = NULL;
	X509_VERIFY_PARAM *p;
	unsigned long flags = X509_V_FLAG_X509_STRICT | X509_V_FLAG_PARTIAL_CHAIN |
			      X509_V_FLAG_POLICY_CHECK;
	int rc = -1, ok;

	ENSURE(ctx != NULL && unt != NULL && anc != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	for (int i = 1; i < n - 1; i++)
		ENSURE(sk_X509_push(unt, v->path[i]) > 0, err, SIGNET_E_INTERNAL, "out of memory");
	ENSURE(sk_X509_push(anc, v->path[n - 1]) > 0, err, SIGNET_E_INTERNAL, "out of memory");
	ENSURE_OSSL(X509_STORE_CTX_init(ctx, v->t->store, v->path[0], unt) == 1, err,
		    SIGNET_E_INTERNAL, "cannot set up verification");
	X509_STORE_CTX_set0_trusted_stack(ctx, anc);
	X509_STORE_CTX_set_verify(ctx, sigs_already_checked);
	X509_STORE_CTX_set_verify_cb(ctx, relax_cb);
	p = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_time(p, v->at);
	X509_VERIFY_PARAM_set_depth(p, SIGNET_MAX_INTERMEDIATES + 2);
	/* Name constraints apply to names of their own type (RFC 5280
	 * 4.2.1.10): a dNSName subtree constrains dNSName SANs, not the
	 * subject CN.  Without this flag OpenSSL 3.0 also checks a CN that
	 * looks like a host name against DNS subtrees when the leaf has no
	 * dNSName SAN, and so refuses a leaf whose only SAN is an IP address
	 * in its permitted range because its CN "127.0.0.1" is not "within"
	 * a DNS subtree.  signet never uses the CN as a name (verify_name.c),
	 * so it does not constrain it either. */
	X509_VERIFY_PARAM_set_hostflags(p, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
	/* No OpenSSL purpose: its SSL purposes also demand leaf keyUsage bits
	 * RFC 5280 does not; EKUs are checked in verify_profile.c. */
	if (sk_X509_CRL_num(v->o->crls) > 0) {
		flags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL |
			 X509_V_FLAG_EXTENDED_CRL_SUPPORT | X509_V_FLAG_USE_DELTAS;
		X509_STORE_CTX_set0_crls(ctx, v->o->crls);
	}
	if (v->o->require_explicit_policy)
		flags |= X509_V_FLAG_EXPLICIT_POLICY;
	if (v->o->inhibit_policy_mapping)
		flags |= X509_V_FLAG_INHIBIT_MAP;
	if (v->o->inhibit_any_policy)
		flags |= X509_V_FLAG_INHIBIT_ANY;
	if (v->o->n_policies > 0) {
		pols = sk_ASN1_OBJECT_new_null();
		ENSURE(pols != NULL, err, SIGNET_E_INTERNAL, "out of memory");
		for (size_t i = 0; i < v->o->n_policies; i++) {
			ASN1_OBJECT *obj = OBJ_txt2obj(v->o->policies[i], 1);
			ENSURE(obj != NULL, err, SIGNET_E_USAGE,
			       "policy '%s' is not a dotted OID", v->o->policies[i]);
			if (sk_ASN1_OBJECT_push(pols, obj) <= 0) {
				ASN1_OBJECT_free(obj);
				signet_err_set(err, SIGNET_E_INTERNAL, "out of memory");
				goto out;
			}
		}
		X509_VERIFY_PARAM_set1_policies(p, pols);
	}
	X509_VERIFY_PARAM_set_flags(p, flags);

	ok = X509_verify_cert(ctx);
	if (ok != 1) {
		int depth = X509_STORE_CTX_get_error_depth(ctx);
		x509_fail(v, n, X509_STORE_CTX_get_error(ctx), X509_STORE_CTX_get_current_cert(ctx),
			  depth, checks, err);
		goto out;
	}
	{
		STACK_OF(X509) *built = X509_STORE_CTX_get0_chain(ctx);
		int same = sk_X509_num(built) == n;
		for (int i = 0; same && i < n; i++)
			same = X509_cmp(sk_X509_value(built, i), v->path[i]) == 0;
		ENSURE(same, err, SIGNET_E_UNTRUSTED,
		       "OpenSSL built a different chain than the path being checked");
	}
	vfy_note(checks, "constraints", NULL, 1,
		 sk_X509_CRL_num(v->o->crls) > 0 ?
			 "basic, name and policy constraints, CRLs (X509_verify_cert)" :
			 "basic, name and policy constraints (X509_verify_cert)");
	rc = 0;
out:
	X509_STORE_CTX_free(ctx);
	sk_X509_free(unt);
	sk_X509_free(anc);
	sk_ASN1_OBJECT_pop_free(pols, ASN1_OBJECT_free);
	ERR_clear_error();
	return rc;
}

/*
 * The fast path.  For the common path (no CRLs or policy options, and no
 * certificate with name constraints, policy, RFC 3779 or proxy
 * extensions, all subject names distinct), every step of X509_verify_cert
 * as openssl_check sets it up reduces to per-certificate tests: the chain
 * OpenSSL would build is the path (each issuer name names exactly one
 * certificate of it), signatures were checked by the search, name
 * constraints, RFC 3779 and policy processing have nothing to evaluate
 * (with no policy extension and no explicit policy the tree is empty and
 * valid), and auth_level is unset.  What is left is the trust of the
 * anchor and check_extensions() of OpenSSL 3.0's x509_vfy.c under
 * X509_V_FLAG_X509_STRICT, which fast_check() repeats test for test, in
 * its order, returning the same X509_V_ERR code at the same depth.  It
 * saves X509_STORE_CTX set-up, chain building and the policy tree: about
 * 40,000 instructions per verification.
 *
 * SIGNET_VERIFY_CROSSCHECK=1 in the environment runs X509_verify_cert as
 * well and aborts on any difference; the unit tests, the x509-limbo run
 * and the fuzzers set it.
 */
#define FAST_MEMO_OK 30  /* profile-memo bits: CA certificate eligible */
#define FAST_MEMO_NO 31  /* ... or not */


static int cert_fast_eligible(X509 *x)
{
	uint32_t f = X509_get_extension_flags(x);
	EVP_PKEY *pk = X509_get0_pubkey(x);
	int id = pk ? EVP_PKEY_get_base_id(pk) : NID_undef;

	if ((f & (EXFLAG_INVALID | EXFLAG_PROXY | EXFLAG_INVALID_POLICY)) != 0)
		return 0;
	if (id != EVP_PKEY_RSA && id != EVP_PKEY_RSA_PSS && id != EVP_PKEY_EC &&
	    id != EVP_PKEY_ED25519 && id != EVP_PKEY_ED448)
		return 0;
	for (int i = 0; i < X509_get_ext_count(x); i++) {
		switch (OBJ_obj2nid(X509_EXTENSION_get_object(X509_get_ext(x, i)))) {
		case NID_name_constraints:
		case NID_certificate_policies:
		case NID_policy_mappings:
		case NID_policy_constraints:
		case NID_inhibit_any_policy:
		case NID_sbgp_ipAddrBlock:
		case NID_sbgp_autonomousSysNum:
		case NID_proxyCertInfo:
			return 0;
		default:
			break;
		}
	}
	return 1;
}

static int fast_eligible(struct vctx *v, int n)
{
	const struct signet_verify_opts *o = v->o;

	if (n < 2 || sk_X509_CRL_num(o->crls) > 0 || o->n_policies > 0 ||
	    o->require_explicit_policy || o->inhibit_policy_mapping || o->inhibit_any_policy)
		return 0;
	if (!cert_fast_eligible(v->path[0]))
		return 0;
	for (int i = 1; i < n; i++) {
		X509 *x = v->path[i];
		uintptr_t bits = profile_memo_bits(v->t, x);
		if (bits & ((uintptr_t)1 << FAST_MEMO_NO))
			return 0;
		if (!(bits & ((uintptr_t)1 << FAST_MEMO_OK))) {
			int ok = cert_fast_eligible(x);
			profile_memo_set(v->t, x, ok ? FAST_MEMO_OK : FAST_MEMO_NO);
			if (!ok)
				return 0;
		}
	}
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (X509_NAME_cmp(X509_get_subject_name(v->path[i]),
					  X509_get_subject_name(v->path[j])) == 0)
				return 0;
	return 1;
}

/* Named curve, as OpenSSL's check_curve(): 1 named, 0 explicit
 * parameters, -1 unreadable. */
static int curve_ok(X509 *x)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	int curve;

	if (pk == NULL)
		return -1;
	return EVP_PKEY_get_id(pk) != EVP_PKEY_EC ? 1 : vfy_ec_params(x, &curve);
}

/* Is the subjectAltName extension present but empty?  Only a short
 * extension value can hold an empty SEQUENCE. */
static int san_present(X509 *x, int *empty)
{
	int idx = X509_get_ext_by_NID(x, NID_subject_alt_name, -1);
	ASN1_OCTET_STRING *val;

	*empty = 0;
	if (idx < 0)
		return 0;
	val = X509_EXTENSION_get_data(X509_get_ext(x, idx));
	if (ASN1_STRING_length(val) < 16) {
		const unsigned char *p = ASN1_STRING_get0_data(val);
		GENERAL_NAMES *g = d2i_GENERAL_NAMES(NULL, &p, ASN1_STRING_length(val));
		*empty = g != NULL && sk_GENERAL_NAME_num(g) <= 0;
		GENERAL_NAMES_free(g);
	}
	return 1;
}

/* check_extensions() of x509_vfy.c for a path with no proxy certificate,
 * under X509_V_FLAG_X509_STRICT and relax_cb; X509_V_OK or the first
 * error, with its depth. */
static int fast_check(struct vctx *v, int n, int *depth)
{
	int plen = 0;

	*depth = n - 1;
	if (X509_check_trust(v->path[n - 1], 0, 0) == X509_TRUST_REJECTED)
		return X509_V_ERR_CERT_REJECTED;
	for (int i = 0; i < n; i++) {
		X509 *x = v->path[i];
		uint32_t f = X509_get_extension_flags(x);
		uint32_t ku = (f & EXFLAG_KUSAGE) ? X509_get_key_usage(x) : 0;
		long pathlen = X509_get_pathlen(x);
		int ca = X509_check_ca(x), c, san, san_empty;
		int subj_empty = X509_NAME_entry_count(X509_get_subject_name(x)) == 0;
		const X509_ALGOR *outer;

		*depth = i;
		if (f & EXFLAG_CRITICAL)
			return X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION;
		if (i == 0 ? ca != 1 && ca != 0 : ca != 1)
			return X509_V_ERR_INVALID_CA;
		c = curve_ok(x);
		if (c < 0)
			return X509_V_ERR_UNSPECIFIED;
		if (c == 0)
			return X509_V_ERR_EC_KEY_EXPLICIT_PARAMS;
		if (pathlen != -1) {
			if ((f & EXFLAG_CA) == 0)
				return X509_V_ERR_PATHLEN_INVALID_FOR_NON_CA;
			if ((ku & KU_KEY_CERT_SIGN) == 0)
				return X509_V_ERR_PATHLEN_WITHOUT_KU_KEY_CERT_SIGN;
		}
		if ((f & EXFLAG_CA) && (f & EXFLAG_BCONS) && !(f & EXFLAG_BCONS_CRITICAL))
			return X509_V_ERR_CA_BCONS_NOT_CRITICAL;
		/* A CA without keyUsage (X509_V_ERR_CA_CERT_MISSING_KEY_USAGE)
		 * is waived by relax_cb. */
		if (!(f & EXFLAG_CA) && (ku & KU_KEY_CERT_SIGN))
			return X509_V_ERR_KU_KEY_CERT_SIGN_INVALID_FOR_NON_CA;
		if (X509_NAME_entry_count(X509_get_issuer_name(x)) == 0)
			return X509_V_ERR_ISSUER_NAME_EMPTY;
		san = san_present(x, &san_empty);
		if (((f & EXFLAG_CA) || (ku & KU_CRL_SIGN) || !san) && subj_empty)
			return X509_V_ERR_SUBJECT_NAME_EMPTY;
		if (subj_empty && san && !(f & EXFLAG_SAN_CRITICAL))
			return X509_V_ERR_EMPTY_SUBJECT_SAN_NOT_CRITICAL;
		if (san && san_empty)
			return X509_V_ERR_EMPTY_SUBJECT_ALT_NAME;
		X509_get0_signature(NULL, &outer, x);
		if (X509_ALGOR_cmp(outer, X509_get0_tbs_sigalg(x)) != 0)
			return X509_V_ERR_SIGNATURE_ALGORITHM_INCONSISTENCY;
		if (f & EXFLAG_AKID_CRITICAL)
			return X509_V_ERR_AUTHORITY_KEY_IDENTIFIER_CRITICAL;
		if (f & EXFLAG_SKID_CRITICAL)
			return X509_V_ERR_SUBJECT_KEY_IDENTIFIER_CRITICAL;
		if (X509_get_version(x) >= X509_VERSION_3) {
			if (i + 1 < n && X509_get0_authority_key_id(x) == NULL)
				return X509_V_ERR_MISSING_AUTHORITY_KEY_IDENTIFIER;
			if ((f & EXFLAG_CA) && X509_get0_subject_key_id(x) == NULL)
				return X509_V_ERR_MISSING_SUBJECT_KEY_IDENTIFIER;
		} else if (X509_get_ext_count(x) > 0) {
			return X509_V_ERR_EXTENSIONS_REQUIRE_VERSION_3;
		}
		if (i > 1 && pathlen != -1 && plen > pathlen)
			return X509_V_ERR_PATH_LENGTH_EXCEEDED;
		if (i > 0 && (f & EXFLAG_SI) == 0)
			plen++;
	}
	return X509_V_OK;
}


/* openssl_check, or its fast path when the path allows it. */
static int constraints_check(struct vctx *v, int n, json_t *checks, struct signet_err *err)
{
	int e, depth;

	if (!fast_eligible(v, n))
		return openssl_check(v, n, checks, err);
	e = fast_check(v, n, &depth);
	ERR_clear_error();
	pthread_mutex_lock(&v->t->lock);
	v->t->fast++;
	pthread_mutex_unlock(&v->t->lock);
	if (crosscheck()) {
		struct signet_err slow;
		int rc = openssl_check(v, n, NULL, &slow);
		char msg[sizeof(slow.msg)] = "";
		if (e != X509_V_OK) {
			struct signet_err fast;
			x509_fail(v, n, e, v->path[depth], depth, NULL, &fast);
			snprintf(msg, sizeof(msg), "%s", fast.msg);
		}
		if ((rc == 0) != (e == X509_V_OK) || (rc != 0 && strcmp(msg, slow.msg) != 0)) {
			fprintf(stderr, "signet: verify fast path disagrees with "
					"X509_verify_cert: fast '%s', OpenSSL '%s'\n",
				e == X509_V_OK ? "ok" : msg, rc == 0 ? "ok" : slow.msg);
			abort();
		}
	}
	if (e != X509_V_OK) {
		x509_fail(v, n, e, v->path[depth], depth, checks, err);
		return -1;
	}
	vfy_note(checks, "constraints", NULL, 1,
		 "basic, name and policy constraints (OpenSSL's rules, no policy or "
		 "name constraint extension in the path)");
	return 0;
}

static int check_extra_usage(struct vctx *v, json_t *checks, struct signet_err *err)
{
	X509 *leaf = v->path[0];
	EXTENDED_KEY_USAGE *eku = NULL;
	char label[256];
	int rc = -1;

	if (v->o->key_usage == 0 && v->o->n_ekus == 0) {
		vfy_note(checks, "usage", leaf, 1, "no keyUsage or extendedKeyUsage asked for");
		return 0;
	}
	vfy_cert_label(leaf, label, sizeof(label));
	if (v->o->key_usage != 0 && (X509_get_extension_flags(leaf) & EXFLAG_KUSAGE))
		ENSURE((X509_get_key_usage(leaf) & v->o->key_usage) == v->o->key_usage, err,
		       SIGNET_E_PURPOSE, "%s: keyUsage does not allow the required usages", label);
	if (v->o->n_ekus > 0) {
		eku = X509_get_ext_d2i(leaf, NID_ext_key_usage, NULL, NULL);
		for (size_t i = 0; i < v->o->n_ekus; i++) {
			ASN1_OBJECT *want = OBJ_txt2obj(v->o->ekus[i], 0);
			int found = eku == NULL; /* no EKU extension: any use */
			ENSURE(want != NULL, err, SIGNET_E_USAGE,
			       "'%s' is not a known extended key usage or OID", v->o->ekus[i]);
			for (int j = 0; !found && j < sk_ASN1_OBJECT_num(eku); j++)
				found = OBJ_cmp(sk_ASN1_OBJECT_value(eku, j), want) == 0;
			ASN1_OBJECT_free(want);
			ENSURE(found, err, SIGNET_E_PURPOSE,
			       "%s: extendedKeyUsage does not include %s", label, v->o->ekus[i]);
		}
	}
	vfy_note(checks, "usage", leaf, 1, "keyUsage and extendedKeyUsage allow the request");
	rc = 0;
out:
	EXTENDED_KEY_USAGE_free(eku);
	ERR_clear_error();
	return rc;
}

static int serial_cmp(const void *a, const void *b)
{
	return ASN1_INTEGER_cmp(*(const ASN1_INTEGER *const *)a, *(const ASN1_INTEGER *const *)b);
}

/* Does any fullName of these distribution points hold a non-URI name? */
static int dp_names_non_uri(const DIST_POINT_NAME *dpn)
{
	if (dpn == NULL)
		return 0;
	if (dpn->type != 0) /* nameRelativeToCRLIssuer */
		return 1;
	for (int k = 0; k < sk_GENERAL_NAME_num(dpn->name.fullname); k++)
		if (sk_GENERAL_NAME_value(dpn->name.fullname, k)->type != GEN_URI)
			return 1;
	return 0;
}

/*
 * Does the CRL list a serial number twice?  Its entries are sorted by
 * serial by OpenSSL on the first lookup (done here), so duplicates are
 * neighbours; the verdict is remembered per CRL (by its signature) in the
 * trust store, since a CRL is checked on every verification.
 */
static int crl_has_duplicates(struct signet_trust *t, X509_CRL *crl, X509 *any)
{
	const ASN1_BIT_STRING *sig = NULL;
	const X509_ALGOR *alg = NULL;
	unsigned char key[32];
	unsigned int kl = 0;
	STACK_OF(X509_REVOKED) *rev;
	X509_REVOKED *r = NULL;
	int dup = 0, sorted = 1, n;

	X509_CRL_get0_signature(crl, &sig, &alg);
	if (sig == NULL || !EVP_Digest(ASN1_STRING_get0_data(sig), (size_t)ASN1_STRING_length(sig),
				       key, &kl, EVP_sha256(), NULL))
		return 0;
	pthread_mutex_lock(&t->lock);
	for (int k = 0; k < CRLMEMO_SLOTS; k++)
		if (t->crlmemo[k].used && memcmp(t->crlmemo[k].key, key, 32) == 0) {
			dup = t->crlmemo[k].dup;
			pthread_mutex_unlock(&t->lock);
			return dup;
		}
	pthread_mutex_unlock(&t->lock);

	(void)X509_CRL_get0_by_serial(crl, &r, (ASN1_INTEGER *)X509_get0_serialNumber(any));
	rev = X509_CRL_get_REVOKED(crl);
	n = sk_X509_REVOKED_num(rev);
	for (int k = 1; k < n && !dup && sorted; k++) {
		int c = ASN1_INTEGER_cmp(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(rev, k - 1)),
					 X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(rev, k)));
		dup = c == 0;
		sorted = c <= 0;
	}
	if (!sorted) { /* not sorted after all: compare on a sorted copy */
		const ASN1_INTEGER **s = malloc(sizeof(*s) * (size_t)n);
		dup = 0;
		if (s != NULL) {
			for (int k = 0; k < n; k++)
				s[k] = X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(rev, k));
			qsort(s, (size_t)n, sizeof(*s), serial_cmp);
			for (int k = 1; k < n && !dup; k++)
				dup = ASN1_INTEGER_cmp(s[k - 1], s[k]) == 0;
			free(s);
		}
	}
	ERR_clear_error();
	pthread_mutex_lock(&t->lock);
	memcpy(t->crlmemo[t->crlmemo_next].key, key, 32);
	t->crlmemo[t->crlmemo_next].dup = dup;
	t->crlmemo[t->crlmemo_next].used = 1;
	t->crlmemo_next = (t->crlmemo_next + 1) % CRLMEMO_SLOTS;
	pthread_mutex_unlock(&t->lock);
	return dup;
}

/*
 * The CRLs that could speak for a certificate of the path (same issuer
 * name), beyond what OpenSSL checks:
 * - a CRL number (RFC 5280 5.2.3: conforming CRL issuers MUST include it);
 * - no serial number listed twice (an entry must be unambiguous);
 * - a partitioned CRL (issuingDistributionPoint with a distribution point)
 *   names its partition by URIs only and is not indirect, and the
 *   certificates it covers name their CRL distribution points by URIs
 *   only (CA/B BR 7.1.2.11.2, 7.2.2.1), so that the two can be compared.
 * A CRL that fails one is not a CRL signet relies on, and since every
 * certificate must be covered, the path's status is unknown.
 */
static int check_crls(struct vctx *v, int n, struct signet_err *err)
{
	for (int c = 0; c < sk_X509_CRL_num(v->o->crls); c++) {
		X509_CRL *crl = sk_X509_CRL_value(v->o->crls, c);
		for (int i = 0; i + 1 < n; i++) {
			char dn[512];
			ASN1_INTEGER *num;
			ISSUING_DIST_POINT *idp;
			const char *why = NULL;
			if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(v->path[i])) != 0)
				continue;
			num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
			ERR_clear_error();
			if (num == NULL)
				why = "has no CRL number (RFC 5280 5.2.3)";
			ASN1_INTEGER_free(num);
			if (why == NULL && crl_has_duplicates(v->t, crl, v->path[i]))
				why = "lists a serial number more than once";
			idp = X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, NULL, NULL);
			ERR_clear_error();
			if (why == NULL && idp != NULL && idp->distpoint != NULL) {
				if (dp_names_non_uri(idp->distpoint))
					why = "names its partition (issuingDistributionPoint) by "
					      "something other than URIs (CA/B BR 7.2.2.1)";
				else if (idp->indirectCRL)
					why = "is a partitioned CRL that claims to be indirect "
					      "(CA/B BR 7.2.2.1)";
				for (int j = 0; why == NULL && j + 1 < n; j++) {
					CRL_DIST_POINTS *cdp;
					if (X509_NAME_cmp(X509_CRL_get_issuer(crl),
							  X509_get_issuer_name(v->path[j])) != 0)
						continue;
					cdp = X509_get_ext_d2i(v->path[j], NID_crl_distribution_points,
							       NULL, NULL);
					ERR_clear_error();
					for (int k = 0; k < sk_DIST_POINT_num(cdp) && why == NULL; k++)
						if (dp_names_non_uri(sk_DIST_POINT_value(cdp, k)->distpoint))
							why = "is partitioned, and a certificate it "
							      "covers names its CRL distribution point by "
							      "something other than URIs (CA/B BR "
							      "7.1.2.11.2), so they cannot be matched";
					CRL_DIST_POINTS_free(cdp);
				}
			}
			ISSUING_DIST_POINT_free(idp);
			if (why != NULL) {
				vfy_dn(X509_CRL_get_issuer(crl), dn, sizeof(dn));
				return signet_err_set(err, SIGNET_E_REVUNKNOWN,
						      "revocation status unknown: the CRL of '%s' %s",
						      dn, why);
			}
			break;
		}
	}
	return 0;
}

/* Judges path[0..n-1] completely; 0 when trusted. */
static int judge(struct vctx *v, int n, json_t *checks, struct signet_err *err)
{
	for (int i = 0; i < n; i++)
		if ((i == 0 || checks != NULL || !memo_time_ok(v->t, v->path[i], v->at)) &&
		    check_time(v, v->path[i], checks, err) < 0)
			return -1;
	for (int i = 0; i < n; i++) {
		/* CA certificates repeat across calls; a pass is memoised per
		 * role and purpose on the X509 object (ex_data). */
		int role = (i == n - 1 ? 2 : i > 0 ? 1 : 0) * 4 + (int)v->o->purpose;
		if (i > 0 && profile_memo_has(v->t, v->path[i], role))
			continue;
		if (vfy_profile_cert(v->path[i], i, n, v->o, err) < 0)
			return -1;
		if (i > 0)
			profile_memo_set(v->t, v->path[i], role);
		vfy_note(checks, "profile", v->path[i], 1, "algorithms, keys and extensions");
	}
	if (check_crls(v, n, err) < 0 || constraints_check(v, n, checks, err) < 0 ||
	    vfy_wildcard_vs_excluded(v->path, n, err) < 0)
		return -1;
	if (check_extra_usage(v, checks, err) < 0)
		return -1;
	if (vfy_leaf_names(v->t, v->path[0], v->o, checks, err) < 0)
		return -1;
	/* Last: the network, only for a path that passed everything else. */
	return v->o->ocsp ? vfy_ocsp_path(v->path, n, v->o->ocsp_ca, checks, err) : 0;
}

static json_t *path_json(struct vctx *v, int n)
{
	json_t *a = json_array();
	for (int i = 0; i < n && a != NULL; i++) {
		X509 *x = v->path[i];
		char subj[512], iss[512], fp[65], serial[80], nb[64] = "", na[64] = "";
		time_t t;
		vfy_dn(X509_get_subject_name(x), subj, sizeof(subj));
		vfy_dn(X509_get_issuer_name(x), iss, sizeof(iss));
		signet_cert_fingerprint(x, fp);
		signet_serial_hex(X509_get0_serialNumber(x), serial, sizeof(serial));
		if (signet_asn1_time_to_time(X509_get0_notBefore(x), &t) == 0)
			fmt_time(t, nb, sizeof(nb));
		if (signet_asn1_time_to_time(X509_get0_notAfter(x), &t) == 0)
			fmt_time(t, na, sizeof(na));
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
						   "role", i == 0 ? "leaf" : i == n - 1 ? "anchor" :
										 "intermediate",
						   "subject", subj, "issuer", iss, "serial", serial,
						   "not_before", nb, "not_after", na, "sha256", fp));
	}
	return a;
}

static void try_path(struct vctx *v, int n)
{
	struct signet_err e;
	json_t *checks = v->want_report ? json_array() : NULL;

	if (v->paths_left <= 0) {
		v->budget_hit = 1;
		json_decref(checks);
		return;
	}
	v->paths_left--;
	v->n_paths++;
	signet_err_clear(&e);
	if (judge(v, n, checks, &e) == 0) {
		v->done = 1;
		if (v->want_report)
			v->ok_report = json_pack("{s:o, s:o}", "chain", path_json(v, n),
						 "checks", checks);
		if (v->chain == NULL) {
			v->chain = sk_X509_new_null();
			for (int i = 0; v->chain != NULL && i < n; i++)
				if (X509_up_ref(v->path[i]) && sk_X509_push(v->chain, v->path[i]) <= 0)
					X509_free(v->path[i]);
		}
		return;
	}
	if (!v->have_err) {
		v->have_err = 1;
		v->first_err = e;
		if (v->want_report)
			v->first_report = json_pack("{s:o, s:o}", "chain", path_json(v, n),
						    "checks", checks);
	} else {
		json_decref(checks);
	}
}

static void search(struct vctx *v)
{
	X509 *c = v->path[v->len - 1];
	int found = 0;

	if (v->done)
		return;
	if (v->nodes_left-- <= 0) {
		v->budget_hit = 1;
		return;
	}
	for (int i = 0; i < sk_X509_num(v->t->anchors) && !v->done; i++) {
		X509 *a = sk_X509_value(v->t->anchors, i);
		if (in_path(v, a) || !issued_by(v, c, a))
			continue;
		found = 1;
		v->path[v->len] = a;
		try_path(v, v->len + 1);
	}
	for (int i = 0; i < sk_X509_num(v->untrusted) && !v->done; i++) {
		X509 *u = sk_X509_value(v->untrusted, i);
		/* Self-issued intermediates (key rollover) do not count towards
		 * the depth limit (as for pathLenConstraint, RFC 5280 6.1.4). */
		int adds = !self_issued(u);
		if (v->len - 1 >= SIGNET_MAX_INTERMEDIATES ||
		    v->logical + adds > v->max_inter) {
			/* One more intermediate would exceed the depth limit. */
			if (X509_check_issued(u, c) == X509_V_OK)
				found = 1, v->budget_hit = v->budget_hit ? v->budget_hit : 2;
			ERR_clear_error();
			continue;
		}
		if (in_path(v, u) || is_anchor(v, u) || !issued_by(v, c, u))
			continue;
		found = 1;
		v->path[v->len++] = u;
		v->logical += adds;
		search(v);
		v->logical -= adds;
		v->len--;
	}
	if (!found && v->len > v->stuck_depth) {
		v->stuck = c;
		v->stuck_depth = v->len;
	}
}

static void no_path_error(struct vctx *v, struct signet_err *err)
{
	char label[256], iss[512];
	X509 *c = v->stuck != NULL ? v->stuck : v->path[0];

	vfy_cert_label(c, label, sizeof(label));
	vfy_dn(X509_get_issuer_name(c), iss, sizeof(iss));
	if (v->budget_hit == 1) {
		signet_err_set(err, SIGNET_E_UNTRUSTED,
			       "no path to a trusted root: gave up after the search limits "
			       "(%d signatures, %d candidates) among %d untrusted and %d "
			       "trusted certificates", BUDGET_SIGS, BUDGET_NODES,
			       sk_X509_num(v->untrusted), sk_X509_num(v->t->anchors));
	} else if (v->budget_hit == 2) {
		signet_err_set(err, SIGNET_E_CONSTRAINT,
			       "no path to a trusted root within %d intermediates "
			       "(the maximum chain depth)", v->max_inter);
	} else if (v->sig_failures > 0) {
		signet_err_set(err, SIGNET_E_UNTRUSTED, "no path to a trusted root: %s",
			       v->sig_fail_msg);
	} else if (X509_get_extension_flags(c) & EXFLAG_SS) {
		signet_err_set(err, SIGNET_E_UNTRUSTED,
			       "no path to a trusted root: %s is self-signed and not among "
			       "the %d trusted certificates", label, sk_X509_num(v->t->anchors));
	} else {
		signet_err_set(err, SIGNET_E_UNTRUSTED,
			       "no path to a trusted root: issuer '%s' of %s not found among "
			       "%d untrusted and %d trusted certificates",
			       iss, label, sk_X509_num(v->untrusted), sk_X509_num(v->t->anchors));
	}
}

int signet_verify_report(struct signet_trust *trust, X509 *leaf,
			 STACK_OF(X509) *untrusted, const struct signet_verify_opts *opts,
			 STACK_OF(X509) **chain, void **report, struct signet_err *err)
{
	static const struct signet_verify_opts defaults = { .max_depth = -1 };
	struct vctx v;
	STACK_OF(X509) *pool = NULL;
	int rc = -1;

	memset(&v, 0, sizeof(v));
	signet_err_clear(err);
	if (report != NULL)
		*report = NULL;
	if (chain != NULL)
		*chain = NULL;
	v.t = trust;
	v.want_report = report != NULL;
	v.o = opts != NULL ? opts : &defaults;
	v.at = v.o->at != 0 ? v.o->at : time(NULL);
	v.max_inter = SIGNET_MAX_INTERMEDIATES;
	if (v.o->max_depth >= 0 && v.o->max_depth < v.max_inter)
		v.max_inter = v.o->max_depth;
	v.nodes_left = BUDGET_NODES;
	v.sigs_left = BUDGET_SIGS;
	v.paths_left = BUDGET_PATHS;
	/* The candidate pool: duplicates dropped, at most BUDGET_POOL certs, so
	 * that a flood of intermediates cannot multiply the search. */
	pool = sk_X509_new_null();
	for (int i = 0; pool != NULL && leaf != NULL && i < sk_X509_num(untrusted) &&
			    sk_X509_num(pool) < BUDGET_POOL; i++) {
		X509 *u = sk_X509_value(untrusted, i);
		int dup = X509_cmp(u, leaf) == 0;
		for (int j = 0; !dup && j < sk_X509_num(pool); j++)
			dup = X509_cmp(sk_X509_value(pool, j), u) == 0;
		if (!dup && sk_X509_push(pool, u) <= 0) {
			sk_X509_free(pool);
			pool = NULL;
		}
	}
	v.untrusted = pool;
	ENSURE(leaf != NULL && pool != NULL, err, SIGNET_E_INTERNAL,
	       "no certificate to verify, or out of memory");
	ENSURE(sk_X509_num(trust->anchors) > 0, err, SIGNET_E_UNTRUSTED,
	       "no path to a trusted root: the trust store is empty");
	/* Caches OpenSSL's view of the leaf's extensions; rejects the unparsable. */
	if (X509_check_purpose(leaf, -1, 0) != 1 ||
	    (X509_get_extension_flags(leaf) & EXFLAG_INVALID)) {
		char label[256];
		vfy_cert_label(leaf, label, sizeof(label));
		signet_err_set(err, SIGNET_E_INVALID, "%s: malformed or duplicate extensions",
			       label);
		goto out;
	}
	v.path[0] = leaf;
	v.len = 1;
	search(&v);
	if (v.done) {
		rc = 0;
		if (chain != NULL) {
			*chain = v.chain;
			v.chain = NULL;
		}
	} else if (v.have_err) {
		*err = v.first_err;
	} else {
		no_path_error(&v, err);
	}
out:
	if (report != NULL) {
		json_t *r = rc == 0 ? v.ok_report : v.first_report;
		json_t *o = json_pack("{s:b}", "trusted", rc == 0);
		if (r != NULL)
			json_object_update(o, r);
		else
			json_object_set_new(o, "chain", json_array());
		if (rc != 0)
			json_object_set_new(o, "error",
					    json_pack("{s:i, s:s, s:s}", "code", err->code,
						      "class", signet_code_name(err->code),
						      "message", err->msg));
		json_object_set_new(o, "paths_tried", json_integer(v.n_paths));
		*report = o;
	}
	json_decref(v.ok_report);
	json_decref(v.first_report);
	sk_X509_pop_free(v.chain, X509_free);
	sk_X509_free(pool);
	ERR_clear_error();
	return rc;
}

int signet_verify(struct signet_trust *trust, X509 *leaf, STACK_OF(X509) *untrusted,
		  const struct signet_verify_opts *opts, STACK_OF(X509) **chain,
		  struct signet_err *err)
{
	return signet_verify_report(trust, leaf, untrusted, opts, chain, NULL, err);
}
