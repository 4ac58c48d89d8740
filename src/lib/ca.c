/*
 * ca.c - the CA directory: init, open, unlock, and issuance.
 *
 * Issuance order is the invariant that keeps the database honest:
 *   verify CSR (proof of possession) -> policy (key strength, profile,
 *   name constraints, validity inside the issuer's) -> build + sign ->
 *   record in the database -> return.  Nothing is handed out that is not
 *   recorded; a serial collision (the database refuses it) re-signs with a
 *   fresh serial.  Serials are 18 octets, positive: the issuance time in
 *   units of 4 s, then 112 random bits from the CSPRNG (random_serial).
 *
 * Constant extensions (AKI, CRL DP, AIA) are encoded once at open time and
 * copied into each certificate, keeping the hot path to one signature.
 *
 * The CA certificates are read without decoding their public keys
 * (cert_fast.c, when they can be): issuing needs only their names, validity
 * and extensions, and the signing key is matched to the signer's
 * certificate by its encoding (key_fast.c).  Such a certificate answers
 * X509_get0_pubkey with NULL, so it never leaves this file: the accessors
 * hand out its fully decoded twin, read from the same bytes on first
 * request (full_cert), and a key that cannot be matched by encoding is
 * compared with the twin's key as before.
 */
#include "cert_int.h"
#include "ext.h"
#include "key_int.h"

#include <signet/ca.h>
#include <signet/cert.h>
#include <signet/csr.h>
#include <signet/file.h>
#include <signet/name.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_FILE "signet.json"
#define BACKDATE_SECONDS 60 /* tolerate small clock skew between hosts */

struct signet_ca {
	char dir[4096];
	json_t *config;
	X509 *root, *inter;    /* possibly without decoded keys: never handed out */
	int root_light, inter_light; /* were they read so? */
	X509 *root_full, *inter_full; /* their decoded twins, made on demand */
	pthread_mutex_t lock;  /* guards the twins and chain */
	X509 *signer;          /* borrowed: root or inter */
	EVP_PKEY *signer_key;
	STACK_OF(X509) *chain; /* what follows a leaf: inter's twin, on demand */
	STACK_OF(X509) *empty; /* the chain when the root signs */
	struct signet_db *db;
	char signer_id[65];
	char *crl_url, *ocsp_url;
	X509_EXTENSION *aki, *crldp, *aia;
	EVP_MD *md;            /* pre-fetched signing digest (NULL: none, Ed25519) */
	int encrypted;
	int default_days;
	/* nameConstraints of the signer and the CAs above it, as decoded from
	 * their certificates: what verifiers will apply to what we issue. */
	NAME_CONSTRAINTS *nc[2];
	int n_nc;
};

/* ---- helpers ---------------------------------------------------------- */

/* Random octets of a serial after its four time octets: 112 bits. */
#define SERIAL_RANDOM 14

/* Serial randomness drawn for several certificates at once (one
 * RAND_bytes call per SERIAL_POOL), for a thread that issues many: part
 * of a signet_issuer, which is not to be carried across fork(). */
#define SERIAL_POOL 64
struct serial_pool {
	unsigned char bytes[SERIAL_POOL * SERIAL_RANDOM];
	int left; /* serials' worth not yet used, at the end of bytes */
};

/* 18 octets: the issuance time in units of 4 s (32 bits: positive, never
 * a leading zero octet, until the year 2242) followed by 112 bits from the
 * CSPRNG.  The random part makes serials unpredictable, as RFC 5280 and the
 * CA/Browser Forum ask (at least 64 bits); the time part makes them grow,
 * so the database's unique serial index takes each new serial at its end
 * instead of on a random page: a batch of 5000 into a CA of 200k records
 * dirtied ~2400 index pages with fully random serials.  With a pool, the
 * randomness comes from it (each draw used once and wiped). */
static int random_serial(X509 *x, time_t now, struct serial_pool *pool, struct signet_err *err)
{
	unsigned char buf[4 + SERIAL_RANDOM];
	uint32_t t = (uint32_t)((uint64_t)(now > 0 ? now : 0) / 4);
	int rc = -1;

	buf[0] = (unsigned char)(t >> 24);
	buf[1] = (unsigned char)(t >> 16);
	buf[2] = (unsigned char)(t >> 8);
	buf[3] = (unsigned char)t;
	ENSURE(buf[0] != 0 && buf[0] < 0x80, err, SIGNET_E_INTERNAL,
	       "the clock is not set (serial numbers carry the time)");
	if (pool == NULL) {
		ENSURE_OSSL(RAND_bytes(buf + 4, SERIAL_RANDOM) == 1, err, SIGNET_E_INTERNAL,
			    "no randomness for the serial number");
	} else {
		unsigned char *take;

		if (pool->left == 0) {
			ENSURE_OSSL(RAND_bytes(pool->bytes, sizeof(pool->bytes)) == 1, err,
				    SIGNET_E_INTERNAL, "no randomness for the serial number");
			pool->left = SERIAL_POOL;
		}
		take = pool->bytes + (size_t)(SERIAL_POOL - pool->left) * SERIAL_RANDOM;
		memcpy(buf + 4, take, SERIAL_RANDOM);
		OPENSSL_cleanse(take, SERIAL_RANDOM); /* each draw is used once */
		pool->left--;
	}
	/* buf is a positive INTEGER's content octets as they stand (first
	 * octet 0x01-0x7f): no BIGNUM needed to convert it. */
	ENSURE_OSSL(ASN1_STRING_set(X509_get_serialNumber(x), buf, sizeof(buf)), err,
		    SIGNET_E_INTERNAL, "cannot set serial number");
	rc = 0;
out:
	return rc;
}

/* Lower-case hex of d, cut to fit size; by table, as each issuance hashes
 * its certificate into a fingerprint. */
static void hex(const unsigned char *d, size_t n, char *out, size_t size)
{
	static const char digits[] = "0123456789abcdef";
	size_t j = 0;
	for (size_t i = 0; i < n && j + 3 <= size; i++, j += 2) {
		out[j] = digits[d[i] >> 4];
		out[j + 1] = digits[d[i] & 15];
	}
	out[j] = '\0';
}

static void key_id_hex(X509 *x, char out[65])
{
	const ASN1_OCTET_STRING *id = ext_key_id(x);
	if (id == NULL) {
		out[0] = '\0';
		return;
	}
	hex(ASN1_STRING_get0_data(id), (size_t)ASN1_STRING_length(id), out, 65);
}

static int set_validity(X509 *x, time_t now, long seconds, struct signet_err *err)
{
	if (X509_time_adj_ex(X509_getm_notBefore(x), 0, -BACKDATE_SECONDS, &now) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), 0, seconds, &now) == NULL)
		return signet_err_ossl(err, SIGNET_E_INTERNAL, "cannot set validity");
	return 0;
}

static int sign_cert(X509 *x, EVP_PKEY *key, struct signet_err *err)
{
	if (X509_sign(x, key, signet_key_digest(key)) <= 0)
		return signet_err_ossl(err, SIGNET_E_INTERNAL, "signing failed");
	return 0;
}

/*
 * The record of x, computed from one encoding of it (the fingerprint is
 * the SHA-256 of that DER), with every string the record's own so that
 * signet_record_clear frees it.  signed_der (or NULL: encode x) is x's
 * encoding as it was signed; sha256 is the digest fetched once (or NULL:
 * EVP_sha256(), fetched by name on each call).
 */
static int make_record(X509 *x, const unsigned char *signed_der, int signed_len,
		       const EVP_MD *sha256, const char *issuer_id, const char *name,
		       const char *profile, time_t now, struct signet_record *r,
		       struct signet_err *err)
{
	char subject[1024], sans[2048];
	GENERAL_NAMES *gn;
	unsigned char *enc = NULL, md[32];
	const unsigned char *der = signed_der;
	unsigned int mdlen = 0;
	int len = signed_len, rc = -1;
	time_t nb = 0, na = 0;

