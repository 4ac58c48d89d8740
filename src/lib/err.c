/*
 * err.c - filling struct signet_err, and draining OpenSSL's error queue
 * into it so that no stale error is left for a later call to trip over.
 */
#include <signet/err.h>

#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void signet_err_clear(struct signet_err *err)
{
	if (err == NULL)
		return;
	err->code = SIGNET_OK;
	err->msg[0] = '\0';
}

static void vset(struct signet_err *err, int code, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/*
 * Copies a message that may be longer than err->msg: a long one keeps its
 * start and its end, joined by "...", since a message usually names a
 * path first and says what is wrong with it last (a 4000-byte path must
 * not push "No such file or directory" out).  UTF-8 sequences are not cut.
 */
static void fit(struct signet_err *err, const char *full)
{
	size_t n = strlen(full), head = 300, tail;

	if (n < sizeof(err->msg)) {
		memcpy(err->msg, full, n + 1);
		return;
	}
	while (head > 0 && ((unsigned char)full[head] & 0xc0) == 0x80)
		head--;
	tail = sizeof(err->msg) - 1 - head - 3;
	while (tail > 0 && ((unsigned char)full[n - tail] & 0xc0) == 0x80)
		tail--;
	memcpy(err->msg, full, head);
	memcpy(err->msg + head, "...", 3);
	memcpy(err->msg + head + 3, full + n - tail, tail + 1);
}

static void vset(struct signet_err *err, int code, const char *fmt, va_list ap)
{
	char full[3 * SIGNET_ERR_MSG_MAX + 8192];

	err->code = code;
	vsnprintf(full, sizeof(full), fmt, ap);
	fit(err, full);
}

int signet_err_set(struct signet_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	vset(err, code, fmt, ap);
	va_end(ap);
	return -1;
}

int signet_err_ossl(struct signet_err *err, int code, const char *fmt, ...)
{
	va_list ap;
	unsigned long e;
	char reason[256];
	size_t n;

	if (err == NULL) {
		ERR_clear_error();
		return -1;
	}
	va_start(ap, fmt);
	vset(err, code, fmt, ap);
	va_end(ap);
	/* The first error is the root cause; later ones are call-site noise. */
	e = ERR_peek_error();
	if (e != 0) {
		const char *r = ERR_reason_error_string(e);
		if (r == NULL) {
			ERR_error_string_n(e, reason, sizeof(reason));
			r = reason;
		}
		n = strlen(err->msg);
		snprintf(err->msg + n, sizeof(err->msg) - n, " (%s)", r);
	}
	ERR_clear_error();
	return -1;
}

void signet_err_prefix(struct signet_err *err, const char *fmt, ...)
{
	char full[2 * SIGNET_ERR_MSG_MAX + 8192];
	va_list ap;
	int n;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	n = vsnprintf(full, sizeof(full) - SIGNET_ERR_MSG_MAX - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(full) - SIGNET_ERR_MSG_MAX - 3)
		n = (int)(sizeof(full) - SIGNET_ERR_MSG_MAX - 3);
	snprintf(full + n, sizeof(full) - (size_t)n, ": %s", err->msg);
	fit(err, full);
}

static const struct {
	int code;
	const char *name;
	const char *desc;
} codes[] = {
	{ SIGNET_OK, "ok", "success" },
	{ SIGNET_E_INTERNAL, "internal", "internal error (a bug: please report it)" },
	{ SIGNET_E_USAGE, "usage", "bad command line: unknown option or invalid value" },
	{ SIGNET_E_IO, "io", "a file is missing, unreadable or unwritable, or the disk is full" },
	{ SIGNET_E_PARSE, "parse", "malformed input: PEM/DER, subject, SAN, JSON" },
	{ SIGNET_E_PASS, "passphrase", "passphrase missing or wrong" },
	{ SIGNET_E_SIG, "signature", "a signature does not verify (e.g. a tampered CSR)" },
	{ SIGNET_E_POLICY, "policy", "refused by policy: weak key, profile or name constraints" },
	{ SIGNET_E_NOCA, "no-ca", "not an initialised CA directory" },
	{ SIGNET_E_DB, "database", "database error" },
	{ SIGNET_E_NOTFOUND, "not-found", "no such certificate, serial or name" },
	{ SIGNET_E_EXISTS, "exists", "already exists or already done (e.g. already revoked)" },
	{ SIGNET_E_NET, "network", "network error: cannot listen, connect or talk to a peer" },
	{ SIGNET_E_UNTRUSTED, "untrusted", "verify: no path to a trusted root" },
	{ SIGNET_E_EXPIRED, "expired", "verify: expired or not yet valid" },
	{ SIGNET_E_REVOKED, "revoked", "verify: revoked" },
	{ SIGNET_E_NAME, "name-mismatch", "verify: host name, IP or email does not match" },
	{ SIGNET_E_PURPOSE, "purpose", "verify: key usage or extended key usage forbids the purpose" },
	{ SIGNET_E_CONSTRAINT, "constraint", "verify: basic, name or policy constraints violated" },
	{ SIGNET_E_REVUNKNOWN, "revocation-unknown", "verify: revocation status unknown" },
	{ SIGNET_E_ALGORITHM, "algorithm", "verify: forbidden algorithm or key size" },
	{ SIGNET_E_INVALID, "invalid", "verify: malformed certificate" },
};

const char *signet_code_name(int code)
{
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i].code == code)
			return codes[i].name;
	return "unknown";
}

const char *signet_code_desc(int code)
{
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i].code == code)
			return codes[i].desc;
	return "unknown error";
}
