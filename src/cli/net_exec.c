/*
 * net_exec.c - hands the long-running network commands (`signet tunnel`,
 * `signet ocsp serve`) to the signet-net program.
 *
 * They live in their own executable so that the one-shot CA commands do not
 * load libevent and its OpenSSL glue at every start (a per-certificate
 * `signet sign` is mostly process start-up), and so that signet-net alone
 * can link an allocator suited to a server's many short-lived allocations
 * (tcmalloc, which starts too slowly for the one-shot commands).
 *
 * signet-net is looked for next to this executable (a build tree), then
 * in ../libexec/signet beside it (an install under any prefix), then in
 * the library-executables directory fixed at build time.  exec keeps the
 * process id, so supervisors and scripts that start `signet tunnel` see
 * one process, as before.
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SIGNET_LIBEXECDIR
#define SIGNET_LIBEXECDIR "/usr/local/libexec/signet"
#endif

const char *cli_argv0 = "signet";

static int helper_path(char *out, size_t size)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		char *slash;
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash != NULL) {
			*slash = '\0';
			if ((size_t)snprintf(out, size, "%s/signet-net", self) < size &&
			    access(out, X_OK) == 0)
				return 0;
			if ((size_t)snprintf(out, size, "%s/../libexec/signet/signet-net", self) <
				    size &&
			    access(out, X_OK) == 0)
				return 0;
		}
	}
	if ((size_t)snprintf(out, size, "%s/signet-net", SIGNET_LIBEXECDIR) >= size)
		return -1;
	return 0;
}

int cli_exec_net(int argc, char **argv)
{
	char path[PATH_MAX];
	char **nargv = calloc((size_t)argc + 2, sizeof(*nargv));

	if (nargv == NULL) {
		fprintf(stderr, "signet %s: out of memory\n", argv[0]);
		return SIGNET_E_INTERNAL;
	}
	if (helper_path(path, sizeof(path)) < 0) {
		fprintf(stderr, "signet %s: the path of signet-net is too long\n", argv[0]);
		free(nargv);
		return SIGNET_E_INTERNAL;
	}
	/* argv[0] stays the name the user typed, so ps shows `signet tunnel`. */
	nargv[0] = (char *)cli_argv0;
	for (int i = 0; i < argc; i++)
		nargv[i + 1] = argv[i];
	fflush(NULL);
	execv(path, nargv);
	fprintf(stderr, "signet %s: cannot run %s (installed with signet): %s\n", argv[0], path,
		strerror(errno));
	free(nargv);
	return SIGNET_E_INTERNAL;
}
