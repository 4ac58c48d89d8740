/*
 * ocsp_server.c - the OCSP responder: HTTP/1.1 on libevent worker loops.
 *
 * Threads.  One event loop per worker thread, each with its own listening
 * socket on the same address (SO_REUSEPORT: the kernel spreads
 * connections), so workers share nothing on the request path.  The main
 * thread owns the database connection: every poll_ms it asks the database
 * for its data version (PRAGMA data_version moves when any other process
 * commits, e.g. `signet revoke`) and, when it moved or the snapshot is a
 * quarter of a response lifetime old, rebuilds the snapshot and publishes
 * it.
 *
 * Snapshot.  An immutable index of every certificate the issuer signed
 * (serial -> good/revoked, time, reason): a dense array of 40-byte entries
 * plus an open-addressing table of 32-bit indices, ~45 MB for a million
 * certificates.  Workers take a reference under a mutex only when the
 * generation number changes, so the per-request cost is one atomic load.
 * Each entry carries a lock-free list of signed responses (one per CertID
 * hash) filled lazily: the first request for a serial signs, later ones
 * copy bytes.  A response lives no longer than its snapshot, and a
 * snapshot no longer than a quarter of the response validity, so cached
 * answers are always fresh; a revocation replaces the snapshot, and with it
 * every cached answer, within one poll interval.  Requests with a nonce,
 * several CertIDs or an unknown serial are signed per request.
 *
 * HTTP.  A deliberately small HTTP/1.1 server: POST with a body
 * (Content-Length only) or GET with the base64 request in the path,
 * pipelining and keep-alive, requests bounded at 8 KiB of head and 8 KiB of
 * body.  Timeouts: a request must arrive whole within request_timeout of
 * its first byte (one byte a second does not keep a connection alive), an
 * idle keep-alive connection closes after idle_timeout, and a worker holds
 * at most max_conns connections.  Bad HTTP gets a 4xx and the connection
 * closes; a bad OCSP request gets an OCSP error status (malformedRequest,
 * unauthorized) with HTTP 200, as RFC 6960 asks.
 */
#include "ocsp_server.h"

#include "listen.h"
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signet/buf.h>
#include <signet/cert.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEAD 8192
#define MAX_BODY 8192
#define IN_INITIAL 2048

/* ---- snapshot ---------------------------------------------------------- */

struct cached {
	struct cached *next;
	int hash;
	size_t len;
	unsigned char der[];
};

struct ent {
	_Atomic(struct cached *) cache;
	unsigned char serial[20];
	uint8_t len, status, reason, pad;
	uint32_t revoked_at;
};

struct snap {
	atomic_int refs;
	struct ent *ents;
	size_t n, cap;
	uint32_t *slots; /* 0: empty, else index + 1 */
	size_t nslots;
	int64_t built;
};

static uint64_t hash_serial(const unsigned char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 1099511628211ULL;
	return h ^ (h >> 29);
}

/*
 * The index arrays (40 bytes and 5 per certificate: 45 MB for a million)
 * are mapped, not malloc'ed: they grow with mremap, without a copy and
 * without old and new side by side, and go back to the kernel when a
 * snapshot is freed, whatever the allocator keeps for itself (tcmalloc,
 * which signet-net links, keeps freed memory and copies on realloc).
 */
static void *map_resize(void *p, size_t old, size_t size)
{
	void *q = p == NULL ? mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				   -1, 0)
			    : mremap(p, old, size, MREMAP_MAYMOVE);
	return q == MAP_FAILED ? NULL : q;
}

static void map_free(void *p, size_t size)
{
	if (p != NULL)
		munmap(p, size);
}

static void snap_free(struct snap *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++) {
		struct cached *c = atomic_load(&s->ents[i].cache);
		while (c != NULL) {
			struct cached *next = c->next;
			free(c);
			c = next;
		}
	}
	map_free(s->ents, s->cap * sizeof(*s->ents));
	map_free(s->slots, s->nslots * sizeof(*s->slots));
	free(s);
}

static void snap_release(struct snap *s)
{
	if (s != NULL && atomic_fetch_sub(&s->refs, 1) == 1)
		snap_free(s);
}

