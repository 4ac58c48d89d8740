#ifndef SIGNET_CLI_CA_OPEN_H
#define SIGNET_CLI_CA_OPEN_H

#include "cli.h"

#include <signet/ca.h>

/* Opens the CA (--dir/$SIGNET_DIR/./signet-ca) and unlocks the issuer's
 * key (the root's when use_root), asking for the passphrase when the keys
 * are encrypted.  On failure prints the error, sets *rc, returns NULL. */
struct signet_ca *cli_ca_open_unlocked(const char *cmd, const char *dir,
				       const char *pass_file, int use_root, int *rc);

#endif
