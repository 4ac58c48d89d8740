/*
 * tunnel.h - the mutual-TLS tunnel behind `signet tunnel server|client`.
 *
 * Design.  A master process and N worker processes (one per core by
 * default), like nginx.  The master binds one SO_REUSEPORT listening socket
 * per worker before forking, so the kernel spreads new connections over the
 * workers, a worker that is respawned picks up what waited in its socket's
 * backlog, and a bind error is reported at start.  Each worker is a plain
 * single-threaded libevent loop with its own credentials, OCSP cache and
 * staple: no lock is taken on the hot path (OpenSSL 3.0's global locks
 * are uncontended), and each process has its own file-descriptor limit.
 *
 * The master owns signals (SIGHUP reload, SIGTERM / SIGINT drain), the
 * credential-file poll, the optional status HTTP server, and the workers'
 * lives (a worker that dies is started again; prctl(PR_SET_PDEATHSIG)
 * makes workers drain and exit if the master dies).  It talks to each
 * worker over a SOCK_SEQPACKET socketpair (struct ctl_msg in tunnel.c).
 * Metrics live in an anonymous MAP_SHARED mapping, one cache-line aligned
 * slot of C11 atomics per worker plus one for the master; only the owner of
 * a slot writes it, and /metrics sums them.
 *
 * A connection is two non-blocking sockets, one TLS (OpenSSL on the socket
 * itself) and one plain TCP, each watched by one edge-triggered event, and
 * at most one 64 KiB buffer per direction, pooled per worker, that exists
 * only while bytes are in flight (conn.c).  A full buffer stops reading
 * from the side that fills it: back pressure.
 *
 * Credentials (SSL_CTX, trust store, CRLs, allow rules are fixed) live in a
 * reference-counted struct tunnel_creds.  A reload (SIGHUP or a changed
 * file) is first tried by the master; when the new files load and match,
 * each worker loads them too and swaps its "current" pointer; open
 * connections keep the reference they took at accept time, so a reload
 * never disturbs them and a bad file never replaces a good one.
 *
 * Peer verification is signet's verifier (signet_verify), run from
 * OpenSSL's certificate-verify callback so that a refused client gets a
 * proper TLS alert and the log line gets the verifier's sentence; the
 * --allow rules are checked in the same place.
 *
 * OCSP (ocsp.c).  With --ocsp the server holds a connection after its TLS
 * handshake (state OCSP in conn.c) until the client certificate's status is
 * known: from the worker's cache keyed by issuer + serial, or from the
 * responder by an asynchronous libevent HTTP request on the worker's own
 * loop, so no loop ever blocks.  A fresh answer is passed on through the
 * master to the other workers' caches (tunnel_ocsp_share).  Each worker
 * fetches the staple of our own certificate on its loop the same way.
 */
#ifndef SIGNET_TUNNEL_H
#define SIGNET_TUNNEL_H

#include <openssl/ssl.h>
#include <pthread.h>
#include <signet/err.h>
#include <signet/verify.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

enum tunnel_mode {
	TUNNEL_SERVER, /* TLS in, plain out */
	TUNNEL_CLIENT, /* plain in, TLS out */
};

/* --allow rules: a client is allowed when any one rule matches. */
enum allow_kind {
	ALLOW_CN,
	ALLOW_SAN_DNS,
	ALLOW_SAN_URI,
	ALLOW_SAN_EMAIL,
	ALLOW_SAN_IP,
	ALLOW_SERIAL,
};

struct allow_rule {
	enum allow_kind kind;
	char *value; /* owned; serials normalised to lowercase hex */
};

int tunnel_allow_parse(const char *text, struct allow_rule *rule,
		       struct signet_err *err);
/* 1 when cert matches any rule (or n == 0), else 0. */
int tunnel_allow_match(const struct allow_rule *rules, size_t n, X509 *cert);
void tunnel_allow_free(struct allow_rule *rules, size_t n);

