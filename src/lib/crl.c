/*
 * crl.c - CRL v2 generation straight from the database.
 *
 * Design: OpenSSL's X509_CRL object model (one X509_REVOKED with its own
 * ASN1_INTEGER, ASN1_TIME and extension stack per entry, then a sort and
 * a re-encoding) costs several microseconds and half a dozen allocations
 * per entry, which is what makes `openssl ca -gencrl` take ~11 s for a
 * million entries.  Here each revoked entry is encoded as soon as the
 * database walk yields it, into one growing buffer, with OpenSSL's own
 * encoders (i2d_ASN1_INTEGER, i2d_ASN1_TIME, ASN1_put_object) reusing a
 * single INTEGER and TIME object; the extensions of an entry are
 * pre-encoded once per reason code.  The TBSCertList is then assembled
 * around the entries in the buffer's headroom (no copy of the entries),
 * signed with EVP_DigestSign, and wrapped.  Nothing here is cryptography
 * of our own: encoding and signing are OpenSSL's.
 *
 * revokedCertificates is a SEQUENCE OF, so entry order carries no meaning;
 * entries come in database order and relying parties sort on load.
 *
 * Invariant: the buffer holds [headroom][entries][extensions][sigalg][sig]
 * while building; the TBS is written into the headroom right before the
 * entries, then the result is moved to the start of the allocation.
 */
#include <signet/crl.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <signet/buf.h>
#include <signet/cert.h>
#include <signet/key.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define CRL_DEFAULT_VALIDITY (7 * 86400)
#define CRL_HEADROOM_MIN 4096

static const char *const reason_names[] = {
	[SIGNET_REASON_UNSPECIFIED] = "unspecified",
	[SIGNET_REASON_KEY_COMPROMISE] = "keyCompromise",
	[SIGNET_REASON_CA_COMPROMISE] = "caCompromise",
	[SIGNET_REASON_AFFILIATION_CHANGED] = "affiliationChanged",
	[SIGNET_REASON_SUPERSEDED] = "superseded",
	[SIGNET_REASON_CESSATION] = "cessationOfOperation",
	[SIGNET_REASON_CERTIFICATE_HOLD] = "certificateHold",
	[7] = NULL,
	[SIGNET_REASON_REMOVE_FROM_CRL] = "removeFromCRL",
	[SIGNET_REASON_PRIVILEGE_WITHDRAWN] = "privilegeWithdrawn",
	[SIGNET_REASON_AA_COMPROMISE] = "aACompromise",
};
#define N_REASONS ((int)(sizeof(reason_names) / sizeof(reason_names[0])))

const char *signet_reason_name(int reason)
{
	if (reason < 0 || reason >= N_REASONS || reason_names[reason] == NULL)
		return "unknown";
	return reason_names[reason];
}

int signet_reason_parse(const char *s)
{
	for (int i = 0; i < N_REASONS; i++)
		if (reason_names[i] != NULL && strcasecmp(s, reason_names[i]) == 0)
			return i;
	return -1;
}

static int buf_reserve(struct signet_buf *b, size_t more, struct signet_err *err)
{
	if (signet_buf_reserve(b, more, 1 << 16) < 0)
		return signet_err_set(err, SIGNET_E_INTERNAL, "out of memory building the CRL");
	return 0;
}

/* The state of the entry encoder: one reusable INTEGER and TIME, the
 * extensions pre-encoded per reason code, and the last time encoded. */
struct enc {
	struct signet_buf out;
	size_t n;
	ASN1_INTEGER *serial;
	ASN1_TIME *time;
	int64_t last_t;
	unsigned char tder[24];
	int tlen;
	X509_EXTENSION *reason_ext[N_REASONS];
	unsigned char *reason_der[N_REASONS]; /* Extensions SEQUENCE, or NULL */
	int reason_len[N_REASONS];
	/* delta building */
	char **base;       /* sorted serials of the base CRL */
	unsigned char *base_reason;
	unsigned char *base_seen;
	size_t n_base;
	int64_t now;
	struct signet_err *err;
	int failed;
};


