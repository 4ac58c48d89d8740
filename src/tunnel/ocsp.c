/*
 * ocsp.c - the tunnel's OCSP plumbing: asynchronous HTTP requests to a
 * responder, and the answer cache shared by the workers.
 *
 * Fetching.  One libevent evhttp connection per request, on the caller's
 * event_base, with its own timeout and a resolver (evdns) of that base, so
 * neither the connect, nor the name lookup, nor the wait for the answer
 * blocks the loop.  POST, without a nonce: answers are then the same for
 * every asker and may be cached here and by the responder.  http:// or
 * https://; for https the connection's bufferevent is a
 * bufferevent_openssl (evhttp_connection_base_bufferevent_new) whose SSL
 * comes from libsignet's OCSP TLS (signet_ocsp_tls_ssl_new: SNI, and the
 * responder's certificate checked by signet_verify for the URL's host
 * under --ocsp-ca or the system store), so the handshake is as
 * non-blocking as the rest.  The TLS context is built on a fetcher's first
 * https request (loading the anchors once) and kept with the fetcher.  Parsing and checking
 * the answer is the OCSP unit's job (signet_ocsp_check_response), not this
 * file's.  Connections are not left to evhttp's free-on-completion (libevent
 * 2.1 skips it when the connect fails): a finished fetch goes on its
 * loop's fetcher's `done` list and is freed by a reaper event right after
 * the callback, or when the fetcher is freed; a cancel (the waiting
 * connection went away) frees the connection at once, without calling back.
 *
 * Caching.  A chained hash table of at most `max` answers, keyed by the
 * issuer's SHA-256 fingerprint and the serial, each kept until the
 * nextUpdate of the signed response it came from (answers without one are
 * not cached).  One mutex: a lookup is a hash and a short chain walk, once
 * per connection, far from the relay's hot path.  When full, expired
 * entries are dropped first, then the one expiring soonest.
 */
#include "tunnel.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/http.h>
#include <openssl/ocsp.h>
#include <signet/ocsp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OCSP_MAX_BODY (64 * 1024)

struct ocsp_fetcher {
	struct event_base *base;
	struct evdns_base *dns;
	const char *tls_ca;          /* borrowed: --ocsp-ca, or NULL */
	struct signet_ocsp_tls *tls; /* made on the first https:// request */
	struct event *reap;
	struct ocsp_fetch *done; /* finished, to be freed outside their callbacks */
};

struct ocsp_fetch {
	struct ocsp_fetcher *fr;
	struct ocsp_fetch *next_done;
	struct evhttp_connection *evcon;
	struct evhttp_request *req; /* NULL once the request has ended */
	ocsp_fetch_cb cb;
	void *arg;
	int https;
	char url[512];
};

static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ocsp_fetcher *fr = arg;
	while (fr->done != NULL) {
		struct ocsp_fetch *f = fr->done;
		fr->done = f->next_done;
		evhttp_connection_free(f->evcon);
		free(f);
	}
}

struct ocsp_fetcher *tunnel_ocsp_fetcher_new(struct event_base *base, const char *tls_ca)
{
	struct ocsp_fetcher *fr = calloc(1, sizeof(*fr));
	if (fr == NULL)
		return NULL;
	fr->base = base;
	fr->tls_ca = tls_ca;
	/* Without a usable resolv.conf, a resolver without nameservers still
	 * handles numeric addresses, and fails names quickly. */
	fr->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
					       EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (fr->dns == NULL)
		fr->dns = evdns_base_new(base, 0);
	fr->reap = event_new(base, -1, 0, reap_cb, fr);
	if (fr->reap == NULL) {
		tunnel_ocsp_fetcher_free(fr);
		return NULL;
	}
	return fr;
}

void tunnel_ocsp_fetcher_free(struct ocsp_fetcher *fr)
{
	if (fr == NULL)
		return;
	reap_cb(-1, 0, fr);
	if (fr->reap != NULL)
		event_free(fr->reap);
	if (fr->dns != NULL)
		evdns_base_free(fr->dns, 0);
	signet_ocsp_tls_free(fr->tls);
	free(fr);
}

/* Why signet's verifier refused an https responder's certificate, or NULL. */
static const char *tls_refusal(struct ocsp_fetch *f)
{
	struct bufferevent *bev = f->https ? evhttp_connection_get_bufferevent(f->evcon) : NULL;
	return bev != NULL ? signet_ocsp_tls_refusal(bufferevent_openssl_get_ssl(bev)) : NULL;
}

/* Called by evhttp once per request, also when it failed (req NULL, or a
 * response code of 0). */
