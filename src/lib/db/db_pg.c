/*
 * db_pg.c - PostgreSQL backend entry point.  The shared-database backend is
 * planned (several CA instances on one database); until it lands, a
 * postgresql:// URL is refused with a clear message rather than silently
 * falling back to SQLite.
 */
#include "db_internal.h"

struct signet_db *signet_db_pg_open(const char *conninfo, struct signet_err *err)
{
	(void)conninfo;
	signet_err_set(err, SIGNET_E_DB,
		       "the PostgreSQL backend is not available in this build; "
		       "use the default SQLite database");
	return NULL;
}
