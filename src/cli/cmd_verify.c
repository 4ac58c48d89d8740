/*
 * cmd_verify.c - `signet verify`: the library verifier on the command line.
 *
 * Loads the certificate (and any more certificates in the same file, taken
 * as untrusted intermediates, as a server's full-chain file holds them),
 * the --chain files, trust anchors and CRLs, maps the options onto struct
 * signet_verify_opts and prints either one line or, with --json, the chain
 * and every check.  The exit status is the error class (20..28), 0 when
 * trusted; see `signet help exit-codes`.
 */
#include "cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <openssl/x509v3.h>
#include <signet/cert.h>
#include <signet/file.h>
#include <signet/verify.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char usage_text[] =
	"usage: signet verify CERT [options]\n"
	"\n"
	"Verifies CERT (PEM or DER; \"-\" reads stdin) like a browser does: a path\n"
	"to a trusted root, validity, constraints, purpose, name, algorithms and,\n"
	"when CRLs are given, revocation of every certificate below the root.\n"
	"Further certificates in CERT are used as untrusted intermediates.\n"
	"\n"
	"  --chain FILE            untrusted intermediates (PEM, repeatable)\n"
	"  --trust FILE|DIR|system trust anchors (repeatable; default: system)\n"
	"  --host NAME             DNS name the certificate must cover (an IP\n"
	"                          address here is matched as --ip)\n"
	"  --ip ADDR               IPv4/IPv6 address it must cover\n"
	"  --email ADDR            email address it must cover\n"
	"  --purpose P             server, client, email (S/MIME) or any (default:\n"
	"                          server with --host/--ip, client with --email,\n"
	"                          else any)\n"
	"  --eku NAME|OID          required extended key usage (repeatable)\n"
	"  --key-usage LIST        required key usages, comma-separated\n"
	"                          (digitalSignature,keyEncipherment,...)\n"
	"  --at TIME               verify at an RFC 3339 time (default: now)\n"
	"  --crl FILE              CRL to check revocation with (repeatable);\n"
	"                          a certificate no CRL covers fails as unknown\n"
	"  --ocsp                  also ask each certificate's OCSP responder\n"
	"                          (AIA, http:// or https://); no answer fails as\n"
	"                          unknown\n"
	"  --ocsp-ca FILE|DIR      CA certificate(s) that vouch for https://\n"
	"                          responders' TLS certificates (default: system)\n"
	"  --max-depth N           at most N intermediates (0: issued by a root)\n"
	"  --policy OID            acceptable certificate policy (repeatable;\n"
	"                          default anyPolicy)\n"
	"  --require-explicit-policy, --inhibit-policy-mapping,\n"
	"  --inhibit-any-policy    RFC 5280 initial policy settings\n"
	"  --json                  print the chain and every check as JSON\n"
	"\n"
	"exit: 0 trusted; 20 untrusted, 21 expired, 22 revoked, 23 name mismatch,\n"
	"24 purpose, 25 constraints, 26 revocation unknown, 27 algorithm,\n"
	"28 malformed certificate; 2 usage, 3 file, 4 parse.\n";

enum {
	OPT_CHAIN = 256, OPT_TRUST, OPT_HOST, OPT_IP, OPT_EMAIL, OPT_PURPOSE, OPT_EKU,
	OPT_KU, OPT_AT, OPT_CRL, OPT_OCSP, OPT_MAXDEPTH, OPT_POLICY, OPT_REP, OPT_IPM,
	OPT_IAP, OPT_JSON, OPT_OCSP_CA,
};

