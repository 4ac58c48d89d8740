/*
 * fuzz_csr.c - a CSR as `signet sign` receives it from a requester:
 * signet_csr_parse, then the proof-of-possession check and the SAN
 * extraction that issuance runs on it, then the formatting that records
 * and `signet show` use.  The issuance path's faster reader
 * (signet_csr_parse_key) must agree with it: same requests accepted, same
 * proof-of-possession verdicts, same subject.  So must the batch's
 * reader-and-checker (signet_csr_parse_checked, which checks ECDSA
 * signatures its own way): it accepts exactly the requests that read and
 * verify, with the same subject and key.
 */
#include "fuzz.h"

#include <signet/cert.h>
#include <signet/csr.h>
#include <signet/key.h>
#include <signet/name.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* The key of an earlier input and a checker, kept as a batch's signing
 * thread keeps them. */
static EVP_PKEY *spare;
static struct signet_csr_checker *checker;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct signet_err err;
	X509_REQ *req, *req2, *req3, *req4;
	EVP_PKEY *key2 = NULL, *key3;
	int r2;
	GENERAL_NAMES *sans;
	EVP_PKEY *pub;
	char buf[1024];
	int r;

	if (checker == NULL && (checker = signet_csr_checker_new()) == NULL)
		abort();
	signet_err_clear(&err);
	req4 = signet_csr_parse_checked(checker, data, size, "fuzz.csr", &err);
	fuzz_check("signet_csr_parse_checked", req4 == NULL, &err);
	signet_err_clear(&err);
	req = signet_csr_parse(data, size, "fuzz.csr", &err);
	fuzz_check("signet_csr_parse", req == NULL, &err);
	if (req == NULL) {
		if (req4 != NULL)
			abort(); /* checked what does not read */
		return 0;
	}
	signet_err_clear(&err);
	r = signet_csr_verify(req, &err);
	fuzz_check("signet_csr_verify", r < 0, &err);
	if ((req4 != NULL) != (r == 0))
		abort(); /* the checker's verdict differs */
	if (req4 != NULL) {
		key3 = signet_csr_key(req4, NULL);
		if (key3 == NULL || EVP_PKEY_eq(key3, X509_REQ_get0_pubkey(req)) != 1 ||
		    X509_NAME_cmp(X509_REQ_get_subject_name(req), X509_REQ_get_subject_name(req4)) != 0)
			abort(); /* another key or subject */
		EVP_PKEY_free(key3);
		X509_REQ_free(req4);
	}
	ERR_clear_error(); /* X509_REQ_get0_pubkey is OpenSSL's */
	signet_err_clear(&err);
	req2 = signet_csr_parse_key(data, size, "fuzz.csr", &key2, &err);
	if (req2 == NULL || (key2 == NULL) != (X509_REQ_get0_pubkey(req) == NULL) ||
	    (key2 != NULL && EVP_PKEY_eq(key2, X509_REQ_get0_pubkey(req)) != 1))
		abort(); /* the two readers disagree on the request or its key */
	signet_err_clear(&err);
	r2 = signet_csr_verify_key(req2, key2, &err);
	fuzz_check("signet_csr_verify_key", r2 < 0, &err);
	if ((r < 0) != (r2 < 0) ||
	    X509_NAME_cmp(X509_REQ_get_subject_name(req), X509_REQ_get_subject_name(req2)) != 0)
		abort(); /* different verdicts or subjects */
	/* Read again the way a batch's signing thread does, handing back the
	 * key of an earlier input (any curve or type): the same key and
	 * verdict must come out. */
	key3 = spare;
	spare = NULL;
	signet_err_clear(&err);
	req3 = signet_csr_parse_key(data, size, "fuzz.csr", &key3, &err);
	if (req3 == NULL || (key3 == NULL) != (key2 == NULL) ||
	    (key3 != NULL && EVP_PKEY_eq(key3, key2) != 1))
		abort(); /* a reused key changed what was read */
	signet_err_clear(&err);
	if ((signet_csr_verify_key(req3, key3, &err) < 0) != (r2 < 0))
		abort();
	X509_REQ_free(req3);
	spare = key3;
	EVP_PKEY_free(key2);
	X509_REQ_free(req2);
	sans = signet_csr_sans(req);
	fuzz_check("signet_csr_sans", 0, &err);
	signet_san_format(sans, buf, sizeof(buf));
	signet_name_format(X509_REQ_get_subject_name(req), buf, sizeof(buf));
	pub = X509_REQ_get0_pubkey(req);
	if (pub != NULL) {
		signet_err_clear(&err);
		r = signet_key_check_strength(pub, &err);
		fuzz_check("signet_key_check_strength", r < 0, &err);
		signet_key_describe(pub, buf, sizeof(buf));
		(void)signet_key_digest(pub);
	}
	ERR_clear_error(); /* X509_REQ_get0_pubkey is OpenSSL's */
	GENERAL_NAMES_free(sans);
	X509_REQ_free(req);
	return 0;
}