static struct ent *snap_find(const struct snap *s, const unsigned char *serial, size_t len)
{
	size_t i;
	if (s == NULL || s->nslots == 0)
		return NULL;
	while (len > 1 && *serial == 0)
		serial++, len--;
	if (len > sizeof(s->ents[0].serial))
		return NULL;
	i = (size_t)(hash_serial(serial, len) % s->nslots);
	for (;;) {
		uint32_t v = s->slots[i];
		struct ent *e;
		if (v == 0)
			return NULL;
		e = &s->ents[v - 1];
		if (e->len == len && memcmp(e->serial, serial, len) == 0)
			return e;
		if (++i == s->nslots)
			i = 0;
	}
}


static int snap_add(const struct signet_record *r, void *ctx)
{
	struct snap *s = ctx;
	struct ent *e;
	unsigned char sb[sizeof(e->serial)];
	int sn = signet_serial_to_bytes(r->serial, sb, sizeof(sb));

	if (sn <= 0)
		return 0; /* not a serial we can be asked about */
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap + s->cap / 2 : 1024;
		struct ent *ne = map_resize(s->ents, s->cap * sizeof(*ne), cap * sizeof(*ne));
		if (ne == NULL)
			return 1;
		s->ents = ne;
		s->cap = cap;
	}
	e = &s->ents[s->n];
	memset(e, 0, sizeof(*e));
	memcpy(e->serial, sb, (size_t)sn);
	e->len = (uint8_t)sn;
	if (r->status == SIGNET_STATUS_REVOKED) {
		e->status = SIGNET_OCSP_REVOKED;
		e->reason = (uint8_t)(r->reason < 0 ? 0 : r->reason);
		e->revoked_at = (uint32_t)(r->revoked_at > 0 ? r->revoked_at : 0);
	} else {
		e->status = SIGNET_OCSP_GOOD;
	}
	s->n++;
	return 0;
}

static struct snap *snap_build(struct signet_db *db, const char *issuer_id, struct signet_err *err)
{
	struct signet_db_filter f = { .status = -1, .issuer = issuer_id, .now = 0 };
	struct snap *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		signet_err_set(err, SIGNET_E_INTERNAL, "out of memory");
		return NULL;
	}
	atomic_init(&s->refs, 1);
	if (signet_db_list(db, &f, snap_add, s, err) != 0) {
		if (err->code == SIGNET_OK)
			signet_err_set(err, SIGNET_E_INTERNAL, "out of memory indexing certificates");
		goto fail;
	}
	s->nslots = s->n + s->n / 3 + 64;
	s->slots = map_resize(NULL, 0, s->nslots * sizeof(*s->slots)); /* zeroed */
	if (s->slots == NULL) {
		s->nslots = 0;
		signet_err_set(err, SIGNET_E_INTERNAL, "out of memory indexing certificates");
		goto fail;
	}
	for (size_t k = 0; k < s->n; k++) {
		size_t i = (size_t)(hash_serial(s->ents[k].serial, s->ents[k].len) % s->nslots);
		while (s->slots[i] != 0)
			if (++i == s->nslots)
				i = 0;
		s->slots[i] = (uint32_t)(k + 1);
	}
	s->built = (int64_t)time(NULL);
	return s;
fail:
	snap_free(s);
	return NULL;
}

static int snap_lookup(void *ctx, const unsigned char *serial, size_t len,
		       struct signet_ocsp_status *out)
{
	const struct ent *e = snap_find(ctx, serial, len);
	out->status = SIGNET_OCSP_UNKNOWN;
	out->revoked_at = 0;
	out->reason = -1;
	if (e != NULL) {
		out->status = e->status;
		if (e->status == SIGNET_OCSP_REVOKED) {
			out->revoked_at = e->revoked_at;
			out->reason = e->reason;
		}
	}
	return 0;
}

/* ---- server state ------------------------------------------------------ */

struct worker;

struct conn {
	struct worker *w;
	struct conn *prev, *next;
	int fd;
	struct event *rev, *wev, *tmr;
	char *in;
	size_t in_len, in_cap;
	struct signet_buf out; /* replies not yet sent */
	size_t out_off;
	int closing, in_request, paused;
};

