/*
 * fuzz_key.c - signet_key_parse with a passphrase, as key files and
 * --pass-file reach it.
 *
 * Input layout: byte 0 is the passphrase length L (0xff: no passphrase at
 * all), the next L bytes are the passphrase (cut at a NUL, as a C string
 * would be), the rest is the key file.  Seeds hold plain and encrypted
 * PKCS#8 with their right and wrong passphrases.
 */
#include "fuzz.h"

#include <signet/key.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct signet_err err;
	EVP_PKEY *key;
	char *pass = NULL, buf[128];
	size_t plen;
	int r;

	if (size < 1)
		return 0;
	plen = data[0];
	data++;
	size--;
	if (plen != 0xff) {
		if (plen > size)
			plen = size;
		pass = fuzz_cstr(data, plen);
		data += plen;
		size -= plen;
	}
	signet_err_clear(&err);
	key = signet_key_parse(data, size, pass, "fuzz.key", &err);
	fuzz_check("signet_key_parse", key == NULL, &err);
	if (key != NULL) {
		signet_err_clear(&err);
		r = signet_key_check_strength(key, &err);
		fuzz_check("signet_key_check_strength", r < 0, &err);
		signet_key_describe(key, buf, sizeof(buf));
		(void)signet_key_digest(key);
		if (!signet_key_matches(key, key)) {
			fprintf(stderr, "a key does not match itself\n");
			abort();
		}
		fuzz_check("signet_key_matches", 0, &err);
		EVP_PKEY_free(key);
	}
	free(pass);
	return 0;
}
