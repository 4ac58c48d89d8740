/*
 * test_crl.c - signet_crl_build against a throwaway CA: the CRL parses
 * with OpenSSL, its signature verifies, numbers grow, reasons and
 * invalidity dates come out as stored, and a delta lists only changes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <openssl/asn1.h>
#include <sqlite3.h>
#include <openssl/x509v3.h>
#include <signet/ca.h>
#include <signet/cert.h>
#include <signet/crl.h>
#include <signet/key.h>
#include <signet/csr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fx {
	char dir[256];
	struct signet_ca *ca;
	char serial[3][64];
};

static int rmrf(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

/* Inserts a fake record (the CRL only reads serial and revocation data). */
static void add_record(struct signet_ca *ca, const char *serial)
{
	struct signet_record r;
	struct signet_err err = { 0 };
	unsigned char der[1] = { 0 };
	memset(&r, 0, sizeof(r));
	snprintf(r.serial, sizeof(r.serial), "%s", serial);
	snprintf(r.fingerprint, sizeof(r.fingerprint), "fp%s", serial);
	snprintf(r.issuer, sizeof(r.issuer), "%s", signet_ca_signer_id(ca));
	r.subject = "CN=t";
	r.profile = "server";
	r.not_before = 1700000000;
	r.not_after = 1900000000;
	r.issued_at = 1700000000;
	r.reason = -1;
	r.der = der;
	r.der_len = 1;
	assert_int_equal(signet_db_insert(signet_ca_db(ca), &r, &err), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct signet_ca_init_opts o;
	struct signet_err err = { 0 };

	snprintf(f->dir, sizeof(f->dir), "/tmp/signet-test-crl.%d", (int)getpid());
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
	strcpy(f->serial[0], "1a2b3c");
	strcpy(f->serial[1], "ff00000000000000000000000000000001"); /* high bit: padded */
	strcpy(f->serial[2], "7");
	for (int i = 0; i < 3; i++)
		add_record(f->ca, f->serial[i]);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	signet_ca_free(f->ca);
	rmrf(f->dir);
	free(f);
	return 0;
}

static X509_CRL *build(struct fx *f, const unsigned char *base, size_t base_len,
		       struct signet_crl_info *info, unsigned char **der_out, size_t *len_out)
{
	struct signet_crl_opts o;
	struct signet_err err = { 0 };
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len = 0;
	X509_CRL *crl;

	memset(&o, 0, sizeof(o));
	o.issuer = signet_ca_signer_cert(f->ca);
	o.key = signet_ca_signer_key(f->ca);
	o.db = signet_ca_db(f->ca);
	o.issuer_id = signet_ca_signer_id(f->ca);
	o.base_der = base;
	o.base_len = base_len;
	assert_int_equal(signet_crl_build(&o, &der, &len, info, &err), 0);
	p = der;
	crl = d2i_X509_CRL(NULL, &p, (long)len);
	assert_non_null(crl);
	assert_ptr_equal(p, der + len); /* no trailing bytes */
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(o.issuer)), 1);
	if (der_out) {
		*der_out = der;
		*len_out = len;
	} else {
		free(der);
	}
	return crl;
}

static void test_empty_and_numbers(void **state)
{
	struct fx *f = *state;
	struct signet_crl_info a, b;
	X509_CRL *c1 = build(f, NULL, 0, &a, NULL, NULL);
	X509_CRL *c2 = build(f, NULL, 0, &b, NULL, NULL);

	assert_int_equal(X509_CRL_get_version(c1), X509_CRL_VERSION_2);
	assert_true(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(c1)) <= 0); /* field absent */
	assert_true(b.number > a.number);
	assert_non_null(X509_CRL_get0_nextUpdate(c1));
	assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(c1),
				       X509_get_subject_name(signet_ca_signer_cert(f->ca))), 0);
	X509_CRL_free(c1);
	X509_CRL_free(c2);
}