struct server {
	const struct ocsp_server_opts *o;
	pthread_mutex_t mu;
	struct snap *cur;
	atomic_uint_fast64_t gen;
	struct worker *workers;
	int nworkers;
	struct event_base *main;
	int64_t dbver;
	int have_dbver;
};

/* A worker's memo of request bytes -> cached response, so a repeated
 * request (the common case: clients ask again and again about the same
 * certificate) skips even the DER parse.  Valid for one generation. */
#define MEMO_SLOTS 4096
#define MEMO_REQ_MAX 256
struct memo {
	uint_fast64_t gen;
	const struct cached *resp;
	size_t len;
	unsigned char req[MEMO_REQ_MAX];
};

struct worker {
	struct server *srv;
	struct memo *memo;
	struct event_base *base;
	int lfd;
	struct event *lev;
	pthread_t th;
	struct snap *snap;
	uint_fast64_t gen;
	int nconns;
	struct conn *conns;
};

static void worker_snap(struct worker *w)
{
	struct server *srv = w->srv;
	struct snap *s;
	if (atomic_load(&srv->gen) == w->gen && w->snap != NULL)
		return;
	pthread_mutex_lock(&srv->mu);
	s = srv->cur;
	if (s != NULL)
		atomic_fetch_add(&s->refs, 1);
	w->gen = atomic_load(&srv->gen);
	pthread_mutex_unlock(&srv->mu);
	snap_release(w->snap);
	w->snap = s;
}

/* ---- connections ------------------------------------------------------- */

static void conn_free(struct conn *c)
{
	struct worker *w = c->w;
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	w->nconns--;
	if (c->rev)
		event_free(c->rev);
	if (c->wev)
		event_free(c->wev);
	if (c->tmr)
		event_free(c->tmr);
	close(c->fd);
	free(c->in);
	signet_buf_free(&c->out);
	free(c);
}

static void arm_timer(struct conn *c, int seconds)
{
	struct timeval tv = { seconds, 0 };
	event_add(c->tmr, &tv);
}

static void http_reply(struct conn *c, int code, const char *reason, const unsigned char *body,
		       size_t len, const char *ctype)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s\r\n", code,
			 reason, ctype, len, c->closing ? "Connection: close\r\n" : "");
	if (signet_buf_append(&c->out, head, (size_t)n, 0) < 0 ||
	    signet_buf_append(&c->out, body, len, 0) < 0)
		c->closing = 1;
}

static void http_error(struct conn *c, int code, const char *reason)
{
	c->closing = 1;
	http_reply(c, code, reason, (const unsigned char *)reason, strlen(reason), "text/plain");
}

/* Answers one OCSP request (DER) on connection c. */
static void answer(struct conn *c, const unsigned char *der, size_t len)
{
	struct worker *w = c->w;
	const struct signet_ocsp_responder *rsp = w->srv->o->rsp;
	struct signet_ocsp_request q;
	struct signet_err err = { 0 };
	unsigned char *out = NULL;
	size_t out_len = 0;
	struct ent *e = NULL;
	struct memo *m = NULL;
	const struct cached *hit = NULL;

	worker_snap(w);
	if (w->memo != NULL && len > 0 && len <= MEMO_REQ_MAX) {
		m = &w->memo[hash_serial(der, len) % MEMO_SLOTS];
		if (m->resp != NULL && m->gen == w->gen && m->len == len &&
		    memcmp(m->req, der, len) == 0) {
			http_reply(c, 200, "OK", m->resp->der, m->resp->len,
				   "application/ocsp-response");
			return;
		}
	}
	signet_ocsp_request_parse(rsp, der, len, &q);
	if (q.error != 0) {
		const unsigned char *d = signet_ocsp_error_der(rsp, q.error, &out_len);
		http_reply(c, 200, "OK", d, out_len, "application/ocsp-response");
		goto out;
	}
	if (q.cacheable && (e = snap_find(w->snap, q.serial, q.serial_len)) != NULL) {
		for (struct cached *k = atomic_load(&e->cache); k != NULL; k = k->next)
			if (k->hash == q.hash) {
				http_reply(c, 200, "OK", k->der, k->len, "application/ocsp-response");
				hit = k;
				goto out;
			}
	}
	if (signet_ocsp_answer(rsp, &q, snap_lookup, w->snap, (int64_t)time(NULL), &out, &out_len,
			       &err) < 0) {
		const unsigned char *d =
			signet_ocsp_error_der(rsp, OCSP_RESPONSE_STATUS_INTERNALERROR, &out_len);
		http_reply(c, 200, "OK", d, out_len, "application/ocsp-response");
		goto out;
	}
	http_reply(c, 200, "OK", out, out_len, "application/ocsp-response");
	if (e != NULL) {
		/* Publish for the next asker; a racing worker's copy is as good. */
		struct cached *k = malloc(sizeof(*k) + out_len), *head;
		if (k != NULL) {
			k->hash = q.hash;
			k->len = out_len;
			memcpy(k->der, out, out_len);
			head = atomic_load(&e->cache);
			do
				k->next = head;
			while (!atomic_compare_exchange_weak(&e->cache, &head, k));
			hit = k;
		}
	}
out:
	if (m != NULL && hit != NULL) {
		m->gen = w->gen;
		m->resp = hit;
		m->len = len;
		memcpy(m->req, der, len);
	}
	OPENSSL_free(out);
	signet_ocsp_request_clear(&q);
}

