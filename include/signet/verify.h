/*
 * verify.h - the one certificate verifier of signet, used by `signet
 * verify`, the tunnel and the CA server.
 *
 * A trust store (anchors plus caches that are safe to share) is built once
 * and reused; each call builds a path from the leaf through untrusted
 * intermediates to an anchor, trying alternatives when one fails, and
 * applies validity, basic/name/policy constraints, purpose, name matching,
 * algorithm policy and revocation.  On failure err->code is one of the
 * verification classes SIGNET_E_UNTRUSTED..SIGNET_E_INVALID and err->msg is
 * one plain sentence naming the certificate and the cause.
 */
#ifndef SIGNET_VERIFY_H
#define SIGNET_VERIFY_H

#include <openssl/x509.h>
#include <signet/err.h>
#include <stddef.h>
#include <time.h>

enum signet_purpose {
	SIGNET_PURPOSE_ANY = 0,
	SIGNET_PURPOSE_SERVER, /* id-kp-serverAuth */
	SIGNET_PURPOSE_CLIENT, /* id-kp-clientAuth */
	SIGNET_PURPOSE_EMAIL,  /* id-kp-emailProtection, S/MIME (the S/MIME BR rules) */
};

struct signet_verify_opts {
	time_t at;                   /* 0: now */
	enum signet_purpose purpose; /* EKU/KU implied by the purpose */
	const char *host;            /* DNS name to match, or NULL */
	const char *ip;              /* IP address to match, or NULL */
	const char *email;           /* rfc822 name to match, or NULL */
	const char *const *ekus;     /* extra required EKUs (names or OIDs) */
	size_t n_ekus;
	unsigned key_usage;          /* required KU bits (KU_* of x509v3.h) */
	int max_depth;               /* max intermediates; -1: no limit */
	STACK_OF(X509_CRL) *crls;    /* borrowed; non-empty: check revocation
					of every certificate below the anchor */
	int ocsp;                    /* also ask OCSP responders (AIA) */
	const char *ocsp_ca;         /* anchors (PEM file or directory) for
					https:// responders' TLS certificates;
					NULL: the system store */
	const char *const *policies; /* acceptable policy OIDs; NULL: anyPolicy */
	size_t n_policies;
	int require_explicit_policy;
	int inhibit_policy_mapping;
	int inhibit_any_policy;
	int cache_leaf;              /* also remember the leaf's verified
					signature in the trust store (for
					callers, like the tunnel, whose peers
					present the same certificate again) */
};

struct signet_trust;

struct signet_trust *signet_trust_new(struct signet_err *err);
void signet_trust_free(struct signet_trust *trust);
/* Adds one anchor (the store takes its own reference). */
int signet_trust_add(struct signet_trust *trust, X509 *anchor,
		     struct signet_err *err);
/* Adds anchors from a PEM file, a directory of PEM files, or "system". */
int signet_trust_load(struct signet_trust *trust, const char *what,
		      struct signet_err *err);

/*
 * Verifies leaf.  untrusted may be NULL.  On success returns 0 and, when
 * chain is non-NULL, sets *chain to the path built (leaf first, anchor
 * last; caller frees with sk_X509_pop_free).  On failure returns -1 with
 * err set.  Thread-safe for concurrent calls on one trust store.
 */
int signet_verify(struct signet_trust *trust, X509 *leaf,
		  STACK_OF(X509) *untrusted, const struct signet_verify_opts *opts,
		  STACK_OF(X509) **chain, struct signet_err *err);

/*
 * Like signet_verify, and when report is non-NULL sets *report to a JSON
 * object (jansson json_t *, caller json_decref's it) describing the chain
 * built, or the best candidate tried, and every check made with its
 * outcome.  Used by `signet verify --json`.
 */
int signet_verify_report(struct signet_trust *trust, X509 *leaf,
			 STACK_OF(X509) *untrusted,
			 const struct signet_verify_opts *opts,
			 STACK_OF(X509) **chain, void **report,
			 struct signet_err *err);

/* Signature cache statistics of a trust store (hits, misses). */
void signet_trust_cache_stats(struct signet_trust *trust, unsigned long *hits,
			      unsigned long *misses);

/* How many path checks took the fast path (no X509_verify_cert run). */
unsigned long signet_trust_fast_paths(struct signet_trust *trust);

/*
 * Name matching rules (RFC 6125 / RFC 9525, CA/B Forum), exposed for tests
 * and other units.  All return 1 for yes, 0 for no.
 *
 * signet_dns_valid: name is a syntactically valid DNS name (LDH labels of
 * 1..63 octets, total <= 253, no empty label; one trailing dot allowed);
 * with allow_wildcard, the leftmost label may be exactly "*".
 * signet_dns_match: does SAN pattern (possibly "*.rest") cover host?  The
 * wildcard matches exactly one whole, non-empty leftmost label; partial
 * wildcards ("f*.example.com"), wildcards in other labels, "*" alone and
 * "*.tld" never match; ASCII case-insensitive.
 * signet_email_match: rfc822Name SAN against an address: local part
 * compared exactly, domain case-insensitively.
 */
int signet_dns_valid(const char *name, size_t len, int allow_wildcard);
int signet_dns_match(const char *pattern, size_t plen, const char *host);
int signet_email_match(const char *san, size_t slen, const char *addr);

#endif
