/*
 * cmd_issue.c - `signet issue NAME`: new key + certificate in one step.
 *
 * Writes NAME.key (0600, refused if it exists: a key is never overwritten),
 * NAME.crt and NAME.chain.pem.  The certificate is recorded before any file
 * is written; the key is written first so that a certificate is never
 * handed out without its key on disk.
 */
#include "ca_open.h"

#include <ctype.h>
#include <getopt.h>
#include <signet/cert.h>
#include <signet/csr.h>
#include <signet/file.h>
#include <signet/name.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
	"usage: signet issue NAME --profile server|client|peer [options]\n"
	"\n"
	"Generates a key and issues its certificate in one step, writing NAME.key\n"
	"(mode 0600), NAME.crt (the leaf) and NAME.chain.pem (leaf + intermediates).\n"
	"NAME becomes the subject CN; for server and peer certificates it is also\n"
	"the default dns: SAN when it is a valid host name.\n"
	"\n"
	"  --profile P        server (default), client, peer (both)\n"
	"  --san LIST         SANs: dns:NAME, ip:ADDR, email:ADDR, uri:URI (repeatable)\n"
	"  --subject DN       full subject instead of CN=NAME\n"
	"  --key-type TYPE    ec-p256 (default), ec-p384, ed25519, rsa-2048/3072/4096\n"
	"  --days N           validity in days (default: the CA's default_days, 365)\n"
	"  --out-dir DIR      where to write the files (default: the current directory)\n"
	"  --encrypt-key      encrypt NAME.key with a passphrase (--key-pass-file FILE)\n"
	"  --key-pass-file F  passphrase for NAME.key\n"
	"  --force            replace existing NAME.key/.crt/.chain.pem\n"
	"  --dir DIR          CA directory (default: $SIGNET_DIR, else ./signet-ca)\n"
	"  --pass-file FILE   CA key passphrase (also $SIGNET_PASS_FILE)\n";

static int name_ok(const char *n)
{
	if (*n == '\0' || *n == '.' || strlen(n) > 200)
		return 0;
	for (; *n; n++)
		if (!isalnum((unsigned char)*n) && !strchr("._-@", *n))
			return 0;
	return 1;
}

