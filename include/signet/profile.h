/*
 * profile.h - what each kind of certificate may be used for.
 *
 *   server  digitalSignature (+keyEncipherment for RSA), EKU serverAuth;
 *           needs at least one DNS or IP SAN (browsers ignore the CN)
 *   client  digitalSignature, EKU clientAuth
 *   peer    both of the above (service meshes: one cert, both roles)
 *   sub-ca  CA:TRUE pathlen:0, keyCertSign + cRLSign, no EKU
 */
#ifndef SIGNET_PROFILE_H
#define SIGNET_PROFILE_H

#include <signet/err.h>

enum signet_profile {
	SIGNET_PROFILE_SERVER,
	SIGNET_PROFILE_CLIENT,
	SIGNET_PROFILE_PEER,
	SIGNET_PROFILE_SUBCA,
};

int signet_profile_parse(const char *s, enum signet_profile *out,
			 struct signet_err *err);
const char *signet_profile_name(enum signet_profile p);

#endif
