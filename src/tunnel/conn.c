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
 *               only stores a cached timestamp.
 *   CLOSING     one side ended: what the other side still has to send is
 *               flushed, then both are closed (the timer bounds the flush).
 *
 * Relaying is evbuffer_add_buffer (moves chains, no copies).  When the far
 * side's output exceeds HIGH_WM, reading from the near side stops until the
 * output drains below LOW_WM, so memory per connection stays bounded.
 *
 * The certificate-verify callback (tunnel_cert_verify_cb) runs signet's
 * verifier plus the --allow rules inside the handshake, so a refused peer
 * gets a TLS alert, and records the verifier's sentence for the log line.
 *
 * Invariants: a conn is owned by its worker process; conn_finish() is the
 * only place that frees it and it runs exactly once (its callers return
 * right after); every accepted fd is counted in metrics.active until then.
 */
#include "tunnel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/time.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
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

#define HIGH_WM (256 * 1024)
#define LOW_WM (64 * 1024)

enum conn_state { S_HANDSHAKE, S_OCSP, S_CONNECTING, S_RELAY, S_CLOSING };

/* What --ocsp needs per connection, allocated only when it is used, so
 * that an ordinary connection does not carry 416 bytes it never uses. */
struct conn_ocsp {
	char key[160]; /* cache key: issuer fingerprint + serial */
	char url[256];
};

struct conn {
	struct tunnel_worker *w;
	struct tunnel_creds *creds;
	struct bufferevent *down, *up;
	struct bufferevent *tls;   /* whichever of down/up is TLS */
	struct bufferevent *plain; /* and the other one */
	struct event *plain_rd;    /* our own reader of plain's fd, in RELAY */
	int plain_paused;          /* plain_rd held back by the TLS side's output */
	struct event *timer;
	enum conn_state state;
	struct timeval start;
	time_t last_activity;
	uint64_t bytes_in, bytes_out; /* read from / written to `down` */
	enum tunnel_reason reason;
	int verified;
	char *detail;              /* why it was refused or failed (malloc'ed, or NULL) */
	char peer[64];
	char subject[192];
	char serial[72];
	STACK_OF(X509) *chain;     /* --ocsp: the verified path, leaf first */
	struct ocsp_fetch *fetch;  /* --ocsp: the request in flight */
	struct conn_ocsp *ocsp;    /* --ocsp only, from ocsp_begin on */
	const char *ocsp_note;     /* for the log line: good, cached, soft_fail */
	struct conn *prev, *next;
};

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
	       r == R_OCSP_UNKNOWN;
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
	SSL *ssl = c->tls ? bufferevent_openssl_get_ssl(c->tls) : NULL;
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
	quote(subj, sizeof(subj), c->subject);
	quote(det, sizeof(det), c->detail ? c->detail : "");
	tunnel_log("conn tunnel=%s worker=%d peer=%s %s=%s serial=%s tls=%s cipher=%s "
		   "bytes_in=%llu bytes_out=%llu duration=%ld.%03lds outcome=%s%s%s%s%s%s%s",
		   cfg->mode == TUNNEL_SERVER ? "server" : "client", c->w->idx, c->peer,
		   cfg->mode == TUNNEL_SERVER ? "client" : "upstream", subj,
		   c->serial[0] ? c->serial : "-",
		   handshaken ? SSL_get_version(ssl) : "-",
		   handshaken ? SSL_get_cipher_name(ssl) : "-",
		   (unsigned long long)c->bytes_in, (unsigned long long)c->bytes_out,
		   (long)d.tv_sec, (long)(d.tv_usec / 1000), outcome,
		   c->reason != R_NONE ? " reason=" : "",
		   c->reason != R_NONE ? tunnel_reason_name(c->reason) : "",
		   c->detail ? " detail=" : "", c->detail ? det : "",
		   c->ocsp_note ? " ocsp=" : "", c->ocsp_note ? c->ocsp_note : "");
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
	if (c->tls != NULL && c->reason == R_NONE) {
		/* A clean end: say so with close_notify (best effort, the
		 * socket is non-blocking and the output already flushed). */
		SSL *ssl = bufferevent_openssl_get_ssl(c->tls);
		if (ssl != NULL && SSL_is_init_finished(ssl))
			SSL_shutdown(ssl);
		ERR_clear_error();
	}
	tunnel_ocsp_fetch_cancel(c->fetch);
	free(c->ocsp);
	sk_X509_pop_free(c->chain, X509_free);
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->plain_rd != NULL)
		event_free(c->plain_rd); /* before the fd is closed below */
	if (c->down != NULL)
		bufferevent_free(c->down);
	if (c->up != NULL)
		bufferevent_free(c->up);
	tunnel_creds_unref(c->creds);
	free(c->detail);
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

