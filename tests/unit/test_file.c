/*
 * test_file.c - whole-file reads and atomic writes: modes are set at
 * creation (0600 even under a permissive umask), EXCL never replaces, a
 * failed write leaves the old file and no temporary behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <signet/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s/signet-test-file.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[400];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void path(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", dir, name);
}

static int count_tmp(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, ".tmp.") != NULL)
			n++;
	closedir(d);
	return n;
}

static void test_write_read_roundtrip(void **state)
{
	struct signet_err err = { 0 };
	char p[512];
	unsigned char *data = NULL;
	size_t len = 0;
	(void)state;
	path(p, sizeof(p), "a.txt");
	assert_int_equal(signet_file_write(p, "hello\n", 6, 0644, 0, &err), 0);
	assert_int_equal(signet_file_read(p, &data, &len, &err), 0);
	assert_int_equal(len, 6);
	assert_memory_equal(data, "hello\n", 6);
	assert_int_equal(data[6], '\0'); /* NUL-terminated */
	free(data);
	assert_int_equal(count_tmp(), 0);
}

static void test_modes(void **state)
{
	struct signet_err err = { 0 };
	struct stat st;
	char p[512];
	mode_t old = umask(0);
	(void)state;
	path(p, sizeof(p), "secret.key");
	assert_int_equal(signet_file_write(p, "k", 1, 0600, 0, &err), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	path(p, sizeof(p), "public.crt");
	assert_int_equal(signet_file_write(p, "c", 1, 0644, 0, &err), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	/* replacing a 0644 file with a secret gives the secret's mode */
	assert_int_equal(signet_file_write(p, "k", 1, 0600, 0, &err), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	umask(old);
}

static void test_replace(void **state)
{
	struct signet_err err = { 0 };
	char p[512];
	unsigned char *data = NULL;
	size_t len = 0;
	(void)state;
	path(p, sizeof(p), "r.txt");
	assert_int_equal(signet_file_write(p, "one", 3, 0644, 0, &err), 0);
	assert_int_equal(signet_file_write(p, "two!", 4, 0644, 0, &err), 0);
	assert_int_equal(signet_file_read(p, &data, &len, &err), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(data, "two!", 4);
	free(data);
}

static void test_excl(void **state)
{
	struct signet_err err = { 0 };
	char p[512];
	unsigned char *data = NULL;
	size_t len = 0;
	(void)state;
	path(p, sizeof(p), "x.txt");
	assert_int_equal(signet_file_write(p, "first", 5, 0600, SIGNET_WRITE_EXCL, &err), 0);
	assert_int_equal(signet_file_write(p, "second", 6, 0600, SIGNET_WRITE_EXCL, &err), -1);
	assert_int_equal(err.code, SIGNET_E_EXISTS);
	assert_non_null(strstr(err.msg, "x.txt"));
	assert_int_equal(signet_file_read(p, &data, &len, &err), 0);
	assert_memory_equal(data, "first", 5);
	free(data);
	assert_int_equal(count_tmp(), 0);
}

static void test_nosync_flag(void **state)
{
	struct signet_err err = { 0 };
	char p[512];
	(void)state;
	path(p, sizeof(p), "n.txt");
	assert_int_equal(signet_file_write(p, "n", 1, 0644, SIGNET_WRITE_NOSYNC, &err), 0);
	assert_int_equal(access(p, F_OK), 0);
	assert_int_equal(signet_dir_sync(dir, &err), 0);
}

static void test_errors(void **state)
{
	struct signet_err err = { 0 };
	char p[512];
	unsigned char *data = (unsigned char *)"sentinel";
	size_t len = 99;
	(void)state;
	path(p, sizeof(p), "missing.txt");
	assert_int_equal(signet_file_read(p, &data, &len, &err), -1);
	assert_int_equal(err.code, SIGNET_E_IO);
	assert_non_null(strstr(err.msg, "missing.txt"));
	assert_null(data);
	assert_int_equal(len, 0);
	/* a directory is not a file */
	assert_int_equal(signet_file_read(dir, &data, &len, &err), -1);
	assert_int_equal(err.code, SIGNET_E_IO);
	assert_non_null(strstr(err.msg, "directory"));
	/* writing into a missing directory fails and leaves nothing */
	path(p, sizeof(p), "nodir/f.txt");
	assert_int_equal(signet_file_write(p, "x", 1, 0644, 0, &err), -1);
	assert_int_equal(err.code, SIGNET_E_IO);
	assert_non_null(strstr(err.msg, "nodir/f.txt"));
	assert_int_equal(count_tmp(), 0);
}

static void test_empty_file(void **state)
{
	struct signet_err err = { 0 };
	char p[512];
	unsigned char *data = NULL;
	size_t len = 1;
	(void)state;
	path(p, sizeof(p), "empty");
	assert_int_equal(signet_file_write(p, "", 0, 0644, 0, &err), 0);
	assert_int_equal(signet_file_read(p, &data, &len, &err), 0);
	assert_int_equal(len, 0);
	assert_non_null(data);
	free(data);
}

/* Reads of every size around the buffer's edges (the first buffer is the
 * file's size), and of a FIFO, whose size is unknown, come back whole. */
static void test_read_sizes(void **state)
{
	static const size_t sizes[] = { 1, 2, 4095, 4096, 4097, 16383, 16384, 16385, 300001 };
	struct signet_err err = { 0 };
	char p[512];
	unsigned char *buf = malloc(300001), *data = NULL;
	size_t len = 0;
	(void)state;
	assert_non_null(buf);
	for (size_t i = 0; i < 300001; i++)
		buf[i] = (unsigned char)(i * 7 + 1);
	path(p, sizeof(p), "sized");
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		assert_int_equal(signet_file_write(p, buf, sizes[k], 0644, SIGNET_WRITE_NOSYNC, &err), 0);
		assert_int_equal(signet_file_read(p, &data, &len, &err), 0);
		assert_int_equal(len, sizes[k]);
		assert_memory_equal(data, buf, len);
		assert_int_equal(data[len], '\0');
		free(data);
	}
	/* a FIFO: its size says 0; the reader grows its buffer */
	path(p, sizeof(p), "fifo");
	assert_int_equal(mkfifo(p, 0600), 0);
	{
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			struct signet_err e2 = { 0 };
			_exit(signet_file_write(p, buf, 100000, 0644, 0, &e2) == 0 ? 0 : 1);
		}
		assert_int_equal(signet_file_read(p, &data, &len, &err), 0);
		assert_int_equal(len, 100000);
		assert_memory_equal(data, buf, len);
		free(data);
		{
			int status = 0;
			assert_int_equal(waitpid(pid, &status, 0), pid);
			assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		}
	}
	{
		struct stat st;
		assert_int_equal(lstat(p, &st), 0);
		assert_true(S_ISFIFO(st.st_mode)); /* written in place, not replaced */
	}
	free(buf);
}

/* A message longer than the error buffer keeps its start and its end: a
 * 4000-byte path does not push out what is wrong with it. */
static void test_long_path_error(void **state)
{
	struct signet_err err = { 0 };
	char p[4000];
	unsigned char *data = NULL;
	size_t len = 0, n;
	(void)state;
	memset(p, 'x', sizeof(p) - 1);
	p[sizeof(p) - 1] = '\0';
	for (size_t i = 200; i < sizeof(p) - 1; i += 200)
		p[i] = '/';
	assert_int_equal(signet_file_read(p, &data, &len, &err), -1);
	assert_int_equal(err.code, SIGNET_E_IO);
	n = strlen(err.msg);
	assert_true(n < sizeof(err.msg));
	assert_non_null(strstr(err.msg, "..."));
	assert_int_equal(strncmp(err.msg, "xxxx", 4), 0);
	assert_non_null(strstr(err.msg, ": cannot open: "));
	/* prefixing keeps the reason too */
	signet_err_prefix(&err, "the private key is needed for PKCS#12 (give --key)");
	assert_true(strlen(err.msg) < sizeof(err.msg));
	assert_int_equal(strncmp(err.msg, "the private key is needed", 25), 0);
	assert_non_null(strstr(err.msg, ": cannot open: "));
}

static void test_dir_make_and_join(void **state)
{
	struct signet_err err = { 0 };
	char p[512], small[8];
	struct stat st;
	(void)state;
	path(p, sizeof(p), "sub");
	assert_int_equal(signet_dir_make(p, 0700, &err), 0);
	assert_int_equal(signet_dir_make(p, 0700, &err), 0); /* exists: fine */
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	path(p, sizeof(p), "afile");
	assert_int_equal(signet_file_write(p, "", 0, 0644, 0, &err), 0);
	assert_int_equal(signet_dir_make(p, 0700, &err), -1); /* a file is in the way */
	assert_int_equal(err.code, SIGNET_E_IO);
	assert_int_equal(signet_path_join(p, sizeof(p), "a", "b", &err), 0);
	assert_string_equal(p, "a/b");
	assert_int_equal(signet_path_join(small, sizeof(small), "abcd", "efgh", &err), -1);
	assert_int_equal(err.code, SIGNET_E_IO);
}

/* With the guard on (the CLI's setting; it stays on for the process, so
 * this test runs last): a file read, or marked, is never replaced, by its
 * name or through a link; other files are written as before, and
 * signet_file_check_output says the same before anything is written. */
static void test_guard(void **state)
{
	struct signet_err err = { 0 };
	char in[512], ca[512], link[512], other[512], missing[512];
	unsigned char *data = NULL;
	size_t len = 0;
	(void)state;
	path(in, sizeof(in), "input");
	path(ca, sizeof(ca), "ca-file");
	path(link, sizeof(link), "link");
	path(other, sizeof(other), "other");
	path(missing, sizeof(missing), "no/such/dir/x");
	assert_int_equal(signet_file_write(in, "in", 2, 0644, 0, &err), 0);
	assert_int_equal(signet_file_write(ca, "ca", 2, 0644, 0, &err), 0);
	signet_file_guard();
	assert_int_equal(signet_file_read(in, &data, &len, &err), 0);
	free(data);
	signet_file_protect(ca, "the CA's database");
	assert_int_equal(symlink(ca, link), 0);

	assert_int_equal(signet_file_check_output(in, &err), -1);
	assert_int_equal(err.code, SIGNET_E_USAGE);
	assert_non_null(strstr(err.msg, "an input of this command"));
	assert_int_equal(signet_file_write(in, "out", 3, 0644, 0, &err), -1);
	assert_int_equal(err.code, SIGNET_E_USAGE);
	assert_int_equal(signet_file_write(link, "out", 3, 0644, 0, &err), -1);
	assert_non_null(strstr(err.msg, "the CA's database"));
	assert_int_equal(signet_file_check_output(ca, &err), -1);
	/* Both still hold what they held. */
	assert_int_equal(signet_file_read(ca, &data, &len, &err), 0);
	assert_memory_equal(data, "ca", 2);
	free(data);
	assert_int_equal(signet_file_read(in, &data, &len, &err), 0);
	assert_memory_equal(data, "in", 2);
	free(data);

	assert_int_equal(signet_file_check_output(other, &err), 0);
	assert_int_equal(signet_file_write(other, "x", 1, 0644, 0, &err), 0);
	assert_int_equal(signet_file_check_output("-", &err), 0);
	assert_int_equal(signet_file_check_output(missing, &err), -1);
	assert_int_equal(err.code, SIGNET_E_IO);
	assert_int_equal(signet_file_check_output(dir, &err), -1);
	assert_int_equal(err.code, SIGNET_E_IO);
	assert_int_equal(signet_file_check_output("", &err), -1);
	assert_int_equal(err.code, SIGNET_E_USAGE);
	assert_int_equal(count_tmp(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_read_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_excl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nosync_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_path_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dir_make_and_join, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guard, setup, teardown), /* last */
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
