/*
 * test_key_fast.c - the decoder-free readers behind the CA's issuing path:
 * key_fast.c (PKCS#8 EC and Ed25519 keys, plain and encrypted; what falls
 * back to OpenSSL's decoder; a wrong passphrase; a key whose public point
 * is not its scalar's; truncated and garbage input; matching a key to a
 * certificate by encoding) and cert_fast.c (a certificate read without its
 * key is the certificate that was read, or is not read at all).
 *
 * "Taken" means signet_key_parse_fast returned 1: it is the function
 * signet_key_parse calls first, and 0 is its only way to hand over to the
 * decoder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cert_int.h"
#include "key_int.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <signet/cert.h>
#include <signet/key.h>
#include <stdlib.h>
#include <string.h>

static char *pem_of(EVP_PKEY *k, const char *pass, size_t *len)
{
	struct signet_err err = { 0 };
	char *pem = NULL;
	assert_int_equal(signet_key_to_pem(k, pass, &pem, len, &err), 0);
	return pem;
}

/* Fast path result for k written with pass and read with again. */
static int fast(EVP_PKEY *k, const char *pass, const char *again, EVP_PKEY **out,
		struct signet_err *err)
{
	size_t len = 0;
	char *pem = pem_of(k, pass, &len);
	int r = signet_key_parse_fast((unsigned char *)pem, len, again, "t.key", out, err);
	signet_secret_free(pem, len);
	return r;
}

static void check_taken(enum signet_key_type t, const char *pass)
{
	struct signet_err err = { 0 };
	EVP_PKEY *k = signet_key_generate(t, &err), *back = NULL, *slow;
	size_t len = 0;
	char *pem;
	assert_non_null(k);
	assert_int_equal(fast(k, pass, pass, &back, &err), 1);
	assert_non_null(back);
	assert_true(signet_key_matches(k, back));
	assert_int_equal(EVP_PKEY_get_base_id(back), EVP_PKEY_get_base_id(k));
	assert_int_equal(EVP_PKEY_get_bits(back), EVP_PKEY_get_bits(k));
	assert_int_equal(signet_key_check_strength(back, &err), 0);
	/* The key signs, and what it signs verifies under the original. */
	{
		unsigned char sig[256], msg[] = "to be signed";
		size_t slen = sizeof(sig);
		EVP_MD_CTX *s = EVP_MD_CTX_new(), *v = EVP_MD_CTX_new();
		assert_int_equal(EVP_DigestSignInit(s, NULL, signet_key_digest(back), NULL, back), 1);
		assert_int_equal(EVP_DigestSign(s, sig, &slen, msg, sizeof(msg)), 1);
		assert_int_equal(EVP_DigestVerifyInit(v, NULL, signet_key_digest(k), NULL, k), 1);
		assert_int_equal(EVP_DigestVerify(v, sig, slen, msg, sizeof(msg)), 1);
		EVP_MD_CTX_free(s);
		EVP_MD_CTX_free(v);
	}
	/* signet_key_parse reads the same key (through the fast path). */
	pem = pem_of(k, pass, &len);
	slow = signet_key_parse((unsigned char *)pem, len, pass, "t.key", &err);
	signet_secret_free(pem, len);
	assert_non_null(slow);
	assert_true(signet_key_matches(slow, back));
	EVP_PKEY_free(slow);
	EVP_PKEY_free(back);
	EVP_PKEY_free(k);
}

static void test_ec_p256(void **state)
{
	(void)state;
	check_taken(SIGNET_KEY_EC_P256, NULL);
	check_taken(SIGNET_KEY_EC_P256, "pass phrase");
}

static void test_ec_p384(void **state)
{
	(void)state;
	check_taken(SIGNET_KEY_EC_P384, NULL);
	check_taken(SIGNET_KEY_EC_P384, "pass phrase");
}

static void test_ed25519(void **state)
{
	(void)state;
	check_taken(SIGNET_KEY_ED25519, NULL);
	check_taken(SIGNET_KEY_ED25519, "pass phrase");
}

static void test_rsa_falls_back(void **state)
{
	struct signet_err err = { 0 };
	EVP_PKEY *k = signet_key_generate(SIGNET_KEY_RSA_2048, &err), *back = NULL;
	size_t len = 0;
	char *pem;
	(void)state;
	assert_int_equal(fast(k, NULL, NULL, &back, &err), 0);
	assert_null(back);
	assert_int_equal(fast(k, "pw", "pw", &back, &err), 0);
	assert_null(back);
	pem = pem_of(k, "pw", &len);
	back = signet_key_parse((unsigned char *)pem, len, "pw", "t.key", &err);
	signet_secret_free(pem, len);
	assert_non_null(back);
	assert_true(signet_key_matches(k, back));
	EVP_PKEY_free(back);
	EVP_PKEY_free(k);
}

