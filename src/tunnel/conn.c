/*
 * conn.c - one tunnelled connection, from accept to its log line.
 *
 * A connection has two sides: `down`, the socket we accepted, and `up`, the
 * one we open.  In server mode down is TLS and up is the plain backend; in
 * client mode down is plain and up is TLS.  States:
 *
 *   HANDSHAKE   TLS handshake (server: with the client; client: connect +
 *               handshake with the upstream).  A deadline timer runs
 *               (--handshake-timeout, the slowloris guard).
 *   OCSP        with --ocsp: handshake done, the peer's certificate (the
 *               client's, or in client mode the upstream's) verified;
 *               waiting for its OCSP status (a staple from the upstream,
 *               the cache, or the responder).  No byte is relayed yet; the
 *               timer is --ocsp-timeout plus a second.  A refusal here can
 *               no longer be a TLS alert: the connection is closed.
 *   CONNECTING  server only: handshake done, connecting to the backend
 *               (same deadline).
 *   RELAY       bytes flow both ways; the timer now checks idleness
 *               (--idle-timeout) against last_activity, so the hot path
 *               only stores a cached timestamp.  When the caller (down)
 *               finishes sending, its end is passed on to up once its
 *               bytes are out (half-close, or close_notify) and up's
 *               answer is still relayed.
 *   CLOSING     up ended, or a side failed: what was read from the ended
 *               side is flushed to the other, then both are closed (the
 *               timer bounds the flush).
 * Bytes that arrive before RELAY (a request sent right after the
 * handshake) wait in the buffer, bounded, and go across when it starts.
 *
 * I/O.  A connection drives its two sockets itself.  Each socket has one
 * libevent event, added once for reading and writing, edge-triggered
 * (EV_ET): epoll hears of a socket once, and no epoll_ctl is made when a
 * direction starts or stops.  Edges are not repeated, so the connection
 * keeps the ones it has not used up (ready[]) and what the SSL call that
 * last stopped is waiting for (hs_want, rd_want, wr_want); pump() moves
 * bytes until nothing can move.  OpenSSL reads the TLS socket itself, with
 * read-ahead: one read(2) per burst instead of two per record.
 *
 * Bytes wait in at most one buffer per direction (to[side]: what is to be
 * written to that side), taken from a per-worker pool when there is
 * something to carry and given back as soon as it is empty.  An idle
 * connection therefore holds only its SSL object and this record.  A full
 * buffer stops reading from the side that fills it: back pressure, with
 * memory per connection bounded by two buffers.
 *
 * The certificate-verify callback (tunnel_cert_verify_cb) runs signet's
 * verifier plus the --allow rules inside the handshake, so a refused peer
 * gets a TLS alert, and records the verifier's sentence for the log line.
 *
 * Invariants: a conn is owned by its worker process; conn_finish() is the
 * only place that frees it and it runs exactly once.  Functions that may
 * finish a connection return -1 when they did, and their callers return at
 * once; only the event entry points (io_cb, timer_cb, ocsp_answered) call
 * drive().  Every accepted fd is counted in metrics.active until the end.
 */
#include "tunnel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <signet/cert.h>
#include <signet/crl.h>
#include <signet/ocsp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define UNKNOWN_TTL 10 /* seconds an OCSP "unknown" is cached at most */

enum conn_state { S_HANDSHAKE, S_OCSP, S_CONNECTING, S_RELAY, S_CLOSING };
enum { DOWN = 0, UP = 1 };
#define RD 1 /* ready[] and *_want bits */
#define WR 2

/* One buffer: 64 KiB with its header, four full TLS records. */
#define BUF_SIZE (64 * 1024 - 32)
/* Server mode keeps this much free in the backend buffer until the backend
 * connect starts, for the PROXY protocol header in front of early bytes. */
#define PROXY_ROOM 1024
/* Buffers a worker keeps for reuse (4 MiB at most); more are freed. */
#define POOL_MAX 64
#define FLUSH_SECONDS 5.0
/* Bytes one connection may move per loop turn before it lets the others
 * run; it then queues itself for the next turn (its edges stay unused). */
#define PUMP_BUDGET (1024 * 1024)

struct tunnel_iobuf {
	struct tunnel_iobuf *next; /* in the worker's pool */
	uint32_t off, len;         /* the bytes waiting: data[off, off + len) */
	unsigned char data[BUF_SIZE];
};

/* What --ocsp needs per connection, allocated only when it is used. */
struct conn_ocsp {
	char key[160]; /* cache key: issuer fingerprint + serial */
	char url[256];
};

struct conn {
	struct tunnel_worker *w;
	struct tunnel_creds *creds;
	SSL *ssl;
	int fd[2];                    /* DOWN, UP; -1 when not open */
	struct event ev[2];           /* one per fd, EV_READ | EV_WRITE | EV_ET */
	struct event timer;
	struct tunnel_iobuf *to[2];   /* bytes to be written to that side */
	enum conn_state state;
	enum tunnel_reason reason;
	unsigned char tside;          /* the TLS side: DOWN (server) or UP (client) */
	unsigned char ready[2];       /* RD | WR edges not used up yet */
	unsigned char ended[2];       /* nothing more will be read from that side */
	unsigned char rdhup[2];       /* the peer's FIN has arrived (EV_CLOSED) */
	unsigned char broken[2];      /* nothing more can be written to that side */
	unsigned char armed[2];       /* ev[i] added */
	unsigned char open[2];        /* the side's TCP connection is established */
	unsigned char hs_want, rd_want, wr_want; /* RD or WR the last SSL call waits for */
	unsigned char flush_to;       /* CLOSING: the side being flushed */
	unsigned char shut_up;        /* the client's end was passed on to UP */
	unsigned char verified;
	unsigned char oom;            /* a buffer could not be allocated */
	struct timeval start;
	time_t last_activity;
	uint64_t bytes_in, bytes_out; /* read from down / from up */
	char *detail;                 /* why it was refused or failed, or NULL */
	char *who;                    /* peer subject '\0' serial, or NULL */
	char peer[64];
	STACK_OF(X509) *chain;        /* --ocsp: the verified path, leaf first */
	struct ocsp_fetch *fetch;     /* --ocsp: the request in flight */
	struct conn_ocsp *ocsp;       /* --ocsp only, from ocsp_begin on */
	const char *ocsp_note;        /* for the log line: good, cached, soft_fail */
	struct conn *prev, *next;
};

static const char *subject_of(const struct conn *c)
{
	return c->who != NULL ? c->who : "";
}

static const char *serial_of(const struct conn *c)
{
	return c->who != NULL ? c->who + strlen(c->who) + 1 : "";
}

static int is_server(const struct conn *c)
{
	return c->tside == DOWN;
}

