/*
 * test_ca.c - a CA directory through the library: init in a temporary
 * directory, open, unlock with the right and a wrong passphrase, sign under
 * each profile (checked with X509_verify_cert), and the refusals: weak key,
 * name constraints, sub-CA under pathlen:0, validity beyond the issuer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <signet/ca.h>
#include <signet/cert.h>
#include <signet/csr.h>
#include <signet/file.h>
#include <signet/name.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[256], cadir[300];
static const char *const permit[] = { "dns:.example.com" };

static int group_setup(void **state)
{
	struct signet_err err = { 0 };
	struct signet_ca_init_opts o;
	(void)state;
	snprintf(base, sizeof(base), "%s/signet-test-ca.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(base) == NULL)
		return -1;
	snprintf(cadir, sizeof(cadir), "%s/ca", base);
	memset(&o, 0, sizeof(o));
	o.dir = cadir;
	o.name = "Unit Root CA";
	o.key_type = SIGNET_KEY_EC_P256;
	o.intermediate = 1;
	o.pass = "unit pass";
	o.permit = permit;
	o.n_permit = 1;
	if (signet_ca_init(&o, &err) < 0) {
		fprintf(stderr, "init: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[400];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	return system(cmd) == 0 ? 0 : -1;
}

static int setup(void **state)
{
	struct signet_err err = { 0 };
	*state = signet_ca_open(cadir, &err);
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	signet_ca_free(*state);
	return 0;
}

static X509_REQ *csr(EVP_PKEY *k, const char *subject, const char *sans)
{
	struct signet_err err = { 0 };
	X509_NAME *n = signet_name_parse(subject, &err);
	GENERAL_NAMES *g = NULL;
	X509_REQ *r;
	assert_non_null(n);
	if (sans != NULL)
		assert_int_equal(signet_san_parse(sans, &g, &err), 0);
	r = signet_csr_create(k, n, g, &err);
	assert_non_null(r);
	X509_NAME_free(n);
	GENERAL_NAMES_free(g);
	return r;
}

static X509 *sign(struct signet_ca *ca, X509_REQ *r, enum signet_profile p, int days,
		  struct signet_err *err)
{
	struct signet_sign_req sr;
	memset(&sr, 0, sizeof(sr));
	sr.csr = r;
	sr.profile = p;
	sr.days = days;
	sr.name = "unit";
	return signet_ca_sign(ca, &sr, err);
}

/* X509_verify_cert against root, with the CA's chain as untrusted. */
static int verifies(struct signet_ca *ca, X509 *leaf, int purpose)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok;
	X509_STORE_add_cert(st, signet_ca_root(ca));
	/* Verify what is handed out (the DER), not the in-memory object: see
	 * test_signed_cert_has_public_key for why that differs. */
	X509 *copy = X509_dup(leaf);
	X509_STORE_CTX_init(ctx, st, copy, signet_ca_chain(ca));
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_X509_STRICT);
	if (purpose)
		X509_STORE_CTX_set_purpose(ctx, purpose);
	ok = X509_verify_cert(ctx);
	if (ok != 1)
		fprintf(stderr, "verify: %s\n",
			X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	X509_free(copy);
	ERR_clear_error();
	return ok == 1;
}

static void test_init_files(void **state)
{
	static const char *const files[] = { "root.crt", "root.key", "intermediate.crt",
					     "intermediate.key", "signet.db", "signet.json" };
	struct stat st;
	char p[400];
	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", cadir, files[i]);
		assert_int_equal(stat(p, &st), 0);
		if (strstr(files[i], ".key"))
			assert_int_equal(st.st_mode & 0777, 0600);
	}
}

static void test_init_refuses_existing(void **state)
{
	struct signet_err err = { 0 };
	struct signet_ca_init_opts o;
	(void)state;
	memset(&o, 0, sizeof(o));
	o.dir = cadir;
	o.name = "Again";
	assert_int_equal(signet_ca_init(&o, &err), -1);
	assert_int_equal(err.code, SIGNET_E_EXISTS);
}

static void test_open_not_a_ca(void **state)
{
	struct signet_err err = { 0 };
	(void)state;
	assert_null(signet_ca_open(base, &err));
	assert_int_equal(err.code, SIGNET_E_NOCA);
	assert_non_null(strstr(err.msg, "signet init"));
}

