/*
 * db.h - the CA database: one small interface, several backends.
 *
 * A record is one issued certificate.  The serial (lowercase hex, no
 * leading zeros) is the primary key, so the database itself refuses a
 * duplicate serial.  Every change is committed durably (SQLite WAL with
 * synchronous=FULL) before the caller reports it, and a batch of changes
 * can be grouped in one transaction (begin/commit) so that a crash leaves
 * either all of it or none.
 *
 * Backends: "sqlite:PATH" or a plain path (the default, embedded);
 * "postgresql://..." when several CA instances share one database (built
 * when libpq is available).
 */
#ifndef SIGNET_DB_H
#define SIGNET_DB_H

#include <signet/err.h>
#include <stddef.h>
#include <stdint.h>

enum signet_status {
	SIGNET_STATUS_VALID = 0,
	SIGNET_STATUS_REVOKED = 1,
	SIGNET_STATUS_EXPIRED = 2, /* derived: valid and notAfter passed */
};

/* CRLReason codes (RFC 5280 5.3.1). */
enum signet_reason {
	SIGNET_REASON_UNSPECIFIED = 0,
	SIGNET_REASON_KEY_COMPROMISE = 1,
	SIGNET_REASON_CA_COMPROMISE = 2,
	SIGNET_REASON_AFFILIATION_CHANGED = 3,
	SIGNET_REASON_SUPERSEDED = 4,
	SIGNET_REASON_CESSATION = 5,
	SIGNET_REASON_CERTIFICATE_HOLD = 6,
	SIGNET_REASON_REMOVE_FROM_CRL = 8,
	SIGNET_REASON_PRIVILEGE_WITHDRAWN = 9,
	SIGNET_REASON_AA_COMPROMISE = 10,
};

struct signet_record {
	char serial[48];      /* lowercase hex */
	char fingerprint[65]; /* SHA-256 of DER, hex */
	char issuer[65];      /* issuer key identifier, hex */
	char *name;           /* label (issue NAME or CSR file stem), may be NULL */
	char *subject;        /* "CN=x,O=y" */
	char *sans;           /* "dns:a, ip:b" */
	char *profile;        /* server|client|peer|sub-ca|root|intermediate */
	int64_t not_before, not_after, issued_at; /* unix seconds */
	int status;           /* enum signet_status */
	int64_t revoked_at;   /* 0 when not revoked */
	int reason;           /* enum signet_reason, -1 when not revoked */
	int64_t invalidity_date; /* 0 when none */
	unsigned char *der;
	size_t der_len;
};

/* Frees the strings and DER of r (not r itself) and zeroes it. */
void signet_record_clear(struct signet_record *r);

struct signet_db_filter {
	int status;              /* -1 any, else enum signet_status */
	int64_t expiring_before; /* 0: none; else valid with notAfter < this */
	int64_t now;             /* the time "expired" is judged at */
	const char *issuer;      /* NULL: any */
	int with_der;            /* fill der/der_len */
};

/* A revoked entry, as CRL and OCSP generation need it. */
struct signet_revoked {
	const char *serial;
	int64_t revoked_at;
	int reason;
	int64_t invalidity_date;
};

struct signet_db;

struct signet_db *signet_db_open(const char *url, struct signet_err *err);

enum {
	/* Refuse a database that is missing or holds no signet schema yet,
	 * instead of creating one: a CA's records are never silently
	 * replaced by an empty database. */
	SIGNET_DB_MUST_EXIST = 1 << 0,
};
struct signet_db *signet_db_open_ex(const char *url, int flags, struct signet_err *err);
void signet_db_close(struct signet_db *db);

int signet_db_begin(struct signet_db *db, struct signet_err *err);
int signet_db_commit(struct signet_db *db, struct signet_err *err);
void signet_db_rollback(struct signet_db *db);

/* SIGNET_E_EXISTS when the serial (or fingerprint) is already recorded. */
int signet_db_insert(struct signet_db *db, const struct signet_record *r,
		     struct signet_err *err);

/* By serial (any hex form) or, failing that, by name (the newest record
 * with that name).  SIGNET_E_NOTFOUND when neither matches. */
int signet_db_get(struct signet_db *db, const char *serial_or_name,
		  struct signet_record *out, struct signet_err *err);

/* Calls cb for each record matching f, ordered by issue time; a non-zero
 * return from cb stops the walk and is returned. */
int signet_db_list(struct signet_db *db, const struct signet_db_filter *f,
		   int (*cb)(const struct signet_record *r, void *ctx), void *ctx,
		   struct signet_err *err);

/* Marks serial revoked.  SIGNET_E_NOTFOUND for an unknown serial,
 * SIGNET_E_EXISTS when it is already revoked (certificateHold may be
 * released with SIGNET_REASON_REMOVE_FROM_CRL, which sets it valid). */
int signet_db_revoke(struct signet_db *db, const char *serial, int reason,
		     int64_t revoked_at, int64_t invalidity_date,
		     struct signet_err *err);

/* Walks revoked entries of one issuer (NULL: all), serial order. */
int signet_db_each_revoked(struct signet_db *db, const char *issuer,
			   int (*cb)(const struct signet_revoked *r, void *ctx),
			   void *ctx, struct signet_err *err);

/* Atomically increments and returns a named counter (e.g. "crl_number"). */
int signet_db_counter_next(struct signet_db *db, const char *name,
			   int64_t *value, struct signet_err *err);

/* A number that changes whenever another connection (another process
 * included) commits a change; cheap enough to poll every second, so that
 * long-running readers (the OCSP responder) notice revocations. */
int signet_db_data_version(struct signet_db *db, int64_t *version,
			   struct signet_err *err);

/* Runs the backend's integrity check. */
int signet_db_check(struct signet_db *db, struct signet_err *err);

#endif