static void test_entries(void **state)
{
	struct fx *f = *state;
	struct signet_err err = { 0 };
	struct signet_crl_info info;
	X509_CRL *crl;
	STACK_OF(X509_REVOKED) *rev;
	unsigned char *base = NULL;
	size_t base_len = 0;

	assert_int_equal(signet_db_revoke(signet_ca_db(f->ca), f->serial[0],
					  SIGNET_REASON_KEY_COMPROMISE, 1700001000, 1690000000, &err), 0);
	assert_int_equal(signet_db_revoke(signet_ca_db(f->ca), f->serial[1],
					  SIGNET_REASON_UNSPECIFIED, 1700002000, 0, &err), 0);
	crl = build(f, NULL, 0, &info, &base, &base_len);
	rev = X509_CRL_get_REVOKED(crl);
	assert_int_equal(sk_X509_REVOKED_num(rev), 2);
	assert_int_equal((int)info.entries, 2);
	for (int i = 0; i < 2; i++) {
		X509_REVOKED *r = sk_X509_REVOKED_value(rev, i);
		char hex[80];
		int crit;
		ASN1_ENUMERATED *reason = X509_REVOKED_get_ext_d2i(r, NID_crl_reason, &crit, NULL);
		ASN1_GENERALIZEDTIME *inv = X509_REVOKED_get_ext_d2i(r, NID_invalidity_date, &crit, NULL);
		time_t t;
		signet_serial_hex(X509_REVOKED_get0_serialNumber(r), hex, sizeof(hex));
		assert_int_equal(signet_asn1_time_to_time(X509_REVOKED_get0_revocationDate(r), &t), 0);
		if (strcmp(hex, f->serial[0]) == 0) {
			assert_non_null(reason);
			assert_int_equal(ASN1_ENUMERATED_get(reason), SIGNET_REASON_KEY_COMPROMISE);
			assert_non_null(inv);
			assert_int_equal((long)t, 1700001000);
		} else {
			assert_string_equal(hex, f->serial[1]);
			assert_null(reason); /* unspecified: no extension (RFC 5280) */
			assert_null(inv);
			assert_int_equal((long)t, 1700002000);
		}
		ASN1_ENUMERATED_free(reason);
		ASN1_GENERALIZEDTIME_free(inv);
	}
	X509_CRL_free(crl);

	/* Delta against that base: only the new revocation. */
	assert_int_equal(signet_db_revoke(signet_ca_db(f->ca), f->serial[2],
					  SIGNET_REASON_SUPERSEDED, 1700003000, 0, &err), 0);
	crl = build(f, base, base_len, &info, NULL, NULL);
	rev = X509_CRL_get_REVOKED(crl);
	assert_int_equal(sk_X509_REVOKED_num(rev), 1);
	assert_true(info.base_number > 0 && info.number > info.base_number);
	{
		int crit = 0;
		ASN1_INTEGER *d = X509_CRL_get_ext_d2i(crl, NID_delta_crl, &crit, NULL);
		assert_non_null(d);
		assert_int_equal(crit, 1);
		assert_int_equal(ASN1_INTEGER_get(d), info.base_number);
		ASN1_INTEGER_free(d);
	}
	X509_CRL_free(crl);
	free(base);
}

/* Revocation dates come out exactly as OpenSSL's own ASN1_TIME_set encodes
 * them: UTCTime through 2049, GeneralizedTime outside 1950-2049, leap days,
 * the ends of years and of centuries, and a spread of other times. */
