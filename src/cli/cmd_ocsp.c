/*
 * cmd_ocsp.c - `signet ocsp respond|serve|check|signer`.
 *
 * Who signs: --signer/--signer-key when given; else the delegated signer
 * that `signet ocsp signer` left in the CA directory (ocsp-signer.crt and
 * ocsp-signer.key), so that a responder host never needs the CA key; else
 * the issuing CA's own key (asking for its passphrase).
 */
#include "ca_open.h"
#include "ocsp_server.h"

#include <getopt.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <signet/cert.h>
#include <signet/crl.h>
#include <signet/file.h>
#include <signet/key.h>
#include <signet/ocsp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
	"usage: signet ocsp respond --request FILE [--out FILE] [signer options]\n"
	"       signet ocsp serve --listen 127.0.0.1:PORT [signer options] [server options]\n"
	"       signet ocsp check CERT --issuer CA [--url URL] [--trust FILE] [--no-nonce]\n"
	"                         [--ocsp-ca FILE]\n"
	"       signet ocsp signer [--days N] [--force]\n"
	"\n"
	"OCSP (RFC 6960) for the CA's issuing certificate.\n"
	"  respond   answer one DER request offline (for scripts), DER out\n"
	"  serve     a standalone responder over HTTP (POST and GET); answers are\n"
	"            signed once per certificate and reused until refreshed;\n"
	"            revocations appear within --poll-ms\n"
	"  check     ask a responder about CERT (the URL from its AIA by default,\n"
	"            http:// or https://); exit 0 good, 22 revoked, 26 unknown,\n"
	"            12 no answer (responder down, HTTP or TLS failure), 4 an\n"
	"            answer that does not parse, 6 one whose signature does not\n"
	"            verify\n"
	"  signer    issue a delegated OCSP signing certificate (OCSPSigning,\n"
	"            ocsp-nocheck) into DIR/ocsp-signer.crt and DIR/ocsp-signer.key\n"
	"\n"
	"signer options (respond, serve):\n"
	"  --signer CERT --signer-key KEY   a delegated signer (default: the one in\n"
	"                    the CA directory if present, else the CA's own key)\n"
	"  --validity D      lifetime of answers, e.g. 1d, 12h (default 1d)\n"
	"server options:\n"
	"  --threads N       worker loops (default: one per core)\n"
	"  --poll-ms N       database change poll interval (default 1000)\n"
	"  --request-timeout S  a request must arrive whole within S s (default 10)\n"
	"  --idle-timeout S  idle keep-alive connections close after S s (default 30)\n"
	"  --max-conns N     connections per worker (default 4096)\n"
	"check options:\n"
	"  --issuer FILE     the certificate that issued CERT (required)\n"
	"  --trust FILE      trust anchors for the responder's signature (default:\n"
	"                    the --issuer file, which may hold the whole chain)\n"
	"  --ocsp-ca FILE    CA certificate(s) (PEM file or directory) that vouch for\n"
	"                    an https:// responder's TLS certificate, instead of the\n"
	"                    system store; its name must match the URL's host\n"
	"  --timeout S       network timeout (default 10)\n"
	"common:\n"
	"  --dir DIR         CA directory (default: $SIGNET_DIR, else ./signet-ca)\n"
	"  --pass-file FILE  CA key passphrase (also $SIGNET_PASS_FILE)\n";

enum {
	O_REQUEST = 256, O_OUT, O_SIGNER, O_SIGNER_KEY, O_VALIDITY, O_LISTEN, O_THREADS,
	O_POLL, O_REQ_TIMEOUT, O_IDLE_TIMEOUT, O_MAX_CONNS, O_ISSUER, O_URL, O_TRUST,
	O_NO_NONCE, O_TIMEOUT, O_DAYS, O_FORCE, O_DIR, O_PASS_FILE, O_OCSP_CA,
};

struct args {
	const char *request, *out, *signer, *signer_key, *listen, *issuer, *url, *trust;
	const char *dir, *pass_file, *ocsp_ca;
	long long validity;
	int threads, poll_ms, req_timeout, idle_timeout, max_conns, no_nonce, timeout, days;
	int force;
};

