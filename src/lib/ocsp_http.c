/*
 * ocsp_http.c - the client side's way to a responder: one HTTP POST of a
 * DER OCSP request, over http:// or https://.
 *
 * `signet ocsp check` and the verifier's --ocsp share signet_ocsp_fetch
 * (blocking, OpenSSL's OSSL_HTTP_transfer); the tunnel drives its own
 * non-blocking requests on libevent but takes its TLS from here
 * (signet_ocsp_tls_*), so every https responder is checked the same way.
 *
 * OCSP answers are signed, so TLS does not make an answer more true; it
 * hides which certificates are asked about and is what operators put in
 * front of responders anyway.  When a URL says https, the responder's TLS
 * certificate is checked like any peer of signet: by signet's verifier
 * (signet_verify, run from OpenSSL's certificate-verify callback) for
 * serverAuth, with the URL's host as the name it must carry (a DNS name,
 * or an IP address against IP SANs), against the anchors of one file or
 * directory given by the caller, else the system store.  The verifier's
 * sentence is kept with the SSL (ex data) so a refusal says why, not just
 * "certificate verify failed".  TLS 1.2 is the minimum.
 */
#include <signet/ocsp.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/http.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signet/buf.h>
#include <signet/verify.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_RESPONSE (1 << 20)

struct signet_ocsp_tls {
	SSL_CTX *ctx;
	struct signet_trust *trust; /* read-only once built; shared by its SSLs */
};

/* What one SSL must prove, and why it did not. */
struct tls_peer {
	char host[256];
	int is_ip;
	char refusal[SIGNET_ERR_MSG_MAX]; /* empty: not refused by the verifier */
};

static int peer_idx = -1;
static pthread_once_t peer_once = PTHREAD_ONCE_INIT;

static void peer_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
		      void *argp)
{
	free(ptr);
}

static void peer_index_init(void)
{
	peer_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, peer_free);
}

static int tls_verify_cb(X509_STORE_CTX *xs, void *arg)
{
	struct signet_ocsp_tls *t = arg;
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tls_peer *p = ssl != NULL && peer_idx >= 0 ? SSL_get_ex_data(ssl, peer_idx) : NULL;
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);
	struct signet_verify_opts o;
	struct signet_err err;

	if (p == NULL || leaf == NULL) {
		X509_STORE_CTX_set_error(xs, X509_V_ERR_UNSPECIFIED);
		return 0;
	}
	memset(&o, 0, sizeof(o));
	signet_err_clear(&err);
	o.purpose = SIGNET_PURPOSE_SERVER;
	o.max_depth = -1;
	if (p->is_ip)
		o.ip = p->host;
	else
		o.host = p->host;
	if (signet_verify(t->trust, leaf, X509_STORE_CTX_get0_untrusted(xs), &o, NULL, &err) <
	    0) {
		snprintf(p->refusal, sizeof(p->refusal), "%s", err.msg);
		X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_REJECTED);
		return 0;
	}
	X509_STORE_CTX_set_error(xs, X509_V_OK);
	return 1;
}

struct signet_ocsp_tls *signet_ocsp_tls_new(const char *ca, struct signet_err *err)
{
	struct signet_ocsp_tls *t = calloc(1, sizeof(*t));
	int ok = 0;

