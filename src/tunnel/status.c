/*
 * status.c - the tunnel's --status endpoint: GET /healthz and a Prometheus
 * text exposition on GET /metrics, served by libevent's evhttp on the
 * master process's loop.  It sums the workers' metrics slots (shared
 * memory, atomics written by their owner only) and reads the master's
 * current credentials, so it never slows a worker.  Bind it to a loopback or
 * management address: it tells anyone who asks how busy the tunnel is.
 */
#include "tunnel.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <stdlib.h>
#include <string.h>

/* The sum over every process's slot (gauges too: each counts its own). */
struct totals {
	unsigned long long accepted, handshakes_ok, failures[R__COUNT], bytes_in, bytes_out,
		completed, reloads_ok, reloads_failed, ocsp_cache_hits, ocsp_requests,
		ocsp_soft_fails;
	long long active, staple_next_update; /* the staple: the earliest nextUpdate */
};

#define L(x) atomic_load_explicit(&(x), memory_order_relaxed)

static void sum(struct tunnel *t, struct totals *o)
{
	struct tunnel_metrics *s;
	int n = tunnel_metrics_slots(t, &s);

	memset(o, 0, sizeof(*o));
	for (int i = 0; i < n; i++) {
		long long nu = L(s[i].staple_next_update);
		o->accepted += L(s[i].accepted);
		o->active += L(s[i].active);
		o->handshakes_ok += L(s[i].handshakes_ok);
		for (int r = 0; r < R__COUNT; r++)
			o->failures[r] += L(s[i].failures[r]);
		o->bytes_in += L(s[i].bytes_in);
		o->bytes_out += L(s[i].bytes_out);
		o->completed += L(s[i].completed);
		o->reloads_ok += L(s[i].reloads_ok);
		o->reloads_failed += L(s[i].reloads_failed);
		o->ocsp_cache_hits += L(s[i].ocsp_cache_hits);
		o->ocsp_requests += L(s[i].ocsp_requests);
		o->ocsp_soft_fails += L(s[i].ocsp_soft_fails);
		if (nu != 0 && (o->staple_next_update == 0 || nu < o->staple_next_update))
			o->staple_next_update = nu;
	}
}

static void metrics(struct tunnel *t, struct evbuffer *b)
{
	struct totals tot, *m = &tot;
	struct tunnel_creds *c = tunnel_creds_current(t);
	const char *mode = tunnel_config(t)->mode == TUNNEL_SERVER ? "server" : "client";

	sum(t, m);
	evbuffer_add_printf(b,
		"# HELP signet_tunnel_connections_total Connections accepted.\n"
		"# TYPE signet_tunnel_connections_total counter\n"
		"signet_tunnel_connections_total{mode=\"%s\"} %llu\n"
		"# HELP signet_tunnel_connections_active Connections open now.\n"
		"# TYPE signet_tunnel_connections_active gauge\n"
		"signet_tunnel_connections_active{mode=\"%s\"} %lld\n"
		"# HELP signet_tunnel_connections_completed_total Connections that ended normally.\n"
		"# TYPE signet_tunnel_connections_completed_total counter\n"
		"signet_tunnel_connections_completed_total{mode=\"%s\"} %llu\n"
		"# HELP signet_tunnel_handshakes_total TLS handshakes completed with a verified peer.\n"
		"# TYPE signet_tunnel_handshakes_total counter\n"
		"signet_tunnel_handshakes_total{mode=\"%s\"} %llu\n"
		"# HELP signet_tunnel_failures_total Connections refused or failed, by reason.\n"
		"# TYPE signet_tunnel_failures_total counter\n",
		mode, (m->accepted), mode,
		m->active, mode,
		(m->completed), mode, (m->handshakes_ok));
	for (int r = R_NONE + 1; r < R__COUNT; r++)
		evbuffer_add_printf(b, "signet_tunnel_failures_total{mode=\"%s\",reason=\"%s\"} %llu\n",
				    mode, tunnel_reason_name((enum tunnel_reason)r),
				    (m->failures[r]));
	evbuffer_add_printf(b,
		"# HELP signet_tunnel_bytes_total Bytes relayed, by direction seen from the accepted side.\n"
		"# TYPE signet_tunnel_bytes_total counter\n"
		"signet_tunnel_bytes_total{mode=\"%s\",direction=\"in\"} %llu\n"
		"signet_tunnel_bytes_total{mode=\"%s\",direction=\"out\"} %llu\n"
		"# HELP signet_tunnel_reloads_total Credential reloads, by result.\n"
		"# TYPE signet_tunnel_reloads_total counter\n"
		"signet_tunnel_reloads_total{result=\"ok\"} %llu\n"
		"signet_tunnel_reloads_total{result=\"failed\"} %llu\n"
		"# HELP signet_tunnel_certificate_expiry_timestamp_seconds notAfter of the tunnel's own certificate.\n"
		"# TYPE signet_tunnel_certificate_expiry_timestamp_seconds gauge\n"
		"signet_tunnel_certificate_expiry_timestamp_seconds{mode=\"%s\"} %lld\n"
		"# HELP signet_tunnel_certificate_expiry_seconds Seconds until the tunnel's own certificate expires.\n"
		"# TYPE signet_tunnel_certificate_expiry_seconds gauge\n"
		"signet_tunnel_certificate_expiry_seconds{mode=\"%s\"} %lld\n",
		mode, (m->bytes_in), mode, (m->bytes_out), (m->reloads_ok),
		(m->reloads_failed), mode, (long long)c->cert_not_after, mode,
		(long long)(c->cert_not_after - time(NULL)));
	if (c->crl_next_update != 0)
		evbuffer_add_printf(b,
			"# HELP signet_tunnel_crl_next_update_timestamp_seconds Earliest nextUpdate of the loaded CRLs.\n"
			"# TYPE signet_tunnel_crl_next_update_timestamp_seconds gauge\n"
			"signet_tunnel_crl_next_update_timestamp_seconds %lld\n",
			(long long)c->crl_next_update);
	if (tunnel_config(t)->ocsp)
		evbuffer_add_printf(b,
			"# HELP signet_tunnel_ocsp_requests_total OCSP requests sent about client certificates.\n"
			"# TYPE signet_tunnel_ocsp_requests_total counter\n"
			"signet_tunnel_ocsp_requests_total %llu\n"
			"# HELP signet_tunnel_ocsp_cache_hits_total Client certificates answered from the OCSP cache.\n"
			"# TYPE signet_tunnel_ocsp_cache_hits_total counter\n"
			"signet_tunnel_ocsp_cache_hits_total %llu\n"
			"# HELP signet_tunnel_ocsp_soft_fails_total Clients allowed without an OCSP answer (--insecure-ocsp-soft-fail).\n"
			"# TYPE signet_tunnel_ocsp_soft_fails_total counter\n"
			"signet_tunnel_ocsp_soft_fails_total %llu\n",
			(m->ocsp_requests), (m->ocsp_cache_hits), (m->ocsp_soft_fails));
	if (m->staple_next_update != 0)
		evbuffer_add_printf(b,
			"# HELP signet_tunnel_ocsp_staple_next_update_timestamp_seconds nextUpdate of the stapled OCSP response.\n"
			"# TYPE signet_tunnel_ocsp_staple_next_update_timestamp_seconds gauge\n"
			"signet_tunnel_ocsp_staple_next_update_timestamp_seconds %lld\n",
			m->staple_next_update);
	tunnel_creds_unref(c);
}

