/*
 * creds.c - one complete, immutable set of tunnel credentials: the
 * SSL_CTX with our certificate, chain and key, the trust store of the CA
 * bundle for verifying peers, and the CRLs.
 *
 * tunnel_creds_load() either returns a fully checked set or fails with a
 * sentence naming the file; it never half-updates anything, which is what
 * lets a reload keep the old set when a new file is bad.  The TLS policy is
 * fixed here: TLS 1.2 minimum (1.3 preferred by every modern peer), AEAD
 * ciphers with ECDHE only, no compression, no renegotiation, no session
 * resumption (every connection's client certificate is verified afresh
 * against the current CA and CRL), and SSL_MODE_RELEASE_BUFFERS so an idle
 * connection holds no record buffers.  A TCP close without close_notify is
 * taken as an end of stream (SSL_OP_IGNORE_UNEXPECTED_EOF): the plain side
 * of a tunnel cannot tell a truncation from an end either, and treating it
 * as an error would throw away bytes already received.
 *
 * An encrypted --key is opened with the first line of --key-pass-file,
 * read afresh on every load (so a key and its passphrase can be replaced
 * together) and wiped right after; there is never a prompt.
 */
#include "tunnel.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <signet/cert.h>
#include <signet/file.h>
#include <signet/key.h>
#include <stdlib.h>
#include <string.h>

/* TLS 1.2 suites: ECDHE key exchange, AEAD only.  TLS 1.3's are all AEAD
 * with (EC)DHE already. */
static const char tls12_ciphers[] =
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

