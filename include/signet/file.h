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

/* fsyncs a directory (after renames into it). */
int signet_dir_sync(const char *dir, struct signet_err *err);

/* Creates a directory with mode if it does not exist. */
int signet_dir_make(const char *dir, mode_t mode, struct signet_err *err);

/* Joins dir and name into buf; fails when it does not fit. */
int signet_path_join(char *buf, size_t size, const char *dir, const char *name,
		     struct signet_err *err);

#endif
