/*
 * csr_fast.c - reading a PKCS#10 request without OpenSSL 3.0's generic
 * key decoder.
 *
 * Why.  d2i_X509_REQ decodes the SubjectPublicKeyInfo through
 * OSSL_DECODER_CTX_new_for_pkey, which in OpenSSL 3.0 builds a decoder
 * chain from every provider's decoders on each call: about 90 us and a
 * stream of shared-lock traffic per request, several times the ECDSA
 * verification that follows.  For the keys CAs sign by the thousand (EC on
 * a named curve, Ed25519) the key can be built from its parameters with
 * EVP_PKEY_fromdata or EVP_PKEY_new_raw_public_key at a tenth of that.
 * fromdata itself builds the curve's group from its parameters on every
 * call (16 us for P-256, as much as the signature); so after the first key
 * of a curve, the next ones are copies of that key (EVP_PKEY_dup shares
 * the group's tables) given their own point with
 * EVP_PKEY_set1_encoded_public_key, which checks it is on the curve just as
 * fromdata does: about 3 us.  Even a copy is a new EVP_PKEY, which OpenSSL
 * 3.0 matches to its legacy method by walking every name of the key type;
 * so a caller reading many requests on one thread (a batch's signing
 * thread) hands back the previous request's key, and only its point is
 * replaced.
 *
 * How.  OpenSSL's ASN.1 templates (asn1t.h) describe the request with the
 * key left as an AlgorithmIdentifier and a BIT STRING.  The X509_REQ is
 * then assembled from the parsed parts, and accepted only when its
 * re-encoded CertificationRequestInfo is byte for byte the one that was
 * signed, so the proof-of-possession check sees exactly the signed bytes.
 * Anything else (another key type, explicit curve parameters, a non-DER
 * encoding, a parse error) goes the ordinary way through d2i_X509_REQ,
 * which also produces the usual errors.  Nothing here is cryptography: the
 * parsing, the key and the signature check are OpenSSL's.
 */
#include "cert_int.h"
#include "csr_int.h"

#include <signet/cert.h>

#include <openssl/asn1t.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <pthread.h>
#include <openssl/x509.h>
#include <string.h>

typedef struct {
	ASN1_ENCODING enc; /* the signed bytes, as received */
	ASN1_INTEGER *version;
	X509_NAME *subject;
	SIGNET_SPKI *spki;
	STACK_OF(X509_ATTRIBUTE) *attrs;
} SIGNET_CSR_INFO;

typedef struct {
	SIGNET_CSR_INFO *info;
	X509_ALGOR *sigalg;
	ASN1_BIT_STRING *sig;
} SIGNET_CSR;

ASN1_SEQUENCE_enc(SIGNET_CSR_INFO, enc, NULL) = {
	ASN1_SIMPLE(SIGNET_CSR_INFO, version, ASN1_INTEGER),
	ASN1_SIMPLE(SIGNET_CSR_INFO, subject, X509_NAME),
	ASN1_SIMPLE(SIGNET_CSR_INFO, spki, SIGNET_SPKI),
	/* OPTIONAL as in OpenSSL's X509_REQ_INFO: some old requests omit it. */
	ASN1_IMP_SET_OF_OPT(SIGNET_CSR_INFO, attrs, X509_ATTRIBUTE, 0),
} static_ASN1_SEQUENCE_END_ref(SIGNET_CSR_INFO, SIGNET_CSR_INFO)

