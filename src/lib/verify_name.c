/*
 * verify_name.c - is this certificate for the name we connected to?
 *
 * Rules (RFC 6125 / RFC 9525 as the CA/B Forum and browsers apply them):
 * - only subjectAltName is consulted; the subject CN is never used to
 *   match, nor checked against the SANs (CA/B BR 7.1.4.3 binds public CAs
 *   at issuance; private PKIs put labels like "web server 1" there and
 *   browsers do not enforce it);
 * - a DNS SAN matches case-insensitively; "*" may only be the whole
 *   leftmost label, covers exactly one non-empty label, and never stands
 *   for a top-level domain or any public suffix (Public Suffix List, read
 *   from /usr/share/publicsuffix when present);
 * - IP addresses match iPAddress SANs only (never a DNS SAN spelling one),
 *   compared as binary addresses; emails match rfc822Name SANs with the
 *   local part exact and the domain case-insensitive;
 * - every SAN entry must be well formed: a malformed DNS name, an IP of the
 *   wrong length or an email without a domain makes the certificate
 *   invalid, even if another SAN would have matched.
 */
#include "verify_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PSL_PATH "/usr/share/publicsuffix/public_suffix_list.dat"

int signet_dns_valid(const char *name, size_t len, int allow_wildcard)
{
	size_t i = 0, label = 0;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return 0;
	if (allow_wildcard && len >= 2 && name[0] == '*' && name[1] == '.')
		i = 2;
	for (; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '.') {
			if (label == 0 || name[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!(isalnum(c) || c == '-') || c >= 0x80)
			return 0;
		if (c == '-' && label == 0)
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0 && name[len - 1] != '-';
}

static int psl_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void psl_load(struct signet_psl *psl)
{
	FILE *f = fopen(PSL_PATH, "re");
	char line[512];
	size_t cap = 0;

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = line, *e;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '\n' || (p[0] == '/' && p[1] == '/'))
			continue;
		for (e = p; *e && !isspace((unsigned char)*e); e++)
			*e = (char)tolower((unsigned char)*e);
		*e = '\0';
		if (psl->n == cap) {
			size_t nc = cap ? cap * 2 : 8192;
			char **nr = realloc(psl->rules, nc * sizeof(*nr));
			if (nr == NULL)
				break;
			psl->rules = nr;
			cap = nc;
		}
		if ((psl->rules[psl->n] = strdup(p)) == NULL)
			break;
		psl->n++;
	}
	fclose(f);
	if (psl->n > 0)
		qsort(psl->rules, psl->n, sizeof(char *), psl_cmp);
}

static int psl_has(const struct signet_psl *psl, const char *rule)
{
	return bsearch(&rule, psl->rules, psl->n, sizeof(char *), psl_cmp) != NULL;
}

int vfy_psl_is_suffix(struct signet_trust *trust, const char *name)
{
	char buf[300];
	const char *dot = strchr(name, '.');

	pthread_mutex_lock(&trust->lock);
	if (!trust->psl_tried) {
		trust->psl_tried = 1;
		psl_load(&trust->psl);
	}
	pthread_mutex_unlock(&trust->lock);
	if (dot == NULL)
		return 1; /* the implicit "*" rule: every TLD is a public suffix */
	if (trust->psl.n == 0)
		return -1;
	snprintf(buf, sizeof(buf), "!%s", name);
	if (psl_has(&trust->psl, buf))
		return 0;
	if (psl_has(&trust->psl, name))
		return 1;
	snprintf(buf, sizeof(buf), "*.%s", dot + 1);
	return psl_has(&trust->psl, buf);
}

/* Copies a DNS name lowercased without its trailing dot; 0 if it doesn't fit. */
static int dns_norm(const char *in, size_t len, char *out, size_t size)
{
	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len + 1 > size)
		return 0;
	for (size_t i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[len] = '\0';
	return 1;
}