static void test_root_and_intermediate(void **state)
{
	struct signet_ca *ca = *state;
	X509 *root = signet_ca_root(ca), *inter = signet_ca_signer_cert(ca);
	assert_true(X509_check_ca(root) > 0);
	assert_int_equal(X509_get_pathlen(root), -1);
	assert_true(X509_get_extension_flags(root) & EXFLAG_SS);
	assert_int_equal(X509_get_pathlen(inter), 0);
	assert_int_equal(sk_X509_num(signet_ca_chain(ca)), 1);
	assert_int_equal(X509_check_issued(root, inter), X509_V_OK);
	assert_true(signet_ca_encrypted(ca));
	assert_true(verifies(ca, inter, 0));
}

static void test_unlock(void **state)
{
	struct signet_ca *ca = *state;
	struct signet_err err = { 0 };
	assert_null(signet_ca_signer_key(ca));
	assert_int_equal(signet_ca_unlock(ca, SIGNET_CA_ISSUER, "wrong", &err), -1);
	assert_int_equal(err.code, SIGNET_E_PASS);
	assert_null(signet_ca_signer_key(ca));
	assert_int_equal(signet_ca_unlock(ca, SIGNET_CA_ISSUER, NULL, &err), -1);
	assert_int_equal(err.code, SIGNET_E_PASS);
	assert_int_equal(signet_ca_unlock(ca, SIGNET_CA_ISSUER, "unit pass", &err), 0);
	assert_non_null(signet_ca_signer_key(ca));
}

/* The CA reads its certificates without their keys (cert_fast.c); what it
 * hands out has them, and the chain it writes is the file's. */
static void test_handed_out_certs_are_decoded(void **state)
{
	struct signet_ca *ca = *state;
	struct signet_err err = { 0 };
	char path[400], *pem = NULL;
	unsigned char *file = NULL;
	size_t len = 0, flen = 0;
	assert_non_null(X509_get0_pubkey(signet_ca_root(ca)));
	assert_non_null(X509_get0_pubkey(signet_ca_signer_cert(ca)));
	assert_int_equal(sk_X509_num(signet_ca_chain(ca)), 1);
	assert_ptr_equal(sk_X509_value(signet_ca_chain(ca), 0), signet_ca_signer_cert(ca));
	assert_int_equal(sk_X509_num(signet_ca_chain(ca)), 1); /* made once */
	assert_int_equal(signet_ca_chain_pem_append(ca, &pem, &len, &err), 0);
	snprintf(path, sizeof(path), "%s/intermediate.crt", cadir);
	assert_int_equal(signet_file_read(path, &file, &flen, &err), 0);
	assert_int_equal(len, flen);
	assert_memory_equal(pem, file, len);
	free(pem);
	free(file);
	/* Unlocked, the key is the decoded certificate's. */
	assert_int_equal(signet_ca_unlock(ca, SIGNET_CA_ISSUER, "unit pass", &err), 0);
	assert_true(signet_key_matches(signet_ca_signer_key(ca),
				       X509_get0_pubkey(signet_ca_signer_cert(ca))));
	assert_int_equal(signet_ca_unlock(ca, SIGNET_CA_ROOT, "unit pass", &err), 0);
	assert_true(signet_key_matches(signet_ca_signer_key(ca),
				       X509_get0_pubkey(signet_ca_root(ca))));
	assert_ptr_equal(signet_ca_signer_cert(ca), signet_ca_root(ca));
	assert_int_equal(sk_X509_num(signet_ca_chain(ca)), 0);
}

/* A key file swapped for another key (EC, compared by encoding; RSA, by
 * the decoded certificate's key) never becomes the signer. */
static void test_unlock_refuses_other_key(void **state)
{
	static const enum signet_key_type types[] = { SIGNET_KEY_EC_P256, SIGNET_KEY_EC_P384,
						      SIGNET_KEY_ED25519, SIGNET_KEY_RSA_2048 };
	char dir[300], cmd[1100], key[400];
	(void)state;
	snprintf(dir, sizeof(dir), "%s/swapped", base);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s' '%s'", dir, cadir, dir);
	assert_int_equal(system(cmd), 0);
	snprintf(key, sizeof(key), "%s/intermediate.key", dir);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct signet_err err = { 0 };
		EVP_PKEY *k = signet_key_generate(types[i], &err);
		struct signet_ca *ca;
		assert_non_null(k);
		assert_int_equal(signet_key_save(k, key, "unit pass", &err), 0);
		ca = signet_ca_open(dir, &err);
		assert_non_null(ca);
		assert_int_equal(signet_ca_unlock(ca, SIGNET_CA_ISSUER, "unit pass", &err), -1);
		assert_int_equal(err.code, SIGNET_E_PARSE);
		assert_non_null(strstr(err.msg, "does not match the CA certificate"));
		assert_null(signet_ca_signer_key(ca));
		signet_ca_free(ca);
		EVP_PKEY_free(k);
	}
}

