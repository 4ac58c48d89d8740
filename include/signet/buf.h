/*
 * buf.h - a growable byte buffer for output built in pieces (a CRL's
 * entries, a batch's certificates, an HTTP reply, a response read from the
 * network).
 *
 * A zeroed struct signet_buf is empty.  The capacity starts at the `first`
 * the caller gives (the size it expects; 4096 when 0) and doubles as
 * needed.  Out of memory leaves the buffer as it was; the caller names the
 * failure in its own words.
 */
#ifndef SIGNET_BUF_H
#define SIGNET_BUF_H

#include <stddef.h>

struct signet_buf {
	unsigned char *p;
	size_t len, cap;
};

/* Makes room for more bytes after len.  Returns 0, or -1 when out of
 * memory (or when len + more overflows). */
int signet_buf_reserve(struct signet_buf *b, size_t more, size_t first);

/* Appends n bytes of data.  Returns 0, or -1 as signet_buf_reserve. */
int signet_buf_append(struct signet_buf *b, const void *data, size_t n, size_t first);

/* Frees the bytes and empties b. */
void signet_buf_free(struct signet_buf *b);

#endif
