/*
 * cmd_tunnel.c - `signet tunnel server` and `signet tunnel client`: option
 * parsing and usage only; the tunnel itself is src/tunnel (tunnel_run).
 */
#include "cli.h"
#include "tunnel.h"

#include <errno.h>
#include <getopt.h>
#include <signet/ocsp.h>
#include <stdlib.h>
#include <string.h>

static const char server_usage[] =
	"usage: signet tunnel server --listen ADDR:PORT --to BACKEND:PORT\n"
	"                            --cert FILE --key FILE --client-ca FILE\n"
	"                            [--allow RULE]... [--crl FILE] [--ocsp [--ocsp-url URL]]\n"
	"                            [--proxy-protocol] [--status ADDR:PORT] [limits]\n"
	"\n"
	"Terminates mutual TLS (1.3 preferred, 1.2 minimum, AEAD + ECDHE only) in\n"
	"front of a plain TCP backend.  Every client must present a certificate that\n"
	"signet's verifier accepts for client authentication under --client-ca (and\n"
	"--crl when given, and its OCSP responder with --ocsp); --allow narrows that\n"
	"to named identities.\n"
	"\n"
	"  --listen ADDR:PORT        where clients connect (\"[::1]:8443\" for IPv6)\n"
	"  --to HOST:PORT            the plain TCP backend\n"
	"  --cert FILE               server certificate, optionally followed by its chain\n"
	"  --key FILE                its private key (PEM or DER, encrypted or not)\n"
	"  --key-pass-file FILE      passphrase of an encrypted --key (first line); read\n"
	"                            again on every reload.  There is never a prompt.\n"
	"  --client-ca FILE          CA certificate(s) that vouch for clients\n"
	"  --crl FILE                CRL(s) to enforce (PEM or DER); reloaded on change\n"
	"  --ocsp                    ask the OCSP responder in each client certificate's\n"
	"                            AIA; answers are cached until their nextUpdate; no\n"
	"                            answer means the connection is refused\n"
	"  --ocsp-url URL            ask this responder instead (implies --ocsp);\n"
	"                            http:// or https://\n"
	"  --ocsp-ca FILE            CA certificate(s) (PEM file or directory) that vouch\n"
	"                            for https:// responders' TLS certificates (OCSP and\n"
	"                            staple), instead of the system store\n"
	"  --ocsp-timeout SECS       wait this long for a responder (default 5)\n"
	"  --ocsp-cache-size N       cached OCSP answers at most (default 10000)\n"
	"  --insecure-ocsp-soft-fail allow (and log) a client whose OCSP status cannot\n"
	"                            be had; a revoked or unknown answer still refuses\n"
	"  --staple-url URL          responder for our own certificate's OCSP staple\n"
	"                            (default: its AIA; no responder, no staple)\n"
	"  --no-staple               do not staple\n"
	"  --allow RULE              allow only matching clients; repeatable, any match\n"
	"                            passes: cn=NAME, san:dns=NAME, san:uri=URI,\n"
	"                            san:email=ADDR, san:ip=ADDR, serial=HEX\n"
	"  --proxy-protocol          send a PROXY protocol v2 header with the client's\n"
	"                            address and TLS TLVs (verified flag, CN) to the backend\n"
	"  --status ADDR:PORT        serve /healthz and Prometheus /metrics over HTTP\n"
	"  --workers N               worker processes; default: one per core\n"
	"  --max-conns N             open connections at most, all workers together\n"
	"                            (default 20000)\n"
	"  --handshake-timeout SECS  TLS handshake deadline (default 10)\n"
	"  --idle-timeout SECS       close a connection idle this long (default 300)\n"
	"  --drain-timeout SECS      on SIGTERM, wait this long for connections (default 30)\n"
	"  --reload-interval SECS    poll the files for changes this often (default 2, 0: off)\n"
	"  --quiet                   log only refused and failed connections\n"
	"\n"
	"SIGHUP (or a change to any of the files) reloads certificate, key, CA and CRL\n"
	"without touching open connections; a bad file is logged and the old kept.\n"
	"SIGTERM stops accepting and drains.  One log line per connection on stderr.\n";

