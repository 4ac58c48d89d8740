/*
 * file.c - whole-file reads and atomic writes (temp file + fsync + rename +
 * directory fsync).  Temporary names carry the pid and a counter so that
 * concurrent writers in one directory never collide.
 */
#include <signet/file.h>

#include <errno.h>
#include <openssl/crypto.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The files signet_file_write will not replace: identity (device and
 * inode, so that a link or another spelling of the path is caught) and
 * what to call the file in the error. */
static struct {
	dev_t dev;
	ino_t ino;
	const char *what;
} guarded[SIGNET_PROTECT_MAX];
static int nguarded, guarding;
static pthread_mutex_t guard_lock = PTHREAD_MUTEX_INITIALIZER;

void signet_file_guard(void)
{
	__atomic_store_n(&guarding, 1, __ATOMIC_RELAXED);
}

/* Marks st as what; an explicit mark (rename) replaces "an input". */
static void guard(const struct stat *st, const char *what, int rename)
{
	if (!__atomic_load_n(&guarding, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&guard_lock);
	for (int i = 0; i < nguarded; i++)
		if (guarded[i].dev == st->st_dev && guarded[i].ino == st->st_ino) {
			if (rename)
				guarded[i].what = what;
			goto out;
		}
	if (nguarded < SIGNET_PROTECT_MAX) {
		guarded[nguarded].dev = st->st_dev;
		guarded[nguarded].ino = st->st_ino;
		guarded[nguarded].what = what;
		nguarded++;
	}
out:
	pthread_mutex_unlock(&guard_lock);
}

void signet_file_protect(const char *path, const char *what)
{
	struct stat st;

	if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
		guard(&st, what, 1);
}

/* What the guarded file st is, or NULL. */
static const char *guarded_as(const struct stat *st)
{
	const char *what = NULL;

	pthread_mutex_lock(&guard_lock);
	for (int i = 0; i < nguarded && what == NULL; i++)
		if (guarded[i].dev == st->st_dev && guarded[i].ino == st->st_ino)
			what = guarded[i].what;
	pthread_mutex_unlock(&guard_lock);
	return what;
}

int signet_file_check_output(const char *path, struct signet_err *err)
{
	char dirbuf[PATH_MAX + 64];
	struct stat st;
	const char *what;

	if (strcmp(path, "-") == 0)
		return 0;
	if (path[0] == '\0')
		return signet_err_set(err, SIGNET_E_USAGE, "an empty file name was given as output");
	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return signet_err_set(err, SIGNET_E_IO, "%s: is a directory", path);
		if ((what = guarded_as(&st)) != NULL)
			return signet_err_set(err, SIGNET_E_USAGE,
					      "%s: will not overwrite %s; choose another output file",
					      path, what);
		if (!S_ISREG(st.st_mode)) /* a device or FIFO is written in place */
			return access(path, W_OK) == 0 ? 0
			       : signet_err_set(err, SIGNET_E_IO, "%s: cannot write: %s", path,
						strerror(errno));
	}
	if (strlen(path) + 32 >= sizeof(dirbuf))
		return signet_err_set(err, SIGNET_E_IO, "%s: path too long", path);
	snprintf(dirbuf, sizeof(dirbuf), "%s", path);
	if (access(dirname(dirbuf), W_OK | X_OK) != 0)
		return signet_err_set(err, SIGNET_E_IO, "%s: cannot create: %s", path,
				      strerror(errno));
	return 0;
}

int signet_file_read(const char *path, unsigned char **data, size_t *len,
		     struct signet_err *err)
{
	int fd = -1, rc = -1;
	unsigned char *buf = NULL;
	size_t cap = 0, n = 0;
	size_t first = 16384; /* the first buffer: the file's size when known */
	size_t size = 0;      /* a regular file's size: read no further */
	int is_stdin = strcmp(path, "-") == 0;