static void test_sign_before_unlock(void **state)
{
	struct signet_err err = { 0 };
	EVP_PKEY *k = signet_key_generate(SIGNET_KEY_EC_P256, &err);
	X509_REQ *r = csr(k, "CN=a", "dns:a.example.com");
	assert_null(sign(*state, r, SIGNET_PROFILE_SERVER, 0, &err));
	assert_int_not_equal(err.code, SIGNET_OK);
	X509_REQ_free(r);
	EVP_PKEY_free(k);
}

static void test_sign_profiles(void **state)
{
	struct signet_ca *ca = *state;
	struct signet_err err = { 0 };
	EVP_PKEY *k = signet_key_generate(SIGNET_KEY_EC_P256, &err);
	X509_REQ *r = csr(k, "CN=svc", "dns:svc.example.com,ip:10.0.0.1");
	static const struct {
		enum signet_profile p;
		int purpose_ok, purpose_bad;
		uint32_t xku;
	} t[] = {
		{ SIGNET_PROFILE_SERVER, X509_PURPOSE_SSL_SERVER, X509_PURPOSE_SSL_CLIENT, XKU_SSL_SERVER },
		{ SIGNET_PROFILE_CLIENT, X509_PURPOSE_SSL_CLIENT, X509_PURPOSE_SSL_SERVER, XKU_SSL_CLIENT },
		{ SIGNET_PROFILE_PEER, X509_PURPOSE_SSL_CLIENT, 0, XKU_SSL_CLIENT | XKU_SSL_SERVER },
	};
	assert_int_equal(signet_ca_unlock(ca, SIGNET_CA_ISSUER, "unit pass", &err), 0);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		X509 *x = sign(ca, r, t[i].p, 30, &err);
		const ASN1_INTEGER *s;
		BIGNUM *bn;
		if (x == NULL)
			fail_msg("profile %d: %s", t[i].p, err.msg);
		assert_true(verifies(ca, x, t[i].purpose_ok));
		if (t[i].purpose_bad)
			assert_false(verifies(ca, x, t[i].purpose_bad));
		assert_int_equal(X509_check_ca(x), 0);
		assert_int_equal(X509_get_extended_key_usage(x), t[i].xku);
		assert_true(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE);
		assert_false(X509_get_key_usage(x) & KU_KEY_CERT_SIGN);
		assert_non_null(X509_get0_subject_key_id(x));
		assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(x),
						       X509_get0_subject_key_id(signet_ca_signer_cert(ca))),
				 0);
		s = X509_get0_serialNumber(x);
		bn = ASN1_INTEGER_to_BN(s, NULL);
		assert_false(BN_is_negative(bn));
		assert_true(BN_num_bits(bn) >= 64);
		assert_true(BN_num_bytes(bn) <= 20);
		BN_free(bn);
		X509_free(x);
	}
	X509_REQ_free(r);
	EVP_PKEY_free(k);
}

/* x's serial as its 18 octets (b), asserting their layout: the issuance
 * time / 4 (issued between before and after), then 112 random bits. */
static void serial_octets(X509 *x, time_t before, time_t after, unsigned char b[18])
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	uint32_t prefix;

	assert_non_null(bn);
	assert_int_equal(BN_num_bytes(bn), 18);
	assert_int_equal(BN_bn2binpad(bn, b, 18), 18);
	BN_free(bn);
	prefix = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	assert_true(prefix >= (uint32_t)(before / 4) && prefix <= (uint32_t)(after / 4));
}

static void test_serials_unique_and_recorded(void **state)
{
	struct signet_ca *ca = *state;
	struct signet_err err = { 0 };
	EVP_PKEY *k = signet_key_generate(SIGNET_KEY_EC_P256, &err);
	X509_REQ *r = csr(k, "CN=many", "dns:many.example.com");
	char serials[50][48];
	assert_int_equal(signet_ca_unlock(ca, SIGNET_CA_ISSUER, "unit pass", &err), 0);
	for (int i = 0; i < 50; i++) {
		time_t before = time(NULL);
		X509 *x = sign(ca, r, SIGNET_PROFILE_SERVER, 1, &err);
		time_t after = time(NULL);
		struct signet_record rec;
		unsigned char b[18];
		assert_non_null(x);
		signet_serial_hex(X509_get0_serialNumber(x), serials[i], sizeof(serials[i]));
		serial_octets(x, before, after, b);
		for (int j = 0; j < i; j++) {
			assert_string_not_equal(serials[i], serials[j]);
			/* the random parts differ, not just the time */
			assert_string_not_equal(serials[i] + 8, serials[j] + 8);
		}
		assert_int_equal(signet_db_get(signet_ca_db(ca), serials[i], &rec, &err), 0);
		assert_string_equal(rec.profile, "server");
		signet_record_clear(&rec);
		X509_free(x);
	}
	X509_REQ_free(r);
	EVP_PKEY_free(k);
}

