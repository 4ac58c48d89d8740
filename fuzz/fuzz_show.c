/*
 * fuzz_show.c - `signet show` as a whole command, on any file a user may
 * point it at: the library's parsers (fuzzed on their own elsewhere) and
 * then the command's own work, which they do not cover: picking the kind
 * of the file, describing every certificate of a bundle, a CSR, a CRL or
 * a key as JSON, and printing that as text.  Each input is shown twice,
 * as text and with --json, and must end with exit 0 (shown) or 4 (not a
 * certificate, CSR, CRL or key), or 5 for an encrypted key (no passphrase
 * here), with the OpenSSL error queue left empty.
 */
#include "fuzz_cli.h"

#include "cli.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_cli_init("fuzz_show");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_cli_write(data, size);
	for (int json = 0; json < 2; json++) {
		char *args[] = { (char *)"show", (char *)(json ? "--json" : fuzz_cli_file),
				 json ? fuzz_cli_file : NULL, NULL };
		int rc = fuzz_cli_run(cmd_show, json ? 3 : 2, args);

		if (rc != 0 && rc != SIGNET_E_PARSE && rc != SIGNET_E_PASS) {
			fprintf(stderr, "show%s exited %d\n", json ? " --json" : "", rc);
			abort();
		}
		if (ERR_peek_error() != 0) {
			fprintf(stderr, "show%s left the OpenSSL error queue non-empty\n",
				json ? " --json" : "");
			abort();
		}
	}
	return 0;
}
