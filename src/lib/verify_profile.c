/*
 * verify_profile.c - the per-certificate rules signet layers on top of
 * OpenSSL's X509_verify_cert (which checks signatures' structure, basic
 * and name constraints, policies and CRLs, and with X509_V_FLAG_X509_STRICT
 * some of RFC 5280's MUSTs).  These are the rules a browser applies that
 * OpenSSL leaves to the caller:
 *
 * - algorithm policy: RSA keys of at least 2048 bits (a multiple of 8),
 *   EC keys on P-256/P-384/P-521 given by name, Ed25519/Ed448; DSA and
 *   everything else refused; signatures with SHA-256/384/512 (PKCS#1 v1.5,
 *   PSS or ECDSA) or EdDSA, never MD5 or SHA-1;
 * - structure: X.509 v3 only, serial numbers positive, non-zero and at most
 *   20 octets, every extension OpenSSL knows must decode, no extension that
 *   RFC 5280 requires to be non-critical marked critical (AKI, SKI, AIA)
 *   and none that it requires critical left non-critical (basic
 *   constraints of a CA, policy constraints, inhibitAnyPolicy);
 * - key identifiers: AKI holds only a keyIdentifier (CA/B), a self-signed
 *   certificate's AKI names its own SKI, CAs carry an SKI;
 * - roles: an end-entity certificate used for TLS is not a CA, does not
 *   claim keyCertSign, carries no name constraints; its EKU is
 *   non-critical, and when present names the purpose (anyExtendedKeyUsage
 *   alone is not enough) and no purpose the CA/B (or, for S/MIME, the S/MIME)
 *   Baseline Requirements forbid beside it; a CA's EKU, when present, must
 *   allow the purpose;
 *   a nameConstraints extension must constrain something, with well-formed
 *   subtrees.
 *
 * Each function gets one certificate and its position; path-level rules
 * live in verify.c.
 */
#include "verify_int.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <string.h>

/*
 * The certificate's label for messages, made on first use: most
 * certificates pass every check and never need it.
 */
struct vlabel {
	X509 *x;
	int made;
	char buf[256];
};

static const char *L(struct vlabel *l)
{
	if (!l->made) {
		vfy_cert_label(l->x, l->buf, sizeof(l->buf));
		l->made = 1;
	}
	return l->buf;
}

static int ext_critical(X509 *x, int nid, int *present)
{
	int idx = X509_get_ext_by_NID(x, nid, -1);
	*present = idx >= 0;
	return idx >= 0 && X509_EXTENSION_get_critical(X509_get_ext(x, idx));
}

int vfy_ec_params(X509 *x, int *curve)
{
	X509_ALGOR *alg = NULL;
	const void *pval = NULL;
	int ptype = V_ASN1_UNDEF;

	*curve = NID_undef;
	if (X509_PUBKEY_get0_param(NULL, NULL, NULL, &alg, X509_get_X509_PUBKEY(x)) &&
	    alg != NULL)
		X509_ALGOR_get0(NULL, &ptype, &pval, alg);
	if (ptype == V_ASN1_OBJECT) {
		*curve = OBJ_obj2nid(pval);
		return 1;
	}
	return ptype == V_ASN1_SEQUENCE ? 0 : -1;
}

