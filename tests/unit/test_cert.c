/*
 * test_cert.c - loading certificates (one or many PEM blocks, DER), CSRs and
 * CRLs; wrong PEM labels named in the message; serial helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <signet/cert.h>
#include <signet/csr.h>
#include <signet/key.h>
#include <stdlib.h>
#include <string.h>

static EVP_PKEY *key;

static X509 *make_cert(const char *cn, long serial)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, n);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	X509_sign(x, key, EVP_sha256());
	X509_NAME_free(n);
	return x;
}

static char *pem_of(X509 *x, size_t *len)
{
	struct signet_err err = { 0 };
	char *buf = NULL;
	*len = 0;
	assert_int_equal(signet_cert_pem_append(x, &buf, len, &err), 0);
	return buf;
}

static int setup(void **state)
{
	struct signet_err err = { 0 };
	(void)state;
	key = signet_key_generate(SIGNET_KEY_EC_P256, &err);
	return key ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(key);
	return 0;
}

static void test_multi_pem(void **state)
{
	struct signet_err err = { 0 };
	X509 *a = make_cert("a", 1), *b = make_cert("b", 2), *c = make_cert("c", 3);
	size_t len = 0;
	char *buf = NULL;
	STACK_OF(X509) *sk;
	(void)state;
	signet_cert_pem_append(a, &buf, &len, &err);
	signet_cert_pem_append(b, &buf, &len, &err);
	signet_cert_pem_append(c, &buf, &len, &err);
	assert_int_equal(strlen(buf), len);
	sk = signet_certs_parse((unsigned char *)buf, len, "chain.pem", &err);
	assert_non_null(sk);
	assert_int_equal(sk_X509_num(sk), 3);
	assert_int_equal(X509_cmp(sk_X509_value(sk, 0), a), 0);
	assert_int_equal(X509_cmp(sk_X509_value(sk, 2), c), 0);
	sk_X509_pop_free(sk, X509_free);
	free(buf);
	X509_free(a);
	X509_free(b);
	X509_free(c);
}

static void test_pem_with_text_around(void **state)
{
	struct signet_err err = { 0 };
	X509 *a = make_cert("a", 1);
	size_t len;
	char *pem = pem_of(a, &len), *buf = malloc(len + 100);
	STACK_OF(X509) *sk;
	(void)state;
	snprintf(buf, len + 100, "subject=CN=a\n%s\n", pem);
	sk = signet_certs_parse((unsigned char *)buf, strlen(buf), "t.pem", &err);
	assert_non_null(sk);
	assert_int_equal(sk_X509_num(sk), 1);
	sk_X509_pop_free(sk, X509_free);
	free(buf);
	free(pem);
	X509_free(a);
}

static void test_wrong_label(void **state)
{
	struct signet_err err = { 0 };
	char *kpem = NULL, *buf = NULL;
	size_t klen = 0, len = 0;
	X509 *a = make_cert("a", 1);
	(void)state;
	assert_int_equal(signet_key_to_pem(key, NULL, &kpem, &klen, &err), 0);
	assert_null(signet_certs_parse((unsigned char *)kpem, klen, "k.pem", &err));
	assert_int_equal(err.code, SIGNET_E_PARSE);
	assert_non_null(strstr(err.msg, "k.pem"));
	assert_non_null(strstr(err.msg, "PRIVATE KEY"));
	/* a certificate followed by a key: the whole file is refused */
	signet_cert_pem_append(a, &buf, &len, &err);
	buf = realloc(buf, len + klen + 1);
	memcpy(buf + len, kpem, klen + 1);
	assert_null(signet_certs_parse((unsigned char *)buf, len + klen, "mix.pem", &err));
	assert_int_equal(err.code, SIGNET_E_PARSE);
	/* a key where a CSR belongs */
	assert_null(signet_csr_parse((unsigned char *)kpem, klen, "k.csr", &err));
	assert_int_equal(err.code, SIGNET_E_PARSE);
	assert_non_null(strstr(err.msg, "certificate signing request"));
	/* a certificate where a CRL belongs */
	assert_null(signet_crl_parse((unsigned char *)buf, len, "c.crl", &err));
	assert_int_equal(err.code, SIGNET_E_PARSE);
	assert_non_null(strstr(err.msg, "CERTIFICATE"));
	assert_int_equal(ERR_peek_error(), 0);
	signet_secret_free(kpem, klen);
	free(buf);
	X509_free(a);
}

