/*
 * key.h - private keys: generation, PKCS#8 PEM encoding (encrypted with
 * AES-256-CBC under scrypt when a passphrase is given), loading with a
 * passphrase, and the strength policy every signing path applies.
 */
#ifndef SIGNET_KEY_H
#define SIGNET_KEY_H

#include <openssl/evp.h>
#include <signet/err.h>
#include <stddef.h>

enum signet_key_type {
	SIGNET_KEY_EC_P256,
	SIGNET_KEY_EC_P384,
	SIGNET_KEY_ED25519,
	SIGNET_KEY_RSA_2048,
	SIGNET_KEY_RSA_3072,
	SIGNET_KEY_RSA_4096,
};

/* "ec-p256", "ec-p384", "ed25519", "rsa-2048", "rsa-3072", "rsa-4096". */
int signet_key_type_parse(const char *s, enum signet_key_type *out,
			  struct signet_err *err);
const char *signet_key_type_name(enum signet_key_type t);

EVP_PKEY *signet_key_generate(enum signet_key_type t, struct signet_err *err);

/* PKCS#8 PEM; encrypted when pass is non-NULL.  *pem is malloc'ed and
 * holds secrets: release it with signet_secret_free(). */
int signet_key_to_pem(EVP_PKEY *key, const char *pass, char **pem, size_t *len,
		      struct signet_err *err);
void signet_secret_free(void *p, size_t len);

/* Writes the key atomically with mode 0600 ("-" = stdout). */
int signet_key_save(EVP_PKEY *key, const char *path, const char *pass,
		    struct signet_err *err);

/* True when the PEM in data is an encrypted private key. */
int signet_key_pem_is_encrypted(const unsigned char *data, size_t len);

/* Parses a PEM (PKCS#8, encrypted PKCS#8, traditional) or DER private key.
 * name is used in messages.  A missing or wrong passphrase gives
 * SIGNET_E_PASS; anything malformed SIGNET_E_PARSE. */
EVP_PKEY *signet_key_parse(const unsigned char *data, size_t len,
			   const char *pass, const char *name,
			   struct signet_err *err);
EVP_PKEY *signet_key_load(const char *path, const char *pass,
			  struct signet_err *err);

/* Refuses weak or unknown keys: RSA < 2048 bits, curves other than
 * P-256/P-384/P-521, anything that is not RSA/EC/Ed25519/Ed448. */
int signet_key_check_strength(EVP_PKEY *key, struct signet_err *err);

/* "EC P-256", "RSA 2048", "Ed25519". */
void signet_key_describe(const EVP_PKEY *key, char *buf, size_t size);

/* The digest to sign with for this key (NULL for Ed25519/Ed448). */
const EVP_MD *signet_key_digest(const EVP_PKEY *key);

/* Do the public halves of a and b match? */
int signet_key_matches(const EVP_PKEY *a, const EVP_PKEY *b);

#endif