static int check_key(X509 *x, struct vlabel *label, struct signet_err *err)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	int rc = -1;

	ENSURE(pk != NULL, err, SIGNET_E_INVALID,
	       "%s: its public key cannot be decoded", L(label));
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS: {
		int bits = EVP_PKEY_get_bits(pk);
		ENSURE(bits >= 2048, err, SIGNET_E_ALGORITHM,
		       "%s: RSA key of %d bits is below the 2048-bit minimum", L(label), bits);
		ENSURE(bits % 8 == 0, err, SIGNET_E_ALGORITHM,
		       "%s: RSA key of %d bits is not a whole number of bytes", L(label), bits);
		break;
	}
	case EVP_PKEY_EC: {
		int curve = NID_undef;
		if (vfy_ec_params(x, &curve) == 0) {
			signet_err_set(err, SIGNET_E_ALGORITHM,
				       "%s: EC key with explicit curve parameters "
				       "(only named curves are accepted)", L(label));
			goto out;
		}
		ENSURE(curve == NID_X9_62_prime256v1 || curve == NID_secp384r1 ||
			       curve == NID_secp521r1,
		       err, SIGNET_E_ALGORITHM,
		       "%s: EC key on curve '%s' (only P-256, P-384 and P-521 are accepted)",
		       L(label), curve != NID_undef ? OBJ_nid2sn(curve) : "unknown");
		break;
	}
	case EVP_PKEY_ED25519:
	case EVP_PKEY_ED448:
		break;
	default:
		signet_err_set(err, SIGNET_E_ALGORITHM,
			       "%s: %s keys are not accepted (RSA, ECDSA and EdDSA only)",
			       L(label), OBJ_nid2sn(EVP_PKEY_get_base_id(pk)));
		goto out;
	}
	rc = 0;
out:
	ERR_clear_error();
	return rc;
}

static int check_sigalg(X509 *x, struct vlabel *label, struct signet_err *err)
{
	int nid = X509_get_signature_nid(x), mdnid = NID_undef, pknid = NID_undef;

	switch (nid) {
	case NID_sha256WithRSAEncryption:
	case NID_sha384WithRSAEncryption:
	case NID_sha512WithRSAEncryption:
	case NID_ecdsa_with_SHA256:
	case NID_ecdsa_with_SHA384:
	case NID_ecdsa_with_SHA512:
	case NID_ED25519:
	case NID_ED448:
		return 0;
	case NID_rsassaPss:
		if (X509_get_signature_info(x, &mdnid, &pknid, NULL, NULL) == 1 &&
		    (mdnid == NID_sha256 || mdnid == NID_sha384 || mdnid == NID_sha512))
			return 0;
		ERR_clear_error();
		return signet_err_set(err, SIGNET_E_ALGORITHM,
				      "%s: RSA-PSS signature with a digest other than "
				      "SHA-256/384/512 is not accepted", L(label));
	default:
		return signet_err_set(err, SIGNET_E_ALGORITHM,
				      "%s: signed with %s, which is not accepted "
				      "(SHA-256 or better with RSA, ECDSA or EdDSA only)",
				      L(label), nid == NID_undef ? "an unknown algorithm" : OBJ_nid2ln(nid));
	}
}

static int check_serial(X509 *x, struct vlabel *label, struct signet_err *err)
{
	const ASN1_INTEGER *s = X509_get0_serialNumber(x);
	const unsigned char *d = ASN1_STRING_get0_data(s);
	int len = ASN1_STRING_length(s), zero = 1;

	if (ASN1_STRING_type(s) == V_ASN1_NEG_INTEGER)
		return signet_err_set(err, SIGNET_E_INVALID,
				      "%s: negative serial number (RFC 5280 4.1.2.2)", L(label));
	for (int i = 0; i < len; i++)
		if (d[i] != 0)
			zero = 0;
	if (zero)
		return signet_err_set(err, SIGNET_E_INVALID,
				      "%s: serial number zero (RFC 5280 4.1.2.2)", L(label));
	/* ASN1_INTEGER holds the magnitude; DER adds a 0x00 when the top bit is set. */
	if (len + ((d[0] & 0x80) ? 1 : 0) > 20)
		return signet_err_set(err, SIGNET_E_INVALID,
				      "%s: serial number longer than 20 octets (RFC 5280 4.1.2.2)",
				      L(label));
	return 0;
}

/*
 * OpenSSL decodes these when it caches a certificate's extensions
 * (X509_get_extension_flags) and sets EXFLAG_INVALID when one is malformed
 * or repeated, so decoding them again here would only cost time.
 */
static int decoded_by_openssl(int nid)
{
	switch (nid) {
	case NID_basic_constraints:
	case NID_key_usage:
	case NID_ext_key_usage:
	case NID_netscape_cert_type:
	case NID_subject_key_identifier:
	case NID_authority_key_identifier:
	case NID_subject_alt_name:
	case NID_name_constraints:
	case NID_crl_distribution_points:
	case NID_proxyCertInfo:
		return 1;
	default:
		return 0;
	}
}