static void test_weak_key_refused(void **state)
{
	struct signet_ca *ca = *state;
	struct signet_err err = { 0 };
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	X509_REQ *r = csr(k, "CN=weak", "dns:weak.example.com");
	assert_int_equal(signet_ca_unlock(ca, SIGNET_CA_ISSUER, "unit pass", &err), 0);
	assert_null(sign(ca, r, SIGNET_PROFILE_SERVER, 1, &err));
	assert_int_equal(err.code, SIGNET_E_POLICY);
	X509_REQ_free(r);
	EVP_PKEY_free(k);
	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
	r = csr(k, "CN=k1", "dns:k1.example.com");
	assert_null(sign(ca, r, SIGNET_PROFILE_SERVER, 1, &err));
	assert_int_equal(err.code, SIGNET_E_POLICY);
	X509_REQ_free(r);
	EVP_PKEY_free(k);
}

static void test_bad_signature_refused(void **state)
{
	struct signet_ca *ca = *state;
	struct signet_err err = { 0 };
	EVP_PKEY *k = signet_key_generate(SIGNET_KEY_EC_P256, &err);
	EVP_PKEY *other = signet_key_generate(SIGNET_KEY_EC_P256, &err);
	X509_REQ *r = csr(k, "CN=pop", "dns:pop.example.com");
	/* swap in another public key: the signature no longer matches */
	X509_REQ_set_pubkey(r, other);
	assert_int_equal(signet_ca_unlock(ca, SIGNET_CA_ISSUER, "unit pass", &err), 0);
	assert_null(sign(ca, r, SIGNET_PROFILE_SERVER, 1, &err));
	assert_int_equal(err.code, SIGNET_E_SIG);
	X509_REQ_free(r);
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
}

static void test_name_constraints(void **state)
{
	struct signet_ca *ca = *state;
	struct signet_err err = { 0 };
	EVP_PKEY *k = signet_key_generate(SIGNET_KEY_EC_P256, &err);
	X509_REQ *in = csr(k, "CN=in", "dns:in.example.com");
	X509_REQ *out = csr(k, "CN=out", "dns:out.example.org");
	X509_REQ *apex = csr(k, "CN=apex", "dns:example.com");
	X509 *x;
	assert_int_equal(signet_ca_unlock(ca, SIGNET_CA_ISSUER, "unit pass", &err), 0);
	x = sign(ca, in, SIGNET_PROFILE_SERVER, 1, &err);
	assert_non_null(x);
	assert_true(verifies(ca, x, X509_PURPOSE_SSL_SERVER));
	X509_free(x);
	assert_null(sign(ca, out, SIGNET_PROFILE_SERVER, 1, &err));
	assert_int_equal(err.code, SIGNET_E_POLICY);
	assert_non_null(strstr(err.msg, "out.example.org"));
	/* "dns:.example.com" is written as example.com (RFC 5280 has no
	 * leading-dot form), which covers the apex too. */
	x = sign(ca, apex, SIGNET_PROFILE_SERVER, 1, &err);
	assert_non_null(x);
	assert_true(verifies(ca, x, X509_PURPOSE_SSL_SERVER));
	X509_free(x);
	{
		NAME_CONSTRAINTS *nc = X509_get_ext_d2i(signet_ca_signer_cert(ca),
							 NID_name_constraints, NULL, NULL);
		const GENERAL_NAME *b;
		assert_non_null(nc);
		b = sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, 0)->base;
		assert_int_equal(b->type, GEN_DNS);
		assert_int_equal(ASN1_STRING_length(b->d.dNSName), 11);
		assert_memory_equal(ASN1_STRING_get0_data(b->d.dNSName), "example.com", 11);
		NAME_CONSTRAINTS_free(nc);
	}
	X509_REQ_free(in);
	X509_REQ_free(out);
	X509_REQ_free(apex);
	EVP_PKEY_free(k);
}

