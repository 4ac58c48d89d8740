/*
 * staple.c - OCSP stapling of the server's own certificate.
 *
 * The loop given to tunnel_staple_new (each worker process's) keeps one
 * signed OCSP response for the certificate in use: fetched from --staple-url or the certificate's AIA responder with
 * the same asynchronous request as the client checks (ocsp.c), checked by
 * signet_ocsp_check_response against the issuer (found after the leaf in
 * --cert, or in --client-ca), and refreshed half-way to its nextUpdate (at
 * most an hour later; 10 s after a failure).  A failed refresh keeps the
 * previous response until its own nextUpdate, so a responder hiccup never
 * removes a valid staple.  Without a responder nothing is stapled.  An
 * "unknown" answer is not stapled (retried); "revoked" is, as it is true.
 *
 * Handshakes only read: tunnel_staple_status_cb copies the DER under `lock`
 * into the SSL (OpenSSL takes ownership of the copy), and only when the
 * handshake's certificate is the one the response is for and the response
 * is still within its validity.  A reload that changes the certificate
 * drops the old response at once and fetches anew.
 *
 * The other side of stapling, for the client tunnel with --ocsp:
 * tunnel_staple_peer checks the response the upstream stapled (asked for
 * with status_request in conn.c) against the verified path, exactly as an
 * answer fetched from the responder is checked, so a valid staple spares
 * the request and a stapled "revoked" refuses the upstream.
 */
#include "tunnel.h"

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>
#include <signet/cert.h>
#include <signet/ocsp.h>
#include <stdlib.h>
#include <string.h>

#define STAPLE_RETRY 10
#define STAPLE_MAX_REFRESH 3600

struct tunnel_staple {
	struct tunnel *t;
	struct event_base *base;
	struct ocsp_fetcher *fetcher;
	struct event *timer;
	struct ocsp_fetch *fetch;
	/* the owning loop only: what we fetch for */
	X509 *issuer;
	STACK_OF(X509) *trust;
	char *url;
	/* shared with the workers, under lock */
	pthread_mutex_t lock;
	X509 *cert;
	unsigned char *der;
	size_t len;
	int64_t next_update; /* 0: none given */
};

static void clear_response(struct tunnel_staple *s)
{
	pthread_mutex_lock(&s->lock);
	free(s->der);
	s->der = NULL;
	s->len = 0;
	s->next_update = 0;
	pthread_mutex_unlock(&s->lock);
	atomic_store(&tunnel_metrics(s->t)->staple_next_update, 0);
}

static void clear_target(struct tunnel_staple *s)
{
	tunnel_ocsp_fetch_cancel(s->fetch);
	s->fetch = NULL;
	if (s->timer != NULL)
		evtimer_del(s->timer);
	clear_response(s);
	pthread_mutex_lock(&s->lock);
	X509_free(s->cert);
	s->cert = NULL;
	pthread_mutex_unlock(&s->lock);
	X509_free(s->issuer);
	s->issuer = NULL;
	sk_X509_pop_free(s->trust, X509_free);
	s->trust = NULL;
	free(s->url);
	s->url = NULL;
}

static void schedule(struct tunnel_staple *s, long secs)
{
	struct timeval tv = { secs > 0 ? secs : 1, 0 };
	evtimer_add(s->timer, &tv);
}