static void touch(struct conn *c)
{
	struct timeval tv;
	event_base_gettimeofday_cached(c->w->base, &tv);
	c->last_activity = tv.tv_sec;
}

static void timer_arm(struct conn *c, double seconds)
{
	struct timeval tv;
	if (seconds <= 0)
		return;
	tv.tv_sec = (time_t)seconds;
	tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
	evtimer_add(c->timer, &tv);
}

static void count(struct conn *c, int from_down, size_t n)
{
	struct tunnel_metrics *m = tunnel_metrics(c->w->t);
	if (from_down) {
		c->bytes_in += n;
		atomic_fetch_add_explicit(&m->bytes_in, n, memory_order_relaxed);
	} else {
		c->bytes_out += n;
		atomic_fetch_add_explicit(&m->bytes_out, n, memory_order_relaxed);
	}
}

static void plain_pause(struct conn *c)
{
	if (c->plain_rd != NULL && !c->plain_paused) {
		event_del(c->plain_rd);
		c->plain_paused = 1;
	}
}

static void conn_close_after_flush(struct conn *c, struct bufferevent *eof_side);

/*
 * The plain side's reader.  libevent 2.1 reads at most 4 KiB per
 * evbuffer_read and per loop iteration, which caps a bulk transfer far
 * below what the crypto allows; here one wakeup reads up to READ_BURST
 * straight into the TLS side's output buffer (no intermediate copy), in
 * 64 KiB reservations that become 16 KiB TLS records.  The first read of a
 * wakeup reserves only READ_FIRST: a small reply (the common case on a
 * kept-alive connection) then costs a 4 KiB chain, not a 64 KiB one that
 * glibc gives back to the kernel and takes again (brk and page faults on
 * every request).  Chain sizes leave room for libevent's chain header,
 * which it adds before rounding the allocation up to a power of two.
 */
#define READ_FIRST (4 * 1024 - 256)
#define READ_CHUNK (64 * 1024 - 256)
#define READ_BURST (256 * 1024)

static void plain_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *out = bufferevent_get_output(c->tls);
	size_t total = 0;

	while (total < READ_BURST) {
		struct evbuffer_iovec v;
		size_t want = total == 0 ? READ_FIRST : READ_CHUNK;
		ssize_t n;
		if (evbuffer_reserve_space(out, (ev_ssize_t)want, &v, 1) < 1)
			break;
		if (v.iov_len > want)
			v.iov_len = want; /* (a larger free tail: still stop at want) */
		n = recv(fd, v.iov_base, v.iov_len, 0);
		if (n > 0) {
			size_t got = (size_t)n;
			v.iov_len = got;
			evbuffer_commit_space(out, &v, 1);
			total += got;
			if (got < want)
				break; /* drained for now */
			continue;
		}
		evbuffer_commit_space(out, &v, 0);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			break;
		if (total > 0)
			count(c, c->plain == c->down, total);
		if (n < 0 && errno != ECONNRESET)
			set_reason(c, R_TLS_ERROR, "%s: %s",
				   c->plain == c->down ? "client side" : "backend side",
				   strerror(errno));
		conn_close_after_flush(c, c->plain); /* EOF or reset */
		return;
	}
	if (total > 0) {
		count(c, c->plain == c->down, total);
		touch(c);
	}
	if (evbuffer_get_length(out) >= HIGH_WM)
		plain_pause(c);
}

