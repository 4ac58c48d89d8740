/*
 * fuzz_verify_cli.c - `signet verify` as a whole command.  fuzz_verify
 * drives signet_verify itself; this one goes through what the command
 * adds: reading the file as the leaf plus intermediates, the trust file,
 * the option parsing of a name, purpose, time, depth and key usage, and
 * both outputs (the one-line verdict and the --json report of the chain
 * and every check).
 *
 * Input: byte 0 picks the options, the rest is the file, given both as
 * CERT and as --trust (so a self-signed certificate in it can anchor a
 * path and the success paths are reached):
 *   bit 0    --json
 *   bits 1-2 none, --host www.example.com, --ip 10.0.0.1, --email ops@example.com
 *   bits 3-4 no --purpose, server, client, any
 *   bit 5    --at 2027-06-01T00:00:00Z (inside the seeds' validity), else
 *          --at 2045-01-01T00:00:00Z (after it)
 *   bit 6    --max-depth 1
 *   bit 7    --key-usage digitalSignature
 * The verdict must be exit 0, 4 (not a certificate) or one of the verify
 * classes (20-28), and the OpenSSL error queue empty afterwards.
 */
#include "fuzz_cli.h"

#include "cli.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_cli_init("fuzz_verify_cli");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *names[][2] = {
		{ NULL, NULL }, { "--host", "www.example.com" }, { "--ip", "10.0.0.1" },
		{ "--email", "ops@example.com" },
	};
	static const char *purposes[] = { NULL, "server", "client", "any" };
	char *args[20];
	int n = 0, rc, opt;

	if (size < 1)
		return 0;
	opt = data[0];
	fuzz_cli_write(data + 1, size - 1);
	args[n++] = (char *)"verify";
	args[n++] = fuzz_cli_file;
	args[n++] = (char *)"--trust";
	args[n++] = fuzz_cli_file;
	if (opt & 1)
		args[n++] = (char *)"--json";
	if (names[(opt >> 1) & 3][0] != NULL) {
		args[n++] = (char *)names[(opt >> 1) & 3][0];
		args[n++] = (char *)names[(opt >> 1) & 3][1];
	}
	if (purposes[(opt >> 3) & 3] != NULL) {
		args[n++] = (char *)"--purpose";
		args[n++] = (char *)purposes[(opt >> 3) & 3];
	}
	args[n++] = (char *)"--at";
	args[n++] = (char *)((opt & 32) ? "2027-06-01T00:00:00Z" : "2045-01-01T00:00:00Z");
	if (opt & 64) {
		args[n++] = (char *)"--max-depth";
		args[n++] = (char *)"1";
	}
	if (opt & 128) {
		args[n++] = (char *)"--key-usage";
		args[n++] = (char *)"digitalSignature";
	}
	args[n] = NULL;
	rc = fuzz_cli_run(cmd_verify, n, args);
	if (rc != 0 && rc != SIGNET_E_PARSE && (rc < 20 || rc > 28)) {
		fprintf(stderr, "verify exited %d (options 0x%02x)\n", rc, opt);
		abort();
	}
	if (ERR_peek_error() != 0) {
		fprintf(stderr, "verify left the OpenSSL error queue non-empty\n");
		abort();
	}
	return 0;
}