static int parse_int(const char *cmd, const char *opt, const char *v, int *out)
{
	char *e;
	long n = strtol(v, &e, 10);
	if (*v == '\0' || *e != '\0' || n <= 0 || n > 1000000000)
		return cli_usage_error(cmd, "%s takes a positive number, not '%s'", opt, v);
	*out = (int)n;
	return 0;
}

static int parse_args(const char *cmd, int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "request", required_argument, NULL, O_REQUEST },
		{ "out", required_argument, NULL, O_OUT },
		{ "signer", required_argument, NULL, O_SIGNER },
		{ "signer-key", required_argument, NULL, O_SIGNER_KEY },
		{ "validity", required_argument, NULL, O_VALIDITY },
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "poll-ms", required_argument, NULL, O_POLL },
		{ "request-timeout", required_argument, NULL, O_REQ_TIMEOUT },
		{ "idle-timeout", required_argument, NULL, O_IDLE_TIMEOUT },
		{ "max-conns", required_argument, NULL, O_MAX_CONNS },
		{ "issuer", required_argument, NULL, O_ISSUER },
		{ "url", required_argument, NULL, O_URL },
		{ "trust", required_argument, NULL, O_TRUST },
		{ "no-nonce", no_argument, NULL, O_NO_NONCE },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "days", required_argument, NULL, O_DAYS },
		{ "force", no_argument, NULL, O_FORCE },
		{ "dir", required_argument, NULL, O_DIR },
		{ "pass-file", required_argument, NULL, O_PASS_FILE },
		{ "ocsp-ca", required_argument, NULL, O_OCSP_CA },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case O_REQUEST: a->request = optarg; break;
		case O_OUT: a->out = optarg; break;
		case O_SIGNER: a->signer = optarg; break;
		case O_SIGNER_KEY: a->signer_key = optarg; break;
		case O_VALIDITY:
			if (cli_parse_duration(optarg, &a->validity) < 0 || a->validity <= 0)
				return cli_usage_error(cmd, "--validity takes a duration, not '%s'",
						       optarg);
			break;
		case O_LISTEN: a->listen = optarg; break;
		case O_THREADS: bad = parse_int(cmd, "--threads", optarg, &a->threads); break;
		case O_POLL: bad = parse_int(cmd, "--poll-ms", optarg, &a->poll_ms); break;
		case O_REQ_TIMEOUT:
			bad = parse_int(cmd, "--request-timeout", optarg, &a->req_timeout);
			break;
		case O_IDLE_TIMEOUT:
			bad = parse_int(cmd, "--idle-timeout", optarg, &a->idle_timeout);
			break;
		case O_MAX_CONNS: bad = parse_int(cmd, "--max-conns", optarg, &a->max_conns); break;
		case O_ISSUER: a->issuer = optarg; break;
		case O_URL: a->url = optarg; break;
		case O_TRUST: a->trust = optarg; break;
		case O_NO_NONCE: a->no_nonce = 1; break;
		case O_TIMEOUT: bad = parse_int(cmd, "--timeout", optarg, &a->timeout); break;
		case O_DAYS: bad = cli_parse_days(optarg, &a->days) < 0
					   ? cli_usage_error(cmd, "--days takes days, not '%s'", optarg)
					   : 0;
			break;
		case O_FORCE: a->force = 1; break;
		case O_DIR: a->dir = optarg; break;
		case O_PASS_FILE: a->pass_file = optarg; break;
		case O_OCSP_CA: a->ocsp_ca = optarg; break;
		default: return cli_bad_option(cmd, argv);
		}
		if (bad)
			return bad;
	}
	if ((a->signer == NULL) != (a->signer_key == NULL))
		return cli_usage_error(cmd, "--signer and --signer-key go together");
	return 0;
}

/* Opens the CA and builds the responder with the signer chosen as the
 * top-of-file comment says.  Prints and returns an exit code on failure. */
static int open_responder(const char *cmd, const struct args *a, struct signet_ca **pca,
			  struct signet_ocsp_responder **prsp)
{
	struct signet_err err = { 0 };
	struct signet_ca *ca = NULL;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	char crt[4200], keyp[4200];
	const char *sc = a->signer, *sk = a->signer_key;
	int rc;

