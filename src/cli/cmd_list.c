/*
 * cmd_list.c - `signet list`: the CA's records, with filters for status
 * and for what expires soon (the expiry report).
 */
#include "cli.h"

#include <getopt.h>
#include <jansson.h>
#include <signet/ca.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
	"usage: signet list [--status valid|revoked|expired] [--expiring 30d] [--json]\n"
	"\n"
	"Lists the certificates the CA has issued.\n"
	"\n"
	"  --status S        only valid, revoked or expired certificates\n"
	"  --expiring DUR    only valid certificates expiring within DUR (30d, 12h)\n"
	"  --json            one JSON array of records\n"
	"  --dir DIR         CA directory (default: $SIGNET_DIR, else ./signet-ca)\n";

static const char *status_name(int s)
{
	return s == SIGNET_STATUS_REVOKED ? "revoked" : s == SIGNET_STATUS_EXPIRED ? "expired"
										: "valid";
}

static void fmt_date(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(buf, size, "%Y-%m-%d", &tm);
}

struct list_ctx {
	json_t *arr;
	int count;
	time_t now;
};

static int print_rec(const struct signet_record *r, void *vctx)
{
	struct list_ctx *ctx = vctx;
	char na[32];
	fmt_date(r->not_after, na, sizeof(na));
	ctx->count++;
	if (ctx->arr != NULL) {
		json_t *o = json_object();
		json_object_set_new(o, "serial", json_string(r->serial));
		json_object_set_new(o, "name", r->name ? json_string(r->name) : json_null());
		json_object_set_new(o, "subject", json_string(r->subject ? r->subject : ""));
		json_object_set_new(o, "sans", json_string(r->sans ? r->sans : ""));
		json_object_set_new(o, "profile", json_string(r->profile ? r->profile : ""));
		json_object_set_new(o, "status", json_string(status_name(r->status)));
		json_object_set_new(o, "not_before", json_integer(r->not_before));
		json_object_set_new(o, "not_after", json_integer(r->not_after));
		json_object_set_new(o, "days_left",
				    json_integer((r->not_after - (int64_t)ctx->now) / 86400));
		json_object_set_new(o, "fingerprint", json_string(r->fingerprint));
		if (r->status == SIGNET_STATUS_REVOKED) {
			json_object_set_new(o, "revoked_at", json_integer(r->revoked_at));
			json_object_set_new(o, "reason", json_integer(r->reason));
		}
		json_array_append_new(ctx->arr, o);
	} else {
		printf("%-36s  %-7s  %-10s  %5lld  %-12s  %s\n", r->serial, status_name(r->status),
		       na, (long long)((r->not_after - (int64_t)ctx->now) / 86400),
		       r->profile ? r->profile : "", r->subject ? r->subject : "");
	}
	return 0;
}

int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "status", required_argument, NULL, 's' },
		{ "expiring", required_argument, NULL, 'e' },
		{ "json", no_argument, NULL, 'j' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct signet_err err = { 0 };
	struct signet_db_filter f;
	struct list_ctx ctx = { NULL, 0, time(NULL) };
	const char *dir = NULL;
	struct signet_ca *ca;
	long long dur;
	int c, rc = 0, as_json = 0;

	memset(&f, 0, sizeof(f));
	f.status = -1;
	f.now = ctx.now;
	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	optind = 1;
	opterr = 0; /* cli_bad_option says it in one line */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (strcmp(optarg, "valid") == 0)
				f.status = SIGNET_STATUS_VALID;
			else if (strcmp(optarg, "revoked") == 0)
				f.status = SIGNET_STATUS_REVOKED;
			else if (strcmp(optarg, "expired") == 0)
				f.status = SIGNET_STATUS_EXPIRED;
			else
				return cli_usage_error("list", "--status is valid, revoked or expired");
			break;
		case 'e':
			if (cli_parse_duration(optarg, &dur) < 0)
				return cli_usage_error("list", "--expiring takes a duration like 30d, not '%s'",
						       optarg);
			f.expiring_before = (int64_t)ctx.now + dur;
			break;
		case 'j':
			as_json = 1;
			break;
		case 'd':
			dir = optarg;
			break;
		default:
			return cli_bad_option("list", argv);
		}
	}
	if (optind != argc)
		return cli_usage_error("list", "unexpected argument '%s'", argv[optind]);
	ca = signet_ca_open(cli_ca_dir(dir), &err);
	if (ca == NULL)
		return cli_fail("list", &err);
	if (as_json)
		ctx.arr = json_array();
	else
		printf("%-36s  %-7s  %-10s  %5s  %-12s  %s\n", "SERIAL", "STATUS", "NOT_AFTER", "DAYS",
		       "PROFILE", "SUBJECT");
	if (signet_db_list(signet_ca_db(ca), &f, print_rec, &ctx, &err) < 0) {
		rc = cli_fail("list", &err);
	} else if (as_json) {
		char *s = json_dumps(ctx.arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("%s\n", s ? s : "[]");
		free(s);
	}
	json_decref(ctx.arr);
	signet_ca_free(ca);
	return rc;
}