/*
 * The RFC 5280 time string of t: UTCTime "YYMMDDHHMMSSZ" for 1950-2049,
 * GeneralizedTime "YYYYMMDDHHMMSSZ" otherwise; returns its length, 0 when
 * t is out of range.  Calendar arithmetic (days to civil date, H. Hinnant's
 * algorithm) instead of ASN1_TIME_set, whose gmtime and BIO_snprintf were
 * a fifth of the time of a million-entry CRL.
 */
static size_t time_string(int64_t t, char out[16])
{
	int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
	int64_t secs = t - days * 86400, z = days + 719468, era, yy;
	unsigned doe, yoe, doy, mp, d, m, f[6];
	size_t n = 0;

	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	yy = (int64_t)yoe + era * 400 + (m <= 2);
	if (yy < 0 || yy > 9999)
		return 0;
	if (yy < 1950 || yy > 2049) {
		out[n++] = (char)('0' + yy / 1000);
		out[n++] = (char)('0' + yy / 100 % 10);
	}
	f[0] = (unsigned)(yy % 100);
	f[1] = m;
	f[2] = d;
	f[3] = (unsigned)(secs / 3600);
	f[4] = (unsigned)(secs / 60 % 60);
	f[5] = (unsigned)(secs % 60);
	for (int i = 0; i < 6; i++) {
		out[n++] = (char)('0' + f[i] / 10);
		out[n++] = (char)('0' + f[i] % 10);
	}
	out[n++] = 'Z';
	out[n] = '\0';
	return n;
}

static int enc_time(struct enc *e, int64_t t)
{
	unsigned char *p = e->tder;
	char str[16];
	size_t n;

	if (e->tlen > 0 && t == e->last_t)
		return 0;
	n = time_string(t, str);
	/* OpenSSL checks the string and encodes it. */
	if (n == 0 || (n == 13 ? ASN1_UTCTIME_set_string(e->time, str)
			       : ASN1_GENERALIZEDTIME_set_string(e->time, str)) != 1)
		return -1;
	if (i2d_ASN1_TIME(e->time, NULL) > (int)sizeof(e->tder))
		return -1;
	e->tlen = i2d_ASN1_TIME(e->time, &p);
	e->last_t = t;
	return e->tlen > 0 ? 0 : -1;
}

