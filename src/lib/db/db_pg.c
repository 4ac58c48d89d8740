/*
 * db_pg.c - the PostgreSQL backend, for several CA instances sharing one
 * database.
 *
 * Same schema and semantics as the SQLite backend: the serial is the
 * primary key (the database refuses a duplicate), revocation and counters
 * are single statements or one transaction, and a transaction commits
 * before the caller reports success (synchronous_commit is left at its
 * default, on).  Schema migrations run under a transaction-scoped advisory
 * lock so that instances starting together migrate once.
 * Built when libpq's headers are found (SIGNET_HAVE_LIBPQ); otherwise a
 * postgresql:// URL is refused with a clear message.
 */
#include "db_internal.h"

#ifdef SIGNET_HAVE_LIBPQ

#include <dlfcn.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * libpq is loaded with dlopen when a postgresql:// database is first
 * opened, not linked: it pulls in some twenty libraries (Kerberos, LDAP,
 * GnuTLS...) whose relocation would cost every signet process about a
 * third of its start-up, SQLite users included.  The prototypes still come
 * from libpq-fe.h, so the calls are type-checked at build time.
 */
#define PQ_FUNCS(X)                                                            \
	X(PQclear) X(PQcmdStatus) X(PQconnectdb) X(PQerrorMessage) X(PQexec)   \
	X(PQexecParams) X(PQfinish) X(PQgetisnull) X(PQgetlength)             \
	X(PQgetvalue) X(PQntuples) X(PQresultErrorField) X(PQresultStatus)     \
	X(PQstatus)

static struct {
#define PQ_FIELD(name) __typeof__(name) *name;
	PQ_FUNCS(PQ_FIELD)
#undef PQ_FIELD
} pq;

static pthread_once_t pq_once = PTHREAD_ONCE_INIT;
static const char *pq_missing; /* NULL once every symbol resolved */

static void pq_load(void)
{
	void *h = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		pq_missing = "libpq.so.5";
		return;
	}
#define PQ_LOAD(name)                                                          \
	if ((pq.name = (__typeof__(name) *)dlsym(h, #name)) == NULL && pq_missing == NULL) \
		pq_missing = #name;
	PQ_FUNCS(PQ_LOAD)
#undef PQ_LOAD
}

#define PQclear pq.PQclear
#define PQcmdStatus pq.PQcmdStatus
#define PQconnectdb pq.PQconnectdb
#define PQerrorMessage pq.PQerrorMessage
#define PQexec pq.PQexec
#define PQexecParams pq.PQexecParams
#define PQfinish pq.PQfinish
#define PQgetisnull pq.PQgetisnull
#define PQgetlength pq.PQgetlength
#define PQgetvalue pq.PQgetvalue
#define PQntuples pq.PQntuples
#define PQresultErrorField pq.PQresultErrorField
#define PQresultStatus pq.PQresultStatus
#define PQstatus pq.PQstatus

struct pg_db {
	struct signet_db base;
	PGconn *c;
	int in_txn;
	long txn_writes; /* writes in the open transaction */
};

static const char *const migrations[] = {
	"CREATE TABLE signet_certs ("
	" serial TEXT PRIMARY KEY,"
	" fingerprint TEXT NOT NULL UNIQUE,"
	" issuer TEXT NOT NULL,"
	" name TEXT,"
	" subject TEXT NOT NULL,"
	" sans TEXT,"
	" profile TEXT NOT NULL,"
	" not_before BIGINT NOT NULL,"
	" not_after BIGINT NOT NULL,"
	" issued_at BIGINT NOT NULL,"
	" status SMALLINT NOT NULL DEFAULT 0 CHECK (status IN (0, 1)),"
	" revoked_at BIGINT,"
	" reason SMALLINT,"
	" invalidity_date BIGINT,"
	" der BYTEA NOT NULL);"
	"CREATE INDEX signet_certs_name ON signet_certs(name);"
	"CREATE INDEX signet_certs_status ON signet_certs(status, not_after);"
	"CREATE TABLE signet_counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL);",
	/* 2: a data version that every committed write moves, so that a
	 * long-running reader (the OCSP responder) can poll for changes. */
	"INSERT INTO signet_counters (name, value) VALUES ('data_version', 0)"
	" ON CONFLICT (name) DO NOTHING;"
	"CREATE INDEX signet_certs_revoked ON signet_certs(issuer, serial)"
	" INCLUDE (revoked_at, reason, invalidity_date) WHERE status = 1;",
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))
#define LOCK_KEY "7236918455"	/* advisory lock id for migrations */

static int pg_fail(struct pg_db *d, PGresult *res, struct signet_err *err, const char *what)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	int code = state && strcmp(state, "23505") == 0 ? SIGNET_E_EXISTS : SIGNET_E_DB;
	signet_err_set(err, code, "postgresql: %s: %s", what,
		       msg ? msg : PQerrorMessage(d->c));
	/* PQerrorMessage ends with a newline: keep the message one line. */
	for (char *p = err->msg; *p; p++)
		if (*p == '\n')
			*p = (p[1] ? ' ' : '\0');
	PQclear(res);
	return -1;
}