static void test_subca(void **state)
{
	struct signet_ca *ca = *state;
	struct signet_err err = { 0 };
	EVP_PKEY *k = signet_key_generate(SIGNET_KEY_EC_P256, &err);
	X509_REQ *r = csr(k, "CN=Team CA", NULL);
	X509 *x;
	/* the intermediate has pathlen:0 */
	assert_int_equal(signet_ca_unlock(ca, SIGNET_CA_ISSUER, "unit pass", &err), 0);
	assert_null(sign(ca, r, SIGNET_PROFILE_SUBCA, 30, &err));
	assert_int_equal(err.code, SIGNET_E_POLICY);
	assert_non_null(strstr(err.msg, "pathlen"));
	/* the root may */
	assert_int_equal(signet_ca_unlock(ca, SIGNET_CA_ROOT, "unit pass", &err), 0);
	x = sign(ca, r, SIGNET_PROFILE_SUBCA, 30, &err);
	assert_non_null(x);
	assert_true(X509_check_ca(x) > 0);
	assert_int_equal(X509_get_pathlen(x), 0);
	assert_int_equal(X509_get_extended_key_usage(x), UINT32_MAX); /* no EKU */
	assert_int_equal(sk_X509_num(signet_ca_chain(ca)), 0);
	assert_true(verifies(ca, x, 0));
	X509_free(x);
	X509_REQ_free(r);
	EVP_PKEY_free(k);
}

static void test_validity_limits(void **state)
{
	struct signet_ca *ca = *state;
	struct signet_err err = { 0 };
	EVP_PKEY *k = signet_key_generate(SIGNET_KEY_EC_P256, &err);
	X509_REQ *r = csr(k, "CN=v", "dns:v.example.com");
	X509 *x;
	time_t nb, na;
	assert_int_equal(signet_ca_unlock(ca, SIGNET_CA_ISSUER, "unit pass", &err), 0);
	assert_null(sign(ca, r, SIGNET_PROFILE_SERVER, 3000, &err));
	assert_int_equal(err.code, SIGNET_E_POLICY);
	assert_null(sign(ca, r, SIGNET_PROFILE_SERVER, -1, &err));
	x = sign(ca, r, SIGNET_PROFILE_SERVER, 10, &err);
	assert_non_null(x);
	signet_asn1_time_to_time(X509_get0_notBefore(x), &nb);
	signet_asn1_time_to_time(X509_get0_notAfter(x), &na);
	assert_true(na - time(NULL) <= 10 * 86400 && na - time(NULL) > 10 * 86400 - 60);
	assert_true(nb <= time(NULL));
	X509_free(x);
	X509_REQ_free(r);
	EVP_PKEY_free(k);
}

static void test_server_needs_san(void **state)
{
	struct signet_ca *ca = *state;
	struct signet_err err = { 0 };
	EVP_PKEY *k = signet_key_generate(SIGNET_KEY_EC_P256, &err);
	X509_REQ *r = csr(k, "CN=nosan.example.com", NULL);
	X509 *x;
	assert_int_equal(signet_ca_unlock(ca, SIGNET_CA_ISSUER, "unit pass", &err), 0);
	assert_null(sign(ca, r, SIGNET_PROFILE_SERVER, 1, &err));
	assert_int_equal(err.code, SIGNET_E_POLICY);
	x = sign(ca, r, SIGNET_PROFILE_CLIENT, 1, &err);
	assert_non_null(x);
	X509_free(x);
	X509_REQ_free(r);
	EVP_PKEY_free(k);
}

/*
 * Regression for a core bug: signet_ca_build copies the CSR's public key
 * as raw SubjectPublicKeyInfo bytes (X509_PUBKEY_set0_param), leaving the
 * X509_PUBKEY's decoded key NULL.  The certificate signet_ca_sign returns
 * then has X509_get0_pubkey() == NULL and X509_verify_cert() fails with
 * "unspecified certificate verification error", although its DER is fine.
 */
