/*
 * file.h - reading input and writing output files safely.
 *
 * "-" means stdin / stdout everywhere.  Writes are atomic: a temporary file
 * in the same directory, created with its final mode (0600 for secrets,
 * never chmod'ed afterwards), written, fsync'ed, renamed over the target,
 * and the directory fsync'ed.  A failure at any step (ENOSPC included)
 * removes the temporary file and leaves the old target untouched.
 */
#ifndef SIGNET_FILE_H
#define SIGNET_FILE_H

#include <signet/err.h>
#include <stddef.h>
#include <sys/types.h>

/* Largest input file we read; PKI objects are small. */
#define SIGNET_FILE_MAX (64u * 1024 * 1024)

/* Reads a whole file (or stdin for "-") into *data (NUL-terminated,
 * caller frees with free()).  Fails with SIGNET_E_IO. */
int signet_file_read(const char *path, unsigned char **data, size_t *len,
		     struct signet_err *err);

enum {
	SIGNET_WRITE_NOSYNC = 1 << 0, /* skip fsync; caller syncs (batches) */
	SIGNET_WRITE_EXCL = 1 << 1,   /* refuse to replace an existing file */
};

/* Atomically writes data to path ("-" = stdout) with the given mode.  An
 * existing device or FIFO (/dev/null, a named pipe) is written in place;
 * a symbolic link keeps pointing at its target, which is replaced. */
int signet_file_write(const char *path, const void *data, size_t len,
		      mode_t mode, int flags, struct signet_err *err);

/*
 * After signet_file_guard (the command-line tool calls it first thing: one
 * process, one command), signet_file_write refuses to replace the files
 * the process works from, found by identity (device and inode: a symbolic
 * or hard link to one is refused too): the CA's database, configuration,
 * keys and certificates, which signet_ca_open marks, and the input files
 * read through signet_file_read, so that no output option can overwrite
 * them (`signet export NAME --p12 NAME.key`, `signet crl --out
 * ca/signet.db`).  Up to SIGNET_PROTECT_MAX files are remembered; later
 * inputs (the CSRs of a big batch) are not.  what names the file in the
 * error ("the CA's database").  A file that does not exist is not marked.
 * Without signet_file_guard (a library user that reads a file and writes
 * it back), nothing is marked.
 */
#define SIGNET_PROTECT_MAX 64
void signet_file_guard(void);
void signet_file_protect(const char *path, const char *what);

/* Whether signet_file_write(path) can be expected to succeed, checked
 * before the work whose result it writes: path is not empty, not a
 * directory, not a protected file, and its directory is writable.
 * Fails with SIGNET_E_USAGE or SIGNET_E_IO as signet_file_write would. */
int signet_file_check_output(const char *path, struct signet_err *err);

/* fsyncs a directory (after renames into it). */
int signet_dir_sync(const char *dir, struct signet_err *err);

/* Creates a directory with mode if it does not exist. */
int signet_dir_make(const char *dir, mode_t mode, struct signet_err *err);

/* Joins dir and name into buf; fails when it does not fit. */
int signet_path_join(char *buf, size_t size, const char *dir, const char *name,
		     struct signet_err *err);

#endif