static void test_der(void **state)
{
	struct signet_err err = { 0 };
	X509 *a = make_cert("der", 77);
	unsigned char *der = NULL;
	int n = i2d_X509(a, &der);
	STACK_OF(X509) *sk;
	(void)state;
	sk = signet_certs_parse(der, (size_t)n, "a.der", &err);
	assert_non_null(sk);
	assert_int_equal(sk_X509_num(sk), 1);
	assert_int_equal(X509_cmp(sk_X509_value(sk, 0), a), 0);
	sk_X509_pop_free(sk, X509_free);
	/* truncated */
	assert_null(signet_certs_parse(der, (size_t)n - 10, "t.der", &err));
	assert_int_equal(err.code, SIGNET_E_PARSE);
	assert_non_null(strstr(err.msg, "t.der"));
	/* empty */
	assert_null(signet_certs_parse(der, 0, "e.der", &err));
	assert_int_equal(err.code, SIGNET_E_PARSE);
	OPENSSL_free(der);
	X509_free(a);
}

static void test_csr_pem_der(void **state)
{
	struct signet_err err = { 0 };
	X509_REQ *r = X509_REQ_new(), *back;
	unsigned char *der = NULL;
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long plen;
	int n;
	(void)state;
	X509_REQ_set_pubkey(r, key);
	X509_REQ_sign(r, key, EVP_sha256());
	PEM_write_bio_X509_REQ(b, r);
	plen = BIO_get_mem_data(b, &p);
	back = signet_csr_parse((unsigned char *)p, (size_t)plen, "r.csr", &err);
	assert_non_null(back);
	X509_REQ_free(back);
	n = i2d_X509_REQ(r, &der);
	back = signet_csr_parse(der, (size_t)n, "r.der", &err);
	assert_non_null(back);
	X509_REQ_free(back);
	assert_null(signet_csr_parse(der, (size_t)n / 2, "half.der", &err));
	assert_int_equal(err.code, SIGNET_E_PARSE);
	OPENSSL_free(der);
	BIO_free(b);
	X509_REQ_free(r);
}

/* A request with a SAN extension signed with digest md (NULL: the key
 * type's own, as Ed25519 has it), as DER. */
static unsigned char *csr_der_md(EVP_PKEY *k, const EVP_MD *md, int *len)
{
	X509_REQ *r = X509_REQ_new();
	X509_NAME *n = X509_NAME_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_EXTENSION *san = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
						  "DNS:a.example,IP:10.0.0.1");
	unsigned char *der = NULL;

	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)"a.example",
				   -1, -1, 0);
	X509_REQ_set_subject_name(r, n);
	X509_REQ_set_pubkey(r, k);
	sk_X509_EXTENSION_push(exts, san);
	X509_REQ_add_extensions(r, exts);
	assert_true(X509_REQ_sign(r, k, md) > 0);
	*len = i2d_X509_REQ(r, &der);
	assert_true(*len > 0);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(n);
	X509_REQ_free(r);
	return der;
}

/* The same, signed with SHA-256 (or Ed25519). */
static unsigned char *csr_der(EVP_PKEY *k, int *len)
{
	return csr_der_md(k, EVP_PKEY_get_id(k) == EVP_PKEY_ED25519 ? NULL : EVP_sha256(), len);
}

/* A new key: "EC:<curve>", "RSA" (2048 bits) or another type's name. */
static EVP_PKEY *gen_key(const char *type)
{
	if (strncmp(type, "EC:", 3) == 0)
		return EVP_EC_gen(type + 3);
	if (strcmp(type, "RSA") == 0)
		return EVP_RSA_gen(2048);
	return EVP_PKEY_Q_keygen(NULL, NULL, type);
}

