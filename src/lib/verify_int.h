/*
 * verify_int.h - what the verify_*.c files of libsignet share and nobody
 * else sees: the trust store's layout, the per-call context, and the
 * checks each file contributes.
 */
#ifndef SIGNET_VERIFY_INT_H
#define SIGNET_VERIFY_INT_H

#include <signet/verify.h>

#include <jansson.h>
#include <pthread.h>

/* Public Suffix List, sorted rules for bsearch (loaded on first need). */
struct signet_psl {
	char **rules;
	size_t n;
};

#define SIGCACHE_SLOTS 4096 /* direct-mapped; a collision only costs a re-check */

struct sigcache_slot {
	unsigned char key[64]; /* SHA-256(issuer DER), SHA-256(subject DER) */
	int used;
};

#define CRLMEMO_SLOTS 8

struct crlmemo_slot {
	unsigned char key[32]; /* SHA-256 of the CRL's signature value */
	int dup;               /* lists a serial number twice */
	int used;
};

struct signet_trust {
	STACK_OF(X509) *anchors; /* owned; read-only once verification starts */
	X509_STORE *store;       /* empty; X509_STORE_CTX wants one for CRL lookups */
	pthread_mutex_t lock;    /* guards cache, counters and psl loading */
	struct sigcache_slot *cache;
	unsigned long hits, misses;
	unsigned long fast;      /* paths checked by fast_check */
	struct crlmemo_slot crlmemo[CRLMEMO_SLOTS];
	int crlmemo_next;
	int psl_tried;
	struct signet_psl psl;
};

/* One plain name of a certificate for messages: CN, else first SAN, else DN. */
void vfy_cert_label(X509 *x, char *buf, size_t size);
/* RFC 2253-ish one-line DN. */
void vfy_dn(const X509_NAME *n, char *buf, size_t size);

/* Is name (lowercase, no trailing dot) a public suffix?  -1: no list. */
int vfy_psl_is_suffix(struct signet_trust *trust, const char *name);

/*
 * Leaf name checks: syntax of every SAN entry, the CA/B rule that a subject
 * CN repeats a SAN, and the requested host / IP / email.  checks (may be
 * NULL) receives one entry per check.
 */
int vfy_leaf_names(struct signet_trust *trust, X509 *leaf,
		   const struct signet_verify_opts *o, json_t *checks,
		   struct signet_err *err);

/* How x's EC key names its curve, read from its AlgorithmIdentifier
 * (cheaper than asking the provider): 1 by OID (*curve is its NID), 0 by
 * explicit parameters, -1 neither. */
int vfy_ec_params(X509 *x, int *curve);

/* A wildcard SAN of path[0] reaching into an excluded DNS subtree. */
int vfy_wildcard_vs_excluded(X509 *const *path, int n, struct signet_err *err);

/* --ocsp: every certificate below the anchor, through its AIA responder
 * (https:// ones verified under tls_ca, or the system store when NULL). */
int vfy_ocsp_path(X509 *const *path, int n, const char *tls_ca, json_t *checks,
		  struct signet_err *err);

/* Profile checks of one certificate at position i of a path of n. */
int vfy_profile_cert(X509 *x, int i, int n, const struct signet_verify_opts *o,
		     struct signet_err *err);

/* Appends {"check","subject","ok","detail"} to checks (NULL: no-op). */
void vfy_note(json_t *checks, const char *check, X509 *x, int ok,
	      const char *detail);

#endif