static void test_wrong_passphrase(void **state)
{
	struct signet_err err = { 0 };
	EVP_PKEY *k = signet_key_generate(SIGNET_KEY_EC_P256, &err), *back = NULL;
	size_t len = 0;
	char *pem;
	(void)state;
	assert_int_equal(fast(k, "right", "wrong", &back, &err), -1);
	assert_null(back);
	assert_int_equal(err.code, SIGNET_E_PASS);
	assert_string_equal(err.msg, "t.key: wrong passphrase (or the key file is damaged)");
	/* Through signet_key_parse: the same error, and for an empty one too. */
	pem = pem_of(k, "right", &len);
	assert_null(signet_key_parse((unsigned char *)pem, len, "wrong", "t.key", &err));
	assert_int_equal(err.code, SIGNET_E_PASS);
	assert_null(signet_key_parse((unsigned char *)pem, len, "", "t.key", &err));
	assert_int_equal(err.code, SIGNET_E_PASS);
	assert_null(signet_key_parse((unsigned char *)pem, len, NULL, "t.key", &err));
	assert_int_equal(err.code, SIGNET_E_PASS);
	signet_secret_free(pem, len);
	EVP_PKEY_free(k);
}

/* The PKCS#8 DER of k, unencrypted. */
static unsigned char *p8_der(EVP_PKEY *k, int *len)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(k);
	unsigned char *der = NULL;
	assert_non_null(p8);
	*len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
	assert_true(*len > 0);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return der;
}

static int fast_der(const unsigned char *der, int len, const char *label, EVP_PKEY **out,
		    struct signet_err *err)
{
	struct signet_err e2 = { 0 };
	char *pem = NULL;
	size_t plen = 0;
	int r;
	assert_int_equal(signet_pem_encode(label, der, (size_t)len, &pem, &plen, &e2), 0);
	r = signet_key_parse_fast((unsigned char *)pem, plen, NULL, "t.key", out, err);
	free(pem);
	return r;
}

static void test_inconsistent_point_refused(void **state)
{
	struct signet_err err = { 0 };
	EVP_PKEY *a = signet_key_generate(SIGNET_KEY_EC_P256, &err);
	EVP_PKEY *b = signet_key_generate(SIGNET_KEY_EC_P256, &err), *back = NULL;
	unsigned char pa[65], pb[65], *der, *at;
	size_t la = 0, lb = 0;
	int len;
	(void)state;
	assert_true(EVP_PKEY_get_octet_string_param(a, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pa,
						    sizeof(pa), &la));
	assert_true(EVP_PKEY_get_octet_string_param(b, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pb,
						    sizeof(pb), &lb));
	assert_int_equal(la, 65);
	assert_int_equal(lb, 65);
	/* a's scalar with b's point: a file that would match b's certificate
	 * but sign as a. */
	der = p8_der(a, &len);
	at = memmem(der, (size_t)len, pa, la);
	assert_non_null(at);
	memcpy(at, pb, lb);
	assert_int_equal(fast_der(der, len, "PRIVATE KEY", &back, &err), -1);
	assert_null(back);
	assert_int_equal(err.code, SIGNET_E_PARSE);
	assert_non_null(strstr(err.msg, "damaged private key"));
	OPENSSL_free(der);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
}