static int check_extensions_decode(X509 *x, struct vlabel *label, struct signet_err *err)
{
	int invalid = (X509_get_extension_flags(x) & EXFLAG_INVALID) != 0;

	/* When OpenSSL found a bad one, decode them all to name it. */
	for (int i = 0; i < X509_get_ext_count(x); i++) {
		X509_EXTENSION *ext = X509_get_ext(x, i);
		const X509V3_EXT_METHOD *m;
		void *v;
		if (!invalid && decoded_by_openssl(OBJ_obj2nid(X509_EXTENSION_get_object(ext))))
			continue;
		m = X509V3_EXT_get(ext);
		if (m == NULL)
			continue; /* unknown: OpenSSL fails it if critical */
		v = X509V3_EXT_d2i(ext);
		if (v == NULL) {
			ERR_clear_error();
			return signet_err_set(err, SIGNET_E_INVALID,
					      "%s: malformed %s extension", L(label),
					      OBJ_nid2ln(OBJ_obj2nid(X509_EXTENSION_get_object(ext))));
		}
		if (m->it != NULL)
			ASN1_item_free(v, ASN1_ITEM_ptr(m->it));
		else if (m->ext_free != NULL)
			m->ext_free(v);
	}
	if (invalid)
		return signet_err_set(err, SIGNET_E_INVALID,
				      "%s: malformed or duplicate extensions", L(label));
	return 0;
}

/* Uses OpenSSL's cached decoding (check_extensions_decode ran first). */
static int check_keyids(X509 *x, int is_ca, int self_signed, struct vlabel *label,
			struct signet_err *err)
{
	int present, crit;
	const ASN1_OCTET_STRING *akid = NULL, *skid;

	crit = ext_critical(x, NID_authority_key_identifier, &present);
	if (crit)
		return signet_err_set(err, SIGNET_E_INVALID,
				      "%s: authorityKeyIdentifier is marked critical "
				      "(RFC 5280 4.2.1.1)", L(label));
	if (present) {
		akid = X509_get0_authority_key_id(x);
		if (akid == NULL)
			return signet_err_set(err, SIGNET_E_INVALID,
					      "%s: authorityKeyIdentifier without a "
					      "keyIdentifier", L(label));
		if (X509_get0_authority_issuer(x) != NULL ||
		    X509_get0_authority_serial(x) != NULL)
			return signet_err_set(err, SIGNET_E_INVALID,
					      "%s: authorityKeyIdentifier names an issuer and "
					      "serial (only keyIdentifier is allowed)", L(label));
	}
	crit = ext_critical(x, NID_subject_key_identifier, &present);
	if (crit)
		return signet_err_set(err, SIGNET_E_INVALID,
				      "%s: subjectKeyIdentifier is marked critical "
				      "(RFC 5280 4.2.1.2)", L(label));
	if (!present && is_ca)
		return signet_err_set(err, SIGNET_E_INVALID,
				      "%s: CA certificate without a subjectKeyIdentifier "
				      "(RFC 5280 4.2.1.2)", L(label));
	if (present && akid != NULL && self_signed) {
		skid = X509_get0_subject_key_id(x);
		if (skid == NULL || ASN1_OCTET_STRING_cmp(skid, akid) != 0)
			return signet_err_set(err, SIGNET_E_INVALID,
					      "%s: self-signed, but its authorityKeyIdentifier "
					      "differs from its subjectKeyIdentifier", L(label));
	}
	return 0;
}

