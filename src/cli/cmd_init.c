/*
 * cmd_init.c - `signet init`: create a CA directory.
 */
#include "cli.h"

#include <getopt.h>
#include <signet/ca.h>
#include <signet/name.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
	"usage: signet init --name \"Example Root CA\" [--dir DIR] [options]\n"
	"\n"
	"Creates a CA directory: an encrypted root key, a self-signed root\n"
	"certificate (root.crt, to hand out), the database and signet.json.\n"
	"\n"
	"  --dir DIR             CA directory (default: $SIGNET_DIR, else ./signet-ca)\n"
	"  --name NAME           the root's common name (required)\n"
	"  --key-type TYPE       ec-p256 (default), ec-p384, ed25519, rsa-2048/3072/4096\n"
	"  --days N              root validity in days (default 3650)\n"
	"  --intermediate        also create an intermediate (pathlen:0) that does the\n"
	"                        day-to-day issuing, so the root key can go offline\n"
	"  --intermediate-name NAME   its common name (default derived from --name)\n"
	"  --permit-dns DOMAIN   name constraint: only DOMAIN and names under it\n"
	"                        (repeatable; \".example.com\" is taken as \"example.com\":\n"
	"                        RFC 5280 has no subdomains-only form)\n"
	"  --exclude-dns DOMAIN  name constraint: never DOMAIN or names under it (repeatable)\n"
	"  --permit-ip CIDR      name constraint on IP SANs, e.g. 10.0.0.0/8 (repeatable)\n"
	"  --permit-email DOMAIN name constraint on email SANs (repeatable)\n"
	"  --crl-url URL         CRL distribution point put into issued certificates\n"
	"  --ocsp-url URL        OCSP responder URL put into issued certificates\n"
	"  --database URL        postgresql://... to share one database between several\n"
	"                        CA instances (default: SQLite in DIR/signet.db)\n"
	"  --pass-file FILE      passphrase for the CA keys (also $SIGNET_PASS_FILE;\n"
	"                        default: prompt twice on the terminal)\n"
	"  --no-passphrase       store CA keys UNENCRYPTED (throwaway demo CAs only)\n";

#define MAX_NC 64

int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "name", required_argument, NULL, 'n' },
		{ "key-type", required_argument, NULL, 't' },
		{ "days", required_argument, NULL, 'D' },
		{ "intermediate", no_argument, NULL, 'i' },
		{ "intermediate-name", required_argument, NULL, 'I' },
		{ "permit-dns", required_argument, NULL, 1 },
		{ "exclude-dns", required_argument, NULL, 2 },
		{ "permit-ip", required_argument, NULL, 3 },
		{ "permit-email", required_argument, NULL, 4 },
		{ "crl-url", required_argument, NULL, 5 },
		{ "ocsp-url", required_argument, NULL, 6 },
		{ "pass-file", required_argument, NULL, 'p' },
		{ "no-passphrase", no_argument, NULL, 'N' },
		{ "database", required_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static char ncbuf[2 * MAX_NC][300];
	const char *permit[MAX_NC], *exclude[MAX_NC];
	struct signet_ca_init_opts o;
	struct signet_err err = { 0 };
	const char *dir = NULL, *pass_file = NULL;
	int no_pass = 0, c, rc, nb = 0, dot_noted = 0;
	char *pass = NULL;

	memset(&o, 0, sizeof(o));
	o.key_type = SIGNET_KEY_EC_P256;
	o.permit = permit;
	o.exclude = exclude;
	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	optind = 1;
	opterr = 0; /* cli_bad_option says it in one line */
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'n':
			o.name = optarg;
			break;
		case 't':
			if (signet_key_type_parse(optarg, &o.key_type, &err) < 0)
				return cli_fail("init", &err);
			break;
		case 'D':
			if (cli_parse_days(optarg, &o.days) < 0)
				return cli_usage_error("init", "--days takes a number of days from 1 to 36500, "
						       "not '%s'",
						       optarg);
			break;
		case 'i':
			o.intermediate = 1;
			break;
		case 'I':
			o.intermediate_name = optarg;
			o.intermediate = 1;
			break;
		case 1: case 2: case 3: case 4: {
			static const char *const pfx[] = { "", "dns:", "dns:", "ip:", "email:" };
			if (o.n_permit + o.n_exclude >= MAX_NC || strlen(optarg) > 250)
				return cli_usage_error("init", "too many or too long name constraints");
			if ((c == 1 || c == 2) && optarg[0] == '.' && !dot_noted &&
			    signet_dns_name_valid(optarg + 1, 0)) {
				cli_warn("init", "%s is written as %s (it and every name under it): "
						 "RFC 5280 has no leading-dot DNS constraint, and strict "
						 "verifiers refuse one",
					 optarg, optarg + 1);
				dot_noted = 1;
			}
			snprintf(ncbuf[nb], sizeof(ncbuf[nb]), "%s%s", pfx[c], optarg);
			if (c == 2)
				exclude[o.n_exclude++] = ncbuf[nb++];
			else
				permit[o.n_permit++] = ncbuf[nb++];
			break;
		}
		case 5:
			o.crl_url = optarg;
			break;
		case 6:
			o.ocsp_url = optarg;
			break;
		case 'p':
			pass_file = optarg;
			break;
		case 'N':
			no_pass = 1;
			break;
		case 'B':
			o.database = optarg;
			break;
		default:
			return cli_bad_option("init", argv);
		}
	}
	if (optind != argc)
		return cli_usage_error("init", "unexpected argument '%s'", argv[optind]);
	if (o.name == NULL)
		return cli_usage_error("init", "--name is required");
	if (no_pass && pass_file != NULL)
		return cli_usage_error("init", "--no-passphrase and --pass-file exclude each other");
	o.dir = cli_ca_dir(dir);
	if (!no_pass) {
		pass = cli_pass_get(pass_file, "--pass-file", CLI_PASS_ENV,
				    "Passphrase for the new CA keys: ", 1, &err);
		if (pass == NULL)
			return cli_fail("init", &err);
	}
	o.pass = pass;
	rc = signet_ca_init(&o, &err);
	cli_pass_free(pass);
	if (rc < 0)
		return cli_fail("init", &err); /* one line: no warning for a CA not made */
	if (no_pass)
		fprintf(stderr,
			"signet init: WARNING: --no-passphrase: the CA keys are stored UNENCRYPTED.\n"
			"signet init: WARNING: anyone who can read %s can issue certificates.\n"
			"signet init: WARNING: use this for throwaway demo CAs only.\n",
			o.dir);
	printf("signet init: created CA \"%s\" in %s\n", o.name, o.dir);
	printf("  root certificate:  %s/root.crt (hand this out as the trust anchor)\n", o.dir);
	if (o.intermediate)
		printf("  issuing CA:        %s/intermediate.crt (pathlen:0)\n", o.dir);
	printf("  keys:              %s (mode 0600)\n",
	       no_pass ? "UNENCRYPTED" : "encrypted with your passphrase");
	return 0;
}