int signet_dns_match(const char *pattern, size_t plen, const char *host)
{
	char p[256], h[256];
	const char *hrest;

	if (!signet_dns_valid(pattern, plen, 1) ||
	    !signet_dns_valid(host, strlen(host), 0))
		return 0;
	if (!dns_norm(pattern, plen, p, sizeof(p)) ||
	    !dns_norm(host, strlen(host), h, sizeof(h)))
		return 0;
	if (p[0] != '*')
		return strcmp(p, h) == 0;
	/* "*.rest": rest needs two labels at least, host one more label. */
	if (strchr(p + 2, '.') == NULL)
		return 0;
	hrest = strchr(h, '.');
	if (hrest == NULL || hrest == h)
		return 0;
	return strcmp(hrest + 1, p + 2) == 0;
}

int signet_email_match(const char *san, size_t slen, const char *addr)
{
	const char *sat = memchr(san, '@', slen), *aat = strrchr(addr, '@');
	size_t alen = strlen(addr);

	if (sat == NULL || aat == NULL)
		return 0;
	if ((size_t)(sat - san) != (size_t)(aat - addr) ||
	    memcmp(san, addr, (size_t)(sat - san)) != 0)
		return 0;
	return slen - (size_t)(sat - san) == alen - (size_t)(aat - addr) &&
	       strncasecmp(sat, aat, slen - (size_t)(sat - san)) == 0;
}

static int email_valid(const char *s, size_t len)
{
	const char *at = memchr(s, '@', len);
	if (at == NULL || at == s || memchr(at + 1, '@', len - (size_t)(at - s) - 1))
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return signet_dns_valid(at + 1, len - (size_t)(at - s) - 1, 0);
}

static void ip_text(const ASN1_OCTET_STRING *ip, char *buf, size_t size)
{
	int len = ASN1_STRING_length(ip);
	const unsigned char *d = ASN1_STRING_get0_data(ip);
	if (len == 4)
		inet_ntop(AF_INET, d, buf, (socklen_t)size);
	else if (len == 16)
		inet_ntop(AF_INET6, d, buf, (socklen_t)size);
	else
		snprintf(buf, size, "(%d-byte address)", len);
}

/* Appends s to a bounded "[a, b, ...]" list. */
static void list_add(char *buf, size_t size, const char *s)
{
	size_t n = strlen(buf);
	if (n + 8 >= size)
		return;
	snprintf(buf + n, size - n, "%s%s", n ? ", " : "", s);
}

/* Does a DNS SAN spell s (an IP address written as a DNS name)? */
static int dns_san_spells(const GENERAL_NAMES *sans, const char *s)
{
	for (int i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		if (g->type == GEN_DNS && (size_t)ASN1_STRING_length(g->d.dNSName) == strlen(s) &&
		    memcmp(ASN1_STRING_get0_data(g->d.dNSName), s, strlen(s)) == 0)
			return 1;
	}
	return 0;
}

/* Is any of the wildcard's ancestors a public suffix (the wildcard then
 * covers a registry, not a domain)? */
static int wildcard_on_suffix(struct signet_trust *trust, const char *pattern,
			      size_t plen)
{
	char p[256];
	if (plen < 2 || pattern[0] != '*' || !dns_norm(pattern + 2, plen - 2, p, sizeof(p)))
		return 0;
	return vfy_psl_is_suffix(trust, p) == 1;
}

/* The leaf's label for messages, made on first use. */
#define LABEL() (label[0] ? label : (vfy_cert_label(leaf, label, sizeof(label)), label))

/* "a.example, 10.0.0.1, x@example" for messages. */
static void san_list(const GENERAL_NAMES *sans, char *list, size_t size)
{
	char tmp[300];

	list[0] = '\0';
	for (int i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		const ASN1_STRING *str = g->type == GEN_DNS ? g->d.dNSName :
					 g->type == GEN_EMAIL ? g->d.rfc822Name : NULL;
		if (g->type == GEN_IPADD) {
			ip_text(g->d.iPAddress, tmp, sizeof(tmp));
		} else if (str != NULL) {
			int len = ASN1_STRING_length(str);
			snprintf(tmp, sizeof(tmp), "%.*s", len > 255 ? 255 : len,
				 (const char *)ASN1_STRING_get0_data(str));
		} else {
			continue;
		}
		list_add(list, size, tmp);
	}
}