	ENSURE(t != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	pthread_once(&peer_once, peer_index_init);
	ENSURE(peer_idx >= 0, err, SIGNET_E_INTERNAL, "out of memory");
	TRYP(t->trust = signet_trust_new(err));
	if (signet_trust_load(t->trust, ca != NULL ? ca : "system", err) < 0) {
		if (ca == NULL)
			signet_err_prefix(err, "the system's CA store");
		goto out;
	}
	t->ctx = SSL_CTX_new(TLS_client_method());
	ENSURE_OSSL(t->ctx != NULL && SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION) == 1,
		    err, SIGNET_E_INTERNAL, "cannot set up TLS");
	SSL_CTX_set_options(t->ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
	/* signet's verifier replaces OpenSSL's chain check entirely. */
	SSL_CTX_set_cert_verify_callback(t->ctx, tls_verify_cb, t);
	ok = 1;
out:
	ERR_clear_error();
	if (!ok) {
		signet_ocsp_tls_free(t);
		t = NULL;
	}
	return t;
}

void signet_ocsp_tls_free(struct signet_ocsp_tls *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	signet_trust_free(t->trust);
	free(t);
}

SSL *signet_ocsp_tls_ssl_new(struct signet_ocsp_tls *t, const char *host, struct signet_err *err)
{
	SSL *ssl = SSL_new(t->ctx);
	struct tls_peer *p = calloc(1, sizeof(*p));
	unsigned char ip[16];
	size_t n = strlen(host);

	if (ssl == NULL || p == NULL) {
		free(p);
		SSL_free(ssl);
		signet_err_ossl(err, SIGNET_E_INTERNAL, "out of memory");
		return NULL;
	}
	/* OSSL_HTTP_parse_url leaves IPv6 literals in brackets. */
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
		snprintf(p->host, sizeof(p->host), "%.*s", (int)(n - 2), host + 1);
	else
		snprintf(p->host, sizeof(p->host), "%s", host);
	p->is_ip = inet_pton(AF_INET, p->host, ip) == 1 || inet_pton(AF_INET6, p->host, ip) == 1;
	if (SSL_set_ex_data(ssl, peer_idx, p) != 1) {
		free(p);
		SSL_free(ssl);
		signet_err_ossl(err, SIGNET_E_INTERNAL, "out of memory");
		return NULL;
	}
	/* SNI carries names only (RFC 6066); an IP address is matched all the same. */
	if (!p->is_ip && SSL_set_tlsext_host_name(ssl, p->host) != 1) {
		SSL_free(ssl); /* frees p */
		signet_err_ossl(err, SIGNET_E_USAGE, "'%s' is not a usable host name", host);
		return NULL;
	}
	SSL_set_connect_state(ssl);
	return ssl;
}

const char *signet_ocsp_tls_refusal(const SSL *ssl)
{
	const struct tls_peer *p =
		ssl != NULL && peer_idx >= 0 ? SSL_get_ex_data(ssl, peer_idx) : NULL;
	return p != NULL && p->refusal[0] != '\0' ? p->refusal : NULL;
}

/* ---- the blocking fetch ---- */

struct fetch_tls {
	struct signet_ocsp_tls *tls;
	const char *host;
	struct signet_err *err; /* where a failure to set up is told */
	char refusal[SIGNET_ERR_MSG_MAX];
	int tls_failed;          /* the TLS layer could not even be set up */
};

/* OSSL_HTTP's hook: on connect, puts an SSL BIO in front of the TCP one;
 * on disconnect, takes it off again (keeping the verifier's sentence). */
static BIO *tls_bio_cb(BIO *bio, void *arg, int connect, int detail)
{
	struct fetch_tls *ft = arg;

	if (connect && detail) {
		BIO *sbio = BIO_new(BIO_f_ssl());
		SSL *ssl;
		if (sbio == NULL) {
			ft->tls_failed = 1;
			return NULL;
		}
		ssl = signet_ocsp_tls_ssl_new(ft->tls, ft->host, ft->err);
		if (ssl == NULL) {
			BIO_free(sbio);
			ft->tls_failed = 1;
			return NULL;
		}
		BIO_set_ssl(sbio, ssl, BIO_CLOSE);
		return BIO_push(sbio, bio);
	}
	if (!connect && ft->tls != NULL) {
		SSL *ssl = NULL;
		BIO *next;
		if (BIO_get_ssl(bio, &ssl) > 0 && ssl != NULL) {
			const char *r = signet_ocsp_tls_refusal(ssl);
			if (r != NULL)
				snprintf(ft->refusal, sizeof(ft->refusal), "%s", r);
		} else {
			return bio; /* (connect failed before the SSL BIO was pushed) */
		}
		ERR_set_mark();
		BIO_ssl_shutdown(bio);
		next = BIO_pop(bio);
		BIO_free(bio);
		ERR_pop_to_mark();
		return next;
	}
	return bio;
}

/*
 * OSSL_HTTP_transfer retries a refused connection, and an unknown host, until
 * its timeout runs out, then says only that it timed out.  One direct
 * connection first names the cause at once (a responder that is not
 * running, a host that does not resolve).  Not when a proxy is set in the
 * environment: OpenSSL then goes through it, and the responder may not be
 * reachable directly.
 */
static int reachable(const char *url, const char *host, const char *port, int timeout,
		     struct signet_err *err)
{
	static const char *const proxies[] = { "http_proxy", "HTTP_PROXY", "https_proxy",
					       "HTTPS_PROXY" };
	struct addrinfo hints, *res = NULL;
	int rc, e = ECONNREFUSED;

