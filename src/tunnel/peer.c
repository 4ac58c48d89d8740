/*
 * peer.c - the tunnel's door to signet's verifier (include/signet/verify.h).
 *
 * INTERIM: src/lib/verify.c is being written in parallel.  Until it is in
 * libsignet, the verifier's symbols are referenced weakly and, when they
 * are absent, peers are verified by OpenSSL's X509_verify_cert with the
 * same inputs (anchors, purpose, name, CRLs) so the tunnel and the rest of
 * the tool keep linking.  A log line says which verifier is in use.  Once
 * verify.c lands this file shrinks to direct calls (see TUNNEL.md).
 */
#include "tunnel.h"

#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#pragma weak signet_trust_new
#pragma weak signet_trust_free
#pragma weak signet_trust_load
#pragma weak signet_verify

struct tunnel_trust {
	struct signet_trust *trust; /* signet's verifier, when linked */
	X509_STORE *store;          /* interim fallback */
};

int tunnel_verifier_is_signet(void)
{
	return signet_verify != NULL && signet_trust_new != NULL;
}

struct tunnel_trust *tunnel_trust_load(const char *file, struct signet_err *err)
{
	struct tunnel_trust *t = calloc(1, sizeof(*t));

	if (t == NULL) {
		signet_err_set(err, SIGNET_E_INTERNAL, "out of memory");
		return NULL;
	}
	if (tunnel_verifier_is_signet()) {
		t->trust = signet_trust_new(err);
		if (t->trust == NULL || signet_trust_load(t->trust, file, err) < 0)
			goto fail;
		return t;
	}
	t->store = X509_STORE_new();
	if (t->store == NULL || X509_STORE_load_file(t->store, file) != 1) {
		signet_err_ossl(err, SIGNET_E_IO, "%s: cannot load CA certificates", file);
		goto fail;
	}
	return t;
fail:
	tunnel_trust_free(t);
	return NULL;
}

void tunnel_trust_free(struct tunnel_trust *t)
{
	if (t == NULL)
		return;
	if (t->trust != NULL)
		signet_trust_free(t->trust);
	X509_STORE_free(t->store);
	free(t);
}

static int fallback_code(int e)
{
	switch (e) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return SIGNET_E_EXPIRED;
	case X509_V_ERR_CERT_REVOKED:
		return SIGNET_E_REVOKED;
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		return SIGNET_E_NAME;
	case X509_V_ERR_INVALID_PURPOSE:
		return SIGNET_E_PURPOSE;
	case X509_V_ERR_UNABLE_TO_GET_CRL:
	case X509_V_ERR_CRL_HAS_EXPIRED:
		return SIGNET_E_REVUNKNOWN;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
		return SIGNET_E_UNTRUSTED;
	default:
		return SIGNET_E_INVALID;
	}
}

int tunnel_verify(struct tunnel_trust *t, X509 *leaf, STACK_OF(X509) *untrusted,
		  const struct signet_verify_opts *o, struct signet_err *err)
{
	X509_STORE_CTX *ctx;
	X509_VERIFY_PARAM *p;
	char subj[256];
	int rc = -1;

	if (t->trust != NULL)
		return signet_verify(t->trust, leaf, untrusted, o, NULL, err);
	ctx = X509_STORE_CTX_new();
	if (ctx == NULL || X509_STORE_CTX_init(ctx, t->store, leaf, untrusted) != 1) {
		signet_err_ossl(err, SIGNET_E_INTERNAL, "cannot set up verification");
		goto out;
	}
	p = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_purpose(p, o->purpose == SIGNET_PURPOSE_CLIENT
						 ? X509_PURPOSE_SSL_CLIENT
						 : X509_PURPOSE_SSL_SERVER);
	if (o->host != NULL)
		X509_VERIFY_PARAM_set1_host(p, o->host, 0);
	if (o->ip != NULL)
		X509_VERIFY_PARAM_set1_ip_asc(p, o->ip);
	if (o->crls != NULL && sk_X509_CRL_num(o->crls) > 0) {
		X509_STORE_CTX_set0_crls(ctx, o->crls);
		X509_VERIFY_PARAM_set_flags(p, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	}
	if (X509_verify_cert(ctx) == 1) {
		rc = 0;
	} else {
		int e = X509_STORE_CTX_get_error(ctx);
		X509 *bad = X509_STORE_CTX_get_current_cert(ctx);
		X509_NAME_oneline(X509_get_subject_name(bad ? bad : leaf), subj, sizeof(subj));
		signet_err_set(err, fallback_code(e), "certificate %s: %s", subj,
			       X509_verify_cert_error_string(e));
	}
out:
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}
