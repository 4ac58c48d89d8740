/*
 * cert.c - PEM/DER loading of certificates, CSRs and CRLs.
 *
 * Input may be hostile: everything goes through OpenSSL's bounded parsers
 * on memory BIOs, and a PEM file must contain only blocks of the expected
 * label, so that a key pasted where a certificate belongs is named as such.
 */
#include <signet/cert.h>

#include "cert_int.h"
#include "csr_int.h"
#include <signet/csr.h>
#include <signet/file.h>

#include <ctype.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

static int looks_pem(const unsigned char *data, size_t len)
{
	return len >= 11 && memmem(data, len < 65536 ? len : 65536, "-----BEGIN ", 11) != NULL;
}

/* Label of the first PEM block, for messages ("PRIVATE KEY"...). */
static void first_label(const unsigned char *data, size_t len, char *buf, size_t size)
{
	const unsigned char *p = memmem(data, len, "-----BEGIN ", 11);
	size_t i = 0;
	buf[0] = '\0';
	if (p == NULL)
		return;
	p += 11;
	while (p < data + len && *p != '-' && *p != '\n' && i + 1 < size)
		buf[i++] = (char)*p++;
	buf[i] = '\0';
}

/*
 * One DER certificate: with light, read by signet_cert_d2i_light when it
 * can be (then *was_light = 1), else by d2i_X509.
 */
static X509 *d2i_cert(const unsigned char **pp, long len, int light, int *was_light)
{
	X509 *x = light ? signet_cert_d2i_light(pp, len) : NULL;
	*was_light = x != NULL;
	return x != NULL ? x : d2i_X509(NULL, pp, len);
}

