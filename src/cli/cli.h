/*
 * cli.h - what the subcommands of the signet tool share.
 *
 * One file per subcommand (cmd_<name>.c) with `int cmd_<name>(int argc,
 * char **argv)` returning the exit status; argv[0] is the subcommand name.
 * The dispatcher in main.c is the only table of commands.  Only the CLI
 * prints and chooses exit codes; it turns a struct signet_err into one line
 * "signet <cmd>: <sentence>" on stderr and exits with err.code.
 */
#ifndef SIGNET_CLI_H
#define SIGNET_CLI_H

#include <signet/err.h>
#include <stdio.h>

struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

/* Prints "signet <cmd>: <msg>" and returns err->code (never 0). */
int cli_fail(const char *cmd, const struct signet_err *err);
/* Prints a usage error and returns SIGNET_E_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* After getopt_long returned '?' (with opterr = 0, so getopt printed
 * nothing): one usage line naming the option and what is wrong with it. */
int cli_bad_option(const char *cmd, char **argv);
/* Prints a one-line warning on stderr. */
void cli_warn(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* True when argv holds -h or --help before any "--". */
int cli_wants_help(int argc, char **argv);

/* Where cli_pass_get may look: the option the user gives the file with
 * (named when no passphrase can be had), and whether $SIGNET_PASS_FILE,
 * which holds the CA passphrase, may stand in for it. */
enum { CLI_PASS_NO_ENV = 0, CLI_PASS_ENV = 1 };

/*
 * Obtains a passphrase: from pass_file if given, else $SIGNET_PASS_FILE
 * when use_env is CLI_PASS_ENV, else a no-echo prompt on the terminal
 * (twice when confirm is set).  The first line of the file is used,
 * without its newline.  The result is a malloc'ed string the caller wipes
 * with cli_pass_free.  $SIGNET_PASS_FILE is not used for the passphrase of
 * a new PKCS#12 bundle or of an issued certificate's key: that would hand
 * the CA passphrase to whoever receives them.
 */
char *cli_pass_get(const char *pass_file, const char *opt, int use_env, const char *prompt,
		   int confirm, struct signet_err *err);
void cli_pass_free(char *pass);

/* The CA directory: --dir, else $SIGNET_DIR, else ./signet-ca. */
const char *cli_ca_dir(const char *opt);

/* Parses a duration "30d", "12h", "90m", "3600s" or plain days. */
int cli_parse_duration(const char *s, long long *seconds);
/* Parses a positive integer number of days. */
int cli_parse_days(const char *s, int *days);

/*
 * The network commands (tunnel, ocsp serve) run in the signet-net program:
 * cli_exec_net replaces this process with it, passing argv (argv[0] is the
 * subcommand), and returns only on failure, with an exit status.
 * cli_argv0 is the name signet was started as.
 */
extern const char *cli_argv0;
int cli_exec_net(int argc, char **argv);

#define CLI_CMD(name) int cmd_##name(int argc, char **argv)
CLI_CMD(key);
CLI_CMD(csr);
CLI_CMD(init);
CLI_CMD(sign);
CLI_CMD(issue);
CLI_CMD(show);
CLI_CMD(list);
CLI_CMD(export);
CLI_CMD(tunnel);
CLI_CMD(revoke);
CLI_CMD(crl);
CLI_CMD(ocsp);
CLI_CMD(verify);

#endif