	ca = signet_ca_open(cli_ca_dir(a->dir), &err);
	if (ca == NULL)
		return cli_fail(cmd, &err);
	if (sc == NULL &&
	    signet_path_join(crt, sizeof(crt), signet_ca_dir(ca), "ocsp-signer.crt", &err) == 0 &&
	    signet_path_join(keyp, sizeof(keyp), signet_ca_dir(ca), "ocsp-signer.key", &err) == 0 &&
	    access(crt, R_OK) == 0 && access(keyp, R_OK) == 0) {
		sc = crt;
		sk = keyp;
	}
	if (sc != NULL) {
		cert = signet_cert_load(sc, &err);
		if (cert == NULL || (key = signet_key_load(sk, NULL, &err)) == NULL)
			goto fail;
	} else {
		signet_ca_free(ca);
		ca = cli_ca_open_unlocked(cmd, a->dir, a->pass_file, 0, &rc);
		if (ca == NULL)
			return rc;
		key = signet_ca_signer_key(ca);
		EVP_PKEY_up_ref(key);
	}
	*prsp = signet_ocsp_responder_new(signet_ca_signer_cert(ca), cert, key, &err);
	if (*prsp == NULL)
		goto fail;
	if (a->validity > 0)
		signet_ocsp_responder_set_validity(*prsp, a->validity);
	X509_free(cert);
	EVP_PKEY_free(key);
	*pca = ca;
	return 0;
fail:
	X509_free(cert);
	EVP_PKEY_free(key);
	signet_ca_free(ca);
	return cli_fail(cmd, &err);
}

static int do_respond(const struct args *a)
{
	struct signet_err err = { 0 };
	struct signet_ca *ca = NULL;
	struct signet_ocsp_responder *rsp = NULL;
	struct signet_ocsp_request q;
	struct signet_ocsp_db_lookup lk;
	unsigned char *in = NULL, *out = NULL;
	size_t in_len = 0, out_len = 0;
	int rc;

	memset(&q, 0, sizeof(q));
	if (a->request == NULL)
		return cli_usage_error("ocsp", "respond needs --request FILE");
	if (signet_file_read(a->request, &in, &in_len, &err) < 0)
		return cli_fail("ocsp", &err);
	rc = open_responder("ocsp", a, &ca, &rsp);
	if (rc != 0)
		goto out;
	signet_ocsp_request_parse(rsp, in, in_len, &q);
	lk.db = signet_ca_db(ca);
	lk.issuer_id = signet_ca_signer_id(ca);
	if (signet_ocsp_answer(rsp, &q, signet_ocsp_db_lookup, &lk, (int64_t)time(NULL), &out,
			       &out_len, &err) < 0 ||
	    signet_file_write(a->out ? a->out : "-", out, out_len, 0644, 0, &err) < 0) {
		rc = cli_fail("ocsp", &err);
		goto out;
	}
	if (q.error != 0)
		fprintf(stderr, "signet ocsp: %s: answered %s\n", a->request,
			OCSP_response_status_str(q.error));
	rc = 0;
out:
	signet_ocsp_request_clear(&q);
	OPENSSL_free(out);
	free(in);
	signet_ocsp_responder_free(rsp);
	signet_ca_free(ca);
	return rc;
}

#ifdef SIGNET_NET
static void on_ready(const char *addr, size_t known, void *arg)
{
	fprintf(stderr, "signet ocsp: serving on %s (%zu certificates known)\n", addr, known);
	fflush(stderr);
}