	*data = NULL;
	*len = 0;
	if (is_stdin) {
		fd = STDIN_FILENO;
	} else {
		struct stat st;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		ENSURE(fd >= 0, err, SIGNET_E_IO, "%s: cannot open: %s", path,
		       strerror(errno));
		ENSURE(fstat(fd, &st) == 0, err, SIGNET_E_IO, "%s: %s", path,
		       strerror(errno));
		ENSURE(!S_ISDIR(st.st_mode), err, SIGNET_E_IO,
		       "%s: is a directory, expected a file", path);
		ENSURE(!S_ISREG(st.st_mode) || st.st_size <= (off_t)SIGNET_FILE_MAX, err,
		       SIGNET_E_IO, "%s: file larger than %u MiB", path, SIGNET_FILE_MAX >> 20);
		if (S_ISREG(st.st_mode))
			guard(&st, "an input of this command", 0);
		/* Room for the whole file, its NUL, and the read that sees EOF
		 * (for a file whose size says 0, as /proc's do, read to EOF). */
		if (S_ISREG(st.st_mode)) {
			size = (size_t)st.st_size;
			first = size + 2;
		}
	}
	for (;;) {
		ssize_t r;
		if (n + 1 >= cap) {
			size_t ncap = cap ? cap * 2 : first;
			unsigned char *nb;
			ENSURE(n < SIGNET_FILE_MAX, err, SIGNET_E_IO,
			       "%s: file larger than %u MiB", path,
			       SIGNET_FILE_MAX >> 20);
			/* Not realloc: the input may be a key, and realloc would
			 * free the old copy without wiping it. */
			nb = malloc(ncap);
			ENSURE(nb != NULL, err, SIGNET_E_INTERNAL, "out of memory");
			if (buf != NULL) {
				memcpy(nb, buf, n);
				OPENSSL_cleanse(buf, cap);
				free(buf);
			}
			buf = nb;
			cap = ncap;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		ENSURE(r >= 0, err, SIGNET_E_IO, "%s: read failed: %s",
		       is_stdin ? "stdin" : path, strerror(errno));
		if (r == 0)
			break;
		n += (size_t)r;
		/* The size fstat gave is read: the file as it was when opened,
		 * without one more read to see EOF (a syscall per CSR in a
		 * batch of thousands). */
		if (n == size)
			break;
	}
	buf[n] = '\0';
	*data = buf;
	*len = n;
	buf = NULL;
	rc = 0;
out:
	if (fd >= 0 && !is_stdin)
		close(fd);
	if (buf != NULL) {
		OPENSSL_cleanse(buf, cap);
		free(buf);
	}
	return rc;
}

static int write_all(int fd, const void *data, size_t len)
{
	const unsigned char *p = data;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int signet_dir_sync(const char *dir, struct signet_err *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return signet_err_set(err, SIGNET_E_IO, "%s: cannot open directory: %s",
				      dir, strerror(errno));
	if (fsync(fd) != 0 && errno != EINVAL) {
		int e = errno;
		close(fd);
		return signet_err_set(err, SIGNET_E_IO, "%s: fsync failed: %s", dir,
				      strerror(e));
	}
	close(fd);
	return 0;
}

/* Writes into an existing non-regular file (a device or a FIFO). */
static int write_in_place(const char *path, const void *data, size_t len,
			  struct signet_err *err)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), e;

	if (fd < 0)
		return signet_err_set(err, SIGNET_E_IO, "%s: cannot open: %s", path,
				      strerror(errno));
	if (write_all(fd, data, len) != 0) {
		e = errno;
		close(fd);
		return signet_err_set(err, SIGNET_E_IO, "%s: write failed: %s", path,
				      strerror(e));
	}
	if (close(fd) != 0)
		return signet_err_set(err, SIGNET_E_IO, "%s: close failed: %s", path,
				      strerror(errno));
	return 0;
}

/*
 * A new file made whole before it has a name: an unnamed O_TMPFILE inode
 * in dir, written (and synced), then linked in as path.  One directory
 * entry instead of a temporary name, its removal and the rename's new
 * one.  The link fails if path appeared meanwhile, so nothing is ever
 * overwritten here.  Returns 0, -1 with *err set, or 1 when the file
 * system or /proc cannot do it (the caller then renames a named temporary)
 * or when path appeared and replacing it is allowed.
 */
static int write_unnamed(const char *path, const char *dir, const void *data, size_t len,
			 mode_t mode, int flags, struct signet_err *err)
{
	char fdpath[64];
	int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, mode), rc = -1, e;

	if (fd < 0)
		return 1;
	ENSURE(write_all(fd, data, len) == 0, err, SIGNET_E_IO, "%s: write failed: %s", path,
	       strerror(errno));
	if (!(flags & SIGNET_WRITE_NOSYNC))
		ENSURE(fsync(fd) == 0, err, SIGNET_E_IO, "%s: fsync failed: %s", path,
		       strerror(errno));
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, fdpath, AT_FDCWD, path, AT_SYMLINK_FOLLOW) != 0) {
		e = errno;
		ENSURE(e != EEXIST || !(flags & SIGNET_WRITE_EXCL), err, SIGNET_E_EXISTS,
		       "%s: cannot create: %s", path, strerror(e));
		rc = 1;
		goto out;
	}
	rc = 0;
out:
	{
		int cr = close(fd);
		if (rc == 0 && cr != 0)
			rc = signet_err_set(err, SIGNET_E_IO, "%s: close failed: %s", path,
					    strerror(errno));
	}
	return rc;
}