/* k's request, read by signet_csr_parse_key: asserts that it is read and
 * that the key it returns (in *got) is k. */
static X509_REQ *parse_own_csr(EVP_PKEY *k, unsigned char **der, int *len, EVP_PKEY **got,
			       struct signet_err *err)
{
	X509_REQ *req;
	*der = csr_der(k, len);
	req = signet_csr_parse_key(*der, (size_t)*len, "r.der", got, err);
	assert_non_null(req);
	assert_non_null(*got);
	assert_int_equal(EVP_PKEY_eq(*got, k), 1);
	return req;
}

/* signet_csr_parse_key reads EC and Ed25519 requests its own way: the key
 * it returns must be the request's key, the proof of possession must hold,
 * and tampering must still be caught; other keys go the ordinary way. */
static void test_csr_parse_key(void **state)
{
	const char *types[] = { "EC:P-256", "EC:P-384", "EC:P-521", "ED25519", "RSA" };
	(void)state;
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		struct signet_err err = { 0 };
		EVP_PKEY *k, *got = NULL;
		X509_REQ *req, *plain;
		unsigned char *der;
		int len;

		k = gen_key(types[t]);
		assert_non_null(k);
		req = parse_own_csr(k, &der, &len, &got, &err);
		/* The fast reader leaves OpenSSL's key slot empty (documented). */
		if (strcmp(types[t], "RSA") != 0)
			assert_null(X509_REQ_get0_pubkey(req));
		ERR_clear_error();
		assert_int_equal(signet_csr_verify_key(req, got, &err), 0);
		plain = signet_csr_parse(der, (size_t)len, "r.der", &err);
		assert_non_null(plain);
		assert_int_equal(X509_NAME_cmp(X509_REQ_get_subject_name(req),
					       X509_REQ_get_subject_name(plain)), 0);
		{
			GENERAL_NAMES *a = signet_csr_sans(req), *b = signet_csr_sans(plain);
			assert_int_equal(sk_GENERAL_NAME_num(a), 2);
			assert_int_equal(sk_GENERAL_NAME_num(b), 2);
			GENERAL_NAMES_free(a);
			GENERAL_NAMES_free(b);
		}
		X509_REQ_free(req);
		X509_REQ_free(plain);
		EVP_PKEY_free(got);
		got = NULL;
		/* One flipped byte in the middle of the signed part. */
		der[len / 3] ^= 0x01;
		req = signet_csr_parse_key(der, (size_t)len, "r.der", &got, &err);
		if (req != NULL) {
			assert_true(got == NULL || signet_csr_verify_key(req, got, &err) < 0);
			X509_REQ_free(req);
		}
		EVP_PKEY_free(got);
		got = NULL;
		/* Truncated: refused like the ordinary reader refuses it. */
		assert_null(signet_csr_parse_key(der, (size_t)len / 2, "half.der", &got, &err));
		assert_null(got);
		assert_int_equal(err.code, SIGNET_E_PARSE);
		OPENSSL_free(der);
		EVP_PKEY_free(k);
	}
}

/* A request for k whose EC point is put off the curve by flipping the last
 * byte of Y (the point follows the BIT STRING header hdr, ending in the 04
 * tag, and holds two coordinates of coord bytes): signet_csr_parse_key
 * must still read the request but give no key, whatever *out held before
 * (NULL, or a spare to reuse, which must not leak). */