static void test_unusual_ec_falls_back(void **state)
{
	struct signet_err err = { 0 };
	EVP_PKEY *k = signet_key_generate(SIGNET_KEY_EC_P256, &err), *back = NULL;
	BIGNUM *d = NULL;
	unsigned char der[2 + 65], *cder;
	size_t plen = 0;
	char *pem;
	int len;
	(void)state;
	/* No public point in the ECPrivateKey: OpenSSL derives it, we do not. */
	static const unsigned char head[] = {
		0x30, 0x41, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce,
		0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
		0x04, 0x27, 0x30, 0x25, 0x02, 0x01, 0x01, 0x04, 0x20,
	};
	assert_true(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &d));
	memcpy(der, head, sizeof(head));
	assert_int_equal(BN_bn2binpad(d, der + sizeof(head), 32), 32);
	len = (int)sizeof(head) + 32;
	assert_int_equal(fast_der(der, len, "PRIVATE KEY", &back, &err), 0);
	assert_int_equal(signet_pem_encode("PRIVATE KEY", der, (size_t)len, &pem, &plen, &err), 0);
	back = signet_key_parse((unsigned char *)pem, plen, NULL, "t.key", &err);
	free(pem);
	assert_non_null(back);
	assert_true(signet_key_matches(k, back));
	EVP_PKEY_free(back);
	back = NULL;
	OPENSSL_cleanse(der, sizeof(der));
	BN_clear_free(d);

	/* A compressed public point. */
	assert_true(EVP_PKEY_set_utf8_string_param(k, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
						   "compressed"));
	cder = p8_der(k, &len);
	assert_int_equal(fast_der(cder, len, "PRIVATE KEY", &back, &err), 0);
	assert_null(back);
	OPENSSL_free(cder);

	/* A traditional "EC PRIVATE KEY" file. */
	{
		BIO *bio = BIO_new(BIO_s_mem());
		char *data;
		long n;
		assert_true(PEM_write_bio_PrivateKey_traditional(bio, k, NULL, NULL, 0, NULL,
								  NULL));
		n = BIO_get_mem_data(bio, &data);
		assert_int_equal(signet_key_parse_fast((unsigned char *)data, (size_t)n, NULL,
						       "t.key", &back, &err),
				 0);
		back = signet_key_parse((unsigned char *)data, (size_t)n, NULL, "t.key", &err);
		assert_non_null(back);
		EVP_PKEY_free(back);
		BIO_free(bio);
	}
	EVP_PKEY_free(k);
}

static void test_truncated_and_garbage(void **state)
{
	struct signet_err err = { 0 };
	EVP_PKEY *k = signet_key_generate(SIGNET_KEY_EC_P384, &err), *back = NULL;
	unsigned char junk[300];
	size_t len = 0;
	char *pem;
	int dlen;
	unsigned char *der;
	(void)state;
	pem = pem_of(k, NULL, &len);
	/* Every cut of the PEM is either not read here or an error, never a
	 * crash, and signet_key_parse says what is wrong. */
	/* (the last cut kept is "-----END PRIVATE KEY---": still broken) */
	for (size_t cut = 0; cut + 1 < len; cut += 7) {
		back = NULL;
		assert_int_equal(signet_key_parse_fast((unsigned char *)pem, cut, NULL, "t.key",
						       &back, &err),
				 0);
		assert_null(back);
		back = signet_key_parse((unsigned char *)pem, cut, NULL, "t.key", &err);
		assert_null(back);
		assert_int_equal(err.code, SIGNET_E_PARSE);
	}
	signet_secret_free(pem, len);
	/* Every cut of the DER inside a well-formed PEM. */
	der = p8_der(k, &dlen);
	for (int cut = 1; cut < dlen; cut++) {
		back = NULL;
		assert_int_equal(fast_der(der, cut, "PRIVATE KEY", &back, &err), 0);
		assert_null(back);
	}
	/* Every single-byte flip: read correctly, refused, or handed over. */
	for (int i = 0; i < dlen; i++) {
		int r;
		der[i] ^= 0x01;
		back = NULL;
		r = fast_der(der, dlen, "PRIVATE KEY", &back, &err);
		assert_true(r == 0 || r == -1 || (r == 1 && back != NULL));
		EVP_PKEY_free(back);
		der[i] ^= 0x01;
	}
	OPENSSL_free(der);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 37 + 11);
	assert_int_equal(fast_der(junk, sizeof(junk), "PRIVATE KEY", &back, &err), 0);
	assert_int_equal(fast_der(junk, sizeof(junk), "ENCRYPTED PRIVATE KEY", &back, &err), 0);
	assert_int_equal(signet_key_parse_fast(junk, sizeof(junk), NULL, "t.key", &back, &err), 0);
	EVP_PKEY_free(k);
}