	memset(r, 0, sizeof(*r));
	r->reason = -1;
	if (der == NULL) {
		len = i2d_X509(x, &enc);
		der = enc;
	}
	ENSURE_OSSL(len > 0 &&
			    EVP_Digest(der, (size_t)len, md, &mdlen, sha256 ? sha256 : EVP_sha256(),
				       NULL) &&
			    mdlen == 32,
		    err, SIGNET_E_INTERNAL, "cannot encode certificate");
	hex(md, mdlen, r->fingerprint, sizeof(r->fingerprint));
	signet_serial_hex(X509_get0_serialNumber(x), r->serial, sizeof(r->serial));
	snprintf(r->issuer, sizeof(r->issuer), "%s", issuer_id);
	signet_name_format(X509_get_subject_name(x), subject, sizeof(subject));
	gn = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	sans[0] = '\0';
	if (gn != NULL)
		signet_san_format(gn, sans, sizeof(sans));
	GENERAL_NAMES_free(gn);
	signet_asn1_time_to_time(X509_get0_notBefore(x), &nb);
	signet_asn1_time_to_time(X509_get0_notAfter(x), &na);
	r->name = name != NULL ? strdup(name) : NULL;
	r->subject = strdup(subject);
	r->sans = sans[0] ? strdup(sans) : NULL;
	r->profile = strdup(profile);
	ENSURE((name == NULL || r->name != NULL) && r->subject != NULL &&
		       (sans[0] == '\0' || r->sans != NULL) && r->profile != NULL,
	       err, SIGNET_E_INTERNAL, "out of memory");
	r->not_before = nb;
	r->not_after = na;
	r->issued_at = now;
	r->der = malloc((size_t)len);
	ENSURE(r->der != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	memcpy(r->der, der, (size_t)len);
	r->der_len = (size_t)len;
	rc = 0;
out:
	OPENSSL_free(enc);
	ERR_clear_error();
	if (rc < 0)
		signet_record_clear(r);
	return rc;
}

static int record_cert(struct signet_db *db, X509 *x, const char *issuer_id,
		       const char *name, const char *profile, time_t now,
		       struct signet_err *err)
{
	struct signet_record r;
	int rc;

	if (make_record(x, NULL, 0, NULL, issuer_id, name, profile, now, &r, err) < 0)
		return -1;
	rc = signet_db_insert(db, &r, err);
	signet_record_clear(&r);
	return rc;
}

/*
 * Opens the database a CA directory's config names: the default
 * SQLite file, "sqlite:NAME" or a bare path (relative ones are relative to
 * the CA directory, never to wherever signet runs), or a URL.  init and
 * open share this so that both always mean the same file.
 */
static struct signet_db *open_ca_db(const char *dir, const char *spec, int flags,
				    struct signet_err *err)
{
	char path[4200];
	const char *file = NULL;

	if (spec == NULL || strcmp(spec, "sqlite:signet.db") == 0)
		file = "signet.db";
	else if (strncmp(spec, "sqlite:", 7) == 0 && spec[7] != '/')
		file = spec + 7;
	else if (strstr(spec, "://") == NULL && spec[0] != '/' && strncmp(spec, "sqlite:", 7) != 0)
		file = spec;
	if (file == NULL)
		return signet_db_open_ex(spec, flags, err);
	if (signet_path_join(path, sizeof(path), dir, file, err) < 0)
		return NULL;
	return signet_db_open_ex(path, flags, err);
}

/* ---- init ------------------------------------------------------------- */

static X509 *make_ca_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
			  int days, long pathlen, const struct signet_ca_init_opts *o,
			  time_t now, struct signet_err *err)
{
	X509 *x = X509_new();
	X509_NAME *name = NULL;
	X509_EXTENSION *aki = NULL;

	ENSURE(x != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	name = X509_NAME_new();
	ENSURE_OSSL(name != NULL &&
			    X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
						       (const unsigned char *)cn, -1, -1, 0),
		    err, SIGNET_E_PARSE, "invalid CA name '%s'", cn);
	ENSURE_OSSL(X509_set_version(x, X509_VERSION_3) && X509_set_subject_name(x, name) &&
			    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) &&
			    X509_set_pubkey(x, key),
		    err, SIGNET_E_INTERNAL, "cannot build CA certificate");
	TRY(random_serial(x, now, NULL, err));
	TRY(set_validity(x, now, (long)days * 86400, err));
	if (issuer != NULL && ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(issuer)) > 0)
		ENSURE_OSSL(X509_set1_notAfter(x, X509_get0_notAfter(issuer)), err,
			    SIGNET_E_INTERNAL, "cannot set validity");
	TRY(ext_add_bc(x, 1, pathlen, err));
	TRY(ext_add_ku(x, KU_KEY_CERT_SIGN | KU_CRL_SIGN | (issuer ? KU_DIGITAL_SIGNATURE : 0), err));
	TRY(ext_add_ski(x, err));
	if (issuer != NULL) {
		aki = ext_make_aki(issuer, err);
		TRYP(aki);
		ENSURE_OSSL(X509_add_ext(x, aki, -1), err, SIGNET_E_INTERNAL, "cannot add AKI");
	}
	if (o->n_permit > 0 || o->n_exclude > 0)
		TRY(ext_add_nc(x, o->permit, o->n_permit, o->exclude, o->n_exclude, err));
	TRY(sign_cert(x, issuer_key, err));
	X509_NAME_free(name);
	X509_EXTENSION_free(aki);
	return x;
out:
	X509_NAME_free(name);
	X509_EXTENSION_free(aki);
	X509_free(x);
	return NULL;
}

static int write_cert(const char *dir, const char *file, X509 *x, struct signet_err *err)
{
	char path[4200], *pem = NULL;
	size_t len = 0;
	int rc;
	TRY(signet_path_join(path, sizeof(path), dir, file, err));
	TRY(signet_cert_pem_append(x, &pem, &len, err));
	rc = signet_file_write(path, pem, len, 0644, 0, err);
	free(pem);
	return rc;
out:
	return -1;
}

static int write_key(const char *dir, const char *file, EVP_PKEY *k, const char *pass,
		     struct signet_err *err)
{
	char path[4200];
	if (signet_path_join(path, sizeof(path), dir, file, err) < 0)
		return -1;
	return signet_key_save(k, path, pass, err);
}

static char *derive_inter_name(const char *root)
{
	const char *r = strstr(root, "Root");
	char *out = malloc(strlen(root) + 32);
	if (out == NULL)
		return NULL;
	if (r != NULL)
		sprintf(out, "%.*sIntermediate%s", (int)(r - root), root, r + 4);
	else
		sprintf(out, "%s Intermediate", root);
	return out;
}

/* ---- init: where the files are written ------------------------------- */

/* What init writes into a CA directory: removed after a failed attempt,
 * and never replaced by an output file once the CA is open. */
static const struct {
	const char *name, *what;
} ca_files[] = {
	{ "root.key", "the root CA key" },
	{ "root.crt", "the root CA certificate" },
	{ "intermediate.key", "the intermediate CA key" },
	{ "intermediate.crt", "the intermediate CA certificate" },
	{ "signet.db", "the CA's database" },
	{ "signet.db-wal", "the CA's database log" },
	{ "signet.db-shm", "the CA's database index" },
	{ CONFIG_FILE, "the CA's configuration" },
};
#define N_CA_FILES (sizeof(ca_files) / sizeof(ca_files[0]))

/* Removes what init writes from dir, then dir itself if it is empty. */
static void init_remove(const char *dir, int rm_dir)
{
	char p[4200];
	for (size_t i = 0; i < N_CA_FILES; i++)
		if (signet_path_join(p, sizeof(p), dir, ca_files[i].name, NULL) == 0)
			unlink(p);
	if (rm_dir)
		rmdir(dir); /* only succeeds when it is empty */
}

/* dir without trailing slashes split into its parent and its last name:
 * "a/b/ca/" -> "a/b", "ca"; "ca" -> ".", "ca". */
static int split_dir(const char *dir, char *parent, size_t psize, char *base, size_t bsize)
{
	char tmp[4096];
	size_t n = strlen(dir);
	char *slash;

	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, dir, n);
	tmp[n] = '\0';
	slash = strrchr(tmp, '/');
	if (slash == NULL)
		return snprintf(parent, psize, ".") < (int)psize &&
			       snprintf(base, bsize, "%s", tmp) < (int)bsize ? 0 : -1;
	*slash = '\0';
	return snprintf(parent, psize, "%s", slash == tmp ? "/" : tmp) < (int)psize &&
		       snprintf(base, bsize, "%s", slash + 1) < (int)bsize && slash[1] != '\0'
		       ? 0 : -1;
}