static void test_signed_cert_has_public_key(void **state)
{
	struct signet_ca *ca = *state;
	struct signet_err err = { 0 };
	EVP_PKEY *k = signet_key_generate(SIGNET_KEY_EC_P256, &err);
	X509_REQ *r = csr(k, "CN=pk", "dns:pk.example.com");
	X509 *x;
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	assert_int_equal(signet_ca_unlock(ca, SIGNET_CA_ISSUER, "unit pass", &err), 0);
	x = sign(ca, r, SIGNET_PROFILE_SERVER, 1, &err);
	assert_non_null(x);
	assert_non_null(X509_get0_pubkey(x));
	assert_true(signet_key_matches(k, X509_get0_pubkey(x)));
	X509_STORE_add_cert(st, signet_ca_root(ca));
	X509_STORE_CTX_init(ctx, st, x, signet_ca_chain(ca));
	assert_int_equal(X509_verify_cert(ctx), 1);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	ERR_clear_error();
	X509_free(x);
	X509_REQ_free(r);
	EVP_PKEY_free(k);
}

/* Signs r under profile p and says whether it was refused for policy;
 * what is signed must verify (the CA never hands out what verifiers
 * reject). */
static int refused(struct signet_ca *ca, X509_REQ *r, enum signet_profile p, const char *want)
{
	struct signet_err err = { 0 };
	X509 *x = sign(ca, r, p, 1, &err);
	if (x != NULL) {
		assert_true(verifies(ca, x, 0));
		X509_free(x);
		return 0;
	}
	assert_int_equal(err.code, SIGNET_E_POLICY);
	if (want != NULL && strstr(err.msg, want) == NULL)
		fail_msg("message '%s' does not name '%s'", err.msg, want);
	return 1;
}

/*
 * Regression: issuance enforced only the dns: constraints (read from the
 * config), so an ip:, email: or host-like CN outside the CA's name
 * constraints was signed and recorded although every verifier rejects
 * it; and wildcards were judged with the "*." cut off, so "*.example.com"
 * was refused under ".example.com" while "*.secret.example.com" passed an
 * excluded ".secret.example.com".
 */
static void test_name_constraints_all_types(void **state)
{
	static const char *const permit2[] = { "dns:.example.com", "ip:10.0.0.0/255.0.0.0",
					       "email:example.com" };
	static const char *const exclude2[] = { "dns:.secret.example.com",
						"dns:admin.example.com" };
	struct signet_err err = { 0 };
	struct signet_ca_init_opts o;
	struct signet_ca *ca;
	char dir[400];
	EVP_PKEY *k = signet_key_generate(SIGNET_KEY_EC_P256, &err);
	X509_REQ *r;
	(void)state;
	snprintf(dir, sizeof(dir), "%s/ca-nc", base);
	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.name = "NC Root CA";
	o.intermediate = 1;
	o.permit = permit2;
	o.n_permit = 3;
	o.exclude = exclude2;
	o.n_exclude = 2;
	assert_int_equal(signet_ca_init(&o, &err), 0);
	ca = signet_ca_open(dir, &err);
	assert_non_null(ca);
	assert_int_equal(signet_ca_unlock(ca, SIGNET_CA_ISSUER, NULL, &err), 0);

#define CASE(subj, sans, prof, want_refused, want_msg)                                 \
	r = csr(k, subj, sans);                                                        \
	assert_int_equal(refused(ca, r, prof, want_msg), want_refused);                 \
	X509_REQ_free(r)

	CASE("CN=a", "dns:a.example.com,ip:10.1.2.3", SIGNET_PROFILE_SERVER, 0, NULL);
	CASE("CN=a", "dns:a.example.com,ip:192.168.1.1", SIGNET_PROFILE_SERVER, 1, "ip:192.168.1.1");
	CASE("CN=a", "dns:a.example.com,ip:::1", SIGNET_PROFILE_SERVER, 1, "ip:::1");
	CASE("CN=a", "dns:a.example.com,email:a@example.com", SIGNET_PROFILE_PEER, 0, NULL);
	CASE("CN=a", "dns:a.example.com,email:a@evil.org", SIGNET_PROFILE_PEER, 1, "email:a@evil.org");
	CASE("CN=alice.example.com", NULL, SIGNET_PROFILE_CLIENT, 0, NULL);
	CASE("CN=alice.evil.org", NULL, SIGNET_PROFILE_CLIENT, 1, "alice.evil.org");
	CASE("CN=a", "dns:*.dev.example.com", SIGNET_PROFILE_SERVER, 0, NULL);
	CASE("CN=a", "dns:*.secret.example.com", SIGNET_PROFILE_SERVER, 1, "excluded");
	/* a wildcard that would also match an excluded host (secret.example.com,
	 * from ".secret.example.com", or admin.example.com) */
	CASE("CN=a", "dns:*.example.com", SIGNET_PROFILE_SERVER, 1, "would cover");
	/* ".secret.example.com" is written as secret.example.com: its apex too */
	CASE("CN=a", "dns:secret.example.com", SIGNET_PROFILE_SERVER, 1, "excluded");
#undef CASE
	signet_ca_free(ca);
	EVP_PKEY_free(k);
}