/* A nameConstraints subtree base is well formed for its type. */
static int subtree_ok(const GENERAL_NAME *g)
{
	const unsigned char *d;
	int len;

	switch (g->type) {
	case GEN_DNS:
		d = ASN1_STRING_get0_data(g->d.dNSName);
		len = ASN1_STRING_length(g->d.dNSName);
		return len == 0 || signet_dns_valid((const char *)d, (size_t)len, 0);
	case GEN_IPADD: {
		int half, i, seen_zero = 0;
		len = ASN1_STRING_length(g->d.iPAddress);
		d = ASN1_STRING_get0_data(g->d.iPAddress);
		if (len != 8 && len != 32)
			return 0;
		half = len / 2;
		for (i = half; i < len; i++) /* the mask must be contiguous ones */
			for (int b = 7; b >= 0; b--) {
				int bit = (d[i] >> b) & 1;
				if (bit && seen_zero)
					return 0;
				if (!bit)
					seen_zero = 1;
			}
		return 1;
	}
	case GEN_EMAIL: {
		const char *s, *at;
		d = ASN1_STRING_get0_data(g->d.rfc822Name);
		len = ASN1_STRING_length(g->d.rfc822Name);
		s = (const char *)d;
		if (len == 0)
			return 0;
		at = memchr(s, '@', (size_t)len);
		if (at != NULL) /* a mailbox */
			return at != s &&
			       memchr(at + 1, '@', (size_t)(len - (at - s) - 1)) == NULL &&
			       signet_dns_valid(at + 1, (size_t)(len - (at - s) - 1), 0);
		if (s[0] == '.') /* every host of a domain */
			return signet_dns_valid(s + 1, (size_t)len - 1, 0);
		return signet_dns_valid(s, (size_t)len, 0);
	}
	default:
		return 1;
	}
}

static int check_name_constraints(X509 *x, int i, struct vlabel *label,
				  struct signet_err *err)
{
	int present, rc = -1;
	NAME_CONSTRAINTS *nc;

	(void)ext_critical(x, NID_name_constraints, &present);
	if (!present)
		return 0;
	nc = X509_get_ext_d2i(x, NID_name_constraints, NULL, NULL);
	ENSURE(i > 0, err, SIGNET_E_CONSTRAINT,
	       "%s: end-entity certificate carries nameConstraints "
	       "(only CAs may, RFC 5280 4.2.1.10)", L(label));
	ENSURE(nc != NULL, err, SIGNET_E_INVALID, "%s: malformed nameConstraints", L(label));
	ENSURE(sk_GENERAL_SUBTREE_num(nc->permittedSubtrees) > 0 ||
		       sk_GENERAL_SUBTREE_num(nc->excludedSubtrees) > 0,
	       err, SIGNET_E_INVALID,
	       "%s: nameConstraints with neither permitted nor excluded subtrees", L(label));
	for (int k = 0; k < 2; k++) {
		STACK_OF(GENERAL_SUBTREE) *st = k ? nc->excludedSubtrees : nc->permittedSubtrees;
		for (int j = 0; j < sk_GENERAL_SUBTREE_num(st); j++)
			ENSURE(subtree_ok(sk_GENERAL_SUBTREE_value(st, j)->base), err,
			       SIGNET_E_INVALID,
			       "%s: nameConstraints %s subtree %d is malformed", L(label),
			       k ? "excluded" : "permitted", j + 1);
	}
	rc = 0;
out:
	NAME_CONSTRAINTS_free(nc);
	return rc;
}

/* Does the EKU name this purpose explicitly (anyExtendedKeyUsage does not
 * count for an end entity, CA/B BR 7.1.2.7.10)?  OpenSSL's cached bits:
 * XKU_SSL_SERVER, XKU_SSL_CLIENT or XKU_ANYEKU. */
static int eku_has(X509 *x, uint32_t xku_bit)
{
	return (X509_get_extension_flags(x) & EXFLAG_XKUSAGE) &&
	       (X509_get_extended_key_usage(x) & xku_bit) != 0;
}

static int purpose_xku(enum signet_purpose p)
{
	return p == SIGNET_PURPOSE_SERVER ? XKU_SSL_SERVER :
	       p == SIGNET_PURPOSE_CLIENT ? XKU_SSL_CLIENT :
	       p == SIGNET_PURPOSE_EMAIL ? XKU_SMIME : 0;
}

static const char *xku_name(int xku)
{
	return xku == XKU_SSL_SERVER ? "serverAuth" : xku == XKU_SSL_CLIENT ? "clientAuth" :
	       "emailProtection";
}

