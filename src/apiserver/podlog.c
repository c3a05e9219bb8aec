/*
 * podlog.c - the log of the controller's pod in `karpenter up`: lines go
 * to DATA_DIR/logs/NS_NAME.log (what a kubelet keeps under /var/log/pods),
 * and GET pods/NAME/log serves that file, whole, its last tailLines lines,
 * or followed (?follow=true) as it grows.
 *
 * Invariants: a line is appended with one write(2) on an O_APPEND
 * descriptor under a mutex, so concurrent writers never interleave within
 * a line; the file rotates to NAME.log.1 at LOG_ROTATE bytes. Cost: one
 * open/write/close per line; a tail read scans the file once backwards in
 * 64 KiB blocks; a follower polls the file size every 100 ms.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apiserver/server.h"

#define LOG_LINE_MAX (16 * 1024)
#define LOG_ROTATE ((off_t)8 * 1024 * 1024)
#define LOG_READ_MAX ((size_t)64 * 1024 * 1024)

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

bool kp_apiserver_podlog_path(const struct kp_apiserver *L, const char *ns, const char *name, char *buf, size_t n)
{
	int w = snprintf(buf, n, "%s/logs/%s_%s.log", L->cfg.data_dir, ns, name);
	return w > 0 && (size_t)w < n && !strchr(ns, '/') && !strchr(name, '/');
}

void kp_apiserver_log_sink(struct kp_apiserver *L, const char *line)
{
	char path[4096], dir[4096], rot[4200];
	char buf[LOG_LINE_MAX + 2];
	size_t n = strlen(line);
	struct stat st;
	int fd;

	if (!L || !kp_apiserver_podlog_path(L, KP_APISERVER_LOG_NS, KP_APISERVER_LOG_POD, path, sizeof(path)))
		return;
	if (n > LOG_LINE_MAX)
		n = LOG_LINE_MAX;
	memcpy(buf, line, n);
	if (n == 0 || buf[n - 1] != '\n')
		buf[n++] = '\n';
	snprintf(dir, sizeof(dir), "%s/logs", L->cfg.data_dir);
	pthread_mutex_lock(&log_mu);
	if (stat(path, &st) == 0 && st.st_size >= LOG_ROTATE) {
		snprintf(rot, sizeof(rot), "%s.1", path);
		rename(path, rot);
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 && errno == ENOENT && mkdir(dir, 0700) == 0)
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0) {
		ssize_t w = write(fd, buf, n);
		(void)w;
		close(fd);
	}
	pthread_mutex_unlock(&log_mu);
}

void kp_apiserver_logf(struct kp_apiserver *L, const char *fmt, ...)
{
	char line[LOG_LINE_MAX], ts[40];
	struct timespec now;
	struct tm tm;
	va_list ap;
	int k;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	k = snprintf(line, sizeof(line), "{\"level\":\"INFO\",\"time\":\"%s.%03ldZ\",\"logger\":\"up\",\"message\":\"", ts,
		     now.tv_nsec / 1000000);
	va_start(ap, fmt);
	if (k > 0 && (size_t)k < sizeof(line)) {
		char msg[LOG_LINE_MAX / 2];
		size_t o = (size_t)k;
		vsnprintf(msg, sizeof(msg), fmt, ap);
		for (const char *p = msg; *p && o + 8 < sizeof(line); p++) {
			if (*p == '"' || *p == '\\')
				line[o++] = '\\';
			line[o++] = (unsigned char)*p < 0x20 ? ' ' : *p;
		}
		snprintf(line + o, sizeof(line) - o, "\"}");
	}
	va_end(ap);
	kp_apiserver_log_sink(L, line);
}

kp_err kp_apiserver_podlog_read(const struct kp_apiserver *L, const char *ns, const char *name, int64_t tail_lines,
		       int64_t limit_bytes, char **out, size_t *len, int64_t *end_off, struct kp_errbuf *eb)
{
	char path[4096];
	struct stat st;
	size_t size, start = 0;
	char *data;
	int fd;

	*out = NULL;
	*len = 0;
	*end_off = 0;
	if (!kp_apiserver_podlog_path(L, ns, name, path, sizeof(path)))
		return kp_errf(eb, KP_ERR_RANGE, "log path too long");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		if (fd >= 0)
			close(fd);
		*out = strdup("");
		return *out ? KP_OK : kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	}
	size = (size_t)st.st_size;
	if (size > LOG_READ_MAX)
		start = size - LOG_READ_MAX;
	data = malloc(size - start + 1);
	if (!data) {
		close(fd);
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	}
	size_t got = 0;
	while (got < size - start) {
		ssize_t r = pread(fd, data + got, size - start - got, (off_t)(start + got));
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	data[got] = '\0';
	*end_off = (int64_t)(start + got);
	size_t from = 0;
	if (tail_lines >= 0) {
		/* walk back over tail_lines newlines (the last one ends the log) */
		int64_t seen = 0;
		size_t i = got;
		if (tail_lines == 0)
			from = got;
		else {
			if (i > 0 && data[i - 1] == '\n')
				i--;
			while (i > 0) {
				if (data[i - 1] == '\n' && ++seen == tail_lines)
					break;
				i--;
			}
			from = i;
		}
	}
	if (limit_bytes > 0 && (int64_t)(got - from) > limit_bytes)
		got = from + (size_t)limit_bytes;
	memmove(data, data + from, got - from);
	data[got - from] = '\0';
	*out = data;
	*len = got - from;
	return KP_OK;
}

struct kp_apiserver_podlog_follow {
	const struct kp_apiserver *L;
	char path[4096];
	int64_t off;
};

struct kp_apiserver_podlog_follow *kp_apiserver_podlog_follow_open(const struct kp_apiserver *L, const char *ns, const char *name,
						 int64_t off)
{
	struct kp_apiserver_podlog_follow *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	if (!kp_apiserver_podlog_path(L, ns, name, f->path, sizeof(f->path))) {
		free(f);
		return NULL;
	}
	f->L = L;
	f->off = off;
	return f;
}

static bool hung_up(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };
	if (fd < 0)
		return false;
	if (poll(&p, 1, 0) <= 0)
		return false;
	return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

ssize_t kp_apiserver_podlog_follow_read(struct kp_apiserver_podlog_follow *f, int fd, char *buf, size_t max)
{
	for (;;) {
		struct stat st;
		int lfd;

		if (atomic_load(&f->L->stopping))
			return 0;
		lfd = open(f->path, O_RDONLY | O_CLOEXEC);
		if (lfd >= 0 && fstat(lfd, &st) == 0) {
			if ((int64_t)st.st_size < f->off)
				f->off = 0;   /* rotated: start over on the new file */
			if ((int64_t)st.st_size > f->off) {
				ssize_t r = pread(lfd, buf, max, (off_t)f->off);
				close(lfd);
				if (r > 0) {
					f->off += r;
					return r;
				}
				return r < 0 ? -1 : 0;
			}
		}
		if (lfd >= 0)
			close(lfd);
		if (hung_up(fd))
			return -1;
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

void kp_apiserver_podlog_follow_close(struct kp_apiserver_podlog_follow *f)
{
	free(f);
}