/* Moves what `from` has read to `to`, with back pressure.  Towards the
 * plain side, when nothing is queued there, the bytes are written at once:
 * a small request then costs one write(2) instead of arming the write
 * event, waiting a loop turn for it, writing and disarming it (two
 * epoll_ctl calls and a wakeup fewer per request).  Whatever the socket
 * does not take is queued behind, in order, as before. */
static void relay(struct conn *c, struct bufferevent *from, struct bufferevent *to)
{
	struct evbuffer *in = bufferevent_get_input(from);
	struct evbuffer *out = bufferevent_get_output(to);
	size_t n = evbuffer_get_length(in);

	if (n == 0)
		return;
	count(c, from == c->down, n);
	if (to == c->plain && evbuffer_get_length(out) == 0) {
		(void)evbuffer_write(in, bufferevent_getfd(to)); /* errors: the bufferevent sees them */
		if (evbuffer_get_length(in) == 0) {
			touch(c);
			return;
		}
	}
	evbuffer_add_buffer(out, in);
	touch(c);
	if (evbuffer_get_length(out) >= HIGH_WM)
		bufferevent_disable(from, EV_READ);
}

/* One side reached EOF (or we shut down): flush the other, then finish. */
static void conn_close_after_flush(struct conn *c, struct bufferevent *eof_side)
{
	struct bufferevent *other = eof_side == c->down ? c->up : c->down;

	if (c->state == S_RELAY && other != NULL)
		relay(c, eof_side, other);
	c->state = S_CLOSING;
	plain_pause(c);
	if (c->down)
		bufferevent_disable(c->down, EV_READ);
	if (c->up)
		bufferevent_disable(c->up, EV_READ);
	if (other == NULL || evbuffer_get_length(bufferevent_get_output(other)) == 0) {
		conn_finish(c);
		return;
	}
	/* The write callback finishes once the output is empty; the timer
	 * bounds how long a peer that stopped reading can hold us. */
	bufferevent_setwatermark(other, EV_WRITE, 0, 0);
	bufferevent_enable(other, EV_WRITE);
	evtimer_del(c->timer);
	timer_arm(c, 5.0);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	if (c->state != S_RELAY)
		return; /* kept until the other side is ready */
	relay(c, bev, bev == c->down ? c->up : c->down);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct bufferevent *other = bev == c->down ? c->up : c->down;

	if (c->state == S_CLOSING) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			conn_finish(c);
		return;
	}
	if (c->state != S_RELAY || other == NULL)
		return;
	if (other == c->plain) {
		if (c->plain_paused &&
		    evbuffer_get_length(bufferevent_get_output(bev)) <= LOW_WM) {
			c->plain_paused = 0;
			event_add(c->plain_rd, NULL);
		}
	} else if (!(bufferevent_get_enabled(other) & EV_READ)) {
		touch(c);
		bufferevent_enable(other, EV_READ);
	}
}

