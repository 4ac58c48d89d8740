/*
 * cmd_key.c - `signet key new`: generate a private key.
 */
#include "cli.h"

#include <getopt.h>
#include <signet/file.h>
#include <signet/key.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
	"usage: signet key new [--type TYPE] [--out FILE [--force]] [--encrypt [--pass-file FILE]]\n"
	"\n"
	"Generates a private key and writes it as PKCS#8 PEM (mode 0600).\n"
	"\n"
	"  --type TYPE       ec-p256 (default), ec-p384, ed25519, rsa-2048, rsa-3072, rsa-4096\n"
	"  --out FILE        where to write the key (default: stdout; \"-\" is stdout);\n"
	"                    an existing file is never replaced without --force\n"
	"  --force           replace an existing key file\n"
	"  --encrypt         encrypt the key (AES-256-CBC, scrypt KDF) with a passphrase\n"
	"  --pass-file FILE  read the passphrase from the first line of FILE\n"
	"                    (also $SIGNET_PASS_FILE; default: prompt on the terminal)\n";

int cmd_key(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "type", required_argument, NULL, 't' },
		{ "out", required_argument, NULL, 'o' },
		{ "encrypt", no_argument, NULL, 'e' },
		{ "pass-file", required_argument, NULL, 'p' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct signet_err err = { 0 };
	enum signet_key_type type = SIGNET_KEY_EC_P256;
	const char *out = "-", *pass_file = NULL;
	int encrypt = 0, force = 0, flags = 0, c, rc;
	struct stat st;
	char *pass = NULL;
	EVP_PKEY *key = NULL;

	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "new") != 0)
		return cli_usage_error("key", "expected `signet key new`");
	argc--;
	argv++;
	optind = 1;
	opterr = 0; /* cli_bad_option says it in one line */
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (signet_key_type_parse(optarg, &type, &err) < 0)
				return cli_fail("key", &err);
			break;
		case 'o':
			out = optarg;
			break;
		case 'e':
			encrypt = 1;
			break;
		case 'p':
			pass_file = optarg;
			encrypt = 1;
			break;
		case 'f':
			force = 1;
			break;
		default:
			return cli_bad_option("key", argv);
		}
	}
	if (optind != argc)
		return cli_usage_error("key", "unexpected argument '%s'", argv[optind]);
	/* A private key is never replaced by accident: it may be the only
	 * copy of a key whose certificate is in use.  A FIFO or a device
	 * (/dev/stdout) is written to, not replaced, so it is no such file. */
	if (strcmp(out, "-") != 0 && !force) {
		if (lstat(out, &st) != 0) {
			flags = SIGNET_WRITE_EXCL; /* nor one that appears meanwhile */
		} else if (stat(out, &st) != 0 || S_ISREG(st.st_mode)) {
			signet_err_set(&err, SIGNET_E_EXISTS,
				       "%s already exists; a key is never overwritten (use "
				       "--force to replace it)", out);
			return cli_fail("key", &err);
		}
	}
	if (encrypt) {
		pass = cli_pass_get(pass_file, "--pass-file", CLI_PASS_ENV, "Passphrase for the new key: ",
				    1, &err);
		if (pass == NULL)
			return cli_fail("key", &err);
	}
	key = signet_key_generate(type, &err);
	{
		char *pem = NULL;
		size_t len = 0;
		rc = key != NULL && signet_key_to_pem(key, pass, &pem, &len, &err) == 0 &&
				     signet_file_write(out, pem, len, 0600, flags, &err) == 0
			     ? 0
			     : cli_fail("key", &err);
		signet_secret_free(pem, len);
	}
	if (rc == 0 && strcmp(out, "-") != 0)
		fprintf(stderr, "signet key: wrote %s key to %s%s\n", signet_key_type_name(type),
			out, pass ? " (encrypted)" : "");
	EVP_PKEY_free(key);
	cli_pass_free(pass);
	return rc;
}
