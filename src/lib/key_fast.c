/*
 * key_fast.c - reading a CA's private key without OpenSSL 3.0's generic
 * key decoder, and matching it to the CA certificate without decoding the
 * certificate's key.
 *
 * Why.  The first OSSL_DECODER_CTX_new_for_pkey of an OpenSSL 3.0 process
 * gathers every decoder and key manager of the loaded providers: about a
 * quarter of a `signet sign` process, paid for one key.  Together with
 * csr_fast.c (the request) and cert_fast.c (the CA certificates) this file
 * keeps the issuing path from creating a decoder at all for the keys CAs
 * use (EC on a named curve, Ed25519).
 *
 * How.  PEM to DER, then OpenSSL's own PKCS#8 parsers: d2i_X509_SIG and
 * PKCS8_decrypt_ex for an encrypted key (the PBES2/scrypt signet writes,
 * or anything else OpenSSL decrypts), d2i_PKCS8_PRIV_KEY_INFO otherwise.
 * The ECPrivateKey inside (RFC 5915) is described with an asn1t.h template
 * and the key built from its parts with EVP_PKEY_fromdata; an Ed25519
 * key with EVP_PKEY_new_raw_private_key, which derives the public half.
 * An EC key's file carries its public point, which OpenSSL's own reader
 * also takes on trust; here the point is recomputed from the private
 * scalar (EC_POINT_mul with the generator, as OpenSSL's pairwise check
 * does, without its slower full public-key check, which adds nothing for
 * these prime-order curves once fromdata has put the point on the curve)
 * and must be the stored one, so the CA-certificate comparison below
 * really is about the key that signs.  Anything else (RSA, explicit or unnamed
 * curves, a missing or compressed public point, traditional or DER files,
 * headers, parse errors) returns 0 and goes the ordinary way, which also
 * produces the usual messages.  Only a passphrase that fails to decrypt,
 * and an inconsistent EC key, end here.
 *
 * Secrets: the DER is read into OpenSSL's secure heap (PEM_FLAG_SECURE),
 * the scalar goes through a BN_secure_new, and every copy is cleansed.
 * Nothing here is cryptography: the parsing, the decryption, the key and
 * its checks are OpenSSL's.
 */
#include "key_int.h"

#include <openssl/asn1t.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <string.h>

/* ECPrivateKey (RFC 5915); the curve only as a name, never explicit. */
typedef struct {
	ASN1_INTEGER *version;
	ASN1_OCTET_STRING *priv;
	ASN1_OBJECT *curve;
	ASN1_BIT_STRING *pub;
} SIGNET_ECPRIV;

static int ecpriv_cb(int op, ASN1_VALUE **pval, const ASN1_ITEM *it, void *exarg)
{
	SIGNET_ECPRIV *k = (SIGNET_ECPRIV *)*pval;

	(void)it;
	(void)exarg;
	if (op == ASN1_OP_FREE_PRE && k != NULL && k->priv != NULL && k->priv->data != NULL)
		OPENSSL_cleanse(k->priv->data, (size_t)k->priv->length);
	return 1;
}

ASN1_SEQUENCE_cb(SIGNET_ECPRIV, ecpriv_cb) = {
	ASN1_SIMPLE(SIGNET_ECPRIV, version, ASN1_INTEGER),
	ASN1_SIMPLE(SIGNET_ECPRIV, priv, ASN1_OCTET_STRING),
	ASN1_EXP_OPT(SIGNET_ECPRIV, curve, ASN1_OBJECT, 0),
	ASN1_EXP_OPT(SIGNET_ECPRIV, pub, ASN1_BIT_STRING, 1),
} static_ASN1_SEQUENCE_END_cb(SIGNET_ECPRIV, SIGNET_ECPRIV)

/* The curves read here: OpenSSL group name and field size in bytes. */
static const char *ec_group(int nid, size_t *field)
{
	switch (nid) {
	case NID_X9_62_prime256v1:
		*field = 32;
		return "P-256";
	case NID_secp384r1:
		*field = 48;
		return "P-384";
	case NID_secp521r1:
		*field = 66;
		return "P-521";
	default:
		return NULL;
	}
}

/* Is b a BIT STRING of whole bytes (no unused bits in its last octet)? */
static int whole_bytes(const ASN1_BIT_STRING *b)
{
	return (b->flags & 0x07) == 0;
}

