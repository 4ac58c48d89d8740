/*
 * key.c - private keys.
 *
 * Encryption at rest is PKCS#8 EncryptedPrivateKeyInfo: PBES2 with scrypt
 * (N=2^14, r=8, p=1: ~16 MiB and tens of milliseconds per try, so a stolen
 * key file resists guessing) and AES-256-CBC.  OpenSSL, GnuTLS and Python
 * cryptography all read that format.  Secrets are wiped before release.
 * EC and Ed25519 PKCS#8 keys are read without OpenSSL's generic decoder
 * (key_fast.c); everything else, and every message about a malformed
 * file, comes from the decoder.
 */
#include "key_int.h"

#include <signet/file.h>
#include <signet/key.h>

#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	enum signet_key_type type;
} key_types[] = {
	{ "ec-p256", SIGNET_KEY_EC_P256 },   { "ec-p384", SIGNET_KEY_EC_P384 },
	{ "ed25519", SIGNET_KEY_ED25519 },   { "rsa-2048", SIGNET_KEY_RSA_2048 },
	{ "rsa-3072", SIGNET_KEY_RSA_3072 }, { "rsa-4096", SIGNET_KEY_RSA_4096 },
};

int signet_key_type_parse(const char *s, enum signet_key_type *out,
			  struct signet_err *err)
{
	for (size_t i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++) {
		if (strcmp(s, key_types[i].name) == 0) {
			*out = key_types[i].type;
			return 0;
		}
	}
	return signet_err_set(err, SIGNET_E_USAGE,
			      "unknown key type '%s' (use ec-p256, ec-p384, ed25519, "
			      "rsa-2048, rsa-3072 or rsa-4096)", s);
}

const char *signet_key_type_name(enum signet_key_type t)
{
	for (size_t i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++)
		if (key_types[i].type == t)
			return key_types[i].name;
	return "?";
}

EVP_PKEY *signet_key_generate(enum signet_key_type t, struct signet_err *err)
{
	EVP_PKEY *key = NULL;

	switch (t) {
	case SIGNET_KEY_EC_P256:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case SIGNET_KEY_EC_P384:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
		break;
	case SIGNET_KEY_ED25519:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	case SIGNET_KEY_RSA_2048:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		break;
	case SIGNET_KEY_RSA_3072:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
		break;
	case SIGNET_KEY_RSA_4096:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
		break;
	}
	if (key == NULL)
		signet_err_ossl(err, SIGNET_E_INTERNAL, "key generation failed");
	return key;
}

void signet_secret_free(void *p, size_t len)
{
	if (p != NULL)
		OPENSSL_clear_free(p, len);
}

int signet_key_to_pem(EVP_PKEY *key, const char *pass, char **pem, size_t *len,
		      struct signet_err *err)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	X509_SIG *enc = NULL;
	X509_ALGOR *pbe = NULL;
	char *data = NULL;
	long n;
	int rc = -1;

	*pem = NULL;
	*len = 0;
	if (bio == NULL)
		bio = BIO_new(BIO_s_mem());
	ENSURE(bio != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	if (pass == NULL) {
		ENSURE_OSSL(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL),
			    err, SIGNET_E_INTERNAL, "cannot encode private key");
	} else {
		unsigned char salt[16];
		ENSURE_OSSL(RAND_bytes(salt, sizeof(salt)) == 1, err, SIGNET_E_INTERNAL,
			    "no randomness for the key encryption salt");
		p8 = EVP_PKEY2PKCS8(key);
		ENSURE_OSSL(p8 != NULL, err, SIGNET_E_INTERNAL, "cannot encode private key");
		pbe = PKCS5_pbe2_set_scrypt(EVP_aes_256_cbc(), salt, sizeof(salt), NULL,
					    1 << 14, 8, 1);
		ENSURE_OSSL(pbe != NULL, err, SIGNET_E_INTERNAL,
			    "cannot set up key encryption");
		enc = PKCS8_set0_pbe(pass, (int)strlen(pass), p8, pbe);
		ENSURE_OSSL(enc != NULL, err, SIGNET_E_INTERNAL, "cannot encrypt private key");
		pbe = NULL; /* owned by enc now */
		ENSURE_OSSL(PEM_write_bio_PKCS8(bio, enc), err, SIGNET_E_INTERNAL,
			    "cannot encode encrypted private key");
	}
	n = BIO_get_mem_data(bio, &data);
	ENSURE(n > 0, err, SIGNET_E_INTERNAL, "empty key encoding");
	*pem = OPENSSL_malloc((size_t)n + 1);
	ENSURE(*pem != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	memcpy(*pem, data, (size_t)n);
	(*pem)[n] = '\0';
	*len = (size_t)n;
	rc = 0;
out:
	X509_ALGOR_free(pbe);
	X509_SIG_free(enc);
	PKCS8_PRIV_KEY_INFO_free(p8);
	BIO_free(bio);
	return rc;
}

