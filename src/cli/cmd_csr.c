/*
 * cmd_csr.c - `signet csr`: a PKCS#10 request for an existing key.
 */
#include "cli.h"

#include <getopt.h>
#include <signet/csr.h>
#include <signet/file.h>
#include <signet/key.h>
#include <signet/name.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
	"usage: signet csr --key FILE --subject \"CN=..,O=..\" [--san LIST] [--out FILE]\n"
	"\n"
	"Creates a certificate signing request (PKCS#10 PEM) signed by the key.\n"
	"\n"
	"  --key FILE        the private key (\"-\" reads stdin)\n"
	"  --subject DN      e.g. \"CN=api.example.com,O=Example\" or \"/CN=api/O=Example\"\n"
	"  --san LIST        comma-separated dns:NAME, ip:ADDR, email:ADDR, uri:URI\n"
	"                    (repeatable)\n"
	"  --out FILE        where to write the CSR (default: stdout)\n"
	"  --pass-file FILE  passphrase of an encrypted key (also $SIGNET_PASS_FILE)\n";

int cmd_csr(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "subject", required_argument, NULL, 's' },
		{ "san", required_argument, NULL, 'a' },
		{ "out", required_argument, NULL, 'o' },
		{ "pass-file", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct signet_err err = { 0 };
	const char *keyfile = NULL, *subject = NULL, *out = "-", *pass_file = NULL;
	GENERAL_NAMES *sans = NULL;
	X509_NAME *name = NULL;
	X509_REQ *req = NULL;
	EVP_PKEY *key = NULL;
	unsigned char *data = NULL;
	size_t len = 0, pemlen = 0;
	char *pem = NULL, *pass = NULL;
	int c, rc = SIGNET_E_INTERNAL;

	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	optind = 1;
	opterr = 0; /* cli_bad_option says it in one line */
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			keyfile = optarg;
			break;
		case 's':
			subject = optarg;
			break;
		case 'a':
			if (signet_san_parse(optarg, &sans, &err) < 0) {
				rc = cli_fail("csr", &err);
				goto out;
			}
			break;
		case 'o':
			out = optarg;
			break;
		case 'p':
			pass_file = optarg;
			break;
		default:
			rc = cli_bad_option("csr", argv);
			goto out;
		}
	}
	if (optind != argc) {
		rc = cli_usage_error("csr", "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (keyfile == NULL || subject == NULL) {
		rc = cli_usage_error("csr", "--key and --subject are required");
		goto out;
	}
	name = signet_name_parse(subject, &err);
	if (name == NULL)
		goto fail;
	if (signet_file_read(keyfile, &data, &len, &err) < 0)
		goto fail;
	if (signet_key_pem_is_encrypted(data, len)) {
		pass = cli_pass_get(pass_file, "--pass-file", CLI_PASS_ENV,
				    "Passphrase for the key: ", 0, &err);
		if (pass == NULL)
			goto fail;
	}
	key = signet_key_parse(data, len, pass, keyfile, &err);
	if (key == NULL || signet_key_check_strength(key, &err) < 0)
		goto fail;
	req = signet_csr_create(key, name, sans, &err);
	if (req == NULL || signet_csr_to_pem(req, &pem, &pemlen, &err) < 0 ||
	    signet_file_write(out, pem, pemlen, 0644, 0, &err) < 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	rc = cli_fail("csr", &err);
out:
	if (data != NULL)
		signet_secret_free(data, len);
	cli_pass_free(pass);
	free(pem);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	X509_NAME_free(name);
	GENERAL_NAMES_free(sans);
	return rc;
}
