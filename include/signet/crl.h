/*
 * crl.h - certificate revocation lists built straight from the database.
 *
 * A CRL is a v2 CertificateList signed by the issuing CA with the
 * extensions relying parties expect: authorityKeyIdentifier (the signer's
 * key id) and cRLNumber, taken from the database counter "crl_number" so
 * that it only ever grows, across processes and restarts.  Entries carry
 * a reasonCode (absent for "unspecified", as RFC 5280 recommends) and an
 * invalidityDate when one was recorded.
 *
 * A delta CRL lists what changed since a base (complete) CRL: entries
 * revoked since, and entries released from hold (reason removeFromCRL).
 * The caller hands in the base CRL's DER (the CLI keeps the last complete
 * CRL in the CA directory), which makes the delta exact whatever dates
 * the revocations carry.  Complete and delta CRLs share one numbering.
 *
 * Speed: the entries are encoded one by one with OpenSSL's ASN.1 encoders
 * into one buffer (no X509_REVOKED per entry, no sort), and the TBS bytes
 * are signed with EVP_DigestSign, so a million entries take about a second.
 */
#ifndef SIGNET_CRL_H
#define SIGNET_CRL_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <signet/db.h>
#include <signet/err.h>
#include <stddef.h>
#include <stdint.h>

struct signet_crl_opts {
	X509 *issuer;             /* borrowed: the signing CA's certificate */
	EVP_PKEY *key;            /* borrowed: its private key */
	struct signet_db *db;     /* borrowed: where revocations are read */
	const char *issuer_id;    /* records' issuer field (key id hex); NULL: all */
	int64_t this_update;      /* 0: now */
	int64_t validity;         /* seconds until nextUpdate; 0: 7 days */
	int64_t number;           /* cRLNumber; 0: next value of "crl_number" */
	const unsigned char *base_der; /* non-NULL: build a delta against it */
	size_t base_len;
};

struct signet_crl_info {
	int64_t number;         /* the cRLNumber used */
	int64_t base_number;    /* delta only: the base's number */
	size_t entries;         /* revoked entries listed */
};

/* Builds and signs a CRL; *der is malloc'ed (caller frees).  info may be
 * NULL.  The counter is advanced (committed) before signing, so two runs
 * never share a number even when one of them later fails. */
int signet_crl_build(const struct signet_crl_opts *o, unsigned char **der,
		     size_t *len, struct signet_crl_info *info,
		     struct signet_err *err);

/* Names of CRLReason codes as the CLI spells them ("keyCompromise"). */
const char *signet_reason_name(int reason);
/* Parses a reason name (case-insensitive); -1 when unknown. */
int signet_reason_parse(const char *s);

#endif