/* Classifies a failed handshake from the OpenSSL errors of bev. */
static void tls_failure(struct conn *c, struct bufferevent *bev)
{
	unsigned long e, first = 0;
	int sock_err = EVUTIL_SOCKET_ERROR();

	while ((e = bufferevent_get_openssl_error(bev)) != 0)
		if (first == 0)
			first = e;
	if (c->reason != R_NONE)
		return; /* the verify callback already said why */
	if (first == 0) {
		if (bev == c->up && sock_err != 0 && sock_err != EAGAIN)
			set_reason(c, R_BACKEND, "upstream %s: %s", tunnel_to_host(c->w->t),
				   evutil_socket_error_to_string(sock_err));
		else if (sock_err != 0 && sock_err != EAGAIN)
			set_reason(c, R_TLS_ERROR, "%s", evutil_socket_error_to_string(sock_err));
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
	{
		const char *rs = ERR_reason_error_string(first);
		char buf[160];
		if (rs == NULL) {
			ERR_error_string_n(first, buf, sizeof(buf));
			rs = buf;
		}
		set_reason(c, R_TLS_ERROR, "TLS handshake failed: %s", rs);
	}
}

static void start_relay(struct conn *c)
{
	c->state = S_RELAY;
	touch(c);
	evtimer_del(c->timer);
	timer_arm(c, tunnel_config(c->w->t)->idle_timeout);
	bufferevent_setwatermark(c->down, EV_WRITE, LOW_WM, 0);
	bufferevent_setwatermark(c->up, EV_WRITE, LOW_WM, 0);
	bufferevent_setwatermark(c->down, EV_READ, 0, 0);
	bufferevent_set_max_single_write(c->tls, READ_BURST);
	bufferevent_set_max_single_write(c->plain, READ_BURST);
	/* Whatever arrived early goes across now. */
	relay(c, c->down, c->up);
	relay(c, c->up, c->down);
	/* From here the plain side is read by plain_read_cb, not its
	 * bufferevent (which still writes, connects and reports errors). */
	bufferevent_disable(c->plain, EV_READ);
	bufferevent_enable(c->plain, EV_WRITE);
	bufferevent_enable(c->tls, EV_READ | EV_WRITE);
	c->plain_rd = event_new(c->w->base, bufferevent_getfd(c->plain),
				EV_READ | EV_PERSIST, plain_read_cb, c);
	if (c->plain_rd == NULL) {
		set_reason(c, R_INTERNAL, "out of memory");
		conn_finish(c);
		return;
	}
	event_add(c->plain_rd, NULL);
}

static void handshake_done(struct conn *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->tls);
	X509 *peer = SSL_get0_peer_certificate(ssl);

	atomic_fetch_add_explicit(&tunnel_metrics(c->w->t)->handshakes_ok, 1,
				  memory_order_relaxed);
	if (peer == NULL || !c->verified) {
		/* Cannot happen with SSL_VERIFY_PEER and our callback; refuse
		 * rather than trust it. */
		set_reason(c, R_NO_CLIENT_CERT, "no verified peer certificate");
		conn_finish(c);
		return;
	}
}

static void event_cb(struct bufferevent *bev, short what, void *arg);

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