static void fetch_done(struct evhttp_request *req, void *arg)
{
	struct ocsp_fetch *f = arg;
	char why[600];
	int code = req != NULL ? evhttp_request_get_response_code(req) : 0;

	f->req = NULL; /* evhttp frees the request after this callback */
	f->next_done = f->fr->done;
	f->fr->done = f;
	event_active(f->fr->reap, EV_TIMEOUT, 0);
	if ((req == NULL || code == 0) && tls_refusal(f) != NULL) {
		snprintf(why, sizeof(why), "OCSP responder %s: its TLS certificate is not "
			 "acceptable: %s", f->url, tls_refusal(f));
	} else if (req == NULL || code == 0) {
		snprintf(why, sizeof(why), "OCSP responder %s did not answer", f->url);
	} else if (code != 200) {
		snprintf(why, sizeof(why), "OCSP responder %s answered HTTP %d", f->url, code);
	} else {
		struct evbuffer *b = evhttp_request_get_input_buffer(req);
		size_t len = evbuffer_get_length(b);
		unsigned char *der = len > 0 ? evbuffer_pullup(b, (ev_ssize_t)len) : NULL;
		if (der == NULL) {
			snprintf(why, sizeof(why), "OCSP responder %s sent an empty answer",
				 f->url);
		} else {
			f->cb(f->arg, der, len, NULL);
			return;
		}
	}
	f->cb(f->arg, NULL, 0, why);
}

struct ocsp_fetch *tunnel_ocsp_fetch(struct ocsp_fetcher *fr, const char *url,
				     const unsigned char *der, size_t len,
				     double timeout, ocsp_fetch_cb cb, void *arg,
				     struct signet_err *err)
{
	struct ocsp_fetch *f = calloc(1, sizeof(*f));
	char *host = NULL, *port = NULL, *path = NULL;
	struct evkeyvalq *h;
	struct timeval tv;
	int ssl = 0, ok = 0, portnum;