int signet_key_save(EVP_PKEY *key, const char *path, const char *pass,
		    struct signet_err *err)
{
	char *pem = NULL;
	size_t len = 0;
	int rc;

	if (signet_key_to_pem(key, pass, &pem, &len, err) < 0)
		return -1;
	rc = signet_file_write(path, pem, len, 0600, 0, err);
	signet_secret_free(pem, len);
	return rc;
}

int signet_key_pem_is_encrypted(const unsigned char *data, size_t len)
{
	return memmem(data, len, "-----BEGIN ENCRYPTED PRIVATE KEY-----", 37) != NULL ||
	       memmem(data, len, "Proc-Type: 4,ENCRYPTED", 22) != NULL;
}

/* Whether an "ENCRYPTED PRIVATE KEY" PEM holds a whole PKCS#8 encrypted
 * structure, so that a failure to decrypt it is the passphrase's; other
 * encrypted forms (legacy Proc-Type PEM) are given the benefit of it. */
static int pkcs8_whole(const unsigned char *data, size_t len)
{
	BIO *bio;
	X509_SIG *sig;
	int whole;

	if (memmem(data, len, "-----BEGIN ENCRYPTED PRIVATE KEY-----", 37) == NULL ||
	    len > INT32_MAX)
		return 1;
	bio = BIO_new_mem_buf(data, (int)len);
	sig = bio != NULL ? PEM_read_bio_PKCS8(bio, NULL, NULL, NULL) : NULL;
	whole = sig != NULL;
	BIO_free(bio);
	X509_SIG_free(sig);
	ERR_clear_error();
	return whole;
}

EVP_PKEY *signet_key_parse(const unsigned char *data, size_t len,
			   const char *pass, const char *name,
			   struct signet_err *err)
{
	EVP_PKEY *key = NULL;
	OSSL_DECODER_CTX *dctx = NULL;
	const unsigned char *p = data;
	size_t left = len;
	int encrypted = signet_key_pem_is_encrypted(data, len);

	if (len == 0) {
		signet_err_set(err, SIGNET_E_PARSE, "%s: empty file, expected a private key", name);
		return NULL;
	}
	if (encrypted && pass == NULL) {
		signet_err_set(err, SIGNET_E_PASS,
			       "%s: the private key is encrypted and no passphrase was given",
			       name);
		return NULL;
	}
	/* EC and Ed25519 PKCS#8 without the generic decoder (key_fast.c). */
	switch (signet_key_parse_fast(data, len, pass, name, &key, err)) {
	case 1:
		return key;
	case -1:
		return NULL;
	}
	dctx = OSSL_DECODER_CTX_new_for_pkey(&key, NULL, NULL, NULL,
					     OSSL_KEYMGMT_SELECT_KEYPAIR, NULL, NULL);
	if (dctx == NULL) {
		signet_err_ossl(err, SIGNET_E_INTERNAL, "%s: cannot set up key decoder", name);
		return NULL;
	}
	/* An empty passphrase stops OpenSSL from prompting on its own. */
	OSSL_DECODER_CTX_set_passphrase(dctx, (const unsigned char *)(pass ? pass : ""),
					pass ? strlen(pass) : 0);
	if (!OSSL_DECODER_from_data(dctx, &p, &left) || key == NULL) {
		EVP_PKEY_free(key);
		key = NULL;
		if (encrypted && !pkcs8_whole(data, len))
			signet_err_set(err, SIGNET_E_PARSE,
				       "%s: malformed encrypted private key (damaged or cut short)",
				       name);
		else if (encrypted)
			signet_err_set(err, SIGNET_E_PASS,
				       "%s: wrong passphrase (or the key file is damaged)", name);
		else if (memmem(data, len, "-----BEGIN ", 11) != NULL &&
			 memmem(data, len, "PRIVATE KEY-----", 16) == NULL)
			signet_err_set(err, SIGNET_E_PARSE,
				       "%s: not a private key (found another kind of PEM block)",
				       name);
		else
			signet_err_set(err, SIGNET_E_PARSE, "%s: malformed private key", name);
	}
	OSSL_DECODER_CTX_free(dctx);
	ERR_clear_error();
	return key;
}

