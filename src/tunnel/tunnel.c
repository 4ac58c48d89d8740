/*
 * tunnel.c - the life of a running tunnel: start-up, the master process and
 * its workers, reloads, respawns, and the drain at shutdown.
 *
 * Processes.  tunnel_run() starts as the master: it parses the addresses,
 * loads and checks the credentials (so a bad file fails at start with its
 * exit code), binds one SO_REUSEPORT socket per worker, maps the shared
 * metrics and forks the workers.  A child first drops what belongs to the
 * master (after event_reinit, so nothing it frees touches the master's
 * epoll set), builds its own loop, and when drained returns from
 * tunnel_run like the master does: both leave through the same exit path,
 * and the sanitizers check both.
 *
 * Master and worker talk over a SOCK_SEQPACKET socketpair, one struct
 * ctl_msg per packet: RELOAD / RELOADED (with a generation number), DRAIN,
 * STOP, and OCSP (a fresh answer one worker got, passed on to the others'
 * caches).  Signals go to the master only; workers ignore SIGINT and SIGHUP
 * (a terminal's ^C reaches the whole group) and take SIGTERM as "drain on
 * your own", which is what PR_SET_PDEATHSIG sends them if the master dies.
 *
 * Reload (SIGHUP, or a changed file seen by the poll): the master loads the
 * new set first; if that fails it logs and everything keeps the old set.
 * Otherwise each worker loads it too, and the master logs "reloaded
 * credentials" once every worker has answered, so from that line on every
 * new connection gets the new set.  A worker whose certificate changed and
 * that staples answers once the new staple is there (at most STAPLE_WAIT
 * seconds), and a new worker starts accepting only then (its socket's
 * backlog holds connections meanwhile): no client of a stapling server
 * sees a handshake without the staple when one can be had.
 *
 * Respawn: a worker that exits while the master is not draining is logged
 * and started again (after RESPAWN_DELAY when it lived less than that, so
 * a worker that cannot start does not spin).  Its metrics slot keeps its
 * counters; its open-connection gauge is reset, those connections died
 * with it.
 *
 * Shutdown (SIGTERM/SIGINT): the master closes its copies of the listening
 * sockets and tells the workers to drain: each closes its listener and
 * exits when its last connection ends.  At --drain-timeout, or on a second
 * signal, the master tells them to close what is left, and SIGKILLs a
 * worker still there KILL_GRACE seconds later.  The master exits when the
 * last worker has.
 */
#include "tunnel.h"

#include "listen.h"
#include <errno.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define STAPLE_WAIT 2.0 /* seconds a worker waits for its staple to be fetched */
#define KILL_GRACE 5    /* seconds after the drain deadline before SIGKILL */
#define RESPAWN_DELAY 1 /* seconds */
#define ACCEPT_PAUSE_MS 500 /* after accept() ran out of descriptors */

enum { CTL_RELOAD = 1, CTL_RELOADED, CTL_DRAIN, CTL_STOP, CTL_OCSP };

struct ctl_msg {
	int type;
	int ok;               /* RELOADED: the worker took the new set */
	unsigned gen;         /* RELOAD, RELOADED: which reload */
	struct ocsp_answer a; /* OCSP */
	char key[160];        /* OCSP: issuer fingerprint + serial */
};

/* The master's view of one worker. */
struct proc {
	struct tunnel *t;
	int idx;
	pid_t pid;             /* 0: not running */
	int ctl;               /* the master's end of the socketpair, or -1 */
	struct event *ev;      /* reads ctl */
	struct event *respawn; /* a delayed start */
	unsigned acked;        /* the last reload generation it answered */
	time_t started;
};

struct tunnel {
	const struct tunnel_config *cfg;
	struct tunnel_metrics *slots; /* MAP_SHARED: nworkers + 1, the master's last */
	struct tunnel_metrics *m;     /* this process's slot */
	struct tunnel_creds *creds;   /* current */
	int draining;
	struct sockaddr_storage listen_ss, to_ss;
	socklen_t listen_len, to_len;
	char to_host[256];
	int nworkers;
	int *listen_fds; /* one per worker; the master closes its copies at the drain */
	pid_t master_pid;
	int self;        /* -1 in the master, else the worker's index */
	sigset_t spawn_mask;

