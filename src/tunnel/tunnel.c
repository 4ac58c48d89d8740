/*
 * tunnel.c - the life of a running tunnel: start-up, worker threads,
 * reloads, and the drain at shutdown.
 *
 * Threads.  Worker i runs its own event_base with its own SO_REUSEPORT
 * listener (the kernel balances accepts across them) and owns every
 * connection it accepted.  The main thread runs a separate event_base for
 * signals, the credential-file poll and the status server; it talks to a
 * worker only by setting worker->cmd and activating worker->ctl (libevent
 * is made thread-aware with evthread_use_pthreads, which is what makes
 * event_active across threads safe).
 *
 * Reload (SIGHUP, or a changed file seen by the poll): load a whole new
 * tunnel_creds; on success swap it in under `lock` (the only lock, taken
 * once per accepted connection); on failure log and keep the old set.
 *
 * Shutdown (SIGTERM/SIGINT): every worker closes its listener and exits its
 * loop when its last connection ends; after --drain-timeout the main thread
 * tells the workers to close what is left.  A second SIGTERM skips the wait.
 */
#include "tunnel.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <event2/util.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

struct tunnel {
	const struct tunnel_config *cfg;
	struct tunnel_metrics m;
	pthread_mutex_t lock;
	struct tunnel_creds *creds; /* current; guarded by lock */
	atomic_int draining;
	struct sockaddr_storage listen_ss, to_ss;
	socklen_t listen_len, to_len;
	char to_host[256];
	int nworkers;
	struct tunnel_worker *workers;
	atomic_int running_workers;
	struct event_base *base;
	struct event *ev_term, *ev_int, *ev_hup, *ev_poll, *ev_deadline, *ev_done;
	struct evhttp *http;
	struct tunnel_files_stat fstat;
	struct ocsp_cache *ocsp_cache; /* --ocsp: shared by the workers */
	struct tunnel_staple *staple;  /* server: our own OCSP response */
};

void tunnel_log(const char *fmt, ...)
{
	char line[2048];
	struct timeval tv;
	struct tm tm;
	size_t n;
	va_list ap;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ signet-tunnel: ",
			      (long)(tv.tv_usec / 1000));
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	n = strlen(line);
	if (n + 1 >= sizeof(line))
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write(2) per line: lines from several threads never interleave. */
	(void)!write(STDERR_FILENO, line, n);
}

struct tunnel_metrics *tunnel_metrics(struct tunnel *t) { return &t->m; }
const struct tunnel_config *tunnel_config(struct tunnel *t) { return t->cfg; }
int tunnel_draining(struct tunnel *t) { return atomic_load(&t->draining); }
const char *tunnel_to_host(struct tunnel *t) { return t->to_host; }
struct ocsp_cache *tunnel_ocsp_cache(struct tunnel *t) { return t->ocsp_cache; }
struct tunnel_staple *tunnel_staple(struct tunnel *t) { return t->staple; }

const struct sockaddr *tunnel_to_addr(struct tunnel *t, socklen_t *len)
{
	*len = t->to_len;
	return (const struct sockaddr *)&t->to_ss;
}

struct tunnel_creds *tunnel_creds_current(struct tunnel *t)
{
	struct tunnel_creds *c;
	pthread_mutex_lock(&t->lock);
	c = tunnel_creds_ref(t->creds);
	pthread_mutex_unlock(&t->lock);
	return c;
}

int tunnel_parse_addr(const char *text, int passive, struct sockaddr_storage *ss,
		      socklen_t *len, char *host, size_t host_size,
		      struct signet_err *err)
{
	char h[256];
	const char *colon, *port;
	struct addrinfo hints, *res = NULL;
	int rc;

