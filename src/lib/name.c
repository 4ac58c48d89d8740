/*
 * name.c - subjects and SANs from the command line's text forms, checked
 * strictly so that a typo is refused with the entry named instead of being
 * signed into a certificate.
 */
#include <signet/name.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 4096

/* Attribute names accepted in subjects, mapped to their NIDs. */
static int attr_nid(const char *a)
{
	static const struct {
		const char *name;
		int nid;
	} attrs[] = {
		{ "CN", NID_commonName },	      { "O", NID_organizationName },
		{ "OU", NID_organizationalUnitName }, { "C", NID_countryName },
		{ "ST", NID_stateOrProvinceName },    { "L", NID_localityName },
		{ "SERIALNUMBER", NID_serialNumber }, { "DC", NID_domainComponent },
		{ "EMAIL", NID_pkcs9_emailAddress },  { "EMAILADDRESS", NID_pkcs9_emailAddress },
		{ "STREET", NID_streetAddress },      { "UID", NID_userId },
		{ "GN", NID_givenName },	      { "SN", NID_surname },
		{ "T", NID_title },		      { "TITLE", NID_title },
	};
	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
		if (strcasecmp(a, attrs[i].name) == 0)
			return attrs[i].nid;
	return NID_undef;
}

X509_NAME *signet_name_parse(const char *s, struct signet_err *err)
{
	X509_NAME *name = X509_NAME_new();
	char attr[64], val[1024];
	size_t slen = strlen(s);
	char sep = ',';
	const char *p = s;
	int set = 0;

	ENSURE(name != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	ENSURE(slen > 0, err, SIGNET_E_PARSE, "empty subject (expected e.g. \"CN=api,O=Example\")");
	ENSURE(slen < NAME_MAX_LEN, err, SIGNET_E_PARSE, "subject longer than %d characters",
	       NAME_MAX_LEN);
	if (*p == '/') { /* OpenSSL's "/CN=x/O=y" form */
		sep = '/';
		p++;
	}
	while (*p != '\0') {
		size_t al = 0, vl = 0;
		int nid;

		while (*p == ' ')
			p++;
		while (*p != '\0' && *p != '=' && al + 1 < sizeof(attr))
			attr[al++] = *p++;
		while (al > 0 && attr[al - 1] == ' ')
			al--;
		attr[al] = '\0';
		ENSURE(*p == '=', err, SIGNET_E_PARSE,
		       "subject \"%s\": expected ATTRIBUTE=value at \"%s\"", s, attr);
		p++;
		nid = attr_nid(attr);
		ENSURE(nid != NID_undef, err, SIGNET_E_PARSE,
		       "subject \"%s\": unknown attribute '%s' (use CN, O, OU, C, ST, L, DC, ...)",
		       s, attr);
		/* RFC 4514 escapes: \ before a character takes it as it is,
		 * \ before two hex digits is that byte; an unescaped + starts
		 * another attribute of the same RDN (as openssl -subj reads it). */
		while (*p != '\0' && *p != sep && *p != '+') {
			int c = (unsigned char)*p++;
			if (c == '\\') {
				ENSURE(*p != '\0', err, SIGNET_E_PARSE,
				       "subject \"%s\": a trailing backslash escapes nothing", s);
				if (isxdigit((unsigned char)p[0]) && isxdigit((unsigned char)p[1])) {
					char hex[3] = { p[0], p[1], '\0' };
					c = (int)strtol(hex, NULL, 16);
					p += 2;
				} else {
					c = (unsigned char)*p++;
				}
			}
			ENSURE(c >= 0x20 && c != 0x7f, err, SIGNET_E_PARSE,
			       "subject \"%s\": the value of %s holds a control character", s,
			       attr);
			ENSURE(vl + 1 < sizeof(val), err, SIGNET_E_PARSE,
			       "subject \"%s\": value of %s too long", s, attr);
			val[vl++] = (char)c;
		}
		val[vl] = '\0';
		ENSURE(vl > 0, err, SIGNET_E_PARSE, "subject \"%s\": empty value for %s", s, attr);
		ENSURE(nid != NID_countryName || (vl == 2 && isalpha((unsigned char)val[0]) &&
						  isalpha((unsigned char)val[1])),
		       err, SIGNET_E_PARSE,
		       "subject \"%s\": C must be a two-letter country code, not '%s'", s, val);
		ENSURE(nid != NID_commonName || vl <= 64, err, SIGNET_E_PARSE,
		       "subject \"%s\": CN is longer than 64 characters", s);
		ENSURE_OSSL(X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8,
						       (unsigned char *)val, (int)vl, -1, set),
			    err, SIGNET_E_PARSE, "subject \"%s\": invalid value for %s", s, attr);
		set = *p == '+' ? -1 : 0; /* -1: into the RDN just added */
		if (*p == sep || *p == '+') {
			p++;
			ENSURE(set == 0 || *p != '\0', err, SIGNET_E_PARSE,
			       "subject \"%s\": nothing after '+'", s);
		}
	}
	return name;
out:
	X509_NAME_free(name);
	return NULL;
}