/* Percent-decodes and base64-decodes a GET path into der. */
static int get_decode(const char *path, size_t plen, unsigned char *der, size_t cap, size_t *len)
{
	char tmp[MAX_HEAD];
	size_t j = 0;
	EVP_ENCODE_CTX *ctx;
	int n1 = 0, n2 = 0, ok;

	while (plen > 0 && *path == '/')
		path++, plen--;
	for (size_t i = 0; i < plen && j < sizeof(tmp); i++) {
		if (path[i] == '%' && i + 2 < plen && signet_hex_digit(path[i + 1]) >= 0 &&
		    signet_hex_digit(path[i + 2]) >= 0) {
			tmp[j++] = (char)(signet_hex_digit(path[i + 1]) << 4 | signet_hex_digit(path[i + 2]));
			i += 2;
		} else {
			tmp[j++] = path[i];
		}
	}
	if (j == 0 || (j * 3) / 4 + 3 > cap)
		return -1;
	ctx = EVP_ENCODE_CTX_new();
	if (ctx == NULL)
		return -1;
	EVP_DecodeInit(ctx);
	ok = EVP_DecodeUpdate(ctx, der, &n1, (const unsigned char *)tmp, (int)j) >= 0 &&
	     EVP_DecodeFinal(ctx, der + n1, &n2) == 1;
	EVP_ENCODE_CTX_free(ctx);
	if (!ok)
		return -1;
	*len = (size_t)(n1 + n2);
	return 0;
}

static int header_is(const char *line, size_t n, const char *name)
{
	size_t k = strlen(name);
	return n > k && line[k] == ':' && strncasecmp(line, name, k) == 0;
}

/* Parses and answers one request from c->in; returns the bytes consumed,
 * 0 when the request is incomplete, -1 when the connection must close
 * (an error reply has been queued). */