static int run(struct pg_db *d, const char *sql, struct signet_err *err)
{
	PGresult *res = PQexec(d->c, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		return pg_fail(d, res, err, "statement failed");
	PQclear(res);
	return 0;
}

static PGresult *query(struct pg_db *d, const char *sql, int n, const char *const *vals,
		       const int *lens, const int *fmts, struct signet_err *err, const char *what)
{
	PGresult *res = PQexecParams(d->c, sql, n, NULL, vals, lens, fmts, 1);
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		pg_fail(d, res, err, what);
		return NULL;
	}
	return res;
}

static int64_t get_i64(PGresult *r, int row, int col)
{
	const unsigned char *v;
	uint64_t x = 0;
	if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 8)
		return 0;
	v = (const unsigned char *)PQgetvalue(r, row, col);
	for (int i = 0; i < 8; i++)
		x = (x << 8) | v[i];
	return (int64_t)x;
}

static int get_i16(PGresult *r, int row, int col)
{
	const unsigned char *v;
	if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 2)
		return -1;
	v = (const unsigned char *)PQgetvalue(r, row, col);
	return (int16_t)((v[0] << 8) | v[1]);
}

static char *get_str(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : strndup(PQgetvalue(r, row, col),
							   (size_t)PQgetlength(r, row, col));
}

static void put_i64(char buf[8], int64_t v)
{
	uint64_t x = (uint64_t)v;
	for (int i = 7; i >= 0; i--, x >>= 8)
		buf[i] = (char)(x & 0xff);
}

static int migrate(struct pg_db *d, int must_exist, struct signet_err *err)
{
	PGresult *res;
	int version = 0;

	if (run(d, "BEGIN", err) < 0)
		return -1;
	if (run(d, "SELECT pg_advisory_xact_lock(" LOCK_KEY ")", err) < 0 ||
	    run(d, "CREATE TABLE IF NOT EXISTS signet_schema (version INTEGER NOT NULL)", err) < 0)
		goto fail;
	res = PQexec(d->c, "SELECT version FROM signet_schema");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		pg_fail(d, res, err, "cannot read schema version");
		goto fail;
	}
	if (PQntuples(res) > 0)
		version = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (must_exist && version == 0) {
		signet_err_set(err, SIGNET_E_DB,
			       "postgresql: the database holds no signet tables (is it the CA's "
			       "database? signet will not start an empty one for an existing CA)");
		goto fail;
	}
	if (version > SCHEMA_VERSION) {
		signet_err_set(err, SIGNET_E_DB,
			       "postgresql: schema version %d is newer than this signet "
			       "understands (%d): upgrade signet", version, SCHEMA_VERSION);
		goto fail;
	}
	for (int v = version; v < SCHEMA_VERSION; v++)
		if (run(d, migrations[v], err) < 0)
			goto fail;
	if (version < SCHEMA_VERSION) {
		char sql[128];
		snprintf(sql, sizeof(sql), "DELETE FROM signet_schema; INSERT INTO signet_schema VALUES (%d)",
			 SCHEMA_VERSION);
		if (run(d, sql, err) < 0)
			goto fail;
	}
	return run(d, "COMMIT", err);