	/* the master */
	struct proc *procs;
	struct event_base *base;
	struct event *ev_term, *ev_int, *ev_hup, *ev_chld, *ev_poll, *ev_deadline, *ev_kill;
	struct evhttp *http;
	struct tunnel_files_stat fstat;
	unsigned reload_gen;
	int reload_waiting, reload_failed;
	char reload_why[32];
	int stopping;

	/* a worker */
	struct tunnel_worker w;
	int ctl; /* the worker's end of the socketpair, or -1 */
	struct event *w_ctl, *w_term, *w_deadline, *w_wait, *w_resume;
	time_t w_accept_logged;
	int w_terms;
	int w_accepting;
	int w_ack_pending;
	unsigned w_ack_gen;
	struct timeval w_wait_until;
	struct ocsp_cache *ocsp_cache;
	struct tunnel_staple *staple;
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
	/* One write(2) per line: lines from several processes never interleave. */
	(void)!write(STDERR_FILENO, line, n);
}

struct tunnel_metrics *tunnel_metrics(struct tunnel *t) { return t->m; }
const struct tunnel_config *tunnel_config(struct tunnel *t) { return t->cfg; }
int tunnel_draining(struct tunnel *t) { return t->draining; }
const char *tunnel_to_host(struct tunnel *t) { return t->to_host; }
struct ocsp_cache *tunnel_ocsp_cache(struct tunnel *t) { return t->ocsp_cache; }
struct tunnel_staple *tunnel_staple(struct tunnel *t) { return t->staple; }

int tunnel_metrics_slots(struct tunnel *t, struct tunnel_metrics **slots)
{
	*slots = t->slots;
	return t->nworkers + 1;
}

long long tunnel_active_total(struct tunnel *t)
{
	long long n = 0;
	for (int i = 0; i <= t->nworkers; i++)
		n += atomic_load_explicit(&t->slots[i].active, memory_order_relaxed);
	return n;
}

const struct sockaddr *tunnel_to_addr(struct tunnel *t, socklen_t *len)
{
	*len = t->to_len;
	return (const struct sockaddr *)&t->to_ss;
}

/* Every process has its own current set; no lock, one thread each. */
struct tunnel_creds *tunnel_creds_current(struct tunnel *t)
{
	return tunnel_creds_ref(t->creds);
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
	/* Port 0: the kernel's choice becomes the port of every worker's
	 * socket (each would get its own otherwise), and of the log line. */
	{
		struct sockaddr_storage got;
		socklen_t len = sizeof(got);
		if (getsockname(fd, (struct sockaddr *)&got, &len) == 0 && len <= sizeof(t->listen_ss))
			memcpy(&t->listen_ss, &got, len);
	}
	return fd;
}


static int ctl_send(int fd, const struct ctl_msg *m)
{
	if (fd < 0)
		return -1;
	return send(fd, m, sizeof(*m), MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)sizeof(*m) ? 0
											       : -1;
}

/* ---- a worker ---- */

void tunnel_ocsp_share(struct tunnel *t, const char *key, const struct ocsp_answer *a)
{
	struct ctl_msg m;

	if (t->ocsp_cache == NULL)
		return;
	tunnel_ocsp_cache_put(t->ocsp_cache, key, a);
	memset(&m, 0, sizeof(m));
	m.type = CTL_OCSP;
	m.a = *a;
	snprintf(m.key, sizeof(m.key), "%s", key);
	/* Best effort: a worker that misses it asks the responder itself. */
	(void)ctl_send(t->ctl, &m);
}

/* Will the staple code fetch a response for c's certificate? */
static int staple_expected(struct tunnel *t, struct tunnel_creds *c)
{
	STACK_OF(OPENSSL_STRING) *aia;
	int yes;

	if (t->staple == NULL)
		return 0;
	if (t->cfg->staple_url != NULL)
		return 1;
	aia = X509_get1_ocsp(sk_X509_value(c->certs, 0));
	yes = sk_OPENSSL_STRING_num(aia) > 0;
	X509_email_free(aia);
	return yes;
}

static void worker_ack(struct tunnel *t, unsigned gen, int ok)
{
	struct ctl_msg m;
	memset(&m, 0, sizeof(m));
	m.type = CTL_RELOADED;
	m.gen = gen;
	m.ok = ok;
	(void)ctl_send(t->ctl, &m);
}

/* Start accepting and answer a pending reload: the staple is there, or we
 * stopped waiting for it. */
