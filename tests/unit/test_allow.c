/*
 * test_allow.c - the tunnel server's --allow rules (src/tunnel/allow.c,
 * compiled in by CMakeLists.txt): serial= rules compare the whole serial,
 * whatever its length (docs/FINDINGS.md #5), ignoring case, 0x, colons and
 * leading zeros; and a CN rule, as a control.
 *
 * The serials of 64 octets and more used here are longer than RFC 5280
 * allows (20), and signet_verify refuses them before the rules are asked,
 * which is why this is a unit test: the matcher must be right on its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tunnel.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <signet/key.h>
#include <stdlib.h>
#include <string.h>

static EVP_PKEY *key;

/* A certificate with subject CN=cn and the serial given in hex. */
static X509 *make_cert(const char *cn, const char *serial_hex)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	BIGNUM *bn = NULL;

	assert_true(BN_hex2bn(&bn, serial_hex) > 0);
	assert_non_null(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)));
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_version(x, X509_VERSION_3);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, n);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	X509_NAME_free(n);
	BN_free(bn);
	return x;
}

/* Does the single rule `text` let cert in? */
static int allows(const char *text, X509 *cert)
{
	struct signet_err err = { 0 };
	struct allow_rule *rule = calloc(1, sizeof(*rule));
	int ok;

	assert_non_null(rule);
	assert_int_equal(tunnel_allow_parse(text, rule, &err), 0);
	ok = tunnel_allow_match(rule, 1, cert);
	tunnel_allow_free(rule, 1);
	assert_int_equal(ERR_peek_error(), 0);
	return ok;
}

static char *repeat(char c, size_t n, const char *tail)
{
	char *s = malloc(n + strlen(tail) + 1);
	assert_non_null(s);
	memset(s, c, n);
	strcpy(s + n, tail);
	return s;
}

static int setup(void **state)
{
	struct signet_err err = { 0 };
	(void)state;
	key = signet_key_generate(SIGNET_KEY_EC_P256, &err);
	return key ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(key);
	return 0;
}

static void test_serial_forms(void **state)
{
	X509 *c = make_cert("billing", "1A2B");
	(void)state;
	assert_true(allows("serial=1a2b", c));
	assert_true(allows("serial=0x1A2B", c));
	assert_true(allows("serial=00:00:1a:2B", c));
	assert_false(allows("serial=1a2c", c));
	assert_false(allows("serial=1a2", c));   /* a prefix is not the serial */
	assert_false(allows("serial=1a2b0", c)); /* nor is a longer number */
	assert_true(allows("cn=billing", c));
	X509_free(c);
}

/* The finding: a 64-octet serial was cut to 127 hex digits, so a rule
 * naming those 127 digits let in every certificate sharing them. */
static void test_long_serial_prefix_does_not_match(void **state)
{
	char *full = repeat('7', 128, "");       /* 64 octets */
	char *other = repeat('7', 127, "5");     /* same first 127 digits */
	char *prefix = repeat('7', 127, "");
	char rule[300];
	X509 *c = make_cert("long", full), *d = make_cert("long", other);
	(void)state;

	snprintf(rule, sizeof(rule), "serial=%s", prefix);
	assert_false(allows(rule, c));
	assert_false(allows(rule, d));
	/* The whole serial is a valid rule and matches that one certificate. */
	snprintf(rule, sizeof(rule), "serial=0x%s", full);
	assert_true(allows(rule, c));
	assert_false(allows(rule, d));
	X509_free(c);
	X509_free(d);
	free(full);
	free(other);
	free(prefix);
}

/* Serials far past any fixed buffer (200 octets) compare in full too. */
static void test_very_long_serial(void **state)
{
	char *full = repeat('a', 400, "1");
	char *near = repeat('a', 400, "2");
	char rule[500];
	X509 *c = make_cert("huge", full);
	(void)state;

	snprintf(rule, sizeof(rule), "serial=%s", full);
	assert_true(allows(rule, c));
	snprintf(rule, sizeof(rule), "serial=%s", near);
	assert_false(allows(rule, c));
	X509_free(c);
	free(full);
	free(near);
}

static void test_bad_rules(void **state)
{
	struct signet_err err = { 0 };
	struct allow_rule r;
	(void)state;
	assert_true(tunnel_allow_parse("serial=xyz", &r, &err) < 0);
	assert_non_null(strstr(err.msg, "not a hex serial number"));
	assert_true(tunnel_allow_parse("serial=", &r, &err) < 0);
	assert_true(tunnel_allow_parse("name=x", &r, &err) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serial_forms),
		cmocka_unit_test(test_long_serial_prefix_does_not_match),
		cmocka_unit_test(test_very_long_serial),
		cmocka_unit_test(test_bad_rules),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
