/*
 * listen.h - what signet-net's listeners (the tunnel, the OCSP responder)
 * share about opening their port.
 */
#ifndef SIGNET_NET_LISTEN_H
#define SIGNET_NET_LISTEN_H

#include <signet/err.h>
#include <sys/socket.h>

/*
 * Each worker's listening socket sets SO_REUSEPORT, which would also let
 * any other process of the same user bind the port, and the kernel would
 * then share the connections between it and us without a word.  A bind
 * without it first fails if anyone listens there already: "cannot listen
 * on ADDR: Address already in use" (SIGNET_E_NET), as a user expects.
 * Returns 0 when the port is free (or when the real bind should say what
 * else is wrong).
 */
int net_port_is_free(const struct sockaddr *sa, socklen_t len, const char *shown,
		     struct signet_err *err);

#endif
