/*
 * fuzz_crl.c - signet_crl_parse on CRLs as `signet show`, `signet verify
 * --crl` and the tunnel's --crl read them, then the per-entry facts a
 * revocation check looks at.
 */
#include "fuzz.h"

#include <signet/cert.h>
#include <signet/name.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct signet_err err;
	X509_CRL *crl;
	STACK_OF(X509_REVOKED) *revs;
	char buf[512];
	time_t t;

	signet_err_clear(&err);
	crl = signet_crl_parse(data, size, "fuzz.crl", &err);
	fuzz_check("signet_crl_parse", crl == NULL, &err);
	if (crl == NULL)
		return 0;
	signet_name_format(X509_CRL_get_issuer(crl), buf, sizeof(buf));
	signet_asn1_time_to_time(X509_CRL_get0_lastUpdate(crl), &t);
	signet_asn1_time_to_time(X509_CRL_get0_nextUpdate(crl), &t);
	revs = X509_CRL_get_REVOKED(crl);
	for (int i = 0; i < sk_X509_REVOKED_num(revs) && i < 1000; i++) {
		const X509_REVOKED *r = sk_X509_REVOKED_value(revs, i);
		signet_serial_hex(X509_REVOKED_get0_serialNumber(r), buf, sizeof(buf));
		signet_asn1_time_to_time(X509_REVOKED_get0_revocationDate(r), &t);
	}
	fuzz_check("crl describe", 0, &err);
	X509_CRL_free(crl);
	return 0;
}