/* Is pub (uncompressed) d times the generator, with 0 < d < order? */
static int scalar_makes_point(int nid, const BIGNUM *d, const unsigned char *pub, size_t publen)
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name_ex(NULL, NULL, nid);
	EC_POINT *q = g != NULL ? EC_POINT_new(g) : NULL;
	BN_CTX *bn = BN_CTX_secure_new();
	unsigned char buf[1 + 2 * 66];
	int ok;

	ok = q != NULL && bn != NULL && !BN_is_zero(d) && !BN_is_negative(d) &&
	     BN_cmp(d, EC_GROUP_get0_order(g)) < 0 && EC_POINT_mul(g, q, d, NULL, NULL, bn) &&
	     EC_POINT_point2oct(g, q, POINT_CONVERSION_UNCOMPRESSED, buf, sizeof(buf), bn) ==
		     publen &&
	     memcmp(buf, pub, publen) == 0;
	BN_CTX_free(bn);
	EC_POINT_free(q);
	EC_GROUP_free(g);
	return ok;
}

/*
 * The EC key of an ECPrivateKey whose AlgorithmIdentifier names curve:
 * 1 with *out, 0 not read here, -1 inconsistent (err set).
 */
static int ec_key(const ASN1_OBJECT *curve, const unsigned char *der, int derlen,
		  const char *name, EVP_PKEY **out, struct signet_err *err)
{
	const unsigned char *p = der;
	SIGNET_ECPRIV *k;
	const char *group;
	size_t field = 0;
	BIGNUM *d = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *key = NULL;
	int rc = 0;

	k = (SIGNET_ECPRIV *)ASN1_item_d2i(NULL, &p, derlen, ASN1_ITEM_rptr(SIGNET_ECPRIV));
	if (k == NULL || p != der + derlen || ASN1_INTEGER_get(k->version) != 1)
		goto out;
	group = ec_group(OBJ_obj2nid(curve), &field);
	if (group == NULL || (k->curve != NULL && OBJ_cmp(k->curve, curve) != 0))
		goto out;
	/* RFC 5915: the scalar is exactly as long as the order; the point
	 * uncompressed (what the certificate comparison expects). */
	if (ASN1_STRING_length(k->priv) != (int)field || k->pub == NULL || !whole_bytes(k->pub) ||
	    ASN1_STRING_length(k->pub) != (int)(1 + 2 * field) ||
	    ASN1_STRING_get0_data(k->pub)[0] != 0x04)
		goto out;
	d = BN_secure_new();
	if (d == NULL)
		goto out;
	BN_set_flags(d, BN_FLG_CONSTTIME);
	if (BN_bin2bn(ASN1_STRING_get0_data(k->priv), (int)field, d) == NULL)
		goto out;
	/* The stored point must be the scalar's: it is what is compared with
	 * the CA certificate, and the scalar is what signs. */
	if (!scalar_makes_point(OBJ_obj2nid(curve), d, ASN1_STRING_get0_data(k->pub),
				1 + 2 * field)) {
		rc = signet_err_set(err, SIGNET_E_PARSE,
				    "%s: damaged private key (its public point does not belong "
				    "to its private scalar)", name);
		goto out;
	}
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
					      ASN1_STRING_get0_data(k->pub), 1 + 2 * field) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
		goto out;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	/* fromdata checks that the point is on the curve. */
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, params) <= 0)
		goto out;
	*out = key;
	key = NULL;
	rc = 1;
out:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(key);
	OSSL_PARAM_free(params); /* clears the secure part */
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(d);
	ASN1_item_free((ASN1_VALUE *)k, ASN1_ITEM_rptr(SIGNET_ECPRIV));
	return rc;
}

/* The Ed25519 key of a CurvePrivateKey (RFC 8410): 1 with *out, or 0. */
static int ed25519_key(const unsigned char *der, int derlen, EVP_PKEY **out)
{
	const unsigned char *p = der;
	ASN1_OCTET_STRING *seed = d2i_ASN1_OCTET_STRING(NULL, &p, derlen);
	int ok = seed != NULL && p == der + derlen && ASN1_STRING_length(seed) == 32;

	if (ok)
		*out = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
						    ASN1_STRING_get0_data(seed), 32);
	if (seed != NULL) {
		OPENSSL_cleanse(seed->data, (size_t)seed->length);
		ASN1_OCTET_STRING_free(seed);
	}
	return ok && *out != NULL;
}

static int key_from_p8(const PKCS8_PRIV_KEY_INFO *p8, const char *name, EVP_PKEY **out,
		       struct signet_err *err)
{
	const ASN1_OBJECT *oid, *alg;
	const unsigned char *pk;
	const X509_ALGOR *algor;
	const void *pval;
	int pklen, ptype;

	if (!PKCS8_pkey_get0(&oid, &pk, &pklen, &algor, p8) || pklen <= 0)
		return 0;
	X509_ALGOR_get0(&alg, &ptype, &pval, algor);
	switch (OBJ_obj2nid(alg)) {
	case NID_X9_62_id_ecPublicKey:
		return ptype == V_ASN1_OBJECT ? ec_key(pval, pk, pklen, name, out, err) : 0;
	case NID_ED25519:
		return ptype == V_ASN1_UNDEF ? ed25519_key(pk, pklen, out) : 0;
	default:
		return 0;
	}
}