static void worker_ready(struct tunnel *t)
{
	event_del(t->w_wait);
	if (!t->w_accepting && t->w.listener != NULL)
		evconnlistener_enable(t->w.listener);
	t->w_accepting = 1;
	if (t->w_ack_pending) {
		t->w_ack_pending = 0;
		worker_ack(t, t->w_ack_gen, 1);
	}
}

static void wait_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel *t = arg;
	struct timeval now;

	gettimeofday(&now, NULL);
	if (atomic_load(&t->m->staple_next_update) != 0 || timercmp(&now, &t->w_wait_until, >=))
		worker_ready(t);
}

static void wait_for_staple(struct tunnel *t)
{
	struct timeval now, d = { (time_t)STAPLE_WAIT, 0 }, tick = { 0, 20000 };

	gettimeofday(&now, NULL);
	timeradd(&now, &d, &t->w_wait_until);
	event_add(t->w_wait, &tick);
}

static void accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel *t = arg;
	if (t->w.listener != NULL && t->w_accepting)
		evconnlistener_enable(t->w.listener);
}

/* accept() failed for a reason libevent does not retry: out of file
 * descriptors (EMFILE, ENFILE) or memory.  The connection stays queued and
 * the socket readable, so a listener left on would spin at 100% CPU;
 * pause it instead (as nginx does) and log at most once a second.  The
 * connections already open are not affected. */
static void accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct tunnel *t = ((struct tunnel_worker *)arg)->t; /* the listener's argument */
	int e = EVUTIL_SOCKET_ERROR();
	struct timeval tv = { 0, ACCEPT_PAUSE_MS * 1000 };
	time_t now = time(NULL);

	evconnlistener_disable(l);
	evtimer_add(t->w_resume, &tv);
	if (now != t->w_accept_logged) {
		t->w_accept_logged = now;
		tunnel_log("worker %d: accept: %s (%lld connections open); pausing new "
			   "connections for %d ms",
			   t->self, evutil_socket_error_to_string(e),
			   (long long)t->w.nconns, ACCEPT_PAUSE_MS);
	}
}

static void worker_reload(struct tunnel *t, unsigned gen)
{
	struct signet_err err;
	struct tunnel_creds *n, *old;
	int changed;

	signet_err_clear(&err);
	n = tunnel_creds_load(t->cfg, t, &err);
	if (n == NULL) {
		tunnel_log("worker %d: reload failed, keeping the previous credentials: %s",
			   t->self, err.msg);
		worker_ack(t, gen, 0);
		return;
	}
	old = t->creds;
	changed = X509_cmp(sk_X509_value(old->certs, 0), sk_X509_value(n->certs, 0)) != 0;
	t->creds = n;
	tunnel_creds_unref(old);
	if (t->staple != NULL)
		tunnel_staple_update(t->staple, n);
	if (changed && staple_expected(t, n)) {
		t->w_ack_gen = gen;
		t->w_ack_pending = 1;
		wait_for_staple(t);
		return;
	}
	worker_ack(t, gen, 1);
}

static void arm(struct event *ev, double seconds)
{
	struct timeval tv;
	tv.tv_sec = (time_t)seconds;
	tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
	evtimer_add(ev, &tv);
}

/* Stop accepting; exit when the last connection is gone or at the deadline. */
static void worker_drain(struct tunnel *t, double deadline)
{
	if (t->draining)
		return;
	t->draining = 1;
	if (t->w.listener != NULL) {
		evconnlistener_free(t->w.listener); /* closes the socket */
		t->w.listener = NULL;
	}
	event_del(t->w_wait);
	arm(t->w_deadline, deadline);
	if (t->w.nconns == 0)
		event_base_loopexit(t->w.base, NULL);
}

static void worker_stop(struct tunnel *t)
{
	t->draining = 1;
	if (t->w.listener != NULL) {
		evconnlistener_free(t->w.listener);
		t->w.listener = NULL;
	}
	tunnel_conn_close_all(&t->w);
	event_base_loopexit(t->w.base, NULL);
}

void tunnel_worker_idle(struct tunnel_worker *w)
{
	if (w->t->draining) /* and now empty */
		event_base_loopexit(w->base, NULL);
}

static void worker_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	worker_stop(arg);
}

/* SIGTERM sent to a worker itself (not through the master): the master
 * died (PR_SET_PDEATHSIG) or someone wants this worker gone. */
