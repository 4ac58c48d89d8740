/*
 * db.c - dispatch from the public database interface to a backend.
 */
#include "db_internal.h"

#include <signet/cert.h>
#include <stdlib.h>
#include <string.h>

void signet_record_clear(struct signet_record *r)
{
	free(r->name);
	free(r->subject);
	free(r->sans);
	free(r->profile);
	free(r->der);
	memset(r, 0, sizeof(*r));
	r->reason = -1;
}

struct signet_db *signet_db_open_ex(const char *url, int flags, struct signet_err *err)
{
	if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0)
		return signet_db_pg_open(url, flags, err);
	if (strncmp(url, "sqlite:", 7) == 0)
		url += 7;
	return signet_db_sqlite_open(url, flags, err);
}

struct signet_db *signet_db_open(const char *url, struct signet_err *err)
{
	return signet_db_open_ex(url, 0, err);
}

void signet_db_close(struct signet_db *db)
{
	if (db != NULL)
		db->ops->close(db);
}

int signet_db_begin(struct signet_db *db, struct signet_err *err)
{
	return db->ops->begin(db, err);
}

int signet_db_commit(struct signet_db *db, struct signet_err *err)
{
	return db->ops->commit(db, err);
}

void signet_db_rollback(struct signet_db *db)
{
	db->ops->rollback(db);
}

int signet_db_insert(struct signet_db *db, const struct signet_record *r,
		     struct signet_err *err)
{
	return db->ops->insert(db, r, err);
}

int signet_db_get(struct signet_db *db, const char *key, struct signet_record *out,
		  struct signet_err *err)
{
	char serial[64];
	memset(out, 0, sizeof(*out));
	out->reason = -1;
	if (signet_serial_normalize(key, serial, sizeof(serial)) == 0 &&
	    db->ops->get(db, serial, NULL, out, err) == 0)
		return 0;
	if (db->ops->get(db, NULL, key, out, err) == 0)
		return 0;
	if (err->code == SIGNET_E_NOTFOUND)
		signet_err_set(err, SIGNET_E_NOTFOUND,
			       "no certificate with serial or name '%s' in the CA database", key);
	return -1;
}

int signet_db_list(struct signet_db *db, const struct signet_db_filter *f,
		   int (*cb)(const struct signet_record *, void *), void *ctx,
		   struct signet_err *err)
{
	return db->ops->list(db, f, cb, ctx, err);
}

int signet_db_revoke(struct signet_db *db, const char *serial, int reason,
		     int64_t revoked_at, int64_t invalidity, struct signet_err *err)
{
	char norm[64];
	if (signet_serial_normalize(serial, norm, sizeof(norm)) < 0)
		return signet_err_set(err, SIGNET_E_PARSE,
				      "'%s' is not a serial number (hex digits expected)", serial);
	return db->ops->revoke(db, norm, reason, revoked_at, invalidity, err);
}

int signet_db_each_revoked(struct signet_db *db, const char *issuer,
			   int (*cb)(const struct signet_revoked *, void *), void *ctx,
			   struct signet_err *err)
{
	return db->ops->each_revoked(db, issuer, cb, ctx, err);
}

int signet_db_counter_next(struct signet_db *db, const char *name, int64_t *value,
			   struct signet_err *err)
{
	return db->ops->counter_next(db, name, value, err);
}

int signet_db_check(struct signet_db *db, struct signet_err *err)
{
	return db->ops->check(db, err);
}

int signet_db_data_version(struct signet_db *db, int64_t *version, struct signet_err *err)
{
	if (db->ops->data_version == NULL)
		return signet_err_set(err, SIGNET_E_DB,
				      "this database backend cannot report changes");
	return db->ops->data_version(db, version, err);
}
