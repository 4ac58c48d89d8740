/*
 * cmd_show.c - `signet show FILE`: a human (or --json) view of a
 * certificate, chain, CSR, CRL or key.  The kind is detected from the PEM
 * label, or for DER by trying each parser in turn.
 */
#include "cli.h"

#include <getopt.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <signet/cert.h>
#include <signet/file.h>
#include <signet/key.h>
#include <signet/name.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
	"usage: signet show FILE [--json]\n"
	"\n"
	"Describes a certificate (or a chain of them), a CSR, a CRL or a key:\n"
	"subject, issuer, validity with days left, SANs, key type and size,\n"
	"fingerprints and every extension.  \"-\" reads stdin.\n"
	"\n"
	"  --json            machine-readable output\n"
	"  --pass-file FILE  passphrase of an encrypted key (also $SIGNET_PASS_FILE)\n";

static char *bio_string(BIO *b)
{
	char *p = NULL;
	long n = BIO_get_mem_data(b, &p);
	char *s;

	if (n < 0 || p == NULL) /* an empty BIO may have no buffer at all */
		n = 0;
	s = malloc((size_t)n + 1);
	if (s != NULL) {
		if (n > 0)
			memcpy(s, p, (size_t)n);
		s[n] = '\0';
		/* fold OpenSSL's multi-line extension values */
		for (char *q = s; *q; q++)
			if (*q == '\n')
				*q = (q[1] ? ';' : '\0');
	}
	return s;
}

static void fmt_time(const ASN1_TIME *t, char *buf, size_t size, long *days_left)
{
	time_t tt = 0, now = time(NULL);
	struct tm tm;
	if (signet_asn1_time_to_time(t, &tt) < 0) {
		snprintf(buf, size, "(invalid)");
		*days_left = 0;
		return;
	}
	gmtime_r(&tt, &tm);
	strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm);
	*days_left = (long)((tt - now) / 86400);
}

static json_t *jstr(const char *s);

static json_t *extensions_json(const STACK_OF(X509_EXTENSION) *exts)
{
	json_t *arr = json_array();
	for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);
		ASN1_OBJECT *obj = X509_EXTENSION_get_object(e);
		char oid[128], name[128];
		BIO *b = BIO_new(BIO_s_mem());
		char *val;
		json_t *o = json_object();

		OBJ_obj2txt(oid, sizeof(oid), obj, 1);
		OBJ_obj2txt(name, sizeof(name), obj, 0);
		if (!X509V3_EXT_print(b, e, 0, 0))
			ASN1_STRING_print(b, X509_EXTENSION_get_data(e));
		val = bio_string(b);
		json_object_set_new(o, "name", json_string(name));
		json_object_set_new(o, "oid", json_string(oid));
		json_object_set_new(o, "critical", json_boolean(X509_EXTENSION_get_critical(e)));
		json_object_set_new(o, "value", jstr(val ? val : ""));
		json_array_append_new(arr, o);
		free(val);
		BIO_free(b);
	}
	ERR_clear_error();
	return arr;
}

static json_t *key_json(const EVP_PKEY *k)
{
	char desc[64];
	json_t *o = json_object();
	signet_key_describe(k, desc, sizeof(desc));
	json_object_set_new(o, "type", json_string(desc));
	json_object_set_new(o, "bits", json_integer(EVP_PKEY_get_bits(k)));
	return o;
}

/* A JSON string, or a marker when the bytes are not valid UTF-8. */
static json_t *jstr(const char *s)
{
	json_t *j = json_string(s);
	return j != NULL ? j : json_string("(not UTF-8)");
}

static json_t *name_json(const X509_NAME *n)
{
	char buf[2048];
	signet_name_format(n, buf, sizeof(buf));
	return jstr(buf);
}