/* An exclusive lock on directory path, held through the returned
 * descriptor (the kernel drops it when the process ends, however it
 * ends); -1 when another process holds it or it cannot be opened. */
static int lock_dir(const char *path, int follow)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Removes the staging directories ".BASE.init-XXXXXX" in parent that no
 * process holds any more: what an init killed outright (SIGKILL, a power
 * cut) left, keys included. */
static void remove_stale_stages(const char *parent, const char *base)
{
	char prefix[300], p[4200];
	DIR *d = opendir(parent);
	struct dirent *e;
	size_t pl;

	if (d == NULL)
		return;
	snprintf(prefix, sizeof(prefix), ".%s.init-", base);
	pl = strlen(prefix);
	while ((e = readdir(d)) != NULL) {
		int fd;
		if (strncmp(e->d_name, prefix, pl) != 0 || strlen(e->d_name) != pl + 6 ||
		    signet_path_join(p, sizeof(p), parent, e->d_name, NULL) < 0)
			continue;
		fd = lock_dir(p, 0);
		if (fd < 0)
			continue; /* another init is writing it, or not ours */
		init_remove(p, 1);
		close(fd);
	}
	closedir(d);
}

/*
 * Where init writes.  A directory that does not exist yet is built as
 * PARENT/.BASE.init-XXXXXX and renamed into place when whole (init_publish),
 * so that nothing, not even SIGKILL or a power cut, leaves half a CA at
 * dir, and of two inits racing for one directory exactly one wins.  An
 * existing directory (made by the user, say) is written in place, locked
 * against a second init.  Either way *lock_fd holds the lock until init
 * ends.  Returns 1 when staged, 0 in place, -1 with err set.
 */
static int init_workdir(const char *dir, char *work, size_t wsize, int *lock_fd,
			struct signet_err *err)
{
	char parent[4096], base[256], probe[4200];
	struct stat st;

