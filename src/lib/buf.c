/*
 * buf.c - the growable byte buffer of buf.h.
 */
#include <signet/buf.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int signet_buf_reserve(struct signet_buf *b, size_t more, size_t first)
{
	size_t cap = b->cap ? b->cap : first ? first : 4096;
	unsigned char *np;

	if (more > SIZE_MAX - b->len)
		return -1;
	if (b->len + more <= b->cap)
		return 0;
	while (cap < b->len + more) {
		if (cap > SIZE_MAX / 2)
			return -1;
		cap *= 2;
	}
	np = realloc(b->p, cap);
	if (np == NULL)
		return -1;
	b->p = np;
	b->cap = cap;
	return 0;
}

int signet_buf_append(struct signet_buf *b, const void *data, size_t n, size_t first)
{
	if (signet_buf_reserve(b, n, first) < 0)
		return -1;
	if (n > 0)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	return 0;
}

void signet_buf_free(struct signet_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}