struct tunnel_config {
	enum tunnel_mode mode;
	const char *listen;      /* ADDR:PORT */
	const char *to;          /* HOST:PORT */
	const char *cert_file;
	const char *key_file;
	const char *ca_file;     /* --client-ca (server) / --ca (client) */
	const char *crl_file;    /* optional */
	const char *server_name; /* client: name to verify (default: host of --to) */
	const char *status;      /* optional ADDR:PORT */
	struct allow_rule *allow;
	size_t n_allow;
	int proxy_protocol;
	int workers;             /* 0: one per core */
	long max_conns;
	double handshake_timeout; /* seconds */
	double idle_timeout;
	double drain_timeout;
	double reload_interval;   /* stat poll period; 0 disables */
	int quiet;                /* no per-connection log lines for successes */
	const char *key_pass_file; /* passphrase of an encrypted --key, or NULL */
	int ocsp;                 /* check the peer's certificate by OCSP */
	const char *ocsp_url;     /* responder to ask instead of the AIA's */
	const char *ocsp_ca;      /* anchors for https:// responders' TLS
				     certificates; NULL: the system store */
	int insecure_ocsp_soft_fail; /* allow when no OCSP answer can be had */
	double ocsp_timeout;      /* seconds for one OCSP request */
	long ocsp_cache_size;     /* cached answers at most */
	const char *staple_url;   /* responder for our own certificate (else AIA) */
	int no_staple;            /* do not staple */
};

/* Runs until SIGTERM/SIGINT and the drain that follows.  Returns 0 after a
 * clean shutdown, -1 with err set when it could not start. */
int tunnel_run(const struct tunnel_config *cfg, struct signet_err *err);

/* ---- internal: shared between the files of src/tunnel ---- */

/* peer.c: the verifier behind the tunnel (signet_verify). */
struct tunnel_trust;
struct tunnel_trust *tunnel_trust_load(const char *file, struct signet_err *err);
void tunnel_trust_free(struct tunnel_trust *t);
/* chain: when non-NULL, receives the path built (leaf first, anchor last). */
int tunnel_verify(struct tunnel_trust *t, X509 *leaf, STACK_OF(X509) *untrusted,
		  const struct signet_verify_opts *opts, STACK_OF(X509) **chain,
		  struct signet_err *err);

/* One set of loaded credentials; immutable once built. */
struct tunnel_creds {
	atomic_int refs;
	SSL_CTX *ctx;
	struct tunnel_trust *trust;
	STACK_OF(X509_CRL) *crls; /* NULL when no --crl */
	time_t cert_not_after;
	time_t crl_next_update;   /* 0 when none */
	STACK_OF(X509) *certs;    /* our certificate, then its chain (owned) */
	STACK_OF(X509) *ca_certs; /* --ocsp: the CA file's certificates, where
				     OCSP signers' chains end (owned) */
	const struct tunnel_config *cfg; /* borrowed, outlives every creds */
	struct tunnel *t;         /* borrowed: the tunnel (for the staple) */
};

/* conn.c: OpenSSL's certificate-verify callback, replaced by signet_verify
 * plus the --allow rules; arg is the tunnel_creds that built the SSL_CTX. */
int tunnel_cert_verify_cb(X509_STORE_CTX *xs, void *arg);

struct tunnel_creds *tunnel_creds_load(const struct tunnel_config *cfg, struct tunnel *t,
				       struct signet_err *err);
struct tunnel_creds *tunnel_creds_ref(struct tunnel_creds *c);
void tunnel_creds_unref(struct tunnel_creds *c);

/* Stat snapshot of the credential files, to notice changes. */
struct tunnel_files_stat {
	struct stat st[4];
	int ok[4];
};
void tunnel_files_stat(const struct tunnel_config *cfg, struct tunnel_files_stat *s);
int tunnel_files_changed(const struct tunnel_files_stat *a,
			 const struct tunnel_files_stat *b);