/* The first purpose in bits, by name, for messages. */
static const char *xku_first(uint32_t bits)
{
	return bits & XKU_SSL_SERVER ? "serverAuth" : bits & XKU_CODE_SIGN ? "codeSigning" :
	       bits & XKU_TIMESTAMP ? "timeStamping" : bits & XKU_OCSP_SIGN ? "OCSPSigning" :
	       bits & XKU_SMIME ? "emailProtection" : bits & XKU_ANYEKU ?
	       "anyExtendedKeyUsage" : "another purpose";
}

/* The Precertificate Signing Certificate EKU (RFC 6962 3.1), looked for
 * in the extension's DER (a SEQUENCE of OIDs) without decoding it: this
 * runs for every TLS server leaf. */
static int eku_has_precert(X509 *x)
{
	static const unsigned char oid[] = { 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01,
					     0xd6, 0x79, 0x02, 0x04, 0x04 };
	int idx = X509_get_ext_by_NID(x, NID_ext_key_usage, -1), tag, cls;
	const ASN1_OCTET_STRING *v;
	const unsigned char *p, *end;
	long len;

	if (idx < 0)
		return 0;
	v = X509_EXTENSION_get_data(X509_get_ext(x, idx));
	p = ASN1_STRING_get0_data(v);
	end = p + ASN1_STRING_length(v);
	if (ASN1_get_object(&p, &len, &tag, &cls, end - p) != V_ASN1_CONSTRUCTED ||
	    tag != V_ASN1_SEQUENCE)
		return 0;
	end = p + len;
	while (p < end) {
		const unsigned char *item = p;
		if (ASN1_get_object(&p, &len, &tag, &cls, end - p) & 0x80)
			return 0;
		if ((size_t)(p - item) + (size_t)len == sizeof(oid) &&
		    memcmp(item, oid, sizeof(oid)) == 0)
			return 1;
		p += len;
	}
	return 0;
}

/*
 * S/MIME Baseline Requirements 7.1.2 for --purpose email, beyond the EKU
 * rule shared with TLS: the subscriber certificate is no CA (7.1.2.3 d),
 * has a keyUsage without keyCertSign (e), an extendedKeyUsage
 * (f) and a subjectAltName with at least one rfc822Name (h, 7.1.4.2.1);
 * a subordinate CA may sign CRLs (7.1.2.2 e).
 */
static int smime_rules(X509 *x, int i, int is_anchor, struct vlabel *label,
		       struct signet_err *err)
{
	uint32_t flags = X509_get_extension_flags(x);
	int present;

	if (i > 0) {
		if (!is_anchor && (flags & EXFLAG_KUSAGE) &&
		    !(X509_get_key_usage(x) & KU_CRL_SIGN))
			return signet_err_set(err, SIGNET_E_PURPOSE,
					      "%s: S/MIME subordinate CA without cRLSign in "
					      "keyUsage (S/MIME BR 7.1.2.2)", L(label));
		return 0;
	}
	if (flags & EXFLAG_CA)
		return signet_err_set(err, SIGNET_E_PURPOSE,
				      "%s: S/MIME certificate is a CA (basicConstraints "
				      "CA:TRUE; S/MIME BR 7.1.2.3)", L(label));
	/* keyUsage SHALL be present; that it SHOULD be critical is not
	 * enforced. */
	(void)ext_critical(x, NID_key_usage, &present);
	if (!present)
		return signet_err_set(err, SIGNET_E_PURPOSE,
				      "%s: S/MIME certificate without keyUsage "
				      "(S/MIME BR 7.1.2.3)", L(label));
	if (!(flags & EXFLAG_XKUSAGE))
		return signet_err_set(err, SIGNET_E_PURPOSE,
				      "%s: S/MIME certificate without extendedKeyUsage "
				      "(S/MIME BR 7.1.2.3 requires emailProtection)", L(label));
	{
		GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
		int rfc822 = 0;
		for (int k = 0; k < sk_GENERAL_NAME_num(sans) && !rfc822; k++)
			rfc822 = sk_GENERAL_NAME_value(sans, k)->type == GEN_EMAIL;
		GENERAL_NAMES_free(sans);
		ERR_clear_error();
		if (!rfc822)
			return signet_err_set(err, SIGNET_E_PURPOSE,
					      "%s: S/MIME certificate without an email address "
					      "(rfc822Name) in subjectAltName (S/MIME BR 7.1.4.2.1)",
					      L(label));
	}
	return 0;
}