int cmd_issue(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "profile", required_argument, NULL, 'P' },
		{ "san", required_argument, NULL, 'a' },
		{ "subject", required_argument, NULL, 's' },
		{ "key-type", required_argument, NULL, 't' },
		{ "days", required_argument, NULL, 'D' },
		{ "out-dir", required_argument, NULL, 'O' },
		{ "encrypt-key", no_argument, NULL, 'e' },
		{ "key-pass-file", required_argument, NULL, 'K' },
		{ "force", no_argument, NULL, 'f' },
		{ "dir", required_argument, NULL, 'd' },
		{ "pass-file", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct signet_err err = { 0 };
	struct signet_sign_req sr;
	enum signet_key_type kt = SIGNET_KEY_EC_P256;
	const char *out_dir = ".", *dir = NULL, *pass_file = NULL, *subject = NULL;
	const char *key_pass_file = NULL, *name;
	int encrypt = 0, force = 0, key_written = 0, made_dir = 0, c, rc = SIGNET_E_INTERNAL;
	struct stat st;
	GENERAL_NAMES *sans = NULL;
	X509_NAME *subj = NULL;
	X509_REQ *req = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	struct signet_ca *ca = NULL;
	char *key_pass = NULL, *pem = NULL;
	size_t len = 0;
	char kpath[4096], cpath[4096], chpath[4096], f[256];

	memset(&sr, 0, sizeof(sr));
	sr.profile = SIGNET_PROFILE_SERVER;
	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	optind = 1;
	opterr = 0; /* cli_bad_option says it in one line */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'P':
			if (signet_profile_parse(optarg, &sr.profile, &err) < 0) {
				rc = cli_fail("issue", &err);
				goto out;
			}
			break;
		case 'a':
			if (signet_san_parse(optarg, &sans, &err) < 0) {
				rc = cli_fail("issue", &err);
				goto out;
			}
			break;
		case 's':
			subject = optarg;
			break;
		case 't':
			if (signet_key_type_parse(optarg, &kt, &err) < 0) {
				rc = cli_fail("issue", &err);
				goto out;
			}
			break;
		case 'D':
			if (cli_parse_days(optarg, &sr.days) < 0) {
				rc = cli_usage_error("issue", "--days takes a number of days from 1 to 36500, "
						       "not '%s'",
						     optarg);
				goto out;
			}
			break;
		case 'O':
			out_dir = optarg;
			break;
		case 'e':
			encrypt = 1;
			break;
		case 'K':
			key_pass_file = optarg;
			encrypt = 1;
			break;
		case 'f':
			force = 1;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'p':
			pass_file = optarg;
			break;
		default:
			rc = cli_bad_option("issue", argv);
			goto out;
		}
	}
	if (argc - optind != 1) {
		rc = cli_usage_error("issue", "expected exactly one NAME");
		goto out;
	}
	name = argv[optind];
	if (!name_ok(name)) {
		rc = cli_usage_error("issue", "NAME '%s' must be letters, digits, '.', '-', '_' or '@'"
				     " (it names the files)", name);
		goto out;
	}
	if (sr.profile == SIGNET_PROFILE_SUBCA) {
		rc = cli_usage_error("issue", "sub-CAs are issued from a CSR with `signet sign "
				     "--profile sub-ca`");
		goto out;
	}
	if (sans == NULL && sr.profile != SIGNET_PROFILE_CLIENT &&
	    signet_dns_name_valid(name, 1) && strchr(name, '@') == NULL) {
		char spec[300];
		snprintf(spec, sizeof(spec), "dns:%s", name);
		if (signet_san_parse(spec, &sans, &err) < 0)
			goto fail;
	}
	if (subject != NULL) {
		subj = signet_name_parse(subject, &err);
	} else {
		char dn[300];
		snprintf(dn, sizeof(dn), "CN=%s", name);
		subj = signet_name_parse(dn, &err);
	}
	if (subj == NULL)
		goto fail;
	snprintf(f, sizeof(f), "%s.key", name);
	if (signet_path_join(kpath, sizeof(kpath), out_dir, f, &err) < 0)
		goto fail;
	snprintf(f, sizeof(f), "%s.crt", name);
	if (signet_path_join(cpath, sizeof(cpath), out_dir, f, &err) < 0)
		goto fail;
	snprintf(f, sizeof(f), "%s.chain.pem", name);
	if (signet_path_join(chpath, sizeof(chpath), out_dir, f, &err) < 0)
		goto fail;
	if (!force && lstat(kpath, &st) == 0) { /* a dangling link counts */
		signet_err_set(&err, SIGNET_E_EXISTS,
			       "%s already exists; a key is never overwritten (use --force to "
			       "replace it)", kpath);
		goto fail;
	}
	if (!force) {
		const char *there = lstat(cpath, &st) == 0    ? cpath
				    : lstat(chpath, &st) == 0 ? chpath
							      : NULL;
		if (there != NULL) {
			signet_err_set(&err, SIGNET_E_EXISTS,
				       "%s already exists (use --force to replace it)", there);
			goto fail;
		}
	}
	if (encrypt) {
		key_pass = cli_pass_get(key_pass_file, "--key-pass-file", CLI_PASS_NO_ENV,
					"Passphrase for the new key: ", 1, &err);
		if (key_pass == NULL)
			goto fail;
	}
	made_dir = access(out_dir, F_OK) != 0;
	if (signet_dir_make(out_dir, 0755, &err) < 0)
		goto fail;
	ca = cli_ca_open_unlocked("issue", dir, pass_file, 0, &rc);
	if (ca == NULL)
		goto out;
	/* Not a CA file, and writable: checked before the key is made. */
	if (signet_file_check_output(kpath, &err) < 0 || signet_file_check_output(cpath, &err) < 0 ||
	    signet_file_check_output(chpath, &err) < 0)
		goto fail;
	key = signet_key_generate(kt, &err);
	if (key == NULL)
		goto fail;
	req = signet_csr_create(key, subj, sans, &err);
	if (req == NULL)
		goto fail;
	{
		/* The key is written first, so that no certificate is recorded
		 * whose key could not be written (a dangling link or an
		 * unwritable directory at NAME.key).  Exclusive create: a key
		 * appearing since the check above is still never overwritten
		 * without --force. */
		char *kpem = NULL;
		size_t klen = 0;
		int wr = signet_key_to_pem(key, key_pass, &kpem, &klen, &err) < 0
				 ? -1
				 : signet_file_write(kpath, kpem, klen, 0600,
						     force ? 0 : SIGNET_WRITE_EXCL, &err);
		signet_secret_free(kpem, klen);
		if (wr < 0)
			goto fail;
		key_written = 1;
	}
	sr.csr = req;
	sr.name = name;
	/* Not in a transaction: signet_ca_sign's insert commits on its own. */
	cert = signet_ca_sign(ca, &sr, &err);
	if (cert == NULL)
		goto fail;
	if (signet_cert_pem_append(cert, &pem, &len, &err) < 0 ||
	    signet_file_write(cpath, pem, len, 0644, 0, &err) < 0 ||
	    signet_ca_chain_pem_append(ca, &pem, &len, &err) < 0 ||
	    signet_file_write(chpath, pem, len, 0644, 0, &err) < 0) {
		char serial[64];
		/* Recorded, and its key is on disk: say so, and how to get it. */
		signet_serial_hex(X509_get0_serialNumber(cert), serial, sizeof(serial));
		signet_err_prefix(&err, "certificate %s is issued and recorded but not written "
					"(signet export %s --chain FILE writes it)", serial, serial);
		key_written = 0;
		goto fail;
	}
	{
		char serial[64];
		signet_serial_hex(X509_get0_serialNumber(cert), serial, sizeof(serial));
		printf("signet issue: %s certificate for %s, serial %s\n",
		       signet_profile_name(sr.profile), name, serial);
		printf("  %s (key, mode 0600%s)\n  %s\n  %s\n", kpath,
		       key_pass ? ", encrypted" : "", cpath, chpath);
	}
	rc = 0;
	goto out;
fail:
	/* A key made for a certificate that was not issued goes again (never
	 * a key that --force replaced: that one is already gone). */
	if (key_written && !force)
		unlink(kpath);
	if (made_dir)
		rmdir(out_dir); /* made for this certificate: removed when it stayed empty */
	rc = cli_fail("issue", &err);
out:
	free(pem);
	cli_pass_free(key_pass);
	X509_free(cert);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	X509_NAME_free(subj);
	GENERAL_NAMES_free(sans);
	signet_ca_free(ca);
	return rc;
}