/* A self-signed certificate for key k, as DER. */
static unsigned char *cert_der(EVP_PKEY *k, int *len)
{
	struct signet_err err = { 0 };
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	unsigned char *der = NULL;
	BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
	assert_true(X509_set_version(x, X509_VERSION_3));
	assert_true(ASN1_INTEGER_set(X509_get_serialNumber(x), 4242));
	assert_true(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
					       (const unsigned char *)"Fast CA", -1, -1, 0));
	assert_true(X509_set_subject_name(x, n) && X509_set_issuer_name(x, n));
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	assert_true(X509_set_pubkey(x, k));
	bc->ca = 1;
	bc->pathlen = ASN1_INTEGER_new();
	assert_true(ASN1_INTEGER_set(bc->pathlen, 0));
	assert_int_equal(X509_add1_ext_i2d(x, NID_basic_constraints, bc, 1, 0), 1);
	assert_true(X509_sign(x, k, signet_key_digest(k)) > 0);
	*len = i2d_X509(x, &der);
	assert_true(*len > 0);
	(void)err;
	BASIC_CONSTRAINTS_free(bc);
	X509_NAME_free(n);
	X509_free(x);
	return der;
}

static void test_cert_light(void **state)
{
	static const enum signet_key_type types[] = { SIGNET_KEY_EC_P256, SIGNET_KEY_EC_P384,
						      SIGNET_KEY_ED25519, SIGNET_KEY_RSA_2048 };
	(void)state;
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		struct signet_err err = { 0 };
		EVP_PKEY *k = signet_key_generate(types[t], &err);
		EVP_PKEY *other = signet_key_generate(types[t], &err);
		unsigned char *der, *back = NULL;
		const unsigned char *p;
		X509 *light, *full;
		char f1[65], f2[65];
		int len, n;

		der = cert_der(k, &len);
		p = der;
		light = signet_cert_d2i_light(&p, len);
		assert_non_null(light);
		assert_ptr_equal(p, der + len);
		p = der;
		full = d2i_X509(NULL, &p, len);
		assert_non_null(full);
		/* The same certificate, but for the decoded key. */
		n = i2d_X509(light, &back);
		assert_int_equal(n, len);
		assert_memory_equal(back, der, (size_t)len);
		OPENSSL_free(back);
		ERR_set_mark();
		assert_null(X509_get0_pubkey(light));
		ERR_pop_to_mark();
		assert_non_null(X509_get0_pubkey(full));
		assert_int_equal(X509_cmp(light, full), 0);
		assert_int_equal(X509_NAME_cmp(X509_get_subject_name(light),
					       X509_get_subject_name(full)), 0);
		assert_int_equal(X509_get_pathlen(light), 0);
		assert_int_equal(signet_cert_fingerprint(light, f1), 0);
		assert_int_equal(signet_cert_fingerprint(full, f2), 0);
		assert_string_equal(f1, f2);
		/* Matching by encoding: EC and Ed25519 only, never a wrong key. */
		assert_int_equal(signet_key_matches_spki(k, light),
				 EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA);
		assert_false(signet_key_matches_spki(other, light));
		assert_false(signet_key_matches_spki(other, full));
		/* Every cut is refused (d2i_X509 then says why). */
		for (int cut = 0; cut < len; cut += 3) {
			p = der;
			assert_null(signet_cert_d2i_light(&p, cut));
			assert_ptr_equal(p, der);
		}
		OPENSSL_free(der);
		X509_free(light);
		X509_free(full);
		EVP_PKEY_free(k);
		EVP_PKEY_free(other);
	}
}

static void test_cert_light_refuses_other_encodings(void **state)
{
	struct signet_err err = { 0 };
	EVP_PKEY *k = signet_key_generate(SIGNET_KEY_EC_P256, &err);
	unsigned char *der, *ber;
	const unsigned char *p;
	X509 *x;
	int len;
	(void)state;
	der = cert_der(k, &len);
	/* The outer SEQUENCE's length in long form: valid BER, not DER. */
	assert_true(der[1] == 0x82);
	ber = malloc((size_t)len + 1);
	ber[0] = 0x30;
	ber[1] = 0x83;
	ber[2] = 0x00;
	memcpy(ber + 3, der + 2, (size_t)len - 2);
	p = ber;
	x = signet_cert_d2i_light(&p, len + 1);
	assert_null(x);
	free(ber);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ec_p256),
		cmocka_unit_test(test_ec_p384),
		cmocka_unit_test(test_ed25519),
		cmocka_unit_test(test_rsa_falls_back),
		cmocka_unit_test(test_wrong_passphrase),
		cmocka_unit_test(test_inconsistent_point_refused),
		cmocka_unit_test(test_unusual_ec_falls_back),
		cmocka_unit_test(test_truncated_and_garbage),
		cmocka_unit_test(test_cert_light),
		cmocka_unit_test(test_cert_light_refuses_other_encodings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
