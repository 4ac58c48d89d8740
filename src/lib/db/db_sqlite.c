/*
 * db_sqlite.c - the embedded SQLite backend (the default).
 *
 * WAL mode with synchronous=FULL: a commit is on disk when it returns, and
 * readers never block the writer.  Several signet processes may share one
 * file; writers serialise through BEGIN IMMEDIATE and a busy timeout.
 * The schema is versioned with PRAGMA user_version and upgraded by the
 * ordered migrations below, each in its own transaction.
 * Hot statements (insert) are prepared once per connection.
 */
#include "db_internal.h"

#include <libgen.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/stat.h>
#include <string.h>

struct sqlite_db {
	struct signet_db base;
	sqlite3 *h;
	sqlite3_stmt *insert;
	int in_txn;
	int wrote;       /* this connection committed a change */
	long txn_writes; /* rows written in the open transaction */
	int readonly;    /* opened for reading: this user cannot write it */
	int folding;     /* fold_thread is running (see s_commit) */
	pthread_t fold_thread;
	char path[4096];
};

static const char *const migrations[] = {
	/* 1: certificates, counters */
	"CREATE TABLE certs ("
	" serial TEXT PRIMARY KEY,"
	" fingerprint TEXT NOT NULL UNIQUE,"
	" issuer TEXT NOT NULL,"
	" name TEXT,"
	" subject TEXT NOT NULL,"
	" sans TEXT,"
	" profile TEXT NOT NULL,"
	" not_before INTEGER NOT NULL,"
	" not_after INTEGER NOT NULL,"
	" issued_at INTEGER NOT NULL,"
	" status INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1)),"
	" revoked_at INTEGER,"
	" reason INTEGER,"
	" invalidity_date INTEGER,"
	" der BLOB NOT NULL"
	") WITHOUT ROWID;"
	"CREATE INDEX certs_name ON certs(name);"
	"CREATE INDEX certs_status ON certs(status, not_after);"
	"CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);",
	/* 2: a covering partial index of revoked entries, so that building a
	 * CRL or an OCSP index walks only the revoked rows, in serial order,
	 * without a table lookup per row (1M revocations: one index scan). */
	"CREATE INDEX certs_revoked ON certs(issuer, serial, revoked_at, reason,"
	" invalidity_date, status) WHERE status = 1;",
	/* 3: rows in issuance order.  Keyed by the random serial (WITHOUT
	 * ROWID), every insert landed on a random page of the whole table, so
	 * a batch rewrote most of the database: 5000 certificates into 100k
	 * dirtied ~20 MB of pages.  Now the rows are appended and only the
	 * small serial index takes random inserts.  The fingerprint's UNIQUE
	 * index goes too: nothing looks a fingerprint up, and distinct
	 * serials already mean distinct certificates. */
	"CREATE TABLE certs3 ("
	" id INTEGER PRIMARY KEY,"
	" serial TEXT NOT NULL UNIQUE,"
	" fingerprint TEXT NOT NULL,"
	" issuer TEXT NOT NULL,"
	" name TEXT,"
	" subject TEXT NOT NULL,"
	" sans TEXT,"
	" profile TEXT NOT NULL,"
	" not_before INTEGER NOT NULL,"
	" not_after INTEGER NOT NULL,"
	" issued_at INTEGER NOT NULL,"
	" status INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1)),"
	" revoked_at INTEGER,"
	" reason INTEGER,"
	" invalidity_date INTEGER,"
	" der BLOB NOT NULL"
	");"
	"INSERT INTO certs3 (serial, fingerprint, issuer, name, subject, sans, profile,"
	" not_before, not_after, issued_at, status, revoked_at, reason, invalidity_date, der)"
	" SELECT serial, fingerprint, issuer, name, subject, sans, profile, not_before,"
	" not_after, issued_at, status, revoked_at, reason, invalidity_date, der"
	" FROM certs ORDER BY issued_at, serial;"
	"DROP TABLE certs;"
	"ALTER TABLE certs3 RENAME TO certs;"
	"CREATE INDEX certs_name ON certs(name);"
	"CREATE INDEX certs_status ON certs(status, not_after);"
	"CREATE INDEX certs_revoked ON certs(issuer, serial, revoked_at, reason,"
	" invalidity_date, status) WHERE status = 1;",
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

static int fail(struct sqlite_db *d, struct signet_err *err, const char *what)
{
	int ec = sqlite3_extended_errcode(d->h);
	/* A full disk is an I/O condition the user fixes, not a database fault. */
	if ((ec & 0xff) == SQLITE_FULL || ec == SQLITE_IOERR_WRITE || ec == SQLITE_IOERR_FSYNC)
		return signet_err_set(err, SIGNET_E_IO, "%s: %s: %s", d->path, what,
				      (ec & 0xff) == SQLITE_FULL ? "no space left on device"
								 : sqlite3_errmsg(d->h));
	if (d->readonly && (ec & 0xff) == SQLITE_READONLY)
		return signet_err_set(err, SIGNET_E_DB,
				      "%s: %s: the CA database is read-only here (no write "
				      "access to it or its directory)", d->path, what);
	return signet_err_set(err, SIGNET_E_DB, "%s: %s: %s", d->path, what,
			      sqlite3_errmsg(d->h));
}

static int exec(struct sqlite_db *d, const char *sql, struct signet_err *err)
{
	char *msg = NULL;
	if (sqlite3_exec(d->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
		sqlite3_free(msg);
		return fail(d, err, "statement failed");
	}
	return 0;
}

/* The schema version of an open database (0: none yet), or -1. */
static int schema_version(struct sqlite_db *d)
{
	sqlite3_stmt *st = NULL;
	int version = -1;

	if (sqlite3_prepare_v2(d->h, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return version;
}

/* An existing CA's database without signet's schema: never started anew. */
static int refuse_empty(const char *path, struct signet_err *err)
{
	return signet_err_set(err, SIGNET_E_DB,
			      "%s: the CA database is empty, not a signet database (restore it "
			      "from a backup)", path);
}

static int refuse_newer(const char *path, int version, struct signet_err *err)
{
	return signet_err_set(err, SIGNET_E_DB,
			      "%s: database schema version %d is newer than this signet "
			      "understands (%d): upgrade signet", path, version, SCHEMA_VERSION);
}

static int migrate(struct sqlite_db *d, struct signet_err *err)
{
	int version = schema_version(d);

	if (version < 0)
		return fail(d, err, "cannot read schema version");
	if (version > SCHEMA_VERSION)
		return refuse_newer(d->path, version, err);
	for (int v = version; v < SCHEMA_VERSION; v++) {
		char pragma[64];
		if (exec(d, "BEGIN IMMEDIATE", err) < 0)
			return -1;
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v + 1);
		if (exec(d, migrations[v], err) < 0 || exec(d, pragma, err) < 0) {
			exec(d, "ROLLBACK", NULL);
			return -1;
		}
		if (exec(d, "COMMIT", err) < 0)
			return -1;
	}
	return 0;
}

/* Checkpoint and truncate the WAL once it passes this size (see open).
 * Each process's first connection reads the whole WAL to index it, and a
 * one-certificate command adds about 16 KiB: at 256 KiB, one process in
 * ~15 folds (about a millisecond), and the others read a quarter of what
 * 1 MiB cost them.  Measured with one `signet sign` per certificate, two
 * runs of five alternating rounds: 2.5% and 4% faster than 1 MiB; 64 KiB
 * was between the two. */
#define WAL_FOLD_BYTES (256 * 1024)

/* Copies the WAL into the database and truncates it. */
static void *fold_run(void *arg)
{
	struct sqlite_db *d = arg;

	sqlite3_exec(d->h, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	return NULL;
}

/* Waits for a fold started by s_commit: the connection is opened without
 * SQLite's mutex, so every method settles it before using the handle. */
static struct sqlite_db *settle(struct signet_db *db)
{
	struct sqlite_db *d = (struct sqlite_db *)db;

	if (d->folding) {
		pthread_join(d->fold_thread, NULL);
		d->folding = 0;
	}
	return d;
}

static void s_close(struct signet_db *db)
{
	struct sqlite_db *d = settle(db);
	char wal[4200];
	struct stat st;

	if (d->in_txn)
		sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
	/* Fold a grown WAL into the database now and then, here rather than
	 * on every commit: a busy reader elsewhere just postpones it. */
	snprintf(wal, sizeof(wal), "%s-wal", d->path);
	if (d->wrote && stat(wal, &st) == 0 && st.st_size > WAL_FOLD_BYTES)
		sqlite3_exec(d->h, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	sqlite3_finalize(d->insert);
	sqlite3_close(d->h);
	free(d);
}

static int s_begin(struct signet_db *db, struct signet_err *err)
{
	struct sqlite_db *d = settle(db);
	if (exec(d, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	d->in_txn = 1;
	d->txn_writes = 0;
	return 0;
}

static int s_commit(struct signet_db *db, struct signet_err *err)
{
	struct sqlite_db *d = settle(db);
	if (exec(d, "COMMIT", err) < 0) {
		exec(d, "ROLLBACK", NULL);
		d->in_txn = 0;
		return -1;
	}
	d->in_txn = 0;
	d->wrote = 1;
	/* A big batch leaves a big WAL: fold it into the database now, while
	 * its pages are hot, rather than in the next process's open.  Failure
	 * here loses nothing (the commit is durable), so it is not an error.
	 * The commit is already on disk, so the fold runs on its own thread
	 * while the caller writes out what it committed (a `signet sign`
	 * batch of 5000 certificates ends about 2% sooner); the next use of the
	 * connection waits for it (settle). */
	if (d->txn_writes > 256) {
		d->folding = pthread_create(&d->fold_thread, NULL, fold_run, d) == 0;
		if (!d->folding)
			fold_run(d);
	}
	d->txn_writes = 0;
	return 0;
}

static void s_rollback(struct signet_db *db)
{
	struct sqlite_db *d = settle(db);
	if (d->in_txn)
		exec(d, "ROLLBACK", NULL);
	d->in_txn = 0;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s != NULL)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static int s_insert(struct signet_db *db, const struct signet_record *r,
		    struct signet_err *err)
{
	struct sqlite_db *d = settle(db);
	sqlite3_stmt *st;
	int rc;

	if (d->insert == NULL &&
	    sqlite3_prepare_v3(d->h,
			       "INSERT INTO certs (serial, fingerprint, issuer, name, subject,"
			       " sans, profile, not_before, not_after, issued_at, der)"
			       " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
			       -1, SQLITE_PREPARE_PERSISTENT, &d->insert, NULL) != SQLITE_OK)
		return fail(d, err, "cannot prepare insert");
	st = d->insert;
	bind_text(st, 1, r->serial);
	bind_text(st, 2, r->fingerprint);
	bind_text(st, 3, r->issuer);
	bind_text(st, 4, r->name);
	bind_text(st, 5, r->subject ? r->subject : "");
	bind_text(st, 6, r->sans);
	bind_text(st, 7, r->profile ? r->profile : "");
	sqlite3_bind_int64(st, 8, r->not_before);
	sqlite3_bind_int64(st, 9, r->not_after);
	sqlite3_bind_int64(st, 10, r->issued_at);
	sqlite3_bind_blob(st, 11, r->der, (int)r->der_len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_CONSTRAINT)
		return signet_err_set(err, SIGNET_E_EXISTS,
				      "serial %s is already in the CA database", r->serial);
	if (rc != SQLITE_DONE)
		return fail(d, err, "cannot record certificate");
	d->txn_writes++;
	d->wrote = 1;
	return 0;
}

static char *col_strdup(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	return s ? strdup((const char *)s) : NULL;
}

static void copy_fixed(char *dst, size_t size, sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	snprintf(dst, size, "%s", s ? (const char *)s : "");
}

#define RECORD_COLS                                                            \
	"serial, fingerprint, issuer, name, subject, sans, profile, not_before,"   \
	" not_after, issued_at, status, revoked_at, reason, invalidity_date"

static void row_to_record(sqlite3_stmt *st, struct signet_record *r, int with_der)
{
	copy_fixed(r->serial, sizeof(r->serial), st, 0);
	copy_fixed(r->fingerprint, sizeof(r->fingerprint), st, 1);
	copy_fixed(r->issuer, sizeof(r->issuer), st, 2);
	r->name = col_strdup(st, 3);
	r->subject = col_strdup(st, 4);
	r->sans = col_strdup(st, 5);
	r->profile = col_strdup(st, 6);
	r->not_before = sqlite3_column_int64(st, 7);
	r->not_after = sqlite3_column_int64(st, 8);
	r->issued_at = sqlite3_column_int64(st, 9);
	r->status = sqlite3_column_int(st, 10);
	r->revoked_at = sqlite3_column_int64(st, 11);
	r->reason = sqlite3_column_type(st, 12) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 12);
	r->invalidity_date = sqlite3_column_int64(st, 13);
	if (with_der) {
		int n = sqlite3_column_bytes(st, 14);
		const void *b = sqlite3_column_blob(st, 14);
		r->der = n > 0 ? malloc((size_t)n) : NULL;
		if (r->der != NULL) {
			memcpy(r->der, b, (size_t)n);
			r->der_len = (size_t)n;
		}
	}
}

static int s_get(struct signet_db *db, const char *serial, const char *name,
		 struct signet_record *out, struct signet_err *err)
{
	struct sqlite_db *d = settle(db);
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(d->h,
			       serial ? "SELECT " RECORD_COLS ", der FROM certs WHERE serial = ?"
				      : "SELECT " RECORD_COLS ", der FROM certs WHERE name = ?"
					" ORDER BY issued_at DESC, serial DESC LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK)
		return fail(d, err, "cannot prepare lookup");
	sqlite3_bind_text(st, 1, serial ? serial : name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		row_to_record(st, out, 1);
		sqlite3_finalize(st);
		return 0;
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return signet_err_set(err, SIGNET_E_NOTFOUND, "not found");
	return fail(d, err, "lookup failed");
}

static int s_list(struct signet_db *db, const struct signet_db_filter *f,
		  int (*cb)(const struct signet_record *, void *), void *ctx,
		  struct signet_err *err)
{
	struct sqlite_db *d = settle(db);
	sqlite3_stmt *st = NULL;
	char sql[512];
	int rc, n = 1;

	snprintf(sql, sizeof(sql),
		 "SELECT " RECORD_COLS "%s FROM certs WHERE 1=1%s%s%s%s"
		 " ORDER BY issued_at, serial",
		 f->with_der ? ", der" : "",
		 f->status == SIGNET_STATUS_VALID     ? " AND status = 0 AND not_after >= ?1"
		 : f->status == SIGNET_STATUS_REVOKED ? " AND status = 1 AND ?1 = ?1"
		 : f->status == SIGNET_STATUS_EXPIRED ? " AND status = 0 AND not_after < ?1"
						      : " AND ?1 = ?1",
		 f->expiring_before ? " AND status = 0 AND not_after >= ?1 AND not_after < ?2"
				    : " AND ?2 = ?2",
		 f->issuer ? " AND issuer = ?3" : "", "");
	if (sqlite3_prepare_v2(d->h, sql, -1, &st, NULL) != SQLITE_OK)
		return fail(d, err, "cannot prepare list");
	sqlite3_bind_int64(st, 1, f->now);
	sqlite3_bind_int64(st, 2, f->expiring_before);
	if (f->issuer)
		sqlite3_bind_text(st, 3, f->issuer, -1, SQLITE_STATIC);
	(void)n;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct signet_record r;
		int stop;
		memset(&r, 0, sizeof(r));
		row_to_record(st, &r, f->with_der);
		if (r.status == SIGNET_STATUS_VALID && r.not_after < f->now)
			r.status = SIGNET_STATUS_EXPIRED;
		stop = cb(&r, ctx);
		signet_record_clear(&r);
		if (stop) {
			sqlite3_finalize(st);
			return stop;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return fail(d, err, "list failed");
	return 0;
}

static int s_revoke(struct signet_db *db, const char *serial, int reason,
		    int64_t revoked_at, int64_t invalidity, struct signet_err *err)
{
	struct sqlite_db *d = settle(db);
	sqlite3_stmt *st = NULL;
	int rc = -1, own_txn = !d->in_txn, status, old_reason;

	if (own_txn && s_begin(db, err) < 0)
		return -1;
	if (sqlite3_prepare_v2(d->h, "SELECT status, reason FROM certs WHERE serial = ?", -1,
			       &st, NULL) != SQLITE_OK) {
		fail(d, err, "cannot prepare revoke");
		goto out;
	}
	sqlite3_bind_text(st, 1, serial, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		signet_err_set(err, SIGNET_E_NOTFOUND,
			       "serial %s is not in the CA database", serial);
		goto out;
	}
	status = sqlite3_column_int(st, 0);
	old_reason = sqlite3_column_type(st, 1) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 1);
	sqlite3_finalize(st);
	st = NULL;
	if (reason == SIGNET_REASON_REMOVE_FROM_CRL) {
		if (status != SIGNET_STATUS_REVOKED ||
		    old_reason != SIGNET_REASON_CERTIFICATE_HOLD) {
			signet_err_set(err, SIGNET_E_EXISTS,
				       "serial %s is not on hold, so removeFromCRL does not apply",
				       serial);
			goto out;
		}
		if (sqlite3_prepare_v2(d->h,
				       "UPDATE certs SET status = 0, revoked_at = NULL,"
				       " reason = NULL, invalidity_date = NULL WHERE serial = ?",
				       -1, &st, NULL) != SQLITE_OK) {
			fail(d, err, "cannot prepare release");
			goto out;
		}
		sqlite3_bind_text(st, 1, serial, -1, SQLITE_STATIC);
	} else {
		if (status == SIGNET_STATUS_REVOKED &&
		    !(old_reason == SIGNET_REASON_CERTIFICATE_HOLD &&
		      reason != SIGNET_REASON_CERTIFICATE_HOLD)) {
			signet_err_set(err, SIGNET_E_EXISTS, "serial %s is already revoked",
				       serial);
			goto out;
		}
		if (sqlite3_prepare_v2(d->h,
				       "UPDATE certs SET status = 1, revoked_at = ?, reason = ?,"
				       " invalidity_date = ? WHERE serial = ?",
				       -1, &st, NULL) != SQLITE_OK) {
			fail(d, err, "cannot prepare revoke");
			goto out;
		}
		sqlite3_bind_int64(st, 1, revoked_at);
		sqlite3_bind_int(st, 2, reason);
		if (invalidity)
			sqlite3_bind_int64(st, 3, invalidity);
		else
			sqlite3_bind_null(st, 3);
		sqlite3_bind_text(st, 4, serial, -1, SQLITE_STATIC);
	}
	if (sqlite3_step(st) != SQLITE_DONE) {
		fail(d, err, "cannot record revocation");
		goto out;
	}
	if (own_txn) {
		own_txn = 0;
		if (s_commit(db, err) < 0)
			goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	if (own_txn)
		s_rollback(db);
	return rc;
}

static int s_each_revoked(struct signet_db *db, const char *issuer,
			  int (*cb)(const struct signet_revoked *, void *), void *ctx,
			  struct signet_err *err)
{
	struct sqlite_db *d = settle(db);
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(d->h,
			       issuer ? "SELECT serial, revoked_at, reason, invalidity_date"
					" FROM certs INDEXED BY certs_revoked"
					" WHERE status = 1 AND issuer = ?"
				      : "SELECT serial, revoked_at, reason, invalidity_date"
					" FROM certs INDEXED BY certs_revoked WHERE status = 1",
			       -1, &st, NULL) != SQLITE_OK)
		return fail(d, err, "cannot prepare revoked walk");
	if (issuer)
		sqlite3_bind_text(st, 1, issuer, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct signet_revoked r;
		int stop;
		r.serial = (const char *)sqlite3_column_text(st, 0);
		r.revoked_at = sqlite3_column_int64(st, 1);
		r.reason = sqlite3_column_int(st, 2);
		r.invalidity_date = sqlite3_column_int64(st, 3);
		stop = cb(&r, ctx);
		if (stop) {
			sqlite3_finalize(st);
			return stop;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return fail(d, err, "revoked walk failed");
	return 0;
}

static int s_counter_next(struct signet_db *db, const char *name, int64_t *value,
			  struct signet_err *err)
{
	struct sqlite_db *d = settle(db);
	sqlite3_stmt *st = NULL;
	int rc = -1, own_txn = !d->in_txn;

	if (own_txn && s_begin(db, err) < 0)
		return -1;
	if (sqlite3_prepare_v2(d->h,
			       "INSERT INTO counters (name, value) VALUES (?, 1)"
			       " ON CONFLICT(name) DO UPDATE SET value = value + 1"
			       " RETURNING value",
			       -1, &st, NULL) != SQLITE_OK) {
		fail(d, err, "cannot prepare counter");
		goto out;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		fail(d, err, "cannot advance counter");
		goto out;
	}
	*value = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if (own_txn) {
		own_txn = 0;
		if (s_commit(db, err) < 0)
			goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	if (own_txn)
		s_rollback(db);
	return rc;
}

static int s_check(struct signet_db *db, struct signet_err *err)
{
	struct sqlite_db *d = settle(db);
	sqlite3_stmt *st = NULL;
	int ok = 0;

	if (sqlite3_prepare_v2(d->h, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK)
		return fail(d, err, "cannot run integrity check");
	if (sqlite3_step(st) == SQLITE_ROW)
		ok = strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0;
	sqlite3_finalize(st);
	if (!ok)
		return signet_err_set(err, SIGNET_E_DB, "%s: integrity check failed", d->path);
	return 0;
}

/* PRAGMA data_version changes when another connection commits. */
static int s_data_version(struct signet_db *db, int64_t *version, struct signet_err *err)
{
	struct sqlite_db *d = settle(db);
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(d->h, "PRAGMA data_version", -1, &st, NULL) != SQLITE_OK)
		return fail(d, err, "cannot read the data version");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : fail(d, err, "cannot read the data version");
}

static const struct signet_db_ops sqlite_ops = {
	.close = s_close,
	.begin = s_begin,
	.commit = s_commit,
	.rollback = s_rollback,
	.insert = s_insert,
	.get = s_get,
	.list = s_list,
	.revoke = s_revoke,
	.each_revoked = s_each_revoked,
	.counter_next = s_counter_next,
	.check = s_check,
	.data_version = s_data_version,
};

/*
 * A thin VFS over SQLite's default one.  SQLite fsyncs the directory after
 * the first sync of any WAL it opened with the "create" flag, even when the
 * file already existed.  Since the WAL is kept between processes
 * (PERSIST_WAL), that was one needless directory fsync per CLI command;
 * the shim drops the create flag when the WAL already exists, so the
 * directory is synced only when the file is really new.
 */
static sqlite3_vfs shim_vfs;
static pthread_once_t shim_once = PTHREAD_ONCE_INIT;

static int shim_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags,
		     int *out_flags)
{
	sqlite3_vfs *base = vfs->pAppData;
	if ((flags & SQLITE_OPEN_WAL) && (flags & SQLITE_OPEN_CREATE) && name != NULL &&
	    access(name, F_OK) == 0)
		flags &= ~SQLITE_OPEN_CREATE;
	return base->xOpen(base, name, file, flags, out_flags);
}

static void shim_register(void)
{
	sqlite3_vfs *base = sqlite3_vfs_find(NULL);
	if (base == NULL)
		return;
	shim_vfs = *base;
	shim_vfs.zName = "signet-unix";
	shim_vfs.pAppData = base;
	shim_vfs.xOpen = shim_open;
	shim_vfs.pNext = NULL;
	if (sqlite3_vfs_register(&shim_vfs, 0) != SQLITE_OK)
		shim_vfs.zName = NULL;
}

/* Whether this user can write the database at path: the file, and either
 * its WAL and shared-memory files or the directory that would hold them. */
static int can_write(const char *path)
{
	char copy[4096], wal[4200], shm[4200];

	snprintf(copy, sizeof(copy), "%s", path);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	snprintf(shm, sizeof(shm), "%s-shm", path);
	return access(path, W_OK) == 0 &&
	       ((access(wal, W_OK) == 0 && access(shm, W_OK) == 0) ||
		access(dirname(copy), W_OK) == 0);
}

/* A "file:" URI for path that opens it immutable: SQLite then reads a
 * database in WAL mode whose WAL files it could not create. */
static void immutable_uri(const char *path, char *uri, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	n += (size_t)snprintf(uri, size, "file:");
	for (const unsigned char *p = (const unsigned char *)path; *p && n + 4 < size; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("/-._~", *p) != NULL) {
			uri[n++] = (char)*p;
		} else {
			uri[n++] = '%';
			uri[n++] = hex[*p >> 4];
			uri[n++] = hex[*p & 15];
		}
	}
	uri[n] = '\0';
	snprintf(uri + n, size - n, "?immutable=1");
}

/*
 * An existing CA database this user may only read (a backup, a read-only
 * mount, another user's CA directory): opened read-only so that listing and
 * exporting work, while anything that would write fails with a plain
 * reason.  Without its WAL file, which a reader cannot create, the file is
 * read as an immutable snapshot; with it, SQLite reads the WAL too.
 */
static int open_readonly(struct sqlite_db *d, const char *path, struct signet_err *err)
{
	char wal[4200], uri[3 * 4200 + 16];
	int version;

	d->readonly = 1;
	snprintf(wal, sizeof(wal), "%s-wal", path);
	if (access(wal, F_OK) != 0) {
		immutable_uri(path, uri, sizeof(uri));
		if (strlen(uri) + 1 >= sizeof(uri))
			return signet_err_set(err, SIGNET_E_DB, "%s: path too long", path);
	} else {
		snprintf(uri, sizeof(uri), "%s", path);
	}
	if (sqlite3_open_v2(uri, &d->h, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK)
		return signet_err_set(err, SIGNET_E_DB, "%s: cannot open database: %s", path,
				      d->h ? sqlite3_errmsg(d->h) : "out of memory");
	sqlite3_busy_timeout(d->h, 10000);
	version = schema_version(d);
	if (version < 0 && d->h != NULL && sqlite3_errcode(d->h) == SQLITE_CANTOPEN)
		return signet_err_set(err, SIGNET_E_DB,
				      "%s: cannot read it here: its WAL file needs a -shm file "
				      "this user cannot create (copy the database with sqlite3 "
				      "\".backup\", or run signet once with write access)", path);
	if (version < 0)
		return fail(d, err, "cannot read the database");
	if (version == 0)
		return refuse_empty(path, err);
	if (version > SCHEMA_VERSION)
		return refuse_newer(path, version, err);
	if (version != SCHEMA_VERSION)
		return signet_err_set(err, SIGNET_E_DB,
				      "%s: database schema version %d, this signet reads %d; it "
				      "is read-only here, so run signet once with write access "
				      "to upgrade it",
				      path, version, SCHEMA_VERSION);
	return 0;
}

struct signet_db *signet_db_sqlite_open(const char *path, int flags, struct signet_err *err)
{
	struct sqlite_db *d = calloc(1, sizeof(*d));
	int must_exist = (flags & SIGNET_DB_MUST_EXIST) != 0;

	if (d == NULL) {
		signet_err_set(err, SIGNET_E_INTERNAL, "out of memory");
		return NULL;
	}
	d->base.ops = &sqlite_ops;
	snprintf(d->path, sizeof(d->path), "%s", path);
	pthread_once(&shim_once, shim_register);
	if (must_exist && access(path, F_OK) != 0) {
		signet_err_set(err, SIGNET_E_DB,
			       "%s: the CA database is missing (restore it from a backup; "
			       "signet will not start an empty one for an existing CA)", path);
		goto fail;
	}
	if (must_exist && !can_write(path)) {
		if (open_readonly(d, path, err) < 0)
			goto fail;
		return &d->base;
	}
	if (sqlite3_open_v2(path, &d->h,
			    SQLITE_OPEN_READWRITE | (must_exist ? 0 : SQLITE_OPEN_CREATE) |
				    SQLITE_OPEN_NOMUTEX,
			    shim_vfs.zName) != SQLITE_OK) {
		signet_err_set(err, SIGNET_E_DB, "%s: cannot open database: %s", path,
			       d->h ? sqlite3_errmsg(d->h) : "out of memory");
		goto fail;
	}
	/* Checked before anything writes to the file (the WAL switch would). */
	if (must_exist && schema_version(d) == 0) {
		refuse_empty(path, err);
		goto fail;
	}
	sqlite3_busy_timeout(d->h, 10000);
	/* Short-lived CLI processes open the database once per command: keep
	 * the WAL file between them instead of checkpointing it (two more
	 * syncs) on every close.  SQLite's autocheckpoint does not help here:
	 * the first connection of a process rebuilds the WAL index and no
	 * longer knows which frames were already copied back, so a WAL that
	 * passed the threshold would be checkpointed again by every process
	 * and never restart.  Instead the WAL is checkpointed and truncated
	 * when it passes WAL_FOLD_BYTES (at close) or after a large
	 * transaction (s_commit), which also keeps each open's WAL read
	 * short.  Durability is unchanged: each commit is fsync'ed in the WAL. */
	{
		int one = 1;
		sqlite3_file_control(d->h, "main", SQLITE_FCNTL_PERSIST_WAL, &one);
		sqlite3_db_config(d->h, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	}
	if (exec(d, "PRAGMA journal_mode = WAL", err) < 0 ||
	    exec(d, "PRAGMA synchronous = FULL", err) < 0 ||
	    exec(d, "PRAGMA wal_autocheckpoint = 0", err) < 0 ||
	    exec(d, "PRAGMA foreign_keys = ON", err) < 0)
		goto fail;
	if (migrate(d, err) < 0)
		goto fail;
	return &d->base;
fail:
	sqlite3_close(d->h);
	free(d);
	return NULL;
}