static void test_revocation_dates(void **state)
{
	struct fx *f = *state;
	struct signet_err err = { 0 };
	int64_t times[64];
	int n = 0;
	X509_CRL *crl;
	STACK_OF(X509_REVOKED) *rev;
	const int64_t fixed[] = {
		1,           /* 1970-01-01 00:00:01 */
		951782400,   /* 2000-02-29 00:00:00 (a leap day of a century year) */
		946684799,   /* 1999-12-31 23:59:59 */
		946684800,   /* 2000-01-01 00:00:00 */
		1709210096,  /* 2024-02-29 12:34:56 */
		2524607999,  /* 2049-12-31 23:59:59: last UTCTime */
		2524608000,  /* 2050-01-01 00:00:00: first GeneralizedTime */
		4107542400,  /* 2100-03-01 00:00:00 (2100 is not a leap year) */
		-631152000,  /* 1950-01-01 00:00:00: first UTCTime */
		-631152001,  /* 1949-12-31 23:59:59: GeneralizedTime */
		-86400,      /* 1969-12-31 00:00:00 */
		253402300799 /* 9999-12-31 23:59:59 */
	};
	uint64_t x = 88172645463325252ULL; /* xorshift: a fixed spread of times */

	(void)state;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		times[n++] = fixed[i];
	while (n < 48) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		times[n++] = (int64_t)(x % 5000000000ULL) - 1000000000;
	}
	for (int i = 0; i < n; i++) {
		char serial[32];
		snprintf(serial, sizeof(serial), "5%04x", i);
		add_record(f->ca, serial);
		assert_int_equal(signet_db_revoke(signet_ca_db(f->ca), serial,
						  SIGNET_REASON_SUPERSEDED, times[i], 0, &err), 0);
	}
	crl = build(f, NULL, 0, NULL, NULL, NULL);
	rev = X509_CRL_get_REVOKED(crl);
	assert_int_equal(sk_X509_REVOKED_num(rev), n);
	for (int k = 0; k < n; k++) {
		X509_REVOKED *r = sk_X509_REVOKED_value(rev, k);
		char hex[80];
		int i;
		ASN1_TIME *want;
		unsigned char *a = NULL, *b = NULL;
		int la, lb;
		signet_serial_hex(X509_REVOKED_get0_serialNumber(r), hex, sizeof(hex));
		i = (int)strtol(hex + 1, NULL, 16);
		assert_true(hex[0] == '5' && i >= 0 && i < n);
		want = ASN1_TIME_set(NULL, (time_t)times[i]);
		assert_non_null(want);
		la = i2d_ASN1_TIME(X509_REVOKED_get0_revocationDate(r), &a);
		lb = i2d_ASN1_TIME(want, &b);
		assert_int_equal(la, lb);
		assert_memory_equal(a, b, (size_t)la);
		OPENSSL_free(a);
		OPENSSL_free(b);
		ASN1_TIME_free(want);
	}
	X509_CRL_free(crl);
}

/* More entries than one batch of the walk/encode pipeline (4096 rows):
 * every entry arrives once, with its own date and reason, and a delta on
 * top of that base holds just the one new revocation. */
static void test_many_entries(void **state)
{
	struct fx *f = *state;
	struct signet_err err = { 0 };
	struct signet_crl_info info;
	const int n = 9000;
	unsigned char *base = NULL, *seen = calloc((size_t)n, 1);
	size_t base_len = 0;
	X509_CRL *crl;
	STACK_OF(X509_REVOKED) *rev;

	assert_int_equal(signet_db_begin(signet_ca_db(f->ca), &err), 0);
	for (int i = 0; i < n; i++) {
		char serial[32];
		snprintf(serial, sizeof(serial), "6%05x", i);
		add_record(f->ca, serial);
		assert_int_equal(signet_db_revoke(signet_ca_db(f->ca), serial, i % 6,
						  1700000000 + i, 0, &err), 0);
	}
	assert_int_equal(signet_db_commit(signet_ca_db(f->ca), &err), 0);
	crl = build(f, NULL, 0, &info, &base, &base_len);
	rev = X509_CRL_get_REVOKED(crl);
	assert_int_equal(sk_X509_REVOKED_num(rev), n);
	for (int k = 0; k < n; k++) {
		X509_REVOKED *r = sk_X509_REVOKED_value(rev, k);
		ASN1_ENUMERATED *reason = X509_REVOKED_get_ext_d2i(r, NID_crl_reason, NULL, NULL);
		char hex[80];
		time_t t;
		int i;
		signet_serial_hex(X509_REVOKED_get0_serialNumber(r), hex, sizeof(hex));
		i = (int)strtol(hex + 1, NULL, 16);
		assert_true(hex[0] == '6' && i >= 0 && i < n && !seen[i]);
		seen[i] = 1;
		assert_int_equal(signet_asn1_time_to_time(X509_REVOKED_get0_revocationDate(r), &t), 0);
		assert_int_equal((long)t, 1700000000L + i);
		assert_int_equal(reason ? ASN1_ENUMERATED_get(reason) : 0, i % 6);
		ASN1_ENUMERATED_free(reason);
	}
	X509_CRL_free(crl);
	assert_int_equal(signet_db_revoke(signet_ca_db(f->ca), f->serial[2],
					  SIGNET_REASON_SUPERSEDED, 1700003000, 0, &err), 0);
	crl = build(f, base, base_len, &info, NULL, NULL);
	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 1);
	X509_CRL_free(crl);
	free(base);
	free(seen);
}