static void worker_term_cb(evutil_socket_t sig, short what, void *arg)
{
	struct tunnel *t = arg;
	if (++t->w_terms >= 2)
		worker_stop(t);
	else
		worker_drain(t, t->cfg->drain_timeout);
}

static void worker_ctl_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel *t = arg;
	struct ctl_msg m;
	ssize_t n;

	for (;;) {
		n = recv(fd, &m, sizeof(m), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (n <= 0) { /* the master is gone: finish on our own */
			event_del(t->w_ctl);
			worker_drain(t, t->cfg->drain_timeout);
			return;
		}
		if ((size_t)n != sizeof(m))
			continue;
		switch (m.type) {
		case CTL_RELOAD:
			worker_reload(t, m.gen);
			break;
		case CTL_DRAIN: /* the master's STOP comes at the deadline; ours is a backstop */
			worker_drain(t, t->cfg->drain_timeout + 1);
			break;
		case CTL_STOP:
			worker_stop(t);
			break;
		case CTL_OCSP:
			m.key[sizeof(m.key) - 1] = '\0';
			if (t->ocsp_cache != NULL)
				tunnel_ocsp_cache_put(t->ocsp_cache, m.key, &m.a);
			break;
		default:
			break;
		}
	}
}

/* In a new child: drop what belongs to the master.  event_reinit first,
 * so that freeing the master's events does not touch its epoll set. */
static void master_forget(struct tunnel *t)
{
	struct event *evs[] = { t->ev_term, t->ev_int, t->ev_hup, t->ev_chld,
				t->ev_poll, t->ev_deadline, t->ev_kill };

	event_reinit(t->base);
	for (int i = 0; i < t->nworkers; i++) {
		struct proc *p = &t->procs[i];
		if (p->ev != NULL)
			event_free(p->ev);
		if (p->respawn != NULL)
			event_free(p->respawn);
		if (p->ctl >= 0)
			close(p->ctl);
		if (i != t->self && t->listen_fds[i] >= 0) {
			close(t->listen_fds[i]);
			t->listen_fds[i] = -1;
		}
	}
	free(t->procs);
	t->procs = NULL;
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i] != NULL)
			event_free(evs[i]);
	t->ev_term = t->ev_int = t->ev_hup = t->ev_chld = NULL;
	t->ev_poll = t->ev_deadline = t->ev_kill = NULL;
	if (t->http != NULL)
		evhttp_free(t->http);
	t->http = NULL;
	event_base_free(t->base);
	t->base = NULL;
}