static const char *const reason_names[R__COUNT] = {
	[R_NONE] = "none",
	[R_CONN_LIMIT] = "connection_limit",
	[R_DRAINING] = "draining",
	[R_HANDSHAKE_TIMEOUT] = "handshake_timeout",
	[R_NO_CLIENT_CERT] = "no_client_certificate",
	[R_UNTRUSTED] = "untrusted",
	[R_EXPIRED] = "expired",
	[R_REVOKED] = "revoked",
	[R_NAME] = "name_mismatch",
	[R_PURPOSE] = "purpose",
	[R_CERT_INVALID] = "certificate_invalid",
	[R_NOT_ALLOWED] = "not_allowed",
	[R_TLS_ERROR] = "tls_error",
	[R_TLS_EOF] = "closed_in_handshake",
	[R_BACKEND] = "backend_unreachable",
	[R_IDLE_TIMEOUT] = "idle_timeout",
	[R_SHUTDOWN] = "shutdown",
	[R_INTERNAL] = "internal",
	[R_OCSP_UNAVAILABLE] = "ocsp_unavailable",
	[R_OCSP_UNKNOWN] = "ocsp_unknown",
	[R_REV_UNKNOWN] = "revocation_unknown",
};

const char *tunnel_reason_name(enum tunnel_reason r)
{
	return r < R__COUNT && reason_names[r] ? reason_names[r] : "unknown";
}

static int is_refusal(enum tunnel_reason r)
{
	return r == R_CONN_LIMIT || r == R_NO_CLIENT_CERT || r == R_UNTRUSTED ||
	       r == R_EXPIRED || r == R_REVOKED || r == R_NAME || r == R_PURPOSE ||
	       r == R_CERT_INVALID || r == R_NOT_ALLOWED || r == R_OCSP_UNAVAILABLE ||
	       r == R_OCSP_UNKNOWN || r == R_REV_UNKNOWN;
}

static void set_reason(struct conn *c, enum tunnel_reason r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_reason(struct conn *c, enum tunnel_reason r, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	if (c->reason != R_NONE)
		return; /* the first cause is the one to report */
	c->reason = r;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* Allocated only here: most connections end without one, and an
	 * idle connection should hold no more than it needs. */
	c->detail = buf[0] ? strdup(buf) : NULL;
}

/* Quotes s for the log line: double quotes and backslashes escaped,
 * control bytes dropped, so a hostile subject cannot forge a log line. */
static void quote(char *buf, size_t size, const char *s)
{
	size_t j = 0;
	if (size < 3)
		return;
	buf[j++] = '"';
	for (; *s && j + 3 < size; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch < 0x20 || ch == 0x7f)
			continue;
		if (ch == '"' || ch == '\\')
			buf[j++] = '\\';
		buf[j++] = (char)ch;
	}
	buf[j++] = '"';
	buf[j] = '\0';
}

static void log_conn(struct conn *c)
{
	struct tunnel *t = c->w->t;
	const struct tunnel_config *cfg = tunnel_config(t);
	struct timeval now, d;
	char subj[256], det[300];
	const char *outcome;
	SSL *ssl = c->ssl;
	int handshaken = ssl != NULL && SSL_is_init_finished(ssl);

	if (c->reason == R_NONE)
		outcome = "ok";
	else if (is_refusal(c->reason))
		outcome = "refused";
	else if (c->reason == R_HANDSHAKE_TIMEOUT || c->reason == R_IDLE_TIMEOUT)
		outcome = "timeout";
	else
		outcome = "error";
	if (cfg->quiet && c->reason == R_NONE)
		return;
	gettimeofday(&now, NULL);
	timersub(&now, &c->start, &d);
	quote(subj, sizeof(subj), subject_of(c));
	quote(det, sizeof(det), c->detail ? c->detail : "");
	tunnel_log("conn tunnel=%s worker=%d peer=%s %s=%s serial=%s tls=%s cipher=%s "
		   "bytes_in=%llu bytes_out=%llu duration=%ld.%03lds outcome=%s%s%s%s%s%s%s",
		   cfg->mode == TUNNEL_SERVER ? "server" : "client", c->w->idx, c->peer,
		   cfg->mode == TUNNEL_SERVER ? "client" : "upstream", subj,
		   serial_of(c)[0] ? serial_of(c) : "-",
		   handshaken ? SSL_get_version(ssl) : "-",
		   handshaken ? SSL_get_cipher_name(ssl) : "-",
		   (unsigned long long)c->bytes_in, (unsigned long long)c->bytes_out,
		   (long)d.tv_sec, (long)(d.tv_usec / 1000), outcome,
		   c->reason != R_NONE ? " reason=" : "",
		   c->reason != R_NONE ? tunnel_reason_name(c->reason) : "",
		   c->detail ? " detail=" : "", c->detail ? det : "",
		   c->ocsp_note ? " ocsp=" : "", c->ocsp_note ? c->ocsp_note : "");
}

/* ---- buffers ---- */

static struct tunnel_iobuf *buf_get(struct tunnel_worker *w)
{
	struct tunnel_iobuf *b = w->pool;
	if (b != NULL) {
		w->pool = b->next;
		w->npool--;
	} else if ((b = malloc(sizeof(*b))) == NULL) {
		return NULL;
	}
	b->off = b->len = 0;
	return b;
}

static void buf_put(struct tunnel_worker *w, struct tunnel_iobuf *b)
{
	if (b == NULL)
		return;
	if (w->npool < POOL_MAX) {
		b->next = w->pool;
		w->pool = b;
		w->npool++;
	} else {
		free(b);
	}
}

void tunnel_conn_pool_free(struct tunnel_worker *w)
{
	while (w->pool != NULL) {
		struct tunnel_iobuf *b = w->pool;
		w->pool = b->next;
		free(b);
	}
	w->npool = 0;
}

static size_t pending(const struct conn *c, int side)
{
	return c->to[side] != NULL ? c->to[side]->len : 0;
}

/* Gives the buffer towards side back to the pool once it is empty. */
static void drop_if_empty(struct conn *c, int side)
{
	if (c->to[side] != NULL && c->to[side]->len == 0) {
		buf_put(c->w, c->to[side]);
		c->to[side] = NULL;
	}
}

/* Free room at the tail of the buffer towards side, keeping `keep` bytes
 * free; takes a buffer, or moves the waiting bytes to the front, as needed.
 * 0 when it is full (or no buffer could be had: c->oom). */
static size_t room(struct conn *c, int side, size_t keep, unsigned char **at)
{
	struct tunnel_iobuf *b = c->to[side];
	size_t tail;

	if (b == NULL && (b = c->to[side] = buf_get(c->w)) == NULL) {
		c->oom = 1;
		return 0;
	}
	if (b->len == 0)
		b->off = 0;
	else if (b->off > 0 && BUF_SIZE - b->off - b->len < 16 * 1024) {
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
	}
	tail = BUF_SIZE - b->off - b->len;
	if (tail <= keep)
		return 0;
	*at = b->data + b->off + b->len;
	return tail - keep;
}