static void fetched(void *arg, const unsigned char *der, size_t len, const char *why)
{
	struct tunnel_staple *s = arg;
	struct signet_ocsp_status st;
	struct signet_err err;
	int64_t nu = 0, now = (int64_t)time(NULL);
	unsigned char *copy;
	long next;

	s->fetch = NULL;
	signet_err_clear(&err);
	if (der == NULL) {
		tunnel_log("staple: %s; retrying in %ds", why, STAPLE_RETRY);
		schedule(s, STAPLE_RETRY);
		return;
	}
	if (signet_ocsp_check_response(der, len, s->cert, s->issuer, s->trust, NULL, &st, &nu,
				       &err) < 0 ||
	    (copy = malloc(len)) == NULL) {
		tunnel_log("staple: the answer of %s is not usable: %s; retrying in %ds", s->url,
			   err.msg[0] ? err.msg : "out of memory", STAPLE_RETRY);
		schedule(s, STAPLE_RETRY);
		return;
	}
	if (st.status == SIGNET_OCSP_UNKNOWN) {
		/* (e.g. a certificate issued moments ago, before the responder's
		 * next poll): stapling "unknown" would only alarm clients. */
		free(copy);
		tunnel_log("staple: %s does not know our certificate (yet); retrying in %ds",
			   s->url, STAPLE_RETRY);
		schedule(s, STAPLE_RETRY);
		return;
	}
	memcpy(copy, der, len);
	pthread_mutex_lock(&s->lock);
	free(s->der);
	s->der = copy;
	s->len = len;
	s->next_update = nu;
	pthread_mutex_unlock(&s->lock);
	atomic_store(&tunnel_metrics(s->t)->staple_next_update, (long long)nu);
	next = nu > now ? (long)((nu - now) / 2) : 300;
	if (next > STAPLE_MAX_REFRESH)
		next = STAPLE_MAX_REFRESH;
	tunnel_log("staple: OCSP response from %s (status %s, next update in %llds); "
		   "refreshing in %lds", s->url,
		   st.status == SIGNET_OCSP_GOOD ? "good" : "revoked",
		   (long long)(nu > now ? nu - now : 0), next);
	schedule(s, next);
}

static void refresh_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel_staple *s = arg;
	struct signet_err err;
	unsigned char *req = NULL;
	size_t len = 0;

	signet_err_clear(&err);
	if (s->fetch != NULL || s->cert == NULL)
		return;
	if (tunnel_ocsp_request(s->cert, s->issuer, &req, &len, &err) == 0)
		s->fetch = tunnel_ocsp_fetch(s->fetcher, s->url, req, len,
					     tunnel_config(s->t)->ocsp_timeout, fetched, s, &err);
	free(req);
	if (s->fetch == NULL) {
		tunnel_log("staple: %s; retrying in %ds", err.msg, STAPLE_RETRY);
		schedule(s, STAPLE_RETRY);
	}
}

struct tunnel_staple *tunnel_staple_new(struct tunnel *t, struct event_base *base)
{
	struct tunnel_staple *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->t = t;
	s->base = base;
	pthread_mutex_init(&s->lock, NULL);
	s->timer = evtimer_new(base, refresh_cb, s);
	s->fetcher = tunnel_ocsp_fetcher_new(base, tunnel_config(t)->ocsp_ca);
	if (s->timer == NULL || s->fetcher == NULL) {
		tunnel_staple_free(s);
		return NULL;
	}
	return s;
}

void tunnel_staple_free(struct tunnel_staple *s)
{
	if (s == NULL)
		return;
	clear_target(s);
	if (s->timer != NULL)
		event_free(s->timer);
	tunnel_ocsp_fetcher_free(s->fetcher);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* The issuer of leaf among certs, or NULL. */
static X509 *find_issuer(STACK_OF(X509) *certs, X509 *leaf)
{
	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);
		if (x != leaf && X509_check_issued(x, leaf) == X509_V_OK)
			return x;
	}
	return NULL;
}

void tunnel_staple_update(struct tunnel_staple *s, struct tunnel_creds *creds)
{
	const struct tunnel_config *cfg = creds->cfg;
	X509 *leaf = sk_X509_value(creds->certs, 0), *issuer;
	STACK_OF(X509) *cas = NULL, *trust = NULL;
	STACK_OF(OPENSSL_STRING) *aia = NULL;
	struct signet_err err;
	const char *url;

	if (s == NULL || leaf == NULL)
		return;
	if (s->cert != NULL && X509_cmp(s->cert, leaf) == 0)
		return; /* same certificate: the current response and schedule stand */
	clear_target(s);
	signet_err_clear(&err);
	aia = X509_get1_ocsp(leaf);
	url = cfg->staple_url != NULL ? cfg->staple_url
	      : sk_OPENSSL_STRING_num(aia) > 0 ? sk_OPENSSL_STRING_value(aia, 0)
					       : NULL;
	if (url == NULL)
		goto out; /* the CA has no responder: nothing to staple */
	cas = signet_certs_load(cfg->ca_file, &err);
	trust = sk_X509_new_null();
	if (trust == NULL)
		goto out;
	for (int i = 1; i < sk_X509_num(creds->certs); i++)
		if (X509_up_ref(sk_X509_value(creds->certs, i)) &&
		    sk_X509_push(trust, sk_X509_value(creds->certs, i)) <= 0)
			X509_free(sk_X509_value(creds->certs, i));
	for (int i = 0; i < sk_X509_num(cas); i++)
		if (X509_up_ref(sk_X509_value(cas, i)) &&
		    sk_X509_push(trust, sk_X509_value(cas, i)) <= 0)
			X509_free(sk_X509_value(cas, i));
	issuer = find_issuer(trust, leaf);
	if (issuer == NULL) {
		tunnel_log("staple: not stapling: the issuer of %s is neither after it in that "
			   "file nor in %s", cfg->cert_file, cfg->ca_file);
		goto out;
	}
	s->url = strdup(url);
	if (s->url == NULL || !X509_up_ref(issuer) || !X509_up_ref(leaf))
		goto out; /* (out of memory: leaves stapling off) */
	s->issuer = issuer;
	s->trust = trust;
	trust = NULL;
	pthread_mutex_lock(&s->lock);
	s->cert = leaf;
	pthread_mutex_unlock(&s->lock);
	refresh_cb(-1, 0, s);
out:
	sk_X509_pop_free(trust, X509_free);
	sk_X509_pop_free(cas, X509_free);
	X509_email_free(aia);
	ERR_clear_error();
}

