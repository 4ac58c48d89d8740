/*
 * fuzz_limbo.c - the x509-limbo testcase loader (tests/conformance/
 * limbo.c): one JSON testcase, as the suite file holds them, through the
 * loader's run_case and on into signet_verify.
 *
 * The loader is compiled in whole, its main renamed, so the target
 * exercises exactly the code the conformance run uses, including its
 * check of the JSON types (docs/FINDINGS.md #2: fields used as strings
 * were once followed into NULL; the regress-002-* seeds replay that).
 */
#include "fuzz.h"

#include <stdlib.h>

#include <jansson.h>

int limbo_main(int argc, char **argv);
#define main limbo_main
#include "limbo.c"
#undef main

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Every shortcut of the verifier is checked against OpenSSL's own
	 * X509_verify_cert / X509_verify; a difference aborts. */
	setenv("SIGNET_VERIFY_CROSSCHECK", "1", 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	json_t *tc;
	struct signet_trust *trust = NULL;
	char msg[1200];

	if (size > 65536)
		return 0;
	tc = json_loadb((const char *)data, size, 0, &jerr);
	if (tc == NULL)
		return 0;
	if (skip_reason(tc) == NULL) {
		(void)run_case(&trust, tc, msg, sizeof(msg));
		ERR_clear_error(); /* the loader is not a library call */
	}
	json_decref(tc);
	return 0;
}
