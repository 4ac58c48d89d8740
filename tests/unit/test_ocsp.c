/*
 * test_ocsp.c - the OCSP responder core: request classification
 * (malformedRequest, unauthorized, cacheable), good / revoked / unknown
 * answers that OpenSSL verifies, the nonce echo, and a delegated signer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <openssl/ocsp.h>
#include <signet/ca.h>
#include <signet/cert.h>
#include <signet/key.h>
#include <signet/ocsp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct fx {
	char dir[256];
	struct signet_ca *ca;
	struct signet_ocsp_responder *rsp;
	X509 *leaf;       /* a certificate "issued" by the CA (made here) */
	struct signet_ocsp_status st; /* what the lookup answers */
	int lookups;
};

static int rmrf(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static X509 *make_leaf(X509 *issuer, EVP_PKEY *ikey, long serial)
{
	struct signet_err err = { 0 };
	EVP_PKEY *k = signet_key_generate(SIGNET_KEY_EC_P256, &err);
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_set_issuer_name(x, X509_get_subject_name(issuer));
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"leaf", -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, k);
	X509_sign(x, ikey, EVP_sha256());
	X509_NAME_free(n);
	EVP_PKEY_free(k);
	return x;
}

static int lookup(void *ctx, const unsigned char *serial, size_t len,
		  struct signet_ocsp_status *out)
{
	struct fx *f = ctx;
	f->lookups++;
	*out = f->st;
	return 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct signet_ca_init_opts o;
	struct signet_err err = { 0 };

	snprintf(f->dir, sizeof(f->dir), "/tmp/signet-test-ocsp.%d", (int)getpid());
	rmrf(f->dir);
	memset(&o, 0, sizeof(o));
	o.dir = f->dir;
	o.name = "Unit Root";
	o.key_type = SIGNET_KEY_EC_P256;
	o.intermediate = 1;
	assert_int_equal(signet_ca_init(&o, &err), 0);
	f->ca = signet_ca_open(f->dir, &err);
	assert_non_null(f->ca);
	assert_int_equal(signet_ca_unlock(f->ca, SIGNET_CA_ISSUER, NULL, &err), 0);
	f->rsp = signet_ocsp_responder_new(signet_ca_signer_cert(f->ca), NULL,
					   signet_ca_signer_key(f->ca), &err);
	assert_non_null(f->rsp);
	f->leaf = make_leaf(signet_ca_signer_cert(f->ca), signet_ca_signer_key(f->ca), 0x1234);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	signet_ocsp_responder_free(f->rsp);
	X509_free(f->leaf);
	signet_ca_free(f->ca);
	rmrf(f->dir);
	free(f);
	return 0;
}

/* DER request for cert under issuer with md, optionally with a nonce. */
static unsigned char *request(X509 *cert, X509 *issuer, const EVP_MD *md, int nonce,
			      OCSP_REQUEST **keep, int *len)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	unsigned char *der = NULL;
	OCSP_request_add0_id(req, OCSP_cert_to_id(md, cert, issuer));
	if (nonce)
		OCSP_request_add1_nonce(req, NULL, -1);
	*len = i2d_OCSP_REQUEST(req, &der);
	if (keep)
		*keep = req;
	else
		OCSP_REQUEST_free(req);
	return der;
}

static void answer_and_check(struct fx *f, int nonce, int want, X509 *signer_in_trust)
{
	struct signet_ocsp_request q;
	struct signet_ocsp_status got;
	struct signet_err err = { 0 };
	STACK_OF(X509) *trust = sk_X509_new_null();
	OCSP_REQUEST *req = NULL;
	unsigned char *der, *resp = NULL;
	size_t resp_len = 0;
	int len;

	der = request(f->leaf, signet_ca_signer_cert(f->ca), NULL, nonce, &req, &len);
	signet_ocsp_request_parse(f->rsp, der, (size_t)len, &q);
	assert_int_equal(q.error, 0);
	assert_int_equal(q.cacheable, !nonce);
	assert_int_equal(signet_ocsp_answer(f->rsp, &q, lookup, f, (int64_t)time(NULL), &resp,
					    &resp_len, &err), 0);
	sk_X509_push(trust, signet_ca_root(f->ca));
	sk_X509_push(trust, signet_ca_signer_cert(f->ca));
	(void)signer_in_trust;
	assert_int_equal(signet_ocsp_check_response(resp, resp_len, f->leaf,
						    signet_ca_signer_cert(f->ca), trust,
						    nonce ? req : NULL, &got, NULL, &err), 0);
	assert_int_equal(got.status, want);
	if (want == SIGNET_OCSP_REVOKED) {
		assert_int_equal(got.reason, f->st.reason);
		assert_int_equal((long)got.revoked_at, (long)f->st.revoked_at);
	}
	sk_X509_free(trust);
	OPENSSL_free(resp);
	OPENSSL_free(der);
	OCSP_REQUEST_free(req);
	signet_ocsp_request_clear(&q);
}