static json_t *cert_json(X509 *x)
{
	json_t *o = json_object();
	char buf[4096], fp[65];
	long days;
	GENERAL_NAMES *gn;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdl = 0;

	json_object_set_new(o, "kind", json_string("certificate"));
	json_object_set_new(o, "subject", name_json(X509_get_subject_name(x)));
	json_object_set_new(o, "issuer", name_json(X509_get_issuer_name(x)));
	signet_serial_hex(X509_get0_serialNumber(x), buf, sizeof(buf));
	json_object_set_new(o, "serial", json_string(buf));
	json_object_set_new(o, "version", json_integer(X509_get_version(x) + 1));
	fmt_time(X509_get0_notBefore(x), buf, sizeof(buf), &days);
	json_object_set_new(o, "not_before", json_string(buf));
	fmt_time(X509_get0_notAfter(x), buf, sizeof(buf), &days);
	json_object_set_new(o, "not_after", json_string(buf));
	json_object_set_new(o, "days_left", json_integer(days));
	gn = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	buf[0] = '\0';
	if (gn != NULL)
		signet_san_format(gn, buf, sizeof(buf));
	GENERAL_NAMES_free(gn);
	json_object_set_new(o, "sans", jstr(buf));
	if (X509_get0_pubkey(x) != NULL)
		json_object_set_new(o, "key", key_json(X509_get0_pubkey(x)));
	json_object_set_new(o, "signature_algorithm",
			    json_string(OBJ_nid2ln(X509_get_signature_nid(x))));
	json_object_set_new(o, "is_ca", json_boolean(X509_check_ca(x) > 0));
	json_object_set_new(o, "self_signed", json_boolean(X509_self_signed(x, 0) == 1));
	signet_cert_fingerprint(x, fp);
	json_object_set_new(o, "sha256_fingerprint", json_string(fp));
	if (X509_digest(x, EVP_sha1(), md, &mdl)) {
		char h[41];
		for (unsigned i = 0; i < mdl && i < 20; i++)
			snprintf(h + 2 * i, 3, "%02x", md[i]);
		json_object_set_new(o, "sha1_fingerprint", json_string(h));
	}
	json_object_set_new(o, "extensions", extensions_json(X509_get0_extensions(x)));
	ERR_clear_error();
	return o;
}

static json_t *csr_json(X509_REQ *r)
{
	json_t *o = json_object();
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(r);
	EVP_PKEY *k = X509_REQ_get0_pubkey(r);
	int ok = k != NULL && X509_REQ_verify(r, k) == 1;

	json_object_set_new(o, "kind", json_string("csr"));
	json_object_set_new(o, "subject", name_json(X509_REQ_get_subject_name(r)));
	if (k != NULL)
		json_object_set_new(o, "key", key_json(k));
	json_object_set_new(o, "signature_valid", json_boolean(ok));
	json_object_set_new(o, "signature_algorithm",
			    json_string(OBJ_nid2ln(X509_REQ_get_signature_nid(r))));
	json_object_set_new(o, "extensions", extensions_json(exts));
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ERR_clear_error();
	return o;
}

static json_t *crl_json(X509_CRL *c)
{
	json_t *o = json_object(), *arr = json_array();
	STACK_OF(X509_REVOKED) *rev = X509_CRL_get_REVOKED(c);
	char buf[256];
	long days;
	ASN1_INTEGER *num = X509_CRL_get_ext_d2i(c, NID_crl_number, NULL, NULL);

	json_object_set_new(o, "kind", json_string("crl"));
	json_object_set_new(o, "issuer", name_json(X509_CRL_get_issuer(c)));
	fmt_time(X509_CRL_get0_lastUpdate(c), buf, sizeof(buf), &days);
	json_object_set_new(o, "this_update", json_string(buf));
	if (X509_CRL_get0_nextUpdate(c) != NULL) {
		fmt_time(X509_CRL_get0_nextUpdate(c), buf, sizeof(buf), &days);
		json_object_set_new(o, "next_update", json_string(buf));
	}
	if (num != NULL) {
		signet_serial_hex(num, buf, sizeof(buf));
		json_object_set_new(o, "crl_number", json_string(buf));
		ASN1_INTEGER_free(num);
	}
	/* An empty CRL has no revokedCertificates at all: a NULL stack, whose
	 * sk_num is -1, not 0. */
	json_object_set_new(o, "revoked_count",
			    json_integer(rev != NULL ? sk_X509_REVOKED_num(rev) : 0));
	for (int i = 0; i < sk_X509_REVOKED_num(rev) && i < 1000; i++) {
		X509_REVOKED *r = sk_X509_REVOKED_value(rev, i);
		json_t *e = json_object();
		ASN1_ENUMERATED *reason = X509_REVOKED_get_ext_d2i(r, NID_crl_reason, NULL, NULL);
		signet_serial_hex(X509_REVOKED_get0_serialNumber(r), buf, sizeof(buf));
		json_object_set_new(e, "serial", json_string(buf));
		fmt_time(X509_REVOKED_get0_revocationDate(r), buf, sizeof(buf), &days);
		json_object_set_new(e, "revoked_at", json_string(buf));
		if (reason != NULL) {
			json_object_set_new(e, "reason", json_integer(ASN1_ENUMERATED_get(reason)));
			ASN1_ENUMERATED_free(reason);
		}
		json_array_append_new(arr, e);
	}
	json_object_set_new(o, "revoked", arr);
	json_object_set_new(o, "extensions", extensions_json(X509_CRL_get0_extensions(c)));
	ERR_clear_error();
	return o;
}

