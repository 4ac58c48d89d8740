/*
 * csr.c - PKCS#10 requests: creation (subject + SAN extensionRequest,
 * signed by the key), proof-of-possession check, SAN extraction.
 */
#include <signet/csr.h>
#include <signet/key.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

X509_REQ *signet_csr_create(EVP_PKEY *key, const X509_NAME *subject,
			    const GENERAL_NAMES *sans, struct signet_err *err)
{
	X509_REQ *req = X509_REQ_new();
	STACK_OF(X509_EXTENSION) *exts = NULL;
	X509_EXTENSION *ext = NULL;

	ENSURE(req != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	ENSURE_OSSL(X509_REQ_set_version(req, X509_REQ_VERSION_1) &&
			    X509_REQ_set_subject_name(req, subject) &&
			    X509_REQ_set_pubkey(req, key),
		    err, SIGNET_E_INTERNAL, "cannot build CSR");
	if (sans != NULL && sk_GENERAL_NAME_num(sans) > 0) {
		/* SAN is critical when the subject is empty (RFC 5280 4.2.1.6). */
		int crit = X509_NAME_entry_count(subject) == 0;
		exts = sk_X509_EXTENSION_new_null();
		ext = X509V3_EXT_i2d(NID_subject_alt_name, crit, (void *)sans);
		ENSURE_OSSL(exts != NULL && ext != NULL && sk_X509_EXTENSION_push(exts, ext),
			    err, SIGNET_E_INTERNAL, "cannot encode SANs");
		ext = NULL;
		ENSURE_OSSL(X509_REQ_add_extensions(req, exts), err, SIGNET_E_INTERNAL,
			    "cannot add SANs to CSR");
	}
	ENSURE_OSSL(X509_REQ_sign(req, key, signet_key_digest(key)) > 0, err,
		    SIGNET_E_INTERNAL, "cannot sign CSR");
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return req;
out:
	X509_EXTENSION_free(ext);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	return NULL;
}

int signet_csr_verify(X509_REQ *req, struct signet_err *err)
{
	return signet_csr_verify_key(req, X509_REQ_get0_pubkey(req), err);
}

int signet_csr_verify_key(X509_REQ *req, EVP_PKEY *pub, struct signet_err *err)
{
	int r;

	if (pub == NULL)
		return signet_err_ossl(err, SIGNET_E_PARSE,
				       "CSR public key cannot be decoded");
	{
		/* MD2/MD4/MD5 proves nothing a CA should rely on. */
		const X509_ALGOR *alg;
		int md = NID_undef, pk;
		X509_REQ_get0_signature(req, NULL, &alg);
		if (OBJ_find_sigid_algs(OBJ_obj2nid(alg->algorithm), &md, &pk) &&
		    (md == NID_md5 || md == NID_md4 || md == NID_md2))
			return signet_err_set(err, SIGNET_E_POLICY,
					      "the CSR is signed with %s, which signet does not "
					      "accept; sign it with SHA-256",
					      OBJ_nid2sn(md));
	}
	r = X509_REQ_verify(req, pub);
	ERR_clear_error();
	if (r != 1) /* OpenSSL's reason ("EVP lib") would say nothing more */
		return signet_err_set(err, SIGNET_E_SIG,
				      "CSR signature does not verify (the request was "
				      "altered or signed by another key)");
	ERR_clear_error();
	return 0;
}

int signet_csr_get_sans(X509_REQ *req, GENERAL_NAMES **names, struct signet_err *err)
{
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
	int idx, rc = 0;

	*names = NULL;
	if (exts == NULL) {
		ERR_clear_error();
		return 0;
	}
	idx = X509v3_get_ext_by_NID(exts, NID_subject_alt_name, -1);
	if (idx >= 0) {
		*names = X509V3_EXT_d2i(sk_X509_EXTENSION_value(exts, idx));
		if (*names == NULL)
			rc = signet_err_set(err, SIGNET_E_PARSE,
					    "the CSR's subjectAltName extension is malformed");
		else if (X509v3_get_ext_by_NID(exts, NID_subject_alt_name, idx) >= 0)
			rc = signet_err_set(err, SIGNET_E_PARSE,
					    "the CSR requests subjectAltName twice");
		if (rc < 0) {
			GENERAL_NAMES_free(*names);
			*names = NULL;
		}
	}
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ERR_clear_error();
	return rc;
}

GENERAL_NAMES *signet_csr_sans(X509_REQ *req)
{
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
	GENERAL_NAMES *names = NULL;
	int idx;

	if (exts == NULL) {
		ERR_clear_error();
		return NULL;
	}
	idx = X509v3_get_ext_by_NID(exts, NID_subject_alt_name, -1);
	if (idx >= 0)
		names = X509V3_EXT_d2i(sk_X509_EXTENSION_value(exts, idx));
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ERR_clear_error();
	return names;
}

int signet_csr_to_pem(X509_REQ *req, char **pem, size_t *len, struct signet_err *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p;
	long n;

	*pem = NULL;
	if (bio == NULL || !PEM_write_bio_X509_REQ(bio, req)) {
		BIO_free(bio);
		return signet_err_ossl(err, SIGNET_E_INTERNAL, "cannot encode CSR");
	}
	n = BIO_get_mem_data(bio, &p);
	*pem = malloc((size_t)n + 1);
	if (*pem == NULL) {
		BIO_free(bio);
		return signet_err_set(err, SIGNET_E_INTERNAL, "out of memory");
	}
	memcpy(*pem, p, (size_t)n);
	(*pem)[n] = '\0';
	*len = (size_t)n;
	BIO_free(bio);
	return 0;
}