static void handle(struct evhttp_request *req, void *arg)
{
	struct tunnel *t = arg;
	const char *uri = evhttp_request_get_uri(req);
	struct evbuffer *b = evbuffer_new();
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	if (b == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
	    evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		evhttp_send_error(req, 405, "Method Not Allowed");
	} else if (strcmp(uri, "/healthz") == 0) {
		evhttp_add_header(h, "Content-Type", "text/plain");
		if (tunnel_draining(t)) {
			evbuffer_add_printf(b, "draining\n");
			evhttp_send_reply(req, 503, "Service Unavailable", b);
		} else {
			evbuffer_add_printf(b, "ok\n");
			evhttp_send_reply(req, HTTP_OK, "OK", b);
		}
	} else if (strcmp(uri, "/metrics") == 0) {
		evhttp_add_header(h, "Content-Type", "text/plain; version=0.0.4");
		metrics(t, b);
		evhttp_send_reply(req, HTTP_OK, "OK", b);
	} else {
		evhttp_send_error(req, HTTP_NOTFOUND, NULL);
	}
	evbuffer_free(b);
}

struct evhttp *tunnel_status_start(struct tunnel *t, struct event_base *base,
				   const char *addr, struct signet_err *err)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char host[256], port[16];
	struct evhttp *http = NULL;
	const char *colon = strrchr(addr, ':');

	if (tunnel_parse_addr(addr, 1, &ss, &len, host, sizeof(host), err) < 0) {
		signet_err_prefix(err, "--status");
		return NULL;
	}
	snprintf(port, sizeof(port), "%s", colon + 1);
	http = evhttp_new(base);
	if (http == NULL) {
		signet_err_set(err, SIGNET_E_INTERNAL, "out of memory");
		return NULL;
	}
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_timeout(http, 10);
	evhttp_set_gencb(http, handle, t);
	if (evhttp_bind_socket(http, host[0] ? host : "0.0.0.0",
			       (ev_uint16_t)atoi(port)) != 0) {
		signet_err_set(err, SIGNET_E_NET, "--status: cannot listen on %s: %s", addr,
			       strerror(errno));
		evhttp_free(http);
		return NULL;
	}
	return http;
}