/* ---- small helpers ---- */

static void touch(struct conn *c)
{
	struct timeval tv;
	event_base_gettimeofday_cached(c->w->base, &tv);
	c->last_activity = tv.tv_sec;
}

static void timer_arm(struct conn *c, double seconds)
{
	struct timeval tv;
	evtimer_del(&c->timer);
	if (seconds <= 0)
		return;
	tv.tv_sec = (time_t)seconds;
	tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
	evtimer_add(&c->timer, &tv);
}

static void count(struct conn *c, int side, size_t n)
{
	struct tunnel_metrics *m = tunnel_metrics(c->w->t);
	if (side == DOWN) {
		c->bytes_in += n;
		atomic_fetch_add_explicit(&m->bytes_in, n, memory_order_relaxed);
	} else {
		c->bytes_out += n;
		atomic_fetch_add_explicit(&m->bytes_out, n, memory_order_relaxed);
	}
}

static const char *side_name(const struct conn *c, int side)
{
	if (side == DOWN)
		return "client side";
	return is_server(c) ? "backend side" : "upstream side";
}

/* Frees everything; the one exit of every connection. */
static void conn_finish(struct conn *c)
{
	struct tunnel_worker *w = c->w;
	struct tunnel_metrics *m = tunnel_metrics(w->t);

	if (c->reason != R_NONE)
		atomic_fetch_add_explicit(&m->failures[c->reason], 1, memory_order_relaxed);
	else
		atomic_fetch_add_explicit(&m->completed, 1, memory_order_relaxed);
	log_conn(c);
	if (c->ssl != NULL && c->reason == R_NONE && c->open[c->tside] && !c->broken[c->tside] &&
	    SSL_is_init_finished(c->ssl) && !(SSL_get_shutdown(c->ssl) & SSL_SENT_SHUTDOWN)) {
		/* A clean end: say so with close_notify (best effort, the
		 * socket is non-blocking and the output already flushed). */
		SSL_shutdown(c->ssl);
	}
	ERR_clear_error();
	tunnel_ocsp_fetch_cancel(c->fetch);
	free(c->ocsp);
	sk_X509_pop_free(c->chain, X509_free);
	evtimer_del(&c->timer);
	for (int i = 0; i < 2; i++) {
		if (c->armed[i])
			event_del(&c->ev[i]);
		if (c->fd[i] >= 0)
			evutil_closesocket(c->fd[i]);
		buf_put(w, c->to[i]);
	}
	SSL_free(c->ssl);
	tunnel_creds_unref(c->creds);
	free(c->detail);
	free(c->who);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	free(c);
	atomic_fetch_sub_explicit(&m->active, 1, memory_order_relaxed);
	w->nconns--;
	if (w->nconns == 0)
		tunnel_worker_idle(w);
}

static void io_cb(evutil_socket_t fd, short what, void *arg);

/* Adds fd[side] to the loop, once, for both directions, edge-triggered. */
static int arm(struct conn *c, int side)
{
	if (event_assign(&c->ev[side], c->w->base, c->fd[side],
			 EV_READ | EV_WRITE | EV_CLOSED | EV_ET | EV_PERSIST, io_cb, c) < 0 ||
	    event_add(&c->ev[side], NULL) < 0)
		return -1;
	c->armed[side] = 1;
	return 0;
}

/* ---- moving bytes ---- */

/* Reading from side is over: EOF (err 0), a reset, or an error. */
static void side_ended(struct conn *c, int side, int err)
{
	c->ended[side] = 1;
	c->ready[side] &= (unsigned char)~RD;
	if (err == 0)
		return;
	/* After a reset or an error nothing can be written there either. */
	c->broken[side] = 1;
	if (c->to[side] != NULL)
		c->to[side]->len = 0;
	drop_if_empty(c, side);
	if (err != ECONNRESET && err != EPIPE && c->state == S_RELAY)
		/* (a reset is a normal, if abrupt, end for many protocols) */
		set_reason(c, R_TLS_ERROR, "%s: %s", side_name(c, side), strerror(err));
}

/* Writing to side failed: its bytes cannot be delivered any more. */
static void side_broken(struct conn *c, int side, int err)
{
	c->broken[side] = 1;
	c->ended[side] = 1;
	if (c->to[side] != NULL)
		c->to[side]->len = 0;
	drop_if_empty(c, side);
	if (err != 0 && err != ECONNRESET && err != EPIPE && c->state == S_RELAY)
		set_reason(c, R_TLS_ERROR, "%s: %s", side_name(c, side), strerror(err));
}

/* A TLS error mid-stream: the reason, from OpenSSL's error queue. */
static void tls_broke(struct conn *c, int ssl_err, int sys_err)
{
	unsigned long e = ERR_peek_error();
	int t = c->tside;

	if (ssl_err == SSL_ERROR_SYSCALL && e == 0) {
		side_ended(c, t, sys_err); /* EOF, or a socket error (broken too) */
		return;
	}
	if (ssl_err == SSL_ERROR_ZERO_RETURN) {
		side_ended(c, t, 0); /* close_notify: an orderly end */
		return;
	}
	if (c->state == S_RELAY)
		set_reason(c, R_TLS_ERROR, "TLS error: %s",
			   e != 0 && ERR_reason_error_string(e) ? ERR_reason_error_string(e)
								: "unknown");
	ERR_clear_error();
	side_broken(c, t, 0);
}

/* TLS side -> the buffer towards the plain side. */
static void tls_read(struct conn *c, int *moved)
{
	int t = c->tside, p = 1 - t;
	/* Server: room for the PROXY header until the backend connect starts. */
	size_t keep = is_server(c) && c->state < S_CONNECTING ? PROXY_ROOM : 0;

	while (!c->ended[t]) {
		unsigned char *at;
		size_t n;
		int r, e;

		if (c->rd_want != 0 && !(c->ready[t] & c->rd_want))
			break;
		if ((n = room(c, p, keep, &at)) == 0)
			break; /* full: back pressure */
		ERR_clear_error();
		errno = 0;
		r = SSL_read(c->ssl, at, n > INT_MAX ? INT_MAX : (int)n);
		if (r > 0) {
			c->to[p]->len += (uint32_t)r;
			c->rd_want = 0;
			count(c, t, (size_t)r);
			*moved = 1;
			continue;
		}
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ) {
			c->ready[t] &= (unsigned char)~RD;
			c->rd_want = RD;
		} else if (e == SSL_ERROR_WANT_WRITE) {
			c->ready[t] &= (unsigned char)~WR;
			c->rd_want = WR;
		} else {
			tls_broke(c, e, errno);
		}
		break;
	}
	drop_if_empty(c, p);
}

