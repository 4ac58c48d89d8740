/*
 * test_key.c - key generation for every type, PKCS#8 PEM round trips plain
 * and encrypted, the passphrase errors, and the strength policy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <signet/key.h>
#include <string.h>

static EVP_PKEY *roundtrip(EVP_PKEY *k, const char *pass, const char *again)
{
	struct signet_err err = { 0 };
	char *pem = NULL;
	size_t len = 0;
	EVP_PKEY *back;
	assert_int_equal(signet_key_to_pem(k, pass, &pem, &len, &err), 0);
	assert_int_equal(strlen(pem), len);
	if (pass != NULL) {
		assert_non_null(strstr(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----"));
		assert_true(signet_key_pem_is_encrypted((unsigned char *)pem, len));
	} else {
		assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
		assert_false(signet_key_pem_is_encrypted((unsigned char *)pem, len));
	}
	back = signet_key_parse((unsigned char *)pem, len, again, "test.key", &err);
	signet_secret_free(pem, len);
	return back;
}

static void test_types(void **state)
{
	static const struct {
		const char *name;
		const char *desc;
	} t[] = {
		{ "ec-p256", "EC P-256" }, { "ec-p384", "EC P-384" },
		{ "ed25519", "Ed25519" },  { "rsa-2048", "RSA 2048" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct signet_err err = { 0 };
		enum signet_key_type kt;
		char desc[64];
		EVP_PKEY *k, *back;
		assert_int_equal(signet_key_type_parse(t[i].name, &kt, &err), 0);
		assert_string_equal(signet_key_type_name(kt), t[i].name);
		k = signet_key_generate(kt, &err);
		assert_non_null(k);
		signet_key_describe(k, desc, sizeof(desc));
		assert_string_equal(desc, t[i].desc);
		assert_int_equal(signet_key_check_strength(k, &err), 0);
		back = roundtrip(k, NULL, NULL);
		assert_non_null(back);
		assert_true(signet_key_matches(k, back));
		EVP_PKEY_free(back);
		EVP_PKEY_free(k);
	}
}

static void test_type_parse_unknown(void **state)
{
	struct signet_err err = { 0 };
	enum signet_key_type kt;
	(void)state;
	assert_int_equal(signet_key_type_parse("dsa", &kt, &err), -1);
	assert_int_equal(err.code, SIGNET_E_USAGE);
	assert_int_equal(signet_key_type_parse("EC-P256", &kt, &err), -1);
}

static void test_encrypted_roundtrip(void **state)
{
	struct signet_err err = { 0 };
	EVP_PKEY *k = signet_key_generate(SIGNET_KEY_EC_P256, &err), *back;
	(void)state;
	back = roundtrip(k, "s3cret", "s3cret");
	assert_non_null(back);
	assert_true(signet_key_matches(k, back));
	EVP_PKEY_free(back);
	EVP_PKEY_free(k);
}

static void test_encrypted_is_scrypt_aes256(void **state)
{
	struct signet_err err = { 0 };
	EVP_PKEY *k = signet_key_generate(SIGNET_KEY_ED25519, &err);
	char *pem = NULL;
	size_t len = 0;
	BIO *b;
	X509_SIG *p8;
	const X509_ALGOR *alg;
	const ASN1_OCTET_STRING *digest;
	(void)state;
	assert_int_equal(signet_key_to_pem(k, "pw", &pem, &len, &err), 0);
	b = BIO_new_mem_buf(pem, (int)len);
	p8 = PEM_read_bio_PKCS8(b, NULL, NULL, NULL);
	assert_non_null(p8);
	X509_SIG_get0(p8, &alg, &digest);
	assert_int_equal(OBJ_obj2nid(alg->algorithm), NID_pbes2);
	/* the scrypt OID and aes-256-cbc appear in the PBES2 parameters */
	{
		unsigned char *der = NULL;
		int n = i2d_X509_ALGOR((X509_ALGOR *)alg, &der);
		static const unsigned char scrypt_oid[] = { 0x2b, 0x06, 0x01, 0x04, 0x01,
							    0xda, 0x47, 0x04, 0x0b };
		static const unsigned char aes256cbc[] = { 0x60, 0x86, 0x48, 0x01, 0x65,
							   0x03, 0x04, 0x01, 0x2a };
		assert_true(n > 0);
		assert_non_null(memmem(der, (size_t)n, scrypt_oid, sizeof(scrypt_oid)));
		assert_non_null(memmem(der, (size_t)n, aes256cbc, sizeof(aes256cbc)));
		OPENSSL_free(der);
	}
	X509_SIG_free(p8);
	BIO_free(b);
	signet_secret_free(pem, len);
	EVP_PKEY_free(k);
}

static void test_wrong_and_missing_pass(void **state)
{
	struct signet_err err = { 0 };
	EVP_PKEY *k = signet_key_generate(SIGNET_KEY_EC_P256, &err), *back;
	char *pem = NULL;
	size_t len = 0;
	(void)state;
	assert_int_equal(signet_key_to_pem(k, "right", &pem, &len, &err), 0);
	back = signet_key_parse((unsigned char *)pem, len, "wrong", "x.key", &err);
	assert_null(back);
	assert_int_equal(err.code, SIGNET_E_PASS);
	assert_non_null(strstr(err.msg, "x.key"));
	assert_non_null(strstr(err.msg, "wrong passphrase"));
	back = signet_key_parse((unsigned char *)pem, len, NULL, "x.key", &err);
	assert_null(back);
	assert_int_equal(err.code, SIGNET_E_PASS);
	assert_non_null(strstr(err.msg, "encrypted"));
	/* the error queue is left empty at the API boundary */
	assert_int_equal(ERR_peek_error(), 0);
	signet_secret_free(pem, len);
	EVP_PKEY_free(k);
}