int vfy_leaf_names(struct signet_trust *trust, X509 *leaf,
		   const struct signet_verify_opts *o, json_t *checks,
		   struct signet_err *err)
{
	GENERAL_NAMES *sans = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	char label[256] = "", list[512] = "";
	unsigned char want_ip[16];
	int want_ip_len = 0, matched = 0, rc = -1;
	const char *host = o->host, *ip = o->ip;
	int want_name = o->host != NULL || o->ip != NULL || o->email != NULL;

	/* A host that is an IP address literal is matched as one, against
	 * iPAddress SANs, as browsers do with https://192.0.2.1/. */
	if (host != NULL && ip == NULL &&
	    (inet_pton(AF_INET, host, want_ip) == 1 || inet_pton(AF_INET6, host, want_ip) == 1)) {
		ip = host;
		host = NULL;
	}
	if (ip != NULL) {
		if (inet_pton(AF_INET, ip, want_ip) == 1)
			want_ip_len = 4;
		else if (inet_pton(AF_INET6, ip, want_ip) == 1)
			want_ip_len = 16;
		ENSURE(want_ip_len != 0, err, SIGNET_E_NAME,
		       "'%s' is not an IPv4 or IPv6 address", ip);
	}
	/* Syntax of every SAN entry. */
	for (int i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		const char *s;
		size_t len;

		switch (g->type) {
		case GEN_DNS:
			s = (const char *)ASN1_STRING_get0_data(g->d.dNSName);
			len = (size_t)ASN1_STRING_length(g->d.dNSName);
			ENSURE(signet_dns_valid(s, len, 1), err, SIGNET_E_INVALID,
			       "%s: subjectAltName holds a malformed DNS name '%.*s'",
			       LABEL(), (int)(len > 100 ? 100 : len), s);
			break;
		case GEN_IPADD:
			ENSURE(ASN1_STRING_length(g->d.iPAddress) == 4 ||
				       ASN1_STRING_length(g->d.iPAddress) == 16,
			       err, SIGNET_E_INVALID,
			       "%s: subjectAltName holds an IP address of %d bytes", LABEL(),
			       ASN1_STRING_length(g->d.iPAddress));
			break;
		case GEN_EMAIL:
			s = (const char *)ASN1_STRING_get0_data(g->d.rfc822Name);
			len = (size_t)ASN1_STRING_length(g->d.rfc822Name);
			ENSURE(email_valid(s, len), err, SIGNET_E_INVALID,
			       "%s: subjectAltName holds a malformed email address '%.*s'",
			       LABEL(), (int)(len > 100 ? 100 : len), s);
			break;
		default:
			break;
		}
	}
	if (checks != NULL) {
		san_list(sans, list, sizeof(list));
		vfy_note(checks, "san-syntax", leaf, 1, list[0] ? list : "no subjectAltName");
	}
	if (!want_name) {
		rc = 0;
		goto out;
	}
	ENSURE(sans != NULL && sk_GENERAL_NAME_num(sans) > 0, err, SIGNET_E_NAME,
	       "name mismatch: %s has no subjectAltName, and the subject CN is never "
	       "used for %s",
	       LABEL(), host ? host : ip ? ip : o->email);