static void test_good_revoked_unknown(void **state)
{
	struct fx *f = *state;
	f->st = (struct signet_ocsp_status){ SIGNET_OCSP_GOOD, 0, -1 };
	answer_and_check(f, 0, SIGNET_OCSP_GOOD, NULL);
	f->st = (struct signet_ocsp_status){ SIGNET_OCSP_REVOKED, 1700000000, 1 };
	answer_and_check(f, 1, SIGNET_OCSP_REVOKED, NULL);
	f->st = (struct signet_ocsp_status){ SIGNET_OCSP_UNKNOWN, 0, -1 };
	answer_and_check(f, 1, SIGNET_OCSP_UNKNOWN, NULL);
	assert_int_equal(f->lookups, 3);
}

static void test_bad_requests(void **state)
{
	struct fx *f = *state;
	struct signet_ocsp_request q;
	struct signet_err err = { 0 };
	unsigned char junk[64], *der, *resp = NULL;
	size_t resp_len = 0;
	const unsigned char *p;
	OCSP_RESPONSE *r;
	X509 *other;
	EVP_PKEY *ok;
	int len;

	memset(junk, 0x30, sizeof(junk));
	signet_ocsp_request_parse(f->rsp, junk, sizeof(junk), &q);
	assert_int_equal(q.error, OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	assert_int_equal(signet_ocsp_answer(f->rsp, &q, lookup, f, 0, &resp, &resp_len, &err), 0);
	p = resp;
	r = d2i_OCSP_RESPONSE(NULL, &p, (long)resp_len);
	assert_non_null(r);
	assert_int_equal(OCSP_response_status(r), OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	OCSP_RESPONSE_free(r);
	OPENSSL_free(resp);
	signet_ocsp_request_clear(&q);

	/* Truncated DER. */
	der = request(f->leaf, signet_ca_signer_cert(f->ca), NULL, 0, NULL, &len);
	signet_ocsp_request_parse(f->rsp, der, (size_t)len - 3, &q);
	assert_int_equal(q.error, OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	signet_ocsp_request_clear(&q);
	OPENSSL_free(der);

	/* Another CA: unauthorized. */
	ok = signet_key_generate(SIGNET_KEY_EC_P256, &err);
	other = make_leaf(signet_ca_root(f->ca), ok, 99); /* any other issuer */
	der = request(f->leaf, other, NULL, 0, NULL, &len);
	signet_ocsp_request_parse(f->rsp, der, (size_t)len, &q);
	assert_int_equal(q.error, OCSP_RESPONSE_STATUS_UNAUTHORIZED);
	signet_ocsp_request_clear(&q);
	OPENSSL_free(der);

	/* A hash we do not compare (SHA-224): unauthorized. */
	der = request(f->leaf, signet_ca_signer_cert(f->ca), EVP_sha224(), 0, NULL, &len);
	signet_ocsp_request_parse(f->rsp, der, (size_t)len, &q);
	assert_int_equal(q.error, OCSP_RESPONSE_STATUS_UNAUTHORIZED);
	signet_ocsp_request_clear(&q);
	OPENSSL_free(der);

	/* SHA-256 CertIDs are ours. */
	der = request(f->leaf, signet_ca_signer_cert(f->ca), EVP_sha256(), 0, NULL, &len);
	signet_ocsp_request_parse(f->rsp, der, (size_t)len, &q);
	assert_int_equal(q.error, 0);
	assert_int_equal(q.hash, 1);
	assert_int_equal(q.serial_len, 2);
	assert_int_equal(q.serial[0], 0x12);
	signet_ocsp_request_clear(&q);
	OPENSSL_free(der);
	X509_free(other);
	EVP_PKEY_free(ok);
}

static void test_delegated_signer(void **state)
{
	struct fx *f = *state;
	struct signet_err err = { 0 };
	X509 *sc = NULL;
	EVP_PKEY *sk = NULL;
	struct signet_ocsp_responder *d;

	assert_int_equal(signet_ocsp_signer_issue(f->ca, 30, &sc, &sk, &err), 0);
	d = signet_ocsp_responder_new(signet_ca_signer_cert(f->ca), sc, sk, &err);
	assert_non_null(d);
	signet_ocsp_responder_free(f->rsp);
	f->rsp = d;
	f->st = (struct signet_ocsp_status){ SIGNET_OCSP_GOOD, 0, -1 };
	answer_and_check(f, 1, SIGNET_OCSP_GOOD, sc);

	/* A certificate without OCSPSigning is refused as a signer. */
	assert_null(signet_ocsp_responder_new(signet_ca_signer_cert(f->ca), f->leaf, sk, &err));
	assert_int_equal(err.code, SIGNET_E_POLICY);
	X509_free(sc);
	EVP_PKEY_free(sk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_revoked_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delegated_signer, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