/* Did PKCS8_decrypt_ex run the cipher and get nonsense (a wrong passphrase),
 * rather than stop at something it cannot do? */
static int wrong_passphrase(void)
{
	unsigned long e = ERR_peek_last_error();
	return ERR_GET_LIB(e) == ERR_LIB_PKCS12 &&
	       (ERR_GET_REASON(e) == PKCS12_R_PKCS12_CIPHERFINAL_ERROR ||
		ERR_GET_REASON(e) == PKCS12_R_DECODE_ERROR);
}

int signet_key_parse_fast(const unsigned char *data, size_t len, const char *pass,
			  const char *name, EVP_PKEY **key, struct signet_err *err)
{
	BIO *bio = NULL;
	char *label = NULL, *header = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	long dlen = 0;
	X509_SIG *enc = NULL;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	int rc = 0;

	*key = NULL;
	if (len == 0 || len >= INT32_MAX || memmem(data, len, "-----BEGIN ", 11) == NULL)
		return 0;
	ERR_set_mark();
	bio = BIO_new_mem_buf(data, (int)len);
	if (bio == NULL ||
	    !PEM_read_bio_ex(bio, &label, &header, &der, &dlen,
			     PEM_FLAG_SECURE | PEM_FLAG_EAY_COMPATIBLE) ||
	    header[0] != '\0' || dlen <= 0)
		goto out;
	p = der;
	if (strcmp(label, "PRIVATE KEY") == 0) {
		p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, dlen);
	} else if (strcmp(label, "ENCRYPTED PRIVATE KEY") == 0 && pass != NULL) {
		enc = d2i_X509_SIG(NULL, &p, dlen);
		if (enc == NULL || p != der + dlen)
			goto out;
		p8 = PKCS8_decrypt_ex(enc, pass, (int)strlen(pass), NULL, NULL);
		if (p8 == NULL && wrong_passphrase()) {
			rc = signet_err_set(err, SIGNET_E_PASS,
					    "%s: wrong passphrase (or the key file is damaged)",
					    name);
			goto out;
		}
		p = der + dlen;
	}
	if (p8 != NULL && p == der + dlen)
		rc = key_from_p8(p8, name, key, err);
out:
	ERR_pop_to_mark();
	PKCS8_PRIV_KEY_INFO_free(p8); /* cleanses the key bytes */
	X509_SIG_free(enc);
	OPENSSL_secure_clear_free(der, dlen > 0 ? (size_t)dlen : 0);
	OPENSSL_secure_clear_free(header, header != NULL ? strlen(header) : 0);
	OPENSSL_secure_clear_free(label, label != NULL ? strlen(label) : 0);
	BIO_free(bio);
	return rc;
}

int signet_key_matches_spki(const EVP_PKEY *key, X509 *cert)
{
	const ASN1_OBJECT *alg;
	const unsigned char *bits;
	const void *pval;
	X509_ALGOR *algor;
	int nbits, ptype, id = EVP_PKEY_get_base_id(key), ok = 0;
	unsigned char pub[1 + 2 * 66];
	size_t publen = 0;

	if (!X509_PUBKEY_get0_param(NULL, &bits, &nbits, &algor, X509_get_X509_PUBKEY(cert)) ||
	    nbits <= 0 || !whole_bytes(X509_get0_pubkey_bitstr(cert)))
		return 0;
	ERR_set_mark();
	X509_ALGOR_get0(&alg, &ptype, &pval, algor);
	if (id == EVP_PKEY_EC) {
		char group[64];
		size_t field;
		/* Same named curve; the point is then compared below. */
		ok = OBJ_obj2nid(alg) == NID_X9_62_id_ecPublicKey && ptype == V_ASN1_OBJECT &&
		     EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
						    sizeof(group), NULL) &&
		     ec_group(OBJ_obj2nid(pval), &field) != NULL &&
		     (OBJ_obj2nid(pval) == OBJ_sn2nid(group) ||
		      OBJ_obj2nid(pval) == EC_curve_nist2nid(group));
		ok = ok && EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
							   pub, sizeof(pub), &publen);
	} else if (id == EVP_PKEY_ED25519) {
		publen = sizeof(pub);
		ok = OBJ_obj2nid(alg) == NID_ED25519 && ptype == V_ASN1_UNDEF &&
		     EVP_PKEY_get_raw_public_key(key, pub, &publen);
	}
	ok = ok && publen == (size_t)nbits && memcmp(pub, bits, publen) == 0;
	ERR_pop_to_mark();
	return ok;
}
