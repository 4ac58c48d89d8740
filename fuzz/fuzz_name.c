/*
 * fuzz_name.c - signet_name_parse on subject strings as --subject gives
 * them ("CN=a,O=b" and "/CN=a/O=b"), then the formatter that prints them.
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
	X509_NAME *name;
	char *s, buf[2048];

	if (size > 8192)
		return 0;
	s = fuzz_cstr(data, size);
	signet_err_clear(&err);
	name = signet_name_parse(s, &err);
	fuzz_check("signet_name_parse", name == NULL, &err);
	if (name != NULL) {
		signet_name_format(name, buf, sizeof(buf));
		signet_name_format(name, buf, 2);
		fuzz_check("signet_name_format", 0, &err);
		X509_NAME_free(name);
	}
	free(s);
	return 0;
}
