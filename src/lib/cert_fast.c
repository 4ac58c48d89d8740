/*
 * cert_fast.c - reading a CA certificate without decoding its public key.
 *
 * Why.  d2i_X509 decodes the SubjectPublicKeyInfo through
 * OSSL_DECODER_CTX_new_for_pkey (unless an ENGINE claims the algorithm),
 * and the first decoder context of an OpenSSL 3.0 process gathers every
 * decoder and key manager of the providers: a third of a one-certificate
 * `signet sign` went there, for CA certificates whose key the issuing
 * path never uses.  It needs their names, validity and extensions; the
 * key that signs comes from the key file (key_fast.c), and is matched to
 * the certificate by comparing encodings (signet_key_matches_spki).
 *
 * How.  OpenSSL's ASN.1 templates (asn1t.h) describe the certificate with
 * the key left as an AlgorithmIdentifier and a BIT STRING.  An X509 is
 * then assembled from the parsed parts through OpenSSL's setters, the key
 * with X509_PUBKEY_set0_param (which decodes nothing), and the signature
 * fields, which have no setters, through the pointers X509_get0_signature
 * and X509_get0_tbs_sigalg hand out.  It is accepted only when it encodes
 * back to the input byte for byte, so that it is the certificate that was
 * read in every field.  What it lacks is the decoded key:
 * X509_get0_pubkey answers NULL, OpenSSL's cached flags leave out the one
 * that needs the key (EXFLAG_SS, self-signed), and anything that needs
 * the key (a signature check, X509_check_private_key, X509_check_issued,
 * a verifier's store) must be given a certificate read by d2i_X509.  ca.c keeps such certificates to
 * itself and hands out fully decoded ones.  Anything else (unique IDs,
 * a non-DER encoding, a parse error) returns NULL: the caller then uses
 * d2i_X509, which also produces the usual errors.
 */
#include "cert_int.h"

#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <string.h>

typedef struct {
	ASN1_INTEGER *version;
	ASN1_INTEGER *serial;
	X509_ALGOR *sigalg;
	X509_NAME *issuer;
	X509_VAL *validity;
	X509_NAME *subject;
	SIGNET_SPKI *spki;
	ASN1_BIT_STRING *issuer_uid;
	ASN1_BIT_STRING *subject_uid;
	STACK_OF(X509_EXTENSION) *exts;
} SIGNET_TBS;

typedef struct {
	SIGNET_TBS *tbs;
	X509_ALGOR *sigalg;
	ASN1_BIT_STRING *sig;
} SIGNET_CERT;

ASN1_SEQUENCE(SIGNET_SPKI) = {
	ASN1_SIMPLE(SIGNET_SPKI, algor, X509_ALGOR),
	ASN1_SIMPLE(SIGNET_SPKI, bits, ASN1_BIT_STRING),
} ASN1_SEQUENCE_END(SIGNET_SPKI)

/* RFC 5280 4.1, as OpenSSL's X509_CINF has it. */
ASN1_SEQUENCE(SIGNET_TBS) = {
	ASN1_EXP_OPT(SIGNET_TBS, version, ASN1_INTEGER, 0),
	ASN1_SIMPLE(SIGNET_TBS, serial, ASN1_INTEGER),
	ASN1_SIMPLE(SIGNET_TBS, sigalg, X509_ALGOR),
	ASN1_SIMPLE(SIGNET_TBS, issuer, X509_NAME),
	ASN1_SIMPLE(SIGNET_TBS, validity, X509_VAL),
	ASN1_SIMPLE(SIGNET_TBS, subject, X509_NAME),
	ASN1_SIMPLE(SIGNET_TBS, spki, SIGNET_SPKI),
	ASN1_IMP_OPT(SIGNET_TBS, issuer_uid, ASN1_BIT_STRING, 1),
	ASN1_IMP_OPT(SIGNET_TBS, subject_uid, ASN1_BIT_STRING, 2),
	ASN1_EXP_SEQUENCE_OF_OPT(SIGNET_TBS, exts, X509_EXTENSION, 3),
} static_ASN1_SEQUENCE_END(SIGNET_TBS)