/* Server mode: the client is verified; connect to the backend. */
static void connect_backend(struct conn *c)
{
	struct tunnel *t = c->w->t;
	socklen_t len;
	const struct sockaddr *to = tunnel_to_addr(t, &len);
	SSL *ssl = bufferevent_openssl_get_ssl(c->tls);

	int fd = upstream_socket(to);

	c->state = S_CONNECTING;
	c->up = fd < 0 ? NULL : bufferevent_socket_new(c->w->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->up == NULL) {
		if (fd >= 0)
			evutil_closesocket(fd);
		set_reason(c, R_INTERNAL, "out of memory");
		conn_finish(c);
		return;
	}
	c->plain = c->up;
	bufferevent_setcb(c->up, read_cb, write_cb, event_cb, c);
	if (tunnel_config(t)->proxy_protocol) {
		unsigned char hdr[1024];
		struct sockaddr_storage peer, local; /* asked now: not kept per connection */
		socklen_t pl = sizeof(peer), ll = sizeof(local);
		int n, dfd = bufferevent_getfd(c->down);
		if (getpeername(dfd, (struct sockaddr *)&peer, &pl) < 0 ||
		    getsockname(dfd, (struct sockaddr *)&local, &ll) < 0) {
			set_reason(c, R_TLS_EOF, "client closed before the backend was ready");
			conn_finish(c);
			return;
		}
		n = tunnel_proxy_v2(hdr, sizeof(hdr), (struct sockaddr *)&peer,
					(struct sockaddr *)&local, ssl,
					SSL_get0_peer_certificate(ssl));
		if (n < 0 || bufferevent_write(c->up, hdr, (size_t)n) < 0) {
			set_reason(c, R_INTERNAL, "cannot build the PROXY protocol header");
			conn_finish(c);
			return;
		}
	}
	if (bufferevent_socket_connect(c->up, to, (int)len) < 0) {
		set_reason(c, R_BACKEND, "backend %s: %s", tunnel_to_host(t),
			   evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		conn_finish(c);
	}
}


/* ---- --ocsp: the client certificate's status, between handshake and backend ---- */

/* Leaving S_OCSP: the backend connect gets the handshake deadline afresh. */
static void ocsp_pass(struct conn *c, const char *note)
{
	c->ocsp_note = note;
	if (tunnel_config(c->w->t)->mode == TUNNEL_CLIENT) {
		start_relay(c); /* (re-arms the timer for idleness) */
		return;
	}
	if (c->state == S_OCSP) {
		evtimer_del(c->timer);
		timer_arm(c, tunnel_config(c->w->t)->handshake_timeout);
	}
	connect_backend(c);
}

/* Whose certificate --ocsp asks about, for messages. */
static const char *ocsp_whose(struct conn *c)
{
	return tunnel_config(c->w->t)->mode == TUNNEL_SERVER ? "client" : "upstream";
}

/* cached: 0 fresh from the responder, 1 from the cache, 2 stapled by the upstream. */
static void ocsp_verdict(struct conn *c, const struct ocsp_answer *a, int cached)
{
	if (a->status == SIGNET_OCSP_GOOD) {
		ocsp_pass(c, cached == 2 ? "good_stapled" : cached ? "good_cached" : "good");
		return;
	}
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
			   ocsp_whose(c), c->subject, c->serial, t != 0 ? "at " : "", date,
			   a->reason < 0 ? "no reason given" : signet_reason_name(a->reason),
			   cached == 2 ? " (the response it stapled)" : "");
	} else {
		c->ocsp_note = cached ? "unknown_cached" : "unknown";
		set_reason(c, R_OCSP_UNKNOWN,
			   "the OCSP responder does not know %s certificate %s (serial %s)",
			   ocsp_whose(c), c->subject, c->serial);
	}
	conn_finish(c);
}

/* No answer: refuse, or with --insecure-ocsp-soft-fail allow and say so. */
static void ocsp_unavailable(struct conn *c, const char *why)
{
	struct tunnel *t = c->w->t;

	if (tunnel_config(t)->insecure_ocsp_soft_fail) {
		char subj[256], w[700];
		quote(subj, sizeof(subj), c->subject);
		quote(w, sizeof(w), why);
		atomic_fetch_add_explicit(&tunnel_metrics(t)->ocsp_soft_fails, 1,
					  memory_order_relaxed);
		tunnel_log("ocsp soft-fail worker=%d peer=%s %s=%s serial=%s: allowed "
			   "without a revocation check (--insecure-ocsp-soft-fail): %s",
			   c->w->idx, c->peer, ocsp_whose(c), subj, c->serial, w);
		ocsp_pass(c, "soft_fail");
		return;
	}
	c->ocsp_note = "unavailable";
	set_reason(c, R_OCSP_UNAVAILABLE, "no OCSP answer for %s certificate %s (serial %s): %s",
		   ocsp_whose(c), c->subject, c->serial, why);
	conn_finish(c);
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
		ocsp_unavailable(c, why);
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
		ocsp_unavailable(c, msg);
		return;
	}
	sk_X509_free(above);
	a.status = st.status;
	a.reason = st.reason;
	a.revoked_at = st.revoked_at;
	a.next_update = nu;
	tunnel_ocsp_share(c->w->t, c->ocsp->key, &a);
	ocsp_verdict(c, &a, 0);
}