/* With light, *first_light tells whether the first certificate was read so. */
static STACK_OF(X509) *certs_parse(const unsigned char *data, size_t len, const char *name,
				   int light, int *first_light, struct signet_err *err)
{
	STACK_OF(X509) *certs = sk_X509_new_null();
	BIO *bio = NULL;
	X509 *x = NULL;

	ENSURE(certs != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	ENSURE(len > 0, err, SIGNET_E_PARSE, "%s: empty file, expected a certificate", name);
	ENSURE(len < INT32_MAX, err, SIGNET_E_PARSE, "%s: too large", name);
	if (!looks_pem(data, len)) {
		const unsigned char *p = data;
		x = d2i_cert(&p, (long)len, light, first_light);
		ENSURE_OSSL(x != NULL, err, SIGNET_E_PARSE,
			    "%s: not a certificate (neither PEM nor DER)", name);
		ENSURE(p == data + len, err, SIGNET_E_PARSE,
		       "%s: trailing data after the DER certificate", name);
		ENSURE(sk_X509_push(certs, x) > 0, err, SIGNET_E_INTERNAL, "out of memory");
		x = NULL;
		return certs;
	}
	bio = BIO_new_mem_buf(data, (int)len);
	ENSURE(bio != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	for (;;) {
		char *pname = NULL, *header = NULL;
		unsigned char *der = NULL;
		long dlen = 0;
		const unsigned char *p;
		int was_light = 0;

		if (!PEM_read_bio(bio, &pname, &header, &der, &dlen)) {
			unsigned long e = ERR_peek_last_error();
			if (ERR_GET_REASON(e) == PEM_R_NO_START_LINE &&
			    sk_X509_num(certs) > 0) {
				ERR_clear_error();
				break;
			}
			if (sk_X509_num(certs) == 0 && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
				signet_err_set(err, SIGNET_E_PARSE,
					       "%s: no PEM certificate found", name);
			} else if (sk_X509_num(certs) == 0) {
				signet_err_ossl(err, SIGNET_E_PARSE, "%s: malformed PEM", name);
			} else {
				signet_err_ossl(err, SIGNET_E_PARSE,
						"%s: malformed PEM after its certificate %d", name,
						sk_X509_num(certs));
			}
			goto out;
		}
		if (strcmp(pname, "CERTIFICATE") != 0 &&
		    strcmp(pname, "X509 CERTIFICATE") != 0 &&
		    strcmp(pname, "TRUSTED CERTIFICATE") != 0) {
			signet_err_set(err, SIGNET_E_PARSE,
				       "%s: found a PEM '%s' block where a CERTIFICATE was expected",
				       name, pname);
			OPENSSL_free(pname);
			OPENSSL_free(header);
			OPENSSL_free(der);
			goto out;
		}
		p = der;
		if (strcmp(pname, "TRUSTED CERTIFICATE") == 0)
			x = d2i_X509_AUX(NULL, &p, dlen);
		else
			x = d2i_cert(&p, dlen, light, &was_light);
		OPENSSL_free(pname);
		OPENSSL_free(header);
		OPENSSL_free(der);
		ENSURE_OSSL(x != NULL, err, SIGNET_E_PARSE,
			    "%s: certificate %d is not valid DER", name,
			    sk_X509_num(certs) + 1);
		if (sk_X509_num(certs) == 0)
			*first_light = was_light;
		ENSURE(sk_X509_push(certs, x) > 0, err, SIGNET_E_INTERNAL, "out of memory");
		x = NULL;
	}
	BIO_free(bio);
	return certs;
out:
	X509_free(x);
	BIO_free(bio);
	sk_X509_pop_free(certs, X509_free);
	ERR_clear_error();
	return NULL;
}

STACK_OF(X509) *signet_certs_parse(const unsigned char *data, size_t len,
				   const char *name, struct signet_err *err)
{
	int unused = 0;
	return certs_parse(data, len, name, 0, &unused, err);
}

STACK_OF(X509) *signet_certs_load(const char *path, struct signet_err *err)
{
	unsigned char *data = NULL;
	size_t len = 0;
	STACK_OF(X509) *certs;

	if (signet_file_read(path, &data, &len, err) < 0)
		return NULL;
	certs = signet_certs_parse(data, len, path, err);
	free(data);
	return certs;
}

X509 *signet_cert_load(const char *path, struct signet_err *err)
{
	STACK_OF(X509) *certs = signet_certs_load(path, err);
	X509 *x;
	if (certs == NULL)
		return NULL;
	x = sk_X509_shift(certs);
	sk_X509_pop_free(certs, X509_free);
	return x;
}

X509 *signet_cert_load_light(const char *path, int *light, struct signet_err *err)
{
	unsigned char *data = NULL;
	size_t len = 0;
	STACK_OF(X509) *certs;
	X509 *x;

	*light = 0;
	if (signet_file_read(path, &data, &len, err) < 0)
		return NULL;
	certs = certs_parse(data, len, path, 1, light, err);
	free(data);
	if (certs == NULL) {
		*light = 0;
		return NULL;
	}
	x = sk_X509_shift(certs);
	sk_X509_pop_free(certs, X509_free);
	return x;
}

/* Generic "one PEM block with one of these labels, or DER" parser. */
static void *parse_one(const unsigned char *data, size_t len, const char *name,
		       const char *const *labels, const char *what,
		       void *(*d2i)(void **, const unsigned char **, long),
		       struct signet_err *err)
{
	void *obj = NULL;
	const unsigned char *p;

	if (len == 0 || len >= INT32_MAX) {
		signet_err_set(err, SIGNET_E_PARSE, "%s: %s, expected a %s", name,
			       len == 0 ? "empty file" : "too large", what);
		return NULL;
	}
	if (looks_pem(data, len)) {
		BIO *bio = BIO_new_mem_buf(data, (int)len);
		char *pname = NULL, *header = NULL;
		unsigned char *der = NULL;
		long dlen = 0;
		int ok = 0;

		if (bio == NULL) {
			signet_err_set(err, SIGNET_E_INTERNAL, "out of memory");
			return NULL;
		}
		if (!PEM_read_bio(bio, &pname, &header, &der, &dlen)) {
			BIO_free(bio);
			signet_err_ossl(err, SIGNET_E_PARSE, "%s: malformed PEM", name);
			return NULL;
		}
		BIO_free(bio);
		for (int i = 0; labels[i] != NULL; i++)
			if (strcmp(pname, labels[i]) == 0)
				ok = 1;
		if (!ok) {
			signet_err_set(err, SIGNET_E_PARSE,
				       "%s: found a PEM '%s' block where a %s was expected",
				       name, pname, what);
		} else {
			p = der;
			obj = d2i(NULL, &p, dlen);
			if (obj == NULL)
				signet_err_ossl(err, SIGNET_E_PARSE, "%s: %s is not valid DER",
						name, what);
		}
		OPENSSL_free(pname);
		OPENSSL_free(header);
		OPENSSL_free(der);
		ERR_clear_error();
		return obj;
	}
	p = data;
	obj = d2i(NULL, &p, (long)len);
	if (obj == NULL) {
		char label[64];
		first_label(data, len, label, sizeof(label));
		if (label[0] != '\0')
			signet_err_set(err, SIGNET_E_PARSE,
				       "%s: malformed PEM '%s' block, expected a %s",
				       name, label, what);
		else
			signet_err_set(err, SIGNET_E_PARSE,
				       "%s: not a %s (neither PEM nor DER)", name, what);
	}
	ERR_clear_error();
	return obj;
}

X509_REQ *signet_csr_parse(const unsigned char *data, size_t len,
			   const char *name, struct signet_err *err)
{
	static const char *const labels[] = { "CERTIFICATE REQUEST",
					      "NEW CERTIFICATE REQUEST", NULL };
	return parse_one(data, len, name, labels, "certificate signing request",
			 (void *(*)(void **, const unsigned char **, long))d2i_X509_REQ,
			 err);
}

/* signet_csr_d2i_checked behind parse_one's d2i signature: the key, the
 * checker and whether it checked go through this thread's slots. */
static _Thread_local EVP_PKEY *csr_fast_key;
static _Thread_local struct signet_csr_checker *csr_fast_ck;
static _Thread_local int csr_fast_checked;

static void *d2i_csr_fast(void **unused, const unsigned char **pp, long len)
{
	(void)unused;
	return signet_csr_d2i_checked(pp, len, &csr_fast_key, csr_fast_ck, &csr_fast_checked);
}

X509_REQ *signet_csr_parse_key(const unsigned char *data, size_t len, const char *name,
			       EVP_PKEY **key, struct signet_err *err)
{
	static const char *const labels[] = { "CERTIFICATE REQUEST",
					      "NEW CERTIFICATE REQUEST", NULL };
	X509_REQ *req;

	csr_fast_key = *key; /* a spare to reuse, or NULL */
	*key = NULL;
	req = parse_one(data, len, name, labels, "certificate signing request", d2i_csr_fast,
			err);
	*key = req != NULL ? csr_fast_key : NULL;
	if (req == NULL)
		EVP_PKEY_free(csr_fast_key);
	csr_fast_key = NULL;
	return req;
}

X509_REQ *signet_csr_parse_checked(struct signet_csr_checker *ck, const unsigned char *data,
				   size_t len, const char *name, struct signet_err *err)
{
	static const char *const labels[] = { "CERTIFICATE REQUEST",
					      "NEW CERTIFICATE REQUEST", NULL };
	X509_REQ *req;
	EVP_PKEY *key;

	csr_fast_key = NULL;
	csr_fast_ck = ck;
	csr_fast_checked = 0;
	req = parse_one(data, len, name, labels, "certificate signing request", d2i_csr_fast,
			err);
	key = csr_fast_key;
	csr_fast_key = NULL;
	csr_fast_ck = NULL;
	if (req != NULL && !csr_fast_checked && signet_csr_verify_key(req, key, err) < 0) {
		signet_err_prefix(err, "%s", name);
		X509_REQ_free(req);
		req = NULL;
	}
	EVP_PKEY_free(key);
	return req;
}

X509_CRL *signet_crl_parse(const unsigned char *data, size_t len,
			   const char *name, struct signet_err *err)
{
	static const char *const labels[] = { "X509 CRL", NULL };
	return parse_one(data, len, name, labels, "CRL",
			 (void *(*)(void **, const unsigned char **, long))d2i_X509_CRL,
			 err);
}

STACK_OF(X509_CRL) *signet_crls_load(const char *path, time_t *next_update,
				     struct signet_err *err)
{
	static const char begin[] = "-----BEGIN X509 CRL-----";
	STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
	unsigned char *data = NULL, *p;
	size_t len = 0;
	X509_CRL *crl = NULL;
	int ok = 0;

	ENSURE(crls != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	TRY(signet_file_read(path, &data, &len, err));
	if (next_update != NULL)
		*next_update = 0;
	p = memmem(data, len, begin, sizeof(begin) - 1);
	if (p == NULL) { /* one DER CRL (or what signet_crl_parse says it is not) */
		TRYP(crl = signet_crl_parse(data, len, path, err));
		ENSURE(sk_X509_CRL_push(crls, crl) > 0, err, SIGNET_E_INTERNAL, "out of memory");
		crl = NULL;
	}
	while (p != NULL) {
		unsigned char *end = data + len;
		unsigned char *next = memmem(p + 1, (size_t)(end - p - 1), begin, sizeof(begin) - 1);
		TRYP(crl = signet_crl_parse(p, (size_t)((next ? next : end) - p), path, err));
		ENSURE(sk_X509_CRL_push(crls, crl) > 0, err, SIGNET_E_INTERNAL, "out of memory");
		crl = NULL;
		p = next;
	}
	for (int i = 0; next_update != NULL && i < sk_X509_CRL_num(crls); i++) {
		const ASN1_TIME *nu = X509_CRL_get0_nextUpdate(sk_X509_CRL_value(crls, i));
		time_t t;
		if (nu != NULL && signet_asn1_time_to_time(nu, &t) == 0 &&
		    (*next_update == 0 || t < *next_update))
			*next_update = t;
	}
	ok = 1;
out:
	X509_CRL_free(crl);
	free(data);
	if (!ok) {
		sk_X509_CRL_pop_free(crls, X509_CRL_free);
		crls = NULL;
	}
	return crls;
}

/*
 * PEM as PEM_write_bio writes it (64-column base64 from OpenSSL's
 * EVP_EncodeBlock), straight into one buffer: no memory BIO, whose creation
 * takes a process-wide lock that the signing threads of a batch contend on.
 */
int signet_pem_encode(const char *label, const unsigned char *der, size_t der_len,
		      char **pem, size_t *pem_len, struct signet_err *err)
{
	size_t lab = strlen(label), lines = (der_len + 47) / 48;
	size_t cap = 2 * (lab + 17) + lines * 65 + 1;
	char *p;

	*pem = NULL;
	if (der_len > INT32_MAX || lab > 256)
		return signet_err_set(err, SIGNET_E_INTERNAL, "cannot encode the %s as PEM",
				      label);
	p = malloc(cap);
	if (p == NULL)
		return signet_err_set(err, SIGNET_E_INTERNAL, "out of memory");
	*pem = p;
	p += sprintf(p, "-----BEGIN %s-----\n", label);
	for (size_t off = 0; off < der_len; off += 48) {
		size_t n = der_len - off < 48 ? der_len - off : 48;
		p += EVP_EncodeBlock((unsigned char *)p, der + off, (int)n);
		*p++ = '\n';
	}
	p += sprintf(p, "-----END %s-----\n", label);
	*pem_len = (size_t)(p - *pem);
	return 0;
}

int signet_cert_pem_append(X509 *cert, char **buf, size_t *len,
			   struct signet_err *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p = NULL, *nb;
	long n;
	int rc = -1;

	ENSURE(bio != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	ENSURE_OSSL(PEM_write_bio_X509(bio, cert) == 1, err, SIGNET_E_INTERNAL,
		    "cannot encode certificate");
	n = BIO_get_mem_data(bio, &p);
	nb = realloc(*buf, *len + (size_t)n + 1);
	ENSURE(nb != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	memcpy(nb + *len, p, (size_t)n);
	*len += (size_t)n;
	nb[*len] = '\0';
	*buf = nb;
	rc = 0;
out:
	BIO_free(bio);
	return rc;
}

void signet_serial_hex(const ASN1_INTEGER *serial, char *buf, size_t size)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	size_t j = 0;

	if (hex == NULL) {
		snprintf(buf, size, "?");
	} else {
		const char *h = hex;
		if (*h == '-' && j + 1 < size)
			buf[j++] = *h++;
		while (*h == '0' && h[1] != '\0')
			h++;
		for (; *h && j + 1 < size; h++)
			buf[j++] = (char)tolower((unsigned char)*h);
		buf[j] = '\0';
	}
	OPENSSL_free(hex);
	BN_free(bn);
	ERR_clear_error();
}

int signet_serial_normalize(const char *in, char *out, size_t size)
{
	size_t j = 0;
	if (in[0] == '0' && (in[1] == 'x' || in[1] == 'X'))
		in += 2;
	for (const char *p = in; *p; p++)
		if (!isxdigit((unsigned char)*p) && *p != ':')
			return -1;
	while (*in == '0' || *in == ':')
		in++;
	for (; *in; in++) {
		if (*in == ':')
			continue;
		if (j + 1 >= size)
			return -1;
		out[j++] = (char)tolower((unsigned char)*in);
	}
	if (j == 0) {
		if (size < 2)
			return -1;
		out[j++] = '0';
	}
	out[j] = '\0';
	return 0;
}

int signet_cert_fingerprint(X509 *cert, char buf[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (!X509_digest(cert, EVP_sha256(), md, &n) || n != 32) {
		ERR_clear_error();
		buf[0] = '\0';
		return -1;
	}
	for (unsigned i = 0; i < n; i++)
		snprintf(buf + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int signet_asn1_time_to_time(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;
	if (t == NULL || !ASN1_TIME_to_tm(t, &tm)) {
		ERR_clear_error();
		return -1;
	}
	*out = timegm(&tm);
	return 0;
}

int signet_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int signet_serial_to_bytes(const char *hex, unsigned char *out, size_t size)
{
	size_t n = strlen(hex), j = 0, i = 0;
	if (n == 0 || (n + 1) / 2 > size)
		return -1;
	if (n % 2) {
		int v = signet_hex_digit(hex[0]);
		if (v < 0)
			return -1;
		out[j++] = (unsigned char)v;
		i = 1;
	}
	for (; i < n; i += 2) {
		int hi = signet_hex_digit(hex[i]), lo = signet_hex_digit(hex[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[j++] = (unsigned char)(hi << 4 | lo);
	}
	return (int)j;
}