int signet_file_write(const char *path, const void *data, size_t len,
		      mode_t mode, int flags, struct signet_err *err)
{
	static unsigned counter;
	char tmp[PATH_MAX + 64], dirbuf[PATH_MAX + 64], real[PATH_MAX];
	struct stat st;
	int fd = -1, rc = -1, have_tmp = 0, exists;
	const char *dir;

	if (strcmp(path, "-") == 0) {
		ENSURE(write_all(STDOUT_FILENO, data, len) == 0, err, SIGNET_E_IO,
		       "stdout: write failed: %s", strerror(errno));
		return 0;
	}
	ENSURE(path[0] != '\0', err, SIGNET_E_USAGE, "an empty file name was given as output");
	if (flags & SIGNET_WRITE_EXCL) { /* a dangling symlink counts too */
		ENSURE(lstat(path, &st) != 0, err, SIGNET_E_EXISTS,
		       "%s: already exists (will not overwrite)", path);
	}
	/* A device, FIFO or socket (/dev/null, /dev/stdout on a pipe, a named
	 * pipe) is written in place: renaming a temporary file over it would
	 * replace /dev/null with a regular file.  A symbolic link to a regular
	 * file keeps the link; its target is replaced atomically. */
	exists = stat(path, &st) == 0;
	if (exists) {
		const char *what = guarded_as(&st);
		ENSURE(!S_ISDIR(st.st_mode), err, SIGNET_E_IO, "%s: is a directory", path);
		ENSURE(what == NULL, err, SIGNET_E_USAGE,
		       "%s: will not overwrite %s; choose another output file", path, what);
		if (!S_ISREG(st.st_mode))
			return write_in_place(path, data, len, err);
		if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
			ENSURE(realpath(path, real) != NULL, err, SIGNET_E_IO,
			       "%s: cannot resolve link: %s", path, strerror(errno));
			path = real;
		}
	}
	ENSURE(strlen(path) + 32 < sizeof(tmp), err, SIGNET_E_IO,
	       "%s: path too long", path);
	snprintf(dirbuf, sizeof(dirbuf), "%s", path);
	dir = dirname(dirbuf);
	if (!exists) {
		rc = write_unnamed(path, dir, data, len, mode, flags, err);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			if (!(flags & SIGNET_WRITE_NOSYNC))
				return signet_dir_sync(dir, err);
			return 0;
		}
		rc = -1;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld.%u", path, (long)getpid(),
		 __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	ENSURE(fd >= 0, err, SIGNET_E_IO, "%s: cannot create: %s", path,
	       strerror(errno));
	have_tmp = 1;
	ENSURE(write_all(fd, data, len) == 0, err, SIGNET_E_IO,
	       "%s: write failed: %s", path, strerror(errno));
	if (!(flags & SIGNET_WRITE_NOSYNC))
		ENSURE(fsync(fd) == 0, err, SIGNET_E_IO, "%s: fsync failed: %s",
		       path, strerror(errno));
	{
		/* close() releases the descriptor even when it fails: never
		 * close it twice (another thread may own that number by then). */
		int cr = close(fd);
		fd = -1;
		ENSURE(cr == 0, err, SIGNET_E_IO, "%s: close failed: %s", path,
		       strerror(errno));
	}
	if (flags & SIGNET_WRITE_EXCL) {
		/* link() fails if the target appeared meanwhile: no overwrite. */
		ENSURE(link(tmp, path) == 0, err,
		       errno == EEXIST ? SIGNET_E_EXISTS : SIGNET_E_IO,
		       "%s: cannot create: %s", path, strerror(errno));
		unlink(tmp);
	} else {
		ENSURE(rename(tmp, path) == 0, err, SIGNET_E_IO,
		       "%s: cannot rename into place: %s", path, strerror(errno));
	}
	have_tmp = 0;
	if (!(flags & SIGNET_WRITE_NOSYNC))
		TRY(signet_dir_sync(dir, err));
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (have_tmp)
		unlink(tmp);
	return rc;
}

int signet_dir_make(const char *dir, mode_t mode, struct signet_err *err)
{
	struct stat st;
	if (mkdir(dir, mode) == 0)
		return 0;
	if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	return signet_err_set(err, SIGNET_E_IO, "%s: cannot create directory: %s",
			      dir, strerror(errno));
}

int signet_path_join(char *buf, size_t size, const char *dir, const char *name,
		     struct signet_err *err)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= size)
		return signet_err_set(err, SIGNET_E_IO, "%s/%s: path too long", dir,
				      name);
	return 0;
}
