/*
 * fuzz.h - what every signet fuzz target shares.
 *
 * Besides "does not crash" (ASan/UBSan catch that), each target checks the
 * library's own contract from err.h after every call, so the fuzzer also
 * finds broken error handling: a failing call must set a code and a
 * sentence, and no call may leave the OpenSSL error queue non-empty for
 * the next caller to trip over.
 */
#ifndef SIGNET_FUZZ_H
#define SIGNET_FUZZ_H

#include <signet/err.h>

#include <openssl/err.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A NUL-terminated copy of the input (the text parsers take C strings). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (s == NULL)
		abort();
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* The err.h contract, checked after each library call. */
static inline void fuzz_check(const char *call, int failed, const struct signet_err *err)
{
	unsigned long e = ERR_peek_error();
	if (e != 0) {
		char buf[256];
		ERR_error_string_n(e, buf, sizeof(buf));
		fprintf(stderr, "%s left the OpenSSL error queue non-empty: %s\n", call, buf);
		abort();
	}
	if (failed && (err->code == SIGNET_OK || err->msg[0] == '\0')) {
		fprintf(stderr, "%s failed without an error code and sentence (code %d)\n",
			call, err->code);
		abort();
	}
}

#endif