static void assert_off_curve_refused(EVP_PKEY *k, const char *hdr, int hdrlen, int coord,
				     EVP_PKEY **out)
{
	struct signet_err err = { 0 };
	unsigned char *der;
	int len, spoiled = 0;
	X509_REQ *req;

	der = csr_der(k, &len);
	for (int j = 0; !spoiled && j + hdrlen + 2 * coord <= len; j++)
		if (memcmp(der + j, hdr, (size_t)hdrlen) == 0) {
			der[j + hdrlen + 2 * coord - 1] ^= 0x01;
			spoiled = 1;
		}
	assert_true(spoiled);
	ERR_clear_error();
	req = signet_csr_parse_key(der, (size_t)len, "r.der", out, &err);
	assert_null(*out);
	assert_non_null(req); /* the request reads; only its key does not */
	X509_REQ_free(req);
	OPENSSL_free(der);
}

/* After the first key of a curve, EC keys are copies of it given their own
 * point: each must still be its request's key, and a point that is not on
 * the curve must not become a key. */
static void test_csr_parse_key_copies(void **state)
{
	(void)state;
	for (int i = 0; i < 4; i++) {
		struct signet_err err = { 0 };
		EVP_PKEY *k = EVP_EC_gen("P-256"), *got = NULL;
		X509_REQ *req;
		unsigned char *der;
		int len;

		assert_non_null(k);
		req = parse_own_csr(k, &der, &len, &got, &err);
		assert_int_equal(signet_csr_verify_key(req, got, &err), 0);
		X509_REQ_free(req);
		EVP_PKEY_free(got);
		got = NULL;
		OPENSSL_free(der);
		assert_off_curve_refused(k, "\x03\x42\x00\x04", 4, 32, &got);
		EVP_PKEY_free(k);
	}
}

/* A spare key handed back to signet_csr_parse_key becomes the next
 * request's key when it is on the same curve, and is freed otherwise; the
 * key returned is always the request's own, whatever the spare was. */
static void test_csr_parse_key_spare(void **state)
{
	const char *types[] = { "EC:P-256", "EC:P-256", "EC:P-384", "EC:P-256",
				"ED25519",  "EC:P-521", "RSA",      "EC:P-521" };
	EVP_PKEY *spare = NULL, *prev = NULL;
	(void)state;
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		struct signet_err err = { 0 };
		EVP_PKEY *k = gen_key(types[t]);
		unsigned char *der;
		int len;
		X509_REQ *req;

		assert_non_null(k);
		prev = spare;
		req = parse_own_csr(k, &der, &len, &spare, &err); /* spare is now k */
		assert_int_equal(signet_csr_verify_key(req, spare, &err), 0);
		/* Two P-256 requests in a row: the second reuses the first's key. */
		if (t == 1)
			assert_ptr_equal(spare, prev);
		X509_REQ_free(req);
		OPENSSL_free(der);
		EVP_PKEY_free(k);
	}
	/* A spare (the last P-521 key) with an off-curve P-521 point. */
	{
		EVP_PKEY *k = EVP_EC_gen("P-521");

		assert_non_null(k);
		assert_off_curve_refused(k, "\x03\x81\x86\x00\x04", 5, 66, &spare);
		EVP_PKEY_free(k);
	}
}

/* signet_csr_key makes a request's key again, whichever way the request
 * was read, reusing a spare of the same curve and freeing any other. */
static void test_csr_key_again(void **state)
{
	const char *types[] = { "EC:P-256", "EC:P-256", "EC:P-384", "ED25519", "RSA", "EC:P-256" };
	EVP_PKEY *spare = NULL;
	(void)state;
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		struct signet_err err = { 0 };
		EVP_PKEY *k = gen_key(types[t]), *got = NULL, *again, *prev = spare;
		unsigned char *der;
		int len;
		X509_REQ *req;

		assert_non_null(k);
		req = parse_own_csr(k, &der, &len, &got, &err);
		again = signet_csr_key(req, spare);
		spare = NULL;
		assert_non_null(again);
		assert_int_equal(EVP_PKEY_eq(again, k), 1);
		assert_int_equal(signet_csr_verify_key(req, again, &err), 0);
		if (t == 1) /* the P-256 key of t = 0 took the new point */
			assert_ptr_equal(again, prev);
		EVP_PKEY_free(got);
		spare = again;
		X509_REQ_free(req);
		OPENSSL_free(der);
		EVP_PKEY_free(k);
	}
	EVP_PKEY_free(spare);
}

