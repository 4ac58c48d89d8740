/*
 * fuzz_cli.h - what the targets that run a whole command share: the
 * input becomes a file, as a user would hand it over, and the command
 * runs in-process with stdout sent to /dev/null and its stderr messages
 * silenced.  Only the stderr FILE is swapped, not descriptor 2: a
 * sanitizer report or libFuzzer's own crash message written while the
 * command runs must still reach the log.  No passphrase can be had: stdin
 * is /dev/null and $SIGNET_PASS_FILE is unset.
 */
#ifndef SIGNET_FUZZ_CLI_H
#define SIGNET_FUZZ_CLI_H

#include "fuzz.h"

#include <fcntl.h>
#include <unistd.h>

static char fuzz_cli_file[64];
static FILE *fuzz_cli_null;

static void fuzz_cli_remove(void)
{
	unlink(fuzz_cli_file);
}

/* Once, from LLVMFuzzerInitialize: the input's file is NAME.PID in /tmp,
 * removed at exit. */
static inline void fuzz_cli_init(const char *name)
{
	int fd;

	unsetenv("SIGNET_PASS_FILE");
	if (freopen("/dev/null", "r", stdin) == NULL || freopen("/dev/null", "w", stdout) == NULL)
		abort();
	snprintf(fuzz_cli_file, sizeof(fuzz_cli_file), "/tmp/%s.%d", name, (int)getpid());
	fd = open(fuzz_cli_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	fuzz_cli_null = fopen("/dev/null", "w");
	if (fd < 0 || fuzz_cli_null == NULL)
		abort();
	close(fd);
	atexit(fuzz_cli_remove);
}

/* The input's file now holds data. */
static inline void fuzz_cli_write(const uint8_t *data, size_t size)
{
	int fd = open(fuzz_cli_file, O_WRONLY | O_TRUNC);

	if (fd < 0 || (size > 0 && write(fd, data, size) != (ssize_t)size))
		abort();
	close(fd);
}

/* Runs cmd(argc, argv) with stderr silenced; its exit code. */
static inline int fuzz_cli_run(int (*cmd)(int, char **), int argc, char **argv)
{
	FILE *saved = stderr;
	int rc;

	stderr = fuzz_cli_null;
	rc = cmd(argc, argv);
	fflush(stdout);
	fflush(stderr);
	stderr = saved;
	return rc;
}

#endif
