/*
 * ocsp_server.h - the standalone OCSP responder (`signet ocsp serve`).
 */
#ifndef SIGNET_OCSP_SERVER_H
#define SIGNET_OCSP_SERVER_H

#include <signet/db.h>
#include <signet/err.h>
#include <signet/ocsp.h>

struct ocsp_server_opts {
	const char *listen;                     /* "127.0.0.1:PORT" */
	int threads;                            /* worker loops; 0: one per core */
	const struct signet_ocsp_responder *rsp; /* borrowed, shared read-only */
	struct signet_db *db;                   /* borrowed; used by the main thread only */
	const char *issuer_id;                  /* whose certificates are "known" */
	int poll_ms;                            /* database change poll; 0: 1000 */
	int request_timeout;                    /* s to receive a whole request; 0: 10 */
	int idle_timeout;                       /* s a keep-alive connection may idle; 0: 30 */
	int max_conns;                          /* per worker; 0: 4096 */
	void (*ready)(const char *addr, size_t known, void *arg); /* after listening */
	void *ready_arg;
};

/* Serves until SIGINT or SIGTERM; 0 on a clean stop. */
int ocsp_server_run(const struct ocsp_server_opts *o, struct signet_err *err);

#endif