static const char client_usage[] =
	"usage: signet tunnel client --listen 127.0.0.1:PORT --to HOST:PORT\n"
	"                            --cert FILE --key FILE --ca FILE\n"
	"                            [--server-name NAME] [--crl FILE] [--ocsp [--ocsp-url URL]]\n"
	"                            [--status ADDR:PORT] [limits]\n"
	"\n"
	"Accepts plain TCP locally and opens mutual TLS to HOST:PORT with the client\n"
	"certificate, verifying the upstream's certificate (server authentication)\n"
	"under --ca and its name (--server-name, default HOST).  A mismatch is\n"
	"refused and logged.\n"
	"\n"
	"  --listen ADDR:PORT        local address for plain clients (keep it loopback)\n"
	"  --to HOST:PORT            the mutual-TLS upstream\n"
	"  --cert FILE, --key FILE   our client certificate (and chain) and key\n"
	"  --key-pass-file FILE      passphrase of an encrypted --key (first line)\n"
	"  --ca FILE                 CA certificate(s) that vouch for the upstream\n"
	"  --server-name NAME        name (DNS or IP) the upstream must prove; also SNI\n"
	"  --crl FILE                CRL(s) to enforce on the upstream's chain\n"
	"  --ocsp                    check the upstream's certificate by OCSP: the response\n"
	"                            it staples when valid, else its AIA responder; answers\n"
	"                            are cached until their nextUpdate; no answer means\n"
	"                            the connection is refused\n"
	"  --ocsp-url URL            ask this responder instead (implies --ocsp);\n"
	"                            http:// or https://\n"
	"  --ocsp-ca FILE            CA certificate(s) that vouch for https:// responders'\n"
	"                            TLS certificates, instead of the system store\n"
	"  --ocsp-timeout SECS, --ocsp-cache-size N: as for `tunnel server`\n"
	"  --insecure-ocsp-soft-fail relay (and log) when the upstream's OCSP status\n"
	"                            cannot be had; a revoked or unknown answer still refuses\n"
	"  --status, --workers, --max-conns, --handshake-timeout, --idle-timeout,\n"
	"  --drain-timeout, --reload-interval, --quiet: as for `tunnel server`\n";

static const char tunnel_usage[] =
	"usage: signet tunnel server [options]   mutual TLS in front of a plain backend\n"
	"       signet tunnel client [options]   plain locally, mutual TLS upstream\n"
	"\n"
	"Run `signet tunnel server --help` or `signet tunnel client --help`.\n";

enum {
	O_LISTEN = 256, O_TO, O_CERT, O_KEY, O_CLIENT_CA, O_CA, O_CRL, O_ALLOW,
	O_PROXY, O_STATUS, O_SERVER_NAME, O_WORKERS, O_MAX_CONNS, O_HS_TIMEOUT,
	O_IDLE_TIMEOUT, O_DRAIN_TIMEOUT, O_RELOAD, O_QUIET, O_OCSP, O_HELP,
	O_OCSP_URL, O_OCSP_SOFT, O_OCSP_TIMEOUT, O_OCSP_CACHE, O_STAPLE_URL, O_NO_STAPLE,
	O_KEY_PASS, O_OCSP_CA,
};

static int parse_secs(const char *cmd, const char *opt, const char *s, double *out)
{
	char *end;
	double v;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 86400 * 365)
		return cli_usage_error(cmd, "%s: '%s' is not a number of seconds", opt, s);
	*out = v;
	return 0;
}

static int parse_long(const char *cmd, const char *opt, const char *s, long lo,
		      long hi, long *out)
{
	char *end;
	long v;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		return cli_usage_error(cmd, "%s: '%s' must be a number from %ld to %ld",
				       opt, s, lo, hi);
	*out = v;
	return 0;
}

