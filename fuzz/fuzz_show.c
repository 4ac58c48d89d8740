/*
 * fuzz_show.c - `signet show` as a whole command, on any file a user may
 * point it at: the library's parsers (fuzzed on their own elsewhere) and
 * then the command's own work, which they do not cover: picking the kind
 * of the file, describing every certificate of a bundle, a CSR, a CRL or
 * a key as JSON, and printing that as text.  Each input is shown twice,
 * as text and with --json, and must end with exit 0 (shown) or 4 (not a
 * certificate, CSR, CRL or key), or 5 for an encrypted key (no passphrase
 * here), with the OpenSSL error queue left empty.
 *
 * The command prints to stdout (sent to /dev/null) and its one-line errors
 * to stderr, which is silenced while it runs: a crash there is reported
 * when the input libFuzzer saves is replayed.
 */
#include "fuzz.h"

#include "cli.h"

#include <fcntl.h>
#include <unistd.h>

int cmd_show(int argc, char **argv);

static char path[64];
static int devnull = -1, saved_err = -1;

static void remove_input(void)
{
	unlink(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int fd;
	(void)argc;
	(void)argv;
	/* No passphrase from anywhere: no terminal, no variable. */
	unsetenv("SIGNET_PASS_FILE");
	if (freopen("/dev/null", "r", stdin) == NULL || freopen("/dev/null", "w", stdout) == NULL)
		abort();
	snprintf(path, sizeof(path), "/tmp/fuzz_show.%d", (int)getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	devnull = open("/dev/null", O_WRONLY);
	saved_err = dup(STDERR_FILENO);
	if (fd < 0 || devnull < 0 || saved_err < 0)
		abort();
	close(fd);
	atexit(remove_input);
	return 0;
}

static int show(int json)
{
	char *args[4];
	int n = 0, rc;

	args[n++] = (char *)"show";
	if (json)
		args[n++] = (char *)"--json";
	args[n++] = path;
	args[n] = NULL;
	fflush(stderr);
	dup2(devnull, STDERR_FILENO);
	rc = cmd_show(n, args);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_err, STDERR_FILENO);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_TRUNC);

	if (fd < 0)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	for (int json = 0; json < 2; json++) {
		int rc = show(json);
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
