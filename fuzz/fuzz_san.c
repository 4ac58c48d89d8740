/*
 * fuzz_san.c - signet_san_parse on --san lists ("dns:a,ip:::1,email:x@y,
 * uri:spiffe://t/w") and signet_dns_name_valid on the raw text.
 *
 * Beyond not crashing: what the formatter prints must parse again into
 * the same number of names of the same types, because `signet show`
 * output is what users paste back into --san.
 */
#include "fuzz.h"

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
	GENERAL_NAMES *names = NULL, *again = NULL;
	static char buf[70000];
	char *s;
	int r;

	if (size > 70000)
		return 0;
	s = fuzz_cstr(data, size);
	(void)signet_dns_name_valid(s, 0);
	(void)signet_dns_name_valid(s, 1);
	signet_err_clear(&err);
	r = signet_san_parse(s, &names, &err);
	fuzz_check("signet_san_parse", r < 0, &err);
	if (r < 0 && names != NULL) {
		fprintf(stderr, "signet_san_parse failed but left a list behind\n");
		abort();
	}
	if (r == 0) {
		signet_san_format(names, buf, sizeof(buf));
		if (strlen(buf) + 1 < sizeof(buf) && sk_GENERAL_NAME_num(names) > 0) {
			signet_err_clear(&err);
			r = signet_san_parse(buf, &again, &err);
			if (r < 0 || sk_GENERAL_NAME_num(again) != sk_GENERAL_NAME_num(names)) {
				fprintf(stderr, "SAN round trip: '%s' -> '%s' -> %s\n", s, buf,
					r < 0 ? err.msg : "a different count");
				abort();
			}
			for (int i = 0; i < sk_GENERAL_NAME_num(names); i++)
				if (sk_GENERAL_NAME_value(names, i)->type !=
				    sk_GENERAL_NAME_value(again, i)->type)
					abort();
		}
		signet_san_format(names, buf, 5);
		fuzz_check("signet_san_format", 0, &err);
	}
	GENERAL_NAMES_free(names);
	GENERAL_NAMES_free(again);
	free(s);
	return 0;
}