static void ocsp_begin(struct conn *c)
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
	if (c->ocsp == NULL && (c->ocsp = calloc(1, sizeof(*c->ocsp))) == NULL) {
		ocsp_unavailable(c, "out of memory");
		return;
	}
	if (sk_X509_num(c->chain) < 2) {
		ocsp_unavailable(c, "the certificate is itself the trust anchor; there is no "
				    "issuer to ask about it");
		return;
	}
	if (signet_cert_fingerprint(sk_X509_value(c->chain, 1), fp) < 0) {
		ocsp_unavailable(c, "cannot fingerprint the issuer");
		return;
	}
	snprintf(c->ocsp->key, sizeof(c->ocsp->key), "%s/%s", fp, c->serial);
	/* Client mode: a valid staple from the upstream is the freshest answer. */
	if (cfg->mode == TUNNEL_CLIENT &&
	    tunnel_staple_peer(bufferevent_openssl_get_ssl(c->tls), c->chain, c->creds->ca_certs,
			       c->serial, &a) == 1) {
		tunnel_ocsp_share(t, c->ocsp->key, &a);
		ocsp_verdict(c, &a, 2);
		return;
	}
	if (tunnel_ocsp_cache_get(tunnel_ocsp_cache(t), c->ocsp->key, &a)) {
		atomic_fetch_add_explicit(&tunnel_metrics(t)->ocsp_cache_hits, 1,
					  memory_order_relaxed);
		ocsp_verdict(c, &a, 1);
		return;
	}
	if (cfg->ocsp_url == NULL)
		aia = X509_get1_ocsp(sk_X509_value(c->chain, 0));
	url = cfg->ocsp_url != NULL		  ? cfg->ocsp_url
	      : sk_OPENSSL_STRING_num(aia) > 0 ? sk_OPENSSL_STRING_value(aia, 0)
					       : NULL;
	snprintf(c->ocsp->url, sizeof(c->ocsp->url), "%s", url ? url : "");
	X509_email_free(aia);
	if (url == NULL) {
		ocsp_unavailable(c, "the certificate names no OCSP responder (see --ocsp-url)");
		return;
	}
	if (c->w->fetcher == NULL)
		c->w->fetcher = tunnel_ocsp_fetcher_new(c->w->base, cfg->ocsp_ca);
	if (tunnel_ocsp_request(sk_X509_value(c->chain, 0), sk_X509_value(c->chain, 1), &req,
				&len, &err) == 0)
		c->fetch = tunnel_ocsp_fetch(c->w->fetcher, c->ocsp->url, req, len,
					     cfg->ocsp_timeout, ocsp_answered, c, &err);
	free(req);
	if (c->fetch == NULL) {
		ocsp_unavailable(c, err.msg);
		return;
	}
	atomic_fetch_add_explicit(&tunnel_metrics(t)->ocsp_requests, 1, memory_order_relaxed);
	c->state = S_OCSP;
	evtimer_del(c->timer);
	timer_arm(c, cfg->ocsp_timeout + 1);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	int server = tunnel_config(c->w->t)->mode == TUNNEL_SERVER;

	if (what & BEV_EVENT_CONNECTED) {
		if (bev == c->tls) {
			handshake_done(c);
			if (c->reason != R_NONE)
				return;
			if (tunnel_config(c->w->t)->ocsp)
				ocsp_begin(c);
			else if (server)
				connect_backend(c);
			else
				start_relay(c);
		} else if (server && bev == c->up) {
			start_relay(c);
		}
		return;
	}
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	if (c->state == S_HANDSHAKE && bev == c->tls) {
		tls_failure(c, bev);
		conn_finish(c);
		return;
	}
	if (c->state == S_HANDSHAKE && !server && bev == c->down) {
		/* Local client gave up while we were reaching the upstream. */
		set_reason(c, R_TLS_EOF, "local client closed before the upstream was ready");
		conn_finish(c);
		return;
	}
	if (c->state == S_OCSP) {
		set_reason(c, R_TLS_EOF, "%s",
			   server ? "client closed while its OCSP status was being checked"
			   : bev == c->down
				   ? "local client closed while the upstream's OCSP status was being checked"
				   : "upstream closed while its OCSP status was being checked");
		conn_finish(c);
		return;
	}
	if (c->state == S_CONNECTING && bev == c->up) {
		set_reason(c, R_BACKEND, "backend %s: %s", tunnel_to_host(c->w->t),
			   evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		conn_finish(c);
		return;
	}
	if (c->state == S_CONNECTING) {
		set_reason(c, R_TLS_EOF, "client closed before the backend was ready");
		conn_finish(c);
		return;
	}
	if ((what & BEV_EVENT_ERROR) && c->state != S_CLOSING) {
		/* A reset or TLS error mid-stream.  What arrived intact before
		 * it is still delivered to the other side. */
		int e = EVUTIL_SOCKET_ERROR();
		unsigned long ossl = bev == c->tls ? bufferevent_get_openssl_error(bev) : 0;
		if (ossl != 0) {
			set_reason(c, R_TLS_ERROR, "TLS error: %s",
				   ERR_reason_error_string(ossl) ? ERR_reason_error_string(ossl)
								 : "unknown");
			while (bufferevent_get_openssl_error(bev) != 0)
				;
		} else if (e != ECONNRESET && e != EPIPE) {
			/* (a reset is a normal, if abrupt, end for many protocols) */
			set_reason(c, R_TLS_ERROR, "%s: %s",
				   bev == c->down ? "client side" : "upstream side",
				   evutil_socket_error_to_string(e));
		}
		conn_close_after_flush(c, bev);
		return;
	}
	if (c->state == S_CLOSING) {
		conn_finish(c); /* the side we were flushing to went away */
		return;
	}
	conn_close_after_flush(c, bev);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	const struct tunnel_config *cfg = tunnel_config(c->w->t);
	struct timeval now;

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
		ocsp_unavailable(c, why);
		return;
	}
	case S_CONNECTING:
		set_reason(c, R_BACKEND, "backend %s did not accept within %.1fs",
			   tunnel_to_host(c->w->t), cfg->handshake_timeout);
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