/* Whether OpenSSL's own reader and X509_REQ_verify accept der. */
static int openssl_accepts(const unsigned char *der, int len)
{
	const unsigned char *p = der;
	X509_REQ *r = d2i_X509_REQ(NULL, &p, len);
	EVP_PKEY *pub = r != NULL ? X509_REQ_get0_pubkey(r) : NULL;
	int ok = pub != NULL && X509_REQ_verify(r, pub) == 1;

	X509_REQ_free(r);
	ERR_clear_error();
	return ok;
}

/* signet_csr_parse_checked checks ECDSA requests its own way (csr_check.c)
 * and the others through X509_REQ_verify: for every key type and digest it
 * must accept a request exactly when OpenSSL does, the original and 300
 * copies with one byte changed each, give the request's key back through
 * signet_csr_key, and name the file in its errors. */
static void test_csr_parse_checked(void **state)
{
	const char *types[] = { "EC:P-256", "EC:P-384", "EC:P-521", "ED25519", "RSA" };
	const EVP_MD *mds[] = { EVP_sha256(), EVP_sha384(), EVP_sha512(), EVP_sha1() };
	struct signet_csr_checker *ck = signet_csr_checker_new();
	(void)state;
	assert_non_null(ck);
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		EVP_PKEY *k = gen_key(types[t]);
		assert_non_null(k);
		for (size_t m = 0; m < sizeof(mds) / sizeof(mds[0]); m++) {
			struct signet_err err = { 0 };
			int ed = EVP_PKEY_get_id(k) == EVP_PKEY_ED25519, len, refused = 0;
			unsigned char *der;
			X509_REQ *req;
			EVP_PKEY *again;

			if (ed && m > 0)
				break;
			der = csr_der_md(k, ed ? NULL : mds[m], &len);
			req = signet_csr_parse_checked(ck, der, (size_t)len, "r.der", &err);
			assert_non_null(req);
			assert_int_equal(ERR_peek_error(), 0);
			again = signet_csr_key(req, NULL);
			assert_non_null(again);
			assert_int_equal(EVP_PKEY_eq(again, k), 1);
			EVP_PKEY_free(again);
			X509_REQ_free(req);
			/* The last byte is the signature's: refused as a bad signature. */
			der[len - 1] ^= 0x01;
			assert_null(signet_csr_parse_checked(ck, der, (size_t)len, "r.der", &err));
			assert_int_equal(err.code, SIGNET_E_SIG);
			assert_non_null(strstr(err.msg, "r.der"));
			der[len - 1] ^= 0x01;
			for (int i = 0; i < 300; i++) {
				int at = (int)((unsigned)(i * 7919 + (int)m * 31) % (unsigned)len);
				unsigned char bit = (unsigned char)(1u << (i % 8));

				der[at] ^= bit;
				req = signet_csr_parse_checked(ck, der, (size_t)len, "r.der", &err);
				assert_int_equal(req != NULL, openssl_accepts(der, len));
				refused += req == NULL;
				X509_REQ_free(req);
				assert_int_equal(ERR_peek_error(), 0);
				der[at] ^= bit;
			}
			assert_true(refused > 250);
			OPENSSL_free(der);
		}
		EVP_PKEY_free(k);
	}
	signet_csr_checker_free(ck);
}

/* signet_pem_encode writes what PEM_write_bio writes, for every length
 * around the 48-byte line boundaries. */