int vfy_profile_cert(X509 *x, int i, int n, const struct signet_verify_opts *o,
		     struct signet_err *err)
{
	struct vlabel lb = { x, 0, "" }, *label = &lb;
	uint32_t flags = X509_get_extension_flags(x);
	int is_anchor = i == n - 1;
	int self_issued = X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0;
	int present, crit, want_xku = purpose_xku(o->purpose);
	int tls = o->purpose != SIGNET_PURPOSE_ANY; /* a typed purpose: TLS or S/MIME */
	int smime = o->purpose == SIGNET_PURPOSE_EMAIL;

	if (X509_get_version(x) != X509_VERSION_3)
		return signet_err_set(err, SIGNET_E_INVALID,
				      "%s: version %ld certificate (only v3 is accepted)",
				      L(label), X509_get_version(x) + 1);
	/* Anchors are trusted as given; old roots have serial 0 (Starfield G2). */
	if ((!is_anchor && check_serial(x, label, err) < 0) ||
	    check_extensions_decode(x, label, err) < 0 ||
	    check_key(x, label, err) < 0)
		return -1;
	if (!is_anchor && check_sigalg(x, label, err) < 0)
		return -1;

	crit = ext_critical(x, NID_basic_constraints, &present);
	if (i > 0) {
		if (!present || !(flags & EXFLAG_CA))
			return signet_err_set(err, SIGNET_E_CONSTRAINT,
					      "%s: used as a CA but basicConstraints does "
					      "not say CA:TRUE", L(label));
		if (!crit)
			return signet_err_set(err, SIGNET_E_INVALID,
					      "%s: CA basicConstraints not marked critical "
					      "(RFC 5280 4.2.1.9)", L(label));
	} else if (tls && (flags & EXFLAG_CA) && (flags & EXFLAG_KUSAGE) &&
		   !(X509_get_key_usage(x) & KU_KEY_CERT_SIGN)) {
		/* RFC 5280 lets a CA be a leaf; a CA that may not sign
		 * certificates is an inconsistent end entity (CA/B 7.1.2.7.8). */
		return signet_err_set(err, SIGNET_E_PURPOSE,
				      "%s: end-entity certificate claims basicConstraints "
				      "CA:TRUE without keyCertSign", L(label));
	}
	if (i == 0 && (flags & EXFLAG_KUSAGE) &&
	    (X509_get_key_usage(x) & KU_KEY_CERT_SIGN) && !(flags & EXFLAG_CA))
		return signet_err_set(err, SIGNET_E_INVALID,
				      "%s: keyUsage keyCertSign without basicConstraints "
				      "CA:TRUE (RFC 5280 4.2.1.3)", L(label));
	if (i == 0 && ext_critical(x, NID_subject_alt_name, &present) &&
	    X509_NAME_entry_count(X509_get_subject_name(x)) > 0)
		return signet_err_set(err, SIGNET_E_INVALID,
				      "%s: subjectAltName marked critical although the "
				      "subject is not empty (RFC 5280 4.2.1.6)", L(label));
	if (check_keyids(x, i > 0, is_anchor && self_issued, label, err) < 0)
		return -1;
	if (!self_issued && !is_anchor) { /* an anchor is a name and a key (RFC 5280 6.1.1) */
		if (X509_get_ext_by_NID(x, NID_authority_key_identifier, -1) < 0)
			return signet_err_set(err, SIGNET_E_INVALID,
					      "%s: no authorityKeyIdentifier (RFC 5280 4.2.1.1)",
					      L(label));
	}
	if (ext_critical(x, NID_info_access, &present))
		return signet_err_set(err, SIGNET_E_INVALID,
				      "%s: authorityInfoAccess is marked critical "
				      "(RFC 5280 4.2.2.1)", L(label));
	crit = ext_critical(x, NID_policy_constraints, &present);
	if (present && !crit)
		return signet_err_set(err, SIGNET_E_CONSTRAINT,
				      "%s: policyConstraints not marked critical "
				      "(RFC 5280 4.2.1.11)", L(label));
	crit = ext_critical(x, NID_inhibit_any_policy, &present);
	if (present && !crit)
		return signet_err_set(err, SIGNET_E_CONSTRAINT,
				      "%s: inhibitAnyPolicy not marked critical "
				      "(RFC 5280 4.2.1.14)", L(label));
	if (check_name_constraints(x, i, label, err) < 0)
		return -1;

