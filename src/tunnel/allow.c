/*
 * allow.c - the tunnel server's --allow rules: who, among the clients the
 * CA vouches for, may pass.
 *
 * Rules are "cn=NAME", "san:dns=NAME", "san:uri=URI", "san:email=ADDR",
 * "san:ip=ADDR" and "serial=HEX".  A client passes when any rule matches;
 * no rules means every verified client passes.  Matching is exact (no
 * wildcards, DNS names compared without case), and only attributes of the
 * verified leaf are looked at: a CN is matched only when the subject holds
 * exactly one, so a certificate cannot smuggle a second CN past the rule.
 */
#include "tunnel.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <signet/cert.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int tunnel_allow_parse(const char *text, struct allow_rule *rule,
		       struct signet_err *err)
{
	static const struct {
		const char *prefix;
		enum allow_kind kind;
	} kinds[] = {
		{ "cn=", ALLOW_CN },
		{ "san:dns=", ALLOW_SAN_DNS },
		{ "san:uri=", ALLOW_SAN_URI },
		{ "san:email=", ALLOW_SAN_EMAIL },
		{ "san:ip=", ALLOW_SAN_IP },
		{ "serial=", ALLOW_SERIAL },
	};
	const char *value = NULL;

	memset(rule, 0, sizeof(*rule));
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t n = strlen(kinds[i].prefix);
		if (strncasecmp(text, kinds[i].prefix, n) == 0) {
			rule->kind = kinds[i].kind;
			value = text + n;
			break;
		}
	}
	if (value == NULL)
		return signet_err_set(err, SIGNET_E_USAGE,
				      "--allow '%s': expected cn=, san:dns=, san:uri=, "
				      "san:email=, san:ip= or serial=", text);
	if (*value == '\0')
		return signet_err_set(err, SIGNET_E_USAGE, "--allow '%s': empty value",
				      text);
	if (rule->kind == ALLOW_SERIAL) {
		/* Normalised in full: the output is never longer than the
		 * input plus one ("0"), so nothing is ever cut off. */
		size_t size = strlen(value) + 2;
		char *norm = malloc(size);
		if (norm == NULL)
			return signet_err_set(err, SIGNET_E_INTERNAL, "out of memory");
		if (signet_serial_normalize(value, norm, size) < 0) {
			free(norm);
			return signet_err_set(err, SIGNET_E_USAGE,
					      "--allow '%s': not a hex serial number", text);
		}
		rule->value = norm;
	} else if (rule->kind == ALLOW_SAN_IP) {
		unsigned char buf[16];
		if (inet_pton(AF_INET, value, buf) != 1 &&
		    inet_pton(AF_INET6, value, buf) != 1)
			return signet_err_set(err, SIGNET_E_USAGE,
					      "--allow '%s': not an IP address", text);
		rule->value = strdup(value);
	} else {
		rule->value = strdup(value);
	}
	if (rule->value == NULL)
		return signet_err_set(err, SIGNET_E_INTERNAL, "out of memory");
	return 0;
}

void tunnel_allow_free(struct allow_rule *rules, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(rules[i].value);
	free(rules);
}

/* The ASN1_STRING s equals the text v exactly (no embedded NULs). */
static int str_eq(const ASN1_STRING *s, const char *v, int nocase)
{
	size_t n = strlen(v);
	if (s == NULL || (size_t)ASN1_STRING_length(s) != n)
		return 0;
	if (memchr(ASN1_STRING_get0_data(s), '\0', n) != NULL)
		return 0;
	return nocase ? strncasecmp((const char *)ASN1_STRING_get0_data(s), v, n) == 0
		      : memcmp(ASN1_STRING_get0_data(s), v, n) == 0;
}

static int cn_match(X509 *cert, const char *v)
{
	const X509_NAME *subj = X509_get_subject_name(cert);
	int idx = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
	unsigned char *utf8 = NULL;
	int len, ok = 0;

	if (idx < 0 || X509_NAME_get_index_by_NID(subj, NID_commonName, idx) >= 0)
		return 0; /* none, or ambiguous */
	len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(
						 X509_NAME_get_entry(subj, idx)));
	if (len >= 0 && (size_t)len == strlen(v) && memcmp(utf8, v, (size_t)len) == 0)
		ok = 1;
	OPENSSL_free(utf8);
	return ok;
}

static int ip_eq(const ASN1_OCTET_STRING *ip, const char *v)
{
	unsigned char buf[16];
	int n = ASN1_STRING_length(ip);

	if (n == 4 && inet_pton(AF_INET, v, buf) == 1)
		return memcmp(buf, ASN1_STRING_get0_data(ip), 4) == 0;
	if (n == 16 && inet_pton(AF_INET6, v, buf) == 1)
		return memcmp(buf, ASN1_STRING_get0_data(ip), 16) == 0;
	return 0;
}

/* The certificate's serial is the hex number v (lowercase, no leading
 * zeros, as tunnel_allow_parse leaves it).  The serial is converted in
 * full, whatever its length: a fixed buffer would cut a long serial and
 * make a rule naming its first digits match every serial sharing them
 * (docs/FINDINGS.md #5).  A negative serial matches nothing. */
static int serial_eq(const ASN1_INTEGER *sn, const char *v)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(sn, NULL);
	char *hex = bn != NULL && !BN_is_negative(bn) ? BN_bn2hex(bn) : NULL;
	const char *h = hex;
	int ok = 0;

	if (h != NULL) {
		while (*h == '0' && h[1] != '\0')
			h++;
		ok = strcasecmp(h, v) == 0;
	}
	OPENSSL_free(hex);
	BN_free(bn);
	ERR_clear_error();
	return ok;
}

static int san_match(GENERAL_NAMES *sans, enum allow_kind kind, const char *v)
{
	for (int i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
		switch (kind) {
		case ALLOW_SAN_DNS:
			if (gn->type == GEN_DNS && str_eq(gn->d.dNSName, v, 1))
				return 1;
			break;
		case ALLOW_SAN_URI:
			if (gn->type == GEN_URI &&
			    str_eq(gn->d.uniformResourceIdentifier, v, 0))
				return 1;
			break;
		case ALLOW_SAN_EMAIL:
			if (gn->type == GEN_EMAIL && str_eq(gn->d.rfc822Name, v, 1))
				return 1;
			break;
		case ALLOW_SAN_IP:
			if (gn->type == GEN_IPADD && ip_eq(gn->d.iPAddress, v))
				return 1;
			break;
		default:
			break;
		}
	}
	return 0;
}

int tunnel_allow_match(const struct allow_rule *rules, size_t n, X509 *cert)
{
	GENERAL_NAMES *sans = NULL;
	int ok = 0;

	if (n == 0)
		return 1;
	sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (size_t i = 0; i < n && !ok; i++) {
		switch (rules[i].kind) {
		case ALLOW_CN:
			ok = cn_match(cert, rules[i].value);
			break;
		case ALLOW_SERIAL:
			ok = serial_eq(X509_get0_serialNumber(cert), rules[i].value);
			break;
		default:
			ok = sans != NULL && san_match(sans, rules[i].kind, rules[i].value);
			break;
		}
	}
	GENERAL_NAMES_free(sans);
	return ok;
}
