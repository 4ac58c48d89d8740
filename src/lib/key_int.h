/*
 * key_int.h - library-internal: the private-key reader behind
 * signet_key_parse (key_fast.c) and the cheap key-versus-certificate
 * comparison the CA uses before it signs.
 */
#ifndef SIGNET_KEY_INT_H
#define SIGNET_KEY_INT_H

#include <openssl/x509.h>
#include <signet/err.h>

/*
 * Reads a PEM PKCS#8 private key (plain, or encrypted under pass) holding
 * a named-curve EC key (P-256, P-384, P-521) or an Ed25519 key without
 * OpenSSL 3.0's generic decoder.  Returns 1 with *key set (the caller's),
 * 0 when the key is not one it reads (the caller then uses the ordinary
 * decoder, which also words the errors), or -1 with err set when the
 * answer is final: a passphrase that does not decrypt the key
 * (SIGNET_E_PASS, worded as signet_key_parse words it), or an EC key whose
 * stored public point is not the one of its private scalar (SIGNET_E_PARSE).
 */
int signet_key_parse_fast(const unsigned char *data, size_t len, const char *pass,
			  const char *name, EVP_PKEY **key, struct signet_err *err);

/*
 * 1 when the certificate's SubjectPublicKeyInfo is, byte for byte, the
 * public half of key (named-curve EC with an uncompressed point, or
 * Ed25519); 0 when it is not or cannot be told this way: the caller then
 * decodes the certificate's key and compares with signet_key_matches.
 * Needs no decoded key in cert (see signet_cert_d2i_light).
 */
int signet_key_matches_spki(const EVP_PKEY *key, X509 *cert);

#endif