static void test_reason_names(void **state)
{
	(void)state;
	assert_int_equal(signet_reason_parse("keyCompromise"), 1);
	assert_int_equal(signet_reason_parse("REMOVEFROMCRL"), 8);
	assert_int_equal(signet_reason_parse("nonsense"), -1);
	assert_string_equal(signet_reason_name(6), "certificateHold");
	assert_string_equal(signet_reason_name(7), "unknown");
}

/* A record the encoder cannot encode (a serial that is not hex), after
 * more than a batch of good ones: the encoder thread's error comes back
 * as the build's, and nothing half-built is returned. */
static void test_bad_serial_in_database(void **state)
{
	struct fx *f = *state;
	struct signet_crl_opts o;
	struct signet_err err = { 0 };
	unsigned char *der = NULL;
	size_t len = 0;

	assert_int_equal(signet_db_begin(signet_ca_db(f->ca), &err), 0);
	for (int i = 0; i < 5000; i++) {
		char serial[32];
		snprintf(serial, sizeof(serial), "7%05x", i);
		add_record(f->ca, serial);
		assert_int_equal(signet_db_revoke(signet_ca_db(f->ca), serial, 1, 1700000000 + i, 0,
						  &err), 0);
	}
	add_record(f->ca, "7zz");
	assert_int_equal(signet_db_commit(signet_ca_db(f->ca), &err), 0);
	{
		/* signet_db_revoke refuses such a serial; a damaged database need not.
		 * The commit above folds its WAL on a thread of its own, which holds
		 * the write lock a few ms more: wait for it, as signet's own
		 * connections do. */
		char path[300];
		sqlite3 *db;
		snprintf(path, sizeof(path), "%s/signet.db", f->dir);
		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		sqlite3_busy_timeout(db, 10000);
		assert_int_equal(sqlite3_exec(db, "UPDATE certs SET status = 1, revoked_at = "
						  "1800000000, reason = 1 WHERE serial = '7zz'",
					      NULL, NULL, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_changes(db), 1);
		sqlite3_close(db);
	}
	memset(&o, 0, sizeof(o));
	o.issuer = signet_ca_signer_cert(f->ca);
	o.key = signet_ca_signer_key(f->ca);
	o.db = signet_ca_db(f->ca);
	o.issuer_id = signet_ca_signer_id(f->ca);
	assert_int_equal(signet_crl_build(&o, &der, &len, NULL, &err), -1);
	assert_int_equal(err.code, SIGNET_E_DB);
	assert_non_null(strstr(err.msg, "7zz"));
	assert_null(der);
}

static void test_wrong_key(void **state)
{
	struct fx *f = *state;
	struct signet_crl_opts o;
	struct signet_err err = { 0 };
	unsigned char *der = NULL;
	size_t len = 0;
	EVP_PKEY *k = signet_key_generate(SIGNET_KEY_EC_P256, &err);

	memset(&o, 0, sizeof(o));
	o.issuer = signet_ca_signer_cert(f->ca);
	o.key = k;
	o.db = signet_ca_db(f->ca);
	assert_int_equal(signet_crl_build(&o, &der, &len, NULL, &err), -1);
	assert_int_equal(err.code, SIGNET_E_POLICY);
	assert_null(der);
	EVP_PKEY_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reason_names),
		cmocka_unit_test_setup_teardown(test_empty_and_numbers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revocation_dates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_serial_in_database, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_key, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