	for (int i = 0; i < sk_GENERAL_NAME_num(sans) && !matched; i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		if (host != NULL && g->type == GEN_DNS) {
			const char *s = (const char *)ASN1_STRING_get0_data(g->d.dNSName);
			size_t len = (size_t)ASN1_STRING_length(g->d.dNSName);
			if (signet_dns_match(s, len, host)) {
				ENSURE(!wildcard_on_suffix(trust, s, len), err, SIGNET_E_NAME,
				       "name mismatch: %s's SAN '%.*s' is a wildcard over a "
				       "public suffix, which covers no one domain",
				       LABEL(), (int)len, s);
				matched = 1;
			}
		} else if (want_ip_len && g->type == GEN_IPADD) {
			matched = ASN1_STRING_length(g->d.iPAddress) == want_ip_len &&
				  memcmp(ASN1_STRING_get0_data(g->d.iPAddress), want_ip,
					 (size_t)want_ip_len) == 0;
		} else if (o->email != NULL && g->type == GEN_EMAIL) {
			matched = signet_email_match(
				(const char *)ASN1_STRING_get0_data(g->d.rfc822Name),
				(size_t)ASN1_STRING_length(g->d.rfc822Name), o->email);
		}
	}
	if (!matched)
		san_list(sans, list, sizeof(list));
	ENSURE(matched, err, SIGNET_E_NAME, "name mismatch: %s is not covered by SANs [%s]%s",
	       host ? host : ip ? ip : o->email, list,
	       ip != NULL && dns_san_spells(sans, ip) ?
		       " (an IP address matches iPAddress SANs only, not a DNS name spelling it)" :
		       "");
	vfy_note(checks, "name", leaf, 1, host ? host : ip ? ip : o->email);
	rc = 0;
out:
	GENERAL_NAMES_free(sans);
	return rc;
}

/*
 * OpenSSL applies an excluded dNSName subtree to a wildcard SAN as a
 * string: "*.example.com" is not inside "bar.example.com", so it passes,
 * yet it covers bar.example.com (CVE-2025-61727).  A wildcard "*.R" is
 * refused when an excluded base is exactly one label below R.
 */
int vfy_wildcard_vs_excluded(X509 *const *path, int n, struct signet_err *err)
{
	GENERAL_NAMES *sans;
	int rc = 0, any_nc = 0;

	for (int i = 1; !any_nc && i < n; i++)
		any_nc = X509_get_ext_by_NID(path[i], NID_name_constraints, -1) >= 0;
	if (!any_nc)
		return 0;
	sans = X509_get_ext_d2i(path[0], NID_subject_alt_name, NULL, NULL);

	for (int s = 0; rc == 0 && s < sk_GENERAL_NAME_num(sans); s++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, s);
		char pat[256];
		if (g->type != GEN_DNS ||
		    !dns_norm((const char *)ASN1_STRING_get0_data(g->d.dNSName),
			      (size_t)ASN1_STRING_length(g->d.dNSName), pat, sizeof(pat)) ||
		    strncmp(pat, "*.", 2) != 0)
			continue;
		for (int i = 1; rc == 0 && i < n; i++) {
			NAME_CONSTRAINTS *nc = X509_get_ext_d2i(path[i], NID_name_constraints, NULL, NULL);
			for (int j = 0; nc != NULL && j < sk_GENERAL_SUBTREE_num(nc->excludedSubtrees); j++) {
				GENERAL_NAME *b = sk_GENERAL_SUBTREE_value(nc->excludedSubtrees, j)->base;
				char base[256], label[256];
				const char *dot;
				if (b->type != GEN_DNS ||
				    !dns_norm((const char *)ASN1_STRING_get0_data(b->d.dNSName),
					      (size_t)ASN1_STRING_length(b->d.dNSName), base, sizeof(base)))
					continue;
				dot = strchr(base[0] == '.' ? base + 1 : base, '.');
				if (dot != NULL && strcmp(dot + 1, pat + 2) == 0) {
					vfy_cert_label(path[i], label, sizeof(label));
					rc = signet_err_set(err, SIGNET_E_CONSTRAINT,
							    "SAN '%s' covers '%s', which the name "
							    "constraints of %s exclude", pat, base, label);
					break;
				}
			}
			NAME_CONSTRAINTS_free(nc);
		}
	}
	GENERAL_NAMES_free(sans);
	ERR_clear_error();
	return rc;
}