static long handle_one(struct conn *c)
{
	char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
	char *line, *eol, *sp1, *sp2, *hend;
	size_t head_len, body_len = 0;
	int keep, post, have_cl = 0;

	if (end == NULL) {
		if (c->in_len >= MAX_HEAD) {
			http_error(c, 431, "Request Header Fields Too Large");
			return -1;
		}
		return 0;
	}
	head_len = (size_t)(end - c->in) + 4;
	if (head_len > MAX_HEAD) {
		http_error(c, 431, "Request Header Fields Too Large");
		return -1;
	}
	hend = end + 2;
	eol = memmem(c->in, head_len, "\r\n", 2);
	sp1 = memchr(c->in, ' ', (size_t)(eol - c->in));
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
	if (sp1 == NULL || sp2 == NULL || eol - sp2 != 9 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
		http_error(c, 400, "Bad Request");
		return -1;
	}
	keep = sp2[8] == '1';
	if (sp1 - c->in == 4 && memcmp(c->in, "POST", 4) == 0) {
		post = 1;
	} else if (sp1 - c->in == 3 && memcmp(c->in, "GET", 3) == 0) {
		post = 0;
	} else {
		http_error(c, 405, "Method Not Allowed");
		return -1;
	}
	for (line = eol + 2; line < hend; line = eol + 2) {
		size_t n;
		eol = memmem(line, (size_t)(hend + 2 - line), "\r\n", 2);
		n = (size_t)(eol - line);
		if (header_is(line, n, "content-length")) {
			char *v = line + 15, *e;
			unsigned long long cl;
			while (*v == ' ' || *v == '\t')
				v++;
			if (*v < '0' || *v > '9') {
				http_error(c, 400, "Bad Request");
				return -1;
			}
			cl = strtoull(v, &e, 10);
			while (e < eol && (*e == ' ' || *e == '\t'))
				e++;
			if (e != eol || (have_cl && cl != body_len)) {
				http_error(c, 400, "Bad Request");
				return -1;
			}
			if (cl > MAX_BODY) {
				http_error(c, 413, "Content Too Large");
				return -1;
			}
			body_len = (size_t)cl;
			have_cl = 1;
		} else if (header_is(line, n, "transfer-encoding")) {
			http_error(c, 501, "Not Implemented");
			return -1;
		} else if (header_is(line, n, "connection")) {
			if (memmem(line, n, "close", 5) != NULL)
				keep = 0;
			else if (memmem(line, n, "eep-alive", 9) != NULL)
				keep = 1;
		}
	}
	if (post && !have_cl) {
		http_error(c, 411, "Length Required");
		return -1;
	}
	if (!post)
		body_len = 0;
	if (c->in_len < head_len + body_len)
		return 0;
	if (!keep)
		c->closing = 1;
	if (post) {
		answer(c, (const unsigned char *)c->in + head_len, body_len);
	} else {
		unsigned char der[MAX_HEAD];
		size_t len = 0;
		if (get_decode(sp1 + 1, (size_t)(sp2 - sp1 - 1), der, sizeof(der), &len) < 0)
			answer(c, NULL, 0); /* malformedRequest */
		else
			answer(c, der, len);
	}
	return (long)(head_len + body_len);
}

static void conn_flush(struct conn *c);

static void conn_process(struct conn *c)
{
	long used;
	while (!c->closing && c->in_len > 0 && (used = handle_one(c)) != 0) {
		if (used < 0)
			break;
		memmove(c->in, c->in + used, c->in_len - (size_t)used);
		c->in_len -= (size_t)used;
		c->in_request = 0;
	}
	if (!c->closing) {
		if (c->in_len == 0) {
			c->in_request = 0;
			arm_timer(c, c->w->srv->o->idle_timeout);
		} else if (!c->in_request) {
			/* The deadline starts at a request's first byte, once. */
			c->in_request = 1;
			arm_timer(c, c->w->srv->o->request_timeout);
		}
	}
	conn_flush(c);
}

