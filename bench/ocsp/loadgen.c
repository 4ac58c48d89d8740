/*
 * loadgen.c - a bounded HTTP/1.1 load generator for OCSP responders.
 *
 * usage: loadgen HOST PORT CONNS SECONDS REQ.der [REQ.der...] [--close]
 * Keeps CONNS connections, each with one POST in flight (keep-alive; with
 * --close a new connection per request, as `openssl ocsp -port` needs),
 * cycling over the request files, for SECONDS; prints
 * "responses=N seconds=S rate=R errors=E".  One thread, epoll.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct req {
	char *data;
	size_t len;
};

struct conn {
	int fd, idx;
	size_t sent;
	char buf[65536];
	size_t have;
};

static struct req *reqs;
static int nreqs, closemode, ep;
static struct sockaddr_in sa;
static long responses, errors;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void conn_open(struct conn *c)
{
	int one = 1;
	struct epoll_event ev;
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("connect");
		exit(1);
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(c->fd, F_SETFL, O_NONBLOCK);
	c->have = 0;
	ev.events = EPOLLIN;
	ev.data.ptr = c;
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void conn_send(struct conn *c)
{
	struct req *r = &reqs[c->idx++ % nreqs];
	ssize_t n = send(c->fd, r->data, r->len, MSG_NOSIGNAL);
	if (n != (ssize_t)r->len)
		errors++;
}

/* Returns 1 when a whole response is in c->buf. */
static int complete(struct conn *c)
{
	char *end, *cl;
	c->buf[c->have] = '\0';
	end = strstr(c->buf, "\r\n\r\n");
	if (end == NULL)
		return 0;
	cl = strcasestr(c->buf, "content-length:");
	if (cl == NULL || cl > end)
		return closemode ? 0 : 1;
	return c->have >= (size_t)(end + 4 - c->buf) + strtoul(cl + 15, NULL, 10);
}

int main(int argc, char **argv)
{
	int nconn, secs;
	struct conn *conns;
	double t0, t1;
	struct epoll_event evs[256];

	if (argc < 6) {
		fprintf(stderr, "usage: loadgen HOST PORT CONNS SECONDS REQ.der... [--close]\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)atoi(argv[2]));
	inet_pton(AF_INET, argv[1], &sa.sin_addr);
	nconn = atoi(argv[3]);
	secs = atoi(argv[4]);
	reqs = calloc((size_t)argc, sizeof(*reqs));
	for (int i = 5; i < argc; i++) {
		FILE *f;
		char body[8192], head[256];
		size_t bl;
		if (strcmp(argv[i], "--close") == 0) {
			closemode = 1;
			continue;
		}
		f = fopen(argv[i], "rb");
		if (f == NULL) {
			perror(argv[i]);
			return 2;
		}
		bl = fread(body, 1, sizeof(body), f);
		fclose(f);
		int hl = snprintf(head, sizeof(head),
				  "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/ocsp-request\r\n"
				  "Content-Length: %zu\r\n%s\r\n",
				  argv[1], bl, closemode ? "Connection: close\r\n" : "");
		reqs[nreqs].data = malloc((size_t)hl + bl);
		memcpy(reqs[nreqs].data, head, (size_t)hl);
		memcpy(reqs[nreqs].data + hl, body, bl);
		reqs[nreqs].len = (size_t)hl + bl;
		nreqs++;
	}
	if (closemode) /* rebuild heads with Connection: close if flag came last */
		for (int i = 0; i < nreqs; i++)
			if (strstr(reqs[i].data, "Connection: close") == NULL) {
				char *p = strstr(reqs[i].data, "\r\n\r\n");
				size_t off = (size_t)(p - reqs[i].data) + 2;
				char *n = malloc(reqs[i].len + 19);
				memcpy(n, reqs[i].data, off);
				memcpy(n + off, "Connection: close\r\n", 19);
				memcpy(n + off + 19, reqs[i].data + off, reqs[i].len - off);
				free(reqs[i].data);
				reqs[i].data = n;
				reqs[i].len += 19;
			}
	ep = epoll_create1(0);
	conns = calloc((size_t)nconn, sizeof(*conns));
	for (int i = 0; i < nconn; i++) {
		conns[i].idx = i;
		conn_open(&conns[i]);
		conn_send(&conns[i]);
	}
	t0 = now();
	t1 = t0 + secs;
	while (now() < t1) {
		int n = epoll_wait(ep, evs, 256, 100);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			ssize_t r = recv(c->fd, c->buf + c->have, sizeof(c->buf) - 1 - c->have, 0);
			if (r > 0)
				c->have += (size_t)r;
			if (r > 0 && !complete(c))
				continue;
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r > 0 || (r == 0 && closemode && c->have > 0)) {
				if (strncmp(c->buf, "HTTP/1.1 200", 12) == 0 ||
				    strncmp(c->buf, "HTTP/1.0 200", 12) == 0)
					responses++;
				else
					errors++;
			} else {
				errors++;
			}
			if (closemode || r <= 0) {
				close(c->fd);
				conn_open(c);
			}
			c->have = 0;
			conn_send(c);
		}
	}
	t1 = now();
	printf("responses=%ld seconds=%.2f rate=%.0f errors=%ld\n", responses, t1 - t0,
	       (double)responses / (t1 - t0), errors);
	return 0;
}
