/* cmd_ocsp.c - `signet ocsp` (placeholder while the responder is written). */
#include "cli.h"

int cmd_ocsp(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_usage_error("ocsp", "not implemented yet");
}