	if (text[0] == '[') {
		const char *end = strchr(text, ']');
		if (end == NULL || end[1] != ':' || (size_t)(end - text - 1) >= sizeof(h))
			return signet_err_set(err, SIGNET_E_USAGE,
					      "'%s': expected [IPv6]:PORT", text);
		memcpy(h, text + 1, (size_t)(end - text - 1));
		h[end - text - 1] = '\0';
		port = end + 2;
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL || (size_t)(colon - text) >= sizeof(h))
			return signet_err_set(err, SIGNET_E_USAGE,
					      "'%s': expected HOST:PORT", text);
		memcpy(h, text, (size_t)(colon - text));
		h[colon - text] = '\0';
		port = colon + 1;
	}
	if (*port == '\0' || strspn(port, "0123456789") != strlen(port) || atoi(port) > 65535)
		return signet_err_set(err, SIGNET_E_USAGE, "'%s': bad port", text);
	if (h[0] == '\0' && !passive)
		return signet_err_set(err, SIGNET_E_USAGE, "'%s': a host is needed", text);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	rc = getaddrinfo(h[0] ? h : NULL, port, &hints, &res);
	if (rc != 0)
		return signet_err_set(err, SIGNET_E_NET, "'%s': %s", text, gai_strerror(rc));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	if (host != NULL)
		snprintf(host, host_size, "%s", h);
	return 0;
}

void tunnel_format_addr(const struct sockaddr *sa, char *buf, size_t size)
{
	char h[INET6_ADDRSTRLEN] = "?";
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)sa;
		evutil_inet_ntop(AF_INET, &s->sin_addr, h, sizeof(h));
		snprintf(buf, size, "%s:%u", h, ntohs(s->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)sa;
		evutil_inet_ntop(AF_INET6, &s->sin6_addr, h, sizeof(h));
		snprintf(buf, size, "[%s]:%u", h, ntohs(s->sin6_port));
	} else {
		snprintf(buf, size, "?");
	}
}