/* Why a connection ended, for the log line and the failure metric. */
enum tunnel_reason {
	R_NONE = 0,
	R_CONN_LIMIT,
	R_DRAINING,
	R_HANDSHAKE_TIMEOUT,
	R_NO_CLIENT_CERT,
	R_UNTRUSTED,
	R_EXPIRED,
	R_REVOKED,
	R_NAME,
	R_PURPOSE,
	R_CERT_INVALID,
	R_NOT_ALLOWED,
	R_TLS_ERROR,
	R_TLS_EOF,
	R_BACKEND,
	R_IDLE_TIMEOUT,
	R_SHUTDOWN,
	R_INTERNAL,
	R_OCSP_UNAVAILABLE, /* --ocsp and no answer could be had */
	R_OCSP_UNKNOWN,     /* the responder does not know the certificate */
	R_REV_UNKNOWN,      /* no CRL given covers a certificate of the path */
	R__COUNT
};
const char *tunnel_reason_name(enum tunnel_reason r);

/* One slot per process (see the top comment); written by its owner only. */
struct tunnel_metrics {
	_Alignas(64) atomic_ullong accepted;
	atomic_llong active;
	atomic_ullong handshakes_ok;
	atomic_ullong failures[R__COUNT];
	atomic_ullong bytes_in;  /* from the TLS peer (server) / local client */
	atomic_ullong bytes_out; /* to it */
	atomic_ullong completed;
	atomic_ullong reloads_ok;
	atomic_ullong reloads_failed;
	atomic_llong last_reload;
	atomic_ullong ocsp_cache_hits;
	atomic_ullong ocsp_requests;  /* sent to a responder */
	atomic_ullong ocsp_soft_fails;
	atomic_llong staple_next_update; /* 0: nothing stapled */
};

struct tunnel; /* the running tunnel (tunnel.c) */
struct ocsp_answer;
struct conn;
struct tunnel_iobuf;
struct evconnlistener;
struct event;

/* A worker process: its loop, its listener and its connections. */
struct tunnel_worker {
	struct tunnel *t;
	int idx;
	struct event_base *base;
	struct evconnlistener *listener; /* NULL once draining */
	long nconns;
	struct ocsp_fetcher *fetcher; /* OCSP requests; made on first use */
	struct conn *conns; /* doubly linked, for the forced close at the deadline */
	struct tunnel_iobuf *pool; /* relay buffers kept for reuse (conn.c) */
	int npool;
};

/* conn.c: the accept callback of a worker's listener, and the forced close
 * of every connection of a worker (drain deadline). */
void tunnel_conn_accept(struct evconnlistener *l, int fd, struct sockaddr *sa,
			int salen, void *arg);
void tunnel_conn_close_all(struct tunnel_worker *w);
/* conn.c: frees the worker's pool of relay buffers. */
void tunnel_conn_pool_free(struct tunnel_worker *w);
/* tunnel.c: called by conn.c when a worker's last connection is gone. */
void tunnel_worker_idle(struct tunnel_worker *w);
/* Connections open in all workers together (the --max-conns check). */
long long tunnel_active_total(struct tunnel *t);
/* A fresh OCSP answer: into this worker's cache, and through the master
 * into the other workers' caches. */
void tunnel_ocsp_share(struct tunnel *t, const char *key, const struct ocsp_answer *a);

/* Resolved addresses, fixed at start. */
const struct sockaddr *tunnel_to_addr(struct tunnel *t, socklen_t *len);
const char *tunnel_to_host(struct tunnel *t);
/* One log line, prefixed with the time; the whole line is one write. */
void tunnel_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- OCSP (ocsp.c) ---- */

/* One asynchronous HTTP POST of a DER OCSP request, on the fetcher's loop
 * (one fetcher per loop: its resolver, and the reaper of finished
 * requests).  cb runs once: with the response body, or with der == NULL and
 * a sentence.  After cb the fetch is the fetcher's to free;
 * tunnel_ocsp_fetch_cancel stops one in flight without calling cb (not
 * from inside cb). */
struct ocsp_fetcher;
struct ocsp_fetch;
typedef void (*ocsp_fetch_cb)(void *arg, const unsigned char *der, size_t len,
			      const char *why);