static const struct option longopts[] = {
	{ "chain", required_argument, NULL, OPT_CHAIN },
	{ "trust", required_argument, NULL, OPT_TRUST },
	{ "host", required_argument, NULL, OPT_HOST },
	{ "ip", required_argument, NULL, OPT_IP },
	{ "email", required_argument, NULL, OPT_EMAIL },
	{ "purpose", required_argument, NULL, OPT_PURPOSE },
	{ "eku", required_argument, NULL, OPT_EKU },
	{ "key-usage", required_argument, NULL, OPT_KU },
	{ "at", required_argument, NULL, OPT_AT },
	{ "crl", required_argument, NULL, OPT_CRL },
	{ "ocsp", no_argument, NULL, OPT_OCSP },
	{ "ocsp-ca", required_argument, NULL, OPT_OCSP_CA },
	{ "max-depth", required_argument, NULL, OPT_MAXDEPTH },
	{ "policy", required_argument, NULL, OPT_POLICY },
	{ "require-explicit-policy", no_argument, NULL, OPT_REP },
	{ "inhibit-policy-mapping", no_argument, NULL, OPT_IPM },
	{ "inhibit-any-policy", no_argument, NULL, OPT_IAP },
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

#define MAX_LIST 32

/* RFC 3339 ("2026-11-21T10:00:00Z", fractions and offsets allowed). */
static int parse_rfc3339(const char *s, time_t *out)
{
	struct tm tm;
	const char *p;
	long off = 0;

	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (p == NULL)
		p = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
	if (p == NULL)
		return -1;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == '+' || *p == '-') {
		int h, m, n = 0;
		if (sscanf(p + 1, "%2d:%2d%n", &h, &m, &n) != 2 || p[1 + n] != '\0' ||
		    h > 23 || m > 59)
			return -1;
		off = (h * 3600L + m * 60L) * (*p == '-' ? -1 : 1);
	} else if (!((*p == 'Z' || *p == 'z') && p[1] == '\0')) {
		return -1;
	}
	*out = timegm(&tm) - off;
	return 0;
}

static int parse_key_usage(const char *list, unsigned *bits)
{
	static const struct {
		const char *name;
		unsigned bit;
	} t[] = {
		{ "digitalSignature", KU_DIGITAL_SIGNATURE }, { "nonRepudiation", KU_NON_REPUDIATION },
		{ "contentCommitment", KU_NON_REPUDIATION }, { "keyEncipherment", KU_KEY_ENCIPHERMENT },
		{ "dataEncipherment", KU_DATA_ENCIPHERMENT }, { "keyAgreement", KU_KEY_AGREEMENT },
		{ "keyCertSign", KU_KEY_CERT_SIGN }, { "cRLSign", KU_CRL_SIGN },
		{ "encipherOnly", KU_ENCIPHER_ONLY }, { "decipherOnly", KU_DECIPHER_ONLY },
	};
	char buf[512], *save = NULL, *tok;

	if (strlen(list) >= sizeof(buf))
		return -1;
	strcpy(buf, list);
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		size_t i;
		for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
			if (strcasecmp(tok, t[i].name) == 0)
				break;
		if (i == sizeof(t) / sizeof(t[0]))
			return -1;
		*bits |= t[i].bit;
	}
	return *bits ? 0 : -1;
}

static int add_certs(STACK_OF(X509) *to, STACK_OF(X509) *from)
{
	while (sk_X509_num(from) > 0) {
		X509 *x = sk_X509_shift(from);
		if (sk_X509_push(to, x) <= 0) {
			X509_free(x);
			return -1;
		}
	}
	return 0;
}

static void print_ok(const char *file, STACK_OF(X509) *chain)
{
	printf("%s: trusted\n", file);
	for (int i = 0; i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);
		char *dn = X509_NAME_oneline(X509_get_subject_name(x), NULL, 0);
		printf("  %d %-12s %s\n", i,
		       i == 0 ? "leaf" : i == sk_X509_num(chain) - 1 ? "anchor" : "intermediate",
		       dn ? dn : "?");
		OPENSSL_free(dn);
	}
}