static int worker_run(struct tunnel *t, struct signet_err *err)
{
	const struct tunnel_config *cfg = t->cfg;
	struct tunnel_worker *w = &t->w;
	struct event_config *ec;
	int rc = -1;

	master_forget(t);
	/* If the master dies, SIGTERM: drain and exit, never an orphan. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	t->m = &t->slots[t->self];
	atomic_store(&t->m->staple_next_update, 0);
	w->t = t;
	w->idx = t->self;
	/* One thread: no locks.  The epoll changelist folds the add and the
	 * delete of a write event within one loop turn (a small reply written
	 * at once) into no epoll_ctl call at all; it is unsafe only with
	 * dup()ed descriptors, which the tunnel never has. */
	ec = event_config_new();
	ENSURE(ec != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK | EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	w->base = event_base_new_with_config(ec);
	event_config_free(ec);
	ENSURE(w->base != NULL, err, SIGNET_E_INTERNAL, "cannot create an event loop");
	w->listener = evconnlistener_new(w->base, tunnel_conn_accept, w,
					 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_DISABLED, -1,
					 t->listen_fds[t->self]);
	ENSURE(w->listener != NULL, err, SIGNET_E_INTERNAL, "cannot create a listener");
	t->listen_fds[t->self] = -1; /* the listener owns it now */
	t->w_ctl = event_new(w->base, t->ctl, EV_READ | EV_PERSIST, worker_ctl_cb, t);
	t->w_term = evsignal_new(w->base, SIGTERM, worker_term_cb, t);
	t->w_deadline = evtimer_new(w->base, worker_deadline_cb, t);
	t->w_wait = event_new(w->base, -1, EV_PERSIST, wait_cb, t);
	t->w_resume = evtimer_new(w->base, accept_resume_cb, t);
	ENSURE(t->w_ctl && t->w_term && t->w_deadline && t->w_wait && t->w_resume, err,
	       SIGNET_E_INTERNAL, "out of memory");
	evconnlistener_set_error_cb(w->listener, accept_error_cb);
	event_add(t->w_ctl, NULL);
	evsignal_add(t->w_term, NULL);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	if (cfg->ocsp)
		ENSURE((t->ocsp_cache = tunnel_ocsp_cache_new(
				(size_t)(cfg->ocsp_cache_size > 0 ? cfg->ocsp_cache_size
								  : 10000))) != NULL,
		       err, SIGNET_E_INTERNAL, "out of memory");
	if (cfg->mode == TUNNEL_SERVER && !cfg->no_staple) {
		TRYP(t->staple = tunnel_staple_new(t, w->base));
		tunnel_staple_update(t->staple, t->creds);
	}
	sigprocmask(SIG_SETMASK, &t->spawn_mask, NULL);
	if (getppid() != t->master_pid) /* it died before the prctl */
		raise(SIGTERM);
	if (staple_expected(t, t->creds))
		wait_for_staple(t);
	else
		worker_ready(t);
	event_base_dispatch(w->base);
	rc = 0;
out:
	return rc;
}

/* ---- the master ---- */

static void master_ctl_cb(evutil_socket_t fd, short what, void *arg);

static int live_workers(struct tunnel *t)
{
	int n = 0;
	for (int i = 0; i < t->nworkers; i++)
		n += t->procs[i].pid != 0;
	return n;
}

static void proc_close_ctl(struct proc *p)
{
	if (p->ev != NULL)
		event_free(p->ev);
	p->ev = NULL;
	if (p->ctl >= 0)
		close(p->ctl);
	p->ctl = -1;
}

/* Forks worker i.  Returns 0 in both processes (t->self tells them apart:
 * the child must leave the master's loop at once), -1 when it failed. */
static int spawn(struct tunnel *t, int i)
{
	struct proc *p = &t->procs[i];
	int sv[2], size = 1 << 20;
	sigset_t block;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		tunnel_log("cannot start worker %d: socketpair: %s", i, strerror(errno));
		return -1;
	}
	for (int k = 0; k < 2; k++) {
		setsockopt(sv[k], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
		setsockopt(sv[k], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	}
	/* The child must not run the master's signal handlers (they would
	 * write to the master's libevent signal pipe): block until it has
	 * its own. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &t->spawn_mask);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		t->self = i;
		t->ctl = sv[1];
		return 0;
	}
	sigprocmask(SIG_SETMASK, &t->spawn_mask, NULL);
	close(sv[1]);
	if (pid < 0) {
		tunnel_log("cannot start worker %d: fork: %s", i, strerror(errno));
		close(sv[0]);
		return -1;
	}
	p->pid = pid;
	p->ctl = sv[0];
	p->started = time(NULL);
	p->acked = t->reload_gen; /* it starts with the current set */
	p->ev = event_new(t->base, sv[0], EV_READ | EV_PERSIST, master_ctl_cb, p);
	if (p->ev == NULL || event_add(p->ev, NULL) < 0)
		tunnel_log("worker %d: cannot watch its control socket", i);
	return 0;
}

static void reload_check(struct tunnel *t)
{
	if (!t->reload_waiting)
		return;
	for (int i = 0; i < t->nworkers; i++) {
		const struct proc *p = &t->procs[i];
		if (p->pid != 0 && p->ctl >= 0 && p->acked != t->reload_gen)
			return;
	}
	t->reload_waiting = 0;
	if (t->reload_failed > 0) {
		atomic_fetch_add(&t->m->reloads_failed, 1);
		tunnel_log("reload (%s): %d workers kept the previous credentials", t->reload_why,
			   t->reload_failed);
		return;
	}
	atomic_fetch_add(&t->m->reloads_ok, 1);
	atomic_store(&t->m->last_reload, (long long)time(NULL));
	tunnel_log("reloaded credentials (%s)", t->reload_why);
}

static void master_ctl_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proc *p = arg;
	struct tunnel *t = p->t;
	struct ctl_msg m;
	ssize_t n;

	for (;;) {
		n = recv(fd, &m, sizeof(m), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (n <= 0) { /* the worker is gone; SIGCHLD does the rest */
			proc_close_ctl(p);
			reload_check(t);
			return;
		}
		if ((size_t)n != sizeof(m))
			continue;
		if (m.type == CTL_RELOADED && m.gen == t->reload_gen && p->acked != m.gen) {
			p->acked = m.gen;
			t->reload_failed += !m.ok;
			reload_check(t);
		} else if (m.type == CTL_OCSP) {
			for (int i = 0; i < t->nworkers; i++)
				if (i != p->idx)
					(void)ctl_send(t->procs[i].ctl, &m);
		}
	}
}

static void reload(struct tunnel *t, const char *why)
{
	struct signet_err err;
	struct tunnel_creds *n;
	struct ctl_msg m;

	signet_err_clear(&err);
	tunnel_files_stat(t->cfg, &t->fstat);
	n = tunnel_creds_load(t->cfg, t, &err);
	if (n == NULL) {
		atomic_fetch_add(&t->m->reloads_failed, 1);
		tunnel_log("reload (%s) failed, keeping the previous credentials: %s", why,
			   err.msg);
		return;
	}
	tunnel_creds_unref(t->creds);
	t->creds = n; /* what /metrics shows and what new workers start with */
	t->reload_gen++;
	t->reload_waiting = 1;
	t->reload_failed = 0;
	snprintf(t->reload_why, sizeof(t->reload_why), "%s", why);
	memset(&m, 0, sizeof(m));
	m.type = CTL_RELOAD;
	m.gen = t->reload_gen;
	for (int i = 0; i < t->nworkers; i++) {
		struct proc *p = &t->procs[i];
		if (p->pid == 0 || p->ctl < 0)
			continue;
		if (ctl_send(p->ctl, &m) < 0) {
			tunnel_log("reload (%s): worker %d cannot be told: %s", why, i,
				   strerror(errno));
			p->acked = m.gen;
			t->reload_failed++;
		}
	}
	reload_check(t);
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

static void tell_workers(struct tunnel *t, int type)
{
	struct ctl_msg m;

	memset(&m, 0, sizeof(m));
	m.type = type;
	for (int i = 0; i < t->nworkers; i++) {
		struct proc *p = &t->procs[i];
		if (p->pid != 0 && ctl_send(p->ctl, &m) < 0)
			kill(p->pid, SIGTERM); /* it drains on its own */
	}
}

static void kill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel *t = arg;
	for (int i = 0; i < t->nworkers; i++)
		if (t->procs[i].pid != 0) {
			tunnel_log("worker %d (pid %ld) did not stop; killing it", i,
				   (long)t->procs[i].pid);
			kill(t->procs[i].pid, SIGKILL);
		}
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel *t = arg;
	struct timeval tv = { KILL_GRACE, 0 };

	if (t->stopping)
		return;
	t->stopping = 1;
	tunnel_log("drain deadline reached, closing %lld remaining connections",
		   tunnel_active_total(t));
	tell_workers(t, CTL_STOP);
	evtimer_add(t->ev_kill, &tv);
}

static void term_cb(evutil_socket_t sig, short what, void *arg)
{
	struct tunnel *t = arg;

	if (t->draining) {
		deadline_cb(-1, 0, t); /* second signal: do not wait */
		return;
	}
	t->draining = 1;
	tunnel_log("%s: no longer accepting; draining %lld connections for up to %.0fs",
		   sig == SIGINT ? "SIGINT" : "SIGTERM", tunnel_active_total(t),
		   t->cfg->drain_timeout);
	/* The workers close theirs; the sockets close when ours go too. */
	for (int i = 0; i < t->nworkers; i++) {
		if (t->listen_fds[i] >= 0)
			close(t->listen_fds[i]);
		t->listen_fds[i] = -1;
		evtimer_del(t->procs[i].respawn);
	}
	tell_workers(t, CTL_DRAIN);
	arm(t->ev_deadline, t->cfg->drain_timeout);
	if (live_workers(t) == 0)
		event_base_loopexit(t->base, NULL);
}

static void respawn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proc *p = arg;
	struct tunnel *t = p->t;
	struct timeval tv = { RESPAWN_DELAY, 0 };

	if (t->draining || p->pid != 0)
		return;
	if (spawn(t, p->idx) < 0)
		evtimer_add(p->respawn, &tv);
	else if (t->self >= 0)
		event_base_loopbreak(t->base); /* the new child leaves the master's loop */
}

static void chld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct tunnel *t = arg;
	struct timeval tv = { RESPAWN_DELAY, 0 };
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		struct proc *p = NULL;
		char why[64];
		for (int i = 0; i < t->nworkers; i++)
			if (t->procs[i].pid == pid)
				p = &t->procs[i];
		if (p == NULL)
			continue;
		p->pid = 0;
		proc_close_ctl(p);
		/* Its connections died with it. */
		atomic_store(&t->slots[p->idx].active, 0);
		atomic_store(&t->slots[p->idx].staple_next_update, 0);
		if (t->draining)
			continue;
		if (WIFSIGNALED(st))
			snprintf(why, sizeof(why), "was killed by signal %d (%s)", WTERMSIG(st),
				 strsignal(WTERMSIG(st)));
		else
			snprintf(why, sizeof(why), "exited with status %d", WEXITSTATUS(st));
		if (time(NULL) - p->started < RESPAWN_DELAY) {
			tunnel_log("worker %d (pid %ld) %s; starting a new one in %ds", p->idx,
				   (long)pid, why, RESPAWN_DELAY);
			evtimer_add(p->respawn, &tv);
			continue;
		}
		tunnel_log("worker %d (pid %ld) %s; starting a new one", p->idx, (long)pid, why);
		if (spawn(t, p->idx) < 0)
			evtimer_add(p->respawn, &tv);
		else if (t->self >= 0) {
			event_base_loopbreak(t->base); /* the new child leaves the master's loop */
			return;
		}
	}
	reload_check(t);
	if (t->draining && live_workers(t) == 0)
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
	/* a worker's */
	if (t->w.conns != NULL)
		tunnel_conn_close_all(&t->w);
	tunnel_conn_pool_free(&t->w);
	if (t->w.listener != NULL)
		evconnlistener_free(t->w.listener);
	tunnel_staple_free(t->staple);
	tunnel_ocsp_cache_free(t->ocsp_cache);
	tunnel_ocsp_fetcher_free(t->w.fetcher);
	struct event *wevs[] = { t->w_ctl, t->w_term, t->w_deadline, t->w_wait, t->w_resume };
	for (size_t i = 0; i < sizeof(wevs) / sizeof(wevs[0]); i++)
		if (wevs[i] != NULL)
			event_free(wevs[i]);
	if (t->w.base != NULL)
		event_base_free(t->w.base);
	if (t->ctl >= 0)
		close(t->ctl);
	/* the master's */
	if (t->procs != NULL) {
		for (int i = 0; i < t->nworkers; i++) {
			proc_close_ctl(&t->procs[i]);
			if (t->procs[i].respawn != NULL)
				event_free(t->procs[i].respawn);
		}
		free(t->procs);
	}
	if (t->http != NULL)
		evhttp_free(t->http);
	struct event *evs[] = { t->ev_term, t->ev_int, t->ev_hup, t->ev_chld,
				t->ev_poll, t->ev_deadline, t->ev_kill };
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i] != NULL)
			event_free(evs[i]);
	if (t->base != NULL)
		event_base_free(t->base);
	if (t->listen_fds != NULL) {
		for (int i = 0; i < t->nworkers; i++)
			if (t->listen_fds[i] >= 0)
				close(t->listen_fds[i]);
		free(t->listen_fds);
	}
	tunnel_creds_unref(t->creds);
	if (t->slots != NULL)
		munmap(t->slots, sizeof(*t->slots) * (size_t)(t->nworkers + 1));
	free(t);
}

