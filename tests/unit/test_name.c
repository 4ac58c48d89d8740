/*
 * test_name.c - subjects and SANs from their text forms: every valid form
 * yields the expected X.509 values, every invalid one is refused with
 * SIGNET_E_PARSE and a message naming the entry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <openssl/x509v3.h>
#include <signet/name.h>
#include <string.h>

static void subject_is(const char *in, const char *want)
{
	struct signet_err err = { 0 };
	char buf[512];
	X509_NAME *n = signet_name_parse(in, &err);
	if (n == NULL)
		fail_msg("'%s' refused: %s", in, err.msg);
	signet_name_format(n, buf, sizeof(buf));
	assert_string_equal(buf, want);
	X509_NAME_free(n);
}

static void subject_bad(const char *in, const char *needle)
{
	struct signet_err err = { 0 };
	X509_NAME *n = signet_name_parse(in, &err);
	if (n != NULL) {
		X509_NAME_free(n);
		fail_msg("'%s' accepted", in);
	}
	assert_int_equal(err.code, SIGNET_E_PARSE);
	if (needle != NULL && strstr(err.msg, needle) == NULL)
		fail_msg("message for '%s' lacks '%s': %s", in, needle, err.msg);
}

static void test_subject_valid(void **state)
{
	(void)state;
	subject_is("CN=api", "CN=api");
	subject_is("CN=api,O=Example Inc,C=DE", "CN=api,O=Example Inc,C=DE");
	subject_is("/CN=api/O=Example", "CN=api,O=Example");
	subject_is("CN=a, O=b", "CN=a,O=b");
	subject_is("cn=lower", "CN=lower");
	subject_is("CN=x,OU=ops,L=Berlin,ST=BE,DC=example,DC=com",
		   "CN=x,OU=ops,L=Berlin,ST=BE,DC=example,DC=com");
	subject_is("CN=Grüße", "CN=Grüße");
}

static void test_subject_escapes(void **state)
{
	(void)state;
	/* "\," keeps the comma inside the value; the formatter re-escapes it. */
	subject_is("CN=x,O=Acme\\, Inc", "CN=x,O=Acme\\, Inc");
	subject_is("/CN=x/O=Acme, Inc", "CN=x,O=Acme\\, Inc");
	subject_is("/CN=a\\/b", "CN=a/b");
}

