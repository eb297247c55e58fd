/* Load generator and backend for the layer 4 benchmark (bench/l4.py).
 *
 *   l4load server PORT
 *   l4load client PORT CONNECTIONS SECONDS UP DOWN [short]
 *
 * The exchange, on persistent connections (with `short`: one connection per exchange,
 * closed by the client once the answer is in): the client sends a 16-byte header (two
 * big-endian 64-bit lengths, UP and DOWN) followed by UP bytes; the server reads them all,
 * then answers DOWN bytes; the client reads them and starts the next exchange. One thread
 * per connection on each side, blocking sockets, TCP_NODELAY: simple, and cheap enough
 * that the proxy in between is what limits the run. The client prints one JSON line:
 * exchanges completed, bytes moved (both ways, payload only), errors, seconds.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (256 * 1024)

static char zeros[CHUNK];
static volatile int stop;
static int port;
static int short_conns; /* one connection per exchange */
static uint64_t up_len, down_len;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Write all of buf (len bytes), or return -1. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Send len bytes from the zero buffer, or return -1. */
static int send_bytes(int fd, uint64_t len)
{
	while (len) {
		size_t n = len < CHUNK ? (size_t)len : CHUNK;
		if (write_all(fd, zeros, n) < 0)
			return -1;
		len -= n;
	}
	return 0;
}

/* Read and drop exactly len bytes into buf (CHUNK long): 0, or -1 on end/error. */
static int read_bytes(int fd, char *buf, uint64_t len)
{
	while (len) {
		size_t want = len < CHUNK ? (size_t)len : CHUNK;
		ssize_t n = read(fd, buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		len -= (uint64_t)n;
	}
	return 0;
}

/* Read exactly len bytes into buf: 0, or -1 on end/error. */
static int read_exact(int fd, unsigned char *buf, size_t len)
{
	while (len) {
		ssize_t n = read(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

/* -- server ------------------------------------------------------------------------- */
static void *serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char *buf = malloc(CHUNK);
	unsigned char head[16];
	nodelay(fd);
	while (buf && read_exact(fd, head, 16) == 0) {
		if (read_bytes(fd, buf, get64(head)) < 0 || send_bytes(fd, get64(head + 8)) < 0)
			break;
	}
	free(buf);
	close(fd);
	return NULL;
}

static int server(void)
{
	int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 1024) < 0) {
		perror("listen");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		int fd = accept(ls, NULL, NULL);
		pthread_t t;
		if (fd < 0)
			continue;
		if (pthread_create(&t, NULL, serve, (void *)(intptr_t)fd) != 0) {
			close(fd);
			continue;
		}
		pthread_detach(t);
	}
}

/* -- client ------------------------------------------------------------------------- */
struct worker {
	pthread_t t;
	uint64_t exchanges, errors;
};

static void *drive(void *arg)
{
	struct worker *w = arg;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	char *buf = malloc(CHUNK);
	unsigned char head[16];
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	put64(head, up_len);
	put64(head + 8, down_len);
	if (!buf || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		w->errors++;
		goto out;
	}
	nodelay(fd);
	while (!stop) {
		if (short_conns && w->exchanges) { /* a new connection for each exchange */
			close(fd);
			fd = socket(AF_INET, SOCK_STREAM, 0);
			if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
				break;
			nodelay(fd);
		}
		/* header and a small body in one write, as a request would go */
		if (up_len <= CHUNK - 16) {
			memcpy(buf, head, 16);
			memset(buf + 16, 0, (size_t)up_len);
			if (write_all(fd, buf, 16 + (size_t)up_len) < 0)
				break;
		} else if (write_all(fd, (char *)head, 16) < 0 || send_bytes(fd, up_len) < 0) {
			break;
		}
		if (read_bytes(fd, buf, down_len) < 0)
			break;
		w->exchanges++;
	}
	if (!stop)
		w->errors++;
out:
	free(buf);
	close(fd);
	return NULL;
}

static int client(int conns, double seconds)
{
	struct worker *ws = calloc((size_t)conns, sizeof(*ws));
	uint64_t ex = 0, err = 0;
	double t0 = now(), t1;
	for (int i = 0; i < conns; i++)
		pthread_create(&ws[i].t, NULL, drive, &ws[i]);
	while (now() - t0 < seconds)
		usleep(10000);
	stop = 1;
	t1 = now();
	for (int i = 0; i < conns; i++) {
		/* a worker blocked mid-exchange ends when the run's sockets are shut */
		pthread_join(ws[i].t, NULL);
		ex += ws[i].exchanges;
		err += ws[i].errors;
	}
	printf("{\"exchanges\": %llu, \"bytes\": %llu, \"errors\": %llu, \"seconds\": %.3f}\n",
	       (unsigned long long)ex, (unsigned long long)(ex * (up_len + down_len)),
	       (unsigned long long)err, t1 - t0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "server")) {
		port = atoi(argv[2]);
		return server();
	}
	if ((argc == 7 || (argc == 8 && !strcmp(argv[7], "short"))) &&
	    !strcmp(argv[1], "client")) {
		short_conns = argc == 8;
		port = atoi(argv[2]);
		up_len = strtoull(argv[5], NULL, 10);
		down_len = strtoull(argv[6], NULL, 10);
		return client(atoi(argv[3]), atof(argv[4]));
	}
	fprintf(stderr, "usage: l4load server PORT | client PORT CONNS SECONDS UP DOWN [short]\n");
	return 2;
}
