/*
 * cmd_export.c - `signet export`: a recorded certificate as PKCS#12 (with
 * its key and chain, for browsers and `openssl pkcs12`) or as full-chain PEM.
 */
#include "cli.h"

#include <getopt.h>
#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <signet/ca.h>
#include <signet/cert.h>
#include <signet/file.h>
#include <signet/key.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
	"usage: signet export SERIAL|NAME (--p12 FILE [--key FILE] | --chain FILE)\n"
	"\n"
	"Exports a certificate recorded in the CA database.\n"
	"\n"
	"  --p12 FILE            PKCS#12 bundle of certificate, key and CA chain\n"
	"                        (AES-256, PBKDF2-SHA256; mode 0600), as browsers import\n"
	"  --key FILE            the certificate's private key (default: NAME.key)\n"
	"  --p12-pass-file FILE  passphrase protecting the bundle (default: prompt)\n"
	"  --key-pass-file FILE  passphrase of an encrypted key\n"
	"  --chain FILE          full-chain PEM: the certificate then its intermediates\n"
	"  --dir DIR             CA directory (default: $SIGNET_DIR, else ./signet-ca)\n";

/* Pushes onto cas the CA's certificates that issued cert, then the one
 * that issued that, up to the root (none for the root itself). */
static int issuers_of(const struct signet_ca *ca, X509 *cert, STACK_OF(X509) *cas)
{
	STACK_OF(X509) *inter = signet_ca_chain(ca);
	X509 *root = signet_ca_root(ca), *cur = cert;

	while (X509_cmp(cur, root) != 0) {
		X509 *up = NULL;
		for (int i = 0; i < sk_X509_num(inter) && up == NULL; i++) {
			X509 *c = sk_X509_value(inter, i);
			if (X509_cmp(c, cur) != 0 && X509_check_issued(c, cur) == X509_V_OK)
				up = c;
		}
		if (up == NULL)
			up = root; /* issued by the root, or by no CA of this directory */
		if (!sk_X509_push(cas, up))
			return -1;
		cur = up;
	}
	return 0;
}

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "p12", required_argument, NULL, 'P' },
		{ "key", required_argument, NULL, 'k' },
		{ "p12-pass-file", required_argument, NULL, 'p' },
		{ "key-pass-file", required_argument, NULL, 'K' },
		{ "chain", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct signet_err err = { 0 };
	struct signet_record rec;
	const char *p12 = NULL, *keyfile = NULL, *p12_pass_file = NULL, *key_pass_file = NULL;
	const char *chain = NULL, *dir = NULL;
	struct signet_ca *ca = NULL;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	PKCS12 *bundle = NULL;
	STACK_OF(X509) *cas = NULL;
	unsigned char *data = NULL, *der = NULL;
	size_t len = 0;
	char *pass = NULL, *kpass = NULL, *pem = NULL, keybuf[4096];
	int c, rc = SIGNET_E_INTERNAL, dlen = 0;

	memset(&rec, 0, sizeof(rec));
	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	optind = 1;
	opterr = 0; /* cli_bad_option says it in one line */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'P': p12 = optarg; break;
		case 'k': keyfile = optarg; break;
		case 'p': p12_pass_file = optarg; break;
		case 'K': key_pass_file = optarg; break;
		case 'c': chain = optarg; break;
		case 'd': dir = optarg; break;
		default: return cli_bad_option("export", argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("export", "expected one SERIAL or NAME");
	if (p12 == NULL && chain == NULL)
		return cli_usage_error("export", "say what to export: --p12 FILE or --chain FILE");
	ca = signet_ca_open(cli_ca_dir(dir), &err);
	if (ca == NULL)
		goto fail;
	if (signet_db_get(signet_ca_db(ca), argv[optind], &rec, &err) < 0)
		goto fail;
	/* Exported all the same (a record, a bundle to inspect), but said. */
	if (rec.status == SIGNET_STATUS_REVOKED)
		cli_warn("export", "certificate %s is revoked: peers that check revocation "
				   "refuse it", rec.serial);
	else if (rec.not_after < (int64_t)time(NULL))
		cli_warn("export", "certificate %s has expired", rec.serial);
	{
		const unsigned char *p = rec.der;
		cert = d2i_X509(NULL, &p, (long)rec.der_len);
		if (cert == NULL) {
			signet_err_ossl(&err, SIGNET_E_DB, "record %s holds a damaged certificate",
					rec.serial);
			goto fail;
		}
	}
	/* The CA certificates above cert, its issuer first, up to the root:
	 * a certificate the root signed (a sub-CA, `sign --issuer root`, the
	 * intermediate itself) has no intermediate in its chain. */
	cas = sk_X509_new_null();
	if (cas == NULL || issuers_of(ca, cert, cas) < 0) {
		signet_err_set(&err, SIGNET_E_INTERNAL, "out of memory");
		goto fail;
	}
	if (chain != NULL) {
		/* The leaf, then the intermediates: the root is the anchor that
		 * the peer already has. */
		if (signet_cert_pem_append(cert, &pem, &len, &err) < 0)
			goto fail;
		for (int i = 0; i < sk_X509_num(cas); i++)
			if (sk_X509_value(cas, i) != signet_ca_root(ca) &&
			    signet_cert_pem_append(sk_X509_value(cas, i), &pem, &len, &err) < 0)
				goto fail;
		if (signet_file_write(chain, pem, len, 0644, 0, &err) < 0)
			goto fail;
	}
	if (p12 != NULL) {
		if (keyfile == NULL) {
			snprintf(keybuf, sizeof(keybuf), "%s.key", rec.name ? rec.name : rec.serial);
			keyfile = keybuf;
		}
		if (signet_file_read(keyfile, &data, &len, &err) < 0) {
			signet_err_prefix(&err, "the private key is needed for PKCS#12 (give --key)");
			goto fail;
		}
		if (signet_key_pem_is_encrypted(data, len) &&
		    (kpass = cli_pass_get(key_pass_file, "--key-pass-file", CLI_PASS_NO_ENV,
				      "Key passphrase: ", 0, &err)) == NULL)
			goto fail;
		key = signet_key_parse(data, len, kpass, keyfile, &err);
		if (key == NULL)
			goto fail;
		if (!signet_key_matches(key, X509_get0_pubkey(cert))) {
			signet_err_set(&err, SIGNET_E_PARSE,
				       "%s is not the key of certificate %s", keyfile, rec.serial);
			goto fail;
		}
		pass = cli_pass_get(p12_pass_file, "--p12-pass-file", CLI_PASS_NO_ENV,
				    "Passphrase for the PKCS#12 file: ", 1, &err);
		if (pass == NULL)
			goto fail;
		bundle = PKCS12_create(pass, rec.name ? rec.name : rec.serial, key, cert, cas, 0, 0,
				       0, 0, 0);
		if (bundle == NULL) {
			signet_err_ossl(&err, SIGNET_E_INTERNAL, "cannot build PKCS#12");
			goto fail;
		}
		dlen = i2d_PKCS12(bundle, &der);
		if (dlen <= 0) {
			signet_err_ossl(&err, SIGNET_E_INTERNAL, "cannot encode PKCS#12");
			goto fail;
		}
		if (signet_file_write(p12, der, (size_t)dlen, 0600, 0, &err) < 0)
			goto fail;
		fprintf(stderr, "signet export: wrote %s (certificate %s, its key and %d CA "
				"certificate%s)\n", p12, rec.serial, sk_X509_num(cas),
			sk_X509_num(cas) == 1 ? "" : "s");
	}
	rc = 0;
	goto out;
fail:
	rc = cli_fail("export", &err);
out:
	if (data != NULL)
		signet_secret_free(data, len);
	if (der != NULL)
		OPENSSL_clear_free(der, (size_t)(dlen > 0 ? dlen : 0));
	free(pem);
	cli_pass_free(pass);
	cli_pass_free(kpass);
	PKCS12_free(bundle);
	sk_X509_free(cas);
	EVP_PKEY_free(key);
	X509_free(cert);
	signet_record_clear(&rec);
	signet_ca_free(ca);
	return rc;
}