static void record_peer(struct conn *c, X509 *leaf)
{
	{
		BIO *b = BIO_new(BIO_s_mem());
		char *p = NULL;
		long n;
		if (b != NULL) {
			X509_NAME_print_ex(b, X509_get_subject_name(leaf), 0,
					   XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
			n = BIO_get_mem_data(b, &p);
			if (n > 0) {
				size_t m = (size_t)n < sizeof(c->subject) - 1
						   ? (size_t)n
						   : sizeof(c->subject) - 1;
				memcpy(c->subject, p, m);
				c->subject[m] = '\0';
			}
			BIO_free(b);
		}
	}
	signet_serial_hex(X509_get0_serialNumber(leaf), c->serial, sizeof(c->serial));
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
		*r = R_REVOKED;
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
			   c->subject, c->serial);
		X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	c->verified = 1;
	X509_STORE_CTX_set_error(xs, X509_V_OK);
	return 1;
}

static struct conn *conn_new(struct tunnel_worker *w, int fd, struct sockaddr *sa,
			     int salen)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->w = w;
	gettimeofday(&c->start, NULL);
	tunnel_format_addr(sa, c->peer, sizeof(c->peer));
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
	SSL *ssl = NULL;
	long active;
	int one = 1;

	atomic_fetch_add_explicit(&m->accepted, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->active, 1, memory_order_relaxed);
	active = tunnel_active_total(t); /* all workers: --max-conns is for the tunnel */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = conn_new(w, fd, sa, salen);
	if (c == NULL) {
		atomic_fetch_sub_explicit(&m->active, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&m->failures[R_INTERNAL], 1, memory_order_relaxed);
		evutil_closesocket(fd);
		return;
	}
	c->creds = tunnel_creds_current(t);
	if (active > cfg->max_conns) {
		set_reason(c, R_CONN_LIMIT, "more than %ld connections open", cfg->max_conns);
		evutil_closesocket(fd);
		conn_finish(c);
		return;
	}
	c->timer = evtimer_new(w->base, timer_cb, c);
	ssl = SSL_new(c->creds->ctx);
	if (c->timer == NULL || ssl == NULL) {
		SSL_free(ssl);
		evutil_closesocket(fd);
		set_reason(c, R_INTERNAL, "out of memory");
		conn_finish(c);
		return;
	}
	SSL_set_app_data(ssl, c);
	if (cfg->mode == TUNNEL_SERVER) {
		c->down = bufferevent_openssl_socket_new(w->base, fd, ssl,
							 BUFFEREVENT_SSL_ACCEPTING,
							 BEV_OPT_CLOSE_ON_FREE);
		if (c->down == NULL) {
			evutil_closesocket(fd); /* ssl freed by libevent on failure */
			set_reason(c, R_INTERNAL, "out of memory");
			conn_finish(c);
			return;
		}
		c->tls = c->down;
		bufferevent_openssl_set_allow_dirty_shutdown(c->down, 1);
		bufferevent_setcb(c->down, read_cb, write_cb, event_cb, c);
		/* Early data waits in the input, bounded, until the backend is up. */
		bufferevent_setwatermark(c->down, EV_READ, 0, HIGH_WM);
		bufferevent_enable(c->down, EV_READ | EV_WRITE);
	} else {
		socklen_t len;
		const struct sockaddr *to = tunnel_to_addr(t, &len);
		const char *sni = cfg->server_name ? cfg->server_name : tunnel_to_host(t);
		unsigned char ipbuf[16];

		c->down = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
		if (c->down == NULL) {
			SSL_free(ssl);
			evutil_closesocket(fd);
			set_reason(c, R_INTERNAL, "out of memory");
			conn_finish(c);
			return;
		}
		c->plain = c->down;
		bufferevent_setcb(c->down, read_cb, write_cb, event_cb, c);
		bufferevent_setwatermark(c->down, EV_READ, 0, HIGH_WM);
		bufferevent_enable(c->down, EV_READ);
		if (inet_pton(AF_INET, sni, ipbuf) != 1 && inet_pton(AF_INET6, sni, ipbuf) != 1)
			SSL_set_tlsext_host_name(ssl, sni);
		if (cfg->ocsp) /* ask for a staple (status_request) */
			SSL_set_tlsext_status_type(ssl, TLSEXT_STATUSTYPE_ocsp);
		int ufd = upstream_socket(to);
		c->up = ufd < 0 ? NULL
				: bufferevent_openssl_socket_new(w->base, ufd, ssl,
								 BUFFEREVENT_SSL_CONNECTING,
								 BEV_OPT_CLOSE_ON_FREE);
		if (c->up == NULL) {
			if (ufd >= 0)
				evutil_closesocket(ufd);
			else
				SSL_free(ssl);
			set_reason(c, R_INTERNAL, "out of memory");
			conn_finish(c);
			return;
		}
		c->tls = c->up;
		bufferevent_openssl_set_allow_dirty_shutdown(c->up, 1);
		bufferevent_setcb(c->up, read_cb, write_cb, event_cb, c);
		if (bufferevent_socket_connect(c->up, to, (int)len) < 0) {
			set_reason(c, R_BACKEND, "upstream %s: %s", tunnel_to_host(t),
				   evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
			conn_finish(c);
			return;
		}
	}
	timer_arm(c, cfg->handshake_timeout);
}

void tunnel_conn_close_all(struct tunnel_worker *w)
{
	while (w->conns != NULL) {
		struct conn *c = w->conns;
		set_reason(c, R_SHUTDOWN, "closed at the end of the drain period");
		conn_finish(c);
	}
}
