/*
 * cmd_revoke.c - `signet revoke`: mark a certificate revoked, durably.
 *
 * The revocation is committed to the database (fsync'ed) before the
 * command reports it, so every CRL and OCSP response produced afterwards
 * includes it, crash or not.  Revoking needs no CA key: only the database
 * changes; CRLs and OCSP responses are signed later.  Exit codes: 10 for a
 * serial the CA never issued, 11 for one already revoked.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <signet/ca.h>
#include <signet/cert.h>
#include <signet/crl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char usage[] =
	"usage: signet revoke SERIAL|NAME|CERT-FILE [options]\n"
	"\n"
	"Marks a certificate revoked in the CA database.  The change is on disk\n"
	"before the command returns; the next `signet crl` and every OCSP answer\n"
	"from then on include it.  No passphrase is needed.\n"
	"\n"
	"  --reason R             unspecified (default), keyCompromise, caCompromise,\n"
	"                         affiliationChanged, superseded, cessationOfOperation,\n"
	"                         certificateHold, removeFromCRL (releases a hold)\n"
	"  --at TIME              revocation date (default: now)\n"
	"  --invalidity-date TIME when the key is known or suspected to have been\n"
	"                         compromised (goes into CRL entries)\n"
	"  --dir DIR              CA directory (default: $SIGNET_DIR, else ./signet-ca)\n"
	"\n"
	"TIME is `now`, @UNIXSECONDS, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC), not\n"
	"later than now.  A NAME that several valid certificates carry is refused:\n"
	"give the serial.\n"
	"Exit status: 0 revoked, 10 no such serial in the CA database,\n"
	"11 already revoked (or removeFromCRL of a serial not on hold).\n";

#define MAX_TIME INT64_C(253402300799) /* 9999-12-31T23:59:59Z */

/* Parses TIME as documented in the usage; -1 when malformed: not a
 * calendar date (2026-02-30), or after the year 9999, which a CRL's
 * GeneralizedTime cannot hold. */
static int parse_time(const char *s, int64_t *out)
{
	struct tm tm, back;
	const char *end;
	char *e;
	time_t t;

	if (strcmp(s, "now") == 0) {
		*out = (int64_t)time(NULL);
		return 0;
	}
	if (s[0] == '@') {
		long long v;
		errno = 0;
		v = strtoll(s + 1, &e, 10);
		if (s[1] == '\0' || *e != '\0' || v < 0 || errno != 0 || v > MAX_TIME)
			return -1;
		*out = v;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end == NULL) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, "%Y-%m-%d", &tm);
	}
	if (end == NULL || (*end != '\0' && strcmp(end, "Z") != 0))
		return -1;
	back = tm;
	t = timegm(&back); /* normalises: 02-30 comes back as 03-02 */
	if (t < 0 || (int64_t)t > MAX_TIME || back.tm_mday != tm.tm_mday ||
	    back.tm_mon != tm.tm_mon || back.tm_year != tm.tm_year || back.tm_hour != tm.tm_hour ||
	    back.tm_min != tm.tm_min || back.tm_sec != tm.tm_sec)
		return -1;
	*out = (int64_t)t;
	return 0;
}

struct same_name {
	const char *name;
	int n;
};

static int count_name(const struct signet_record *r, void *ctx)
{
	struct same_name *c = ctx;
	if (r->name != NULL && strcmp(r->name, c->name) == 0)
		c->n++;
	return 0;
}

int cmd_revoke(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ "at", required_argument, NULL, 'a' },
		{ "invalidity-date", required_argument, NULL, 'v' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct signet_err err = { 0 };
	struct signet_ca *ca = NULL;
	X509 *cert = NULL;
	const char *dir = NULL, *target;
	char serial[128];
	int64_t at = 0, invalidity = 0, now;
	int reason = SIGNET_REASON_UNSPECIFIED, c, rc = SIGNET_E_INTERNAL;
	struct stat st;

	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			reason = signet_reason_parse(optarg);
			if (reason < 0 || reason > SIGNET_REASON_REMOVE_FROM_CRL)
				return cli_usage_error("revoke", "unknown --reason '%s'",
						       optarg);
			break;
		case 'a':
			if (parse_time(optarg, &at) < 0)
				return cli_usage_error("revoke", "--at takes a TIME, not '%s'", optarg);
			break;
		case 'v':
			if (parse_time(optarg, &invalidity) < 0)
				return cli_usage_error("revoke",
						       "--invalidity-date takes a TIME, not '%s'", optarg);
			break;
		case 'd':
			dir = optarg;
			break;
		default:
			return cli_bad_option("revoke", argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("revoke", "give exactly one SERIAL, NAME or CERT-FILE");
	target = argv[optind];
	/* A revocation is recorded when it happens: it may be dated back
	 * (when the key was lost), never ahead. */
	now = (int64_t)time(NULL);
	if (at > now)
		return cli_usage_error("revoke", "--at is in the future; a revocation takes effect "
						 "when it is made");
	if (invalidity > now)
		return cli_usage_error("revoke", "--invalidity-date is in the future");
	if (at == 0)
		at = now;

	ca = signet_ca_open(cli_ca_dir(dir), &err);
	if (ca == NULL)
		goto fail;
	/* A file that exists is a certificate; otherwise a serial the database
	 * knows, or else the name a certificate was issued under (as in export). */
	if (stat(target, &st) == 0 && S_ISREG(st.st_mode)) {
		cert = signet_cert_load(target, &err);
		if (cert == NULL)
			goto fail;
		signet_serial_hex(X509_get0_serialNumber(cert), serial, sizeof(serial));
	} else {
		struct signet_record rec;
		if (signet_db_get(signet_ca_db(ca), target, &rec, &err) == 0) {
			struct same_name same = { target, 0 };
			struct signet_db_filter f = { .status = SIGNET_STATUS_VALID, .now = now };
			int by_name = signet_serial_normalize(target, serial, sizeof(serial)) < 0 ||
				      strcmp(serial, rec.serial) != 0;
			snprintf(serial, sizeof(serial), "%s", rec.serial);
			signet_record_clear(&rec);
			/* A name given to several valid certificates: revoking only
			 * the newest would leave the others trusted. */
			if (by_name && signet_db_list(signet_ca_db(ca), &f, count_name, &same, &err) < 0)
				goto fail;
			if (by_name && same.n > 1) {
				signet_err_set(&err, SIGNET_E_USAGE,
					       "'%s' names %d valid certificates; revoke each by serial "
					       "(signet list shows them)", target, same.n);
				goto fail;
			}
		} else if (err.code != SIGNET_E_NOTFOUND) {
			goto fail;
		} else if (signet_serial_normalize(target, serial, sizeof(serial)) < 0) {
			signet_err_set(&err, SIGNET_E_NOTFOUND,
				       "'%s' is neither a certificate file, a serial nor a name "
				       "in the CA database", target);
			goto fail;
		}
		/* An unknown hex serial falls through: revoke says "not in the database". */
	}
	if (signet_db_revoke(signet_ca_db(ca), serial, reason, at, invalidity, &err) < 0)
		goto fail;
	if (reason == SIGNET_REASON_REMOVE_FROM_CRL)
		printf("released serial %s from hold\n", serial);
	else
		printf("revoked serial %s (%s)\n", serial, signet_reason_name(reason));
	rc = 0;
	goto out;
fail:
	rc = cli_fail("revoke", &err);
out:
	X509_free(cert);
	signet_ca_free(ca);
	return rc;
}