/* Encodes one revokedCertificates entry and appends it. */
static int enc_entry(struct enc *e, const char *serial, int64_t revoked_at, int reason,
		     int64_t invalidity)
{
	unsigned char sb[64], *p, *ext = NULL, *ext_own = NULL;
	int slen, sn, clen, total, elen = 0, rc = -1;

	sn = signet_serial_to_bytes(serial, sb, sizeof(sb));
	if (sn < 0)
		return signet_err_set(e->err, SIGNET_E_DB,
				      "database serial '%s' is not hexadecimal", serial);
	if (!ASN1_STRING_set(e->serial, sb, sn))
		return signet_err_ossl(e->err, SIGNET_E_INTERNAL, "cannot encode serial %s",
				       serial);
	slen = i2d_ASN1_INTEGER(e->serial, NULL);
	if (slen <= 0 || enc_time(e, revoked_at) < 0)
		return signet_err_ossl(e->err, SIGNET_E_INTERNAL,
				       "cannot encode the CRL entry of serial %s", serial);
	if (reason < 0 || reason >= N_REASONS || reason_names[reason] == NULL)
		reason = SIGNET_REASON_UNSPECIFIED;
	if (invalidity == 0) {
		ext = e->reason_der[reason];
		elen = e->reason_len[reason];
	} else {
		/* Rare: an invalidity date makes the extensions unique. */
		STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
		ASN1_GENERALIZEDTIME *gt = ASN1_GENERALIZEDTIME_set(NULL, (time_t)invalidity);
		int ok = exts != NULL && gt != NULL &&
			 (e->reason_ext[reason] == NULL ||
			  X509v3_add_ext(&exts, e->reason_ext[reason], -1) != NULL) &&
			 X509V3_add1_i2d(&exts, NID_invalidity_date, gt, 0, X509V3_ADD_DEFAULT) == 1 &&
			 (elen = i2d_X509_EXTENSIONS(exts, &ext_own)) > 0;
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
		ASN1_GENERALIZEDTIME_free(gt);
		if (!ok)
			return signet_err_ossl(e->err, SIGNET_E_INTERNAL,
					       "cannot encode the invalidity date of serial %s",
					       serial);
		ext = ext_own;
	}
	clen = slen + e->tlen + elen;
	total = ASN1_object_size(1, clen, V_ASN1_SEQUENCE);
	if (buf_reserve(&e->out, (size_t)total, e->err) < 0)
		goto out;
	p = e->out.p + e->out.len;
	ASN1_put_object(&p, 1, clen, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
	i2d_ASN1_INTEGER(e->serial, &p);
	memcpy(p, e->tder, (size_t)e->tlen);
	p += e->tlen;
	if (elen > 0)
		memcpy(p, ext, (size_t)elen);
	e->out.len += (size_t)total;
	e->n++;
	rc = 0;
out:
	OPENSSL_free(ext_own);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static long base_find(const struct enc *e, const char *serial)
{
	size_t lo = 0, hi = e->n_base;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(e->base[mid], serial);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/*
 * The database walk and the entry encoding run on two threads: the walk
 * (this thread, in signet_db_each_revoked's callback) copies rows into one
 * batch while an encoder thread encodes the other, in order, into e->out.
 * Each thread touches its own state: the walk the base-CRL marks, the
 * encoder the encoder state; batches change hands under the mutex.  If the
 * thread cannot start, rows are encoded right here.
 */
#define PIPE_ROWS 4096
#define PIPE_SERIAL 132 /* hex digits of signet_serial_to_bytes' 64 bytes, + NUL */

struct pipe_row {
	char serial[PIPE_SERIAL];
	int reason;
	int64_t revoked_at, invalidity;
};

struct pipe {
	struct enc *e;
	pthread_t tid;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct pipe_row *rows[2];
	size_t count[2];
	int full[2]; /* batch handed to the encoder and not yet encoded */
	int fill;    /* the batch the walk fills */
	int done, started, failed;
	struct signet_err enc_err, walk_err;
};

static void *pipe_encoder(void *arg)
{
	struct pipe *pp = arg;
	int k = 0;

	for (;;) {
		pthread_mutex_lock(&pp->mu);
		while (!pp->full[k] && !pp->done)
			pthread_cond_wait(&pp->cv, &pp->mu);
		if (!pp->full[k]) {
			pthread_mutex_unlock(&pp->mu);
			break;
		}
		pthread_mutex_unlock(&pp->mu);
		for (size_t i = 0; !pp->e->failed && i < pp->count[k]; i++) {
			const struct pipe_row *r = &pp->rows[k][i];
			if (enc_entry(pp->e, r->serial, r->revoked_at, r->reason, r->invalidity) < 0)
				pp->e->failed = 1;
		}
		pthread_mutex_lock(&pp->mu);
		pp->full[k] = 0;
		if (pp->e->failed)
			pp->failed = 1;
		pthread_cond_broadcast(&pp->cv);
		pthread_mutex_unlock(&pp->mu);
		k ^= 1;
	}
	return NULL;
}

/* Hands the batch being filled to the encoder and waits for the other. */
static int pipe_hand_off(struct pipe *pp)
{
	int failed;

	pthread_mutex_lock(&pp->mu);
	pp->full[pp->fill] = 1;
	pthread_cond_broadcast(&pp->cv);
	pp->fill ^= 1;
	while (pp->full[pp->fill])
		pthread_cond_wait(&pp->cv, &pp->mu);
	pp->count[pp->fill] = 0;
	failed = pp->failed;
	pthread_mutex_unlock(&pp->mu);
	return failed ? -1 : 0;
}

static int pipe_start(struct pipe *pp, struct enc *e)
{
	memset(pp, 0, sizeof(*pp));
	pp->e = e;
	pp->rows[0] = malloc(PIPE_ROWS * sizeof(struct pipe_row));
	pp->rows[1] = malloc(PIPE_ROWS * sizeof(struct pipe_row));
	if (pp->rows[0] == NULL || pp->rows[1] == NULL)
		return 0; /* encode inline */
	pthread_mutex_init(&pp->mu, NULL);
	pthread_cond_init(&pp->cv, NULL);
	pp->walk_err.code = SIGNET_OK;
	{
		struct signet_err *mine = e->err;
		e->err = &pp->enc_err;
		pp->started = pthread_create(&pp->tid, NULL, pipe_encoder, pp) == 0;
		if (!pp->started) {
			e->err = mine;
			pthread_mutex_destroy(&pp->mu);
			pthread_cond_destroy(&pp->cv);
		}
	}
	return pp->started;
}

/* Encodes what is left and stops the encoder; -1 when it failed. */
static int pipe_finish(struct pipe *pp, struct signet_err *err)
{
	int rc = 0;

	if (pp->started) {
		int failed;
		pthread_mutex_lock(&pp->mu);
		failed = pp->failed;
		pthread_mutex_unlock(&pp->mu);
		if (pp->count[pp->fill] > 0 && !failed)
			(void)pipe_hand_off(pp);
		pthread_mutex_lock(&pp->mu);
		pp->done = 1;
		pthread_cond_broadcast(&pp->cv);
		pthread_mutex_unlock(&pp->mu);
		pthread_join(pp->tid, NULL);
		pthread_mutex_destroy(&pp->mu);
		pthread_cond_destroy(&pp->cv);
		pp->e->err = err;
		if (pp->e->failed) {
			*err = pp->enc_err;
			rc = -1;
		} else if (pp->walk_err.code != SIGNET_OK) {
			*err = pp->walk_err;
			rc = -1;
		}
	}
	free(pp->rows[0]);
	free(pp->rows[1]);
	return rc;
}

static int on_revoked(const struct signet_revoked *r, void *ctx)
{
	struct pipe *pp = ctx;
	struct enc *e = pp->e;
	struct pipe_row *row;
	size_t n;

	if (e->base != NULL) {
		long i = base_find(e, r->serial);
		if (i >= 0) {
			e->base_seen[i] = 1;
			/* Unchanged since the base: not part of the delta. */
			if (e->base_reason[i] == (unsigned char)r->reason)
				return 0;
		}
	}
	if (!pp->started) {
		if (enc_entry(e, r->serial, r->revoked_at, r->reason, r->invalidity_date) < 0) {
			e->failed = 1;
			return 1;
		}
		return 0;
	}
	n = strlen(r->serial);
	if (n >= PIPE_SERIAL) {
		signet_err_set(&pp->walk_err, SIGNET_E_DB,
			       "database serial '%.40s...' is too long for a CRL entry", r->serial);
		return 1;
	}
	row = &pp->rows[pp->fill][pp->count[pp->fill]++];
	memcpy(row->serial, r->serial, n + 1);
	row->reason = r->reason;
	row->revoked_at = r->revoked_at;
	row->invalidity = r->invalidity_date;
	if (pp->count[pp->fill] == PIPE_ROWS && pipe_hand_off(pp) < 0)
		return 1;
	return 0;
}

static void enc_free(struct enc *e)
{
	for (int i = 0; i < N_REASONS; i++) {
		X509_EXTENSION_free(e->reason_ext[i]);
		OPENSSL_free(e->reason_der[i]);
	}
	for (size_t i = 0; i < e->n_base; i++)
		free(e->base[i]);
	free(e->base);
	free(e->base_reason);
	free(e->base_seen);
	ASN1_INTEGER_free(e->serial);
	ASN1_TIME_free(e->time);
	free(e->out.p);
}

static int enc_init(struct enc *e, struct signet_err *err)
{
	int rc = -1;
	ASN1_ENUMERATED *en = NULL;

	e->err = err;
	e->serial = ASN1_INTEGER_new();
	e->time = ASN1_TIME_new();
	en = ASN1_ENUMERATED_new();
	ENSURE(e->serial && e->time && en, err, SIGNET_E_INTERNAL, "out of memory");
	for (int i = 1; i < N_REASONS; i++) {
		STACK_OF(X509_EXTENSION) *one = NULL;
		if (reason_names[i] == NULL)
			continue;
		ENSURE_OSSL(ASN1_ENUMERATED_set(en, i), err, SIGNET_E_INTERNAL,
			    "cannot encode reason code");
		e->reason_ext[i] = X509V3_EXT_i2d(NID_crl_reason, 0, en);
		ENSURE_OSSL(e->reason_ext[i] != NULL, err, SIGNET_E_INTERNAL,
			    "cannot encode reason code");
		one = sk_X509_EXTENSION_new_null();
		ENSURE(one != NULL && sk_X509_EXTENSION_push(one, e->reason_ext[i]), err,
		       SIGNET_E_INTERNAL, "out of memory");
		e->reason_len[i] = i2d_X509_EXTENSIONS(one, &e->reason_der[i]);
		sk_X509_EXTENSION_free(one);
		ENSURE_OSSL(e->reason_len[i] > 0, err, SIGNET_E_INTERNAL,
			    "cannot encode reason code");
	}
	rc = 0;
out:
	ASN1_ENUMERATED_free(en);
	return rc;
}

/* Loads the base CRL of a delta: checks it is ours and complete, and
 * keeps its serials sorted with their reasons. */
static int load_base(struct enc *e, const struct signet_crl_opts *o, int64_t *base_number,
		     struct signet_err *err)
{
	const unsigned char *p = o->base_der;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)o->base_len);
	ASN1_INTEGER *num = NULL;
	STACK_OF(X509_REVOKED) *rev;
	EVP_PKEY *pub = X509_get0_pubkey(o->issuer);
	int rc = -1, crit = 0;
	void *delta = NULL;

	ENSURE_OSSL(crl != NULL, err, SIGNET_E_PARSE, "the base CRL is not a DER CRL");
	ENSURE_OSSL(pub != NULL && X509_CRL_verify(crl, pub) == 1, err, SIGNET_E_SIG,
		    "the base CRL is not signed by this CA");
	delta = X509_CRL_get_ext_d2i(crl, NID_delta_crl, &crit, NULL);
	ENSURE(delta == NULL, err, SIGNET_E_PARSE,
	       "the base CRL is itself a delta CRL; a delta needs a complete CRL as base");
	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL);
	ENSURE(num != NULL, err, SIGNET_E_PARSE, "the base CRL has no cRLNumber");
	*base_number = (int64_t)ASN1_INTEGER_get(num);
	rev = X509_CRL_get_REVOKED(crl);
	e->n_base = 0;
	if (sk_X509_REVOKED_num(rev) > 0) {
		size_t n = (size_t)sk_X509_REVOKED_num(rev);
		e->base = calloc(n, sizeof(*e->base));
		e->base_reason = calloc(n, 1);
		e->base_seen = calloc(n, 1);
		ENSURE(e->base && e->base_reason && e->base_seen, err, SIGNET_E_INTERNAL,
		       "out of memory");
		for (size_t i = 0; i < n; i++) {
			char hex[128];
			signet_serial_hex(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(rev, (int)i)),
					  hex, sizeof(hex));
			e->base[i] = malloc(strlen(hex) + 2);
			ENSURE(e->base[i] != NULL, err, SIGNET_E_INTERNAL, "out of memory");
			e->n_base++;
			memcpy(e->base[i], hex, strlen(hex) + 1);
		}
		qsort(e->base, n, sizeof(*e->base), cmp_str);
		/* Reasons: looked up again by serial once sorted. */
		for (size_t i = 0; i < n; i++) {
			X509_REVOKED *r = sk_X509_REVOKED_value(rev, (int)i);
			char hex[128];
			ASN1_ENUMERATED *re = X509_REVOKED_get_ext_d2i(r, NID_crl_reason, &crit, NULL);
			long at;
			signet_serial_hex(X509_REVOKED_get0_serialNumber(r), hex, sizeof(hex));
			at = base_find(e, hex);
			if (at >= 0)
				e->base_reason[at] = (unsigned char)(re ? ASN1_ENUMERATED_get(re) : 0);
			ASN1_ENUMERATED_free(re);
		}
	}
	rc = 0;