/* The buffer towards the TLS side -> SSL_write. */
static void tls_write(struct conn *c, int *moved)
{
	int t = c->tside;
	struct tunnel_iobuf *b = c->to[t];

	while (b != NULL && b->len > 0 && !c->broken[t]) {
		int r, e;
		if (c->wr_want != 0 && !(c->ready[t] & c->wr_want))
			return;
		ERR_clear_error();
		errno = 0;
		r = SSL_write(c->ssl, b->data + b->off, b->len > INT_MAX ? INT_MAX : (int)b->len);
		if (r > 0) {
			b->off += (uint32_t)r;
			b->len -= (uint32_t)r;
			c->wr_want = 0;
			*moved = 1;
			continue;
		}
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_WRITE) {
			c->ready[t] &= (unsigned char)~WR;
			c->wr_want = WR;
			return;
		}
		if (e == SSL_ERROR_WANT_READ) {
			c->ready[t] &= (unsigned char)~RD;
			c->wr_want = RD;
			return;
		}
		if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
			side_broken(c, t, errno);
		else
			tls_broke(c, e, errno);
		return;
	}
	drop_if_empty(c, t);
}

/* Plain side -> the buffer towards the TLS side.  A short read means the
 * socket is drained: the next edge comes with the next bytes, or with the
 * FIN, unless the FIN was already there when the edge was reported
 * (EV_CLOSED, EPOLLRDHUP): then read on, to the EOF. */
static void plain_read(struct conn *c, int *moved)
{
	int p = 1 - c->tside, t = c->tside;

	while (!c->ended[p] && (c->ready[p] & RD)) {
		unsigned char *at;
		size_t n = room(c, t, 0, &at);
		ssize_t r;

		if (n == 0)
			break; /* full: back pressure */
		r = recv(c->fd[p], at, n, 0);
		if (r > 0) {
			c->to[t]->len += (uint32_t)r;
			count(c, p, (size_t)r);
			*moved = 1;
			if ((size_t)r < n && !c->rdhup[p])
				c->ready[p] &= (unsigned char)~RD;
			continue;
		}
		if (r == 0)
			side_ended(c, p, 0);
		else if (errno == EAGAIN || errno == EWOULDBLOCK)
			c->ready[p] &= (unsigned char)~RD;
		else if (errno != EINTR)
			side_ended(c, p, errno);
		else
			continue;
		break;
	}
	drop_if_empty(c, t);
}

/* The buffer towards the plain side -> send. */
static void plain_write(struct conn *c, int *moved)
{
	int p = 1 - c->tside;
	struct tunnel_iobuf *b = c->to[p];

	while (b != NULL && b->len > 0 && (c->ready[p] & WR) && !c->broken[p]) {
		ssize_t r = send(c->fd[p], b->data + b->off, b->len, MSG_NOSIGNAL);
		if (r > 0) {
			b->off += (uint32_t)r;
			b->len -= (uint32_t)r;
			*moved = 1;
			if (b->len > 0)
				c->ready[p] &= (unsigned char)~WR; /* the socket is full */
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			c->ready[p] &= (unsigned char)~WR;
			break;
		}
		if (r < 0 && errno == EINTR)
			continue;
		side_broken(c, p, r < 0 ? errno : 0);
		return;
	}
	drop_if_empty(c, p);
}

/*
 * The client finished sending (EOF, close_notify) and all it sent is with
 * UP: pass the end on (TCP half-close, or close_notify in client mode) and
 * keep relaying UP's answer, as a client that half-closes expects.  0 done
 * or to be retried (the TLS socket was full), -1 failed.
 */
static int shut_up(struct conn *c)
{
	int r;

	if (is_server(c)) {
		c->shut_up = 1;
		return shutdown(c->fd[UP], SHUT_WR) == 0 || errno == ENOTCONN ? 0 : -1;
	}
	if (c->wr_want != 0 && !(c->ready[UP] & c->wr_want))
		return 0;
	ERR_clear_error();
	r = SSL_shutdown(c->ssl);
	if (r >= 0) {
		c->shut_up = 1;
		return 0;
	}
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_WRITE:
		c->ready[UP] &= (unsigned char)~WR;
		c->wr_want = WR;
		return 0;
	case SSL_ERROR_WANT_READ:
		c->ready[UP] &= (unsigned char)~RD;
		c->wr_want = RD;
		return 0;
	default:
		ERR_clear_error();
		return -1;
	}
}

/*
 * Moves bytes until nothing more can, then acts on ended sides: before
 * RELAY an end closes the connection with a sentence saying when; in RELAY
 * it starts CLOSING, which finishes once the bytes read from the ended side
 * have reached the other.  Returns -1 when the connection was finished.
 */
static int pump(struct conn *c)
{
	int t = c->tside, p = 1 - t, moved, any = 0;
	uint64_t start = c->bytes_in + c->bytes_out;

	for (;;) {
		int relaying = c->state == S_RELAY || c->state == S_CLOSING;
		do {
			if (c->bytes_in + c->bytes_out - start > PUMP_BUDGET) {
				/* Fair to the other connections: more next turn. */
				event_active(&c->ev[t], EV_TIMEOUT, 1);
				break;
			}
			moved = 0;
			if (c->state != S_HANDSHAKE && c->state != S_CLOSING)
				tls_read(c, &moved);
			if (relaying && c->open[p])
				plain_write(c, &moved);
			if (c->open[p] && c->state != S_CLOSING)
				plain_read(c, &moved);
			if (relaying)
				tls_write(c, &moved);
			any |= moved;
		} while (moved);
		if (c->oom) {
			set_reason(c, R_INTERNAL, "out of memory");
			conn_finish(c);
			return -1;
		}
		if (any && relaying)
			touch(c);
		if (c->state == S_RELAY && c->ended[DOWN] && !c->broken[DOWN] && !c->ended[UP]) {
			/* The client half-closed: pass it on once its bytes are
			 * out, and go on relaying the answer. */
			if (!c->shut_up && pending(c, UP) == 0 && shut_up(c) < 0)
				side_broken(c, UP, 0);
			else
				break;
		}
		if (c->state == S_RELAY && (c->ended[t] || c->ended[p])) {
			/* Flush what the ended side sent to the other one. */
			c->flush_to = (unsigned char)(c->ended[UP] ? DOWN : UP);
			c->state = S_CLOSING;
			timer_arm(c, FLUSH_SECONDS);
			continue; /* one more turn: the flush may finish at once */
		}
		break;
	}
	if (c->state == S_CLOSING) {
		if (pending(c, c->flush_to) == 0 || c->broken[c->flush_to]) {
			conn_finish(c);
			return -1;
		}
		return 0;
	}
	if (c->state == S_RELAY || (!c->ended[t] && !c->ended[p]))
		return 0;
	/* An end before RELAY.  A client that sent its bytes and half-closed
	 * while UP is being reached keeps them: they and its end are passed
	 * on once the relay starts.  (While its OCSP status is checked, a
	 * client that leaves is let go: it was not admitted yet.) */
	if (c->ended[DOWN] && !c->broken[DOWN] && !c->ended[UP] && c->bytes_in > 0 &&
	    (c->state == S_CONNECTING || (c->state == S_HANDSHAKE && !is_server(c))))
		return 0;
	if (c->state == S_OCSP)
		set_reason(c, R_TLS_EOF, "%s",
			   is_server(c) ? "client closed while its OCSP status was being checked"
			   : c->ended[DOWN]
				   ? "local client closed while the upstream's OCSP status was being checked"
				   : "upstream closed while its OCSP status was being checked");
	else if (c->state == S_CONNECTING)
		set_reason(c, R_TLS_EOF, "client closed before the backend was ready");
	else
		set_reason(c, R_TLS_EOF, "local client closed before the upstream was ready");
	conn_finish(c);
	return -1;
}