static int do_serve(const struct args *a)
{
	struct signet_err err = { 0 };
	struct signet_ca *ca = NULL;
	struct signet_ocsp_responder *rsp = NULL;
	struct ocsp_server_opts o;
	int rc;

	if (a->listen == NULL)
		return cli_usage_error("ocsp", "serve needs --listen HOST:PORT");
	rc = open_responder("ocsp", a, &ca, &rsp);
	if (rc != 0)
		return rc;
	memset(&o, 0, sizeof(o));
	o.listen = a->listen;
	o.threads = a->threads;
	o.rsp = rsp;
	o.db = signet_ca_db(ca);
	o.issuer_id = signet_ca_signer_id(ca);
	o.poll_ms = a->poll_ms;
	o.request_timeout = a->req_timeout;
	o.idle_timeout = a->idle_timeout;
	o.max_conns = a->max_conns;
	o.ready = on_ready;
	rc = ocsp_server_run(&o, &err) < 0 ? cli_fail("ocsp", &err) : 0;
	signet_ocsp_responder_free(rsp);
	signet_ca_free(ca);
	return rc;
}
#endif

static int do_check(int argc, char **argv, const struct args *a)
{
	struct signet_err err = { 0 };
	X509 *cert = NULL, *issuer = NULL;
	STACK_OF(X509) *trust = NULL, *ichain = NULL;
	STACK_OF(OPENSSL_STRING) *aia = NULL;
	OCSP_REQUEST *req = NULL;
	OCSP_CERTID *id = NULL;
	struct signet_ocsp_status st;
	unsigned char *der = NULL, *resp = NULL;
	size_t resp_len = 0;
	const char *url = a->url;
	int rc = SIGNET_E_INTERNAL, n;

	if (argc != 1)
		return cli_usage_error("ocsp", "check needs exactly one CERT");
	if (a->issuer == NULL)
		return cli_usage_error("ocsp", "check needs --issuer FILE");
	if ((cert = signet_cert_load(argv[0], &err)) == NULL ||
	    (ichain = signet_certs_load(a->issuer, &err)) == NULL ||
	    (trust = signet_certs_load(a->trust ? a->trust : a->issuer, &err)) == NULL)
		goto fail;
	{
		/* The responder's signature is checked up to a root: without
		 * one, every answer would fail as if it were forged. */
		int anchors = 0;
		for (int i = 0; i < sk_X509_num(trust); i++)
			anchors += X509_check_issued(sk_X509_value(trust, i),
						     sk_X509_value(trust, i)) == X509_V_OK;
		if (anchors == 0) {
			rc = cli_usage_error("ocsp", "%s holds no root certificate to check the "
						     "responder's signature with; give --trust ROOT",
					     a->trust ? a->trust : a->issuer);
			goto out;
		}
	}
	/* The issuer is the certificate in the file that signed CERT. */
	for (int i = 0; i < sk_X509_num(ichain) && issuer == NULL; i++)
		if (X509_check_issued(sk_X509_value(ichain, i), cert) == X509_V_OK)
			issuer = sk_X509_value(ichain, i);
	if (issuer == NULL) {
		signet_err_set(&err, SIGNET_E_UNTRUSTED, "%s: no certificate in %s issued it",
			       argv[0], a->issuer);
		goto fail;
	}
	if (url == NULL) {
		aia = X509_get1_ocsp(cert);
		if (sk_OPENSSL_STRING_num(aia) > 0)
			url = sk_OPENSSL_STRING_value(aia, 0);
	}
	if (url == NULL) {
		signet_err_set(&err, SIGNET_E_USAGE,
			       "%s: no OCSP URL in the certificate; give --url", argv[0]);
		goto fail;
	}
	req = OCSP_REQUEST_new();
	id = OCSP_cert_to_id(NULL, cert, issuer);
	if (req == NULL || id == NULL || OCSP_request_add0_id(req, id) == NULL) {
		signet_err_ossl(&err, SIGNET_E_INTERNAL, "cannot build the OCSP request");
		goto fail;
	}
	id = NULL;
	if (!a->no_nonce && OCSP_request_add1_nonce(req, NULL, -1) != 1) {
		signet_err_ossl(&err, SIGNET_E_INTERNAL, "cannot add a nonce");
		goto fail;
	}
	n = i2d_OCSP_REQUEST(req, &der);
	if (n <= 0) {
		signet_err_ossl(&err, SIGNET_E_INTERNAL, "cannot encode the OCSP request");
		goto fail;
	}
	if (signet_ocsp_fetch(url, der, (size_t)n, a->ocsp_ca, a->timeout ? a->timeout : 10,
			      &resp, &resp_len, &err) < 0)
		goto fail;
	if (signet_ocsp_check_response(resp, resp_len, cert, issuer, trust,
				       a->no_nonce ? NULL : req, &st, NULL, &err) < 0) {
		signet_err_prefix(&err, "%s", url);
		goto fail;
	}
	if (st.status == SIGNET_OCSP_GOOD) {
		printf("%s: good\n", argv[0]);
		rc = 0;
	} else if (st.status == SIGNET_OCSP_REVOKED) {
		char when[64] = "?";
		time_t t = (time_t)st.revoked_at;
		struct tm tm;
		if (gmtime_r(&t, &tm) != NULL)
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		printf("%s: revoked at %s (%s)\n", argv[0], when,
		       st.reason < 0 ? "no reason given" : signet_reason_name(st.reason));
		rc = SIGNET_E_REVOKED;
	} else {
		printf("%s: unknown to the responder\n", argv[0]);
		rc = SIGNET_E_REVUNKNOWN;
	}
	goto out;
fail:
	rc = cli_fail("ocsp", &err);
out:
	OCSP_CERTID_free(id);
	OCSP_REQUEST_free(req);
	OPENSSL_free(der);
	free(resp);
	X509_email_free(aia);
	X509_free(cert);
	sk_X509_pop_free(trust, X509_free);
	sk_X509_pop_free(ichain, X509_free);
	return rc;
}