	if (smime && smime_rules(x, i, is_anchor, label, err) < 0)
		return -1;

	/* EKU, for the typed purposes. */
	crit = ext_critical(x, NID_ext_key_usage, &present);
	if (present && want_xku) {
		uint32_t xku = X509_get_extended_key_usage(x);
		/* Purposes a TLS server (CA/B BR 7.1.2.7.10) or S/MIME (S/MIME
		 * BR 7.1.2.3 f, 7.1.2.2 g) certificate must not also serve. */
		uint32_t banned = want_xku == XKU_SSL_SERVER ?
					  XKU_CODE_SIGN | XKU_SMIME | XKU_TIMESTAMP | XKU_OCSP_SIGN :
				  smime ? XKU_SSL_SERVER | XKU_CODE_SIGN | XKU_TIMESTAMP | XKU_ANYEKU :
					  0;
		if (i == 0) {
			if (crit)
				return signet_err_set(err, SIGNET_E_PURPOSE,
						      "%s: extendedKeyUsage marked critical "
						      "(CA/B BR 7.1.2.7.10)", L(label));
			if (eku_has(x, XKU_ANYEKU))
				return signet_err_set(err, SIGNET_E_PURPOSE,
						      "%s: extendedKeyUsage includes "
						      "anyExtendedKeyUsage (%s)", L(label),
						      smime ? "S/MIME BR 7.1.2.3" : "CA/B BR 7.1.2.7.10");
			if (!eku_has(x, (uint32_t)want_xku))
				return signet_err_set(err, SIGNET_E_PURPOSE,
						      "%s: extendedKeyUsage does not include %s",
						      L(label), xku_name(want_xku));
			if (xku & banned)
				return signet_err_set(err, SIGNET_E_PURPOSE,
						      "%s: extendedKeyUsage also allows %s, which %s "
						      "certificate must not (%s)", L(label),
						      xku_first(xku & banned),
						      smime ? "an S/MIME" : "a TLS server",
						      smime ? "S/MIME BR 7.1.2.3" : "CA/B BR 7.1.2.7.10");
			if (want_xku == XKU_SSL_SERVER && eku_has_precert(x))
				return signet_err_set(err, SIGNET_E_PURPOSE,
						      "%s: extendedKeyUsage includes Precertificate "
						      "Signing, which a TLS server certificate must not "
						      "(CA/B BR 7.1.2.7.10)", L(label));
		} else if (is_anchor && self_issued) {
			return signet_err_set(err, SIGNET_E_PURPOSE,
					      "%s: root certificate carries extendedKeyUsage "
					      "(%s forbids it)", L(label),
					      smime ? "S/MIME BR 7.1.2.1" : "CA/B BR 7.1.2.1.2");
		} else if (!(xku & ((uint32_t)want_xku | (smime ? 0 : XKU_ANYEKU)))) {
			return signet_err_set(err, SIGNET_E_PURPOSE,
					      "%s: CA extendedKeyUsage does not allow %s", L(label),
					      xku_name(want_xku));
		} else if (smime && (xku & banned)) {
			return signet_err_set(err, SIGNET_E_PURPOSE,
					      "%s: S/MIME CA extendedKeyUsage also allows %s "
					      "(S/MIME BR 7.1.2.2)", L(label), xku_first(xku & banned));
		}
	}
	return 0;
}