fail:
	run(d, "ROLLBACK", NULL);
	return -1;
}

static void p_close(struct signet_db *db)
{
	struct pg_db *d = (struct pg_db *)db;
	PQfinish(d->c);
	free(d);
}

static void p_rollback(struct signet_db *db);

static int p_begin(struct signet_db *db, struct signet_err *err)
{
	struct pg_db *d = (struct pg_db *)db;
	if (run(d, "BEGIN", err) < 0)
		return -1;
	d->in_txn = 1;
	d->txn_writes = 0;
	return 0;
}

static int p_commit(struct signet_db *db, struct signet_err *err)
{
	struct pg_db *d = (struct pg_db *)db;
	PGresult *res;
	int rc = 0;

	/* Move the data version last, so its row lock is held only for the
	 * commit itself and concurrent writers are not serialised for longer. */
	if (d->txn_writes > 0 &&
	    run(d, "UPDATE signet_counters SET value = value + 1 WHERE name = 'data_version'",
		err) < 0) {
		p_rollback(db);
		return -1;
	}
	res = PQexec(d->c, "COMMIT");
	d->in_txn = 0;
	d->txn_writes = 0;
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return pg_fail(d, res, err, "commit failed");
	/* COMMIT of a transaction that already failed answers ROLLBACK and
	 * status OK: nothing was kept, and the caller must hear so. */
	if (strcmp(PQcmdStatus(res), "COMMIT") != 0)
		rc = signet_err_set(err, SIGNET_E_DB,
				    "postgresql: the transaction was rolled back (an earlier "
				    "statement in it failed); nothing was recorded");
	PQclear(res);
	return rc;
}

static void p_rollback(struct signet_db *db)
{
	struct pg_db *d = (struct pg_db *)db;
	if (d->in_txn)
		run(d, "ROLLBACK", NULL);
	d->in_txn = 0;
}

static int p_insert(struct signet_db *db, const struct signet_record *r, struct signet_err *err)
{
	struct pg_db *d = (struct pg_db *)db;
	char nb[8], na[8], ia[8];
	const char *vals[11];
	int lens[11] = { 0 }, fmts[11] = { 0 };
	PGresult *res;

	put_i64(nb, r->not_before);
	put_i64(na, r->not_after);
	put_i64(ia, r->issued_at);
	vals[0] = r->serial;
	vals[1] = r->fingerprint;
	vals[2] = r->issuer;
	vals[3] = r->name;
	vals[4] = r->subject ? r->subject : "";
	vals[5] = r->sans;
	vals[6] = r->profile ? r->profile : "";
	vals[7] = nb, vals[8] = na, vals[9] = ia;
	vals[10] = (const char *)r->der;
	for (int i = 7; i < 10; i++)
		lens[i] = 8, fmts[i] = 1;
	lens[10] = (int)r->der_len, fmts[10] = 1;
	if (!d->in_txn) {
		/* A lone insert is its own transaction, so it moves the data
		 * version atomically with it. */
		int rc;
		if (p_begin(db, err) < 0)
			return -1;
		rc = p_insert(db, r, err);
		if (rc == 0)
			return p_commit(db, err);
		p_rollback(db);
		return rc;
	}
	res = query(d,
		    "INSERT INTO signet_certs (serial, fingerprint, issuer, name, subject, sans,"
		    " profile, not_before, not_after, issued_at, der)"
		    " VALUES ($1,$2,$3,$4,$5,$6,$7,$8::bigint,$9::bigint,$10::bigint,$11::bytea)",
		    11, vals, lens, fmts, err, "cannot record certificate");
	if (res == NULL) {
		if (err->code == SIGNET_E_EXISTS)
			signet_err_set(err, SIGNET_E_EXISTS,
				       "serial %s is already in the CA database", r->serial);
		return -1;
	}
	PQclear(res);
	d->txn_writes++;
	return 0;
}

