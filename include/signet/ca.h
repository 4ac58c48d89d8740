/*
 * ca.h - a certificate authority kept in a directory.
 *
 *   DIR/signet.json       configuration (jansson); its presence marks an
 *                         initialised CA and it is written last by init
 *   DIR/root.crt          self-signed root, to hand out as trust anchor
 *   DIR/root.key          root key, PKCS#8, encrypted unless --no-passphrase
 *   DIR/intermediate.crt  (optional) the day-to-day issuer, pathlen:0
 *   DIR/intermediate.key
 *   DIR/signet.db         the database (SQLite) unless configured otherwise
 *
 * Opening a CA reads certificates and config; keys are decrypted only by
 * signet_ca_unlock, so listing and showing never need the passphrase.
 * signet_ca_sign issues one certificate and records it before returning it;
 * callers batch many issuances in one transaction with signet_db_begin /
 * signet_db_commit on signet_ca_db(ca).
 */
#ifndef SIGNET_CA_H
#define SIGNET_CA_H

#include <openssl/x509v3.h>
#include <signet/db.h>
#include <signet/err.h>
#include <signet/key.h>
#include <signet/profile.h>
#include <time.h>

struct signet_ca_init_opts {
	const char *dir;
	const char *name;           /* root CN, e.g. "Example Root CA" */
	const char *intermediate_name; /* NULL: derived from name */
	enum signet_key_type key_type;
	int days;                   /* root validity; 0: 3650 */
	int intermediate;           /* also create an intermediate */
	const char *pass;           /* NULL: keys stored unencrypted */
	const char *const *permit;  /* name constraints "dns:.example.com" ... */
	size_t n_permit;
	const char *const *exclude;
	size_t n_exclude;
	const char *crl_url;        /* put into issued certificates, if set */
	const char *ocsp_url;
	const char *database;       /* NULL: sqlite:signet.db in DIR */
};

/* Creates the CA directory o->dir, whole or not at all.  A directory that
 * does not exist yet is built beside it (".NAME.init-XXXXXX", locked) and
 * renamed into place when whole, so that even SIGKILL leaves no half CA
 * at o->dir, and of two inits racing for it one wins (the other:
 * SIGNET_E_EXISTS); the next init of that name removes a staging
 * directory nobody holds.  An existing directory is written in place
 * under the same lock.  On failure it removes what it made, and while it
 * writes, the calling thread holds SIGINT, SIGTERM, SIGHUP and SIGQUIT
 * (delivered when it returns). */
int signet_ca_init(const struct signet_ca_init_opts *o, struct signet_err *err);

struct signet_ca;

struct signet_ca *signet_ca_open(const char *dir, struct signet_err *err);
void signet_ca_free(struct signet_ca *ca);

enum signet_ca_signer {
	SIGNET_CA_ISSUER = 0, /* intermediate when there is one, else root */
	SIGNET_CA_ROOT = 1,   /* the root itself (e.g. to sign a sub-CA) */
};

/* Are the CA's keys encrypted (a passphrase is needed to unlock)? */
int signet_ca_encrypted(const struct signet_ca *ca);
/* Decrypts the chosen signer's key and makes it the signer. */
int signet_ca_unlock(struct signet_ca *ca, enum signet_ca_signer which,
		     const char *pass, struct signet_err *err);

struct signet_sign_req {
	X509_REQ *csr;                 /* borrowed */
	EVP_PKEY *csr_key;             /* borrowed; NULL: the CSR's own */
	enum signet_profile profile;
	int days;                      /* 0: the profile's default */
	const GENERAL_NAMES *sans;     /* NULL: the CSR's own SANs */
	const char *name;              /* record label, may be NULL */
	time_t now;                    /* 0: time(NULL) */
	int csr_verified;              /* the caller has checked the CSR's signature
					* with csr_key (signet_csr_verify_key) */
};

/* Verifies the CSR, applies the profile and policy, and signs, without
 * recording.  Safe to call from several threads at once on one CA.
 * For speed the result carries the public key only as its encoding
 * (X509_get0_pubkey returns NULL): it is meant to be recorded and written
 * out; use signet_ca_sign, or re-parse the DER, for a fully decoded object. */
X509 *signet_ca_build(const struct signet_ca *ca, const struct signet_sign_req *r,
		      struct signet_err *err);
/* Records a certificate from signet_ca_build.  SIGNET_E_EXISTS when its
 * serial is taken (then build again: a fresh serial is drawn). */
int signet_ca_record(struct signet_ca *ca, X509 *x, const struct signet_sign_req *r,
		     struct signet_err *err);

/* signet_ca_record's second step, for batches: inserts a record that
 * signet_ca_issue made on any thread (the caller's thread and
 * transaction; clear *rec with signet_record_clear). */
int signet_ca_record_insert(struct signet_ca *ca, const struct signet_record *rec,
			    struct signet_err *err);

/* State kept by a thread that issues many certificates (a batch's signing
 * thread): with an EC CA key it signs through one context set up once
 * instead of X509_sign's per-certificate contexts.  Make it after
 * signet_ca_unlock; one per thread; free it before the CA. */
struct signet_issuer;
struct signet_issuer *signet_issuer_new(const struct signet_ca *ca, struct signet_err *err);
void signet_issuer_free(struct signet_issuer *is);

/* signet_ca_build and the record of what it built, in one step, with is
 * (or NULL) from this thread.  The record's der is the encoding that was
 * signed; insert it with signet_ca_record_insert. */
X509 *signet_ca_issue(const struct signet_ca *ca, const struct signet_sign_req *r,
		      struct signet_issuer *is, struct signet_record *rec, struct signet_err *err);

/* Verifies the CSR, applies the profile and policy, signs, records, and
 * returns a fully decoded certificate.
 * Returns the certificate (caller frees) or NULL with err set. */
X509 *signet_ca_sign(struct signet_ca *ca, const struct signet_sign_req *r,
		     struct signet_err *err);

const char *signet_ca_dir(const struct signet_ca *ca);
X509 *signet_ca_root(const struct signet_ca *ca);
/* The certificate that signs (intermediate when present, or root). */
X509 *signet_ca_signer_cert(const struct signet_ca *ca);
/* The signer's key, after unlock; NULL before. */
EVP_PKEY *signet_ca_signer_key(const struct signet_ca *ca);
/* Certificates that follow a leaf in its chain (the intermediate, if any). */
STACK_OF(X509) *signet_ca_chain(const struct signet_ca *ca);
/* Appends the PEM of those certificates to a growing buffer, as
 * signet_cert_pem_append does; cheaper than PEM-encoding signet_ca_chain,
 * which decodes the certificates' keys. */
int signet_ca_chain_pem_append(const struct signet_ca *ca, char **pem, size_t *len,
			       struct signet_err *err);
struct signet_db *signet_ca_db(const struct signet_ca *ca);
/* Hex key identifier of the signer, as stored in records' issuer field. */
const char *signet_ca_signer_id(const struct signet_ca *ca);
const char *signet_ca_crl_url(const struct signet_ca *ca);
const char *signet_ca_ocsp_url(const struct signet_ca *ca);

#endif