static void conn_flush(struct conn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/* Back-pressure: stop reading until the peer drains. */
			if (!c->paused) {
				event_del(c->rev);
				event_add(c->wev, NULL);
				arm_timer(c, c->w->srv->o->request_timeout);
				c->paused = 1;
			}
			return;
		}
		conn_free(c);
		return;
	}
	c->out_off = c->out.len = 0;
	if (c->closing) {
		conn_free(c);
		return;
	}
	if (c->paused) {
		c->paused = 0;
		event_del(c->wev);
		event_add(c->rev, NULL);
		if (c->in_len > 0) {
			conn_process(c);
			return;
		}
		arm_timer(c, c->w->srv->o->idle_timeout);
	}
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	ssize_t n;

	if (c->in_len == c->in_cap) {
		size_t cap = c->in_cap * 2;
		char *ni;
		if (cap > MAX_HEAD + MAX_BODY)
			cap = MAX_HEAD + MAX_BODY;
		if (cap == c->in_cap || (ni = realloc(c->in, cap)) == NULL) {
			http_error(c, 413, "Content Too Large");
			conn_flush(c);
			return;
		}
		c->in = ni;
		c->in_cap = cap;
	}
	n = recv(fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
		conn_free(c);
		return;
	}
	if (n < 0)
		return;
	c->in_len += (size_t)n;
	conn_process(c);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	conn_flush(arg);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	conn_free(arg);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct worker *w = arg;
	for (int k = 0; k < 64; k++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
		struct conn *c;
		if (fd < 0)
			return;
		if (w->nconns >= w->srv->o->max_conns) {
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = calloc(1, sizeof(*c));
		if (c == NULL || (c->in = malloc(IN_INITIAL)) == NULL) {
			free(c);
			close(fd);
			continue;
		}
		c->w = w;
		c->fd = fd;
		c->in_cap = IN_INITIAL;
		c->rev = event_new(w->base, fd, EV_READ | EV_PERSIST, on_read, c);
		c->wev = event_new(w->base, fd, EV_WRITE | EV_PERSIST, on_write, c);
		c->tmr = evtimer_new(w->base, on_timeout, c);
		c->next = w->conns;
		if (w->conns)
			w->conns->prev = c;
		w->conns = c;
		w->nconns++;
		if (c->rev == NULL || c->wev == NULL || c->tmr == NULL) {
			conn_free(c);
			continue;
		}
		event_add(c->rev, NULL);
		arm_timer(c, w->srv->o->request_timeout);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	event_base_dispatch(w->base);
	return NULL;
}

/* ---- main thread: listening, polling, signals --------------------------- */

static int listen_on(const char *addr, int first, struct signet_err *err)
{
	char host[256];
	const char *colon = strrchr(addr, ':');
	struct sockaddr_in sa;
	long port;
	char *e;
	int fd, one = 1;

	if (colon == NULL || (size_t)(colon - addr) >= sizeof(host))
		return signet_err_set(err, SIGNET_E_USAGE,
				      "--listen takes IPv4-ADDRESS:PORT, not '%s'", addr);
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	port = strtol(colon + 1, &e, 10);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (*e != '\0' || colon[1] == '\0' ||
	    inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host,
		      &sa.sin_addr) != 1)
		return signet_err_set(err, SIGNET_E_USAGE,
				      "--listen takes IPv4-ADDRESS:PORT, not '%s'", addr);
	if (port < 1 || port > 65535)
		return signet_err_set(err, SIGNET_E_USAGE,
				      "--listen '%s': the port must be 1 to 65535 (OCSP URLs in "
				      "certificates name a fixed port)", addr);
	/* The first socket: a plain bind first (listen.h). */
	if (first && net_port_is_free((const struct sockaddr *)&sa, sizeof(sa), addr, err) < 0)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return signet_err_set(err, SIGNET_E_NET, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 1024) != 0) {
		signet_err_set(err, SIGNET_E_NET, "cannot listen on %s: %s", addr, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void publish(struct server *srv, struct snap *s)
{
	struct snap *old;
	pthread_mutex_lock(&srv->mu);
	old = srv->cur;
	srv->cur = s;
	atomic_fetch_add(&srv->gen, 1);
	pthread_mutex_unlock(&srv->mu);
	snap_release(old);
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct signet_err err = { 0 };
	int64_t v = 0, age_max = signet_ocsp_responder_validity(srv->o->rsp) / 4;
	int changed = 1;
	struct snap *s;

	if (signet_db_data_version(srv->o->db, &v, &err) == 0) {
		changed = !srv->have_dbver || v != srv->dbver;
		srv->dbver = v;
		srv->have_dbver = 1;
	}
	if (!changed && (int64_t)time(NULL) - srv->cur->built < age_max)
		return;
	s = snap_build(srv->o->db, srv->o->issuer_id, &err);
	if (s == NULL) {
		fprintf(stderr, "signet ocsp: cannot refresh the certificate index: %s\n", err.msg);
		return;
	}
	publish(srv, s);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	event_base_loopbreak(srv->main);
}

/* SIGHUP, a daemon's "reload": the index is built again from the database
 * now, not at the next poll (and the process does not die of it). */
static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	srv->have_dbver = 0;
	on_poll(-1, 0, srv);
}

int ocsp_server_run(const struct ocsp_server_opts *in, struct signet_err *err)
{
	struct ocsp_server_opts o = *in;
	struct server srv;
	struct event *ev_int = NULL, *ev_term = NULL, *ev_hup = NULL, *ev_poll = NULL;
	struct timeval tv;
	struct snap *first = NULL;
	int rc = -1, started = 0;
	int64_t v = 0;

	memset(&srv, 0, sizeof(srv));
	if (o.threads <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		o.threads = n > 0 ? (int)(n > 64 ? 64 : n) : 1;
	}
	if (o.poll_ms <= 0)
		o.poll_ms = 1000;
	if (o.request_timeout <= 0)
		o.request_timeout = 10;
	if (o.idle_timeout <= 0)
		o.idle_timeout = 30;
	if (o.max_conns <= 0)
		o.max_conns = 4096;
	srv.o = &o;
	pthread_mutex_init(&srv.mu, NULL);
	atomic_init(&srv.gen, 1);
	ENSURE(evthread_use_pthreads() == 0, err, SIGNET_E_INTERNAL,
	       "libevent has no thread support");

	if (signet_db_data_version(o.db, &v, err) == 0) {
		srv.dbver = v;
		srv.have_dbver = 1;
	}
	TRYP(first = snap_build(o.db, o.issuer_id, err));
	srv.cur = first;

	srv.workers = calloc((size_t)o.threads, sizeof(*srv.workers));
	ENSURE(srv.workers != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	for (int i = 0; i < o.threads; i++) {
		struct worker *w = &srv.workers[i];
		w->srv = &srv;
		w->lfd = -1;
		w->memo = calloc(MEMO_SLOTS, sizeof(*w->memo)); /* optional: NULL disables */
		srv.nworkers++;
		w->base = event_base_new();
		ENSURE(w->base != NULL, err, SIGNET_E_INTERNAL, "cannot create an event loop");
		TRY(w->lfd = listen_on(o.listen, i == 0, err));
		w->lev = event_new(w->base, w->lfd, EV_READ | EV_PERSIST, on_accept, w);
		ENSURE(w->lev != NULL && event_add(w->lev, NULL) == 0, err, SIGNET_E_INTERNAL,
		       "cannot watch the listening socket");
	}
	srv.main = event_base_new();
	ENSURE(srv.main != NULL, err, SIGNET_E_INTERNAL, "cannot create an event loop");
	ev_int = evsignal_new(srv.main, SIGINT, on_signal, &srv);
	ev_term = evsignal_new(srv.main, SIGTERM, on_signal, &srv);
	ev_hup = evsignal_new(srv.main, SIGHUP, on_hup, &srv);
	ev_poll = event_new(srv.main, -1, EV_PERSIST, on_poll, &srv);
	tv.tv_sec = o.poll_ms / 1000;
	tv.tv_usec = (o.poll_ms % 1000) * 1000;
	ENSURE(ev_int && ev_term && ev_hup && ev_poll && event_add(ev_int, NULL) == 0 &&
		       event_add(ev_term, NULL) == 0 && event_add(ev_hup, NULL) == 0 &&
		       event_add(ev_poll, &tv) == 0,
	       err, SIGNET_E_INTERNAL, "cannot set up signal handling");
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < o.threads; i++) {
		ENSURE(pthread_create(&srv.workers[i].th, NULL, worker_main, &srv.workers[i]) == 0,
		       err, SIGNET_E_INTERNAL, "cannot start a worker thread");
		started++;
	}
	if (o.ready != NULL)
		o.ready(o.listen, first->n, o.ready_arg);
	event_base_dispatch(srv.main);
	rc = 0;
out:
	for (int i = 0; i < started; i++) {
		event_base_loopbreak(srv.workers[i].base);
		pthread_join(srv.workers[i].th, NULL);
	}
	for (int i = 0; i < srv.nworkers; i++) {
		struct worker *w = &srv.workers[i];
		while (w->conns != NULL)
			conn_free(w->conns);
		snap_release(w->snap);
		free(w->memo);
		if (w->lev)
			event_free(w->lev);
		if (w->lfd >= 0)
			close(w->lfd);
		if (w->base)
			event_base_free(w->base);
	}
	free(srv.workers);
	if (ev_int)
		event_free(ev_int);
	if (ev_term)
		event_free(ev_term);
	if (ev_hup)
		event_free(ev_hup);
	if (ev_poll)
		event_free(ev_poll);
	if (srv.main)
		event_base_free(srv.main);
	snap_release(srv.cur);
	pthread_mutex_destroy(&srv.mu);
	return rc;
}
