/*
 * cmd_crl.c - `signet crl`: sign a complete or delta CRL from the database.
 *
 * Each complete CRL is also kept in the CA directory (crl-full.der, or
 * root-crl-full.der for the root's own CRL), written after the requested
 * output, because a delta CRL is exact only against the complete CRL that
 * relying parties actually hold: `--delta` lists what changed since it.
 */
#include "ca_open.h"

#include <fcntl.h>
#include <getopt.h>
#include <openssl/pem.h>
#include <signet/cert.h>
#include <signet/crl.h>
#include <signet/file.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
	"usage: signet crl [options]\n"
	"\n"
	"Signs a CRL (v2) of the certificates the CA revoked: cRLNumber from the\n"
	"database (it only grows), authorityKeyIdentifier, thisUpdate/nextUpdate,\n"
	"reason codes and invalidity dates.\n"
	"\n"
	"  --out FILE        where to write it (default: stdout)\n"
	"  --days N          nextUpdate N days after now (default 7)\n"
	"  --der | --pem     output encoding (default: PEM)\n"
	"  --delta           a delta CRL against the last complete CRL made here\n"
	"  --issuer WHO      intermediate (default when present) or root (the CRL of\n"
	"                    what the root signed, e.g. the intermediate)\n"
	"  --dir DIR         CA directory (default: $SIGNET_DIR, else ./signet-ca)\n"
	"  --pass-file FILE  CA key passphrase (also $SIGNET_PASS_FILE)\n";

/*
 * Keeps the complete CRL as the base of later deltas.  When it was just
 * written as DER to a file, the base is a second name (hard link) for
 * that file: the same bytes, without writing tens of megabytes again.
 * Otherwise (PEM, stdout, another file system) a copy.  Neither is
 * fsync'ed: after a crash an older complete CRL may remain, and a delta
 * against an older base lists a superset of the changes, which is still
 * correct for holders of either base.  load_base checks that the base is
 * a complete CRL signed by this CA, whatever later happens to the file.
 */
static int keep_base(const char *der_file, const char *basepath, const unsigned char *der,
		     size_t der_len, struct signet_err *err)
{
	struct stat st;

	/* Only a regular file is linked: a FIFO or a device as the base would
	 * hang or mislead the next --delta. */
	if (der_file != NULL && strcmp(der_file, "-") != 0 && stat(der_file, &st) == 0 &&
	    S_ISREG(st.st_mode)) {
		char tmp[4300];
		int linked;
		if ((size_t)snprintf(tmp, sizeof(tmp), "%s.link.%ld", basepath, (long)getpid()) >=
		    sizeof(tmp))
			return signet_file_write(basepath, der, der_len, 0644, SIGNET_WRITE_NOSYNC,
						 err);
		(void)unlink(tmp);
		/* The file itself, never a symlink that names it. */
		linked = linkat(AT_FDCWD, der_file, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) == 0 &&
			 rename(tmp, basepath) == 0;
		(void)unlink(tmp); /* gone after a rename, unless both names were one file */
		if (linked)
			return 0;
	}
	return signet_file_write(basepath, der, der_len, 0644, SIGNET_WRITE_NOSYNC, err);
}

int cmd_crl(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "days", required_argument, NULL, 'D' },
		{ "der", no_argument, NULL, 'r' },
		{ "pem", no_argument, NULL, 'p' },
		{ "delta", no_argument, NULL, 'l' },
		{ "issuer", required_argument, NULL, 'i' },
		{ "dir", required_argument, NULL, 'd' },
		{ "pass-file", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct signet_err err = { 0 };
	struct signet_crl_opts o;
	struct signet_crl_info info;
	struct signet_ca *ca = NULL;
	const char *out = "-", *dir = NULL, *pass_file = NULL;
	unsigned char *der = NULL, *base = NULL;
	char *pem = NULL, basepath[4200];
	size_t der_len = 0, base_len = 0, pem_len = 0;
	int days = 7, as_der = 0, delta = 0, use_root = 0, c, rc = SIGNET_E_INTERNAL;

	memset(&o, 0, sizeof(o));
	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'D':
			if (cli_parse_days(optarg, &days) < 0)
				return cli_usage_error("crl", "--days takes a number of days from 1 to 36500, "
						       "not '%s'",
						       optarg);
			break;
		case 'r':
			as_der = 1;
			break;
		case 'p':
			as_der = 0;
			break;
		case 'l':
			delta = 1;
			break;
		case 'i':
			if (strcmp(optarg, "root") == 0)
				use_root = 1;
			else if (strcmp(optarg, "intermediate") != 0)
				return cli_usage_error("crl", "--issuer is root or intermediate");
			break;
		case 'd':
			dir = optarg;
			break;
		case 'P':
			pass_file = optarg;
			break;
		default:
			return cli_bad_option("crl", argv);
		}
	}
	if (optind != argc)
		return cli_usage_error("crl", "unexpected argument '%s'", argv[optind]);

	ca = cli_ca_open_unlocked("crl", dir, pass_file, use_root, &rc);
	if (ca == NULL)
		return rc;
	/* Checked before a CRL number is taken for a CRL that cannot be written. */
	if (signet_file_check_output(out, &err) < 0)
		goto fail;
	if (signet_path_join(basepath, sizeof(basepath), signet_ca_dir(ca),
			     use_root ? "root-crl-full.der" : "crl-full.der", &err) < 0)
		goto fail;
	if (delta) {
		if (signet_file_read(basepath, &base, &base_len, &err) < 0) {
			signet_err_set(&err, SIGNET_E_NOTFOUND,
				       "%s: no complete CRL to build a delta on; run `signet crl` "
				       "first", basepath);
			goto fail;
		}
		o.base_der = base;
		o.base_len = base_len;
	}
	o.issuer = signet_ca_signer_cert(ca);
	o.key = signet_ca_signer_key(ca);
	o.db = signet_ca_db(ca);
	o.issuer_id = signet_ca_signer_id(ca);
	o.validity = (int64_t)days * 86400;
	if (signet_crl_build(&o, &der, &der_len, &info, &err) < 0)
		goto fail;

	if (as_der) {
		if (signet_file_write(out, der, der_len, 0644, 0, &err) < 0)
			goto fail;
	} else {
		/* PEM straight from the DER: no parse of a million entries. */
		if (signet_pem_encode(PEM_STRING_X509_CRL, der, der_len, &pem, &pem_len, &err) < 0 ||
		    signet_file_write(out, pem, pem_len, 0644, 0, &err) < 0)
			goto fail;
	}
	if (!delta && keep_base(as_der ? out : NULL, basepath, der, der_len, &err) < 0)
		goto fail;
	if (strcmp(out, "-") != 0) {
		if (delta)
			fprintf(stderr,
				"signet crl: delta CRL number %lld (base %lld), %zu entr%s, "
				"written to %s\n",
				(long long)info.number, (long long)info.base_number, info.entries,
				info.entries == 1 ? "y" : "ies", out);
		else
			fprintf(stderr, "signet crl: CRL number %lld, %zu entr%s, written to %s\n",
				(long long)info.number, info.entries,
				info.entries == 1 ? "y" : "ies", out);
	}
	rc = 0;
	goto out;
fail:
	rc = cli_fail("crl", &err);
out:
	free(der);
	free(base);
	free(pem);
	signet_ca_free(ca);
	return rc;
}
