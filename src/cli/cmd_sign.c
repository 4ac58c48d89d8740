/*
 * cmd_sign.c - `signet sign`: issue certificates from CSRs.
 *
 * A batch is one database transaction: every certificate is recorded and
 * the commit is durable before any file is written, and a bad CSR anywhere
 * in the batch aborts all of it.  Output files of a batch are written
 * without per-file fsync, then synced together (syncfs) before the
 * directory is synced, which keeps batches fast without weakening the
 * guarantee that what is reported written is on disk.
 *
 * A batch of THREADED_BATCH CSRs or more runs as a pipeline:
 *   main thread   reads every CSR file (all of them before the passphrase
 *                 is asked for), opens and unlocks the CA, then records
 *                 each signed job in CSR order and gathers the output;
 *   one thread    per core: parses each CSR and checks its signature
 *                 (from the start: that needs no CA, and it is most of
 *                 the work), then, once the CA is open, builds and signs
 *                 through its own signet_issuer and PEM-encodes.
 * Then the commit, and only then the output.
 */
#include "ca_open.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <sched.h>
#include <signet/buf.h>
#include <signet/cert.h>
#include <signet/csr.h>
#include <signet/file.h>
#include <signet/name.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

static const char usage[] =
	"usage: signet sign CSR... --profile server|client|peer|sub-ca [options]\n"
	"\n"
	"Issues certificates from PKCS#10 requests after checking their signature\n"
	"(proof of possession), key strength and the profile; records each in the\n"
	"CA database before writing it out.\n"
	"\n"
	"  --profile P       server, client, peer (both) or sub-ca (required)\n"
	"  --days N          validity in days (default: the CA's default_days, 365)\n"
	"  --san LIST        SANs to certify instead of the CSR's (dns:, ip:, email:, uri:)\n"
	"  --out FILE        write the certificate here (default: stdout); with several\n"
	"                    CSRs, all certificates in the order of the CSRs, as\n"
	"                    `openssl ca -infiles` does\n"
	"  --chain FILE      also write the chain (certificate + intermediates) here\n"
	"                    (one CSR only)\n"
	"  --out-dir DIR     for each CSR X.csr write DIR/X.crt and DIR/X.chain.pem\n"
	"  --name LABEL      record label (default: the CSR file name without .csr)\n"
	"  --issuer WHO      intermediate (default when present) or root\n"
	"  --dir DIR         CA directory (default: $SIGNET_DIR, else ./signet-ca)\n"
	"  --pass-file FILE  CA key passphrase (also $SIGNET_PASS_FILE)\n";

/* From this many CSRs on, a batch is signed on several threads. */
#define THREADED_BATCH 64
/* At most this many CSRs are checked before the CA is open, so that a
 * huge batch waiting for a passphrase at a prompt does not hold a decoded
 * request and key for every CSR (a few KiB each). */
#define AHEAD_MAX 2048

/* A job is kept small (its failure goes to the pool, its stem is
 * allocated): a batch's jobs are allocated and touched before anything
 * else starts, so each KiB per job costs a page fault every four CSRs. */
struct job {
	const char *path;
	char *stem;          /* the file name without directory or .csr */
	unsigned char *data; /* the CSR file */
	EVP_PKEY *key;       /* the CSR's public key */
	size_t len;
	X509_REQ *req;
	X509 *cert;
	struct signet_record rec; /* cert's database record, made by the worker */
	char *pem;                /* rec.der as PEM, made by the worker (batches) */
	size_t pem_len;
	int state;                /* JOB_NEW .. JOB_BAD (atomic) */
	int done;                 /* phase 1 finished with it (atomic) */
};

/* The main thread reads every CSR file first (JOB_READ), then opens the
 * CA.  A job's CSR is parsed and its signature checked (job_check) once,
 * by whichever thread claims it first: ahead of time while the files are
 * read and the CA is opened, or when it is signed. */
enum { JOB_NEW, JOB_READ, JOB_CHECKING, JOB_CHECKED, JOB_BAD };

/* What the workers share; each takes the next job not yet taken.  Phase 1
 * signs, while the main thread records the signed jobs in order; phase 2,
 * after the batch is committed, writes the files.  Phase 1's threads start
 * before the CA is open, and until it is (ca_ready), they check CSRs
 * ahead: the signature check is most of the work and needs no CA. */
