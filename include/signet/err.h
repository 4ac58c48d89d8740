/*
 * err.h - the one error convention of libsignet.
 *
 * Every fallible library function returns 0 on success and -1 on failure
 * (or NULL for constructors) and fills a caller-supplied struct signet_err
 * with a code and one human sentence written where the failure is
 * understood.  The code doubles as the CLI's exit status, so the table in
 * README.md and `signet help exit-codes` is the table below.
 *
 * The OpenSSL error queue is drained into the sentence by
 * signet_err_ossl() and is always left empty when a library call returns.
 */
#ifndef SIGNET_ERR_H
#define SIGNET_ERR_H

#include <stddef.h>

enum signet_code {
	SIGNET_OK = 0,
	SIGNET_E_INTERNAL = 1,  /* a bug or an unexpected library failure */
	SIGNET_E_USAGE = 2,     /* bad command line: unknown option, bad value */
	SIGNET_E_IO = 3,        /* file missing, unreadable, unwritable, disk full */
	SIGNET_E_PARSE = 4,     /* malformed PEM/DER/JSON/SAN/subject input */
	SIGNET_E_PASS = 5,      /* passphrase missing or wrong */
	SIGNET_E_SIG = 6,       /* a signature does not verify (e.g. CSR) */
	SIGNET_E_POLICY = 7,    /* refused by policy: weak key, profile, constraints */
	SIGNET_E_NOCA = 8,      /* not an initialised CA directory */
	SIGNET_E_DB = 9,        /* database error */
	SIGNET_E_NOTFOUND = 10, /* no such serial / name */
	SIGNET_E_EXISTS = 11,   /* already exists / already done */
	SIGNET_E_NET = 12,      /* network peer or listener failure */

	/* Verification failures (signet verify), one class each. */
	SIGNET_E_UNTRUSTED = 20,  /* no path to a trust anchor */
	SIGNET_E_EXPIRED = 21,    /* outside the validity period */
	SIGNET_E_REVOKED = 22,    /* revoked */
	SIGNET_E_NAME = 23,       /* host/IP/email does not match */
	SIGNET_E_PURPOSE = 24,    /* key usage / EKU does not allow the purpose */
	SIGNET_E_CONSTRAINT = 25, /* basic/name/policy constraints violated */
	SIGNET_E_REVUNKNOWN = 26, /* revocation status cannot be determined */
	SIGNET_E_ALGORITHM = 27,  /* forbidden signature algorithm or key size */
	SIGNET_E_INVALID = 28,    /* certificate malformed for verification */
};

#define SIGNET_ERR_MSG_MAX 1024

struct signet_err {
	int code;
	char msg[SIGNET_ERR_MSG_MAX];
};

/* Clears err to SIGNET_OK with an empty message. */
void signet_err_clear(struct signet_err *err);

/* Sets code and a printf-style sentence; always returns -1 for `return`. */
int signet_err_set(struct signet_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like signet_err_set, then appends ": <first OpenSSL reason>" when the
 * OpenSSL error queue holds one, and clears the queue. */
int signet_err_ossl(struct signet_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefixes the current message with "prefix: " (e.g. a file name). */
void signet_err_prefix(struct signet_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A short name of the code ("io", "parse", ...), for JSON output. */
const char *signet_code_name(int code);
/* One-line description of the code, for the exit-code table. */
const char *signet_code_desc(int code);

/*
 * Guard macros: functions using them declare `int rc = -1;` (or a pointer
 * result) and end with an `out:` label that releases what they own.
 */
#define TRY(x)                                                                 \
	do {                                                                   \
		if ((x) < 0)                                                   \
			goto out;                                              \
	} while (0)

#define TRYP(p)                                                                \
	do {                                                                   \
		if ((p) == NULL)                                               \
			goto out;                                              \
	} while (0)

#define ENSURE(cond, err, code, ...)                                           \
	do {                                                                   \
		if (!(cond)) {                                                 \
			signet_err_set((err), (code), __VA_ARGS__);            \
			goto out;                                              \
		}                                                              \
	} while (0)

#define ENSURE_OSSL(cond, err, code, ...)                                      \
	do {                                                                   \
		if (!(cond)) {                                                 \
			signet_err_ossl((err), (code), __VA_ARGS__);           \
			goto out;                                              \
		}                                                              \
	} while (0)

#endif