ASN1_SEQUENCE(SIGNET_CERT) = {
	ASN1_SIMPLE(SIGNET_CERT, tbs, SIGNET_TBS),
	ASN1_SIMPLE(SIGNET_CERT, sigalg, X509_ALGOR),
	ASN1_SIMPLE(SIGNET_CERT, sig, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(SIGNET_CERT)

/* Sets pub to algor and the key bits as they are (cert_int.h). */
int signet_pubkey_set_raw(X509_PUBKEY *pub, const X509_ALGOR *algor, const unsigned char *key,
			  int len)
{
	const ASN1_OBJECT *alg;
	const void *pval;
	int ptype;
	ASN1_OBJECT *oid;
	void *param = NULL;
	unsigned char *bits = NULL;

	X509_ALGOR_get0(&alg, &ptype, &pval, algor);
	oid = OBJ_dup(alg);
	if (ptype == V_ASN1_OBJECT)
		param = OBJ_dup(pval);
	else if (ptype == V_ASN1_SEQUENCE)
		param = ASN1_STRING_dup(pval);
	else if (ptype != V_ASN1_NULL && ptype != V_ASN1_UNDEF)
		goto fail;
	if (len > 0)
		bits = OPENSSL_memdup(key, (size_t)len);
	if (oid == NULL || (ptype != V_ASN1_NULL && ptype != V_ASN1_UNDEF && param == NULL) ||
	    (len > 0 && bits == NULL) ||
	    !X509_PUBKEY_set0_param(pub, oid, ptype, param, bits, len))
		goto fail;
	return 1;
fail:
	if (ptype == V_ASN1_OBJECT)
		ASN1_OBJECT_free(param);
	else if (ptype == V_ASN1_SEQUENCE)
		ASN1_STRING_free(param);
	ASN1_OBJECT_free(oid);
	OPENSSL_free(bits);
	return 0;
}

/* set0_param writes whole bytes; the byte comparison in the caller catches
 * any other unused-bits count. */
static int set_pubkey(X509 *x, const SIGNET_SPKI *spki)
{
	return signet_pubkey_set_raw(X509_get_X509_PUBKEY(x), spki->algor,
				     ASN1_STRING_get0_data(spki->bits),
				     ASN1_STRING_length(spki->bits));
}

static X509 *assemble(const SIGNET_CERT *c, const unsigned char *der, long len)
{
	const SIGNET_TBS *t = c->tbs;
	X509 *x = X509_new();
	const ASN1_BIT_STRING *psig;
	const X509_ALGOR *palg;
	unsigned char *enc = NULL;
	long version = t->version != NULL ? ASN1_INTEGER_get(t->version) : X509_VERSION_1;
	int ok, n;

	ok = x != NULL && t->issuer_uid == NULL && t->subject_uid == NULL &&
	     version >= X509_VERSION_1 && version <= X509_VERSION_3 &&
	     X509_set_version(x, version) && X509_set_serialNumber(x, t->serial) &&
	     X509_ALGOR_copy((X509_ALGOR *)X509_get0_tbs_sigalg(x), t->sigalg) &&
	     X509_set_issuer_name(x, t->issuer) && X509_set1_notBefore(x, t->validity->notBefore) &&
	     X509_set1_notAfter(x, t->validity->notAfter) && X509_set_subject_name(x, t->subject) &&
	     set_pubkey(x, t->spki);
	for (int i = 0; ok && i < sk_X509_EXTENSION_num(t->exts); i++)
		ok = X509_add_ext(x, sk_X509_EXTENSION_value(t->exts, i), -1);
	if (ok) {
		/* No setters for these: fill the objects X509_new made. */
		X509_get0_signature(&psig, &palg, x);
		ok = X509_ALGOR_copy((X509_ALGOR *)palg, c->sigalg) &&
		     ASN1_STRING_copy((ASN1_BIT_STRING *)psig, c->sig);
	}
	/* Only what encodes back to the input is the certificate read. */
	if (ok) {
		n = i2d_X509(x, &enc);
		ok = n > 0 && n == len && memcmp(enc, der, (size_t)n) == 0;
	}
	OPENSSL_free(enc);
	if (!ok) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

X509 *signet_cert_d2i_light(const unsigned char **pp, long len)
{
	const unsigned char *p = *pp;
	SIGNET_CERT *c;
	X509 *x = NULL;

	ERR_set_mark();
	c = (SIGNET_CERT *)ASN1_item_d2i(NULL, &p, len, ASN1_ITEM_rptr(SIGNET_CERT));
	if (c != NULL)
		x = assemble(c, *pp, (long)(p - *pp));
	ASN1_item_free((ASN1_VALUE *)c, ASN1_ITEM_rptr(SIGNET_CERT));
	ERR_pop_to_mark();
	if (x != NULL)
		*pp = p;
	return x;
}