CLI_CMD(verify)
{
	struct signet_verify_opts o;
	struct signet_err err;
	const char *chains[MAX_LIST], *trusts[MAX_LIST], *crl_files[MAX_LIST];
	const char *ekus[MAX_LIST], *policies[MAX_LIST];
	size_t n_chains = 0, n_trusts = 0, n_crls = 0;
	const char *purpose = NULL, *file;
	int json = 0, c, rc = SIGNET_E_INTERNAL;
	struct signet_trust *trust = NULL;
	STACK_OF(X509) *untrusted = NULL, *certs = NULL, *chain = NULL;
	STACK_OF(X509_CRL) *crls = NULL;
	X509 *leaf = NULL;
	void *report = NULL;

	if (cli_wants_help(argc, argv)) {
		fputs(usage_text, stdout);
		return 0;
	}
	memset(&o, 0, sizeof(o));
	signet_err_clear(&err);
	o.max_depth = -1;
	o.ekus = ekus;
	o.policies = policies;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_CHAIN:
		case OPT_TRUST:
		case OPT_CRL:
		case OPT_EKU:
		case OPT_POLICY: {
			const char **l = c == OPT_CHAIN ? chains : c == OPT_TRUST ? trusts :
					 c == OPT_CRL ? crl_files : c == OPT_EKU ? ekus : policies;
			size_t *n = c == OPT_CHAIN ? &n_chains : c == OPT_TRUST ? &n_trusts :
				    c == OPT_CRL ? &n_crls : c == OPT_EKU ? &o.n_ekus : &o.n_policies;
			if (*n >= MAX_LIST)
				return cli_usage_error("verify", "too many repeated options (at most %d)", MAX_LIST);
			l[(*n)++] = optarg;
			break;
		}
		case OPT_HOST:
			o.host = optarg;
			break;
		case OPT_IP:
			o.ip = optarg;
			break;
		case OPT_EMAIL:
			o.email = optarg;
			break;
		case OPT_PURPOSE:
			purpose = optarg;
			break;
		case OPT_KU:
			if (parse_key_usage(optarg, &o.key_usage) < 0)
				return cli_usage_error("verify", "unknown key usage in '%s'", optarg);
			break;
		case OPT_AT:
			if (parse_rfc3339(optarg, &o.at) < 0)
				return cli_usage_error("verify",
						       "--at wants an RFC 3339 time like "
						       "2026-11-21T10:00:00Z, not '%s'", optarg);
			if (o.at == 0)
				o.at = 1; /* 0 means now in the API */
			break;
		case OPT_OCSP:
			o.ocsp = 1;
			break;
		case OPT_OCSP_CA:
			o.ocsp_ca = optarg;
			break;
		case OPT_MAXDEPTH: {
			char *end;
			long v;
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || v < 0 || v > 64)
				return cli_usage_error("verify", "--max-depth wants 0..64, not '%s'",
						       optarg);
			o.max_depth = (int)v;
			break;
		}
		case OPT_REP:
			o.require_explicit_policy = 1;
			break;
		case OPT_IPM:
			o.inhibit_policy_mapping = 1;
			break;
		case OPT_IAP:
			o.inhibit_any_policy = 1;
			break;
		case OPT_JSON:
			json = 1;
			break;
		default:
			return cli_usage_error("verify", "unknown or incomplete option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("verify", optind >= argc ? "which certificate? give CERT" :
								  "one CERT only");
	file = argv[optind];
	if ((o.host != NULL) + (o.ip != NULL) + (o.email != NULL) > 1)
		return cli_usage_error("verify", "give one of --host, --ip, --email");
	if (o.ocsp_ca != NULL && !o.ocsp)
		return cli_usage_error("verify", "--ocsp-ca goes with --ocsp");
	if (o.host != NULL && o.host[0] == '\0')
		return cli_usage_error("verify", "--host needs a name");
	if (o.email != NULL) {
		const char *at = strchr(o.email, '@');
		if (at == NULL || at == o.email || at[1] == '\0' || strchr(at + 1, '@') != NULL)
			return cli_usage_error("verify", "--email '%s' is not an address "
							 "(local@domain)", o.email);
	}
	if (o.ip != NULL) {
		unsigned char buf[16];
		if (inet_pton(AF_INET, o.ip, buf) != 1 && inet_pton(AF_INET6, o.ip, buf) != 1)
			return cli_usage_error("verify", "--ip wants an IPv4 or IPv6 address, not '%s'",
					       o.ip);
	}
	if (purpose == NULL)
		o.purpose = o.host || o.ip ? SIGNET_PURPOSE_SERVER :
			    o.email ? SIGNET_PURPOSE_CLIENT : SIGNET_PURPOSE_ANY;
	else if (strcmp(purpose, "server") == 0)
		o.purpose = SIGNET_PURPOSE_SERVER;
	else if (strcmp(purpose, "client") == 0)
		o.purpose = SIGNET_PURPOSE_CLIENT;
	else if (strcmp(purpose, "any") == 0)
		o.purpose = SIGNET_PURPOSE_ANY;
	else if (strcmp(purpose, "email") == 0)
		o.purpose = SIGNET_PURPOSE_EMAIL;
	else
		return cli_usage_error("verify", "--purpose is server, client, email or any, not '%s'",
				       purpose);
	for (size_t i = 0; i < o.n_policies; i++) {
		ASN1_OBJECT *obj = OBJ_txt2obj(policies[i], 1);
		ASN1_OBJECT_free(obj);
		if (obj == NULL)
			return cli_usage_error("verify", "--policy wants a dotted OID, not '%s'",
					       policies[i]);
	}
	for (size_t i = 0; i < o.n_ekus; i++) {
		ASN1_OBJECT *obj = OBJ_txt2obj(ekus[i], 0);
		ASN1_OBJECT_free(obj);
		if (obj == NULL)
			return cli_usage_error("verify",
					       "--eku wants a name like serverAuth or an OID, not '%s'",
					       ekus[i]);
	}

	/* Inputs. */
	untrusted = sk_X509_new_null();
	crls = sk_X509_CRL_new_null();
	if (untrusted == NULL || crls == NULL) {
		signet_err_set(&err, SIGNET_E_INTERNAL, "out of memory");
		goto fail;
	}
	if ((certs = signet_certs_load(file, &err)) == NULL)
		goto fail;
	leaf = sk_X509_shift(certs);
	if (add_certs(untrusted, certs) < 0)
		goto oom;
	for (size_t i = 0; i < n_chains; i++) {
		STACK_OF(X509) *more = signet_certs_load(chains[i], &err);
		if (more == NULL)
			goto fail;
		c = add_certs(untrusted, more);
		sk_X509_pop_free(more, X509_free);
		if (c < 0)
			goto oom;
	}
	for (size_t i = 0; i < n_crls; i++) {
		/* Every CRL of the file, as the tunnel's --crl reads it. */
		STACK_OF(X509_CRL) *more = signet_crls_load(crl_files[i], NULL, &err);
		if (more == NULL)
			goto fail;
		while (sk_X509_CRL_num(more) > 0) {
			X509_CRL *crl = sk_X509_CRL_shift(more);
			if (sk_X509_CRL_push(crls, crl) <= 0) {
				X509_CRL_free(crl);
				sk_X509_CRL_pop_free(more, X509_CRL_free);
				goto oom;
			}
		}
		sk_X509_CRL_free(more);
	}
	o.crls = crls;
	if ((trust = signet_trust_new(&err)) == NULL)
		goto fail;
	if (n_trusts == 0)
		trusts[n_trusts++] = "system";
	for (size_t i = 0; i < n_trusts; i++)
		if (signet_trust_load(trust, trusts[i], &err) < 0)
			goto fail;

	c = signet_verify_report(trust, leaf, untrusted, &o, &chain, json ? &report : NULL,
				 &err);
	if (json) {
		json_t *r = report;
		json_object_set_new(r, "file", json_string(file));
		json_dumpf(r, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(r);
		if (c < 0)
			fprintf(stderr, "signet verify: %s\n", err.msg);
		rc = c < 0 ? err.code : 0;
		goto out;
	}
	if (c < 0)
		goto fail;
	print_ok(strcmp(file, "-") == 0 ? "(stdin)" : file, chain);
	rc = 0;
	goto out;
oom:
	signet_err_set(&err, SIGNET_E_INTERNAL, "out of memory");
fail:
	rc = cli_fail("verify", &err);
out:
	sk_X509_pop_free(chain, X509_free);
	sk_X509_pop_free(certs, X509_free);
	sk_X509_pop_free(untrusted, X509_free);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	X509_free(leaf);
	signet_trust_free(trust);
	return rc;
}