static json_t *pkey_json(EVP_PKEY *k, int encrypted)
{
	json_t *o = key_json(k);
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(k, &der);
	json_object_set_new(o, "kind", json_string("private key"));
	json_object_set_new(o, "encrypted", json_boolean(encrypted));
	if (n > 0) {
		unsigned char md[32];
		char h[65];
		unsigned int l = 0;
		EVP_Digest(der, (size_t)n, md, &l, EVP_sha256(), NULL);
		for (unsigned i = 0; i < l; i++)
			snprintf(h + 2 * i, 3, "%02x", md[i]);
		json_object_set_new(o, "public_key_sha256", json_string(h));
	}
	OPENSSL_free(der);
	return o;
}

/* Prints s with control characters replaced: certificate fields are
 * untrusted and must not drive the terminal. */
static void print_clean(const char *s)
{
	for (; s != NULL && *s; s++)
		putchar(((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s);
}

static void print_text(json_t *o)
{
	const char *key;
	json_t *v;
	json_object_foreach(o, key, v)
	{
		if (strcmp(key, "extensions") == 0) {
			size_t i;
			json_t *e;
			printf("  extensions:\n");
			json_array_foreach(v, i, e)
			{
				printf("    ");
				print_clean(json_string_value(json_object_get(e, "name")));
				printf("%s: ", json_is_true(json_object_get(e, "critical")) ? " (critical)" : "");
				print_clean(json_string_value(json_object_get(e, "value")));
				printf("\n");
			}
		} else if (strcmp(key, "revoked") == 0) {
			size_t i;
			json_t *e;
			json_array_foreach(v, i, e)
			{
				json_t *r = json_object_get(e, "reason");
				printf("    revoked %s at %s", json_string_value(json_object_get(e, "serial")),
				       json_string_value(json_object_get(e, "revoked_at")));
				if (r)
					printf(" reason %lld", (long long)json_integer_value(r));
				printf("\n");
			}
		} else if (strcmp(key, "key") == 0) {
			printf("  %-20s %s\n", "key:", json_string_value(json_object_get(v, "type")));
		} else if (strcmp(key, "kind") == 0) {
			continue;
		} else if (json_is_string(v)) {
			char label[64];
			snprintf(label, sizeof(label), "%s:", key);
			printf("  %-20s ", label);
			print_clean(json_string_value(v));
			printf("\n");
		} else if (json_is_integer(v)) {
			char label[64];
			snprintf(label, sizeof(label), "%s:", key);
			printf("  %-20s %lld\n", label, (long long)json_integer_value(v));
		} else if (json_is_boolean(v)) {
			char label[64];
			snprintf(label, sizeof(label), "%s:", key);
			printf("  %-20s %s\n", label, json_is_true(v) ? "yes" : "no");
		}
	}
}

int cmd_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pass-file", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct signet_err err = { 0 };
	const char *path, *pass_file = NULL;
	unsigned char *data = NULL;
	size_t len = 0;
	int as_json = 0, c, rc = 0;
	json_t *items = NULL; /* made once the early returns are behind us */

	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	optind = 1;
	opterr = 0; /* cli_bad_option says it in one line */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'j')
			as_json = 1;
		else if (c == 'p')
			pass_file = optarg;
		else
			return cli_bad_option("show", argv);
	}
	if (argc - optind != 1)
		return cli_usage_error("show", "expected one FILE");
	path = argv[optind];
	if (signet_file_read(path, &data, &len, &err) < 0)
		return cli_fail("show", &err);
	items = json_array();
	if (items == NULL) {
		signet_err_set(&err, SIGNET_E_INTERNAL, "out of memory");
		goto fail;
	}

	if (memmem(data, len, "PRIVATE KEY-----", 16) != NULL) {
		int enc = signet_key_pem_is_encrypted(data, len);
		char *pass = NULL;
		EVP_PKEY *k;
		if (enc && (pass = cli_pass_get(pass_file, "--pass-file", CLI_PASS_ENV,
						"Key passphrase: ", 0, &err)) == NULL)
			goto fail;
		k = signet_key_parse(data, len, pass, path, &err);
		cli_pass_free(pass);
		if (k == NULL)
			goto fail;
		json_array_append_new(items, pkey_json(k, enc));
		EVP_PKEY_free(k);
	} else if (memmem(data, len, "CERTIFICATE REQUEST-----", 24) != NULL) {
		X509_REQ *r = signet_csr_parse(data, len, path, &err);
		if (r == NULL)
			goto fail;
		json_array_append_new(items, csr_json(r));
		X509_REQ_free(r);
	} else if (memmem(data, len, "X509 CRL-----", 13) != NULL) {
		X509_CRL *crl = signet_crl_parse(data, len, path, &err);
		if (crl == NULL)
			goto fail;
		json_array_append_new(items, crl_json(crl));
		X509_CRL_free(crl);
	} else if (memmem(data, len, "-----BEGIN", 10) != NULL) {
		STACK_OF(X509) *certs = signet_certs_parse(data, len, path, &err);
		if (certs == NULL)
			goto fail;
		for (int i = 0; i < sk_X509_num(certs); i++)
			json_array_append_new(items, cert_json(sk_X509_value(certs, i)));
		sk_X509_pop_free(certs, X509_free);
	} else {
		/* DER: try each kind; the first that parses wins. */
		struct signet_err e2 = { 0 };
		STACK_OF(X509) *certs = signet_certs_parse(data, len, path, &e2);
		X509_REQ *r = NULL;
		X509_CRL *crl = NULL;
		EVP_PKEY *k = NULL;
		if (certs != NULL) {
			json_array_append_new(items, cert_json(sk_X509_value(certs, 0)));
			sk_X509_pop_free(certs, X509_free);
		} else if ((r = signet_csr_parse(data, len, path, &e2)) != NULL) {
			json_array_append_new(items, csr_json(r));
			X509_REQ_free(r);
		} else if ((crl = signet_crl_parse(data, len, path, &e2)) != NULL) {
			json_array_append_new(items, crl_json(crl));
			X509_CRL_free(crl);
		} else if ((k = signet_key_parse(data, len, NULL, path, &e2)) != NULL) {
			json_array_append_new(items, pkey_json(k, 0));
			EVP_PKEY_free(k);
		} else {
			signet_err_set(&err, SIGNET_E_PARSE,
				       "%s: not a certificate, CSR, CRL or key (PEM or DER)", path);
			goto fail;
		}
	}
	if (as_json) {
		json_t *top = json_array_size(items) == 1 ? json_array_get(items, 0) : items;
		char *s = json_dumps(top, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (s != NULL)
			printf("%s\n", s);
		free(s);
	} else {
		size_t i;
		json_t *it;
		json_array_foreach(items, i, it)
		{
			if (i > 0)
				printf("\n");
			if (json_array_size(items) > 1)
				printf("%s %zu of %zu:\n", json_string_value(json_object_get(it, "kind")),
				       i + 1, json_array_size(items));
			else
				printf("%s:\n", json_string_value(json_object_get(it, "kind")));
			print_text(it);
		}
	}
	goto out;
fail:
	rc = cli_fail("show", &err);
out:
	json_decref(items);
	if (data != NULL)
		signet_secret_free(data, len);
	return rc;
}