int tunnel_staple_status_cb(SSL *ssl, void *arg)
{
	struct tunnel_creds *creds = arg;
	struct tunnel_staple *s = creds->t != NULL ? tunnel_staple(creds->t) : NULL;
	X509 *ours = SSL_get_certificate(ssl);
	unsigned char *copy = NULL;
	size_t len = 0;

	if (s == NULL || ours == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	pthread_mutex_lock(&s->lock);
	if (s->der != NULL && s->cert != NULL && X509_cmp(s->cert, ours) == 0 &&
	    (s->next_update == 0 || s->next_update > (int64_t)time(NULL))) {
		copy = OPENSSL_malloc(s->len);
		if (copy != NULL) {
			memcpy(copy, s->der, s->len);
			len = s->len;
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (copy == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	if (SSL_set_tlsext_status_ocsp_resp(ssl, copy, (long)len) != 1) {
		OPENSSL_free(copy);
		return SSL_TLSEXT_ERR_NOACK;
	}
	return SSL_TLSEXT_ERR_OK;
}

int tunnel_staple_peer(SSL *ssl, STACK_OF(X509) *chain, STACK_OF(X509) *ca_certs,
		       const char *serial, struct ocsp_answer *a)
{
	const unsigned char *der = NULL;
	long len = SSL_get_tlsext_status_ocsp_resp(ssl, &der);
	STACK_OF(X509) *above = NULL;
	struct signet_ocsp_status st;
	struct signet_err err;
	int64_t nu = 0;
	int ok = 0;

	if (der == NULL || len <= 0 || sk_X509_num(chain) < 2)
		return 0; /* nothing stapled (or no issuer to check it against) */
	signet_err_clear(&err);
	/* As for a fetched answer: the signer's chain must end at a
	 * self-signed root, in the path or in the CA file. */
	above = sk_X509_new_null();
	for (int i = 1; above != NULL && i < sk_X509_num(chain); i++)
		sk_X509_push(above, sk_X509_value(chain, i));
	for (int i = 0; above != NULL && i < sk_X509_num(ca_certs); i++)
		sk_X509_push(above, sk_X509_value(ca_certs, i));
	if (above == NULL || sk_X509_num(above) < sk_X509_num(chain) - 1) {
		signet_err_set(&err, SIGNET_E_INTERNAL, "out of memory");
		goto out;
	}
	if (signet_ocsp_check_response(der, (size_t)len, sk_X509_value(chain, 0),
				       sk_X509_value(chain, 1), above, NULL, &st, &nu, &err) < 0)
		goto out;
	if (st.status == SIGNET_OCSP_UNKNOWN) {
		signet_err_set(&err, SIGNET_E_REVUNKNOWN, "it says \"unknown\"");
		goto out;
	}
	a->status = st.status;
	a->reason = st.reason;
	a->revoked_at = st.revoked_at;
	a->next_update = nu;
	ok = 1;
out:
	if (!ok && err.msg[0] != '\0')
		tunnel_log("ocsp: the OCSP response stapled by the upstream for its certificate "
			   "(serial %s) is not usable: %s; asking the responder", serial, err.msg);
	sk_X509_free(above);
	ERR_clear_error();
	return ok;
}