/* Regression: "*.example.com" is inside ".example.com" (OpenSSL agrees). */
static void test_name_constraints_wildcard_inside(void **state)
{
	struct signet_ca *ca = *state;
	struct signet_err err = { 0 };
	EVP_PKEY *k = signet_key_generate(SIGNET_KEY_EC_P256, &err);
	X509_REQ *r = csr(k, "CN=w", "dns:*.example.com");
	assert_int_equal(signet_ca_unlock(ca, SIGNET_CA_ISSUER, "unit pass", &err), 0);
	assert_int_equal(refused(ca, r, SIGNET_PROFILE_SERVER, NULL), 0);
	X509_REQ_free(r);
	EVP_PKEY_free(k);
}

/* One issuance through signet_ca_issue: the record's DER is the
 * certificate's own encoding, and it verifies as a server certificate. */
static void issue_one(struct signet_ca *ca, struct signet_issuer *is, X509_REQ *r,
		      EVP_PKEY *k, unsigned char *sig_out, int *sig_len)
{
	struct signet_err err = { 0 };
	struct signet_sign_req sr;
	struct signet_record rec;
	unsigned char *der = NULL;
	const unsigned char *p;
	const ASN1_BIT_STRING *sig;
	X509 *x, *y;
	int len;

	memset(&sr, 0, sizeof(sr));
	sr.csr = r;
	sr.csr_key = k;
	sr.profile = SIGNET_PROFILE_SERVER;
	sr.days = 30;
	sr.name = "issued";
	x = signet_ca_issue(ca, &sr, is, &rec, &err);
	if (x == NULL)
		fprintf(stderr, "issue: %s\n", err.msg);
	assert_non_null(x);
	len = i2d_X509(x, &der);
	assert_true(len > 0);
	assert_int_equal((size_t)len, rec.der_len);
	assert_memory_equal(der, rec.der, (size_t)len);
	p = rec.der;
	y = d2i_X509(NULL, &p, (long)rec.der_len);
	assert_non_null(y);
	assert_true(verifies(ca, y, X509_PURPOSE_SSL_SERVER));
	X509_get0_signature(&sig, NULL, y);
	*sig_len = ASN1_STRING_length(sig);
	assert_true(*sig_len <= 160);
	memcpy(sig_out, ASN1_STRING_get0_data(sig), (size_t)*sig_len);
	X509_free(y);
	X509_free(x);
	OPENSSL_free(der);
	signet_record_clear(&rec);
}

/* A thread's issuer signs what X509_sign would: the same encoding rules,
 * a signature that verifies, a fresh one every time; with an Ed25519 CA
 * key it falls back to X509_sign. */
static void issue_twice(struct signet_ca *ca, struct signet_issuer *is)
{
	struct signet_err err = { 0 };
	EVP_PKEY *k = signet_key_generate(SIGNET_KEY_EC_P256, &err);
	X509_REQ *r = csr(k, "CN=issued,O=Unit", "dns:issued.example.com,ip:10.0.0.1");
	unsigned char s1[160], s2[160];
	int l1, l2;

	issue_one(ca, is, r, k, s1, &l1);
	issue_one(ca, is, r, k, s2, &l2);
	assert_false(l1 == l2 && memcmp(s1, s2, (size_t)l1) == 0);
	X509_REQ_free(r);
	EVP_PKEY_free(k);
}

static void test_issue_with_issuer(void **state)
{
	struct signet_ca *ca = *state;
	struct signet_err err = { 0 };
	struct signet_issuer *is;

	assert_int_equal(signet_ca_unlock(ca, SIGNET_CA_ISSUER, "unit pass", &err), 0);
	is = signet_issuer_new(ca, &err);
	assert_non_null(is);
	issue_twice(ca, is);
	issue_twice(ca, NULL);
	signet_issuer_free(is);
}

/* An issuer draws serial randomness for 64 certificates at a time: over
 * 150 certificates (two refills) every serial still has its 18 octets,
 * the time in the first four and 112 random bits that no other serial
 * shares; and each record's fingerprint is the SHA-256 of its DER. */
