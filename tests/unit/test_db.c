/*
 * test_db.c - the SQLite backend behind db.h: insert and duplicate serials,
 * lookups by serial (any hex form) and name, list filters, revocation
 * rules, counters, transactions that roll back to nothing, and the WAL
 * folded after a big commit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signet/db.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256], dbpath[300];

static int setup(void **state)
{
	struct signet_err err = { 0 };
	snprintf(dir, sizeof(dir), "%s/signet-test-db.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(dbpath, sizeof(dbpath), "%s/t.db", dir);
	*state = signet_db_open(dbpath, &err);
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[400];
	signet_db_close(*state);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void rec(struct signet_record *r, const char *serial, const char *name, int64_t na)
{
	static unsigned char der[] = { 0x30, 0x00 };
	memset(r, 0, sizeof(*r));
	snprintf(r->serial, sizeof(r->serial), "%s", serial);
	snprintf(r->fingerprint, sizeof(r->fingerprint), "fp-%s", serial);
	snprintf(r->issuer, sizeof(r->issuer), "issuer1");
	r->name = (char *)name;
	r->subject = "CN=x";
	r->sans = "dns:x.example";
	r->profile = "server";
	r->not_before = 1000;
	r->not_after = na;
	r->issued_at = 1000;
	r->der = der;
	r->der_len = sizeof(der);
}

static int insert(struct signet_db *db, const char *serial, const char *name, int64_t na)
{
	struct signet_err err = { 0 };
	struct signet_record r;
	rec(&r, serial, name, na);
	return signet_db_insert(db, &r, &err);
}

struct collect {
	char serials[64][48];
	int n;
};

static int collect_cb(const struct signet_record *r, void *ctx)
{
	struct collect *c = ctx;
	if (c->n < 64)
		snprintf(c->serials[c->n++], 48, "%s", r->serial);
	return 0;
}

static int count_cb(const struct signet_record *r, void *ctx)
{
	(void)r;
	++*(int *)ctx;
	return 0;
}

static int list(struct signet_db *db, int status, int64_t expiring, int64_t now,
		struct collect *c)
{
	struct signet_err err = { 0 };
	struct signet_db_filter f = { .status = status, .expiring_before = expiring, .now = now };
	memset(c, 0, sizeof(*c));
	return signet_db_list(db, &f, collect_cb, c, &err);
}

static void test_insert_get(void **state)
{
	struct signet_db *db = *state;
	struct signet_err err = { 0 };
	struct signet_record out;
	assert_int_equal(insert(db, "abc123", "web", 5000), 0);
	assert_int_equal(signet_db_get(db, "abc123", &out, &err), 0);
	assert_string_equal(out.serial, "abc123");
	assert_string_equal(out.name, "web");
	assert_string_equal(out.subject, "CN=x");
	assert_string_equal(out.sans, "dns:x.example");
	assert_int_equal(out.not_after, 5000);
	assert_int_equal(out.status, SIGNET_STATUS_VALID);
	assert_int_equal(out.reason, -1);
	assert_int_equal(out.der_len, 2);
	signet_record_clear(&out);
	/* any hex form of the serial */
	assert_int_equal(signet_db_get(db, "00ABC123", &out, &err), 0);
	assert_string_equal(out.serial, "abc123");
	signet_record_clear(&out);
	assert_int_equal(signet_db_get(db, "0x0a:bc:12:3", &out, &err), 0);
	signet_record_clear(&out);
	/* by name */
	assert_int_equal(signet_db_get(db, "web", &out, &err), 0);
	assert_string_equal(out.serial, "abc123");
	signet_record_clear(&out);
}

static void test_get_newest_by_name(void **state)
{
	struct signet_db *db = *state;
	struct signet_err err = { 0 };
	struct signet_record r, out;
	rec(&r, "1111", "api", 5000);
	r.issued_at = 100;
	assert_int_equal(signet_db_insert(db, &r, &err), 0);
	rec(&r, "2222", "api", 5000);
	r.issued_at = 200;
	assert_int_equal(signet_db_insert(db, &r, &err), 0);
	assert_int_equal(signet_db_get(db, "api", &out, &err), 0);
	assert_string_equal(out.serial, "2222");
	signet_record_clear(&out);
}

