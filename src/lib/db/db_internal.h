/*
 * db_internal.h - the backend vtable behind include/signet/db.h.  A backend
 * fills a struct signet_db_ops; struct signet_db is its first member.
 */
#ifndef SIGNET_DB_INTERNAL_H
#define SIGNET_DB_INTERNAL_H

#include <signet/db.h>

struct signet_db_ops {
	void (*close)(struct signet_db *db);
	int (*begin)(struct signet_db *db, struct signet_err *err);
	int (*commit)(struct signet_db *db, struct signet_err *err);
	void (*rollback)(struct signet_db *db);
	int (*insert)(struct signet_db *db, const struct signet_record *r,
		      struct signet_err *err);
	int (*get)(struct signet_db *db, const char *serial, const char *name,
		   struct signet_record *out, struct signet_err *err);
	int (*list)(struct signet_db *db, const struct signet_db_filter *f,
		    int (*cb)(const struct signet_record *, void *), void *ctx,
		    struct signet_err *err);
	int (*revoke)(struct signet_db *db, const char *serial, int reason,
		      int64_t revoked_at, int64_t invalidity, struct signet_err *err);
	int (*each_revoked)(struct signet_db *db, const char *issuer,
			    int (*cb)(const struct signet_revoked *, void *), void *ctx,
			    struct signet_err *err);
	int (*counter_next)(struct signet_db *db, const char *name, int64_t *value,
			    struct signet_err *err);
	int (*check)(struct signet_db *db, struct signet_err *err);
	int (*data_version)(struct signet_db *db, int64_t *version, struct signet_err *err);
};

struct signet_db {
	const struct signet_db_ops *ops;
};

struct signet_db *signet_db_sqlite_open(const char *path, int flags, struct signet_err *err);
struct signet_db *signet_db_pg_open(const char *conninfo, int flags, struct signet_err *err);

#endif
