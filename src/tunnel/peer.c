/*
 * peer.c - the tunnel's door to signet's verifier (include/signet/verify.h):
 * one trust store per credential set, and signet_verify for every peer, so
 * the one verifier of signet explains every refusal.  Each worker process
 * has its own copy of the credentials and so of the trust store
 * (signet_verify is also thread-safe on one).
 */
#include "tunnel.h"

#include <stdlib.h>

struct tunnel_trust {
	struct signet_trust *trust;
};

struct tunnel_trust *tunnel_trust_load(const char *file, struct signet_err *err)
{
	struct tunnel_trust *t = calloc(1, sizeof(*t));

	if (t == NULL) {
		signet_err_set(err, SIGNET_E_INTERNAL, "out of memory");
		return NULL;
	}
	t->trust = signet_trust_new(err);
	if (t->trust == NULL || signet_trust_load(t->trust, file, err) < 0) {
		tunnel_trust_free(t);
		return NULL;
	}
	return t;
}

void tunnel_trust_free(struct tunnel_trust *t)
{
	if (t == NULL)
		return;
	signet_trust_free(t->trust);
	free(t);
}

int tunnel_verify(struct tunnel_trust *t, X509 *leaf, STACK_OF(X509) *untrusted,
		  const struct signet_verify_opts *o, STACK_OF(X509) **chain,
		  struct signet_err *err)
{
	return signet_verify(t->trust, leaf, untrusted, o, chain, err);
}