#define PG_COLS                                                                \
	"serial, fingerprint, issuer, name, subject, sans, profile, not_before,"   \
	" not_after, issued_at, status, revoked_at, reason, invalidity_date"

static void row_to_record(PGresult *r, int row, struct signet_record *out, int with_der)
{
	char *s;
	snprintf(out->serial, sizeof(out->serial), "%s", PQgetvalue(r, row, 0));
	snprintf(out->fingerprint, sizeof(out->fingerprint), "%s", PQgetvalue(r, row, 1));
	snprintf(out->issuer, sizeof(out->issuer), "%s", PQgetvalue(r, row, 2));
	out->name = get_str(r, row, 3);
	out->subject = get_str(r, row, 4);
	out->sans = get_str(r, row, 5);
	out->profile = get_str(r, row, 6);
	out->not_before = get_i64(r, row, 7);
	out->not_after = get_i64(r, row, 8);
	out->issued_at = get_i64(r, row, 9);
	out->status = get_i16(r, row, 10);
	out->revoked_at = get_i64(r, row, 11);
	out->reason = get_i16(r, row, 12);
	out->invalidity_date = get_i64(r, row, 13);
	if (with_der && !PQgetisnull(r, row, 14)) {
		int n = PQgetlength(r, row, 14);
		s = malloc((size_t)n + 1);
		if (s != NULL) {
			memcpy(s, PQgetvalue(r, row, 14), (size_t)n);
			out->der = (unsigned char *)s;
			out->der_len = (size_t)n;
		}
	}
}

static int p_get(struct signet_db *db, const char *serial, const char *name,
		 struct signet_record *out, struct signet_err *err)
{
	struct pg_db *d = (struct pg_db *)db;
	const char *vals[1] = { serial ? serial : name };
	PGresult *res = query(d,
			      serial ? "SELECT " PG_COLS ", der FROM signet_certs WHERE serial = $1"
				     : "SELECT " PG_COLS ", der FROM signet_certs WHERE name = $1"
				       " ORDER BY issued_at DESC, serial DESC LIMIT 1",
			      1, vals, NULL, NULL, err, "lookup failed");
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return signet_err_set(err, SIGNET_E_NOTFOUND, "not found");
	}
	row_to_record(res, 0, out, 1);
	PQclear(res);
	return 0;
}

static int p_list(struct signet_db *db, const struct signet_db_filter *f,
		  int (*cb)(const struct signet_record *, void *), void *ctx,
		  struct signet_err *err)
{
	struct pg_db *d = (struct pg_db *)db;
	char sql[768], nowb[8], expb[8];
	const char *vals[3];
	int lens[3] = { 8, 8, 0 }, fmts[3] = { 1, 1, 0 };
	PGresult *res;
	int stop = 0;

	put_i64(nowb, f->now);
	put_i64(expb, f->expiring_before);
	vals[0] = nowb, vals[1] = expb, vals[2] = f->issuer ? f->issuer : "";
	snprintf(sql, sizeof(sql),
		 "SELECT " PG_COLS "%s FROM signet_certs WHERE true%s%s%s"
		 " ORDER BY issued_at, serial",
		 f->with_der ? ", der" : "",
		 f->status == SIGNET_STATUS_VALID     ? " AND status = 0 AND not_after >= $1::bigint"
		 : f->status == SIGNET_STATUS_REVOKED ? " AND status = 1 AND $1::bigint = $1::bigint"
		 : f->status == SIGNET_STATUS_EXPIRED ? " AND status = 0 AND not_after < $1::bigint"
						      : " AND $1::bigint = $1::bigint",
		 f->expiring_before ? " AND status = 0 AND not_after >= $1::bigint AND not_after < $2::bigint"
				    : " AND $2::bigint = $2::bigint",
		 f->issuer ? " AND issuer = $3" : " AND $3::text = $3::text");
	res = query(d, sql, 3, vals, lens, fmts, err, "list failed");
	if (res == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res) && !stop; i++) {
		struct signet_record r;
		memset(&r, 0, sizeof(r));
		row_to_record(res, i, &r, f->with_der);
		if (r.status == SIGNET_STATUS_VALID && r.not_after < f->now)
			r.status = SIGNET_STATUS_EXPIRED;
		stop = cb(&r, ctx);
		signet_record_clear(&r);
	}
	PQclear(res);
	return stop;
}

