/*
 * fuzz_config.c - the CA configuration file, DIR/signet.json, read by
 * signet_ca_open on every command that touches a CA.
 *
 * A real CA (root + intermediate, no passphrase) is created once in a
 * private temporary directory; each input replaces its signet.json and
 * the CA is opened, unlocked and asked to sign one fixed CSR, so that the
 * configured URLs (CRL DP, AIA), name constraints and default validity are
 * all used the way issuance uses them.  The signing runs inside a
 * transaction that is rolled back, so the database does not grow.
 *
 * The "database" setting names a file to create; inputs that point it
 * outside the temporary directory (an absolute or "../" path, or a
 * PostgreSQL URL) are skipped rather than let the fuzzer write elsewhere.
 */
#include "fuzz.h"

#include <signet/ca.h>
#include <signet/csr.h>
#include <signet/file.h>
#include <signet/key.h>
#include <signet/name.h>

#include <dirent.h>
#include <jansson.h>
#include <unistd.h>

static char tmpdir[256], cadir[300], cfgpath[400];
static X509_REQ *csr;

static void rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[600];
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (e->d_type == DT_DIR)
			rm_tree(p);
		else
			unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static void cleanup(void)
{
	if (tmpdir[0] != '\0')
		rm_tree(tmpdir);
}

static void die(const char *what, const struct signet_err *err)
{
	fprintf(stderr, "fuzz_config setup: %s: %s\n", what, err->msg);
	exit(1);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct signet_err err;
	struct signet_ca_init_opts o = { 0 };
	EVP_PKEY *key;
	X509_NAME *subj;
	GENERAL_NAMES *sans = NULL;
	/* tmpfs when there is one: issuance fsyncs, and this runs 10^5 times */
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	(void)argc;
	(void)argv;
	signet_err_clear(&err);
	snprintf(tmpdir, sizeof(tmpdir), "%s/signet-fuzz-config.XXXXXX", base);
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	atexit(cleanup);
	snprintf(cadir, sizeof(cadir), "%s/ca", tmpdir);
	snprintf(cfgpath, sizeof(cfgpath), "%s/signet.json", cadir);
	o.dir = cadir;
	o.name = "Fuzz Root CA";
	o.key_type = SIGNET_KEY_EC_P256;
	o.intermediate = 1;
	if (signet_ca_init(&o, &err) < 0)
		die("init", &err);
	key = signet_key_generate(SIGNET_KEY_EC_P256, &err);
	if (key == NULL)
		die("key", &err);
	subj = signet_name_parse("CN=www.example.com,O=Fuzz", &err);
	if (subj == NULL ||
	    signet_san_parse("dns:www.example.com,dns:a.b.example.org,ip:10.0.0.1,"
			     "email:x@example.net,uri:spiffe://example/w",
			     &sans, &err) < 0)
		die("names", &err);
	csr = signet_csr_create(key, subj, sans, &err);
	if (csr == NULL)
		die("csr", &err);
	EVP_PKEY_free(key);
	X509_NAME_free(subj);
	GENERAL_NAMES_free(sans);
	/* relative database names land in the CA directory, or here */
	if (chdir(cadir) < 0) {
		perror("chdir");
		exit(1);
	}
	return 0;
}

/* 1 when the database setting stays inside the CA directory. */
static int db_setting_contained(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	json_t *cfg = json_loadb((const char *)data, size, 0, &jerr);
	json_t *v;
	const char *s;
	int ok = 1;

	if (cfg == NULL)
		return memmem(data, size, "database", 8) == NULL;
	v = json_object_get(cfg, "database");
	if (json_is_string(v)) {
		s = json_string_value(v);
		if (strncmp(s, "sqlite:", 7) == 0)
			s += 7;
		ok = s[0] != '\0' && s[0] != '/' && strstr(s, "..") == NULL &&
		     strchr(s, '/') == NULL && strncmp(s, "postgres", 8) != 0 &&
		     strncmp(s, "file:", 5) != 0 && strlen(s) < 64;
	}
	json_decref(cfg);
	return ok;
}

/* Removes whatever a fuzzed database name created next to the CA files. */
static void remove_strays(void)
{
	static const char *const keep[] = { "signet.json", "signet.db", "signet.db-wal",
					    "signet.db-shm", "root.crt", "root.key",
					    "intermediate.crt", "intermediate.key", NULL };
	DIR *d = opendir(cadir);
	struct dirent *e;
	while (d != NULL && (e = readdir(d)) != NULL) {
		int k = e->d_name[0] == '.';
		for (int i = 0; keep[i] != NULL && !k; i++)
			k = strcmp(e->d_name, keep[i]) == 0;
		if (!k)
			unlinkat(dirfd(d), e->d_name, 0);
	}
	if (d != NULL)
		closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct signet_err err;
	struct signet_ca *ca;
	FILE *f;
	int r;

	if (size > 65536 || !db_setting_contained(data, size))
		return 0;
	f = fopen(cfgpath, "wb");
	if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
		perror(cfgpath);
		abort();
	}
	signet_err_clear(&err);
	ca = signet_ca_open(cadir, &err);
	fuzz_check("signet_ca_open", ca == NULL, &err);
	if (ca != NULL) {
		struct signet_sign_req req = { 0 };
		X509 *x;

		(void)signet_ca_encrypted(ca);
		(void)signet_ca_dir(ca);
		(void)signet_ca_root(ca);
		(void)signet_ca_chain(ca);
		(void)signet_ca_signer_id(ca);
		(void)signet_ca_crl_url(ca);
		(void)signet_ca_ocsp_url(ca);
		signet_err_clear(&err);
		r = signet_ca_unlock(ca, SIGNET_CA_ISSUER, NULL, &err);
		fuzz_check("signet_ca_unlock", r < 0, &err);
		if (r == 0 && signet_db_begin(signet_ca_db(ca), &err) == 0) {
			req.csr = csr;
			req.profile = SIGNET_PROFILE_SERVER;
			req.name = "fuzz";
			signet_err_clear(&err);
			x = signet_ca_sign(ca, &req, &err);
			fuzz_check("signet_ca_sign", x == NULL, &err);
			X509_free(x);
			signet_db_rollback(signet_ca_db(ca));
		}
		signet_ca_free(ca);
	}
	remove_strays();
	return 0;
}