static void test_subject_invalid(void **state)
{
	(void)state;
	subject_bad("", "empty");
	subject_bad("CN", "expected");
	subject_bad("CN=", "empty value");
	subject_bad("FOO=bar", "unknown attribute 'FOO'");
	subject_bad("CN=a,C=DEU", "two-letter");
	subject_bad("CN=a,C=1X", "two-letter");
	subject_bad("CN=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "64");
}

static GENERAL_NAMES *sans_ok(const char *in)
{
	struct signet_err err = { 0 };
	GENERAL_NAMES *g = NULL;
	if (signet_san_parse(in, &g, &err) < 0)
		fail_msg("'%s' refused: %s", in, err.msg);
	return g;
}

static void san_bad(const char *in, const char *needle)
{
	struct signet_err err = { 0 };
	GENERAL_NAMES *g = NULL;
	if (signet_san_parse(in, &g, &err) == 0) {
		GENERAL_NAMES_free(g);
		fail_msg("'%s' accepted", in);
	}
	assert_null(g); /* nothing half-built is handed back */
	assert_int_equal(err.code, SIGNET_E_PARSE);
	if (needle != NULL && strstr(err.msg, needle) == NULL)
		fail_msg("message for '%s' lacks '%s': %s", in, needle, err.msg);
}

static void test_san_types(void **state)
{
	GENERAL_NAMES *g = sans_ok("dns:a.example.com,ip:10.0.0.1,email:x@y.example,"
				   "uri:spiffe://example.com/sa/x,ip:2001:db8::1");
	const GENERAL_NAME *gn;
	unsigned char v6[16];
	(void)state;
	assert_int_equal(sk_GENERAL_NAME_num(g), 5);
	gn = sk_GENERAL_NAME_value(g, 0);
	assert_int_equal(gn->type, GEN_DNS);
	assert_memory_equal(ASN1_STRING_get0_data(gn->d.ia5), "a.example.com", 13);
	gn = sk_GENERAL_NAME_value(g, 1);
	assert_int_equal(gn->type, GEN_IPADD);
	assert_int_equal(ASN1_STRING_length(gn->d.ip), 4);
	assert_memory_equal(ASN1_STRING_get0_data(gn->d.ip), "\x0a\x00\x00\x01", 4);
	assert_int_equal(sk_GENERAL_NAME_value(g, 2)->type, GEN_EMAIL);
	assert_int_equal(sk_GENERAL_NAME_value(g, 3)->type, GEN_URI);
	gn = sk_GENERAL_NAME_value(g, 4);
	assert_int_equal(ASN1_STRING_length(gn->d.ip), 16);
	inet_pton(AF_INET6, "2001:db8::1", v6);
	assert_memory_equal(ASN1_STRING_get0_data(gn->d.ip), v6, 16);
	GENERAL_NAMES_free(g);
}

static void test_san_format_roundtrip(void **state)
{
	GENERAL_NAMES *g = sans_ok("DNS:Web.Example.COM, ip:127.0.0.1 ,email:a@b.example");
	char buf[256];
	(void)state;
	signet_san_format(g, buf, sizeof(buf));
	/* DNS names are lowercased, spaces around entries trimmed. */
	assert_string_equal(buf, "dns:web.example.com, ip:127.0.0.1, email:a@b.example");
	GENERAL_NAMES_free(g);
}

static void test_san_appends(void **state)
{
	GENERAL_NAMES *g = sans_ok("dns:a.example");
	struct signet_err err = { 0 };
	(void)state;
	assert_int_equal(signet_san_parse("dns:b.example", &g, &err), 0);
	assert_int_equal(sk_GENERAL_NAME_num(g), 2);
	/* a failure while appending leaves the caller's list as it was */
	assert_int_equal(signet_san_parse("dns:bad..x", &g, &err), -1);
	assert_non_null(g);
	assert_int_equal(sk_GENERAL_NAME_num(g), 2);
	GENERAL_NAMES_free(g);
}

static void test_san_wildcards(void **state)
{
	GENERAL_NAMES *g = sans_ok("dns:*.example.com");
	(void)state;
	GENERAL_NAMES_free(g);
	san_bad("dns:*.com", "dns:*.com");
	san_bad("dns:a.*.example.com", NULL);
	san_bad("dns:*example.com", NULL);
	san_bad("dns:**.example.com", NULL);
	assert_true(signet_dns_name_valid("*.example.com", 1));
	assert_false(signet_dns_name_valid("*.example.com", 0));
}

static void test_san_invalid(void **state)
{
	(void)state;
	san_bad("dns:bad..name", "dns:bad..name");
	san_bad("dns:-a.example", NULL);
	san_bad("dns:a-.example", NULL);
	san_bad("dns:.example", NULL);
	san_bad("dns:a b.example", NULL);
	san_bad("dns:", "empty");
	san_bad("ip:300.1.1.1", "ip:300.1.1.1");
	san_bad("ip:1.2.3", NULL);
	san_bad("ip:1::2::3", NULL);
	san_bad("ip:host.example", NULL);
	san_bad("email:nope", "email:nope");
	san_bad("email:@x.example", NULL);
	san_bad("email:a@b@c.example", NULL);
	san_bad("email:a b@x.example", NULL);
	san_bad("uri:nocolon", NULL);
	san_bad("uri:1http://x", NULL);
	san_bad("uri:http://a b", NULL);
	san_bad("foo:bar", "foo");
	san_bad("justtext", "no type");
	san_bad("dns:ok.example,ip:999.0.0.1", "999.0.0.1");
}

static void test_dns_name_limits(void **state)
{
	char label[70], name[300];
	(void)state;
	memset(label, 'a', 63);
	label[63] = '\0';
	snprintf(name, sizeof(name), "%s.example", label);
	assert_true(signet_dns_name_valid(name, 0));
	memset(label, 'a', 64);
	label[64] = '\0';
	snprintf(name, sizeof(name), "%s.example", label);
	assert_false(signet_dns_name_valid(name, 0)); /* label > 63 */
	memset(name, 0, sizeof(name));
	for (int i = 0; i < 127; i++)
		strcat(name, "a.");
	strcat(name, "ab"); /* 256 characters */
	assert_false(signet_dns_name_valid(name, 0));
	assert_true(signet_dns_name_valid("localhost", 0));
	assert_true(signet_dns_name_valid("xn--bcher-kva.example", 0));
	assert_false(signet_dns_name_valid("", 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_subject_valid),
		cmocka_unit_test(test_subject_escapes),
		cmocka_unit_test(test_subject_invalid),
		cmocka_unit_test(test_san_types),
		cmocka_unit_test(test_san_format_roundtrip),
		cmocka_unit_test(test_san_appends),
		cmocka_unit_test(test_san_wildcards),
		cmocka_unit_test(test_san_invalid),
		cmocka_unit_test(test_dns_name_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