struct pool {
	struct signet_ca *ca;
	const struct signet_sign_req *tmpl;
	struct job *jobs;
	int njobs, nthreads, failed, phase;
	pthread_t tids[16];
	int nstarted;       /* threads running */
	int ca_ready;       /* ca and tmpl are set: sign (atomic) */
	int ahead;          /* the next job to check ahead of time */
	int next;           /* the next job to take */
	int waiting;        /* 1 + the job the recorder sleeps for, or 0 (atomic) */
	pthread_mutex_t mu; /* taken to wake the recorder */
	pthread_cond_t cv;  /* a job is done, or failed was set */
	const char *out_dir;
	char *chain_pem; /* the PEM that follows each certificate in its chain file */
	size_t chain_len;
	const char *label;
	int bundle;         /* all certificates go to one output, in order: */
	struct signet_buf out; /* their PEM, gathered as they are recorded */
	int fail_job;       /* the first job that failed (under mu), or INT_MAX */
	struct signet_err fail_err; /* its error */
};

/* Keeps job i's error e (when e is given) if no earlier job has failed:
 * the batch reports the first failure in the order of the CSRs, whichever
 * thread saw it.  With stop, also fails the pool and wakes the recorder. */
static void job_error(struct pool *p, int i, const struct signet_err *e, int stop)
{
	pthread_mutex_lock(&p->mu);
	if (e != NULL && i < p->fail_job) {
		p->fail_job = i;
		p->fail_err = *e;
	}
	if (stop) {
		__atomic_store_n(&p->failed, 1, __ATOMIC_SEQ_CST);
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
}

/* Fails the pool; the error is elsewhere (a job's, or the caller's). */
static void pool_fail(struct pool *p)
{
	job_error(p, INT_MAX, NULL, 1);
}

/* Marks job i done and wakes the recorder if it sleeps waiting for that
 * very job.  The flag and the done marks are sequentially consistent, so
 * either the worker sees the recorder waiting or the recorder sees the job
 * done. */
static void pool_done(struct pool *p, int i)
{
	__atomic_store_n(&p->jobs[i].done, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&p->waiting, __ATOMIC_SEQ_CST) == i + 1) {
		pthread_mutex_lock(&p->mu);
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
}

static int job_done(struct pool *p, int i)
{
	return __atomic_load_n(&p->jobs[i].done, __ATOMIC_SEQ_CST);
}

/* Waits until job i is done or the pool failed; returns failed.  When it
 * must sleep, it sleeps until the last unfinished job of the next 32 is
 * done, so that the recorder wakes once for a run of jobs rather than for
 * each one (a wake-up per job cost more than recording it). */
static int pool_wait(struct pool *p, int i)
{
	int failed = 0;

	if (job_done(p, i))
		return 0;
	pthread_mutex_lock(&p->mu);
	while (!job_done(p, i) && !(failed = __atomic_load_n(&p->failed, __ATOMIC_SEQ_CST))) {
		int t = i + 32 < p->njobs ? i + 32 : p->njobs - 1;
		while (t > i && job_done(p, t))
			t--;
		__atomic_store_n(&p->waiting, t + 1, __ATOMIC_SEQ_CST);
		if (!job_done(p, t) && !__atomic_load_n(&p->failed, __ATOMIC_SEQ_CST))
			pthread_cond_wait(&p->cv, &p->mu);
		__atomic_store_n(&p->waiting, 0, __ATOMIC_SEQ_CST);
	}
	pthread_mutex_unlock(&p->mu);
	return job_done(p, i) ? 0 : failed;
}

/* DIR/STEM.crt and DIR/STEM.chain.pem, unsynced: the caller syncs the
 * file system once for the batch. */
static int write_job(struct pool *p, struct job *j, struct signet_err *err)
{
	char crt[4096], chn[4096], f1[300], f2[310];
	char *nb;
	int rc = -1;

	snprintf(f1, sizeof(f1), "%s.crt", j->stem);
	snprintf(f2, sizeof(f2), "%s.chain.pem", j->stem);
	if (signet_path_join(crt, sizeof(crt), p->out_dir, f1, err) < 0 ||
	    signet_path_join(chn, sizeof(chn), p->out_dir, f2, err) < 0 ||
	    signet_file_write(crt, j->pem, j->pem_len, 0644, SIGNET_WRITE_NOSYNC, err) < 0)
		goto out;
	nb = realloc(j->pem, j->pem_len + p->chain_len + 1);
	if (nb == NULL) {
		signet_err_set(err, SIGNET_E_INTERNAL, "out of memory");
		goto out;
	}
	j->pem = nb;
	memcpy(j->pem + j->pem_len, p->chain_pem, p->chain_len);
	if (signet_file_write(chn, j->pem, j->pem_len + p->chain_len, 0644, SIGNET_WRITE_NOSYNC,
			      err) < 0)
		goto out;
	rc = 0;
out:
	free(j->pem);
	j->pem = NULL;
	return rc;
}

/* Parses job j's CSR and checks its signature (proof of possession): all
 * of a job that needs no CA.  The request's key is made when the job is
 * signed.  Then sets j->state to JOB_CHECKED or JOB_BAD, after which other
 * threads may take the job. */
static void job_check(struct pool *p, int i, struct signet_csr_checker *ck)
{
	struct job *j = &p->jobs[i];
	struct signet_err e;

	signet_err_clear(&e);
	j->req = signet_csr_parse_checked(ck, j->data, j->len, j->path, &e);
	if (j->req == NULL)
		job_error(p, i, &e, 0);
	__atomic_store_n(&j->state, j->req != NULL ? JOB_CHECKED : JOB_BAD, __ATOMIC_RELEASE);
}

/* Claims job j for checking if it is read and nobody has claimed it. */
static int job_claim(struct job *j)
{
	int expect = JOB_READ;

	return __atomic_compare_exchange_n(&j->state, &expect, JOB_CHECKING, 0, __ATOMIC_ACQ_REL,
					   __ATOMIC_ACQUIRE);
}

static int ca_ready(struct pool *p)
{
	return __atomic_load_n(&p->ca_ready, __ATOMIC_ACQUIRE);
}

/* Before the CA is open: checks the next job the main thread has read
 * (waiting a little when it is not read yet), or, when there is none left
 * (or AHEAD_MAX are checked), sleeps until the CA is ready or the batch is
 * abandoned. */
static void check_ahead(struct pool *p, struct signet_csr_checker *ck)
{
	int k = __atomic_load_n(&p->ahead, __ATOMIC_RELAXED);

	if (k < p->njobs && k < AHEAD_MAX) {
		struct job *j = &p->jobs[k];
		/* Not read yet: nap, 20 us at first and longer (up to 1 ms)
		 * while the disk keeps the main thread waiting. */
		for (long ns = 20000; __atomic_load_n(&j->state, __ATOMIC_ACQUIRE) == JOB_NEW &&
				      !__atomic_load_n(&p->failed, __ATOMIC_SEQ_CST);
		     ns = ns < 500000 ? ns * 2 : 1000000) {
			struct timespec ts = { 0, ns };
			nanosleep(&ts, NULL);
		}
		if (__atomic_load_n(&j->state, __ATOMIC_ACQUIRE) == JOB_NEW)
			return; /* the batch was abandoned */
		if (__atomic_compare_exchange_n(&p->ahead, &k, k + 1, 0, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED) &&
		    job_claim(j))
			job_check(p, k, ck);
		return;
	}
	pthread_mutex_lock(&p->mu);
	while (!ca_ready(p) && !__atomic_load_n(&p->failed, __ATOMIC_SEQ_CST))
		pthread_cond_wait(&p->cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

/* Phase 1 checks, builds and signs (the CPU-heavy part) in parallel;
 * recording stays on the main thread, in one transaction, and overlaps the
 * signing.  Phase 2 writes the files of the committed batch in parallel. */
static void *sign_worker(void *arg)
{
	struct pool *p = arg;
	EVP_PKEY *spare = NULL; /* the last job's key, reused for the next one */
	struct signet_issuer *is = NULL;
	struct signet_csr_checker *ck = signet_csr_checker_new(); /* NULL: checked the slow way */

	for (;;) {
		int i;
		struct job *j;
		struct signet_sign_req sr;
		struct signet_err e;

		if (__atomic_load_n(&p->failed, __ATOMIC_RELAXED))
			break;
		if (p->phase == 1 && !ca_ready(p)) {
			check_ahead(p, ck);
			continue;
		}
		i = __atomic_fetch_add(&p->next, 1, __ATOMIC_RELAXED);
		if (i >= p->njobs)
			break;
		j = &p->jobs[i];
		signet_err_clear(&e);
		if (p->phase == 2) {
			if (write_job(p, j, &e) < 0) {
				job_error(p, i, &e, 1);
				break;
			}
			continue;
		}
		if (job_claim(j))
			job_check(p, i, ck);
		else /* checked ahead, or still being checked by another thread */
			while (__atomic_load_n(&j->state, __ATOMIC_ACQUIRE) == JOB_CHECKING)
				sched_yield();
		if (__atomic_load_n(&j->state, __ATOMIC_ACQUIRE) == JOB_BAD) {
			pool_fail(p);
			break;
		}
		if (j->key == NULL) {
			j->key = signet_csr_key(j->req, spare);
			spare = NULL;
			if (j->key == NULL) {
				signet_err_set(&e, SIGNET_E_PARSE,
					       "%s: CSR public key cannot be decoded", j->path);
				job_error(p, i, &e, 1);
				break;
			}
		}
		sr = *p->tmpl;
		sr.csr = j->req;
		sr.csr_key = j->key;
		sr.csr_verified = 1;
		sr.name = p->label ? p->label : j->stem;
		if (is == NULL)
			is = signet_issuer_new(p->ca, &e);
		j->cert = is == NULL ? NULL : signet_ca_issue(p->ca, &sr, is, &j->rec, &e);
		/* A batch's output is the record's DER as PEM, encoded here
		 * rather than on the main thread after the commit. */
		if (j->cert != NULL && p->njobs > 1 &&
		    signet_pem_encode(PEM_STRING_X509, j->rec.der, j->rec.der_len, &j->pem,
				      &j->pem_len, &e) < 0) {
			X509_free(j->cert);
			j->cert = NULL;
		}
		if (j->cert == NULL) {
			signet_err_prefix(&e, "%s", j->path);
			job_error(p, i, &e, 1);
			break;
		}
		if (p->njobs > 1) {
			/* What is written out comes from the record; memory freed
			 * here is reused for the next jobs (fewer page faults). */
			X509_free(j->cert);
			X509_REQ_free(j->req);
			EVP_PKEY_free(spare);
			spare = j->key;
			j->cert = NULL;
			j->req = NULL;
			j->key = NULL;
		}
		pool_done(p, i);
	}
	EVP_PKEY_free(spare);
	signet_issuer_free(is);
	signet_csr_checker_free(ck);
	return NULL;
}

/* Appends job j's PEM to the batch's single output (and frees it there),
 * so that the output is whole when the batch is committed. */
static int bundle_add(struct pool *p, struct job *j, struct signet_err *err)
{
	/* Room for every certificate at once, by the size of the first. */
	if (signet_buf_append(&p->out, j->pem, j->pem_len,
			      (size_t)p->njobs * (j->pem_len + 64)) < 0)
		return signet_err_set(err, SIGNET_E_INTERNAL, "out of memory");
	free(j->pem);
	j->pem = NULL;
	return 0;
}

/* Records each signed job in CSR order as the workers finish them, in the
 * open transaction.  Returns 0, -1 with *err set when recording failed, or
 * 1 when a worker failed (its job holds the error). */
static int record_jobs(struct pool *p, struct signet_err *err)
{
	struct signet_sign_req sr = *p->tmpl;

	for (int i = 0; i < p->njobs; i++) {
		struct job *j = &p->jobs[i];

		if (pool_wait(p, i))
			return 1;
		sr.name = p->label ? p->label : j->stem;
		for (int attempt = 0; signet_ca_record_insert(p->ca, &j->rec, err) < 0; attempt++) {
			/* A serial collision (2^-112 odds within 4 s): sign again. */
			if (err->code != SIGNET_E_EXISTS || attempt >= 3)
				goto fail;
			X509_free(j->cert);
			signet_record_clear(&j->rec);
			if (j->req == NULL) /* freed by the worker: read it again */
				j->req = signet_csr_parse_key(j->data, j->len, j->path, &j->key, err);
			if (j->req == NULL)
				goto fail;
			sr.csr = j->req;
			sr.csr_key = j->key;
			j->cert = signet_ca_issue(p->ca, &sr, NULL, &j->rec, err);
			free(j->pem);
			j->pem = NULL;
			if (j->cert == NULL ||
			    signet_pem_encode(PEM_STRING_X509, j->rec.der, j->rec.der_len, &j->pem,
					      &j->pem_len, err) < 0)
				goto fail;
		}
		if (p->njobs > 1) {
			/* Recorded: of the job, only its PEM is still needed. */
			signet_record_clear(&j->rec);
			free(j->data);
			j->data = NULL;
		}
		if (p->bundle && bundle_add(p, j, err) < 0)
			goto fail;
	}
	return 0;
fail:
	pool_fail(p);
	return -1;
}

/* Starts the threads of the pool's phase (fewer if the system refuses
 * some).  Phase 1's threads check CSRs until pool_go; in phase 1 the
 * calling thread then records the jobs (record_jobs), in phase 2 it writes
 * too.  With one thread, phase 1 starts none: the calling thread signs
 * everything, then records. */
static void pool_start(struct pool *p)
{
	int spawn = p->phase == 1 && p->nthreads > 1 ? p->nthreads : p->nthreads - 1;

	p->next = 0;
	p->ahead = 0;
	p->failed = 0;
	p->nstarted = 0;
	while (p->nstarted < spawn &&
	       pthread_create(&p->tids[p->nstarted], NULL, sign_worker, p) == 0)
		p->nstarted++;
}

/* The CA is open and p->ca and p->tmpl set: phase 1's threads may sign. */
static void pool_go(struct pool *p)
{
	pthread_mutex_lock(&p->mu);
	__atomic_store_n(&p->ca_ready, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* Stops the pool's threads early (the batch failed before pool_go). */
static void pool_abandon(struct pool *p)
{
	if (p->nstarted == 0)
		return;
	pool_fail(p);
	for (int t = 0; t < p->nstarted; t++)
		pthread_join(p->tids[t], NULL);
	p->nstarted = 0;
}

/* Runs the started phase to its end.  On failure *err is the recording's
 * error, else the first failed job's. */
static int pool_finish(struct pool *p, struct signet_err *err)
{
	int rc = 0;

	pool_go(p);
	if (p->phase == 2 || p->nstarted == 0)
		sign_worker(p); /* the calling thread takes jobs too */
	if (p->phase == 1)
		rc = record_jobs(p, err) < 0 ? -1 : 0;
	for (int t = 0; t < p->nstarted; t++)
		pthread_join(p->tids[t], NULL);
	p->nstarted = 0;
	if (rc < 0 || !p->failed)
		return rc;
	if (p->fail_job != INT_MAX)
		*err = p->fail_err;
	return -1;
}

static int run_pool(struct pool *p, struct signet_err *err)
{
	pool_start(p);
	return pool_finish(p, err);
}

/* The file name of path without its directory or a .csr, .pem or .req
 * ending (at most 255 bytes), malloc'ed; NULL when out of memory. */
static char *stem_of(const char *path)
{
	char buf[4096], out[256];
	const char *b;
	char *dot;
	snprintf(buf, sizeof(buf), "%s", path);
	b = strcmp(path, "-") == 0 ? "stdin" : basename(buf);
	snprintf(out, sizeof(out), "%s", b);
	dot = strrchr(out, '.');
	if (dot != NULL && dot != out &&
	    (strcmp(dot, ".csr") == 0 || strcmp(dot, ".pem") == 0 || strcmp(dot, ".req") == 0))
		*dot = '\0';
	return strdup(out);
}

static int cmp_stem(const void *a, const void *b)
{
	return strcmp((*(const struct job *const *)a)->stem, (*(const struct job *const *)b)->stem);
}

/* Two CSRs with one stem (a/x.csr, b/x.csr) would write one DIR/x.crt
 * over the other after both were recorded: refuse the batch up front. */
static int check_stems(struct job *jobs, int njobs, struct signet_err *err)
{
	struct job **v = malloc((size_t)njobs * sizeof(*v));
	int rc = 0;
	if (v == NULL)
		return signet_err_set(err, SIGNET_E_INTERNAL, "out of memory");
	for (int i = 0; i < njobs; i++)
		v[i] = &jobs[i];
	qsort(v, (size_t)njobs, sizeof(*v), cmp_stem);
	for (int i = 1; i < njobs && rc == 0; i++)
		if (strcmp(v[i - 1]->stem, v[i]->stem) == 0)
			rc = signet_err_set(err, SIGNET_E_USAGE,
					    "%s and %s would both be written as %s.crt; "
					    "rename one or sign them separately",
					    v[i - 1]->path, v[i]->path, v[i]->stem);
	free(v);
	return rc;
}

/* The files --out-dir will get, checked before anything is signed: only
 * when the directory is the CA's own can they be CA files (a CSR named
 * root.csr would give root.crt), so only then is each one looked at. */
static int check_out_dir(const struct signet_ca *ca, const char *out_dir, struct job *jobs,
			 int njobs, struct signet_err *err)
{
	struct stat a, b;
	char path[4096], f[310];

	if (access(out_dir, W_OK | X_OK) != 0)
		return signet_err_set(err, SIGNET_E_IO, "%s: cannot write into it: %s", out_dir,
				      strerror(errno));
	if (stat(out_dir, &a) != 0 || stat(signet_ca_dir(ca), &b) != 0 || a.st_dev != b.st_dev ||
	    a.st_ino != b.st_ino)
		return 0;
	for (int i = 0; i < njobs; i++) {
		snprintf(f, sizeof(f), "%s.crt", jobs[i].stem);
		TRY(signet_path_join(path, sizeof(path), out_dir, f, err));
		TRY(signet_file_check_output(path, err));
		snprintf(f, sizeof(f), "%s.chain.pem", jobs[i].stem);
		TRY(signet_path_join(path, sizeof(path), out_dir, f, err));
		TRY(signet_file_check_output(path, err));
	}
	return 0;
out:
	return -1;
}

static int write_outputs(struct signet_ca *ca, X509 *cert, const char *out,
			 const char *chain, int flags, struct signet_err *err)
{
	char *pem = NULL;
	size_t len = 0;
	int rc = -1;

	TRY(signet_cert_pem_append(cert, &pem, &len, err));
	if (out != NULL)
		TRY(signet_file_write(out, pem, len, 0644, flags, err));
	if (chain != NULL) {
		TRY(signet_ca_chain_pem_append(ca, &pem, &len, err));
		TRY(signet_file_write(chain, pem, len, 0644, flags, err));
	}
	rc = 0;
out:
	free(pem);
	return rc;
}

/* A record's name (--name): what list shows and export and revoke take. */
static int label_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 255)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

int cmd_sign(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "profile", required_argument, NULL, 'P' },
		{ "days", required_argument, NULL, 'D' },
		{ "san", required_argument, NULL, 'a' },
		{ "out", required_argument, NULL, 'o' },
		{ "chain", required_argument, NULL, 'c' },
		{ "out-dir", required_argument, NULL, 'O' },
		{ "name", required_argument, NULL, 'n' },
		{ "issuer", required_argument, NULL, 'i' },
		{ "dir", required_argument, NULL, 'd' },
		{ "pass-file", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct signet_err err = { 0 };
	struct signet_sign_req sr;
	const char *profile = NULL, *out = NULL, *chain = NULL, *out_dir = NULL;
	const char *dir = NULL, *pass_file = NULL, *label = NULL;
	GENERAL_NAMES *sans = NULL;
	struct signet_ca *ca = NULL;
	struct job *jobs = NULL;
	struct pool pool = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
			     .fail_job = INT_MAX };
	int njobs = 0, c, rc = SIGNET_E_INTERNAL, use_root = 0, in_txn = 0, recorded = 0;
	int made_dir = 0;

	memset(&sr, 0, sizeof(sr));
	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	optind = 1;
	opterr = 0; /* cli_bad_option says it in one line */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'P':
			profile = optarg;
			break;
		case 'D':
			if (cli_parse_days(optarg, &sr.days) < 0) {
				rc = cli_usage_error("sign", "--days takes a number of days from 1 to 36500, "
						       "not '%s'",
						     optarg);
				goto out;
			}
			break;
		case 'a':
			if (signet_san_parse(optarg, &sans, &err) < 0) {
				rc = cli_fail("sign", &err);
				goto out;
			}
			break;
		case 'o':
			out = optarg;
			break;
		case 'c':
			chain = optarg;
			break;
		case 'O':
			out_dir = optarg;
			break;
		case 'n':
			label = optarg;
			if (!label_ok(label)) {
				rc = cli_usage_error("sign", "--name takes 1 to 255 printable "
							     "characters");
				goto out;
			}
			break;
		case 'i':
			if (strcmp(optarg, "root") == 0) {
				use_root = 1;
			} else if (strcmp(optarg, "intermediate") != 0) {
				rc = cli_usage_error("sign", "--issuer is root or intermediate");
				goto out;
			}
			break;
		case 'd':
			dir = optarg;
			break;
		case 'p':
			pass_file = optarg;
			break;
		default:
			rc = cli_bad_option("sign", argv);
			goto out;
		}
	}
	njobs = argc - optind;
	if (njobs == 0) {
		rc = cli_usage_error("sign", "no CSR given");
		goto out;
	}
	if (profile == NULL) {
		rc = cli_usage_error("sign", "--profile is required (server, client, peer, sub-ca)");
		goto out;
	}
	if (signet_profile_parse(profile, &sr.profile, &err) < 0) {
		rc = cli_fail("sign", &err);
		goto out;
	}
	if (njobs > 1 && chain != NULL) {
		rc = cli_usage_error("sign", "--chain applies to a single CSR; use --out-dir for "
					     "a chain file per CSR");
		goto out;
	}
	if (out_dir != NULL && (out != NULL || chain != NULL)) {
		rc = cli_usage_error("sign", "--out-dir excludes --out and --chain");
		goto out;
	}
	if (njobs > 1 && (label != NULL || sans != NULL)) {
		rc = cli_usage_error("sign", "--name and --san apply to a single CSR");
		goto out;
	}
	jobs = calloc((size_t)njobs, sizeof(*jobs));
	if (jobs == NULL) {
		signet_err_set(&err, SIGNET_E_INTERNAL, "out of memory");
		goto fail;
	}
	for (int i = 0; i < njobs; i++) {
		jobs[i].path = argv[optind + i];
		if ((jobs[i].stem = stem_of(jobs[i].path)) == NULL) {
			signet_err_set(&err, SIGNET_E_INTERNAL, "out of memory");
			goto fail;
		}
	}
	{
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		pool.tmpl = &sr;
		pool.jobs = jobs;
		pool.njobs = njobs;
		pool.label = label;
		/* Threads pay off from a few dozen CSRs; one thread below that. */
		pool.nthreads = njobs < THREADED_BATCH ? 1 : (int)(cpus < 1 ? 1 : cpus > 16 ? 16 : cpus);
		pool.phase = 1;
		pool.bundle = out_dir == NULL && njobs > 1;
	}
	/* A batch's threads start now and check CSRs while the files are
	 * read and the CA is opened (and its key decrypted). */
	pool_start(&pool);
	/* Every CSR is read before the passphrase is asked for: a missing file
	 * is named before the user types anything.  One thread reads while the
	 * others work, so that they never wait for the disk. */
	for (int i = 0; i < njobs; i++) {
		if (signet_file_read(jobs[i].path, &jobs[i].data, &jobs[i].len, &err) < 0)
			goto fail;
		__atomic_store_n(&jobs[i].state, JOB_READ, __ATOMIC_RELEASE);
	}
	if (out_dir != NULL && check_stems(jobs, njobs, &err) < 0)
		goto fail;
	if (out_dir != NULL) {
		made_dir = access(out_dir, F_OK) != 0;
		if (signet_dir_make(out_dir, 0755, &err) < 0)
			goto fail;
	}
	ca = cli_ca_open_unlocked("sign", dir, pass_file, use_root, &rc);
	if (ca == NULL)
		goto out;
	/* Where the certificates go is checked before any is signed: a
	 * certificate recorded but not written has to be exported again. */
	if ((out != NULL && signet_file_check_output(out, &err) < 0) ||
	    (chain != NULL && signet_file_check_output(chain, &err) < 0) ||
	    (out_dir != NULL && check_out_dir(ca, out_dir, jobs, njobs, &err) < 0))
		goto fail;

	sr.sans = sans;
	pool.ca = ca;
	if (signet_db_begin(signet_ca_db(ca), &err) < 0)
		goto fail;
	in_txn = 1;
	if (pool_finish(&pool, &err) < 0)
		goto fail;
	if (signet_db_commit(signet_ca_db(ca), &err) < 0)
		goto fail;
	in_txn = 0;
	recorded = 1;
	if (pool.bundle) {
		/* Several CSRs without --out-dir: every certificate, in the order
		 * of the CSRs, in one file (written atomically, once) or on
		 * stdout.  Each PEM is the recorded DER: what the database holds
		 * is written. */
		if (signet_file_write(out ? out : "-", pool.out.p, pool.out.len, 0644, 0, &err) < 0)
			goto fail;
	} else if (out_dir == NULL) {
		if (write_outputs(ca, jobs[0].cert, out ? out : (chain ? NULL : "-"), chain, 0,
				  &err) < 0)
			goto fail;
	} else if (njobs == 1) {
		char crt[4096], chn[4096], f1[300], f2[310];
		snprintf(f1, sizeof(f1), "%s.crt", jobs[0].stem);
		snprintf(f2, sizeof(f2), "%s.chain.pem", jobs[0].stem);
		if (signet_path_join(crt, sizeof(crt), out_dir, f1, &err) < 0 ||
		    signet_path_join(chn, sizeof(chn), out_dir, f2, &err) < 0 ||
		    write_outputs(ca, jobs[0].cert, crt, chn, 0, &err) < 0)
			goto fail;
	} else {
		if (signet_ca_chain_pem_append(ca, &pool.chain_pem, &pool.chain_len, &err) < 0)
			goto fail;
		pool.phase = 2;
		pool.out_dir = out_dir;
		if (run_pool(&pool, &err) < 0)
			goto fail;
		{
			int fd = open(out_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd < 0 || syncfs(fd) != 0) {
				signet_err_set(&err, SIGNET_E_IO, "%s: sync failed: %s", out_dir,
					       strerror(errno));
				if (fd >= 0)
					close(fd);
				goto fail;
			}
			close(fd);
			if (signet_dir_sync(out_dir, &err) < 0)
				goto fail;
		}
	}
	if (out_dir != NULL)
		fprintf(stderr, "signet sign: issued %d certificate%s into %s\n", njobs,
			njobs == 1 ? "" : "s", out_dir);
	else if (njobs > 1)
		fprintf(stderr, "signet sign: issued %d certificates to %s\n", njobs,
			out != NULL && strcmp(out, "-") != 0 ? out : "stdout");
	rc = 0;
	goto out;
fail:
	if (recorded && njobs == 1) {
		char serial[64];
		signet_serial_hex(X509_get0_serialNumber(jobs[0].cert), serial, sizeof(serial));
		signet_err_prefix(&err, "certificate %s is issued and recorded but not written "
					"(signet export %s --chain FILE writes it)", serial, serial);
	} else if (recorded) {
		signet_err_prefix(&err, "%d certificates are issued and recorded but not all "
					"written (signet list shows them, signet export writes each)",
				  njobs);
	}
	rc = cli_fail("sign", &err);
out:
	pool_abandon(&pool);
	if (in_txn)
		signet_db_rollback(signet_ca_db(ca));
	if (rc != 0 && made_dir)
		rmdir(out_dir); /* made for this batch: removed when it stayed empty */
	for (int i = 0; jobs != NULL && i < njobs; i++) {
		free(jobs[i].data);
		free(jobs[i].stem);
		X509_REQ_free(jobs[i].req);
		EVP_PKEY_free(jobs[i].key);
		X509_free(jobs[i].cert);
		signet_record_clear(&jobs[i].rec);
		free(jobs[i].pem);
	}
	free(jobs);
	free(pool.chain_pem);
	signet_buf_free(&pool.out);
	GENERAL_NAMES_free(sans);
	signet_ca_free(ca);
	return rc;
}