/* ---- the connection's steps ---- */

/* Classifies a failed handshake from OpenSSL's errors and errno. */
static void tls_failure(struct conn *c, int sock_err)
{
	unsigned long e, first = 0;

	while ((e = ERR_get_error()) != 0)
		if (first == 0)
			first = e;
	if (c->reason != R_NONE)
		return; /* the verify callback already said why */
	if (first == 0) {
		if (!is_server(c) && sock_err != 0 && sock_err != EAGAIN)
			set_reason(c, R_BACKEND, "upstream %s: %s", tunnel_config(c->w->t)->to,
				   strerror(sock_err));
		else if (sock_err != 0 && sock_err != EAGAIN)
			set_reason(c, R_TLS_ERROR, "%s", strerror(sock_err));
		else
			set_reason(c, R_TLS_EOF, "peer closed the connection during the handshake");
		return;
	}
	switch (ERR_GET_REASON(first)) {
	case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
		set_reason(c, R_NO_CLIENT_CERT, "the client sent no certificate");
		return;
	case SSL_R_UNEXPECTED_EOF_WHILE_READING:
		set_reason(c, R_TLS_EOF, "peer closed the connection during the TLS handshake");
		return;
	case SSL_R_HTTP_REQUEST:
	case SSL_R_HTTPS_PROXY_REQUEST:
		set_reason(c, R_TLS_ERROR, "plain HTTP sent to the TLS port");
		return;
	default:
		break;
	}
	if (ERR_GET_LIB(first) == ERR_LIB_SYS || ERR_reason_error_string(first) == NULL) {
		set_reason(c, R_TLS_EOF, "connection reset during the TLS handshake");
		return;
	}
	set_reason(c, R_TLS_ERROR, "TLS handshake failed: %s", ERR_reason_error_string(first));
}

static int start_relay(struct conn *c)
{
	c->state = S_RELAY;
	touch(c);
	timer_arm(c, tunnel_config(c->w->t)->idle_timeout);
	return 0;
}

/* A non-blocking TCP socket with Nagle off (handshake flights and small
 * requests must not wait for delayed ACKs), for the side we connect. */
static int upstream_socket(const struct sockaddr *to)
{
	int fd = socket(to->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Opens the UP socket and starts connecting it to --to. */
static int start_connect(struct conn *c)
{
	struct tunnel *t = c->w->t;
	socklen_t len;
	const struct sockaddr *to = tunnel_to_addr(t, &len);
	const char *what = is_server(c) ? "backend" : "upstream";

	if ((c->fd[UP] = upstream_socket(to)) < 0) {
		set_reason(c, R_INTERNAL, "cannot open a socket: %s", strerror(errno));
		conn_finish(c);
		return -1;
	}
	if (connect(c->fd[UP], to, len) == 0) {
		c->open[UP] = 1;
		c->ready[UP] = WR;
	} else if (errno != EINPROGRESS) {
		set_reason(c, R_BACKEND, "%s %s: %s", what, tunnel_config(t)->to, strerror(errno));
		conn_finish(c);
		return -1;
	}
	if (arm(c, UP) < 0) {
		set_reason(c, R_INTERNAL, "cannot watch the %s socket", what);
		conn_finish(c);
		return -1;
	}
	return 0;
}

/* The UP connect in progress has an edge: done, failed, or not yet. */
static int connect_check(struct conn *c)
{
	int e = 0;
	socklen_t l = sizeof(e);

	if (!(c->ready[UP] & (RD | WR)))
		return 0;
	if (getsockopt(c->fd[UP], SOL_SOCKET, SO_ERROR, &e, &l) < 0)
		e = errno;
	if (e == EINPROGRESS || e == EALREADY) {
		c->ready[UP] = 0;
		return 0;
	}
	if (e != 0) {
		set_reason(c, R_BACKEND, "%s %s: %s", is_server(c) ? "backend" : "upstream",
			   tunnel_config(c->w->t)->to, strerror(e));
		conn_finish(c);
		return -1;
	}
	c->open[UP] = 1;
	return 0;
}

/* Server mode: the client is verified; connect to the backend, with the
 * PROXY protocol header in front of anything the client already sent. */
static int connect_backend(struct conn *c)
{
	struct tunnel *t = c->w->t;

	c->state = S_CONNECTING;
	if (tunnel_config(t)->proxy_protocol) {
		unsigned char hdr[PROXY_ROOM], *at;
		struct sockaddr_storage peer, local; /* asked now: not kept per connection */
		socklen_t pl = sizeof(peer), ll = sizeof(local);
		struct tunnel_iobuf *b;
		int n;
		if (getpeername(c->fd[DOWN], (struct sockaddr *)&peer, &pl) < 0 ||
		    getsockname(c->fd[DOWN], (struct sockaddr *)&local, &ll) < 0) {
			set_reason(c, R_TLS_EOF, "client closed before the backend was ready");
			conn_finish(c);
			return -1;
		}
		n = tunnel_proxy_v2(hdr, sizeof(hdr), (struct sockaddr *)&peer,
				    (struct sockaddr *)&local, c->ssl,
				    SSL_get0_peer_certificate(c->ssl));
		/* (room() with keep 0 makes the buffer, early bytes left PROXY_ROOM free) */
		if (n < 0 || room(c, UP, 0, &at) < (size_t)n) {
			set_reason(c, R_INTERNAL, "cannot build the PROXY protocol header");
			conn_finish(c);
			return -1;
		}
		b = c->to[UP];
		memmove(b->data + b->off + n, b->data + b->off, b->len);
		memcpy(b->data + b->off, hdr, (size_t)n);
		b->len += (uint32_t)n;
	}
	return start_connect(c);
}

static int handshake_done(struct conn *c)
{
	X509 *peer = SSL_get0_peer_certificate(c->ssl);

	atomic_fetch_add_explicit(&tunnel_metrics(c->w->t)->handshakes_ok, 1,
				  memory_order_relaxed);
	if (peer == NULL || !c->verified) {
		/* Cannot happen with SSL_VERIFY_PEER and our callback; refuse
		 * rather than trust it. */
		set_reason(c, R_NO_CLIENT_CERT, "no verified peer certificate");
		conn_finish(c);
		return -1;
	}
	return 0;
}

static int ocsp_begin(struct conn *c);

/* Drives the TLS handshake as far as the socket allows. */
static int handshake(struct conn *c)
{
	int t = c->tside, r, e, se;

	if (c->hs_want != 0 && !(c->ready[t] & c->hs_want))
		return 0;
	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(c->ssl);
	if (r != 1) {
		se = errno;
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ) {
			c->ready[t] &= (unsigned char)~RD;
			c->hs_want = RD;
			return 0;
		}
		if (e == SSL_ERROR_WANT_WRITE) {
			c->ready[t] &= (unsigned char)~WR;
			c->hs_want = WR;
			return 0;
		}
		tls_failure(c, se);
		conn_finish(c);
		return -1;
	}
	c->hs_want = 0;
	if (handshake_done(c) < 0)
		return -1;
	if (tunnel_config(c->w->t)->ocsp)
		return ocsp_begin(c);
	if (is_server(c))
		return connect_backend(c);
	return start_relay(c);
}

/* Everything an edge (or an OCSP answer) can set going. */
static void drive(struct conn *c)
{
	if (c->fd[UP] >= 0 && !c->open[UP] && connect_check(c) < 0)
		return;
	if (!is_server(c) && c->open[UP] && SSL_get_fd(c->ssl) < 0 &&
	    SSL_set_fd(c->ssl, c->fd[UP]) != 1) {
		/* (client mode: TLS over the fresh upstream connection) */
		set_reason(c, R_INTERNAL, "cannot attach TLS to the upstream socket");
		conn_finish(c);
		return;
	}
	if (c->state == S_HANDSHAKE && c->open[c->tside] && handshake(c) < 0)
		return;
	if (c->state == S_CONNECTING && c->open[UP] && start_relay(c) < 0)
		return;
	(void)pump(c);
}

static void io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	int side = fd == c->fd[DOWN] ? DOWN : UP;

	c->ready[side] |= (unsigned char)(((what & (EV_READ | EV_CLOSED)) ? RD : 0) |
					  ((what & EV_WRITE) ? WR : 0));
	if (what & EV_CLOSED)
		c->rdhup[side] = 1;
	drive(c);
}