static void test_issuer_serials(void **state)
{
	struct signet_ca *ca = *state;
	struct signet_err err = { 0 };
	EVP_PKEY *k = signet_key_generate(SIGNET_KEY_EC_P256, &err);
	X509_REQ *r = csr(k, "CN=pool", "dns:pool.example.com");
	static unsigned char rnd[150][14];
	struct signet_issuer *is;
	struct signet_sign_req sr;

	assert_int_equal(signet_ca_unlock(ca, SIGNET_CA_ISSUER, "unit pass", &err), 0);
	is = signet_issuer_new(ca, &err);
	assert_non_null(is);
	memset(&sr, 0, sizeof(sr));
	sr.csr = r;
	sr.csr_key = k;
	sr.profile = SIGNET_PROFILE_SERVER;
	for (int i = 0; i < 150; i++) {
		time_t before = time(NULL);
		struct signet_record rec;
		unsigned char b[18], md[32];
		char fp[65];
		X509 *x = signet_ca_issue(ca, &sr, is, &rec, &err);

		assert_non_null(x);
		serial_octets(x, before, time(NULL), b);
		memcpy(rnd[i], b + 4, 14);
		for (int j = 0; j < i; j++)
			assert_memory_not_equal(rnd[i], rnd[j], 14);
		assert_int_equal(EVP_Digest(rec.der, rec.der_len, md, NULL, EVP_sha256(), NULL), 1);
		for (int j = 0; j < 32; j++)
			snprintf(fp + 2 * j, 3, "%02x", md[j]);
		assert_string_equal(rec.fingerprint, fp);
		signet_record_clear(&rec);
		X509_free(x);
	}
	signet_issuer_free(is);
	X509_REQ_free(r);
	EVP_PKEY_free(k);
}

static void test_issue_ed25519_ca(void **state)
{
	struct signet_err err = { 0 };
	char dir[400];
	struct signet_ca_init_opts o = {
		.dir = dir, .name = "Unit Ed25519 CA", .key_type = SIGNET_KEY_ED25519,
		.intermediate = 1,
	};
	struct signet_ca *ca;
	struct signet_issuer *is;
	(void)state;

	snprintf(dir, sizeof(dir), "%s/ed-ca", base);
	assert_int_equal(signet_ca_init(&o, &err), 0);
	ca = signet_ca_open(dir, &err);
	assert_non_null(ca);
	assert_int_equal(signet_ca_unlock(ca, SIGNET_CA_ISSUER, NULL, &err), 0);
	is = signet_issuer_new(ca, &err);
	assert_non_null(is);
	issue_twice(ca, is);
	signet_issuer_free(is);
	signet_ca_free(ca);
}

/* csr_verified unset: signet_ca_issue checks the proof of possession. */
static void test_issue_checks_signature(void **state)
{
	struct signet_ca *ca = *state;
	struct signet_err err = { 0 };
	struct signet_sign_req sr;
	struct signet_record rec;
	struct signet_issuer *is;
	EVP_PKEY *k = signet_key_generate(SIGNET_KEY_EC_P256, &err);
	EVP_PKEY *other = signet_key_generate(SIGNET_KEY_EC_P256, &err);
	X509_REQ *r = csr(k, "CN=pop", "dns:pop.example.com");

	X509_REQ_set_pubkey(r, other);
	assert_int_equal(signet_ca_unlock(ca, SIGNET_CA_ISSUER, "unit pass", &err), 0);
	is = signet_issuer_new(ca, &err);
	assert_non_null(is);
	memset(&sr, 0, sizeof(sr));
	sr.csr = r;
	sr.profile = SIGNET_PROFILE_SERVER;
	assert_null(signet_ca_issue(ca, &sr, is, &rec, &err));
	assert_int_equal(err.code, SIGNET_E_SIG);
	signet_issuer_free(is);
	X509_REQ_free(r);
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_files),
		cmocka_unit_test(test_init_refuses_existing),
		cmocka_unit_test(test_open_not_a_ca),
		T(test_handed_out_certs_are_decoded),
		T(test_unlock_refuses_other_key),
		T(test_root_and_intermediate),
		T(test_unlock),
		T(test_sign_before_unlock),
		T(test_sign_profiles),
		T(test_serials_unique_and_recorded),
		T(test_weak_key_refused),
		T(test_bad_signature_refused),
		T(test_name_constraints),
		T(test_subca),
		T(test_validity_limits),
		T(test_server_needs_san),
		T(test_signed_cert_has_public_key),
		cmocka_unit_test(test_name_constraints_all_types),
		T(test_name_constraints_wildcard_inside),
		T(test_issue_with_issuer),
		T(test_issuer_serials),
		cmocka_unit_test(test_issue_ed25519_ca),
		T(test_issue_checks_signature),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