static void test_pem_encode_matches_openssl(void **state)
{
	unsigned char der[300];
	(void)state;
	for (size_t i = 0; i < sizeof(der); i++)
		der[i] = (unsigned char)(i * 37 + 11);
	for (size_t n = 1; n <= sizeof(der); n++) {
		struct signet_err err = { 0 };
		BIO *bio = BIO_new(BIO_s_mem());
		char *want = NULL, *pem = NULL;
		size_t len = 0;
		long wlen;

		assert_true(PEM_write_bio(bio, "CERTIFICATE", "", der, (long)n) > 0);
		wlen = BIO_get_mem_data(bio, &want);
		assert_int_equal(signet_pem_encode("CERTIFICATE", der, n, &pem, &len, &err), 0);
		assert_int_equal(len, (size_t)wlen);
		assert_memory_equal(pem, want, len);
		assert_int_equal(pem[len], '\0');
		free(pem);
		BIO_free(bio);
	}
}

static void test_serial_hex(void **state)
{
	ASN1_INTEGER *i = ASN1_INTEGER_new();
	BIGNUM *bn = NULL;
	char buf[64];
	(void)state;
	ASN1_INTEGER_set(i, 0);
	signet_serial_hex(i, buf, sizeof(buf));
	assert_string_equal(buf, "0");
	ASN1_INTEGER_set(i, 0x0a0b);
	signet_serial_hex(i, buf, sizeof(buf));
	assert_string_equal(buf, "a0b");
	BN_hex2bn(&bn, "7FEDCBA9876543210FEDCBA987654321");
	BN_to_ASN1_INTEGER(bn, i);
	signet_serial_hex(i, buf, sizeof(buf));
	assert_string_equal(buf, "7fedcba9876543210fedcba987654321");
	BN_free(bn);
	ASN1_INTEGER_free(i);
}

static void test_serial_normalize(void **state)
{
	char out[64], small[4];
	(void)state;
	assert_int_equal(signet_serial_normalize("00AbC", out, sizeof(out)), 0);
	assert_string_equal(out, "abc");
	assert_int_equal(signet_serial_normalize("0x1F", out, sizeof(out)), 0);
	assert_string_equal(out, "1f");
	assert_int_equal(signet_serial_normalize("01:0A:ff", out, sizeof(out)), 0);
	assert_string_equal(out, "10aff");
	assert_int_equal(signet_serial_normalize("0000", out, sizeof(out)), 0);
	assert_string_equal(out, "0");
	assert_int_equal(signet_serial_normalize("xyz", out, sizeof(out)), -1);
	assert_int_equal(signet_serial_normalize("web.example", out, sizeof(out)), -1);
	assert_int_equal(signet_serial_normalize("12345", small, sizeof(small)), -1);
}

static void test_fingerprint_and_time(void **state)
{
	X509 *a = make_cert("fp", 5);
	unsigned char md[32];
	unsigned int n;
	char fp[65], want[65];
	time_t nb = 0, na = 0;
	(void)state;
	assert_int_equal(signet_cert_fingerprint(a, fp), 0);
	X509_digest(a, EVP_sha256(), md, &n);
	for (unsigned i = 0; i < n; i++)
		snprintf(want + 2 * i, 3, "%02x", md[i]);
	assert_string_equal(fp, want);
	assert_int_equal(signet_asn1_time_to_time(X509_get0_notBefore(a), &nb), 0);
	assert_int_equal(signet_asn1_time_to_time(X509_get0_notAfter(a), &na), 0);
	assert_int_equal(na - nb, 86400);
	assert_int_equal(signet_asn1_time_to_time(NULL, &nb), -1);
	X509_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_multi_pem),
		cmocka_unit_test(test_pem_with_text_around),
		cmocka_unit_test(test_wrong_label),
		cmocka_unit_test(test_der),
		cmocka_unit_test(test_csr_pem_der),
		cmocka_unit_test(test_csr_parse_key),
		cmocka_unit_test(test_csr_parse_key_copies),
		cmocka_unit_test(test_csr_parse_key_spare),
		cmocka_unit_test(test_csr_key_again),
		cmocka_unit_test(test_csr_parse_checked),
		cmocka_unit_test(test_pem_encode_matches_openssl),
		cmocka_unit_test(test_serial_hex),
		cmocka_unit_test(test_serial_normalize),
		cmocka_unit_test(test_fingerprint_and_time),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