/* ---- --ocsp: the peer certificate's status, between handshake and relay ---- */

/* Leaving S_OCSP: the backend connect gets the handshake deadline afresh. */
static int ocsp_pass(struct conn *c, const char *note)
{
	c->ocsp_note = note;
	if (!is_server(c))
		return start_relay(c); /* (re-arms the timer for idleness) */
	if (c->state == S_OCSP)
		timer_arm(c, tunnel_config(c->w->t)->handshake_timeout);
	return connect_backend(c);
}

/* Whose certificate --ocsp asks about, for messages. */
static const char *ocsp_whose(struct conn *c)
{
	return is_server(c) ? "client" : "upstream";
}

/* cached: 0 fresh from the responder, 1 from the cache, 2 stapled by the upstream. */
static int ocsp_verdict(struct conn *c, const struct ocsp_answer *a, int cached)
{
	if (a->status == SIGNET_OCSP_GOOD)
		return ocsp_pass(c, cached == 2 ? "good_stapled" : cached ? "good_cached" : "good");
	if (a->status == SIGNET_OCSP_REVOKED) {
		char date[64] = "at an unknown time";
		time_t t = (time_t)a->revoked_at;
		struct tm tm;
		if (t != 0 && gmtime_r(&t, &tm) != NULL)
			strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
		c->ocsp_note = cached == 2 ? "revoked_stapled" : cached ? "revoked_cached" : "revoked";
		set_reason(c, R_REVOKED,
			   "%s certificate %s (serial %s) revoked %s%s (%s) according to "
			   "OCSP%s",
			   ocsp_whose(c), subject_of(c), serial_of(c), t != 0 ? "at " : "", date,
			   a->reason < 0 ? "no reason given" : signet_reason_name(a->reason),
			   cached == 2 ? " (the response it stapled)" : "");
	} else {
		c->ocsp_note = cached ? "unknown_cached" : "unknown";
		set_reason(c, R_OCSP_UNKNOWN,
			   "the OCSP responder does not know %s certificate %s (serial %s)",
			   ocsp_whose(c), subject_of(c), serial_of(c));
	}
	conn_finish(c);
	return -1;
}

/* No answer: refuse, or with --insecure-ocsp-soft-fail allow and say so. */
static int ocsp_unavailable(struct conn *c, const char *why)
{
	struct tunnel *t = c->w->t;

	if (tunnel_config(t)->insecure_ocsp_soft_fail) {
		char subj[256], w[700];
		quote(subj, sizeof(subj), subject_of(c));
		quote(w, sizeof(w), why);
		atomic_fetch_add_explicit(&tunnel_metrics(t)->ocsp_soft_fails, 1,
					  memory_order_relaxed);
		tunnel_log("ocsp soft-fail worker=%d peer=%s %s=%s serial=%s: allowed "
			   "without a revocation check (--insecure-ocsp-soft-fail): %s",
			   c->w->idx, c->peer, ocsp_whose(c), subj, serial_of(c), w);
		return ocsp_pass(c, "soft_fail");
	}
	c->ocsp_note = "unavailable";
	set_reason(c, R_OCSP_UNAVAILABLE, "no OCSP answer for %s certificate %s (serial %s): %s",
		   ocsp_whose(c), subject_of(c), serial_of(c), why);
	conn_finish(c);
	return -1;
}