static int run(int argc, char **argv, enum tunnel_mode mode)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "to", required_argument, NULL, O_TO },
		{ "cert", required_argument, NULL, O_CERT },
		{ "key", required_argument, NULL, O_KEY },
		{ "client-ca", required_argument, NULL, O_CLIENT_CA },
		{ "ca", required_argument, NULL, O_CA },
		{ "crl", required_argument, NULL, O_CRL },
		{ "allow", required_argument, NULL, O_ALLOW },
		{ "proxy-protocol", no_argument, NULL, O_PROXY },
		{ "status", required_argument, NULL, O_STATUS },
		{ "server-name", required_argument, NULL, O_SERVER_NAME },
		{ "workers", required_argument, NULL, O_WORKERS },
		{ "max-conns", required_argument, NULL, O_MAX_CONNS },
		{ "handshake-timeout", required_argument, NULL, O_HS_TIMEOUT },
		{ "idle-timeout", required_argument, NULL, O_IDLE_TIMEOUT },
		{ "drain-timeout", required_argument, NULL, O_DRAIN_TIMEOUT },
		{ "reload-interval", required_argument, NULL, O_RELOAD },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "ocsp", no_argument, NULL, O_OCSP },
		{ "ocsp-url", required_argument, NULL, O_OCSP_URL },
		{ "insecure-ocsp-soft-fail", no_argument, NULL, O_OCSP_SOFT },
		{ "ocsp-timeout", required_argument, NULL, O_OCSP_TIMEOUT },
		{ "ocsp-cache-size", required_argument, NULL, O_OCSP_CACHE },
		{ "staple-url", required_argument, NULL, O_STAPLE_URL },
		{ "no-staple", no_argument, NULL, O_NO_STAPLE },
		{ "ocsp-ca", required_argument, NULL, O_OCSP_CA },
		{ "key-pass-file", required_argument, NULL, O_KEY_PASS },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = mode == TUNNEL_SERVER ? "tunnel server" : "tunnel client";
	struct tunnel_config cfg;
	struct signet_err err;
	long v = 0;
	int c, rc = SIGNET_E_USAGE;

	memset(&cfg, 0, sizeof(cfg));
	signet_err_clear(&err);
	cfg.mode = mode;
	cfg.max_conns = 20000;
	cfg.handshake_timeout = 10;
	cfg.idle_timeout = 300;
	cfg.drain_timeout = 30;
	cfg.reload_interval = 2;
	cfg.ocsp_timeout = 5;
	cfg.ocsp_cache_size = 10000;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_LISTEN: cfg.listen = optarg; break;
		case O_TO: cfg.to = optarg; break;
		case O_CERT: cfg.cert_file = optarg; break;
		case O_KEY: cfg.key_file = optarg; break;
		case O_CLIENT_CA:
			if (mode != TUNNEL_SERVER)
				goto bad_opt;
			cfg.ca_file = optarg;
			break;
		case O_CA:
			if (mode != TUNNEL_CLIENT)
				goto bad_opt;
			cfg.ca_file = optarg;
			break;
		case O_CRL: cfg.crl_file = optarg; break;
		case O_ALLOW: {
			struct allow_rule *n;
			if (mode != TUNNEL_SERVER)
				goto bad_opt;
			n = realloc(cfg.allow, (cfg.n_allow + 1) * sizeof(*n));
			if (n == NULL) {
				signet_err_set(&err, SIGNET_E_INTERNAL, "out of memory");
				rc = cli_fail(cmd, &err);
				goto out;
			}
			cfg.allow = n;
			if (tunnel_allow_parse(optarg, &cfg.allow[cfg.n_allow], &err) < 0) {
				rc = cli_usage_error(cmd, "%s", err.msg);
				goto out;
			}
			cfg.n_allow++;
			break;
		}
		case O_PROXY:
			if (mode != TUNNEL_SERVER)
				goto bad_opt;
			cfg.proxy_protocol = 1;
			break;
		case O_STATUS: cfg.status = optarg; break;
		case O_SERVER_NAME:
			if (mode != TUNNEL_CLIENT)
				goto bad_opt;
			cfg.server_name = optarg;
			break;
		case O_WORKERS:
			if (parse_long(cmd, "--workers", optarg, 1, 256, &v) != 0)
				goto out;
			cfg.workers = (int)v;
			break;
		case O_MAX_CONNS:
			if (parse_long(cmd, "--max-conns", optarg, 1, 10000000, &cfg.max_conns) != 0)
				goto out;
			break;
		case O_HS_TIMEOUT:
			if (parse_secs(cmd, "--handshake-timeout", optarg, &cfg.handshake_timeout))
				goto out;
			break;
		case O_IDLE_TIMEOUT:
			if (parse_secs(cmd, "--idle-timeout", optarg, &cfg.idle_timeout))
				goto out;
			break;
		case O_DRAIN_TIMEOUT:
			if (parse_secs(cmd, "--drain-timeout", optarg, &cfg.drain_timeout))
				goto out;
			break;
		case O_RELOAD:
			if (parse_secs(cmd, "--reload-interval", optarg, &cfg.reload_interval))
				goto out;
			break;
		case O_QUIET: cfg.quiet = 1; break;
		case O_OCSP:
		case O_OCSP_URL:
		case O_OCSP_SOFT:
		case O_OCSP_TIMEOUT:
		case O_OCSP_CACHE:
		case O_STAPLE_URL:
		case O_NO_STAPLE:
			if (mode != TUNNEL_SERVER && (c == O_STAPLE_URL || c == O_NO_STAPLE))
				goto bad_opt;
			if (c == O_OCSP)
				cfg.ocsp = 1;
			else if (c == O_OCSP_URL) {
				cfg.ocsp = 1;
				cfg.ocsp_url = optarg;
			} else if (c == O_OCSP_SOFT)
				cfg.insecure_ocsp_soft_fail = 1;
			else if (c == O_OCSP_TIMEOUT) {
				if (parse_secs(cmd, "--ocsp-timeout", optarg, &cfg.ocsp_timeout))
					goto out;
			} else if (c == O_OCSP_CACHE) {
				if (parse_long(cmd, "--ocsp-cache-size", optarg, 1, 10000000,
					       &cfg.ocsp_cache_size) != 0)
					goto out;
			} else if (c == O_STAPLE_URL)
				cfg.staple_url = optarg;
			else
				cfg.no_staple = 1;
			break;
		case O_KEY_PASS: cfg.key_pass_file = optarg; break;
		case O_OCSP_CA: cfg.ocsp_ca = optarg; break;
		case 'h':
		case O_HELP:
			fputs(mode == TUNNEL_SERVER ? server_usage : client_usage, stdout);
			rc = 0;
			goto out;
		default:
		bad_opt:
			rc = cli_usage_error(cmd, "unknown or misplaced option '%s'",
					     argv[optind - 1]);
			goto out;
		}
	}
	if (optind < argc) {
		rc = cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (cfg.listen == NULL || cfg.to == NULL || cfg.cert_file == NULL ||
	    cfg.key_file == NULL || cfg.ca_file == NULL) {
		rc = cli_usage_error(cmd, "--listen, --to, --cert, --key and %s are required",
				     mode == TUNNEL_SERVER ? "--client-ca" : "--ca");
		goto out;
	}
	if (cfg.insecure_ocsp_soft_fail && !cfg.ocsp) {
		rc = cli_usage_error(cmd, "--insecure-ocsp-soft-fail needs --ocsp or --ocsp-url");
		goto out;
	}
	if ((cfg.ocsp_url != NULL && strncmp(cfg.ocsp_url, "http://", 7) != 0 &&
	     strncmp(cfg.ocsp_url, "https://", 8) != 0) ||
	    (cfg.staple_url != NULL && strncmp(cfg.staple_url, "http://", 7) != 0 &&
	     strncmp(cfg.staple_url, "https://", 8) != 0)) {
		rc = cli_usage_error(cmd, "OCSP responder URLs must be http:// or https://");
		goto out;
	}
	if (cfg.ocsp_ca != NULL) {
		/* Loaded by each OCSP fetcher on its first https request; a bad
		 * file is better reported now than as refused connections. */
		struct signet_ocsp_tls *tls = signet_ocsp_tls_new(cfg.ocsp_ca, &err);
		if (tls == NULL) {
			signet_err_prefix(&err, "--ocsp-ca");
			rc = cli_fail(cmd, &err);
			goto out;
		}
		signet_ocsp_tls_free(tls);
	}
	if (cfg.staple_url != NULL && cfg.no_staple) {
		rc = cli_usage_error(cmd, "--staple-url and --no-staple contradict each other");
		goto out;
	}
	if (cfg.handshake_timeout <= 0 || cfg.idle_timeout <= 0 || cfg.ocsp_timeout <= 0) {
		rc = cli_usage_error(cmd, "timeouts must be positive");
		goto out;
	}
	rc = tunnel_run(&cfg, &err) < 0 ? cli_fail(cmd, &err) : 0;
out:
	tunnel_allow_free(cfg.allow, cfg.n_allow);
	return rc;
}

int cmd_tunnel(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(tunnel_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? SIGNET_E_USAGE : 0;
	}
	if (strcmp(argv[1], "server") == 0)
		return run(argc - 1, argv + 1, TUNNEL_SERVER);
	if (strcmp(argv[1], "client") == 0)
		return run(argc - 1, argv + 1, TUNNEL_CLIENT);
	return cli_usage_error("tunnel", "unknown subcommand '%s' (server or client)",
			       argv[1]);
}
