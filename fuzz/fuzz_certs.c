/*
 * fuzz_certs.c - signet_certs_parse: PEM bundles and DER certificates, as
 * read by show, verify, the tunnel's --cert/--ca and the CA's own files.
 * Every certificate that parses is then described the way `signet show`
 * and the database do (serial, fingerprint, times, subject, SANs), since
 * those read fields a hostile certificate controls.
 *
 * A DER input also goes to signet_cert_d2i_light (cert_fast.c, the CA's
 * reader that leaves the key undecoded): whatever it accepts, d2i_X509
 * must read as the same certificate.
 */
#include "fuzz.h"
#include "cert_int.h"

#include <signet/cert.h>
#include <signet/name.h>

#include <openssl/x509v3.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void check_light(const uint8_t *data, size_t size)
{
	const unsigned char *p = data, *q = data;
	X509 *light, *full;
	unsigned char *a = NULL, *b = NULL;
	int na, nb;

	if (size > INT32_MAX)
		return;
	light = signet_cert_d2i_light(&p, (long)size);
	if (light == NULL) {
		if (p != data)
			abort(); /* a refusal consumes nothing */
		return;
	}
	full = d2i_X509(NULL, &q, (long)size);
	if (full == NULL || p != q) {
		fprintf(stderr, "the light reader accepted what d2i_X509 does not\n");
		abort();
	}
	na = i2d_X509(light, &a);
	nb = i2d_X509(full, &b);
	if (na <= 0 || na != nb || memcmp(a, b, (size_t)na) != 0 || na != (int)(p - data) ||
	    memcmp(a, data, (size_t)na) != 0 || X509_cmp(light, full) != 0 ||
	    X509_get_pathlen(light) != X509_get_pathlen(full) ||
	    X509_get_key_usage(light) != X509_get_key_usage(full) ||
	    /* self-signed needs the key: the one flag allowed to differ */
	    (X509_get_extension_flags(light) & ~EXFLAG_SS) !=
		    (X509_get_extension_flags(full) & ~EXFLAG_SS)) {
		fprintf(stderr, "the light reader read another certificate\n");
		abort();
	}
	OPENSSL_free(a);
	OPENSSL_free(b);
	X509_free(light);
	X509_free(full);
	ERR_clear_error();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct signet_err err;
	STACK_OF(X509) *certs;

	check_light(data, size);
	signet_err_clear(&err);
	certs = signet_certs_parse(data, size, "fuzz.pem", &err);
	fuzz_check("signet_certs_parse", certs == NULL, &err);
	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);
		GENERAL_NAMES *sans;
		char buf[1024], fp[65];
		time_t t;

		signet_serial_hex(X509_get0_serialNumber(x), buf, sizeof(buf));
		signet_cert_fingerprint(x, fp);
		signet_asn1_time_to_time(X509_get0_notBefore(x), &t);
		signet_asn1_time_to_time(X509_get0_notAfter(x), &t);
		signet_name_format(X509_get_subject_name(x), buf, sizeof(buf));
		signet_name_format(X509_get_issuer_name(x), buf, sizeof(buf));
		sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
		signet_san_format(sans, buf, sizeof(buf));
		/* a tiny buffer exercises the truncation paths */
		signet_san_format(sans, buf, 8);
		signet_name_format(X509_get_subject_name(x), buf, 8);
		GENERAL_NAMES_free(sans);
		ERR_clear_error(); /* X509_get_ext_d2i is OpenSSL's, not ours */
		fuzz_check("cert describe", 0, &err);
	}
	sk_X509_pop_free(certs, X509_free);
	return 0;
}