static void ocsp_answered(void *arg, const unsigned char *der, size_t len, const char *why)
{
	struct conn *c = arg;
	X509 *leaf = sk_X509_value(c->chain, 0), *issuer = sk_X509_value(c->chain, 1);
	STACK_OF(X509) *above = sk_X509_new_null();
	struct signet_ocsp_status st;
	struct ocsp_answer a;
	struct signet_err err;
	int64_t nu = 0;
	char msg[1400];

	c->fetch = NULL; /* ended: nothing to cancel any more */
	signet_err_clear(&err);
	if (der == NULL) {
		sk_X509_free(above);
		if (ocsp_unavailable(c, why) == 0)
			drive(c);
		return;
	}
	/* The signer's chain must end at a self-signed root: the path above
	 * the leaf, and the CA file (which may hold the root above a trusted
	 * intermediate). */
	for (int i = 1; above != NULL && i < sk_X509_num(c->chain); i++)
		sk_X509_push(above, sk_X509_value(c->chain, i));
	for (int i = 0; above != NULL && i < sk_X509_num(c->creds->ca_certs); i++)
		sk_X509_push(above, sk_X509_value(c->creds->ca_certs, i));
	if (above == NULL ||
	    signet_ocsp_check_response(der, len, leaf, issuer, above, NULL, &st, &nu, &err) < 0) {
		sk_X509_free(above);
		snprintf(msg, sizeof(msg), "the answer of %s is not valid: %s", c->ocsp->url,
			 above == NULL ? "out of memory" : err.msg);
		if (ocsp_unavailable(c, msg) == 0)
			drive(c);
		return;
	}
	sk_X509_free(above);
	a.status = st.status;
	a.reason = st.reason;
	a.revoked_at = st.revoked_at;
	a.next_update = nu;
	/* "unknown" from another responder may also just mean a certificate
	 * issued after its last look at the CA: kept briefly, not for the
	 * hours its nextUpdate may say. */
	if (a.status == SIGNET_OCSP_UNKNOWN && nu > (int64_t)time(NULL) + UNKNOWN_TTL)
		a.next_update = (int64_t)time(NULL) + UNKNOWN_TTL;
	tunnel_ocsp_share(c->w->t, c->ocsp->key, &a);
	if (ocsp_verdict(c, &a, 0) == 0)
		drive(c);
}

static int ocsp_begin(struct conn *c)
{
	struct tunnel *t = c->w->t;
	const struct tunnel_config *cfg = tunnel_config(t);
	STACK_OF(OPENSSL_STRING) *aia = NULL;
	struct signet_err err;
	struct ocsp_answer a;
	unsigned char *req = NULL;
	size_t len = 0;
	char fp[65];
	const char *url;

	signet_err_clear(&err);
	if (c->ocsp == NULL && (c->ocsp = calloc(1, sizeof(*c->ocsp))) == NULL)
		return ocsp_unavailable(c, "out of memory");
	if (sk_X509_num(c->chain) < 2)
		return ocsp_unavailable(c, "the certificate is itself the trust anchor; there is "
					   "no issuer to ask about it");
	if (signet_cert_fingerprint(sk_X509_value(c->chain, 1), fp) < 0)
		return ocsp_unavailable(c, "cannot fingerprint the issuer");
	snprintf(c->ocsp->key, sizeof(c->ocsp->key), "%s/%s", fp, serial_of(c));
	/* Client mode: a valid staple from the upstream is the freshest answer. */
	if (cfg->mode == TUNNEL_CLIENT &&
	    tunnel_staple_peer(c->ssl, c->chain, c->creds->ca_certs, serial_of(c), &a) == 1) {
		tunnel_ocsp_share(t, c->ocsp->key, &a);
		return ocsp_verdict(c, &a, 2);
	}
	if (tunnel_ocsp_cache_get(tunnel_ocsp_cache(t), c->ocsp->key, &a)) {
		atomic_fetch_add_explicit(&tunnel_metrics(t)->ocsp_cache_hits, 1,
					  memory_order_relaxed);
		return ocsp_verdict(c, &a, 1);
	}
	if (cfg->ocsp_url == NULL)
		aia = X509_get1_ocsp(sk_X509_value(c->chain, 0));
	url = cfg->ocsp_url != NULL		  ? cfg->ocsp_url
	      : sk_OPENSSL_STRING_num(aia) > 0 ? sk_OPENSSL_STRING_value(aia, 0)
					       : NULL;
	snprintf(c->ocsp->url, sizeof(c->ocsp->url), "%s", url ? url : "");
	X509_email_free(aia);
	if (url == NULL)
		return ocsp_unavailable(c, "the certificate names no OCSP responder (see --ocsp-url)");
	if (c->w->fetcher == NULL)
		c->w->fetcher = tunnel_ocsp_fetcher_new(c->w->base, cfg->ocsp_ca);
	if (tunnel_ocsp_request(sk_X509_value(c->chain, 0), sk_X509_value(c->chain, 1), &req,
				&len, &err) == 0)
		c->fetch = tunnel_ocsp_fetch(c->w->fetcher, c->ocsp->url, req, len,
					     cfg->ocsp_timeout, ocsp_answered, c, &err);
	free(req);
	if (c->fetch == NULL)
		return ocsp_unavailable(c, err.msg);
	atomic_fetch_add_explicit(&tunnel_metrics(t)->ocsp_requests, 1, memory_order_relaxed);
	c->state = S_OCSP;
	timer_arm(c, cfg->ocsp_timeout + 1);
	return 0;
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	const struct tunnel_config *cfg = tunnel_config(c->w->t);
	struct timeval now;

	(void)fd;
	(void)what;
	switch (c->state) {
	case S_HANDSHAKE:
		set_reason(c, R_HANDSHAKE_TIMEOUT,
			   "TLS handshake not finished within %.1fs", cfg->handshake_timeout);
		break;
	case S_OCSP: {
		char why[400];
		tunnel_ocsp_fetch_cancel(c->fetch);
		c->fetch = NULL;
		snprintf(why, sizeof(why), "OCSP responder %s did not answer within %.1fs",
			 c->ocsp->url, cfg->ocsp_timeout);
		if (ocsp_unavailable(c, why) == 0)
			drive(c);
		return;
	}
	case S_CONNECTING:
		set_reason(c, R_BACKEND, "backend %s did not accept within %.1fs",
			   cfg->to, cfg->handshake_timeout);
		break;
	case S_RELAY: {
		double idle;
		event_base_gettimeofday_cached(c->w->base, &now);
		idle = (double)(now.tv_sec - c->last_activity);
		if (idle + 0.5 < cfg->idle_timeout) {
			timer_arm(c, cfg->idle_timeout - idle);
			return;
		}
		set_reason(c, R_IDLE_TIMEOUT, "no traffic for %.0fs", cfg->idle_timeout);
		break;
	}
	case S_CLOSING:
		break; /* the flush took too long: give up on it */
	}
	conn_finish(c);
}