out:
	ASN1_INTEGER_free(num);
	X509_CRL_free(crl);
	return rc;
}

/* The CRL extensions: authorityKeyIdentifier, cRLNumber, and for a delta
 * the critical deltaCRLIndicator; DER of the [0] EXPLICIT wrapper. */
static int crl_extensions(const struct signet_crl_opts *o, int64_t number, int64_t base,
			  unsigned char **der, int *len, struct signet_err *err)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	AUTHORITY_KEYID *aki = AUTHORITY_KEYID_new();
	ASN1_INTEGER *num = ASN1_INTEGER_new(), *bnum = NULL;
	const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(o->issuer);
	unsigned char md[EVP_MAX_MD_SIZE], *inner = NULL, *p;
	unsigned int mdlen = 0;
	int ilen, rc = -1;

	ENSURE(aki && num, err, SIGNET_E_INTERNAL, "out of memory");
	if (skid != NULL) {
		aki->keyid = ASN1_OCTET_STRING_dup(skid);
	} else {
		ENSURE_OSSL(X509_pubkey_digest(o->issuer, EVP_sha1(), md, &mdlen), err,
			    SIGNET_E_INTERNAL, "cannot compute the issuer's key id");
		aki->keyid = ASN1_OCTET_STRING_new();
		if (aki->keyid != NULL)
			ASN1_OCTET_STRING_set(aki->keyid, md, (int)mdlen);
	}
	ENSURE(aki->keyid != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	ENSURE_OSSL(ASN1_INTEGER_set_int64(num, number), err, SIGNET_E_INTERNAL,
		    "cannot encode cRLNumber");
	ENSURE_OSSL(X509V3_add1_i2d(&exts, NID_authority_key_identifier, aki, 0,
				    X509V3_ADD_DEFAULT) == 1 &&
			    X509V3_add1_i2d(&exts, NID_crl_number, num, 0, X509V3_ADD_DEFAULT) == 1,
		    err, SIGNET_E_INTERNAL, "cannot encode CRL extensions");
	if (base > 0) {
		bnum = ASN1_INTEGER_new();
		ENSURE_OSSL(bnum && ASN1_INTEGER_set_int64(bnum, base) &&
				    X509V3_add1_i2d(&exts, NID_delta_crl, bnum, 1,
						    X509V3_ADD_DEFAULT) == 1,
			    err, SIGNET_E_INTERNAL, "cannot encode deltaCRLIndicator");
	}
	ilen = i2d_X509_EXTENSIONS(exts, &inner);
	ENSURE_OSSL(ilen > 0, err, SIGNET_E_INTERNAL, "cannot encode CRL extensions");
	*len = ASN1_object_size(1, ilen, 0);
	*der = OPENSSL_malloc((size_t)*len);
	ENSURE(*der != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	p = *der;
	ASN1_put_object(&p, 1, ilen, 0, V_ASN1_CONTEXT_SPECIFIC);
	memcpy(p, inner, (size_t)ilen);
	rc = 0;
out:
	OPENSSL_free(inner);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	AUTHORITY_KEYID_free(aki);
	ASN1_INTEGER_free(num);
	ASN1_INTEGER_free(bnum);
	return rc;
}

int signet_crl_build(const struct signet_crl_opts *o, unsigned char **der, size_t *len,
		     struct signet_crl_info *info, struct signet_err *err)
{
	struct enc e;
	EVP_MD_CTX *mctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	OSSL_PARAM params[2];
	unsigned char aid[128], *ext = NULL, *name = NULL, *tu = NULL, *nu = NULL;
	unsigned char *sig = NULL, *p;
	ASN1_TIME *t = NULL;
	size_t aidlen, siglen = 0, headroom, entries_len, pre, tbs_start, tbs_len;
	int ext_len = 0, name_len, tu_len, nu_len, rc = -1, tbs_hdr, rev_hdr, outer_hdr, bits_len;
	int64_t now = o->this_update ? o->this_update : (int64_t)time(NULL);
	int64_t validity = o->validity > 0 ? o->validity : CRL_DEFAULT_VALIDITY;
	int64_t number = o->number, base_number = 0;

	memset(&e, 0, sizeof(e));
	*der = NULL;
	*len = 0;
	ENSURE(o->issuer != NULL && o->key != NULL && o->db != NULL, err, SIGNET_E_INTERNAL,
	       "CRL generation needs the issuer certificate, its key and the database");
	ENSURE(X509_check_private_key(o->issuer, o->key) == 1, err, SIGNET_E_POLICY,
	       "the CRL signing key does not match the issuer certificate");
	ERR_clear_error();
	TRY(enc_init(&e, err));
	e.now = now;
	if (o->base_der != NULL)
		TRY(load_base(&e, o, &base_number, err));

	/* Everything that does not depend on the entries, first. */
	mctx = EVP_MD_CTX_new();
	ENSURE(mctx != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	ENSURE_OSSL(EVP_DigestSignInit(mctx, &pctx, signet_key_digest(o->key), NULL, o->key) == 1,
		    err, SIGNET_E_INTERNAL, "cannot start signing the CRL");
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, aid,
						      sizeof(aid));
	params[1] = OSSL_PARAM_construct_end();
	ENSURE_OSSL(EVP_PKEY_CTX_get_params(pctx, params) == 1 && params[0].return_size > 0 &&
			    params[0].return_size <= sizeof(aid),
		    err, SIGNET_E_INTERNAL, "the CA key's signature algorithm has no identifier");
	aidlen = params[0].return_size;
	name_len = i2d_X509_NAME(X509_get_subject_name(o->issuer), &name);
	t = ASN1_TIME_new();
	ENSURE(t != NULL && name_len > 0, err, SIGNET_E_INTERNAL, "cannot encode the issuer name");
	ENSURE_OSSL(ASN1_TIME_set(t, (time_t)now) != NULL &&
			    (tu_len = i2d_ASN1_TIME(t, &tu)) > 0 &&
			    ASN1_TIME_set(t, (time_t)(now + validity)) != NULL &&
			    (nu_len = i2d_ASN1_TIME(t, &nu)) > 0,
		    err, SIGNET_E_INTERNAL, "cannot encode the CRL's update times");

	/* The entries, into the buffer after a headroom for the TBS header. */
	headroom = CRL_HEADROOM_MIN + (size_t)name_len + aidlen + (size_t)tu_len + (size_t)nu_len;
	TRY(buf_reserve(&e.out, headroom, err));
	e.out.len = headroom;
	{
		struct pipe pp;
		int walk;
		(void)pipe_start(&pp, &e);
		walk = signet_db_each_revoked(o->db, o->issuer_id, on_revoked, &pp, err);
		if (pipe_finish(&pp, err) < 0)
			goto out;
		if (walk != 0) {
			if (!e.failed && err->code == SIGNET_OK)
				signet_err_set(err, SIGNET_E_DB, "reading revocations failed");
			goto out;
		}
	}
	for (size_t i = 0; i < e.n_base; i++) {
		/* In the base, revoked no more: released from hold. */
		if (!e.base_seen[i] &&
		    enc_entry(&e, e.base[i], now, SIGNET_REASON_REMOVE_FROM_CRL, 0) < 0)
			goto out;
	}
	entries_len = e.out.len - headroom;

	/* The number last, so a failure above does not burn one. */
	if (number <= 0)
		TRY(signet_db_counter_next(o->db, "crl_number", &number, err));
	ENSURE(base_number == 0 || number > base_number, err, SIGNET_E_POLICY,
	       "the base CRL's number %lld is not below the next number %lld",
	       (long long)base_number, (long long)number);
	TRY(crl_extensions(o, number, base_number, &ext, &ext_len, err));
	TRY(buf_reserve(&e.out, (size_t)ext_len, err));
	memcpy(e.out.p + e.out.len, ext, (size_t)ext_len);
	e.out.len += (size_t)ext_len;

	/* TBSCertList header, written backwards into the headroom. */
	rev_hdr = entries_len ? ASN1_object_size(1, (int)entries_len, V_ASN1_SEQUENCE) -
					(int)entries_len
			      : 0;
	ENSURE(entries_len < 0x7fffff00u, err, SIGNET_E_POLICY, "the CRL is too large");
	pre = 3 + aidlen + (size_t)name_len + (size_t)tu_len + (size_t)nu_len + (size_t)rev_hdr;
	tbs_len = pre + entries_len + (size_t)ext_len;
	tbs_hdr = ASN1_object_size(1, (int)tbs_len, V_ASN1_SEQUENCE) - (int)tbs_len;
	tbs_start = headroom - pre - (size_t)tbs_hdr;
	p = e.out.p + tbs_start;
	ASN1_put_object(&p, 1, (int)tbs_len, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
	*p++ = 0x02, *p++ = 0x01, *p++ = 0x01; /* version v2 (INTEGER 1) */
	memcpy(p, aid, aidlen), p += aidlen;
	memcpy(p, name, (size_t)name_len), p += name_len;
	memcpy(p, tu, (size_t)tu_len), p += tu_len;
	memcpy(p, nu, (size_t)nu_len), p += nu_len;
	if (entries_len)
		ASN1_put_object(&p, 1, (int)entries_len, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
	tbs_len += (size_t)tbs_hdr;

	/* Sign the TBS bytes in place. */
	ENSURE_OSSL(EVP_DigestSign(mctx, NULL, &siglen, e.out.p + tbs_start, tbs_len) == 1, err,
		    SIGNET_E_INTERNAL, "cannot sign the CRL");
	sig = OPENSSL_malloc(siglen + 1);
	ENSURE(sig != NULL, err, SIGNET_E_INTERNAL, "out of memory");
	ENSURE_OSSL(EVP_DigestSign(mctx, sig + 1, &siglen, e.out.p + tbs_start, tbs_len) == 1,
		    err, SIGNET_E_INTERNAL, "cannot sign the CRL");
	sig[0] = 0; /* BIT STRING: no unused bits */
	bits_len = ASN1_object_size(0, (int)siglen + 1, V_ASN1_BIT_STRING);
	outer_hdr = ASN1_object_size(1, (int)(tbs_len + aidlen) + bits_len, V_ASN1_SEQUENCE) -
		    (int)(tbs_len + aidlen) - bits_len;
	ENSURE((size_t)outer_hdr <= tbs_start, err, SIGNET_E_INTERNAL, "CRL headroom too small");
	TRY(buf_reserve(&e.out, aidlen + (size_t)bits_len, err));
	p = e.out.p + e.out.len;
	memcpy(p, aid, aidlen), p += aidlen;
	ASN1_put_object(&p, 0, (int)siglen + 1, V_ASN1_BIT_STRING, V_ASN1_UNIVERSAL);
	memcpy(p, sig, siglen + 1);
	e.out.len += aidlen + (size_t)bits_len;
	p = e.out.p + tbs_start - outer_hdr;
	ASN1_put_object(&p, 1, (int)(tbs_len + aidlen) + bits_len, V_ASN1_SEQUENCE,
			V_ASN1_UNIVERSAL);

	*len = e.out.len - (tbs_start - (size_t)outer_hdr);
	memmove(e.out.p, e.out.p + tbs_start - outer_hdr, *len);
	*der = e.out.p;
	e.out.p = NULL;
	if (info != NULL) {
		info->number = number;
		info->base_number = base_number;
		info->entries = e.n;
	}
	rc = 0;
out:
	OPENSSL_free(sig);
	OPENSSL_free(ext);
	OPENSSL_free(name);
	OPENSSL_free(tu);
	OPENSSL_free(nu);
	ASN1_TIME_free(t);
	EVP_MD_CTX_free(mctx);
	enc_free(&e);
	ERR_clear_error();
	return rc;
}