int signet_dns_name_valid(const char *s, int allow_wildcard)
{
	size_t len = strlen(s), label = 0;
	int labels = 0;

	if (len == 0 || len > 253)
		return 0;
	if (allow_wildcard && s[0] == '*' && s[1] == '.') {
		s += 2;
		/* "*.com" style: the wildcard needs at least two labels after it. */
		if (strchr(s, '.') == NULL)
			return 0;
	}
	for (const char *p = s;; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || label > 63)
				return 0;
			if (p[-1] == '-')
				return 0;
			labels++;
			label = 0;
			if (*p == '\0')
				break;
			continue;
		}
		if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_'))
			return 0;
		if (label == 0 && *p == '-')
			return 0;
		label++;
	}
	return labels >= 1;
}

static int email_valid(const char *s)
{
	const char *at = strchr(s, '@');
	/* An rfc822Name is an IA5String (7-bit ASCII); RFC 5321 bounds a path
	 * to 254 characters. */
	if (at == NULL || at == s || strchr(at + 1, '@') != NULL || strlen(s) > 254)
		return 0;
	for (const char *p = s; p < at; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || *p == '<' ||
		    *p == '>' || *p == ',')
			return 0;
	return signet_dns_name_valid(at + 1, 0);
}

static int uri_valid(const char *s)
{
	const char *colon = strchr(s, ':');
	if (colon == NULL || colon == s || !isalpha((unsigned char)s[0]))
		return 0;
	for (const char *p = s; p < colon; p++)
		if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-' && *p != '.')
			return 0;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return 0;
	return colon[1] != '\0';
}

static int add_name(GENERAL_NAMES *names, int type, const char *val, struct signet_err *err)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *ia5 = NULL;
	ASN1_OCTET_STRING *ip = NULL;
	int rc = -1;

	ENSURE(gn != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	if (type == GEN_IPADD) {
		ip = a2i_IPADDRESS(val);
		ENSURE(ip != NULL, err, SIGNET_E_PARSE, "SAN ip:%s is not an IPv4 or IPv6 address",
		       val);
		GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
		ip = NULL;
	} else {
		ia5 = ASN1_IA5STRING_new();
		ENSURE(ia5 != NULL && ASN1_STRING_set(ia5, val, (int)strlen(val)), err,
		       SIGNET_E_INTERNAL, "out of memory");
		GENERAL_NAME_set0_value(gn, type, ia5);
		ia5 = NULL;
	}
	ENSURE(sk_GENERAL_NAME_push(names, gn) > 0, err, SIGNET_E_INTERNAL, "out of memory");
	gn = NULL;
	rc = 0;
out:
	ASN1_IA5STRING_free(ia5);
	ASN1_OCTET_STRING_free(ip);
	GENERAL_NAME_free(gn);
	ERR_clear_error();
	return rc;
}