static SSL_CTX *make_ctx(const struct tunnel_config *cfg, STACK_OF(X509) *certs,
			 EVP_PKEY *key, struct signet_err *err)
{
	int server = cfg->mode == TUNNEL_SERVER;
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	int ok = 0;

	ENSURE_OSSL(ctx != NULL, err, SIGNET_E_INTERNAL, "cannot create a TLS context");
	ENSURE_OSSL(SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1, err,
		    SIGNET_E_INTERNAL, "cannot set the minimum TLS version");
	ENSURE_OSSL(SSL_CTX_set_cipher_list(ctx, tls12_ciphers) == 1, err,
		    SIGNET_E_INTERNAL, "cannot set the TLS 1.2 cipher list");
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
				 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET |
				 SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (server)
		SSL_CTX_set_num_tickets(ctx, 0);

	ENSURE_OSSL(SSL_CTX_use_certificate(ctx, sk_X509_value(certs, 0)) == 1, err,
		    SIGNET_E_POLICY, "%s: the certificate cannot be used for TLS",
		    cfg->cert_file);
	for (int i = 1; i < sk_X509_num(certs); i++)
		ENSURE_OSSL(SSL_CTX_add1_chain_cert(ctx, sk_X509_value(certs, i)) == 1,
			    err, SIGNET_E_INTERNAL, "%s: cannot add chain certificate %d",
			    cfg->cert_file, i);
	ENSURE_OSSL(X509_check_private_key(sk_X509_value(certs, 0), key) == 1, err,
		    SIGNET_E_POLICY,
		    "%s: the private key does not match the certificate in %s",
		    cfg->key_file, cfg->cert_file);
	ENSURE_OSSL(SSL_CTX_use_PrivateKey(ctx, key) == 1, err, SIGNET_E_POLICY,
		    "%s: the key cannot be used with %s", cfg->key_file, cfg->cert_file);
	ENSURE_OSSL(SSL_CTX_check_private_key(ctx) == 1, err, SIGNET_E_POLICY,
		    "%s: the private key does not match the certificate in %s",
		    cfg->key_file, cfg->cert_file);
	ok = 1;
out:
	if (!ok) {
		SSL_CTX_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

/* The private key, opened with the passphrase file's first line if any. */
static EVP_PKEY *load_key(const struct tunnel_config *cfg, struct signet_err *err)
{
	unsigned char *data = NULL;
	size_t len = 0, n;
	char *pass = NULL;
	EVP_PKEY *key = NULL;

	if (cfg->key_pass_file != NULL) {
		if (signet_file_read(cfg->key_pass_file, &data, &len, err) < 0) {
			signet_err_prefix(err, "--key-pass-file");
			return NULL;
		}
		for (n = 0; n < len && data[n] != '\n' && data[n] != '\r'; n++)
			;
		pass = malloc(n + 1);
		if (pass != NULL) {
			memcpy(pass, data, n);
			pass[n] = '\0';
		}
		OPENSSL_cleanse(data, len);
		free(data);
		if (pass == NULL) {
			signet_err_set(err, SIGNET_E_INTERNAL, "out of memory");
			return NULL;
		}
	}
	key = signet_key_load(cfg->key_file, pass, err);
	if (key == NULL && err->code == SIGNET_E_PASS) {
		if (pass == NULL)
			signet_err_set(err, SIGNET_E_PASS,
				       "%s: the private key is encrypted; give its passphrase "
				       "with --key-pass-file FILE",
				       cfg->key_file);
		else
			signet_err_set(err, SIGNET_E_PASS,
				       "%s: wrong passphrase in %s (or the key file is damaged)",
				       cfg->key_file, cfg->key_pass_file);
	}
	if (pass != NULL) {
		OPENSSL_cleanse(pass, strlen(pass));
		free(pass);
	}
	return key;
}

struct tunnel_creds *tunnel_creds_load(const struct tunnel_config *cfg, struct tunnel *t,
				       struct signet_err *err)
{
	struct tunnel_creds *c = calloc(1, sizeof(*c));
	STACK_OF(X509) *certs = NULL;
	STACK_OF(X509_NAME) *ca_names = NULL;
	EVP_PKEY *key = NULL;
	int ok = 0;

	ENSURE(c != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	atomic_init(&c->refs, 1);
	c->cfg = cfg;
	c->t = t;
	TRYP(certs = signet_certs_load(cfg->cert_file, err));
	TRYP(key = load_key(cfg, err));
	TRYP(c->ctx = make_ctx(cfg, certs, key, err));
	if (signet_asn1_time_to_time(X509_get0_notAfter(sk_X509_value(certs, 0)),
				     &c->cert_not_after) < 0)
		c->cert_not_after = 0;

	if ((c->trust = tunnel_trust_load(cfg->ca_file, err)) == NULL) {
		signet_err_prefix(err, "%s", cfg->mode == TUNNEL_SERVER ? "--client-ca"
									 : "--ca");
		goto out;
	}
	if (cfg->ocsp) {
		/* Optional: a directory or "system" has no file to read. */
		struct signet_err e2;
		signet_err_clear(&e2);
		c->ca_certs = signet_certs_load(cfg->ca_file, &e2);
	}
	if (cfg->crl_file != NULL)
		TRYP(c->crls = signet_crls_load(cfg->crl_file, &c->crl_next_update, err));

	if (cfg->mode == TUNNEL_SERVER) {
		/* Names of acceptable issuers, so clients pick the right cert. */
		ca_names = SSL_load_client_CA_file(cfg->ca_file);
		ERR_clear_error();
		if (ca_names != NULL)
			SSL_CTX_set_client_CA_list(c->ctx, ca_names);
		SSL_CTX_set_verify(c->ctx,
				   SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT |
					   SSL_VERIFY_CLIENT_ONCE,
				   NULL);
		if (!cfg->no_staple) {
			SSL_CTX_set_tlsext_status_cb(c->ctx, tunnel_staple_status_cb);
			SSL_CTX_set_tlsext_status_arg(c->ctx, c);
		}
	} else {
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	}
	/* signet's verifier replaces OpenSSL's chain check entirely. */
	SSL_CTX_set_cert_verify_callback(c->ctx, tunnel_cert_verify_cb, c);
	c->certs = certs;
	certs = NULL;
	ok = 1;
out:
	sk_X509_pop_free(certs, X509_free);
	EVP_PKEY_free(key);
	ERR_clear_error();
	if (!ok && c != NULL) {
		SSL_CTX_free(c->ctx);
		tunnel_trust_free(c->trust);
		sk_X509_CRL_pop_free(c->crls, X509_CRL_free);
		sk_X509_pop_free(c->certs, X509_free);
		sk_X509_pop_free(c->ca_certs, X509_free);
		free(c);
		c = NULL;
	}
	return c;
}

struct tunnel_creds *tunnel_creds_ref(struct tunnel_creds *c)
{
	atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	return c;
}

void tunnel_creds_unref(struct tunnel_creds *c)
{
	if (c == NULL || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
		return;
	SSL_CTX_free(c->ctx);
	tunnel_trust_free(c->trust);
	sk_X509_CRL_pop_free(c->crls, X509_CRL_free);
	sk_X509_pop_free(c->certs, X509_free);
	sk_X509_pop_free(c->ca_certs, X509_free);
	free(c);
}

void tunnel_files_stat(const struct tunnel_config *cfg, struct tunnel_files_stat *s)
{
	const char *files[4] = { cfg->cert_file, cfg->key_file, cfg->ca_file,
				 cfg->crl_file };
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < 4; i++)
		s->ok[i] = files[i] != NULL && stat(files[i], &s->st[i]) == 0;
}

int tunnel_files_changed(const struct tunnel_files_stat *a,
			 const struct tunnel_files_stat *b)
{
	for (int i = 0; i < 4; i++) {
		const struct stat *x = &a->st[i], *y = &b->st[i];
		if (a->ok[i] != b->ok[i])
			return 1;
		if (!a->ok[i])
			continue;
		if (x->st_ino != y->st_ino || x->st_dev != y->st_dev ||
		    x->st_size != y->st_size ||
		    x->st_mtim.tv_sec != y->st_mtim.tv_sec ||
		    x->st_mtim.tv_nsec != y->st_mtim.tv_nsec ||
		    x->st_ctim.tv_sec != y->st_ctim.tv_sec ||
		    x->st_ctim.tv_nsec != y->st_ctim.tv_nsec)
			return 1;
	}
	return 0;
}