	for (size_t i = 0; i < sizeof(proxies) / sizeof(proxies[0]); i++)
		if (getenv(proxies[i]) != NULL)
			return 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0)
		return signet_err_set(err, SIGNET_E_NET, "%s: cannot resolve '%s': %s", url, host,
				      gai_strerror(rc));
	for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				a->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
			e = 0;
		} else if (errno != EINPROGRESS) {
			e = errno;
		} else {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };
			socklen_t l = sizeof(e);
			int n = poll(&pf, 1, timeout > 0 ? timeout * 1000 : -1);
			if (n == 0)
				e = ETIMEDOUT;
			else if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) != 0)
				e = errno;
		}
		close(fd);
		if (e == 0 || e == ETIMEDOUT)
			break; /* a timeout is OSSL_HTTP_transfer's to report */
	}
	freeaddrinfo(res);
	if (e == 0 || e == ETIMEDOUT)
		return 0;
	return signet_err_set(err, SIGNET_E_NET, "%s: cannot connect to %s port %s: %s", url,
			      host, port, strerror(e));
}

int signet_ocsp_fetch(const char *url, const unsigned char *der, size_t len, const char *tls_ca,
		      int timeout, unsigned char **out, size_t *out_len, struct signet_err *err)
{
	char *host = NULL, *port = NULL, *path = NULL;
	BIO *body = NULL, *resp = NULL;
	struct fetch_tls ft;
	int ssl = 0, rc = -1;
	struct signet_buf got = { 0 };

	memset(&ft, 0, sizeof(ft));
	*out = NULL;
	*out_len = 0;
	ENSURE(len <= INT_MAX, err, SIGNET_E_INTERNAL, "OCSP request too large");
	ENSURE_OSSL(OSSL_HTTP_parse_url(url, &ssl, NULL, &host, &port, NULL, &path, NULL, NULL) ==
			    1,
		    err, SIGNET_E_USAGE, "'%s' is not an http:// or https:// URL", url);
	if (ssl) {
		ft.tls = signet_ocsp_tls_new(tls_ca, err);
		if (ft.tls == NULL) {
			signet_err_prefix(err, "%s: cannot set up TLS", url);
			goto out;
		}
		ft.host = host;
		ft.err = err;
	}
	TRY(reachable(url, host, port, timeout, err));
	body = BIO_new_mem_buf(der, (int)len);
	ENSURE(body != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	resp = OSSL_HTTP_transfer(NULL, host, port, path, ssl, NULL, NULL, NULL, NULL,
				  ssl ? tls_bio_cb : NULL, ssl ? &ft : NULL, 0, NULL,
				  "application/ocsp-request", body, "application/ocsp-response",
				  1, MAX_RESPONSE, timeout, 0);
	if (resp == NULL) {
		if (ft.refusal[0] != '\0')
			signet_err_set(err, SIGNET_E_NET,
				       "%s: the responder's TLS certificate is not acceptable: %s",
				       url, ft.refusal);
		else if (!ft.tls_failed)
			signet_err_ossl(err, SIGNET_E_NET, "%s: no OCSP answer", url);
		else
			signet_err_prefix(err, "%s", url);
		goto out;
	}
	for (;;) {
		unsigned char buf[4096];
		int n = BIO_read(resp, buf, sizeof(buf));
		if (n <= 0)
			break;
		ENSURE(got.len + (size_t)n <= 2 * MAX_RESPONSE, err, SIGNET_E_NET,
		       "%s: the OCSP answer is too large", url);
		ENSURE(signet_buf_append(&got, buf, (size_t)n, 8192) == 0, err, SIGNET_E_INTERNAL,
		       "out of memory");
	}
	ENSURE(got.len > 0, err, SIGNET_E_NET, "%s: the responder sent an empty answer", url);
	*out = got.p;
	*out_len = got.len;
	got.p = NULL;
	rc = 0;
out:
	signet_buf_free(&got);
	OPENSSL_free(host);
	OPENSSL_free(port);
	OPENSSL_free(path);
	BIO_free(body);
	BIO_free(resp);
	signet_ocsp_tls_free(ft.tls);
	ERR_clear_error();
	return rc;
}