int tunnel_run(const struct tunnel_config *cfg, struct signet_err *err)
{
	struct tunnel *t = calloc(1, sizeof(*t));
	int rc = -1;
	char lhost[256];
	void *map;

	ENSURE(t != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	t->cfg = cfg;
	t->self = -1;
	t->ctl = -1;
	t->master_pid = getpid();
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	TRY(tunnel_parse_addr(cfg->listen, 1, &t->listen_ss, &t->listen_len, lhost,
			      sizeof(lhost), err));
	TRY(tunnel_parse_addr(cfg->to, 0, &t->to_ss, &t->to_len, t->to_host,
			      sizeof(t->to_host), err));
	tunnel_files_stat(cfg, &t->fstat);
	TRYP(t->creds = tunnel_creds_load(cfg, t, err));

	t->nworkers = cfg->workers > 0 ? cfg->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (t->nworkers < 1)
		t->nworkers = 1;
	if (t->nworkers > 256)
		t->nworkers = 256;
	map = mmap(NULL, sizeof(*t->slots) * (size_t)(t->nworkers + 1), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ENSURE(map != MAP_FAILED, err, SIGNET_E_INTERNAL, "cannot map the shared metrics: %s",
	       strerror(errno));
	t->slots = map; /* zero-filled */
	t->m = &t->slots[t->nworkers];
	t->listen_fds = malloc(sizeof(*t->listen_fds) * (size_t)t->nworkers);
	t->procs = calloc((size_t)t->nworkers, sizeof(*t->procs));
	ENSURE(t->listen_fds != NULL && t->procs != NULL, err, SIGNET_E_INTERNAL,
	       "out of memory");
	for (int i = 0; i < t->nworkers; i++) {
		t->listen_fds[i] = -1;
		t->procs[i].t = t;
		t->procs[i].idx = i;
		t->procs[i].ctl = -1;
	}
	TRY(net_port_is_free((const struct sockaddr *)&t->listen_ss, t->listen_len,
			     t->cfg->listen, err));
	for (int i = 0; i < t->nworkers; i++)
		TRY(t->listen_fds[i] = listen_socket(t, err));

	t->base = event_base_new();
	ENSURE(t->base != NULL, err, SIGNET_E_INTERNAL, "cannot create an event loop");
	t->ev_term = evsignal_new(t->base, SIGTERM, term_cb, t);
	t->ev_int = evsignal_new(t->base, SIGINT, term_cb, t);
	t->ev_hup = evsignal_new(t->base, SIGHUP, hup_cb, t);
	t->ev_chld = evsignal_new(t->base, SIGCHLD, chld_cb, t);
	t->ev_poll = event_new(t->base, -1, EV_PERSIST, poll_cb, t);
	t->ev_deadline = evtimer_new(t->base, deadline_cb, t);
	t->ev_kill = evtimer_new(t->base, kill_cb, t);
	ENSURE(t->ev_term && t->ev_int && t->ev_hup && t->ev_chld && t->ev_poll &&
		       t->ev_deadline && t->ev_kill,
	       err, SIGNET_E_INTERNAL, "out of memory");
	for (int i = 0; i < t->nworkers; i++)
		ENSURE((t->procs[i].respawn = evtimer_new(t->base, respawn_cb, &t->procs[i])) !=
			       NULL,
		       err, SIGNET_E_INTERNAL, "out of memory");
	evsignal_add(t->ev_term, NULL);
	evsignal_add(t->ev_int, NULL);
	evsignal_add(t->ev_hup, NULL);
	evsignal_add(t->ev_chld, NULL);
	if (cfg->reload_interval > 0) {
		struct timeval tv = { (time_t)cfg->reload_interval,
				      (suseconds_t)((cfg->reload_interval -
						     (double)(time_t)cfg->reload_interval) *
						    1e6) };
		event_add(t->ev_poll, &tv);
	}
	if (cfg->status != NULL)
		TRYP(t->http = tunnel_status_start(t, t->base, cfg->status, err));

	for (int i = 0; i < t->nworkers && t->self < 0; i++) {
		if (spawn(t, i) < 0) {
			signet_err_set(err, SIGNET_E_INTERNAL, "cannot start worker %d", i);
			for (int j = 0; j < i; j++) {
				kill(t->procs[j].pid, SIGKILL);
				waitpid(t->procs[j].pid, NULL, 0);
				t->procs[j].pid = 0;
			}
			goto out;
		}
	}
	if (t->self < 0) {
		char where[INET6_ADDRSTRLEN + 16];
		tunnel_format_addr((const struct sockaddr *)&t->listen_ss, where, sizeof(where));
		tunnel_log("%s tunnel listening on %s, forwarding to %s (%d workers%s%s)",
			   cfg->mode == TUNNEL_SERVER ? "server" : "client", where, cfg->to,
			   t->nworkers, cfg->status ? ", status on " : "",
			   cfg->status ? cfg->status : "");
		event_base_dispatch(t->base);
	}
	if (t->self >= 0) { /* a worker, just forked */
		rc = worker_run(t, err);
		goto out;
	}
	{
		unsigned long long served = 0;
		for (int i = 0; i <= t->nworkers; i++)
			served += atomic_load(&t->slots[i].accepted);
		tunnel_log("stopped: %llu connections served, %lld open at exit", served,
			   tunnel_active_total(t));
	}
	rc = 0;
out:
	if (t != NULL)
		tunnel_free(t);
	return rc;
}
