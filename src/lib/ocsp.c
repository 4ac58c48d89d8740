/*
 * ocsp.c - RFC 6960 responses for one issuing CA, and the client-side check.
 *
 * The responder is built once (issuer hashes for each supported CertID
 * hash, the signer, prebuilt error responses) and then only read, so the
 * server's worker threads share it without locks.  Requests are parsed by
 * OpenSSL (d2i_OCSP_REQUEST) with the length bounded by the caller; the
 * checks here decide between malformedRequest (does not parse, no CertID,
 * too many CertIDs) and unauthorized (a CertID for another CA, or a hash
 * we cannot compare), which is what RFC 6960 section 2.3 asks for.
 * Signing is OpenSSL's OCSP_basic_sign; the ResponderID is byKey (smaller,
 * and stable across re-issuance of the signer certificate).
 */
#include <signet/ocsp.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <signet/cert.h>
#include <signet/crl.h>
#include <signet/key.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_HASH 4
#define DEFAULT_VALIDITY 86400

static const int hash_nids[N_HASH] = { NID_sha1, NID_sha256, NID_sha384, NID_sha512 };
static const int error_statuses[] = {
	OCSP_RESPONSE_STATUS_MALFORMEDREQUEST, OCSP_RESPONSE_STATUS_INTERNALERROR,
	OCSP_RESPONSE_STATUS_TRYLATER, OCSP_RESPONSE_STATUS_SIGREQUIRED,
	OCSP_RESPONSE_STATUS_UNAUTHORIZED,
};
#define N_ERR ((int)(sizeof(error_statuses) / sizeof(error_statuses[0])))

struct signet_ocsp_responder {
	X509 *issuer;
	X509 *signer;
	EVP_PKEY *key;
	const EVP_MD *md;
	int delegated;
	int64_t validity;
	unsigned char name_hash[N_HASH][EVP_MAX_MD_SIZE];
	unsigned char key_hash[N_HASH][EVP_MAX_MD_SIZE];
	unsigned int hash_len[N_HASH];
	unsigned char *err_der[N_ERR];
	int err_len[N_ERR];
};

void signet_ocsp_responder_free(struct signet_ocsp_responder *r)
{
	if (r == NULL)
		return;
	X509_free(r->issuer);
	X509_free(r->signer);
	EVP_PKEY_free(r->key);
	for (int i = 0; i < N_ERR; i++)
		OPENSSL_free(r->err_der[i]);
	free(r);
}