static void test_not_found(void **state)
{
	struct signet_err err = { 0 };
	struct signet_record out;
	assert_int_equal(signet_db_get(*state, "deadbeef", &out, &err), -1);
	assert_int_equal(err.code, SIGNET_E_NOTFOUND);
	assert_non_null(strstr(err.msg, "deadbeef"));
	assert_int_equal(signet_db_get(*state, "nobody", &out, &err), -1);
	assert_int_equal(err.code, SIGNET_E_NOTFOUND);
}

static void test_duplicate_serial(void **state)
{
	struct signet_db *db = *state;
	struct signet_err err = { 0 };
	struct signet_record r;
	struct collect c;
	assert_int_equal(insert(db, "5eed", "a", 5000), 0);
	rec(&r, "5eed", "b", 6000);
	snprintf(r.fingerprint, sizeof(r.fingerprint), "another");
	assert_int_equal(signet_db_insert(db, &r, &err), -1);
	assert_int_equal(err.code, SIGNET_E_EXISTS);
	assert_non_null(strstr(err.msg, "5eed"));
	/* (The fingerprint is not a key: it hashes the DER, which holds the
	 * serial, so distinct serials give distinct fingerprints.) */
	assert_int_equal(list(db, -1, 0, 0, &c), 0);
	assert_int_equal(c.n, 1);
}

static void test_list_filters(void **state)
{
	struct signet_db *db = *state;
	struct signet_err err = { 0 };
	struct collect c;
	const int64_t now = 10000;
	assert_int_equal(insert(db, "a1", "expired", now - 1), 0);
	assert_int_equal(insert(db, "a2", "soon", now + 10 * 86400), 0);
	assert_int_equal(insert(db, "a3", "later", now + 100 * 86400), 0);
	assert_int_equal(insert(db, "a4", "revoked", now + 100 * 86400), 0);
	assert_int_equal(signet_db_revoke(db, "a4", SIGNET_REASON_KEY_COMPROMISE, now, 0, &err), 0);

	assert_int_equal(list(db, -1, 0, now, &c), 0);
	assert_int_equal(c.n, 4);
	assert_int_equal(list(db, SIGNET_STATUS_VALID, 0, now, &c), 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.serials[0], "a2");
	assert_string_equal(c.serials[1], "a3");
	assert_int_equal(list(db, SIGNET_STATUS_EXPIRED, 0, now, &c), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.serials[0], "a1");
	assert_int_equal(list(db, SIGNET_STATUS_REVOKED, 0, now, &c), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.serials[0], "a4");
	assert_int_equal(list(db, -1, now + 30 * 86400, now, &c), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.serials[0], "a2");
	assert_int_equal(list(db, -1, now + 200 * 86400, now, &c), 0);
	assert_int_equal(c.n, 2);
}

static int status_cb(const struct signet_record *r, void *ctx)
{
	int *st = ctx;
	st[r->serial[1] - '0'] = r->status;
	return 0;
}

static void test_list_derives_expired(void **state)
{
	struct signet_db *db = *state;
	struct signet_err err = { 0 };
	struct signet_db_filter f = { .status = -1, .now = 10000 };
	int st[3] = { -1, -1, -1 };
	assert_int_equal(insert(db, "b1", "old", 9999), 0);
	assert_int_equal(insert(db, "b2", "new", 20000), 0);
	assert_int_equal(signet_db_list(db, &f, status_cb, st, &err), 0);
	assert_int_equal(st[1], SIGNET_STATUS_EXPIRED);
	assert_int_equal(st[2], SIGNET_STATUS_VALID);
}

static int stop_cb(const struct signet_record *r, void *ctx)
{
	(void)r;
	return ++*(int *)ctx == 2 ? 42 : 0;
}

static void test_list_stops(void **state)
{
	struct signet_db *db = *state;
	struct signet_err err = { 0 };
	struct signet_db_filter f = { .status = -1 };
	int n = 0;
	insert(db, "c1", NULL, 5000);
	insert(db, "c2", NULL, 5000);
	insert(db, "c3", NULL, 5000);
	assert_int_equal(signet_db_list(db, &f, stop_cb, &n, &err), 42);
	assert_int_equal(n, 2);
}

