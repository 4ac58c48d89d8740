/*
 * ext.c - typed construction of the X.509v3 extensions signet issues.
 */
#include "ext.h"

#include <signet/name.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>

static int add_i2d(X509 *x, int nid, void *value, int crit, struct signet_err *err)
{
	if (X509_add1_ext_i2d(x, nid, value, crit, X509V3_ADD_REPLACE) != 1)
		return signet_err_ossl(err, SIGNET_E_INTERNAL, "cannot add extension %s",
				       OBJ_nid2sn(nid));
	return 0;
}

int ext_add_bc(X509 *x, int ca, long pathlen, struct signet_err *err)
{
	BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
	int rc = -1;

	ENSURE(bc != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	bc->ca = ca ? 0xff : 0;
	if (ca && pathlen >= 0) {
		bc->pathlen = ASN1_INTEGER_new();
		ENSURE(bc->pathlen != NULL && ASN1_INTEGER_set(bc->pathlen, pathlen), err,
		       SIGNET_E_INTERNAL, "out of memory");
	}
	rc = add_i2d(x, NID_basic_constraints, bc, 1, err);
out:
	BASIC_CONSTRAINTS_free(bc);
	return rc;
}

int ext_add_ku(X509 *x, unsigned bits, struct signet_err *err)
{
	/* KU_* values are the DER bit string's first two bytes, MSB first. */
	static const struct {
		unsigned ku;
		int bit;
	} map[] = {
		{ KU_DIGITAL_SIGNATURE, 0 }, { KU_NON_REPUDIATION, 1 },
		{ KU_KEY_ENCIPHERMENT, 2 },  { KU_DATA_ENCIPHERMENT, 3 },
		{ KU_KEY_AGREEMENT, 4 },     { KU_KEY_CERT_SIGN, 5 },
		{ KU_CRL_SIGN, 6 },	     { KU_ENCIPHER_ONLY, 7 },
		{ KU_DECIPHER_ONLY, 8 },
	};
	ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
	int rc = -1;

	ENSURE(ku != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		ENSURE(!(bits & map[i].ku) || ASN1_BIT_STRING_set_bit(ku, map[i].bit, 1), err,
		       SIGNET_E_INTERNAL, "out of memory");
	rc = add_i2d(x, NID_key_usage, ku, 1, err);
out:
	ASN1_BIT_STRING_free(ku);
	return rc;
}

int ext_add_eku(X509 *x, const int *nids, size_t n, struct signet_err *err)
{
	EXTENDED_KEY_USAGE *eku = sk_ASN1_OBJECT_new_null();
	int rc = -1;

	ENSURE(eku != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	for (size_t i = 0; i < n; i++)
		ENSURE(sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(nids[i])) > 0, err,
		       SIGNET_E_INTERNAL, "out of memory");
	rc = add_i2d(x, NID_ext_key_usage, eku, 0, err);
out:
	sk_ASN1_OBJECT_free(eku); /* the objects are static */
	return rc;
}

int ext_add_ski(X509 *x, struct signet_err *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	ASN1_OCTET_STRING *ski = ASN1_OCTET_STRING_new();
	int rc = -1;

	/* RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits. */
	ENSURE(ski != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	ENSURE_OSSL(X509_pubkey_digest(x, EVP_sha1(), md, &n) && ASN1_OCTET_STRING_set(ski, md, (int)n),
		    err, SIGNET_E_INTERNAL, "cannot compute subject key identifier");
	rc = add_i2d(x, NID_subject_key_identifier, ski, 0, err);
out:
	ASN1_OCTET_STRING_free(ski);
	return rc;
}

const ASN1_OCTET_STRING *ext_key_id(X509 *x)
{
	const ASN1_OCTET_STRING *id = X509_get0_subject_key_id(x);
	ERR_clear_error();
	return id;
}

X509_EXTENSION *ext_make_aki(X509 *issuer, struct signet_err *err)
{
	AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
	const ASN1_OCTET_STRING *kid = ext_key_id(issuer);
	X509_EXTENSION *ext = NULL;

	if (akid == NULL || kid == NULL) {
		signet_err_set(err, SIGNET_E_INTERNAL,
			       "issuer certificate has no subject key identifier");
		goto out;
	}
	akid->keyid = ASN1_OCTET_STRING_dup(kid);
	ext = X509V3_EXT_i2d(NID_authority_key_identifier, 0, akid);
	if (ext == NULL)
		signet_err_ossl(err, SIGNET_E_INTERNAL, "cannot encode authority key identifier");
out:
	AUTHORITY_KEYID_free(akid);
	return ext;
}

int ext_add_san(X509 *x, const GENERAL_NAMES *names, struct signet_err *err)
{
	int crit = X509_NAME_entry_count(X509_get_subject_name(x)) == 0;
	return add_i2d(x, NID_subject_alt_name, (void *)names, crit, err);
}

static GENERAL_NAME *uri_name(const char *url)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *s = ASN1_IA5STRING_new();
	if (gn == NULL || s == NULL || !ASN1_STRING_set(s, url, (int)strlen(url))) {
		GENERAL_NAME_free(gn);
		ASN1_IA5STRING_free(s);
		return NULL;
	}
	GENERAL_NAME_set0_value(gn, GEN_URI, s);
	return gn;
}

X509_EXTENSION *ext_make_crldp(const char *url, struct signet_err *err)
{
	CRL_DIST_POINTS *dps = sk_DIST_POINT_new_null();
	DIST_POINT *dp = DIST_POINT_new();
	GENERAL_NAME *gn = uri_name(url);
	X509_EXTENSION *ext = NULL;

	if (dps == NULL || dp == NULL || gn == NULL)
		goto out;
	dp->distpoint = DIST_POINT_NAME_new();
	if (dp->distpoint == NULL)
		goto out;
	dp->distpoint->type = 0;
	dp->distpoint->name.fullname = sk_GENERAL_NAME_new_null();
	if (dp->distpoint->name.fullname == NULL ||
	    !sk_GENERAL_NAME_push(dp->distpoint->name.fullname, gn))
		goto out;
	gn = NULL;
	if (!sk_DIST_POINT_push(dps, dp))
		goto out;
	dp = NULL;
	ext = X509V3_EXT_i2d(NID_crl_distribution_points, 0, dps);
out:
	if (ext == NULL)
		signet_err_ossl(err, SIGNET_E_INTERNAL, "cannot encode CRL distribution point");
	GENERAL_NAME_free(gn);
	DIST_POINT_free(dp);
	sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
	return ext;
}

X509_EXTENSION *ext_make_aia(const char *ocsp_url, const char *ca_issuers_url,
			     struct signet_err *err)
{
	AUTHORITY_INFO_ACCESS *aia = sk_ACCESS_DESCRIPTION_new_null();
	X509_EXTENSION *ext = NULL;
	const char *urls[2] = { ocsp_url, ca_issuers_url };
	const int methods[2] = { NID_ad_OCSP, NID_ad_ca_issuers };

	if (aia == NULL)
		goto out;
	for (int i = 0; i < 2; i++) {
		ACCESS_DESCRIPTION *ad;
		if (urls[i] == NULL)
			continue;
		ad = ACCESS_DESCRIPTION_new();
		if (ad == NULL)
			goto out;
		GENERAL_NAME_free(ad->location);
		ad->location = uri_name(urls[i]);
		ad->method = OBJ_nid2obj(methods[i]);
		if (ad->location == NULL || !sk_ACCESS_DESCRIPTION_push(aia, ad)) {
			ACCESS_DESCRIPTION_free(ad);
			goto out;
		}
	}
	ext = X509V3_EXT_i2d(NID_info_access, 0, aia);
out:
	if (ext == NULL)
		signet_err_ossl(err, SIGNET_E_INTERNAL, "cannot encode authority information access");
	sk_ACCESS_DESCRIPTION_pop_free(aia, ACCESS_DESCRIPTION_free);
	return ext;
}

/* An iPAddress subtree (address octets then mask octets) from
 * "10.0.0.0/8" or "fd00::/8", or OpenSSL's "10.0.0.0/255.0.0.0".  Host
 * bits set beyond the prefix are refused as the typo they usually are. */
static ASN1_OCTET_STRING *ip_subtree(const char *v)
{
	const char *slash = strchr(v, '/');
	ASN1_OCTET_STRING *a = NULL, *out = NULL;
	unsigned char buf[32];
	char addr[64], *end;
	long bits;
	int n;

	if (slash == NULL || slash[1] == '\0')
		return NULL;
	if (strspn(slash + 1, "0123456789") != strlen(slash + 1))
		return a2i_IPADDRESS_NC(v);
	if ((size_t)(slash - v) >= sizeof(addr) || strlen(slash + 1) > 3)
		return NULL;
	memcpy(addr, v, (size_t)(slash - v));
	addr[slash - v] = '\0';
	a = a2i_IPADDRESS(addr);
	if (a == NULL)
		return NULL;
	n = ASN1_STRING_length(a);
	bits = strtol(slash + 1, &end, 10);
	if ((n != 4 && n != 16) || bits > n * 8)
		goto out;
	for (int i = 0; i < n; i++) {
		long b = bits - 8L * i;
		unsigned char m = b >= 8 ? 0xff : b <= 0 ? 0 : (unsigned char)(0xff << (8 - b));
		buf[i] = ASN1_STRING_get0_data(a)[i];
		buf[n + i] = m;
		if (buf[i] & (unsigned char)~m)
			goto out;
	}
	out = ASN1_OCTET_STRING_new();
	if (out != NULL && !ASN1_OCTET_STRING_set(out, buf, 2 * n)) {
		ASN1_OCTET_STRING_free(out);
		out = NULL;
	}
out:
	ASN1_OCTET_STRING_free(a);
	return out;
}

const char *ext_nc_dns(const char *spec)
{
	/* RFC 5280 4.2.1.10: a DNS constraint is a host name, "example.com",
	 * and covers it and every name under it; a leading dot, which OpenSSL
	 * reads as "only names under it", is malformed there, and strict
	 * verifiers (signet verify, rustls/webpki) refuse the whole chain. */
	if (strncmp(spec, "dns:.", 5) == 0)
		return spec + 5;
	return strncmp(spec, "dns:", 4) == 0 ? spec + 4 : NULL;
}

/* An email or URI subtree (RFC 5280 4.2.1.10): a host, or ".domain" for
 * every host under it; an email one may also be one mailbox, local@host. */
static int nc_host_valid(int email, const char *v)
{
	const char *at = strchr(v, '@');

	if (email && at != NULL) {
		if (at == v || strchr(at + 1, '@') != NULL)
			return 0;
		for (const char *p = v; p < at; p++)
			if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
				return 0;
		return signet_dns_name_valid(at + 1, 0);
	}
	return signet_dns_name_valid(v[0] == '.' ? v + 1 : v, 0);
}

/* "dns:example.com", "ip:10.0.0.0/8", "email:example.com" -> subtree;
 * "dns:.example.com" is taken as "dns:example.com" (ext_nc_dns). */
static GENERAL_SUBTREE *subtree(const char *spec, struct signet_err *err)
{
	GENERAL_SUBTREE *st = GENERAL_SUBTREE_new();
	const char *v = strchr(spec, ':');
	ASN1_IA5STRING *s = NULL;

	if (st == NULL || v == NULL)
		goto bad;
	v++;
	if (strncmp(spec, "ip:", 3) == 0) {
		ASN1_OCTET_STRING *ip = ip_subtree(v);
		if (ip == NULL)
			goto bad;
		GENERAL_NAME_set0_value(st->base, GEN_IPADD, ip);
		return st;
	}
	if (strncmp(spec, "dns:", 4) != 0 && strncmp(spec, "email:", 6) != 0 &&
	    strncmp(spec, "uri:", 4) != 0)
		goto bad;
	if (strncmp(spec, "dns:", 4) == 0) {
		v = ext_nc_dns(spec);
		if (!signet_dns_name_valid(v, 0))
			goto bad;
	} else if (!nc_host_valid(spec[0] == 'e', v)) {
		goto bad;
	}
	s = ASN1_IA5STRING_new();
	if (s == NULL || !ASN1_STRING_set(s, v, (int)strlen(v)))
		goto bad;
	GENERAL_NAME_set0_value(st->base,
				spec[0] == 'd' ? GEN_DNS : spec[0] == 'e' ? GEN_EMAIL : GEN_URI, s);
	return st;
bad:
	ASN1_IA5STRING_free(s);
	GENERAL_SUBTREE_free(st);
	ERR_clear_error();
	signet_err_set(err, SIGNET_E_PARSE,
		       "name constraint '%s' is invalid (use dns:example.com, "
		       "ip:10.0.0.0/8, email:example.com or uri:.example.com)",
		       spec);
	return NULL;
}

int ext_add_nc(X509 *x, const char *const *permit, size_t np,
	       const char *const *exclude, size_t ne, struct signet_err *err)
{
	NAME_CONSTRAINTS *nc = NAME_CONSTRAINTS_new();
	int rc = -1;

	ENSURE(nc != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	for (int pass = 0; pass < 2; pass++) {
		const char *const *list = pass ? exclude : permit;
		size_t n = pass ? ne : np;
		STACK_OF(GENERAL_SUBTREE) **dst = pass ? &nc->excludedSubtrees
						       : &nc->permittedSubtrees;
		if (n == 0)
			continue;
		*dst = sk_GENERAL_SUBTREE_new_null();
		ENSURE(*dst != NULL, err, SIGNET_E_INTERNAL, "out of memory");
		for (size_t i = 0; i < n; i++) {
			GENERAL_SUBTREE *st = subtree(list[i], err);
			TRYP(st);
			if (!sk_GENERAL_SUBTREE_push(*dst, st)) {
				GENERAL_SUBTREE_free(st);
				signet_err_set(err, SIGNET_E_INTERNAL, "out of memory");
				goto out;
			}
		}
	}
	rc = add_i2d(x, NID_name_constraints, nc, 1, err);
out:
	NAME_CONSTRAINTS_free(nc);
	return rc;
}
