/*
 * name.h - subjects and subject alternative names from their text forms.
 *
 * Subjects: "CN=api,O=Example Inc,C=DE" (RFC 4514 order as written,
 * "\," escapes a comma) or OpenSSL's "/CN=api/O=Example".
 * SANs: a comma-separated list of "dns:NAME", "ip:ADDR" (v4 or v6),
 * "email:ADDR", "uri:URI".  Every value is checked for syntax here, so a
 * bad SAN is refused with the offending entry named.
 */
#ifndef SIGNET_NAME_H
#define SIGNET_NAME_H

#include <openssl/x509v3.h>
#include <signet/err.h>

X509_NAME *signet_name_parse(const char *s, struct signet_err *err);

/* Parses s and appends its entries to *names (allocated when NULL). */
int signet_san_parse(const char *s, GENERAL_NAMES **names, struct signet_err *err);

/* Checks one DNS name (LDH labels, optional leading "*." wildcard). */
int signet_dns_name_valid(const char *s, int allow_wildcard);

/* Appends "dns:a, ip:1.2.3.4" style text for names to buf. */
void signet_san_format(const GENERAL_NAMES *names, char *buf, size_t size);

/* One-line RFC 4514-ish rendering "CN=x,O=y" of a name. */
void signet_name_format(const X509_NAME *name, char *buf, size_t size);

#endif