static void test_revoke_rules(void **state)
{
	struct signet_db *db = *state;
	struct signet_err err = { 0 };
	struct signet_record out;
	insert(db, "d1", "x", 5000);
	assert_int_equal(signet_db_revoke(db, "D1", SIGNET_REASON_SUPERSEDED, 123, 0, &err), 0);
	assert_int_equal(signet_db_get(db, "d1", &out, &err), 0);
	assert_int_equal(out.status, SIGNET_STATUS_REVOKED);
	assert_int_equal(out.revoked_at, 123);
	assert_int_equal(out.reason, SIGNET_REASON_SUPERSEDED);
	signet_record_clear(&out);
	assert_int_equal(signet_db_revoke(db, "d1", SIGNET_REASON_KEY_COMPROMISE, 124, 0, &err), -1);
	assert_int_equal(err.code, SIGNET_E_EXISTS);
	assert_int_equal(signet_db_revoke(db, "ffff", SIGNET_REASON_UNSPECIFIED, 1, 0, &err), -1);
	assert_int_equal(err.code, SIGNET_E_NOTFOUND);
	assert_int_equal(signet_db_revoke(db, "not-hex", SIGNET_REASON_UNSPECIFIED, 1, 0, &err), -1);
	assert_int_equal(err.code, SIGNET_E_PARSE);
}

static void test_hold_and_release(void **state)
{
	struct signet_db *db = *state;
	struct signet_err err = { 0 };
	struct signet_record out;
	insert(db, "e1", "x", 5000);
	insert(db, "e2", "y", 5000);
	/* removeFromCRL only applies to a certificate on hold */
	assert_int_equal(signet_db_revoke(db, "e1", SIGNET_REASON_REMOVE_FROM_CRL, 1, 0, &err), -1);
	assert_int_equal(err.code, SIGNET_E_EXISTS);
	assert_int_equal(signet_db_revoke(db, "e1", SIGNET_REASON_CERTIFICATE_HOLD, 1, 0, &err), 0);
	assert_int_equal(signet_db_revoke(db, "e1", SIGNET_REASON_REMOVE_FROM_CRL, 2, 0, &err), 0);
	assert_int_equal(signet_db_get(db, "e1", &out, &err), 0);
	assert_int_equal(out.status, SIGNET_STATUS_VALID);
	assert_int_equal(out.reason, -1);
	signet_record_clear(&out);
	/* a hold may be turned into a final revocation */
	assert_int_equal(signet_db_revoke(db, "e2", SIGNET_REASON_CERTIFICATE_HOLD, 1, 0, &err), 0);
	assert_int_equal(signet_db_revoke(db, "e2", SIGNET_REASON_KEY_COMPROMISE, 3, 2, &err), 0);
	assert_int_equal(signet_db_get(db, "e2", &out, &err), 0);
	assert_int_equal(out.reason, SIGNET_REASON_KEY_COMPROMISE);
	assert_int_equal(out.invalidity_date, 2);
	signet_record_clear(&out);
}

static int count_revoked(const struct signet_revoked *r, void *ctx)
{
	(void)r;
	++*(int *)ctx;
	return 0;
}

static void test_each_revoked(void **state)
{
	struct signet_db *db = *state;
	struct signet_err err = { 0 };
	struct signet_record r;
	int n = 0;
	insert(db, "f1", NULL, 5000);
	rec(&r, "f2", NULL, 5000);
	snprintf(r.issuer, sizeof(r.issuer), "issuer2");
	signet_db_insert(db, &r, &err);
	insert(db, "f3", NULL, 5000);
	signet_db_revoke(db, "f1", 0, 1, 0, &err);
	signet_db_revoke(db, "f2", 0, 1, 0, &err);
	assert_int_equal(signet_db_each_revoked(db, NULL, count_revoked, &n, &err), 0);
	assert_int_equal(n, 2);
	n = 0;
	assert_int_equal(signet_db_each_revoked(db, "issuer2", count_revoked, &n, &err), 0);
	assert_int_equal(n, 1);
}

static void test_counter(void **state)
{
	struct signet_db *db = *state;
	struct signet_err err = { 0 };
	int64_t v = 0, prev = 0;
	for (int i = 0; i < 5; i++) {
		assert_int_equal(signet_db_counter_next(db, "crl_number", &v, &err), 0);
		assert_true(v > prev);
		prev = v;
	}
	assert_int_equal(v, 5);
	assert_int_equal(signet_db_counter_next(db, "other", &v, &err), 0);
	assert_int_equal(v, 1);
}