/* tls_ca (borrowed, outlives the fetcher): see tunnel_config.ocsp_ca. */
struct ocsp_fetcher *tunnel_ocsp_fetcher_new(struct event_base *base, const char *tls_ca);
void tunnel_ocsp_fetcher_free(struct ocsp_fetcher *fr);
struct ocsp_fetch *tunnel_ocsp_fetch(struct ocsp_fetcher *fr, const char *url,
				     const unsigned char *req, size_t len, double timeout,
				     ocsp_fetch_cb cb, void *arg, struct signet_err *err);
void tunnel_ocsp_fetch_cancel(struct ocsp_fetch *f);
/* The DER of a nonce-less request for cert (one SHA-1 CertID), malloc'ed. */
int tunnel_ocsp_request(X509 *cert, X509 *issuer, unsigned char **der, size_t *len,
			struct signet_err *err);

/* The answer cache of one worker (a mutex inside).  key: issuer
 * fingerprint + serial.  Entries live until their nextUpdate. */
struct ocsp_cache;
struct ocsp_answer {
	int status;       /* enum signet_ocsp_cert_status */
	int reason;       /* CRLReason, -1 none */
	int64_t revoked_at;
	int64_t next_update;
};
struct ocsp_cache *tunnel_ocsp_cache_new(size_t max);
void tunnel_ocsp_cache_free(struct ocsp_cache *oc);
int tunnel_ocsp_cache_get(struct ocsp_cache *oc, const char *key, struct ocsp_answer *a);
void tunnel_ocsp_cache_put(struct ocsp_cache *oc, const char *key,
			   const struct ocsp_answer *a);
struct ocsp_cache *tunnel_ocsp_cache(struct tunnel *t);

/* Stapling (staple.c): each worker keeps a fresh OCSP response for our
 * certificate on its loop; the status callback staples a copy. */
struct tunnel_staple;
struct tunnel_staple *tunnel_staple_new(struct tunnel *t, struct event_base *base);
void tunnel_staple_free(struct tunnel_staple *s);
/* Worker, after every successful (re)load: aims at creds' certificate. */
void tunnel_staple_update(struct tunnel_staple *s, struct tunnel_creds *creds);
struct tunnel_staple *tunnel_staple(struct tunnel *t);
int tunnel_staple_status_cb(SSL *ssl, void *arg);
/* Client tunnel with --ocsp: the OCSP response the upstream stapled, if
 * any, checked for chain[0] (the verified path; the signer's chain may end
 * in ca_certs).  1: it verifies (a filled); 0: none was stapled, or it is
 * not usable (logged with the serial), so the responder is asked instead. */
int tunnel_staple_peer(SSL *ssl, STACK_OF(X509) *chain, STACK_OF(X509) *ca_certs,
		       const char *serial, struct ocsp_answer *a);

/* The status server (status.c): /healthz and /metrics on the master's loop. */
struct evhttp;
struct event_base;
struct evhttp *tunnel_status_start(struct tunnel *t, struct event_base *base,
				   const char *addr, struct signet_err *err);

/* Accessors used by status.c and conn.c.  tunnel_metrics: this process's
 * slot; tunnel_metrics_slots: every slot (the master's last), to sum. */
struct tunnel_metrics *tunnel_metrics(struct tunnel *t);
int tunnel_metrics_slots(struct tunnel *t, struct tunnel_metrics **slots);
const struct tunnel_config *tunnel_config(struct tunnel *t);
struct tunnel_creds *tunnel_creds_current(struct tunnel *t); /* new ref */
int tunnel_draining(struct tunnel *t);

/* PROXY protocol v2 header (proxyproto.c).  Writes at most size bytes,
 * returns the length or -1 when it does not fit. */
int tunnel_proxy_v2(unsigned char *buf, size_t size, const struct sockaddr *src,
		    const struct sockaddr *dst, SSL *ssl, X509 *peer);

/* Address parsing: "host:port", "[v6]:port". */
int tunnel_parse_addr(const char *text, int passive, struct sockaddr_storage *ss,
		      socklen_t *len, char *host, size_t host_size,
		      struct signet_err *err);
void tunnel_format_addr(const struct sockaddr *sa, char *buf, size_t size);

#endif
