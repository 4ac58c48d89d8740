/*
 * cli.c - helpers shared by the subcommands: error lines, passphrases,
 * the CA directory, durations.
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <signet/file.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* Writes s to stderr with control characters shown as \n, \t or \xHH,
 * so that a file name or argument holding a newline cannot split the
 * one-line error (or forge a second one). */
static void put_visible(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\n')
			fputs("\\n", stderr);
		else if (c == '\t')
			fputs("\\t", stderr);
		else if (c < 0x20 || c == 0x7f)
			fprintf(stderr, "\\x%02x", c);
		else
			fputc(c, stderr);
	}
}

int cli_fail(const char *cmd, const struct signet_err *err)
{
	int code = err->code ? err->code : SIGNET_E_INTERNAL;
	fprintf(stderr, "signet %s: ", cmd);
	put_visible(err->msg[0] ? err->msg : signet_code_desc(code));
	fputc('\n', stderr);
	return code;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "signet %s: ", cmd);
	put_visible(msg);
	fprintf(stderr, " (see `signet %s --help`)\n", cmd);
	return SIGNET_E_USAGE;
}

int cli_bad_option(const char *cmd, char **argv)
{
	const char *opt = optind > 0 ? argv[optind - 1] : "";
	if (strncmp(opt, "--", 2) != 0 && optopt != 0)
		return cli_usage_error(cmd, "unknown option '-%c'", optopt);
	if (optopt != 0 && strchr(opt, '=') != NULL)
		return cli_usage_error(cmd, "option '%.*s' takes no value",
				       (int)(strchr(opt, '=') - opt), opt);
	if (optopt != 0)
		return cli_usage_error(cmd, "option '%s' needs a value", opt);
	return cli_usage_error(cmd, "unknown or ambiguous option '%s'", opt);
}

void cli_warn(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "signet %s: warning: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	}
	return 0;
}

static char *read_tty_line(int fd, const char *prompt, struct signet_err *err)
{
	struct termios old, noecho;
	char buf[1024];
	size_t n = 0;
	char *res = NULL;

	if (tcgetattr(fd, &old) != 0) {
		signet_err_set(err, SIGNET_E_PASS, "cannot read passphrase from the terminal: %s",
			       strerror(errno));
		return NULL;
	}
	noecho = old;
	noecho.c_lflag &= ~(tcflag_t)ECHO;
	noecho.c_lflag |= ECHONL;
	(void)!write(fd, prompt, strlen(prompt));
	tcsetattr(fd, TCSAFLUSH, &noecho);
	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || c == '\n' || c == '\r')
			break;
		if (n + 1 < sizeof(buf))
			buf[n++] = c;
	}
	tcsetattr(fd, TCSAFLUSH, &old);
	buf[n] = '\0';
	res = strdup(buf);
	OPENSSL_cleanse(buf, sizeof(buf));
	if (res == NULL)
		signet_err_set(err, SIGNET_E_INTERNAL, "out of memory");
	return res;
}

char *cli_pass_get(const char *pass_file, const char *opt, int use_env, const char *prompt,
		   int confirm, struct signet_err *err)
{
	unsigned char *data = NULL;
	size_t len = 0;
	char *pass = NULL;

	if (pass_file == NULL && use_env == CLI_PASS_ENV)
		pass_file = getenv("SIGNET_PASS_FILE");
	if (pass_file != NULL && *pass_file != '\0') {
		if (signet_file_read(pass_file, &data, &len, err) < 0) {
			signet_err_prefix(err, "passphrase file");
			err->code = SIGNET_E_PASS;
			return NULL;
		}
		size_t line = 0;
		while (line < len && data[line] != '\r' && data[line] != '\n')
			line++;
		if (line == 0 || memchr(data, '\0', line) != NULL) {
			/* A NUL would cut the passphrase short without a word. */
			signet_err_set(err, SIGNET_E_PASS, "%s: passphrase file is %s", pass_file,
				       line == 0 ? "empty" : "binary (it holds a NUL byte)");
			OPENSSL_clear_free(data, len + 1);
			return NULL;
		}
		OPENSSL_cleanse(data + line, len - line); /* what follows is never used */
		return (char *)data;
	}
	{
		int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
		if (fd < 0 || !isatty(STDIN_FILENO)) {
			if (fd >= 0)
				close(fd);
			signet_err_set(err, SIGNET_E_PASS,
				       "a passphrase is needed: give %s FILE%s, or run on a terminal",
				       opt, use_env == CLI_PASS_ENV ? " or $SIGNET_PASS_FILE" : "");
			return NULL;
		}
		pass = read_tty_line(fd, prompt, err);
		if (pass != NULL && *pass == '\0') {
			cli_pass_free(pass);
			pass = NULL;
			signet_err_set(err, SIGNET_E_PASS, "empty passphrase");
		}
		if (pass != NULL && confirm) {
			char *again = read_tty_line(fd, "Repeat passphrase: ", err);
			if (again == NULL || strcmp(again, pass) != 0) {
				cli_pass_free(pass);
				pass = NULL;
				if (again != NULL)
					signet_err_set(err, SIGNET_E_PASS,
						       "passphrases do not match");
			}
			cli_pass_free(again);
		}
		close(fd);
	}
	return pass;
}

void cli_pass_free(char *pass)
{
	if (pass != NULL)
		OPENSSL_clear_free(pass, strlen(pass));
}

const char *cli_ca_dir(const char *opt)
{
	const char *env;
	if (opt != NULL)
		return opt;
	env = getenv("SIGNET_DIR");
	if (env != NULL && *env != '\0')
		return env;
	return "./signet-ca";
}

int cli_parse_duration(const char *s, long long *seconds)
{
	char *end;
	long long v, mul = 86400;

	errno = 0;
	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	v = strtoll(s, &end, 10);
	if (errno != 0 || v < 0 || v > 100000LL * 86400)
		return -1;
	if (*end == 'd' || *end == '\0')
		mul = 86400;
	else if (*end == 'h')
		mul = 3600;
	else if (*end == 'm')
		mul = 60;
	else if (*end == 's')
		mul = 1;
	else
		return -1;
	if (*end != '\0' && end[1] != '\0')
		return -1;
	*seconds = v * mul;
	return 0;
}

int cli_parse_days(const char *s, int *days)
{
	char *end;
	long v;
	errno = 0;
	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > 36500)
		return -1;
	*days = (int)v;
	return 0;
}