static int do_signer(const struct args *a)
{
	struct signet_err err = { 0 };
	struct signet_ca *ca;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	char crt[4200], keyp[4200], *pem = NULL;
	size_t len = 0;
	int rc;

	ca = cli_ca_open_unlocked("ocsp", a->dir, a->pass_file, 0, &rc);
	if (ca == NULL)
		return rc;
	if (signet_path_join(crt, sizeof(crt), signet_ca_dir(ca), "ocsp-signer.crt", &err) < 0 ||
	    signet_path_join(keyp, sizeof(keyp), signet_ca_dir(ca), "ocsp-signer.key", &err) < 0)
		goto fail;
	if (!a->force && access(crt, F_OK) == 0) {
		signet_err_set(&err, SIGNET_E_EXISTS, "%s exists; --force replaces it", crt);
		goto fail;
	}
	if (signet_ocsp_signer_issue(ca, a->days ? a->days : 90, &cert, &key, &err) < 0 ||
	    signet_key_save(key, keyp, NULL, &err) < 0 ||
	    signet_cert_pem_append(cert, &pem, &len, &err) < 0 ||
	    signet_file_write(crt, pem, len, 0644, 0, &err) < 0)
		goto fail;
	printf("OCSP signer written to %s and %s\n", crt, keyp);
	rc = 0;
	goto out;
fail:
	rc = cli_fail("ocsp", &err);
out:
	free(pem);
	X509_free(cert);
	EVP_PKEY_free(key);
	signet_ca_free(ca);
	return rc;
}

int cmd_ocsp(int argc, char **argv)
{
	struct args a;
	const char *sub;
	int rc;

	memset(&a, 0, sizeof(a));
	if (argc < 2 || cli_wants_help(argc, argv)) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? SIGNET_E_USAGE : 0;
	}
	sub = argv[1];
#ifndef SIGNET_NET
	if (strcmp(sub, "serve") == 0) /* a server: see net_exec.c */
		return cli_exec_net(argc, argv);
#endif
	rc = parse_args("ocsp", argc - 1, argv + 1, &a);
	if (rc != 0)
		return rc;
	if (strcmp(sub, "respond") == 0)
		return do_respond(&a);
#ifdef SIGNET_NET
	if (strcmp(sub, "serve") == 0)
		return do_serve(&a);
#endif
	if (strcmp(sub, "check") == 0)
		return do_check(argc - 1 - optind, argv + 1 + optind, &a);
	if (strcmp(sub, "signer") == 0)
		return do_signer(&a);
	return cli_usage_error("ocsp", "unknown subcommand '%s' (respond, serve, check, signer)",
			       sub);
}