ASN1_SEQUENCE(SIGNET_CSR) = {
	ASN1_SIMPLE(SIGNET_CSR, info, SIGNET_CSR_INFO),
	ASN1_SIMPLE(SIGNET_CSR, sigalg, X509_ALGOR),
	ASN1_SIMPLE(SIGNET_CSR, sig, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(SIGNET_CSR)

/* One key per named curve (P-256, P-384, P-521) whose copies become the
 * next keys of that curve; kept for the life of the process, and never
 * handed out itself (only copied, under the lock). */
static pthread_mutex_t ec_model_lock = PTHREAD_MUTEX_INITIALIZER;
static EVP_PKEY *ec_model[3];

/* Whether spare, a key the caller is done with, is an EC key on the curve
 * nid (its group name is the curve's short name, "prime256v1"). */
static int spare_fits(EVP_PKEY *spare, int nid)
{
	char name[32];

	return EVP_PKEY_get_base_id(spare) == EVP_PKEY_EC &&
	       EVP_PKEY_get_group_name(spare, name, sizeof(name), NULL) == 1 &&
	       OBJ_sn2nid(name) == nid;
}

static EVP_PKEY *ec_key_from_point(int slot, int nid, const char *group,
				   const unsigned char *pt, size_t len, EVP_PKEY *spare)
{
	EVP_PKEY *key = NULL, *copy = NULL;
	EVP_PKEY_CTX *ctx;
	OSSL_PARAM params[3];

	/* A spare key of the curve takes the new point: creating an EVP_PKEY
	 * costs more in OpenSSL 3.0 (a walk over every name of the key type)
	 * than setting and checking a point. */
	if (spare != NULL && spare_fits(spare, nid))
		copy = spare;
	else
		EVP_PKEY_free(spare);
	if (copy == NULL) {
		pthread_mutex_lock(&ec_model_lock);
		if (ec_model[slot] != NULL)
			copy = EVP_PKEY_dup(ec_model[slot]);
		pthread_mutex_unlock(&ec_model_lock);
	}
	if (copy != NULL) {
		/* The point is decoded and checked to be on the curve. */
		if (EVP_PKEY_set1_encoded_public_key(copy, pt, len) > 0)
			return copy;
		EVP_PKEY_free(copy);
		return NULL;
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pt, len);
	params[2] = OSSL_PARAM_construct_end();
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	/* fromdata checks that the point is on the curve. */
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		key = NULL;
	EVP_PKEY_CTX_free(ctx);
	if (key != NULL) {
		/* The model is a copy that nobody else holds: the key returned
		 * goes back as a spare whose point is replaced, and the model is
		 * read (copied) by other threads meanwhile. */
		EVP_PKEY *model = EVP_PKEY_dup(key);

		pthread_mutex_lock(&ec_model_lock);
		if (ec_model[slot] == NULL) {
			ec_model[slot] = model;
			model = NULL;
		}
		pthread_mutex_unlock(&ec_model_lock);
		EVP_PKEY_free(model);
	}
	return key;
}

/* The key of a named-curve EC or an Ed25519 SPKI (its algorithm and the
 * key bits, whole bytes); NULL for anything else.  spare (or NULL) is the
 * caller's key to reuse or free. */
static EVP_PKEY *key_from_parts(const X509_ALGOR *algor, const unsigned char *bits, int nbits,
				EVP_PKEY *spare)
{
	const ASN1_OBJECT *alg;
	const void *pval;
	int ptype, nid;

	if (nbits <= 0) {
		EVP_PKEY_free(spare);
		return NULL;
	}
	X509_ALGOR_get0(&alg, &ptype, &pval, algor);
	nid = OBJ_obj2nid(alg);
	if (nid == NID_X9_62_id_ecPublicKey && ptype == V_ASN1_OBJECT) {
		switch (OBJ_obj2nid(pval)) {
		case NID_X9_62_prime256v1:
			return ec_key_from_point(0, NID_X9_62_prime256v1, "P-256", bits, (size_t)nbits, spare);
		case NID_secp384r1:
			return ec_key_from_point(1, NID_secp384r1, "P-384", bits, (size_t)nbits, spare);
		case NID_secp521r1:
			return ec_key_from_point(2, NID_secp521r1, "P-521", bits, (size_t)nbits, spare);
		}
	}
	EVP_PKEY_free(spare);
	if (nid == NID_ED25519 && ptype == V_ASN1_UNDEF && nbits == 32)
		return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, bits, (size_t)nbits);
	return NULL;
}

static EVP_PKEY *key_from_spki(const SIGNET_SPKI *spki, EVP_PKEY *spare)
{
	if ((spki->bits->flags & 0x07) != 0) { /* whole bytes only */
		EVP_PKEY_free(spare);
		return NULL;
	}
	return key_from_parts(spki->algor, ASN1_STRING_get0_data(spki->bits),
			      ASN1_STRING_length(spki->bits), spare);
}

EVP_PKEY *signet_csr_key(X509_REQ *req, EVP_PKEY *spare)
{
	X509_PUBKEY *pub = X509_REQ_get_X509_PUBKEY(req);
	const unsigned char *bits;
	int nbits;
	X509_ALGOR *algor;
	EVP_PKEY *k;

	/* A request from signet_csr_d2i_fast holds its key as parsed (whole
	 * bytes were checked then); any other holds it decoded. */
	ERR_set_mark();
	k = X509_REQ_get0_pubkey(req);
	if (k != NULL) {
		ERR_pop_to_mark();
		EVP_PKEY_free(spare);
		return EVP_PKEY_up_ref(k) ? k : NULL;
	}
	if (pub == NULL || !X509_PUBKEY_get0_param(NULL, &bits, &nbits, &algor, pub))
		k = NULL;
	else
		k = key_from_parts(algor, bits, nbits, spare);
	ERR_pop_to_mark();
	return k;
}

/* Copies the SPKI into req's X509_PUBKEY as it is (no re-encoding). */
static int set_pubkey(X509_REQ *req, const SIGNET_SPKI *spki)
{
	return signet_pubkey_set_raw(X509_REQ_get_X509_PUBKEY(req), spki->algor,
				     ASN1_STRING_get0_data(spki->bits),
				     ASN1_STRING_length(spki->bits));
}

static X509_REQ *assemble(const SIGNET_CSR *c)
{
	X509_REQ *req = X509_REQ_new();
	X509_ALGOR *sigalg = NULL;
	ASN1_BIT_STRING *sig = NULL;
	unsigned char *tbs = NULL;
	int ok, tbs_len;

	ok = req != NULL && ASN1_INTEGER_get(c->info->version) == X509_REQ_VERSION_1 &&
	     X509_REQ_set_version(req, X509_REQ_VERSION_1) &&
	     X509_REQ_set_subject_name(req, c->info->subject) && set_pubkey(req, c->info->spki);
	for (int i = 0; ok && i < sk_X509_ATTRIBUTE_num(c->info->attrs); i++)
		ok = X509_REQ_add1_attr(req, sk_X509_ATTRIBUTE_value(c->info->attrs, i));
	if (ok) {
		sigalg = X509_ALGOR_dup(c->sigalg);
		sig = ASN1_STRING_dup(c->sig);
		ok = sigalg != NULL && sig != NULL && X509_REQ_set1_signature_algo(req, sigalg);
	}
	if (ok) {
		X509_REQ_set0_signature(req, sig);
		sig = NULL;
		/* Only what re-encodes to the signed bytes is ours to take. */
		tbs_len = i2d_re_X509_REQ_tbs(req, &tbs);
		ok = tbs_len > 0 && tbs_len == c->info->enc.len &&
		     memcmp(tbs, c->info->enc.enc, (size_t)tbs_len) == 0;
	}
	OPENSSL_free(tbs);
	X509_ALGOR_free(sigalg);
	ASN1_BIT_STRING_free(sig);
	if (!ok) {
		X509_REQ_free(req);
		req = NULL;
	}
	return req;
}

/* c assembled, when it is an ECDSA request on a named curve whose
 * signature verifies over the bytes received (csr_check.c). */
static X509_REQ *assemble_checked(struct signet_csr_checker *ck, const SIGNET_CSR *c)
{
	const SIGNET_SPKI *spki = c->info->spki;
	const ASN1_OBJECT *alg;
	const void *pval;
	int ptype;
	X509_REQ *req;

	X509_ALGOR_get0(&alg, &ptype, &pval, spki->algor);
	if (OBJ_obj2nid(alg) != NID_X9_62_id_ecPublicKey || ptype != V_ASN1_OBJECT ||
	    (spki->bits->flags & 0x07) != 0)
		return NULL;
	req = assemble(c);
	if (req != NULL &&
	    signet_csr_check_ecdsa(ck, c->sigalg, c->sig, OBJ_obj2nid(pval),
				   ASN1_STRING_get0_data(spki->bits),
				   (size_t)ASN1_STRING_length(spki->bits), c->info->enc.enc,
				   (size_t)c->info->enc.len) != 1) {
		X509_REQ_free(req);
		req = NULL;
	}
	return req;
}

X509_REQ *signet_csr_d2i_fast(const unsigned char **pp, long len, EVP_PKEY **key)
{
	return signet_csr_d2i_checked(pp, len, key, NULL, NULL);
}

X509_REQ *signet_csr_d2i_checked(const unsigned char **pp, long len, EVP_PKEY **key,
				 struct signet_csr_checker *ck, int *checked)
{
	const unsigned char *p = *pp;
	SIGNET_CSR *c;
	X509_REQ *req = NULL;
	EVP_PKEY *k = NULL, *spare = *key;

	*key = NULL;
	ERR_set_mark();
	c = (SIGNET_CSR *)ASN1_item_d2i(NULL, &p, len, ASN1_ITEM_rptr(SIGNET_CSR));
	if (ck != NULL && c != NULL && c->info->enc.enc != NULL &&
	    (req = assemble_checked(ck, c)) != NULL) {
		/* Checked: no key is needed now. */
		ASN1_item_free((ASN1_VALUE *)c, ASN1_ITEM_rptr(SIGNET_CSR));
		ERR_pop_to_mark();
		EVP_PKEY_free(spare);
		*checked = 1;
		*pp = p;
		return req;
	}
	if (c != NULL && c->info->enc.enc != NULL)
		k = key_from_spki(c->info->spki, spare);
	else
		EVP_PKEY_free(spare);
	if (k != NULL)
		req = assemble(c);
	ASN1_item_free((ASN1_VALUE *)c, ASN1_ITEM_rptr(SIGNET_CSR));
	ERR_pop_to_mark();
	if (req != NULL) {
		*pp = p;
		*key = k;
		return req;
	}
	EVP_PKEY_free(k);
	/* The ordinary way, with OpenSSL's own errors. */
	p = *pp;
	req = d2i_X509_REQ(NULL, &p, len);
	if (req != NULL) {
		*pp = p;
		*key = X509_REQ_get0_pubkey(req);
		if (*key != NULL)
			EVP_PKEY_up_ref(*key);
	}
	return req;
}
