/*
 * profile.c - profile names.  What a profile puts into a certificate is
 * applied in ca.c, next to the rest of issuance.
 */
#include <signet/profile.h>

#include <string.h>

static const char *const names[] = {
	[SIGNET_PROFILE_SERVER] = "server",
	[SIGNET_PROFILE_CLIENT] = "client",
	[SIGNET_PROFILE_PEER] = "peer",
	[SIGNET_PROFILE_SUBCA] = "sub-ca",
};

int signet_profile_parse(const char *s, enum signet_profile *out, struct signet_err *err)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum signet_profile)i;
			return 0;
		}
	}
	if (strcmp(s, "both") == 0) { /* the brief's word for peer */
		*out = SIGNET_PROFILE_PEER;
		return 0;
	}
	return signet_err_set(err, SIGNET_E_USAGE,
			      "unknown profile '%s' (use server, client, peer or sub-ca)", s);
}

const char *signet_profile_name(enum signet_profile p)
{
	return (unsigned)p < sizeof(names) / sizeof(names[0]) ? names[p] : "?";
}