	*lock_fd = -1;
	if (lstat(dir, &st) == 0) {
		TRY(signet_dir_make(dir, 0700, err)); /* says what is wrong if not a dir */
		*lock_fd = lock_dir(dir, 1);
		ENSURE(*lock_fd >= 0, err, SIGNET_E_EXISTS,
		       "%s: another signet init is writing this directory", dir);
		/* Checked again under the lock: it may have won a race. */
		TRY(signet_path_join(probe, sizeof(probe), dir, CONFIG_FILE, err));
		ENSURE(stat(probe, &st) != 0, err, SIGNET_E_EXISTS,
		       "%s: already holds a CA (found %s); choose another --dir", dir, CONFIG_FILE);
		ENSURE(snprintf(work, wsize, "%s", dir) < (int)wsize, err, SIGNET_E_IO,
		       "%s: path too long", dir);
		return 0;
	}
	ENSURE(errno == ENOENT && split_dir(dir, parent, sizeof(parent), base, sizeof(base)) == 0,
	       err, SIGNET_E_IO, "%s: cannot create directory: %s", dir,
	       errno == ENOENT ? "bad name" : strerror(errno));
	remove_stale_stages(parent, base);
	/* Another init's remove_stale_stages may take a new staging directory
	 * for a stale one before it is locked here, and remove it: then the
	 * lock fails, or is taken on a directory no longer at that name, and
	 * a new one is made. */
	for (int attempt = 0; attempt < 8; attempt++) {
		struct stat a, b;
		ENSURE(snprintf(work, wsize, "%s/.%s.init-XXXXXX", parent, base) < (int)wsize, err,
		       SIGNET_E_IO, "%s: path too long", dir);
		ENSURE(mkdtemp(work) != NULL, err, SIGNET_E_IO, "%s: cannot create directory: %s",
		       dir, strerror(errno));
		*lock_fd = lock_dir(work, 0);
		if (*lock_fd >= 0 && fstat(*lock_fd, &a) == 0 && stat(work, &b) == 0 &&
		    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
			return 1;
		if (*lock_fd >= 0)
			close(*lock_fd);
		*lock_fd = -1;
	}
	return signet_err_set(err, SIGNET_E_IO, "%s: cannot make a staging directory in %s", dir,
			      parent);
out:
	if (*lock_fd >= 0)
		close(*lock_fd);
	*lock_fd = -1;
	return -1;
}

/* Moves a whole staged CA to dir: its files are synced (signet_file_write,
 * and SQLite's commit); the staging directory and then its parent are
 * synced around the rename, so that after a crash dir is whole or absent. */
static int init_publish(const char *work, const char *dir, struct signet_err *err)
{
	char parent[4096], base[256];

	TRY(signet_dir_sync(work, err));
	if (rename(work, dir) != 0) {
		ENSURE(errno != EEXIST && errno != ENOTEMPTY, err, SIGNET_E_EXISTS,
		       "%s: another signet init made it meanwhile; choose another --dir", dir);
		return signet_err_set(err, SIGNET_E_IO, "%s: cannot create: %s", dir,
				      strerror(errno));
	}
	if (split_dir(dir, parent, sizeof(parent), base, sizeof(base)) == 0)
		TRY(signet_dir_sync(parent, err));
	return 0;
out:
	return -1;
}

/* A URL put into every certificate (CRL distribution point, OCSP): http
 * or https, a host, and nothing a URI cannot hold unescaped. */
static int url_ok(const char *u)
{
	const char *h = strncmp(u, "http://", 7) == 0    ? u + 7
			: strncmp(u, "https://", 8) == 0 ? u + 8
							 : NULL;

	if (h == NULL || *h == '\0' || *h == '/' || *h == ':')
		return 0;
	for (const char *p = u; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || *p == '"' ||
		    *p == '<' || *p == '>' || *p == '\\')
			return 0;
	return 1;
}

int signet_ca_init(const struct signet_ca_init_opts *o, struct signet_err *err)
{
	EVP_PKEY *rkey = NULL, *ikey = NULL;
	X509 *root = NULL, *inter = NULL;
	struct signet_db *db = NULL;
	json_t *cfg = NULL, *arr;
	char path[4200], *iname = NULL, *dump = NULL, rid[65], iid[65];
	const char *created[6];
	size_t n_created = 0;
	int rc = -1, days = o->days ? o->days : 3650;
	time_t now = time(NULL);
	struct stat st;
	sigset_t hold, saved;
	int held = 0, remote_db, staged = 0, lock_fd = -1;
	char work[4200] = ""; /* where the files go: a staging directory, or o->dir */

	ENSURE(o->name != NULL && *o->name, err, SIGNET_E_USAGE, "a CA name is required (--name)");
	ENSURE(strlen(o->name) <= 64, err, SIGNET_E_PARSE, "CA name longer than 64 characters");
	ENSURE(o->crl_url == NULL || url_ok(o->crl_url), err, SIGNET_E_USAGE,
	       "--crl-url '%s' is not an http:// or https:// URL with a host", o->crl_url);
	ENSURE(o->ocsp_url == NULL || url_ok(o->ocsp_url), err, SIGNET_E_USAGE,
	       "--ocsp-url '%s' is not an http:// or https:// URL with a host", o->ocsp_url);
	ENSURE(o->database == NULL || strstr(o->database, "://") == NULL ||
		       strncmp(o->database, "sqlite:", 7) == 0 ||
		       strncmp(o->database, "postgresql://", 13) == 0 ||
		       strncmp(o->database, "postgres://", 11) == 0,
	       err, SIGNET_E_USAGE,
	       "--database '%s': signet keeps its records in SQLite (the default) or "
	       "PostgreSQL (postgresql://...)", o->database);
	TRY(signet_path_join(path, sizeof(path), o->dir, CONFIG_FILE, err));
	ENSURE(stat(path, &st) != 0, err, SIGNET_E_EXISTS,
	       "%s: already holds a CA (found %s); choose another --dir", o->dir, CONFIG_FILE);
	if (stat(o->dir, &st) == 0) {
		char probe[4200];
		TRY(signet_path_join(probe, sizeof(probe), o->dir, "root.key", err));
		ENSURE(stat(probe, &st) != 0, err, SIGNET_E_EXISTS,
		       "%s: holds a root.key but no %s (a broken earlier init?); "
		       "remove it or choose another --dir", o->dir, CONFIG_FILE);
	}

	rkey = signet_key_generate(o->key_type, err);
	TRYP(rkey);
	root = make_ca_cert(rkey, o->name, NULL, rkey, days, -1, o, now, err);
	TRYP(root);
	if (o->intermediate) {
		iname = o->intermediate_name ? strdup(o->intermediate_name)
					     : derive_inter_name(o->name);
		ENSURE(iname != NULL, err, SIGNET_E_INTERNAL, "out of memory");
		ENSURE(strlen(iname) <= 64, err, SIGNET_E_PARSE,
		       "intermediate name longer than 64 characters");
		ikey = signet_key_generate(o->key_type, err);
		TRYP(ikey);
		inter = make_ca_cert(ikey, iname, root, rkey, days < 1825 ? days : 1825, 0, o,
				     now, err);
		TRYP(inter);
	}

	/* From here on the directory is written: the signals that end a
	 * process (Ctrl-C, kill, a closed terminal) are held until it is a
	 * whole CA or this call has removed what it made, so that no
	 * interruption leaves half a CA behind.  A database server is
	 * reached first, while they still work: that can wait on the network. */
	remote_db = o->database != NULL && strstr(o->database, "://") != NULL;
	if (remote_db) {
		db = open_ca_db(o->dir, o->database, 0, err);
		TRYP(db);
	}
	sigemptyset(&hold);
	sigaddset(&hold, SIGINT);
	sigaddset(&hold, SIGTERM);
	sigaddset(&hold, SIGHUP);
	sigaddset(&hold, SIGQUIT);
	held = pthread_sigmask(SIG_BLOCK, &hold, &saved) == 0;
	staged = init_workdir(o->dir, work, sizeof(work), &lock_fd, err);
	if (staged < 0) {
		work[0] = '\0';
		goto out;
	}

	/* Keys first (0600), then certificates, then the database, and the
	 * config last: only a complete directory counts as a CA. */
	TRY(write_key(work, "root.key", rkey, o->pass, err));
	created[n_created++] = "root.key";
	TRY(write_cert(work, "root.crt", root, err));
	created[n_created++] = "root.crt";
	if (inter != NULL) {
		TRY(write_key(work, "intermediate.key", ikey, o->pass, err));
		created[n_created++] = "intermediate.key";
		TRY(write_cert(work, "intermediate.crt", inter, err));
		created[n_created++] = "intermediate.crt";
	}

	cfg = json_object();
	ENSURE(cfg != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	json_object_set_new(cfg, "version", json_integer(1));
	json_object_set_new(cfg, "name", json_string(o->name));
	json_object_set_new(cfg, "key_type", json_string(signet_key_type_name(o->key_type)));
	json_object_set_new(cfg, "issuer", json_string(inter ? "intermediate" : "root"));
	json_object_set_new(cfg, "encrypted", json_boolean(o->pass != NULL));
	json_object_set_new(cfg, "database",
			    json_string(o->database ? o->database : "sqlite:signet.db"));
	json_object_set_new(cfg, "default_days", json_integer(365));
	if (o->crl_url)
		json_object_set_new(cfg, "crl_url", json_string(o->crl_url));
	if (o->ocsp_url)
		json_object_set_new(cfg, "ocsp_url", json_string(o->ocsp_url));
	/* The constraints as the certificates carry them. */
	for (int k = 0; k < 2; k++) {
		const char *const *list = k ? o->exclude : o->permit;
		size_t n = k ? o->n_exclude : o->n_permit;
		arr = json_array();
		for (size_t i = 0; i < n; i++) {
			const char *dns = ext_nc_dns(list[i]);
			json_array_append_new(arr, dns != NULL ? json_sprintf("dns:%s", dns)
							       : json_string(list[i]));
		}
		json_object_set_new(cfg, k ? "exclude" : "permit", arr);
	}

	if (!remote_db) {
		db = open_ca_db(work, o->database, 0, err);
		if (o->database == NULL)
			created[n_created++] = "signet.db";
		TRYP(db);
	}
	key_id_hex(root, rid);
	TRY(signet_db_begin(db, err));
	if (record_cert(db, root, rid, "root", "root", now, err) < 0 ||
	    (inter != NULL &&
	     record_cert(db, inter, rid, "intermediate", "intermediate", now, err) < 0)) {
		signet_db_rollback(db);
		goto out;
	}
	TRY(signet_db_commit(db, err));
	(void)iid;
	/* Closed before the directory may move: SQLite has the files open. */
	signet_db_close(db);
	db = NULL;

	dump = json_dumps(cfg, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	ENSURE(dump != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	TRY(signet_path_join(path, sizeof(path), work, CONFIG_FILE, err));
	{
		size_t dl = strlen(dump);
		dump[dl] = '\n';
		rc = signet_file_write(path, dump, dl + 1, 0644, SIGNET_WRITE_EXCL, err);
		dump[dl] = '\0';
	}
	if (rc == 0 && staged)
		rc = init_publish(work, o->dir, err);
out:
	signet_db_close(db);
	if (rc < 0 && work[0] != '\0') {
		/* Leave no half CA behind: remove what this call created (all
		 * of a staging directory; in place, only its own files). */
		if (staged) {
			init_remove(work, 1);
		} else {
			char p[4200], q[4300];
			for (size_t i = 0; i < n_created; i++) {
				if (signet_path_join(p, sizeof(p), work, created[i], NULL) != 0)
					continue;
				unlink(p);
				if (strcmp(created[i], "signet.db") == 0) {
					snprintf(q, sizeof(q), "%s-wal", p);
					unlink(q);
					snprintf(q, sizeof(q), "%s-shm", p);
					unlink(q);
				}
			}
			/* The directory was there before: it stays. */
		}
	}
	if (lock_fd >= 0)
		close(lock_fd);
	if (held) /* a signal that came meanwhile acts now */
		pthread_sigmask(SIG_SETMASK, &saved, NULL);
	free(dump);
	json_decref(cfg);
	free(iname);
	X509_free(root);
	X509_free(inter);
	EVP_PKEY_free(rkey);
	EVP_PKEY_free(ikey);
	return rc;
}

/* ---- open ------------------------------------------------------------- */

/*
 * The fully decoded twin of ca->root or ca->inter (x itself when it was
 * read with d2i_X509), or NULL when x is NULL or cannot be read again.
 */
static X509 *full_cert(struct signet_ca *ca, X509 *x)
{
	X509 **twin = x == ca->root ? &ca->root_full : &ca->inter_full;
	unsigned char *der = NULL;
	const unsigned char *p;
	int len;

	if (x == NULL || !(x == ca->root ? ca->root_light : ca->inter_light))
		return x;
	pthread_mutex_lock(&ca->lock);
	if (*twin == NULL) {
		/* The light reader accepted only what encodes back to the file's
		 * bytes, so these are the bytes d2i_X509 would have read. */
		len = i2d_X509(x, &der);
		p = der;
		if (len > 0)
			*twin = d2i_X509(NULL, &p, len);
		OPENSSL_free(der);
		ERR_clear_error();
	}
	pthread_mutex_unlock(&ca->lock);
	return *twin;
}

static char *cfg_str(json_t *cfg, const char *key)
{
	json_t *v = json_object_get(cfg, key);
	return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

/* A CA file must be a regular file: a FIFO or a device in the CA
 * directory would block the read for ever or feed it garbage. */
static int ca_file_check(const char *path, struct signet_err *err)
{
	struct stat st;

	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return signet_err_set(err, SIGNET_E_PARSE, "%s: not a regular file", path);
	return 0;
}

struct signet_ca *signet_ca_open(const char *dir, struct signet_err *err)
{
	struct signet_ca *ca = calloc(1, sizeof(*ca));
	char path[4200], *dbspec = NULL;
	json_error_t jerr;
	json_t *v;
	struct stat st;

	ENSURE(ca != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	pthread_mutex_init(&ca->lock, NULL);
	snprintf(ca->dir, sizeof(ca->dir), "%s", dir);
	TRY(signet_path_join(path, sizeof(path), dir, CONFIG_FILE, err));
	ENSURE(stat(path, &st) == 0, err, SIGNET_E_NOCA,
	       "%s: not a signet CA directory (no %s); run `signet init --dir %s` first, "
	       "or pass --dir / set $SIGNET_DIR", dir, CONFIG_FILE, dir);
	TRY(ca_file_check(path, err));
	ca->config = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	ENSURE(ca->config != NULL, err, SIGNET_E_PARSE, "%s: malformed configuration: %s (line %d)",
	       path, jerr.text, jerr.line);
	ENSURE(json_is_object(ca->config), err, SIGNET_E_PARSE,
	       "%s: malformed configuration: not a JSON object", path);
	v = json_object_get(ca->config, "version");
	ENSURE(json_integer_value(v) == 1, err, SIGNET_E_PARSE,
	       "%s: unsupported configuration version", path);
	ca->encrypted = json_is_true(json_object_get(ca->config, "encrypted"));
	v = json_object_get(ca->config, "default_days");
	ENSURE(v == NULL || (json_is_integer(v) && json_integer_value(v) >= 1 &&
			     json_integer_value(v) <= 36500),
	       err, SIGNET_E_PARSE, "%s: default_days must be a whole number of days, 1 to 36500",
	       path);
	ca->default_days = v != NULL ? (int)json_integer_value(v) : 365;
	ca->crl_url = cfg_str(ca->config, "crl_url");
	ca->ocsp_url = cfg_str(ca->config, "ocsp_url");

	TRY(signet_path_join(path, sizeof(path), dir, "root.crt", err));
	TRY(ca_file_check(path, err));
	ca->root = signet_cert_load_light(path, &ca->root_light, err);
	TRYP(ca->root);
	ca->chain = sk_X509_new_null();
	ca->empty = sk_X509_new_null();
	ENSURE(ca->chain != NULL && ca->empty != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	v = json_object_get(ca->config, "issuer");
	if (json_is_string(v) && strcmp(json_string_value(v), "intermediate") == 0) {
		TRY(signet_path_join(path, sizeof(path), dir, "intermediate.crt", err));
		TRY(ca_file_check(path, err));
		ca->inter = signet_cert_load_light(path, &ca->inter_light, err);
		TRYP(ca->inter);
	}
	ca->signer = ca->inter ? ca->inter : ca->root;
	key_id_hex(ca->signer, ca->signer_id);

	dbspec = cfg_str(ca->config, "database");
	/* An existing CA's database must be there: an empty new one would
	 * drop every record and revocation, and restart the CRL numbers. */
	ca->db = open_ca_db(dir, dbspec, SIGNET_DB_MUST_EXIST, err);
	TRYP(ca->db);
	free(dbspec);
	for (size_t i = 0; i < N_CA_FILES; i++)
		if (signet_path_join(path, sizeof(path), dir, ca_files[i].name, NULL) == 0)
			signet_file_protect(path, ca_files[i].what);
	return ca;
out:
	free(dbspec);
	signet_ca_free(ca);
	return NULL;
}

void signet_ca_free(struct signet_ca *ca)
{
	if (ca == NULL)
		return;
	json_decref(ca->config);
	X509_free(ca->root);
	X509_free(ca->inter);
	X509_free(ca->root_full);
	X509_free(ca->inter_full);
	pthread_mutex_destroy(&ca->lock);
	EVP_PKEY_free(ca->signer_key);
	EVP_MD_free(ca->md);
	sk_X509_pop_free(ca->chain, X509_free);
	sk_X509_free(ca->empty);
	signet_db_close(ca->db);
	free(ca->crl_url);
	free(ca->ocsp_url);
	X509_EXTENSION_free(ca->aki);
	X509_EXTENSION_free(ca->crldp);
	X509_EXTENSION_free(ca->aia);
	for (int i = 0; i < ca->n_nc; i++)
		NAME_CONSTRAINTS_free(ca->nc[i]);
	free(ca);
}

int signet_ca_encrypted(const struct signet_ca *ca)
{
	return ca->encrypted;
}

int signet_ca_unlock(struct signet_ca *ca, enum signet_ca_signer which, const char *pass,
		     struct signet_err *err)
{
	char path[4200];
	EVP_PKEY *key;

	if (which == SIGNET_CA_ROOT)
		ca->signer = ca->root;
	TRY(signet_path_join(path, sizeof(path), ca->dir,
			     ca->signer == ca->root ? "root.key" : "intermediate.key", err));
	TRY(ca_file_check(path, err));
	key = signet_key_load(path, pass, err);
	TRYP(key);
	/* By encoding for EC and Ed25519; else, or when the encodings differ,
	 * against the decoded key of the certificate as always. */
	if (!signet_key_matches_spki(key, ca->signer) &&
	    !signet_key_matches(key, X509_get0_pubkey(full_cert(ca, ca->signer)))) {
		EVP_PKEY_free(key);
		return signet_err_set(err, SIGNET_E_PARSE,
				      "%s does not match the CA certificate's public key", path);
	}
	EVP_PKEY_free(ca->signer_key);
	ca->signer_key = key;
	/* Fetch the digest once: an implicit fetch per signature is costly. */
	EVP_MD_free(ca->md);
	ca->md = NULL;
	if (signet_key_digest(key) != NULL) {
		ca->md = EVP_MD_fetch(NULL, EVP_MD_get0_name(signet_key_digest(key)), NULL);
		ENSURE_OSSL(ca->md != NULL, err, SIGNET_E_INTERNAL, "cannot fetch digest");
	}
	key_id_hex(ca->signer, ca->signer_id);
	X509_EXTENSION_free(ca->aki);
	X509_EXTENSION_free(ca->crldp);
	X509_EXTENSION_free(ca->aia);
	ca->crldp = ca->aia = NULL;
	ca->aki = ext_make_aki(ca->signer, err);
	TRYP(ca->aki);
	if (ca->crl_url != NULL)
		TRYP(ca->crldp = ext_make_crldp(ca->crl_url, err));
	if (ca->ocsp_url != NULL)
		TRYP(ca->aia = ext_make_aia(ca->ocsp_url, NULL, err));
	/* Name constraints bind what the signer issues: its own and the root's. */
	for (int i = 0; i < ca->n_nc; i++)
		NAME_CONSTRAINTS_free(ca->nc[i]);
	ca->n_nc = 0;
	for (X509 *c = ca->signer; c != NULL; c = c != ca->root ? ca->root : NULL) {
		int crit = -1;
		NAME_CONSTRAINTS *nc = X509_get_ext_d2i(c, NID_name_constraints, &crit, NULL);
		ENSURE_OSSL(nc != NULL || crit == -1, err, SIGNET_E_PARSE,
			    "the CA certificate holds malformed name constraints");
		if (nc != NULL)
			ca->nc[ca->n_nc++] = nc;
	}
	ERR_clear_error();
	return 0;
out:
	return -1;
}

/* ---- issuance --------------------------------------------------------- */

/* Is DNS name n the host c, or a name under it (case-insensitive)? */
static int dns_under(const char *n, size_t nl, const char *c, size_t cl)
{
	return nl > cl && n[nl - cl - 1] == '.' && strncasecmp(n + nl - cl, c, cl) == 0;
}

/*
 * Syntax of the DNS names, and what OpenSSL's constraint matching cannot
 * see: it compares "*.example.com" as a string, so an excluded host
 * "secret.example.com" does not stop a wildcard that would match it in
 * TLS.  The constraints themselves are enforced in check_constraints.
 */
static int check_names(const struct signet_ca *ca, const GENERAL_NAMES *names,
		       struct signet_err *err)
{
	for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
		static const char *const kinds[] = {
			[GEN_OTHERNAME] = "an otherName", [GEN_X400] = "an x400Address",
			[GEN_DIRNAME] = "a directoryName", [GEN_EDIPARTY] = "an ediPartyName",
			[GEN_RID] = "a registeredID",
		};
		const ASN1_STRING *str;
		char dns[256];
		int len;
		/* A CSR's SANs are certified only when they are names signet
		 * can check (name constraints, syntax) and --san could give:
		 * an otherName (a Windows UPN, say) is a logon identity. */
		if (gn->type >= 0 && gn->type < (int)(sizeof(kinds) / sizeof(kinds[0])) &&
		    kinds[gn->type] != NULL)
			return signet_err_set(err, SIGNET_E_POLICY,
					      "the request asks for %s SAN; signet certifies only "
					      "dns:, ip:, email: and uri: names (replace them with "
					      "--san)", kinds[gn->type]);
		if (gn->type == GEN_IPADD) {
			len = ASN1_STRING_length(gn->d.iPAddress);
			if (len != 4 && len != 16)
				return signet_err_set(err, SIGNET_E_PARSE,
						      "SAN holds a malformed IP address (%d bytes)", len);
			continue;
		}
		if (gn->type == GEN_EMAIL || gn->type == GEN_URI) {
			str = gn->type == GEN_EMAIL ? gn->d.rfc822Name : gn->d.uniformResourceIdentifier;
			len = ASN1_STRING_length(str);
			if (len <= 0 || memchr(ASN1_STRING_get0_data(str), 0, (size_t)len) != NULL)
				return signet_err_set(err, SIGNET_E_PARSE, "SAN holds a malformed %s",
						      gn->type == GEN_EMAIL ? "email address" : "URI");
			continue;
		}
		if (gn->type != GEN_DNS)
			continue;
		len = ASN1_STRING_length(gn->d.dNSName);
		if (len <= 0 || len >= (int)sizeof(dns) ||
		    memchr(ASN1_STRING_get0_data(gn->d.dNSName), 0, (size_t)len) != NULL)
			return signet_err_set(err, SIGNET_E_PARSE, "SAN holds a malformed DNS name");
		memcpy(dns, ASN1_STRING_get0_data(gn->d.dNSName), (size_t)len);
		dns[len] = '\0';
		if (!signet_dns_name_valid(dns, 1))
			return signet_err_set(err, SIGNET_E_PARSE,
					      "SAN dns:%s is not a valid DNS name", dns);
		if (dns[0] != '*')
			continue;
		for (int j = 0; j < ca->n_nc; j++) {
			STACK_OF(GENERAL_SUBTREE) *ex = ca->nc[j]->excludedSubtrees;
			for (int k = 0; k < sk_GENERAL_SUBTREE_num(ex); k++) {
				const GENERAL_NAME *b = sk_GENERAL_SUBTREE_value(ex, k)->base;
				const char *c;
				size_t cl, bl = strlen(dns + 2);
				if (b->type != GEN_DNS)
					continue;
				c = (const char *)ASN1_STRING_get0_data(b->d.dNSName);
				cl = (size_t)ASN1_STRING_length(b->d.dNSName);
				/* A host c (".c" excludes only names under c) one
				 * label below the wildcard's base is covered by it. */
				if (cl > 0 && c[0] != '.' && dns_under(c, cl, dns + 2, bl) &&
				    memchr(c, '.', cl - bl - 1) == NULL)
					return signet_err_set(err, SIGNET_E_POLICY,
							      "SAN dns:%s would cover %.*s, which is "
							      "excluded by the CA's name constraints",
							      dns, (int)cl, c);
			}
		}
	}
	return 0;
}

/* Runs OpenSSL's own name-constraint matching over x, as a verifier will;
 * a leaf without DNS SANs has its host-like CN checked too, as OpenSSL
 * does (RFC 5280 4.2.1.10 leaves the CN to the relying party). */
static int nc_check(const struct signet_ca *ca, X509 *x, int leaf)
{
	int r = X509_V_OK;
	/* NAME_CONSTRAINTS_check reads the decoded SANs from x's extension
	 * cache: fill it now that x is complete (signed).  The result judges
	 * other parts of x (a scratch certificate has no signature algorithm);
	 * the SANs are decoded either way. */
	(void)X509_check_purpose(x, -1, 0);
	for (int i = 0; i < ca->n_nc && r == X509_V_OK; i++) {
		r = NAME_CONSTRAINTS_check(x, ca->nc[i]);
		if (r == X509_V_OK && leaf) {
			GENERAL_NAMES *gn = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
			int has_dns = 0;
			for (int j = 0; j < sk_GENERAL_NAME_num(gn); j++)
				has_dns |= sk_GENERAL_NAME_value(gn, j)->type == GEN_DNS;
			GENERAL_NAMES_free(gn);
			if (!has_dns)
				r = NAME_CONSTRAINTS_check_CN(x, ca->nc[i]);
		}
	}
	ERR_clear_error();
	return r;
}

static int check_constraints(const struct signet_ca *ca, X509 *x, const GENERAL_NAMES *sans,
			     int leaf, struct signet_err *err)
{
	int r;
	char what[512];

	if (ca->n_nc == 0 || (r = nc_check(ca, x, leaf)) == X509_V_OK)
		return 0;
	if (r != X509_V_ERR_PERMITTED_VIOLATION && r != X509_V_ERR_EXCLUDED_VIOLATION)
		return signet_err_set(err, SIGNET_E_POLICY,
				      "the names cannot be checked against the CA's name "
				      "constraints: %s", X509_verify_cert_error_string(r));
	/* Name the culprit: each SAN alone in a scratch certificate. */
	{
		char subj[400];
		signet_name_format(X509_get_subject_name(x), subj, sizeof(subj));
		snprintf(what, sizeof(what), "the subject %s", subj);
	}
	for (int i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
		GENERAL_NAMES *one = sk_GENERAL_NAME_new_null();
		X509 *t = X509_new();
		int bad = 0;
		if (one != NULL && t != NULL &&
		    sk_GENERAL_NAME_push(one, sk_GENERAL_NAME_value(sans, i)) > 0 &&
		    X509_add1_ext_i2d(t, NID_subject_alt_name, one, 0, 0) == 1)
			bad = nc_check(ca, t, 0) != X509_V_OK;
		if (bad) {
			char s[400];
			signet_san_format(one, s, sizeof(s));
			snprintf(what, sizeof(what), "SAN %s", s);
		}
		sk_GENERAL_NAME_free(one); /* borrowed entries */
		X509_free(t);
		if (bad)
			break;
	}
	ERR_clear_error();
	return signet_err_set(err, SIGNET_E_POLICY, "%s is %s", what,
			      r == X509_V_ERR_EXCLUDED_VIOLATION
				      ? "excluded by the CA's name constraints"
				      : "outside the CA's permitted names (name constraints)");
}

static int count_type(const GENERAL_NAMES *names, int t1, int t2)
{
	int n = 0;
	for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		int t = sk_GENERAL_NAME_value(names, i)->type;
		if (t == t1 || t == t2)
			n++;
	}
	return n;
}

static int apply_profile(X509 *x, enum signet_profile p, EVP_PKEY *pub, struct signet_err *err)
{
	static const int server_eku[] = { NID_server_auth };
	static const int client_eku[] = { NID_client_auth };
	static const int peer_eku[] = { NID_server_auth, NID_client_auth };
	unsigned ku = KU_DIGITAL_SIGNATURE;

	if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA && p != SIGNET_PROFILE_CLIENT)
		ku |= KU_KEY_ENCIPHERMENT; /* TLS 1.2 RSA key exchange */
	switch (p) {
	case SIGNET_PROFILE_SERVER:
		TRY(ext_add_bc(x, 0, -1, err));
		TRY(ext_add_ku(x, ku, err));
		return ext_add_eku(x, server_eku, 1, err);
	case SIGNET_PROFILE_CLIENT:
		TRY(ext_add_bc(x, 0, -1, err));
		TRY(ext_add_ku(x, ku, err));
		return ext_add_eku(x, client_eku, 1, err);
	case SIGNET_PROFILE_PEER:
		TRY(ext_add_bc(x, 0, -1, err));
		TRY(ext_add_ku(x, ku, err));
		return ext_add_eku(x, peer_eku, 2, err);
	case SIGNET_PROFILE_SUBCA:
		TRY(ext_add_bc(x, 1, 0, err));
		return ext_add_ku(x, KU_KEY_CERT_SIGN | KU_CRL_SIGN | KU_DIGITAL_SIGNATURE, err);
	}
out:
	return -1;
}

/* Largest pathlen a certificate signed by signer may carry: -2 = none. */
static long signer_allows_ca(X509 *signer)
{
	long pl = X509_get_pathlen(signer);
	return pl; /* -1: unlimited, 0: cannot sign CAs */
}

/*
 * Copies the CSR's SubjectPublicKeyInfo into the certificate as it is.
 * X509_set_pubkey would re-encode the key through OpenSSL 3's provider
 * encoders, which costs more than the signature itself; the algorithm and
 * key bits are already DER and were validated when the CSR was verified.
 */
static int copy_req_pubkey(X509 *x, X509_REQ *req, struct signet_err *err)
{
	ASN1_OBJECT *kobj;
	const unsigned char *pk;
	int pklen;
	X509_ALGOR *alg;

	if (!X509_PUBKEY_get0_param(&kobj, &pk, &pklen, &alg, X509_REQ_get_X509_PUBKEY(req)) ||
	    pklen <= 0 || !signet_pubkey_set_raw(X509_get_X509_PUBKEY(x), alg, pk, pklen))
		return signet_err_ossl(err, SIGNET_E_INTERNAL, "cannot copy the public key");
	return 0;
}

/* ---- repeated issuance on one thread ---------------------------------- */

/*
 * What a thread that issues many certificates keeps from one to the next.
 * X509_sign makes a new EVP_MD_CTX and EVP_PKEY_CTX for every certificate,
 * and OpenSSL 3.0 matches each new EVP_PKEY_CTX to its legacy method by
 * walking every name of the key type; it also encodes the TBS twice (to
 * sign it, then again within the whole certificate).  For an EC CA key,
 * this signs instead with one EVP_PKEY_CTX initialised once, over a digest
 * made with one EVP_MD_CTX, and keeps the encoding that was signed.  The
 * signature is OpenSSL's ECDSA, as with X509_sign, and the encoding is
 * checked against i2d_X509 by the unit tests.
 */
struct signet_issuer {
	EVP_PKEY_CTX *pctx; /* the CA key's, initialised for signing */
	EVP_MD_CTX *mdctx;
	const EVP_MD *md;
	int sig_nid;        /* the signature algorithm, e.g. ecdsa-with-SHA256 */
	EVP_MD *sha256;     /* the records' fingerprints, fetched once (or NULL) */
	struct serial_pool serials;
};

struct signet_issuer *signet_issuer_new(const struct signet_ca *ca, struct signet_err *err)
{
	struct signet_issuer *is = calloc(1, sizeof(*is));
	const EVP_MD *md = ca->md;

	if (is == NULL) {
		signet_err_set(err, SIGNET_E_INTERNAL, "out of memory");
		return NULL;
	}
	is->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	ERR_clear_error(); /* without it, EVP_sha256() per record */
	if (ca->signer_key == NULL || md == NULL || EVP_PKEY_get_base_id(ca->signer_key) != EVP_PKEY_EC)
		return is; /* X509_sign, as signet_ca_build does */
	if (!OBJ_find_sigid_by_algs(&is->sig_nid, EVP_MD_get_type(md), EVP_PKEY_EC) ||
	    (is->pctx = EVP_PKEY_CTX_new_from_pkey(NULL, ca->signer_key, NULL)) == NULL ||
	    EVP_PKEY_sign_init(is->pctx) <= 0 || EVP_PKEY_CTX_set_signature_md(is->pctx, md) <= 0 ||
	    (is->mdctx = EVP_MD_CTX_new()) == NULL) {
		signet_err_ossl(err, SIGNET_E_INTERNAL, "cannot set up signing");
		signet_issuer_free(is);
		return NULL;
	}
	is->md = md;
	return is;
}

void signet_issuer_free(struct signet_issuer *is)
{
	if (is == NULL)
		return;
	EVP_PKEY_CTX_free(is->pctx);
	EVP_MD_CTX_free(is->mdctx);
	EVP_MD_free(is->sha256);
	OPENSSL_cleanse(&is->serials, sizeof(is->serials));
	free(is);
}

/*
 * Signs x with is's context and returns its whole encoding (malloc'ed) in
 * *der: the TBS as signed, then the algorithm and the signature, in an
 * outer SEQUENCE, which is what i2d_X509 would produce.  OpenSSL 3.0 has no
 * setters for a certificate's signature fields; they are set through the
 * pointers X509_get0_tbs_sigalg and X509_get0_signature hand out, as
 * X509_sign sets them, so that x is the signed certificate as well.
 */
static int issuer_sign(struct signet_issuer *is, X509 *x, unsigned char **der, int *der_len)
{
	unsigned char *tbs = NULL, *out = NULL, *p, dgst[EVP_MAX_MD_SIZE];
	unsigned char sig[160];
	size_t siglen = sizeof(sig);
	unsigned int dlen = 0;
	const ASN1_BIT_STRING *csig;
	const X509_ALGOR *calg;
	X509_ALGOR *alg;
	ASN1_BIT_STRING *bits;
	int tbs_len, alg_len, bits_len, body, total, ok = 0;

	*der = NULL;
	if (!X509_set_version(x, X509_VERSION_3))
		return 0;
	alg = (X509_ALGOR *)X509_get0_tbs_sigalg(x);
	X509_ALGOR_set0(alg, OBJ_nid2obj(is->sig_nid), V_ASN1_UNDEF, NULL);
	tbs_len = i2d_re_X509_tbs(x, &tbs);
	if (tbs_len <= 0 || !EVP_DigestInit_ex(is->mdctx, is->md, NULL) ||
	    !EVP_DigestUpdate(is->mdctx, tbs, (size_t)tbs_len) ||
	    !EVP_DigestFinal_ex(is->mdctx, dgst, &dlen) ||
	    EVP_PKEY_sign(is->pctx, sig, &siglen, dgst, dlen) <= 0)
		goto out;
	X509_get0_signature(&csig, &calg, x);
	bits = (ASN1_BIT_STRING *)csig;
	alg = (X509_ALGOR *)calg;
	X509_ALGOR_set0(alg, OBJ_nid2obj(is->sig_nid), V_ASN1_UNDEF, NULL);
	if (!ASN1_BIT_STRING_set(bits, sig, (int)siglen))
		goto out;
	/* No unused bits, as ASN1_item_sign_ctx marks it. */
	bits->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	bits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	alg_len = i2d_X509_ALGOR(alg, NULL);
	bits_len = i2d_ASN1_BIT_STRING(bits, NULL);
	if (alg_len <= 0 || bits_len <= 0)
		goto out;
	body = tbs_len + alg_len + bits_len;
	total = ASN1_object_size(1, body, V_ASN1_SEQUENCE);
	if (total <= 0 || (out = malloc((size_t)total)) == NULL)
		goto out;
	p = out;
	ASN1_put_object(&p, 1, body, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
	memcpy(p, tbs, (size_t)tbs_len);
	p += tbs_len;
	i2d_X509_ALGOR(alg, &p);
	i2d_ASN1_BIT_STRING(bits, &p);
	ok = p == out + total;
	if (ok) {
		*der = out;
		*der_len = total;
		out = NULL;
	}
out:
	OPENSSL_free(tbs);
	free(out);
	return ok;
}

static X509 *build(const struct signet_ca *ca, const struct signet_sign_req *r,
		   struct signet_issuer *is, unsigned char **der, int *der_len,
		   struct signet_err *err)
{
	X509 *x = NULL;
	EVP_PKEY *pub;
	GENERAL_NAMES *csr_sans = NULL;
	const GENERAL_NAMES *sans;
	time_t now = r->now ? r->now : time(NULL);
	int days = r->days ? r->days : ca->default_days;
	const X509_NAME *subj;
	char cn[256] = "";

	ENSURE(ca->signer_key != NULL, err, SIGNET_E_INTERNAL,
	       "the CA key is not unlocked");
	pub = r->csr_key != NULL ? r->csr_key : X509_REQ_get0_pubkey(r->csr);
	if (!r->csr_verified)
		TRY(signet_csr_verify_key(r->csr, pub, err));
	ENSURE(pub != NULL, err, SIGNET_E_PARSE, "CSR public key cannot be decoded");
	TRY(signet_key_check_strength(pub, err));
	subj = X509_REQ_get_subject_name(r->csr);
	X509_NAME_get_text_by_NID((X509_NAME *)subj, NID_commonName, cn, sizeof(cn));
	ERR_clear_error();
	if (r->sans != NULL) {
		sans = r->sans;
	} else {
		TRY(signet_csr_get_sans(r->csr, &csr_sans, err));
		sans = csr_sans;
	}
	if (r->profile == SIGNET_PROFILE_SERVER || r->profile == SIGNET_PROFILE_PEER)
		ENSURE(sans != NULL && count_type(sans, GEN_DNS, GEN_IPADD) > 0, err,
		       SIGNET_E_POLICY,
		       "a %s certificate needs at least one dns: or ip: SAN "
		       "(clients ignore the CN); add --san dns:NAME",
		       signet_profile_name(r->profile));
	if (r->profile == SIGNET_PROFILE_SUBCA) {
		ENSURE(cn[0] != '\0', err, SIGNET_E_POLICY, "a sub-CA needs a CN in its subject");
		ENSURE(signer_allows_ca(ca->signer) != 0, err, SIGNET_E_POLICY,
		       "the issuing CA has pathlen:0 and cannot sign a sub-CA; "
		       "sign with the root (--issuer root)");
	} else {
		ENSURE(cn[0] != '\0' || (sans != NULL && sk_GENERAL_NAME_num(sans) > 0), err,
		       SIGNET_E_POLICY, "the request has neither a CN nor any SAN to certify");
	}
	if (sans != NULL)
		TRY(check_names(ca, sans, err));
	ENSURE(days >= 1 && days <= 36500, err, SIGNET_E_USAGE, "validity of %d days is out of range",
	       days);

	x = X509_new();
	ENSURE(x != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	ENSURE_OSSL(X509_set_version(x, X509_VERSION_3) && X509_set_subject_name(x, subj) &&
			    X509_set_issuer_name(x, X509_get_subject_name(ca->signer)),
		    err, SIGNET_E_INTERNAL, "cannot build certificate");
	TRY(copy_req_pubkey(x, r->csr, err));
	TRY(random_serial(x, now, is != NULL ? &is->serials : NULL, err));
	TRY(set_validity(x, now, (long)days * 86400, err));
	/* The default validity ends with the issuing CA's (a CA made with
	 * --days 30 still issues with no --days); an explicit one must fit. */
	if (r->days == 0 &&
	    ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(ca->signer)) > 0)
		ENSURE_OSSL(X509_set1_notAfter(x, X509_get0_notAfter(ca->signer)), err,
			    SIGNET_E_INTERNAL, "cannot set the validity");
	ENSURE(ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(ca->signer)) <= 0, err,
	       SIGNET_E_POLICY,
	       "%d days would outlive the issuing CA certificate; ask for fewer --days", days);
	TRY(apply_profile(x, r->profile, pub, err));
	TRY(ext_add_ski(x, err));
	ENSURE_OSSL(X509_add_ext(x, ca->aki, -1), err, SIGNET_E_INTERNAL, "cannot add AKI");
	if (sans != NULL && sk_GENERAL_NAME_num(sans) > 0)
		TRY(ext_add_san(x, sans, err));
	if (ca->crldp != NULL)
		ENSURE_OSSL(X509_add_ext(x, ca->crldp, -1), err, SIGNET_E_INTERNAL,
			    "cannot add CRL distribution point");
	if (ca->aia != NULL)
		ENSURE_OSSL(X509_add_ext(x, ca->aia, -1), err, SIGNET_E_INTERNAL,
			    "cannot add authority information access");
	if (is != NULL && is->pctx != NULL)
		ENSURE_OSSL(issuer_sign(is, x, der, der_len), err, SIGNET_E_INTERNAL,
			    "signing failed");
	else
		ENSURE_OSSL(X509_sign(x, ca->signer_key,
				      ca->md ? ca->md : signet_key_digest(ca->signer_key)) > 0,
			    err, SIGNET_E_INTERNAL, "signing failed");
	TRY(check_constraints(ca, x, sans, r->profile != SIGNET_PROFILE_SUBCA, err));
	GENERAL_NAMES_free(csr_sans);
	return x;
out:
	GENERAL_NAMES_free(csr_sans);
	X509_free(x);
	if (der != NULL) {
		free(*der);
		*der = NULL;
	}
	return NULL;
}

X509 *signet_ca_build(const struct signet_ca *ca, const struct signet_sign_req *r,
		      struct signet_err *err)
{
	return build(ca, r, NULL, NULL, NULL, err);
}

X509 *signet_ca_issue(const struct signet_ca *ca, const struct signet_sign_req *r,
		      struct signet_issuer *is, struct signet_record *rec, struct signet_err *err)
{
	unsigned char *der = NULL;
	int len = 0;
	X509 *x = build(ca, r, is, &der, &len, err);

	if (x != NULL && make_record(x, der, len, is != NULL ? is->sha256 : NULL, ca->signer_id,
				     r->name, signet_profile_name(r->profile),
				     r->now ? r->now : time(NULL), rec, err) < 0) {
		X509_free(x);
		x = NULL;
	}
	free(der);
	return x;
}

int signet_ca_record(struct signet_ca *ca, X509 *x, const struct signet_sign_req *r,
		     struct signet_err *err)
{
	return record_cert(ca->db, x, ca->signer_id, r->name, signet_profile_name(r->profile),
			   r->now ? r->now : time(NULL), err);
}

int signet_ca_record_insert(struct signet_ca *ca, const struct signet_record *rec,
			    struct signet_err *err)
{
	return signet_db_insert(ca->db, rec, err);
}

/* A full parse of x's encoding: an object whose public key is decoded. */
static X509 *reparse(X509 *x, struct signet_err *err)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	int len = i2d_X509(x, &der);
	X509 *y = NULL;

	if (len > 0) {
		p = der;
		y = d2i_X509(NULL, &p, len);
	}
	OPENSSL_free(der);
	if (y == NULL)
		signet_err_ossl(err, SIGNET_E_INTERNAL, "cannot re-read the issued certificate");
	return y;
}

X509 *signet_ca_sign(struct signet_ca *ca, const struct signet_sign_req *r,
		     struct signet_err *err)
{
	for (int attempt = 0;; attempt++) {
		X509 *x = signet_ca_build(ca, r, err);
		if (x == NULL)
			return NULL;
		if (signet_ca_record(ca, x, r, err) == 0) {
			X509 *y = reparse(x, err);
			X509_free(x);
			return y;
		}
		X509_free(x);
		/* A serial collision (2^-112 odds within 4 s) gets a fresh serial. */
		if (err->code != SIGNET_E_EXISTS || attempt >= 3)
			return NULL;
	}
}

/* ---- accessors -------------------------------------------------------- */

const char *signet_ca_dir(const struct signet_ca *ca) { return ca->dir; }
/* The certificates handed out are the decoded twins (full_cert); the
 * twins and the chain are made on first request, hence the casts. */
X509 *signet_ca_root(const struct signet_ca *ca)
{
	return full_cert((struct signet_ca *)ca, ca->root);
}
X509 *signet_ca_signer_cert(const struct signet_ca *ca)
{
	return full_cert((struct signet_ca *)ca, ca->signer);
}
EVP_PKEY *signet_ca_signer_key(const struct signet_ca *ca) { return ca->signer_key; }
STACK_OF(X509) *signet_ca_chain(const struct signet_ca *ca)
{
	struct signet_ca *m = (struct signet_ca *)ca;
	X509 *inter;

	if (ca->signer == ca->root)
		return ca->empty;
	inter = full_cert(m, ca->inter);
	pthread_mutex_lock(&m->lock);
	if (inter != NULL && sk_X509_num(ca->chain) == 0 && X509_up_ref(inter) &&
	    sk_X509_push(ca->chain, inter) <= 0)
		X509_free(inter);
	pthread_mutex_unlock(&m->lock);
	return ca->chain;
}

int signet_ca_chain_pem_append(const struct signet_ca *ca, char **pem, size_t *len,
			       struct signet_err *err)
{
	/* The certificates as read: their encoding is the file's. */
	if (ca->signer != ca->root && ca->inter != NULL)
		return signet_cert_pem_append(ca->inter, pem, len, err);
	return 0;
}
struct signet_db *signet_ca_db(const struct signet_ca *ca) { return ca->db; }
const char *signet_ca_signer_id(const struct signet_ca *ca) { return ca->signer_id; }
const char *signet_ca_crl_url(const struct signet_ca *ca) { return ca->crl_url; }
const char *signet_ca_ocsp_url(const struct signet_ca *ca) { return ca->ocsp_url; }
