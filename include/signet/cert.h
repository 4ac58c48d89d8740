/*
 * cert.h - loading certificates, CSRs and CRLs from PEM or DER, and the
 * small facts about a certificate that the rest of signet prints or stores.
 */
#ifndef SIGNET_CERT_H
#define SIGNET_CERT_H

#include <openssl/x509.h>
#include <signet/err.h>
#include <stddef.h>
#include <time.h>

/* All certificates in data: one DER certificate or any number of PEM
 * "CERTIFICATE" blocks (other PEM blocks are an error).  Fails on zero. */
STACK_OF(X509) *signet_certs_parse(const unsigned char *data, size_t len,
				   const char *name, struct signet_err *err);
STACK_OF(X509) *signet_certs_load(const char *path, struct signet_err *err);
/* The first certificate of a file. */
X509 *signet_cert_load(const char *path, struct signet_err *err);

X509_REQ *signet_csr_parse(const unsigned char *data, size_t len,
			   const char *name, struct signet_err *err);
/* The same, and the request's public key (*key, the caller's reference;
 * NULL when it cannot be decoded).  Faster for EC and Ed25519 keys, whose
 * request then answers X509_REQ_get0_pubkey with NULL: use *key.  Pass
 * *key = NULL, or a key an earlier call returned that the caller no longer
 * uses (its only reference): that key is reused or freed, which makes
 * reading many requests on one thread faster. */
X509_REQ *signet_csr_parse_key(const unsigned char *data, size_t len, const char *name,
			       EVP_PKEY **key, struct signet_err *err);
/* The public key of a request from signet_csr_parse_key, made again (the
 * caller's reference; NULL when it cannot be decoded), reusing or freeing
 * spare as signet_csr_parse_key does: for a caller that let go of the key
 * while it kept the request. */
EVP_PKEY *signet_csr_key(X509_REQ *req, EVP_PKEY *spare);
/* A request read and its signature checked (the proof of possession) in
 * one: signet_csr_parse_key then signet_csr_verify_key, with their errors.
 * The checker (one per thread) keeps what checking ECDSA requests needs
 * from one request to the next, which makes reading many of them faster.
 * The request's key is not handed out: make it with signet_csr_key. */
struct signet_csr_checker;
struct signet_csr_checker *signet_csr_checker_new(void);
void signet_csr_checker_free(struct signet_csr_checker *ck);
X509_REQ *signet_csr_parse_checked(struct signet_csr_checker *ck, const unsigned char *data,
				   size_t len, const char *name, struct signet_err *err);
X509_CRL *signet_crl_parse(const unsigned char *data, size_t len,
			   const char *name, struct signet_err *err);
/* Every CRL of a file: one DER CRL, or any number of PEM "X509 CRL" blocks
 * (a bundle of the root's and the intermediate's); a malformed one fails
 * the whole file.  *next_update (if not NULL) gets the earliest nextUpdate,
 * 0 when none has one. */
STACK_OF(X509_CRL) *signet_crls_load(const char *path, time_t *next_update,
				     struct signet_err *err);

/* PEM of DER bytes under a label ("CERTIFICATE", "X509 CRL"), without
 * parsing them: *pem is malloc'ed and NUL-terminated. */
int signet_pem_encode(const char *label, const unsigned char *der, size_t der_len,
		      char **pem, size_t *pem_len, struct signet_err *err);

/* PEM of one certificate appended to a growing buffer. */
int signet_cert_pem_append(X509 *cert, char **buf, size_t *len,
			   struct signet_err *err);

/* Lowercase hex serial without leading zeros ("0" for zero). */
void signet_serial_hex(const ASN1_INTEGER *serial, char *buf, size_t size);
/* Lowercase hex SHA-256 of the DER (64 chars + NUL). */
int signet_cert_fingerprint(X509 *cert, char buf[65]);

/* notBefore/notAfter as time_t. */
int signet_asn1_time_to_time(const ASN1_TIME *t, time_t *out);

/* The value of one hex digit, or -1. */
int signet_hex_digit(int c);
/* A hex serial (the database's form, odd length allowed) to its magnitude
 * bytes; returns the byte count, or -1 when it is not hex or does not fit. */
int signet_serial_to_bytes(const char *hex, unsigned char *out, size_t size);

/* Are two serial strings the same hex number (case, leading zeros)? */
int signet_serial_normalize(const char *in, char *out, size_t size);

#endif
