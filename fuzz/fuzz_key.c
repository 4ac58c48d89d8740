/*
 * fuzz_key.c - signet_key_parse with a passphrase, as key files and
 * --pass-file reach it.
 *
 * Input layout: byte 0 is the passphrase length L (0xff: no passphrase at
 * all), the next L bytes are the passphrase (cut at a NUL, as a C string
 * would be), the rest is the key file.  Seeds hold plain and encrypted
 * PKCS#8 with their right and wrong passphrases.
 *
 * signet_key_parse reads EC and Ed25519 PKCS#8 without OpenSSL's decoder
 * (key_fast.c); each input is also given to the decoder directly, and the
 * two must agree: a key the fast reader returns is the decoder's key, and
 * a passphrase it calls wrong does not decrypt for the decoder either.
 */
#include "fuzz.h"
#include "key_int.h"

#include <openssl/decoder.h>
#include <signet/key.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* What OpenSSL's decoder makes of the input (NULL: nothing). */
static EVP_PKEY *decoder_key(const uint8_t *data, size_t size, const char *pass)
{
	EVP_PKEY *key = NULL;
	const unsigned char *p = data;
	size_t left = size;
	OSSL_DECODER_CTX *dctx = OSSL_DECODER_CTX_new_for_pkey(
		&key, NULL, NULL, NULL, OSSL_KEYMGMT_SELECT_KEYPAIR, NULL, NULL);

	if (dctx == NULL)
		abort();
	OSSL_DECODER_CTX_set_passphrase(dctx, (const unsigned char *)(pass ? pass : ""),
					pass ? strlen(pass) : 0);
	if (!OSSL_DECODER_from_data(dctx, &p, &left)) {
		EVP_PKEY_free(key);
		key = NULL;
	}
	OSSL_DECODER_CTX_free(dctx);
	ERR_clear_error();
	return key;
}

static void check_fast(const uint8_t *data, size_t size, const char *pass)
{
	struct signet_err err;
	EVP_PKEY *fast = NULL, *slow;
	int r;

	signet_err_clear(&err);
	r = signet_key_parse_fast(data, size, pass, "fuzz.key", &fast, &err);
	fuzz_check("signet_key_parse_fast", r < 0, &err);
	if ((r == 1) != (fast != NULL))
		abort();
	if (r == 0)
		return;
	slow = decoder_key(data, size, pass);
	if (r == 1 && (slow == NULL || !signet_key_matches(fast, slow))) {
		fprintf(stderr, "the fast reader returned a key the decoder does not\n");
		abort();
	}
	if (r < 0 && err.code == SIGNET_E_PASS && slow != NULL) {
		fprintf(stderr, "the fast reader refused a passphrase the decoder accepts\n");
		abort();
	}
	EVP_PKEY_free(slow);
	EVP_PKEY_free(fast);
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
	check_fast(data, size, pass);
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