/* The peer's subject and serial, for the log line and messages. */
static void record_peer(struct conn *c, X509 *leaf)
{
	BIO *b = BIO_new(BIO_s_mem());
	char serial[72] = "", *p = NULL;
	long n = 0;

	signet_serial_hex(X509_get0_serialNumber(leaf), serial, sizeof(serial));
	if (b != NULL) {
		X509_NAME_print_ex(b, X509_get_subject_name(leaf), 0,
				   XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
		n = BIO_get_mem_data(b, &p);
	}
	if (n < 0 || p == NULL)
		n = 0;
	if (n > 191)
		n = 191;
	free(c->who);
	c->who = malloc((size_t)n + 1 + strlen(serial) + 1);
	if (c->who != NULL) {
		memcpy(c->who, p, (size_t)n);
		c->who[n] = '\0';
		memcpy(c->who + n + 1, serial, strlen(serial) + 1);
	}
	BIO_free(b);
}

static int alert_error(int code, enum tunnel_reason *r)
{
	switch (code) {
	case SIGNET_E_UNTRUSTED:
		*r = R_UNTRUSTED;
		return X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
	case SIGNET_E_EXPIRED:
		*r = R_EXPIRED;
		return X509_V_ERR_CERT_HAS_EXPIRED;
	case SIGNET_E_REVOKED:
		*r = R_REVOKED;
		return X509_V_ERR_CERT_REVOKED;
	case SIGNET_E_REVUNKNOWN:
		*r = R_REV_UNKNOWN; /* not known to be revoked: not counted as such */
		return X509_V_ERR_UNABLE_TO_GET_CRL;
	case SIGNET_E_NAME:
		*r = R_NAME;
		return X509_V_ERR_HOSTNAME_MISMATCH;
	case SIGNET_E_PURPOSE:
		*r = R_PURPOSE;
		return X509_V_ERR_INVALID_PURPOSE;
	default:
		*r = R_CERT_INVALID;
		return X509_V_ERR_CERT_REJECTED;
	}
}

int tunnel_cert_verify_cb(X509_STORE_CTX *xs, void *arg)
{
	struct tunnel_creds *creds = arg;
	const struct tunnel_config *cfg = creds->cfg;
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct conn *c = ssl ? SSL_get_app_data(ssl) : NULL;
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);
	struct signet_verify_opts opts;
	struct signet_err err;
	enum tunnel_reason r;
	int server = cfg->mode == TUNNEL_SERVER;

	if (c == NULL || leaf == NULL) {
		X509_STORE_CTX_set_error(xs, X509_V_ERR_UNSPECIFIED);
		return 0;
	}
	record_peer(c, leaf);
	memset(&opts, 0, sizeof(opts));
	signet_err_clear(&err);
	opts.purpose = server ? SIGNET_PURPOSE_CLIENT : SIGNET_PURPOSE_SERVER;
	opts.max_depth = -1;
	opts.crls = creds->crls;
	opts.cache_leaf = 1; /* peers reconnect with the same certificate */
	if (!server) {
		const char *name = cfg->server_name ? cfg->server_name : tunnel_to_host(c->w->t);
		unsigned char ipbuf[16];
		if (inet_pton(AF_INET, name, ipbuf) == 1 || inet_pton(AF_INET6, name, ipbuf) == 1)
			opts.ip = name;
		else
			opts.host = name;
	}
	if (c->chain != NULL) {
		sk_X509_pop_free(c->chain, X509_free);
		c->chain = NULL;
	}
	if (tunnel_verify(creds->trust, leaf, X509_STORE_CTX_get0_untrusted(xs), &opts,
			  cfg->ocsp ? &c->chain : NULL, &err) < 0) {
		int xe = alert_error(err.code, &r);
		set_reason(c, r, "%s", err.msg);
		X509_STORE_CTX_set_error(xs, xe);
		return 0;
	}
	if (server && !tunnel_allow_match(cfg->allow, cfg->n_allow, leaf)) {
		set_reason(c, R_NOT_ALLOWED,
			   "client certificate %s (serial %s) matches no --allow rule",
			   subject_of(c), serial_of(c));
		X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	c->verified = 1;
	X509_STORE_CTX_set_error(xs, X509_V_OK);
	return 1;
}

/* ---- accept ---- */

static struct conn *conn_new(struct tunnel_worker *w, struct sockaddr *sa)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->w = w;
	c->fd[DOWN] = c->fd[UP] = -1;
	gettimeofday(&c->start, NULL);
	tunnel_format_addr(sa, c->peer, sizeof(c->peer));
	evtimer_assign(&c->timer, w->base, timer_cb, c);
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	w->nconns++;
	return c;
}

void tunnel_conn_accept(struct evconnlistener *l, evutil_socket_t fd,
			struct sockaddr *sa, int salen, void *arg)
{
	struct tunnel_worker *w = arg;
	struct tunnel *t = w->t;
	const struct tunnel_config *cfg = tunnel_config(t);
	struct tunnel_metrics *m = tunnel_metrics(t);
	struct conn *c;
	long active;
	int one = 1;

	(void)l;
	(void)salen;
	atomic_fetch_add_explicit(&m->accepted, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->active, 1, memory_order_relaxed);
	active = tunnel_active_total(t); /* all workers: --max-conns is for the tunnel */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = conn_new(w, sa);
	if (c == NULL) {
		atomic_fetch_sub_explicit(&m->active, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&m->failures[R_INTERNAL], 1, memory_order_relaxed);
		evutil_closesocket(fd);
		return;
	}
	c->fd[DOWN] = fd;
	c->open[DOWN] = 1;
	c->creds = tunnel_creds_current(t);
	c->tside = cfg->mode == TUNNEL_SERVER ? DOWN : UP;
	if (active > cfg->max_conns) {
		set_reason(c, R_CONN_LIMIT, "more than %ld connections open", cfg->max_conns);
		conn_finish(c);
		return;
	}
	c->ssl = SSL_new(c->creds->ctx);
	if (c->ssl == NULL || arm(c, DOWN) < 0) {
		set_reason(c, R_INTERNAL, "out of memory");
		conn_finish(c);
		return;
	}
	SSL_set_app_data(c->ssl, c);
	/* pump() writes from buffers that move and may write part of them;
	 * read-ahead lets one read(2) take a whole flight of records. */
	SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_set_read_ahead(c->ssl, 1);
	timer_arm(c, cfg->handshake_timeout);
	if (cfg->mode == TUNNEL_SERVER) {
		if (SSL_set_fd(c->ssl, fd) != 1) {
			set_reason(c, R_INTERNAL, "cannot attach TLS to the socket");
			conn_finish(c);
			return;
		}
		SSL_set_accept_state(c->ssl);
		/* The ClientHello is usually there already: try at once
		 * rather than after a loop turn. */
		c->ready[DOWN] = RD | WR;
	} else {
		const char *sni = cfg->server_name ? cfg->server_name : tunnel_to_host(t);
		unsigned char ipbuf[16];

		if (inet_pton(AF_INET, sni, ipbuf) != 1 && inet_pton(AF_INET6, sni, ipbuf) != 1)
			SSL_set_tlsext_host_name(c->ssl, sni);
		if (cfg->ocsp) /* ask for a staple (status_request) */
			SSL_set_tlsext_status_type(c->ssl, TLSEXT_STATUSTYPE_ocsp);
		SSL_set_connect_state(c->ssl);
		if (start_connect(c) < 0)
			return;
	}
	drive(c);
}

void tunnel_conn_close_all(struct tunnel_worker *w)
{
	while (w->conns != NULL) {
		struct conn *c = w->conns;
		set_reason(c, R_SHUTDOWN, "closed at the end of the drain period");
		conn_finish(c);
	}
}