static int listen_socket(struct tunnel *t, struct signet_err *err)
{
	int fd = socket(t->listen_ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		return signet_err_set(err, SIGNET_E_NET, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&t->listen_ss, t->listen_len) < 0 ||
	    listen(fd, 4096) < 0) {
		signet_err_set(err, SIGNET_E_NET, "cannot listen on %s: %s", t->cfg->listen,
			       strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- workers ---- */

static void worker_ctl_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel_worker *w = arg;
	int cmd = atomic_load(&w->cmd);

	if (w->listener != NULL) {
		evconnlistener_free(w->listener); /* closes the socket */
		w->listener = NULL;
	}
	if (cmd == WORKER_STOP)
		tunnel_conn_close_all(w);
	if (w->nconns == 0)
		event_base_loopexit(w->base, NULL);
}

void tunnel_worker_idle(struct tunnel_worker *w)
{
	if (w->listener == NULL) /* draining and now empty */
		event_base_loopexit(w->base, NULL);
}

static void *worker_main(void *arg)
{
	struct tunnel_worker *w = arg;
	struct tunnel *t = w->t;

	event_base_dispatch(w->base);
	if (atomic_fetch_sub(&t->running_workers, 1) == 1)
		event_active(t->ev_done, EV_READ, 0);
	return NULL;
}

/* ---- main thread ---- */

static void reload(struct tunnel *t, const char *why)
{
	struct signet_err err;
	struct tunnel_creds *n, *old;

	signet_err_clear(&err);
	tunnel_files_stat(t->cfg, &t->fstat);
	n = tunnel_creds_load(t->cfg, t, &err);
	if (n == NULL) {
		atomic_fetch_add(&t->m.reloads_failed, 1);
		tunnel_log("reload (%s) failed, keeping the previous credentials: %s", why,
			   err.msg);
		return;
	}
	pthread_mutex_lock(&t->lock);
	old = t->creds;
	t->creds = n;
	pthread_mutex_unlock(&t->lock);
	tunnel_creds_unref(old);
	tunnel_staple_update(t->staple, n);
	atomic_fetch_add(&t->m.reloads_ok, 1);
	atomic_store(&t->m.last_reload, (long long)time(NULL));
	tunnel_log("reloaded credentials (%s)", why);
}

static void hup_cb(evutil_socket_t fd, short what, void *arg)
{
	reload(arg, "SIGHUP");
}

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel *t = arg;
	struct tunnel_files_stat now;

	tunnel_files_stat(t->cfg, &now);
	if (tunnel_files_changed(&now, &t->fstat))
		reload(t, "files changed");
}

static void tell_workers(struct tunnel *t, int cmd)
{
	for (int i = 0; i < t->nworkers; i++) {
		atomic_store(&t->workers[i].cmd, cmd);
		event_active(t->workers[i].ctl, EV_READ, 0);
	}
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel *t = arg;
	tunnel_log("drain deadline reached, closing %lld remaining connections",
		   (long long)atomic_load(&t->m.active));
	tell_workers(t, WORKER_STOP);
}

static void term_cb(evutil_socket_t sig, short what, void *arg)
{
	struct tunnel *t = arg;
	struct timeval tv;

	if (atomic_exchange(&t->draining, 1)) {
		deadline_cb(-1, 0, t); /* second signal: do not wait */
		return;
	}
	tunnel_log("%s: no longer accepting; draining %lld connections for up to %.0fs",
		   sig == SIGINT ? "SIGINT" : "SIGTERM",
		   (long long)atomic_load(&t->m.active), t->cfg->drain_timeout);
	tell_workers(t, WORKER_DRAIN);
	tv.tv_sec = (time_t)t->cfg->drain_timeout;
	tv.tv_usec = (suseconds_t)((t->cfg->drain_timeout - (double)tv.tv_sec) * 1e6);
	evtimer_add(t->ev_deadline, &tv);
}

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel *t = arg;
	event_base_loopexit(t->base, NULL);
}

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void tunnel_free(struct tunnel *t)
{
	if (t->workers != NULL) {
		for (int i = 0; i < t->nworkers; i++) {
			struct tunnel_worker *w = &t->workers[i];
			if (w->listener != NULL)
				evconnlistener_free(w->listener);
			if (w->listen_fd >= 0)
				close(w->listen_fd);
			if (w->ctl != NULL)
				event_free(w->ctl);
			tunnel_ocsp_fetcher_free(w->fetcher);
			if (w->base != NULL)
				event_base_free(w->base);
		}
		free(t->workers);
	}
	if (t->http != NULL)
		evhttp_free(t->http);
	tunnel_staple_free(t->staple);
	tunnel_ocsp_cache_free(t->ocsp_cache);
	struct event *evs[] = { t->ev_term, t->ev_int, t->ev_hup,
				t->ev_poll, t->ev_deadline, t->ev_done };
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i] != NULL)
			event_free(evs[i]);
	if (t->base != NULL)
		event_base_free(t->base);
	tunnel_creds_unref(t->creds);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