static int p_revoke(struct signet_db *db, const char *serial, int reason,
		    int64_t revoked_at, int64_t invalidity, struct signet_err *err)
{
	struct pg_db *d = (struct pg_db *)db;
	int own = !d->in_txn, rc = -1, status, old;
	const char *vals[4];
	int lens[4] = { 0, 8, 2, 8 }, fmts[4] = { 0, 1, 1, 1 };
	char at[8], inv[8], rs[2];
	PGresult *res;

	if (own && p_begin(db, err) < 0)
		return -1;
	vals[0] = serial;
	res = query(d, "SELECT status, reason FROM signet_certs WHERE serial = $1 FOR UPDATE", 1,
		    vals, NULL, NULL, err, "cannot look up serial");
	if (res == NULL)
		goto out;
	if (PQntuples(res) == 0) {
		PQclear(res);
		signet_err_set(err, SIGNET_E_NOTFOUND, "serial %s is not in the CA database", serial);
		goto out;
	}
	status = get_i16(res, 0, 0);
	old = get_i16(res, 0, 1);
	PQclear(res);
	if (reason == SIGNET_REASON_REMOVE_FROM_CRL) {
		if (status != SIGNET_STATUS_REVOKED || old != SIGNET_REASON_CERTIFICATE_HOLD) {
			signet_err_set(err, SIGNET_E_EXISTS,
				       "serial %s is not on hold, so removeFromCRL does not apply",
				       serial);
			goto out;
		}
		res = query(d, "UPDATE signet_certs SET status = 0, revoked_at = NULL, reason = NULL,"
			       " invalidity_date = NULL WHERE serial = $1",
			    1, vals, NULL, NULL, err, "cannot release hold");
	} else {
		if (status == SIGNET_STATUS_REVOKED &&
		    !(old == SIGNET_REASON_CERTIFICATE_HOLD && reason != SIGNET_REASON_CERTIFICATE_HOLD)) {
			signet_err_set(err, SIGNET_E_EXISTS, "serial %s is already revoked", serial);
			goto out;
		}
		put_i64(at, revoked_at);
		put_i64(inv, invalidity);
		rs[0] = (char)((reason >> 8) & 0xff);
		rs[1] = (char)(reason & 0xff);
		vals[1] = at, vals[2] = rs, vals[3] = invalidity ? inv : NULL;
		res = query(d, "UPDATE signet_certs SET status = 1, revoked_at = $2::bigint,"
			       " reason = $3::smallint, invalidity_date = $4::bigint WHERE serial = $1",
			    4, vals, lens, fmts, err, "cannot record revocation");
	}
	if (res == NULL)
		goto out;
	PQclear(res);
	d->txn_writes++;
	if (own) {
		own = 0;
		if (p_commit(db, err) < 0)
			goto out;
	}
	rc = 0;
out:
	if (own)
		p_rollback(db);
	return rc;
}