EVP_PKEY *signet_key_load(const char *path, const char *pass,
			  struct signet_err *err)
{
	unsigned char *data = NULL;
	size_t len = 0;
	EVP_PKEY *key;

	if (signet_file_read(path, &data, &len, err) < 0)
		return NULL;
	key = signet_key_parse(data, len, pass, path, err);
	signet_secret_free(data, len);
	return key;
}

static int ec_curve_nid(const EVP_PKEY *key)
{
	char group[64];
	size_t glen = 0;
	if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
					    sizeof(group), &glen)) {
		ERR_clear_error();
		return NID_undef;
	}
	return OBJ_sn2nid(group) != NID_undef ? OBJ_sn2nid(group) : OBJ_ln2nid(group);
}

int signet_key_check_strength(EVP_PKEY *key, struct signet_err *err)
{
	int id = EVP_PKEY_get_base_id(key);
	int bits = EVP_PKEY_get_bits(key);

	switch (id) {
	case EVP_PKEY_RSA:
		if (bits < 2048)
			return signet_err_set(err, SIGNET_E_POLICY,
					      "weak key: RSA %d bits (at least 2048 required)",
					      bits);
		if (bits > 16384)
			return signet_err_set(err, SIGNET_E_POLICY,
					      "RSA key of %d bits is larger than 16384", bits);
		return 0;
	case EVP_PKEY_EC: {
		int nid = ec_curve_nid(key);
		if (nid == NID_X9_62_prime256v1 || nid == NID_secp384r1 || nid == NID_secp521r1)
			return 0;
		return signet_err_set(err, SIGNET_E_POLICY,
				      "weak or unknown key: EC curve %s (use P-256, P-384 or P-521)",
				      nid != NID_undef ? OBJ_nid2sn(nid) : "with explicit parameters");
	}
	case EVP_PKEY_ED25519:
	case EVP_PKEY_ED448:
		return 0;
	default:
		return signet_err_set(err, SIGNET_E_POLICY,
				      "unsupported key algorithm %s (use RSA, EC or Ed25519)",
				      OBJ_nid2sn(id) ? OBJ_nid2sn(id) : "unknown");
	}
}

void signet_key_describe(const EVP_PKEY *key, char *buf, size_t size)
{
	int id = EVP_PKEY_get_base_id(key);
	switch (id) {
	case EVP_PKEY_RSA:
		snprintf(buf, size, "RSA %d", EVP_PKEY_get_bits(key));
		break;
	case EVP_PKEY_EC: {
		int nid = ec_curve_nid(key);
		const char *n = nid == NID_X9_62_prime256v1 ? "P-256"
				: nid == NID_secp384r1	     ? "P-384"
				: nid == NID_secp521r1	     ? "P-521"
				: nid != NID_undef	     ? OBJ_nid2sn(nid)
							     : "explicit curve";
		snprintf(buf, size, "EC %s", n);
		break;
	}
	case EVP_PKEY_ED25519:
		snprintf(buf, size, "Ed25519");
		break;
	case EVP_PKEY_ED448:
		snprintf(buf, size, "Ed448");
		break;
	default:
		snprintf(buf, size, "%s", OBJ_nid2sn(id) ? OBJ_nid2sn(id) : "unknown");
	}
}

const EVP_MD *signet_key_digest(const EVP_PKEY *key)
{
	int id = EVP_PKEY_get_base_id(key);
	if (id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448)
		return NULL;
	if (id == EVP_PKEY_EC) {
		int bits = EVP_PKEY_get_bits(key);
		if (bits > 384)
			return EVP_sha512();
		if (bits > 256)
			return EVP_sha384();
	}
	return EVP_sha256();
}

int signet_key_matches(const EVP_PKEY *a, const EVP_PKEY *b)
{
	int r = EVP_PKEY_eq(a, b);
	ERR_clear_error();
	return r == 1;
}