	ENSURE(fr != NULL && f != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	f->fr = fr;
	snprintf(f->url, sizeof(f->url), "%s", url);
	f->cb = cb;
	f->arg = arg;
	ENSURE_OSSL(OSSL_HTTP_parse_url(url, &ssl, NULL, &host, &port, &portnum, &path, NULL,
					NULL) == 1,
		    err, SIGNET_E_USAGE, "OCSP responder '%s' is not a URL", url);
	if (ssl) {
		struct bufferevent *bev;
		SSL *s;
		if (fr->tls == NULL && (fr->tls = signet_ocsp_tls_new(fr->tls_ca, err)) == NULL) {
			signet_err_prefix(err, "OCSP responder %s: cannot set up TLS", url);
			goto out;
		}
		s = signet_ocsp_tls_ssl_new(fr->tls, host, err);
		TRYP(s);
		/* The bufferevent owns s from here, also when it fails. */
		bev = bufferevent_openssl_socket_new(fr->base, -1, s, BUFFEREVENT_SSL_CONNECTING,
						     BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		ENSURE(bev != NULL, err, SIGNET_E_INTERNAL, "out of memory");
		/* Responders often close without close_notify after the answer,
		 * which has its Content-Length anyway. */
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
		f->evcon = evhttp_connection_base_bufferevent_new(fr->base, fr->dns, bev, host,
								  (unsigned short)portnum);
		if (f->evcon == NULL)
			bufferevent_free(bev);
		f->https = 1;
	} else {
		f->evcon = evhttp_connection_base_new(fr->base, fr->dns, host,
						      (unsigned short)portnum);
	}
	ENSURE(f->evcon != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	tv.tv_sec = (time_t)timeout;
	tv.tv_usec = (suseconds_t)((timeout - (double)tv.tv_sec) * 1e6);
	evhttp_connection_set_timeout_tv(f->evcon, &tv);
	evhttp_connection_set_retries(f->evcon, 0);
	evhttp_connection_set_max_body_size(f->evcon, OCSP_MAX_BODY);
	evhttp_connection_set_max_headers_size(f->evcon, 16 * 1024);
	f->req = evhttp_request_new(fetch_done, f);
	ENSURE(f->req != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	h = evhttp_request_get_output_headers(f->req);
	evhttp_add_header(h, "Host", host);
	evhttp_add_header(h, "Content-Type", "application/ocsp-request");
	evhttp_add_header(h, "Accept", "application/ocsp-response");
	evhttp_add_header(h, "Connection", "close");
	ENSURE(evbuffer_add(evhttp_request_get_output_buffer(f->req), der, len) == 0, err,
	       SIGNET_E_INTERNAL, "out of memory");
	if (evhttp_make_request(f->evcon, f->req, EVHTTP_REQ_POST,
				path != NULL && *path ? path : "/") != 0) {
		f->req = NULL; /* freed by evhttp_make_request on failure */
		signet_err_set(err, SIGNET_E_NET, "OCSP responder %s: cannot send the request",
			       url);
		goto out;
	}
	ok = 1;
out:
	OPENSSL_free(host);
	OPENSSL_free(port);
	OPENSSL_free(path);
	ERR_clear_error();
	if (!ok && f != NULL) {
		if (f->req != NULL)
			evhttp_request_free(f->req);
		if (f->evcon != NULL)
			evhttp_connection_free(f->evcon);
		free(f);
		f = NULL;
	}
	return f;
}

void tunnel_ocsp_fetch_cancel(struct ocsp_fetch *f)
{
	if (f == NULL)
		return;
	/* Frees the pending request too, without calling back. */
	evhttp_connection_free(f->evcon);
	free(f);
}

int tunnel_ocsp_request(X509 *cert, X509 *issuer, unsigned char **der, size_t *len,
			struct signet_err *err)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	OCSP_CERTID *id = OCSP_cert_to_id(NULL, cert, issuer);
	unsigned char *p = NULL;
	int n, rc = -1;

	*der = NULL;
	ENSURE_OSSL(req != NULL && id != NULL && OCSP_request_add0_id(req, id) != NULL, err,
		    SIGNET_E_INTERNAL, "cannot build the OCSP request");
	id = NULL; /* owned by req */
	n = i2d_OCSP_REQUEST(req, &p);
	ENSURE_OSSL(n > 0, err, SIGNET_E_INTERNAL, "cannot encode the OCSP request");
	*der = malloc((size_t)n);
	ENSURE(*der != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	memcpy(*der, p, (size_t)n);
	*len = (size_t)n;
	rc = 0;
out:
	OPENSSL_free(p);
	OCSP_CERTID_free(id);
	OCSP_REQUEST_free(req);
	ERR_clear_error();
	return rc;
}

/* ---- the cache ---- */

struct cache_entry {
	struct cache_entry *next;
	struct ocsp_answer a;
	char key[];
};

struct ocsp_cache {
	pthread_mutex_t lock;
	size_t max, n, nbuckets;
	struct cache_entry **buckets;
};

static size_t hash(const char *s)
{
	size_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

struct ocsp_cache *tunnel_ocsp_cache_new(size_t max)
{
	struct ocsp_cache *oc = calloc(1, sizeof(*oc));
	if (oc == NULL)
		return NULL;
	oc->max = max > 0 ? max : 1;
	oc->nbuckets = 64;
	while (oc->nbuckets < oc->max && oc->nbuckets < (1u << 20))
		oc->nbuckets *= 2;
	oc->buckets = calloc(oc->nbuckets, sizeof(*oc->buckets));
	if (oc->buckets == NULL) {
		free(oc);
		return NULL;
	}
	pthread_mutex_init(&oc->lock, NULL);
	return oc;
}

void tunnel_ocsp_cache_free(struct ocsp_cache *oc)
{
	if (oc == NULL)
		return;
	for (size_t i = 0; i < oc->nbuckets; i++) {
		struct cache_entry *e = oc->buckets[i], *n;
		for (; e != NULL; e = n) {
			n = e->next;
			free(e);
		}
	}
	free(oc->buckets);
	pthread_mutex_destroy(&oc->lock);
	free(oc);
}

int tunnel_ocsp_cache_get(struct ocsp_cache *oc, const char *key, struct ocsp_answer *a)
{
	struct cache_entry **pp, *e;
	int found = 0;
	int64_t now = (int64_t)time(NULL);

	pthread_mutex_lock(&oc->lock);
	pp = &oc->buckets[hash(key) & (oc->nbuckets - 1)];
	while ((e = *pp) != NULL) {
		if (strcmp(e->key, key) == 0) {
			if (e->a.next_update > now) {
				*a = e->a;
				found = 1;
			} else { /* stale: forget it, ask again */
				*pp = e->next;
				free(e);
				oc->n--;
			}
			break;
		}
		pp = &e->next;
	}
	pthread_mutex_unlock(&oc->lock);
	return found;
}

/* Makes room for one entry; lock held. */
static void evict(struct ocsp_cache *oc, int64_t now)
{
	struct cache_entry **victim = NULL;

	for (size_t i = 0; i < oc->nbuckets; i++) {
		struct cache_entry **pp = &oc->buckets[i], *e;
		while ((e = *pp) != NULL) {
			if (e->a.next_update <= now) {
				*pp = e->next;
				free(e);
				oc->n--;
				continue;
			}
			if (victim == NULL || e->a.next_update < (*victim)->a.next_update)
				victim = pp;
			pp = &e->next;
		}
	}
	if (oc->n >= oc->max && victim != NULL) {
		struct cache_entry *e = *victim;
		*victim = e->next;
		free(e);
		oc->n--;
	}
}

void tunnel_ocsp_cache_put(struct ocsp_cache *oc, const char *key, const struct ocsp_answer *a)
{
	size_t klen = strlen(key);
	int64_t now = (int64_t)time(NULL);
	struct cache_entry **pp, *e, *n;

	if (a->next_update <= now)
		return; /* no nextUpdate: nothing to keep it until */
	n = malloc(sizeof(*n) + klen + 1);
	if (n == NULL)
		return;
	n->a = *a;
	memcpy(n->key, key, klen + 1);
	pthread_mutex_lock(&oc->lock);
	pp = &oc->buckets[hash(key) & (oc->nbuckets - 1)];
	for (; (e = *pp) != NULL; pp = &e->next) {
		if (strcmp(e->key, key) == 0) { /* a fresher answer replaces it */
			*pp = e->next;
			free(e);
			oc->n--;
			break;
		}
	}
	if (oc->n >= oc->max)
		evict(oc, now);
	pp = &oc->buckets[hash(key) & (oc->nbuckets - 1)];
	n->next = *pp;
	*pp = n;
	oc->n++;
	pthread_mutex_unlock(&oc->lock);
}
