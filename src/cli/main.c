/*
 * main.c - the signet tool's entry point: a table of subcommands, `help`,
 * and the exit-code table.  Each subcommand lives in cmd_<name>.c.
 */
#include "cli.h"

#include <getopt.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <signet/file.h>
#include <signet/version.h>
#ifdef SIGNET_STATIC_DEPS
#include <sqlite3.h>
#endif
#include <errno.h>
#include <stdio.h>
#include <string.h>

static int cmd_help(int argc, char **argv);

/* signet-net (SIGNET_NET, see net_exec.c) is built from this file too and
 * knows only the network commands; signet hands those over to it. */
static const struct cli_cmd commands[] = {
#ifndef SIGNET_NET
	{ "key", cmd_key, "generate a private key (key new)" },
	{ "csr", cmd_csr, "create a certificate signing request" },
	{ "init", cmd_init, "create a CA directory: root (and intermediate), database, config" },
	{ "sign", cmd_sign, "issue certificates from CSRs under a profile" },
	{ "issue", cmd_issue, "new key and certificate in one step" },
	{ "show", cmd_show, "describe a certificate, chain, CSR, CRL or key" },
	{ "list", cmd_list, "list the CA's certificate records" },
	{ "export", cmd_export, "export a certificate as PKCS#12 or full-chain PEM" },
	{ "tunnel", cli_exec_net, "mutual-TLS tunnel: server (in front of a backend) and client" },
	{ "revoke", cmd_revoke, "revoke a certificate (durably, before answering)" },
	{ "crl", cmd_crl, "sign a CRL (complete or delta) from the database" },
	{ "ocsp", cmd_ocsp, "OCSP: respond, serve, check, signer" },
	{ "verify", cmd_verify, "verify a certificate chain like a browser does" },
#else
	{ "tunnel", cmd_tunnel, "mutual-TLS tunnel: server (in front of a backend) and client" },
	{ "ocsp", cmd_ocsp, "OCSP: respond, serve, check, signer" },
#endif
	/* more commands */
	{ "help", cmd_help, "show help for a command, or `help exit-codes`" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: signet <command> [options]\n\n"
		   "signet is a private PKI and mutual-TLS toolkit.\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun `signet <command> --help` for a command's options, "
		   "`signet help exit-codes` for exit statuses.\n");
}

static void exit_codes(void)
{
	static const int list[] = {
		SIGNET_OK, SIGNET_E_INTERNAL, SIGNET_E_USAGE, SIGNET_E_IO,
		SIGNET_E_PARSE, SIGNET_E_PASS, SIGNET_E_SIG, SIGNET_E_POLICY,
		SIGNET_E_NOCA, SIGNET_E_DB, SIGNET_E_NOTFOUND, SIGNET_E_EXISTS,
		SIGNET_E_NET, SIGNET_E_UNTRUSTED, SIGNET_E_EXPIRED,
		SIGNET_E_REVOKED, SIGNET_E_NAME, SIGNET_E_PURPOSE,
		SIGNET_E_CONSTRAINT, SIGNET_E_REVUNKNOWN, SIGNET_E_ALGORITHM,
		SIGNET_E_INVALID,
	};
	printf("exit codes:\n");
	for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++)
		printf("  %3d  %-18s %s\n", list[i], signet_code_name(list[i]),
		       signet_code_desc(list[i]));
}

static const struct cli_cmd *find(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static int cmd_help(int argc, char **argv)
{
	const struct cli_cmd *c;
	char *hargv[] = { NULL, "--help", NULL };

	if (argc < 2) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		puts("usage: signet help [COMMAND | exit-codes]\n\n"
		     "Without COMMAND, lists the commands; with one, prints its --help;\n"
		     "`signet help exit-codes` prints the table of exit codes.");
		return 0;
	}
	if (strcmp(argv[1], "exit-codes") == 0) {
		exit_codes();
		return 0;
	}
	c = find(argv[1]);
	if (c == NULL || c->fn == cmd_help)
		return cli_usage_error("help", "unknown command '%s'", argv[1]);
	hargv[0] = argv[1];
	return c->fn(2, hargv);
}

/*
 * What went to stdout through stdio must have arrived: a full disk
 * (`signet list >/dev/full`) or a closed stdout fails the command with
 * exit 3 and one line, instead of exit 0 with the output lost.
 */
static int stdout_checked(const char *cmd, int rc)
{
	int e;

	errno = 0;
	if (fflush(stdout) == 0 && !ferror(stdout))
		return rc;
	e = errno;
	if (rc == 0) {
		fprintf(stderr, "signet%s%s: stdout: write failed%s%s\n", cmd ? " " : "",
			cmd ? cmd : "", e ? ": " : "", e ? strerror(e) : "");
		rc = SIGNET_E_IO;
	}
	return rc;
}

int main(int argc, char **argv)
{
	const struct cli_cmd *c;

#ifndef SIGNET_NET
	if (argc > 0 && argv[0] != NULL)
		cli_argv0 = argv[0];
	/*
	 * OpenSSL's default random generator, CTR-DRBG, fetches AES, and the
	 * first cipher fetch in a process builds OpenSSL 3.0's whole cipher
	 * table: 15% of a one-shot `signet sign`.  HASH-DRBG over SHA-256
	 * (also NIST SP 800-90A, 256-bit strength) uses the digest that the
	 * command fetches anyway.  A [random] section in openssl.cnf still
	 * takes precedence; signet-net, a server, keeps the default.
	 *
	 * And no OPENSSL_cleanup at exit: freeing OpenSSL's tables just before
	 * the process ends was 5% of a one-shot command.
	 */
	OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
	RAND_set_DRBG_type(NULL, "HASH-DRBG", NULL, NULL, "SHA256");
#endif
	/* No output of the command may replace its inputs or the CA's files. */
	signet_file_guard();
	if (argc < 2) {
		usage(stderr);
		return SIGNET_E_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return stdout_checked(NULL, 0);
	}
	if (strcmp(argv[1], "--version") == 0) {
#ifdef SIGNET_STATIC_DEPS
		/* Built in: the system's OpenSSL updates need a rebuild. */
		printf("signet %s (%s and SQLite %s, linked in)\n", SIGNET_VERSION,
		       OpenSSL_version(OPENSSL_VERSION), sqlite3_libversion());
#else
		printf("signet %s (%s)\n", SIGNET_VERSION, OpenSSL_version(OPENSSL_VERSION));
#endif
		return stdout_checked(NULL, 0);
	}
	/* getopt's own messages would make a second stderr line; the commands
	 * report bad options in one line through cli_bad_option. */
	opterr = 0;
	c = find(argv[1]);
	if (c == NULL) {
		fprintf(stderr, "signet: unknown command '%s' (see `signet --help`)\n",
			argv[1]);
		return SIGNET_E_USAGE;
	}
	return stdout_checked(argv[1], c->fn(argc - 1, argv + 1));
}