int signet_san_parse(const char *s, GENERAL_NAMES **names, struct signet_err *err)
{
	char *copy = NULL, *save = NULL, *tok;
	int rc = -1, created = 0;

	ENSURE(strlen(s) < 65536, err, SIGNET_E_PARSE, "SAN list too long");
	if (*names == NULL) {
		*names = sk_GENERAL_NAME_new_null();
		ENSURE(*names != NULL, err, SIGNET_E_INTERNAL, "out of memory");
		created = 1;
	}
	copy = strdup(s);
	ENSURE(copy != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	/* An empty list would replace a CSR's names with none. */
	ENSURE(strspn(s, " ,") < strlen(s), err, SIGNET_E_PARSE,
	       "the SAN list is empty: give dns:NAME, ip:ADDR, email:ADDR or uri:URI");
	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		char *colon, *val;
		while (*tok == ' ')
			tok++;
		colon = strchr(tok, ':');
		ENSURE(colon != NULL, err, SIGNET_E_PARSE,
		       "SAN '%s' has no type: write dns:NAME, ip:ADDR, email:ADDR or uri:URI",
		       tok);
		*colon = '\0';
		val = colon + 1;
		for (char *e = val + strlen(val); e > val && e[-1] == ' '; e--)
			e[-1] = '\0';
		ENSURE(*val != '\0', err, SIGNET_E_PARSE, "SAN %s: has an empty value", tok);
		if (strcasecmp(tok, "dns") == 0) {
			for (char *p = val; *p; p++)
				*p = (char)tolower((unsigned char)*p);
			ENSURE(signet_dns_name_valid(val, 1), err, SIGNET_E_PARSE,
			       "SAN dns:%s is not a valid DNS name", val);
			TRY(add_name(*names, GEN_DNS, val, err));
		} else if (strcasecmp(tok, "ip") == 0) {
			TRY(add_name(*names, GEN_IPADD, val, err));
		} else if (strcasecmp(tok, "email") == 0) {
			ENSURE(email_valid(val), err, SIGNET_E_PARSE,
			       "SAN email:%s is not a valid email address", val);
			TRY(add_name(*names, GEN_EMAIL, val, err));
		} else if (strcasecmp(tok, "uri") == 0) {
			ENSURE(uri_valid(val), err, SIGNET_E_PARSE,
			       "SAN uri:%s is not a valid URI (expected scheme:rest)", val);
			TRY(add_name(*names, GEN_URI, val, err));
		} else {
			signet_err_set(err, SIGNET_E_PARSE,
				       "SAN type '%s' unknown: use dns, ip, email or uri", tok);
			goto out;
		}
	}
	rc = 0;
out:
	free(copy);
	if (rc < 0 && created) {
		GENERAL_NAMES_free(*names);
		*names = NULL;
	}
	return rc;
}

static void append(char *buf, size_t size, size_t *pos, const char *a, const char *b)
{
	int n;
	if (*pos >= size)
		return;
	n = snprintf(buf + *pos, size - *pos, "%s%s", a, b);
	if (n > 0)
		*pos += (size_t)n;
	if (*pos >= size)
		*pos = size - 1;
}

void signet_san_format(const GENERAL_NAMES *names, char *buf, size_t size)
{
	size_t pos = 0;
	buf[0] = '\0';
	for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
		const char *sep = pos ? ", " : "";
		char tmp[256];
		switch (gn->type) {
		case GEN_DNS:
		case GEN_EMAIL:
		case GEN_URI: {
			/* Copied whole (not through tmp) so a long URI is not cut
			 * short unless buf itself is full. */
			const ASN1_IA5STRING *s = gn->d.ia5;
			int n = ASN1_STRING_length(s);
			append(buf, size, &pos, sep,
			       gn->type == GEN_DNS ? "dns:" : gn->type == GEN_EMAIL ? "email:" : "uri:");
			for (int j = 0; j < n && pos + 1 < size; j++) {
				unsigned char c = ASN1_STRING_get0_data(s)[j];
				buf[pos++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
			}
			buf[pos] = '\0';
			break;
		}
		case GEN_IPADD: {
			const ASN1_OCTET_STRING *ip = gn->d.ip;
			int n = ASN1_STRING_length(ip);
			const unsigned char *d = ASN1_STRING_get0_data(ip);
			if (n == 4)
				inet_ntop(AF_INET, d, tmp, sizeof(tmp));
			else if (n == 16)
				inet_ntop(AF_INET6, d, tmp, sizeof(tmp));
			else
				snprintf(tmp, sizeof(tmp), "<%d bytes>", n);
			append(buf, size, &pos, sep, "ip:");
			append(buf, size, &pos, "", tmp);
			break;
		}
		case GEN_DIRNAME:
			signet_name_format(gn->d.dirn, tmp, sizeof(tmp));
			append(buf, size, &pos, sep, "dirname:");
			append(buf, size, &pos, "", tmp);
			break;
		default:
			append(buf, size, &pos, sep, "othername");
		}
	}
}

void signet_name_format(const X509_NAME *name, char *buf, size_t size)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p = NULL;
	long n;

	buf[0] = '\0';
	if (bio == NULL)
		return;
	if (X509_NAME_print_ex(bio, name, 0,
			       (XN_FLAG_RFC2253 & ~XN_FLAG_DN_REV & ~ASN1_STRFLGS_ESC_MSB) |
				       ASN1_STRFLGS_UTF8_CONVERT) >= 0) {
		n = BIO_get_mem_data(bio, &p);
		if (n > 0) {
			size_t c = (size_t)n < size - 1 ? (size_t)n : size - 1;
			memcpy(buf, p, c);
			buf[c] = '\0';
		}
	}
	BIO_free(bio);
	ERR_clear_error();
}
