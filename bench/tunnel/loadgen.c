/*
 * loadgen.c - the load generator of bench/tunnel: the same mutual-TLS
 * client for every server under test (signet, nginx, HAProxy, stunnel).
 *
 * Every connection is TLS 1.3 with TLS_AES_128_GCM_SHA256, presents the
 * client certificate, and verifies the server's certificate and name, so
 * each handshake costs every server the same work.  Modes:
 *
 *   hs    THREADS workers loop for SECONDS: connect, full handshake (no
 *         resumption), "GET / HTTP/1.0", read to EOF, close.  Prints
 *         handshakes/s.
 *   keep  THREADS kept-alive connections send "GET / HTTP/1.1" one after
 *         another for SECONDS; prints requests/s and p50/p99 latency.
 *   bulk  one connection fetches PATH and counts the body; prints MiB/s.
 *   idle  opens COUNT connections (one small request each, kept alive),
 *         prints "ready open N errors E", and holds them until stdin
 *         closes.  A connection the server does not complete within 10 s
 *         counts as an error.
 *
 * Blocking sockets and one thread per worker keep the client simple and
 * identical for all servers; it shares the machine with the server, which
 * is the same handicap for all of them.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static SSL_CTX *ctx;
static struct sockaddr_storage addr;
static socklen_t addr_len;
static const char *path = "/";
static double seconds = 5;
static int threads = 8;
static long count = 1000;
static atomic_long ok_count, err_count;
static atomic_int stop;
static const struct timeval io_timeout = { 10, 0 };

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static SSL *tls_connect(void)
{
	int fd = socket(addr.ss_family, SOCK_STREAM, 0), one = 1;
	SSL *ssl;

	if (fd < 0)
		return NULL;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* A server that cannot take one more connection (out of descriptors,
	 * over its maxconn) must cost an error, not hang the run. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &io_timeout, sizeof(io_timeout));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &io_timeout, sizeof(io_timeout));
	if (connect(fd, (struct sockaddr *)&addr, addr_len) < 0) {
		close(fd);
		return NULL;
	}
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, "localhost");
	SSL_set1_host(ssl, "localhost");
	if (SSL_connect(ssl) != 1) {
		SSL_free(ssl);
		close(fd);
		ERR_clear_error();
		return NULL;
	}
	return ssl;
}

static void tls_close(SSL *ssl)
{
	int fd = SSL_get_fd(ssl);
	SSL_shutdown(ssl);
	SSL_free(ssl);
	close(fd);
	ERR_clear_error();
}

static int write_all(SSL *ssl, const char *s)
{
	size_t n = strlen(s);
	return SSL_write(ssl, s, (int)n) == (int)n ? 0 : -1;
}

/* Reads one HTTP response with Content-Length; returns body bytes or -1. */
static long read_response(SSL *ssl, char *buf, size_t size)
{
	size_t have = 0;
	char *hdr_end = NULL, *cl;
	long body, got;

	while (hdr_end == NULL) {
		int n = SSL_read(ssl, buf + have, (int)(size - have - 1));
		if (n <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = '\0';
		hdr_end = strstr(buf, "\r\n\r\n");
		if (hdr_end == NULL && have + 1 >= size)
			return -1;
	}
	cl = strcasestr(buf, "content-length:");
	if (cl == NULL || cl > hdr_end)
		return -1;
	body = strtol(cl + 15, NULL, 10);
	got = (long)(have - (size_t)(hdr_end + 4 - buf));
	while (got < body) {
		int n = SSL_read(ssl, buf, (int)size);
		if (n <= 0)
			return -1;
		got += n;
	}
	return body;
}

static void *hs_worker(void *arg)
{
	char buf[16384];
	while (!atomic_load(&stop)) {
		SSL *ssl = tls_connect();
		int n, total = 0;
		if (ssl == NULL) {
			atomic_fetch_add(&err_count, 1);
			continue;
		}
		if (write_all(ssl, "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n") == 0) {
			while ((n = SSL_read(ssl, buf, sizeof(buf))) > 0)
				total += n;
		}
		if (total > 0 && strncmp(buf, "HTTP/1.", 7) == 0)
			atomic_fetch_add(&ok_count, 1);
		else
			atomic_fetch_add(&err_count, 1);
		tls_close(ssl);
	}
	return NULL;
}

struct keep_arg {
	double *lat;
	size_t n, cap;
};

static void *keep_worker(void *arg)
{
	struct keep_arg *ka = arg;
	char buf[16384];
	SSL *ssl = tls_connect();

	if (ssl == NULL) {
		atomic_fetch_add(&err_count, 1);
		return NULL;
	}
	while (!atomic_load(&stop)) {
		double t0 = now();
		if (write_all(ssl, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n") < 0 ||
		    read_response(ssl, buf, sizeof(buf)) < 0) {
			atomic_fetch_add(&err_count, 1);
			break;
		}
		if (ka->n == ka->cap) {
			ka->cap = ka->cap ? ka->cap * 2 : 65536;
			ka->lat = realloc(ka->lat, ka->cap * sizeof(double));
		}
		ka->lat[ka->n++] = now() - t0;
		atomic_fetch_add(&ok_count, 1);
	}
	tls_close(ssl);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void *idle_worker(void *arg)
{
	SSL **slots = arg;
	char buf[4096];
	long i;
	while ((i = atomic_fetch_add(&ok_count, 1)) < count) {
		SSL *ssl = tls_connect();
		if (ssl == NULL ||
		    write_all(ssl, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n") < 0 ||
		    read_response(ssl, buf, sizeof(buf)) < 0) {
			atomic_fetch_add(&err_count, 1);
			if (ssl != NULL)
				tls_close(ssl);
			slots[i] = NULL;
			continue;
		}
		slots[i] = ssl;
	}
	return NULL;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: loadgen hs|keep|bulk|idle HOST:PORT --cert F --key F --ca F\n"
		"               [--threads N] [--seconds S] [--count N] [--path P]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *mode, *target, *cert = NULL, *key = NULL, *ca = NULL;
	char host[256];
	const char *colon = NULL;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	pthread_t *tids;
	struct rlimit rl;
	double t0, el;

	/* A server that closes a connection on us (out of descriptors) must
	 * cost an error, not kill the run with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);

	if (argc < 3)
		usage();
	mode = argv[1];
	target = argv[2];
	for (int i = 3; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--cert")) cert = argv[i + 1];
		else if (!strcmp(argv[i], "--key")) key = argv[i + 1];
		else if (!strcmp(argv[i], "--ca")) ca = argv[i + 1];
		else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--seconds")) seconds = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--count")) count = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--path")) path = argv[i + 1];
		else usage();
	}
	if (!cert || !key || !ca || !(colon = strrchr(target, ':')) || threads < 1)
		usage();
	snprintf(host, sizeof(host), "%.*s", (int)(colon - target), target);
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0) {
		fprintf(stderr, "loadgen: cannot resolve %s\n", target);
		return 1;
	}
	memcpy(&addr, res->ai_addr, res->ai_addrlen);
	addr_len = res->ai_addrlen;
	freeaddrinfo(res);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256");
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);

	if (!strcmp(mode, "bulk")) {
		static char buf[262144];
		char req[512];
		SSL *ssl = tls_connect();
		long long total = 0;
		char *p;
		int n, in_body = 0;
		if (ssl == NULL) {
			fprintf(stderr, "loadgen: connect/handshake failed\n");
			return 1;
		}
		snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", path);
		write_all(ssl, req);
		t0 = now();
		while ((n = SSL_read(ssl, buf, sizeof(buf))) > 0) {
			if (!in_body && (p = memmem(buf, (size_t)n, "\r\n\r\n", 4)) != NULL) {
				in_body = 1;
				total += n - (p + 4 - buf);
			} else if (in_body) {
				total += n;
			}
		}
		el = now() - t0;
		tls_close(ssl);
		printf("bulk bytes %lld seconds %.3f MiB_per_sec %.1f\n", total, el,
		       (double)total / el / 1048576.0);
		return total > 0 ? 0 : 1;
	}

	tids = calloc((size_t)threads, sizeof(*tids));
	if (!strcmp(mode, "hs")) {
		for (int i = 0; i < threads; i++)
			pthread_create(&tids[i], NULL, hs_worker, NULL);
		t0 = now();
		usleep((useconds_t)(seconds * 1e6));
		atomic_store(&stop, 1);
		for (int i = 0; i < threads; i++)
			pthread_join(tids[i], NULL);
		el = now() - t0;
		printf("hs handshakes_per_sec %.1f ok %ld errors %ld\n",
		       (double)atomic_load(&ok_count) / el, atomic_load(&ok_count),
		       atomic_load(&err_count));
	} else if (!strcmp(mode, "keep")) {
		struct keep_arg *ka = calloc((size_t)threads, sizeof(*ka));
		double *all;
		size_t n = 0;
		for (int i = 0; i < threads; i++)
			pthread_create(&tids[i], NULL, keep_worker, &ka[i]);
		t0 = now();
		usleep((useconds_t)(seconds * 1e6));
		atomic_store(&stop, 1);
		for (int i = 0; i < threads; i++)
			pthread_join(tids[i], NULL);
		el = now() - t0;
		for (int i = 0; i < threads; i++)
			n += ka[i].n;
		all = malloc((n + 1) * sizeof(double));
		n = 0;
		for (int i = 0; i < threads; i++) {
			memcpy(all + n, ka[i].lat, ka[i].n * sizeof(double));
			n += ka[i].n;
			free(ka[i].lat);
		}
		qsort(all, n, sizeof(double), cmp_double);
		printf("keep requests_per_sec %.1f p50_us %.0f p99_us %.0f errors %ld\n",
		       (double)n / el, n ? all[n / 2] * 1e6 : 0, n ? all[n * 99 / 100] * 1e6 : 0,
		       atomic_load(&err_count));
		free(all);
		free(ka);
	} else if (!strcmp(mode, "idle")) {
		SSL **slots = calloc((size_t)count, sizeof(SSL *));
		char c;
		long open_n = 0;
		for (int i = 0; i < threads; i++)
			pthread_create(&tids[i], NULL, idle_worker, slots);
		for (int i = 0; i < threads; i++)
			pthread_join(tids[i], NULL);
		for (long i = 0; i < count; i++)
			open_n += slots[i] != NULL;
		printf("ready open %ld errors %ld\n", open_n, atomic_load(&err_count));
		fflush(stdout);
		while (read(0, &c, 1) > 0)
			;
		for (long i = 0; i < count; i++)
			if (slots[i] != NULL)
				tls_close(slots[i]);
		free(slots);
	} else {
		usage();
	}
	free(tids);
	SSL_CTX_free(ctx);
	return 0;
}