struct signet_ocsp_responder *signet_ocsp_responder_new(X509 *issuer, X509 *signer,
							EVP_PKEY *key, struct signet_err *err)
{
	struct signet_ocsp_responder *r = calloc(1, sizeof(*r));
	struct signet_ocsp_responder *ret = NULL;

	ENSURE(r != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	ENSURE(issuer != NULL && key != NULL, err, SIGNET_E_INTERNAL,
	       "an OCSP responder needs the issuer certificate and a signing key");
	if (signer == NULL)
		signer = issuer;
	ENSURE(X509_check_private_key(signer, key) == 1, err, SIGNET_E_POLICY,
	       "the OCSP signing key does not match the signing certificate");
	if (signer != issuer) {
		ENSURE(X509_check_issued(issuer, signer) == X509_V_OK, err, SIGNET_E_POLICY,
		       "the OCSP signing certificate was not issued by the CA it answers for");
		ENSURE((X509_get_extension_flags(signer) & EXFLAG_XKUSAGE) &&
			       (X509_get_extended_key_usage(signer) & XKU_OCSP_SIGN),
		       err, SIGNET_E_POLICY,
		       "the OCSP signing certificate lacks extended key usage OCSPSigning");
		r->delegated = 1;
	}
	X509_up_ref(issuer);
	r->issuer = issuer;
	X509_up_ref(signer);
	r->signer = signer;
	EVP_PKEY_up_ref(key);
	r->key = key;
	r->md = signet_key_digest(key);
	r->validity = DEFAULT_VALIDITY;
	for (int i = 0; i < N_HASH; i++) {
		const EVP_MD *md = EVP_get_digestbynid(hash_nids[i]);
		unsigned int kl = 0;
		ENSURE_OSSL(md != NULL &&
				    X509_NAME_digest(X509_get_subject_name(issuer), md,
						     r->name_hash[i], &r->hash_len[i]) == 1 &&
				    X509_pubkey_digest(issuer, md, r->key_hash[i], &kl) == 1 &&
				    kl == r->hash_len[i],
			    err, SIGNET_E_INTERNAL, "cannot hash the issuer for OCSP");
	}
	for (int i = 0; i < N_ERR; i++) {
		OCSP_RESPONSE *resp = OCSP_response_create(error_statuses[i], NULL);
		r->err_len[i] = resp ? i2d_OCSP_RESPONSE(resp, &r->err_der[i]) : -1;
		OCSP_RESPONSE_free(resp);
		ENSURE_OSSL(r->err_len[i] > 0, err, SIGNET_E_INTERNAL,
			    "cannot encode OCSP error responses");
	}
	ret = r;
	r = NULL;
out:
	signet_ocsp_responder_free(r);
	ERR_clear_error();
	return ret;
}

void signet_ocsp_responder_set_validity(struct signet_ocsp_responder *r, int64_t seconds)
{
	r->validity = seconds > 0 ? seconds : DEFAULT_VALIDITY;
}

int64_t signet_ocsp_responder_validity(const struct signet_ocsp_responder *r)
{
	return r->validity;
}

const unsigned char *signet_ocsp_error_der(const struct signet_ocsp_responder *r, int status,
					   size_t *len)
{
	for (int i = 0; i < N_ERR; i++)
		if (error_statuses[i] == status) {
			*len = (size_t)r->err_len[i];
			return r->err_der[i];
		}
	*len = (size_t)r->err_len[1];
	return r->err_der[1]; /* internalError */
}

/* Which of our hashes a CertID uses, if it names our issuer: the index,
 * or -1 (unknown hash or another CA). */
static int certid_hash(const struct signet_ocsp_responder *r, OCSP_CERTID *cid,
		       ASN1_INTEGER **serial)
{
	ASN1_OCTET_STRING *nh = NULL, *kh = NULL;
	ASN1_OBJECT *alg = NULL;
	int nid;

	if (OCSP_id_get0_info(&nh, &alg, &kh, serial, cid) != 1 || nh == NULL || kh == NULL)
		return -1;
	nid = OBJ_obj2nid(alg);
	for (int i = 0; i < N_HASH; i++) {
		if (hash_nids[i] != nid)
			continue;
		if (ASN1_STRING_length(nh) != (int)r->hash_len[i] ||
		    ASN1_STRING_length(kh) != (int)r->hash_len[i] ||
		    memcmp(ASN1_STRING_get0_data(nh), r->name_hash[i], r->hash_len[i]) != 0 ||
		    memcmp(ASN1_STRING_get0_data(kh), r->key_hash[i], r->hash_len[i]) != 0)
			return -1;
		return i;
	}
	return -1;
}

void signet_ocsp_request_parse(const struct signet_ocsp_responder *r, const unsigned char *der,
			       size_t len, struct signet_ocsp_request *out)
{
	const unsigned char *p = der;
	int n;

	memset(out, 0, sizeof(*out));
	out->error = OCSP_RESPONSE_STATUS_MALFORMEDREQUEST;
	if (len == 0 || len > 65536)
		goto out;
	out->req = d2i_OCSP_REQUEST(NULL, &p, (long)len);
	if (out->req == NULL || p != der + len)
		goto out;
	n = OCSP_request_onereq_count(out->req);
	if (n < 1 || n > SIGNET_OCSP_MAX_CERTS)
		goto out;
	for (int i = 0; i < n; i++) {
		ASN1_INTEGER *serial = NULL;
		int h = certid_hash(r, OCSP_onereq_get0_id(OCSP_request_onereq_get0(out->req, i)),
				    &serial);
		if (h < 0) {
			out->error = OCSP_RESPONSE_STATUS_UNAUTHORIZED;
			goto out;
		}
		if (serial == NULL)
			goto out;
		if (i == 0) {
			out->hash = h;
			out->serial_len = (size_t)ASN1_STRING_length(serial);
			if (out->serial_len <= sizeof(out->serial) &&
			    ASN1_STRING_type(serial) == V_ASN1_INTEGER) {
				memcpy(out->serial, ASN1_STRING_get0_data(serial), out->serial_len);
				out->cacheable = 1;
			}
		}
	}
	if (n != 1 || OCSP_REQUEST_get_ext_count(out->req) != 0 ||
	    OCSP_ONEREQ_get_ext_count(OCSP_request_onereq_get0(out->req, 0)) != 0)
		out->cacheable = 0;
	out->error = 0;
out:
	if (out->error != 0)
		out->cacheable = 0;
	ERR_clear_error();
}

void signet_ocsp_request_clear(struct signet_ocsp_request *q)
{
	OCSP_REQUEST_free(q->req);
	memset(q, 0, sizeof(*q));
}

int signet_ocsp_answer(const struct signet_ocsp_responder *r, const struct signet_ocsp_request *q,
		       signet_ocsp_lookup_fn lookup, void *ctx, int64_t now, unsigned char **der,
		       size_t *len, struct signet_err *err)
{
	OCSP_BASICRESP *bs = NULL;
	OCSP_RESPONSE *resp = NULL;
	ASN1_TIME *thisupd = NULL, *nextupd = NULL, *rev = NULL;
	unsigned long flags = OCSP_RESPID_KEY | (r->delegated ? 0 : OCSP_NOCERTS);
	int rc = -1, n;

	*der = NULL;
	*len = 0;
	if (q->error != 0) {
		const unsigned char *e = signet_ocsp_error_der(r, q->error, len);
		*der = OPENSSL_memdup(e, *len);
		ENSURE(*der != NULL, err, SIGNET_E_INTERNAL, "out of memory");
		return 0;
	}
	bs = OCSP_BASICRESP_new();
	thisupd = ASN1_TIME_set(NULL, (time_t)now);
	nextupd = ASN1_TIME_set(NULL, (time_t)(now + r->validity));
	ENSURE(bs && thisupd && nextupd, err, SIGNET_E_INTERNAL, "out of memory");
	n = OCSP_request_onereq_count(q->req);
	for (int i = 0; i < n; i++) {
		OCSP_CERTID *cid = OCSP_onereq_get0_id(OCSP_request_onereq_get0(q->req, i));
		ASN1_INTEGER *serial = NULL;
		struct signet_ocsp_status st = { SIGNET_OCSP_UNKNOWN, 0, -1 };
		int ostatus;

		OCSP_id_get0_info(NULL, NULL, NULL, &serial, cid);
		if (ASN1_STRING_type(serial) == V_ASN1_INTEGER &&
		    lookup(ctx, ASN1_STRING_get0_data(serial), (size_t)ASN1_STRING_length(serial),
			   &st) < 0) {
			signet_err_set(err, SIGNET_E_DB, "cannot look the serial up");
			goto out;
		}
		ASN1_TIME_free(rev);
		rev = NULL;
		ostatus = st.status == SIGNET_OCSP_GOOD      ? V_OCSP_CERTSTATUS_GOOD
			  : st.status == SIGNET_OCSP_REVOKED ? V_OCSP_CERTSTATUS_REVOKED
							     : V_OCSP_CERTSTATUS_UNKNOWN;
		if (ostatus == V_OCSP_CERTSTATUS_REVOKED) {
			rev = ASN1_GENERALIZEDTIME_set(NULL, (time_t)st.revoked_at);
			ENSURE(rev != NULL, err, SIGNET_E_INTERNAL, "out of memory");
		}
		ENSURE_OSSL(OCSP_basic_add1_status(bs, cid, ostatus,
						   ostatus == V_OCSP_CERTSTATUS_REVOKED
							   ? (st.reason < 0 ? OCSP_REVOKED_STATUS_NOSTATUS
									    : st.reason)
							   : 0,
						   rev, thisupd,
						   /* "unknown" may only mean a certificate
						    * too new for the last poll: no
						    * nextUpdate, so nobody keeps it. */
						   ostatus == V_OCSP_CERTSTATUS_UNKNOWN ? NULL
											: nextupd) != NULL,
			    err, SIGNET_E_INTERNAL, "cannot add an OCSP status");
	}
	ENSURE_OSSL(OCSP_copy_nonce(bs, q->req) > 0, err, SIGNET_E_INTERNAL,
		    "cannot echo the OCSP nonce");
	ENSURE_OSSL(OCSP_basic_sign(bs, r->signer, r->key, r->md, NULL, flags) == 1, err,
		    SIGNET_E_INTERNAL, "cannot sign the OCSP response");
	resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
	ENSURE_OSSL(resp != NULL, err, SIGNET_E_INTERNAL, "cannot build the OCSP response");
	n = i2d_OCSP_RESPONSE(resp, der);
	ENSURE_OSSL(n > 0, err, SIGNET_E_INTERNAL, "cannot encode the OCSP response");
	*len = (size_t)n;
	rc = 0;
out:
	OCSP_RESPONSE_free(resp);
	OCSP_BASICRESP_free(bs);
	ASN1_TIME_free(thisupd);
	ASN1_TIME_free(nextupd);
	ASN1_TIME_free(rev);
	ERR_clear_error();
	return rc;
}

int signet_ocsp_db_lookup(void *ctx, const unsigned char *serial, size_t len,
			  struct signet_ocsp_status *out)
{
	struct signet_ocsp_db_lookup *l = ctx;
	struct signet_record rec;
	struct signet_err err = { 0 };
	char hex[2 * 32 + 1];
	size_t j = 0;
	int rc;

	out->status = SIGNET_OCSP_UNKNOWN;
	out->revoked_at = 0;
	out->reason = -1;
	while (len > 0 && *serial == 0)
		serial++, len--;
	if (len > 32)
		return 0;
	for (size_t i = 0; i < len; i++)
		j += (size_t)snprintf(hex + j, sizeof(hex) - j, "%02x", serial[i]);
	if (len == 0)
		snprintf(hex, sizeof(hex), "0");
	if (hex[0] == '0' && hex[1] != '\0')
		memmove(hex, hex + 1, strlen(hex));
	rc = signet_db_get(l->db, hex, &rec, &err);
	if (rc < 0)
		return err.code == SIGNET_E_NOTFOUND ? 0 : -1;
	if (strcmp(rec.serial, hex) == 0 &&
	    (l->issuer_id == NULL || strcmp(rec.issuer, l->issuer_id) == 0)) {
		if (rec.status == SIGNET_STATUS_REVOKED) {
			out->status = SIGNET_OCSP_REVOKED;
			out->revoked_at = rec.revoked_at;
			out->reason = rec.reason;
		} else {
			out->status = SIGNET_OCSP_GOOD;
		}
	}
	signet_record_clear(&rec);
	return 0;
}

static int key_type_like(EVP_PKEY *k, enum signet_key_type *t)
{
	switch (EVP_PKEY_get_base_id(k)) {
	case EVP_PKEY_EC:
		*t = EVP_PKEY_get_bits(k) > 256 ? SIGNET_KEY_EC_P384 : SIGNET_KEY_EC_P256;
		return 0;
	case EVP_PKEY_ED25519:
		*t = SIGNET_KEY_ED25519;
		return 0;
	case EVP_PKEY_RSA:
		*t = EVP_PKEY_get_bits(k) > 2048 ? SIGNET_KEY_RSA_3072 : SIGNET_KEY_RSA_2048;
		return 0;
	}
	return -1;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
	int ok = e != NULL && X509_add_ext(x, e, -1) == 1;
	X509_EXTENSION_free(e);
	return ok ? 0 : -1;
}

int signet_ocsp_signer_issue(struct signet_ca *ca, int days, X509 **cert, EVP_PKEY **key,
			     struct signet_err *err)
{
	X509 *cacert = signet_ca_signer_cert(ca), *x = NULL;
	EVP_PKEY *cakey = signet_ca_signer_key(ca), *k = NULL;
	X509_NAME *subj = NULL;
	X509V3_CTX v3;
	ASN1_INTEGER *sn = NULL;
	BIGNUM *bn = NULL;
	struct signet_record rec;
	enum signet_key_type kt;
	char cn[256], subject[300];
	unsigned char *der = NULL;
	int rc = -1, n, idx;

	memset(&rec, 0, sizeof(rec));
	ENSURE(cacert != NULL && cakey != NULL, err, SIGNET_E_PASS,
	       "the CA key is locked; unlock it before issuing an OCSP signer");
	ENSURE(key_type_like(cakey, &kt) == 0, err, SIGNET_E_POLICY,
	       "the CA key type has no matching OCSP signer key type");
	TRYP(k = signet_key_generate(kt, err));
	idx = X509_NAME_get_index_by_NID(X509_get_subject_name(cacert), NID_commonName, -1);
	if (idx >= 0) {
		ASN1_STRING *s = X509_NAME_ENTRY_get_data(
			X509_NAME_get_entry(X509_get_subject_name(cacert), idx));
		snprintf(cn, sizeof(cn), "%.*s OCSP Signer", ASN1_STRING_length(s),
			 (const char *)ASN1_STRING_get0_data(s));
	} else {
		snprintf(cn, sizeof(cn), "OCSP Signer");
	}
	x = X509_new();
	subj = X509_NAME_new();
	bn = BN_new();
	ENSURE(x && subj && bn, err, SIGNET_E_INTERNAL, "out of memory");
	ENSURE_OSSL(BN_rand(bn, 127, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) == 1 &&
			    (sn = BN_to_ASN1_INTEGER(bn, NULL)) != NULL &&
			    X509_set_version(x, X509_VERSION_3) == 1 &&
			    X509_set_serialNumber(x, sn) == 1 &&
			    X509_set_issuer_name(x, X509_get_subject_name(cacert)) == 1 &&
			    X509_NAME_add_entry_by_NID(subj, NID_commonName, MBSTRING_UTF8,
						       (const unsigned char *)cn, -1, -1, 0) == 1 &&
			    X509_set_subject_name(x, subj) == 1 &&
			    X509_gmtime_adj(X509_getm_notBefore(x), -300) != NULL &&
			    X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400) != NULL &&
			    X509_set_pubkey(x, k) == 1,
		    err, SIGNET_E_INTERNAL, "cannot build the OCSP signer certificate");
	X509V3_set_ctx(&v3, cacert, x, NULL, NULL, 0);
	ENSURE_OSSL(add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE") == 0 &&
			    add_ext(x, &v3, NID_key_usage, "critical,digitalSignature") == 0 &&
			    add_ext(x, &v3, NID_ext_key_usage, "OCSPSigning") == 0 &&
			    add_ext(x, &v3, NID_id_pkix_OCSP_noCheck, "ignored") == 0 &&
			    add_ext(x, &v3, NID_subject_key_identifier, "hash") == 0 &&
			    add_ext(x, &v3, NID_authority_key_identifier, "keyid:always") == 0,
		    err, SIGNET_E_INTERNAL, "cannot add the OCSP signer's extensions");
	ENSURE_OSSL(X509_sign(x, cakey, signet_key_digest(cakey)) > 0, err, SIGNET_E_INTERNAL,
		    "cannot sign the OCSP signer certificate");

	/* Recorded like every certificate the CA signs, so it can be revoked. */
	n = i2d_X509(x, &der);
	ENSURE_OSSL(n > 0, err, SIGNET_E_INTERNAL, "cannot encode the OCSP signer certificate");
	signet_serial_hex(X509_get0_serialNumber(x), rec.serial, sizeof(rec.serial));
	signet_cert_fingerprint(x, rec.fingerprint);
	snprintf(rec.issuer, sizeof(rec.issuer), "%s", signet_ca_signer_id(ca));
	snprintf(subject, sizeof(subject), "CN=%s", cn);
	rec.name = "ocsp-signer";
	rec.subject = subject;
	rec.profile = "ocsp-signer";
	signet_asn1_time_to_time(X509_get0_notBefore(x), (time_t *)&rec.not_before);
	signet_asn1_time_to_time(X509_get0_notAfter(x), (time_t *)&rec.not_after);
	rec.issued_at = (int64_t)time(NULL);
	rec.reason = -1;
	rec.der = der;
	rec.der_len = (size_t)n;
	TRY(signet_db_insert(signet_ca_db(ca), &rec, err));
	*cert = x;
	*key = k;
	x = NULL;
	k = NULL;
	rc = 0;
out:
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(k);
	X509_NAME_free(subj);
	ASN1_INTEGER_free(sn);
	BN_free(bn);
	ERR_clear_error();
	return rc;
}