static int p_each_revoked(struct signet_db *db, const char *issuer,
			  int (*cb)(const struct signet_revoked *, void *), void *ctx,
			  struct signet_err *err)
{
	struct pg_db *d = (struct pg_db *)db;
	const char *vals[1] = { issuer ? issuer : "" };
	PGresult *res = query(d,
			      issuer ? "SELECT serial, revoked_at, reason, invalidity_date FROM signet_certs"
				       " WHERE status = 1 AND issuer = $1"
				     : "SELECT serial, revoked_at, reason, invalidity_date FROM signet_certs"
				       " WHERE status = 1 AND $1::text = $1::text",
			      1, vals, NULL, NULL, err, "revoked walk failed");
	int stop = 0;
	if (res == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res) && !stop; i++) {
		struct signet_revoked r;
		r.serial = PQgetvalue(res, i, 0);
		r.revoked_at = get_i64(res, i, 1);
		r.reason = get_i16(res, i, 2);
		r.invalidity_date = get_i64(res, i, 3);
		stop = cb(&r, ctx);
	}
	PQclear(res);
	return stop;
}

static int p_counter_next(struct signet_db *db, const char *name, int64_t *value,
			  struct signet_err *err)
{
	struct pg_db *d = (struct pg_db *)db;
	const char *vals[1] = { name };
	PGresult *res = query(d,
			      "INSERT INTO signet_counters (name, value) VALUES ($1, 1)"
			      " ON CONFLICT (name) DO UPDATE SET value = signet_counters.value + 1"
			      " RETURNING value",
			      1, vals, NULL, NULL, err, "cannot advance counter");
	if (res == NULL)
		return -1;
	*value = get_i64(res, 0, 0);
	PQclear(res);
	return 0;
}

static int p_check(struct signet_db *db, struct signet_err *err)
{
	struct pg_db *d = (struct pg_db *)db;
	return run(d, "SELECT count(*) FROM signet_certs", err);
}

static int p_data_version(struct signet_db *db, int64_t *version, struct signet_err *err)
{
	struct pg_db *d = (struct pg_db *)db;
	const char *vals[1] = { "data_version" };
	PGresult *res = query(d, "SELECT value FROM signet_counters WHERE name = $1", 1, vals,
			      NULL, NULL, err, "cannot read the data version");
	if (res == NULL)
		return -1;
	*version = PQntuples(res) > 0 ? get_i64(res, 0, 0) : 0;
	PQclear(res);
	return 0;
}

static const struct signet_db_ops pg_ops = {
	.close = p_close,
	.begin = p_begin,
	.commit = p_commit,
	.rollback = p_rollback,
	.insert = p_insert,
	.get = p_get,
	.list = p_list,
	.revoke = p_revoke,
	.each_revoked = p_each_revoked,
	.counter_next = p_counter_next,
	.check = p_check,
	.data_version = p_data_version,
};

struct signet_db *signet_db_pg_open(const char *conninfo, int flags, struct signet_err *err)
{
	struct pg_db *d;

	pthread_once(&pq_once, pq_load);
	if (pq_missing != NULL) {
		signet_err_set(err, SIGNET_E_DB,
			       "postgresql: cannot load the PostgreSQL client library (%s missing); "
			       "install libpq5", pq_missing);
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		signet_err_set(err, SIGNET_E_INTERNAL, "out of memory");
		return NULL;
	}
	d->base.ops = &pg_ops;
	d->c = PQconnectdb(conninfo);
	if (PQstatus(d->c) != CONNECTION_OK) {
		signet_err_set(err, SIGNET_E_DB, "postgresql: cannot connect: %s",
			       PQerrorMessage(d->c));
		for (char *p = err->msg; *p; p++)
			if (*p == '\n')
				*p = (p[1] ? ' ' : '\0');
		goto fail;
	}
	if (run(d, "SET client_min_messages = warning", err) < 0 ||
	    migrate(d, (flags & SIGNET_DB_MUST_EXIST) != 0, err) < 0)
		goto fail;
	return &d->base;
fail:
	PQfinish(d->c);
	free(d);
	return NULL;
}

#else

struct signet_db *signet_db_pg_open(const char *conninfo, int flags, struct signet_err *err)
{
	(void)conninfo;
	(void)flags;
	signet_err_set(err, SIGNET_E_DB,
		       "this signet was built without libpq, so postgresql:// databases are "
		       "not available; install libpq-dev and rebuild");
	return NULL;
}

#endif
