/*
 * listen.c - the plain bind that comes before a shared (SO_REUSEPORT) port.
 */
#include "listen.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int net_port_is_free(const struct sockaddr *sa, socklen_t len, const char *shown,
		     struct signet_err *err)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, rc = 0;

	if (fd < 0)
		return 0; /* the real bind will say what is wrong */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, sa, len) != 0 && errno == EADDRINUSE)
		rc = signet_err_set(err, SIGNET_E_NET, "cannot listen on %s: %s", shown,
				    strerror(EADDRINUSE));
	close(fd);
	return rc;
}