int signet_ocsp_check_response(const unsigned char *der, size_t len, X509 *cert, X509 *issuer,
			       STACK_OF(X509) *trust, OCSP_REQUEST *req,
			       struct signet_ocsp_status *st, int64_t *next_update,
			       struct signet_err *err)
{
	const unsigned char *p = der;
	OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
	OCSP_BASICRESP *bs = NULL;
	OCSP_CERTID *id = NULL;
	X509_STORE *store = NULL;
	STACK_OF(X509) *untrusted = NULL;
	ASN1_GENERALIZEDTIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;
	int rc = -1, status, reason = -1, rs;

	st->status = SIGNET_OCSP_UNKNOWN;
	st->revoked_at = 0;
	st->reason = -1;
	ENSURE_OSSL(resp != NULL, err, SIGNET_E_PARSE, "the OCSP response does not parse");
	rs = OCSP_response_status(resp);
	ENSURE(rs == OCSP_RESPONSE_STATUS_SUCCESSFUL, err, SIGNET_E_REVUNKNOWN,
	       "the OCSP responder answered %s", OCSP_response_status_str(rs));
	bs = OCSP_response_get1_basic(resp);
	ENSURE_OSSL(bs != NULL, err, SIGNET_E_PARSE, "the OCSP response is not a basic response");
	if (req != NULL)
		ENSURE(OCSP_check_nonce(req, bs) > 0, err, SIGNET_E_REVUNKNOWN,
		       "the OCSP response does not echo our nonce (a replayed answer?)");
	store = X509_STORE_new();
	untrusted = sk_X509_new_null();
	ENSURE(store && untrusted && sk_X509_push(untrusted, issuer), err, SIGNET_E_INTERNAL,
	       "out of memory");
	for (int i = 0; i < sk_X509_num(trust); i++) {
		X509 *t = sk_X509_value(trust, i);
		/* Self-signed certificates are anchors; the rest help build paths. */
		if (X509_check_issued(t, t) == X509_V_OK)
			X509_STORE_add_cert(store, t);
		else
			sk_X509_push(untrusted, t);
	}
	ENSURE_OSSL(OCSP_basic_verify(bs, untrusted, store, 0) == 1, err, SIGNET_E_SIG,
		    "the OCSP response's signature or signer does not verify");
	id = OCSP_cert_to_id(NULL, cert, issuer);
	ENSURE_OSSL(id != NULL, err, SIGNET_E_INTERNAL, "cannot compute the certificate's CertID");
	ENSURE(OCSP_resp_find_status(bs, id, &status, &reason, &rev, &thisupd, &nextupd) == 1, err,
	       SIGNET_E_REVUNKNOWN, "the OCSP response does not cover this certificate");
	ENSURE_OSSL(OCSP_check_validity(thisupd, nextupd, 300, -1) == 1, err, SIGNET_E_REVUNKNOWN,
		    "the OCSP response is outside its validity window");
	if (next_update != NULL) {
		time_t t = 0;
		if (nextupd != NULL)
			signet_asn1_time_to_time(nextupd, &t);
		*next_update = (int64_t)t;
	}
	if (status == V_OCSP_CERTSTATUS_GOOD) {
		st->status = SIGNET_OCSP_GOOD;
	} else if (status == V_OCSP_CERTSTATUS_REVOKED) {
		time_t t = 0;
		st->status = SIGNET_OCSP_REVOKED;
		st->reason = reason;
		if (rev != NULL)
			signet_asn1_time_to_time(rev, &t);
		st->revoked_at = (int64_t)t;
	}
	rc = 0;
out:
	OCSP_CERTID_free(id);
	sk_X509_free(untrusted);
	X509_STORE_free(store);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	ERR_clear_error();
	return rc;
}
