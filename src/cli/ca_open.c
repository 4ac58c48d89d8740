/*
 * ca_open.c - opening a CA directory and unlocking its signing key, shared
 * by the commands that issue (sign, issue) and later revoke/crl/ocsp.
 */
#include "ca_open.h"

#include <stdlib.h>

struct signet_ca *cli_ca_open_unlocked(const char *cmd, const char *dir,
				       const char *pass_file, int use_root, int *rc)
{
	struct signet_err err = { 0 };
	struct signet_ca *ca = signet_ca_open(cli_ca_dir(dir), &err);
	char *pass = NULL;

	if (ca == NULL) {
		*rc = cli_fail(cmd, &err);
		return NULL;
	}
	if (signet_ca_encrypted(ca)) {
		pass = cli_pass_get(pass_file, "--pass-file", CLI_PASS_ENV, "CA passphrase: ", 0, &err);
		if (pass == NULL)
			goto fail;
	}
	if (signet_ca_unlock(ca, use_root ? SIGNET_CA_ROOT : SIGNET_CA_ISSUER, pass, &err) < 0)
		goto fail;
	cli_pass_free(pass);
	*rc = 0;
	return ca;
fail:
	cli_pass_free(pass);
	signet_ca_free(ca);
	*rc = cli_fail(cmd, &err);
	return NULL;
}
