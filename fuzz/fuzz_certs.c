/*
 * fuzz_certs.c - signet_certs_parse: PEM bundles and DER certificates, as
 * read by show, verify, the tunnel's --cert/--ca and the CA's own files.
 * Every certificate that parses is then described the way `signet show`
 * and the database do (serial, fingerprint, times, subject, SANs), since
 * those read fields a hostile certificate controls.
 */
#include "fuzz.h"

#include <signet/cert.h>
#include <signet/name.h>

#include <openssl/x509v3.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct signet_err err;
	STACK_OF(X509) *certs;

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