int tunnel_run(const struct tunnel_config *cfg, struct signet_err *err)
{
	struct tunnel *t = calloc(1, sizeof(*t));
	sigset_t block, old;
	int rc = -1, started = 0;
	char lhost[256];

	ENSURE(t != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	t->cfg = cfg;
	pthread_mutex_init(&t->lock, NULL);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	ENSURE(evthread_use_pthreads() == 0, err, SIGNET_E_INTERNAL,
	       "libevent has no thread support");
	TRY(tunnel_parse_addr(cfg->listen, 1, &t->listen_ss, &t->listen_len, lhost,
			      sizeof(lhost), err));
	TRY(tunnel_parse_addr(cfg->to, 0, &t->to_ss, &t->to_len, t->to_host,
			      sizeof(t->to_host), err));
	tunnel_files_stat(cfg, &t->fstat);
	TRYP(t->creds = tunnel_creds_load(cfg, t, err));
	if (cfg->ocsp)
		ENSURE((t->ocsp_cache = tunnel_ocsp_cache_new(
				(size_t)(cfg->ocsp_cache_size > 0 ? cfg->ocsp_cache_size
								  : 10000))) != NULL,
		       err, SIGNET_E_INTERNAL, "out of memory");

	t->nworkers = cfg->workers > 0 ? cfg->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (t->nworkers < 1)
		t->nworkers = 1;
	if (t->nworkers > 256)
		t->nworkers = 256;
	t->workers = calloc((size_t)t->nworkers, sizeof(*t->workers));
	ENSURE(t->workers != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	for (int i = 0; i < t->nworkers; i++)
		t->workers[i].listen_fd = -1;
	for (int i = 0; i < t->nworkers; i++) {
		struct tunnel_worker *w = &t->workers[i];
		w->t = t;
		w->idx = i;
		TRY(w->listen_fd = listen_socket(t, err));
		w->base = event_base_new();
		ENSURE(w->base != NULL, err, SIGNET_E_INTERNAL, "cannot create an event loop");
		w->listener = evconnlistener_new(w->base, tunnel_conn_accept, w,
						 LEV_OPT_CLOSE_ON_FREE, -1, w->listen_fd);
		ENSURE(w->listener != NULL, err, SIGNET_E_INTERNAL,
		       "cannot create a listener");
		w->listen_fd = -1; /* the listener owns it now */
		w->ctl = event_new(w->base, -1, 0, worker_ctl_cb, w);
		ENSURE(w->ctl != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	}

	t->base = event_base_new();
	ENSURE(t->base != NULL, err, SIGNET_E_INTERNAL, "cannot create an event loop");
	t->ev_term = evsignal_new(t->base, SIGTERM, term_cb, t);
	t->ev_int = evsignal_new(t->base, SIGINT, term_cb, t);
	t->ev_hup = evsignal_new(t->base, SIGHUP, hup_cb, t);
	t->ev_poll = event_new(t->base, -1, EV_PERSIST, poll_cb, t);
	t->ev_deadline = evtimer_new(t->base, deadline_cb, t);
	t->ev_done = event_new(t->base, -1, 0, done_cb, t);
	ENSURE(t->ev_term && t->ev_int && t->ev_hup && t->ev_poll && t->ev_deadline &&
		       t->ev_done,
	       err, SIGNET_E_INTERNAL, "out of memory");
	evsignal_add(t->ev_term, NULL);
	evsignal_add(t->ev_int, NULL);
	evsignal_add(t->ev_hup, NULL);
	if (cfg->reload_interval > 0) {
		struct timeval tv = { (time_t)cfg->reload_interval,
				      (suseconds_t)((cfg->reload_interval -
						     (double)(time_t)cfg->reload_interval) *
						    1e6) };
		event_add(t->ev_poll, &tv);
	}
	if (cfg->status != NULL)
		TRYP(t->http = tunnel_status_start(t, t->base, cfg->status, err));
	if (cfg->mode == TUNNEL_SERVER && !cfg->no_staple) {
		TRYP(t->staple = tunnel_staple_new(t, t->base));
		tunnel_staple_update(t->staple, t->creds);
	}

	/* Workers never take the process's signals; the main loop does. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	atomic_store(&t->running_workers, t->nworkers);
	for (int i = 0; i < t->nworkers; i++) {
		if (pthread_create(&t->workers[i].thread, NULL, worker_main,
				   &t->workers[i]) != 0) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			atomic_fetch_sub(&t->running_workers, t->nworkers - i);
			signet_err_set(err, SIGNET_E_INTERNAL, "cannot start worker thread");
			tell_workers(t, WORKER_STOP);
			for (int j = 0; j < i; j++)
				pthread_join(t->workers[j].thread, NULL);
			goto out;
		}
		started++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	tunnel_log("%s tunnel listening on %s, forwarding to %s (%d workers%s%s)",
		   cfg->mode == TUNNEL_SERVER ? "server" : "client", cfg->listen, cfg->to,
		   t->nworkers, cfg->status ? ", status on " : "",
		   cfg->status ? cfg->status : "");

	event_base_dispatch(t->base);
	for (int i = 0; i < started; i++)
		pthread_join(t->workers[i].thread, NULL);
	tunnel_log("stopped: %llu connections served, %lld open at exit",
		   (unsigned long long)atomic_load(&t->m.accepted),
		   (long long)atomic_load(&t->m.active));
	rc = 0;
out:
	if (t != NULL)
		tunnel_free(t);
	return rc;
}