static void test_parse_errors(void **state)
{
	struct signet_err err = { 0 };
	static const char cert_pem[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
	static const char garbage[] = "not a key at all";
	static const char bad_pem[] = "-----BEGIN PRIVATE KEY-----\n@@@@\n-----END PRIVATE KEY-----\n";
	(void)state;
	assert_null(signet_key_parse((const unsigned char *)"", 0, NULL, "e.key", &err));
	assert_int_equal(err.code, SIGNET_E_PARSE);
	assert_null(signet_key_parse((const unsigned char *)cert_pem, sizeof(cert_pem) - 1, NULL,
				     "c.pem", &err));
	assert_int_equal(err.code, SIGNET_E_PARSE);
	assert_non_null(strstr(err.msg, "not a private key"));
	assert_null(signet_key_parse((const unsigned char *)garbage, sizeof(garbage) - 1, NULL,
				     "g.key", &err));
	assert_int_equal(err.code, SIGNET_E_PARSE);
	assert_null(signet_key_parse((const unsigned char *)bad_pem, sizeof(bad_pem) - 1, NULL,
				     "b.key", &err));
	assert_int_equal(err.code, SIGNET_E_PARSE);
	assert_non_null(strstr(err.msg, "b.key"));
}

static void test_der_and_traditional(void **state)
{
	struct signet_err err = { 0 };
	EVP_PKEY *k = signet_key_generate(SIGNET_KEY_EC_P256, &err), *back;
	unsigned char *der = NULL;
	int n;
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long plen;
	(void)state;
	n = i2d_PrivateKey(k, &der);
	assert_true(n > 0);
	back = signet_key_parse(der, (size_t)n, NULL, "k.der", &err);
	assert_non_null(back);
	assert_true(signet_key_matches(k, back));
	EVP_PKEY_free(back);
	OPENSSL_free(der);
	/* "BEGIN EC PRIVATE KEY", as `openssl ecparam -genkey` writes */
	assert_true(PEM_write_bio_PrivateKey_traditional(b, k, NULL, NULL, 0, NULL, NULL));
	plen = BIO_get_mem_data(b, &p);
	back = signet_key_parse((unsigned char *)p, (size_t)plen, NULL, "t.key", &err);
	assert_non_null(back);
	assert_true(signet_key_matches(k, back));
	EVP_PKEY_free(back);
	BIO_free(b);
	EVP_PKEY_free(k);
}

static void test_strength_policy(void **state)
{
	struct signet_err err = { 0 };
	EVP_PKEY *k;
	(void)state;
	k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	assert_non_null(k);
	assert_int_equal(signet_key_check_strength(k, &err), -1);
	assert_int_equal(err.code, SIGNET_E_POLICY);
	assert_non_null(strstr(err.msg, "1024"));
	EVP_PKEY_free(k);
	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
	assert_non_null(k);
	assert_int_equal(signet_key_check_strength(k, &err), -1);
	assert_int_equal(err.code, SIGNET_E_POLICY);
	assert_non_null(strstr(err.msg, "secp256k1"));
	EVP_PKEY_free(k);
	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
	assert_int_equal(signet_key_check_strength(k, &err), 0);
	EVP_PKEY_free(k);
	k = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
	assert_int_equal(signet_key_check_strength(k, &err), 0);
	EVP_PKEY_free(k);
	k = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	assert_int_equal(signet_key_check_strength(k, &err), -1);
	assert_int_equal(err.code, SIGNET_E_POLICY);
	EVP_PKEY_free(k);
}

static void test_digest_and_match(void **state)
{
	struct signet_err err = { 0 };
	EVP_PKEY *a = signet_key_generate(SIGNET_KEY_EC_P256, &err);
	EVP_PKEY *b = signet_key_generate(SIGNET_KEY_EC_P256, &err);
	EVP_PKEY *c = signet_key_generate(SIGNET_KEY_EC_P384, &err);
	EVP_PKEY *e = signet_key_generate(SIGNET_KEY_ED25519, &err);
	(void)state;
	assert_ptr_equal(signet_key_digest(a), EVP_sha256());
	assert_ptr_equal(signet_key_digest(c), EVP_sha384());
	assert_null(signet_key_digest(e));
	assert_true(signet_key_matches(a, a));
	assert_false(signet_key_matches(a, b));
	assert_false(signet_key_matches(a, c));
	assert_false(signet_key_matches(a, e));
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	EVP_PKEY_free(c);
	EVP_PKEY_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_type_parse_unknown),
		cmocka_unit_test(test_encrypted_roundtrip),
		cmocka_unit_test(test_encrypted_is_scrypt_aes256),
		cmocka_unit_test(test_wrong_and_missing_pass),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_der_and_traditional),
		cmocka_unit_test(test_strength_policy),
		cmocka_unit_test(test_digest_and_match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