static void test_rollback_leaves_nothing(void **state)
{
	struct signet_db *db = *state;
	struct signet_err err = { 0 };
	struct collect c;
	int64_t v;
	assert_int_equal(signet_db_begin(db, &err), 0);
	assert_int_equal(insert(db, "aa01", "t1", 5000), 0);
	assert_int_equal(insert(db, "aa02", "t2", 5000), 0);
	assert_int_equal(signet_db_counter_next(db, "n", &v, &err), 0);
	signet_db_rollback(db);
	assert_int_equal(list(db, -1, 0, 0, &c), 0);
	assert_int_equal(c.n, 0);
	assert_int_equal(signet_db_counter_next(db, "n", &v, &err), 0);
	assert_int_equal(v, 1);
	/* and a committed batch is all there */
	assert_int_equal(signet_db_begin(db, &err), 0);
	assert_int_equal(insert(db, "aa03", "t3", 5000), 0);
	assert_int_equal(insert(db, "aa04", "t4", 5000), 0);
	assert_int_equal(signet_db_commit(db, &err), 0);
	assert_int_equal(list(db, -1, 0, 0, &c), 0);
	assert_int_equal(c.n, 2);
}

/* A commit of more than 256 rows folds the WAL into the database on a
 * thread of its own; the connection's next use waits for it, so the
 * fold is over (the WAL truncated) and the rows are there. */
static void test_big_commit_folds(void **state)
{
	struct signet_db *db = *state;
	struct signet_err err = { 0 };
	struct signet_record out;
	char serial[16], wal[320];
	struct stat st;

	assert_int_equal(signet_db_begin(db, &err), 0);
	for (int i = 0; i < 300; i++) {
		snprintf(serial, sizeof(serial), "cc%04d", i);
		assert_int_equal(insert(db, serial, "big", 5000), 0);
	}
	assert_int_equal(signet_db_commit(db, &err), 0);
	assert_int_equal(signet_db_get(db, "cc0299", &out, &err), 0);
	signet_record_clear(&out);
	snprintf(wal, sizeof(wal), "%s-wal", dbpath);
	assert_int_equal(stat(wal, &st), 0);
	assert_int_equal(st.st_size, 0);
	/* and the connection goes on: a row more, then all of them counted */
	assert_int_equal(insert(db, "cc9999", "after", 5000), 0);
	assert_int_equal(signet_db_get(db, "after", &out, &err), 0);
	signet_record_clear(&out);
	assert_int_equal(signet_db_check(db, &err), 0);
	{
		struct signet_db_filter f = { .status = -1 };
		int n = 0;
		assert_int_equal(signet_db_list(db, &f, count_cb, &n, &err), 0);
		assert_int_equal(n, 301);
	}
}

static void test_persists_and_checks(void **state)
{
	struct signet_err err = { 0 };
	struct signet_db *db2;
	struct signet_record out;
	insert(*state, "bb01", "p", 5000);
	signet_db_close(*state);
	db2 = signet_db_open(dbpath, &err);
	*state = db2;
	assert_non_null(db2);
	assert_int_equal(signet_db_get(db2, "bb01", &out, &err), 0);
	signet_record_clear(&out);
	assert_int_equal(signet_db_check(db2, &err), 0);
	/* sqlite: prefix is accepted */
	{
		char url[400];
		struct signet_db *db3;
		snprintf(url, sizeof(url), "sqlite:%s", dbpath);
		db3 = signet_db_open(url, &err);
		assert_non_null(db3);
		assert_int_equal(signet_db_get(db3, "p", &out, &err), 0);
		signet_record_clear(&out);
		signet_db_close(db3);
	}
}

static void test_open_errors(void **state)
{
	struct signet_err err = { 0 };
	char p[400];
	(void)state;
	snprintf(p, sizeof(p), "%s/no/such/dir/x.db", dir);
	assert_null(signet_db_open(p, &err));
	assert_int_equal(err.code, SIGNET_E_DB);
	assert_non_null(strstr(err.msg, "x.db"));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_insert_get),	    T(test_get_newest_by_name), T(test_not_found),
		T(test_duplicate_serial),   T(test_list_filters),	T(test_list_derives_expired),
		T(test_list_stops),	    T(test_revoke_rules),	T(test_hold_and_release),
		T(test_each_revoked),	    T(test_counter),		T(test_rollback_leaves_nothing),
		T(test_big_commit_folds),   T(test_persists_and_checks), T(test_open_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
