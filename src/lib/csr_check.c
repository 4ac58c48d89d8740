/*
 * csr_check.c - the proof of possession of an ECDSA request, checked with
 * a key the caller keeps from one request to the next.
 *
 * Why.  X509_REQ_verify makes everything anew for each request: an
 * EVP_PKEY for the request's key, an EVP_MD_CTX and an EVP_PKEY_CTX, and
 * through them a fetch of the digest and of the signature method by name,
 * under locks the signing threads of a batch share.  Around the ECDSA
 * arithmetic that came to a tenth of a batch's time.  OpenSSL's EC_KEY
 * calls verify the same signature with the same code (ECDSA_verify is
 * what the provider calls), on a key whose point is replaced per request,
 * and a digest fetched once.  They are deprecated in OpenSSL 3.0, not
 * removed; this file alone uses them.
 *
 * What it checks is what X509_REQ_verify checks: the signature algorithm
 * names ECDSA and a digest, the signature is a BIT STRING of whole bytes
 * holding a DER ECDSA-Sig-Value (ECDSA_verify refuses any other encoding),
 * the key's point is on its curve (EC_KEY_oct2key), and the signature
 * verifies over the CertificationRequestInfo as received.  Nothing here is
 * cryptography: the digest, the point and the signature are OpenSSL's.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include "csr_int.h"

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <stdlib.h>

/* The curves and digests taken this way; anything else goes through
 * X509_REQ_verify. */
static const int curve_nids[] = { NID_X9_62_prime256v1, NID_secp384r1, NID_secp521r1 };
static const char *const md_names[] = { "SHA256", "SHA384", "SHA512" };

struct signet_csr_checker {
	EC_KEY *ec[3]; /* per curve; its point is each request's in turn */
	EVP_MD *md[3]; /* per digest, fetched once */
	EVP_MD_CTX *mdctx;
};

struct signet_csr_checker *signet_csr_checker_new(void)
{
	struct signet_csr_checker *ck = calloc(1, sizeof(*ck));

	if (ck != NULL && (ck->mdctx = EVP_MD_CTX_new()) == NULL) {
		free(ck);
		ck = NULL;
	}
	return ck;
}

void signet_csr_checker_free(struct signet_csr_checker *ck)
{
	if (ck == NULL)
		return;
	for (int i = 0; i < 3; i++) {
		EC_KEY_free(ck->ec[i]);
		EVP_MD_free(ck->md[i]);
	}
	EVP_MD_CTX_free(ck->mdctx);
	free(ck);
}

static int slot_of(int nid, const int *nids, int n)
{
	for (int i = 0; i < n; i++)
		if (nids[i] == nid)
			return i;
	return -1;
}

int signet_csr_check_ecdsa(struct signet_csr_checker *ck, const X509_ALGOR *sigalg,
			   const ASN1_BIT_STRING *sig, int curve_nid, const unsigned char *point,
			   size_t point_len, const unsigned char *tbs, size_t tbs_len)
{
	static const int md_nids[] = { NID_sha256, NID_sha384, NID_sha512 };
	const ASN1_OBJECT *alg;
	unsigned char dgst[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	int mdnid, pknid, cs, ms, r = -1;

	X509_ALGOR_get0(&alg, NULL, NULL, sigalg);
	if (!OBJ_find_sigid_algs(OBJ_obj2nid(alg), &mdnid, &pknid) ||
	    pknid != NID_X9_62_id_ecPublicKey)
		return -1;
	cs = slot_of(curve_nid, curve_nids, 3);
	ms = slot_of(mdnid, md_nids, 3);
	/* X509_REQ_verify refuses a signature with unused bits too. */
	if (cs < 0 || ms < 0 || (sig->flags & 0x07) != 0 || tbs_len > INT32_MAX ||
	    ASN1_STRING_length(sig) <= 0 || point_len == 0 || point[0] != 0x04)
		return -1;
	ERR_set_mark();
	if (ck->ec[cs] == NULL)
		ck->ec[cs] = EC_KEY_new_by_curve_name(curve_nid);
	if (ck->md[ms] == NULL)
		ck->md[ms] = EVP_MD_fetch(NULL, md_names[ms], NULL);
	/* The uncompressed point, checked to be on the curve. */
	if (ck->ec[cs] != NULL && ck->md[ms] != NULL &&
	    EC_KEY_oct2key(ck->ec[cs], point, point_len, NULL) == 1 &&
	    EVP_DigestInit_ex2(ck->mdctx, ck->md[ms], NULL) == 1 &&
	    EVP_DigestUpdate(ck->mdctx, tbs, tbs_len) == 1 &&
	    EVP_DigestFinal_ex(ck->mdctx, dgst, &dlen) == 1)
		r = ECDSA_verify(0, dgst, (int)dlen, ASN1_STRING_get0_data(sig),
				 ASN1_STRING_length(sig), ck->ec[cs]) == 1;
	ERR_pop_to_mark();
	return r;
}
