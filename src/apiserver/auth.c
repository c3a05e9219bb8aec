/*
 * auth.c - bearer-token authentication for the local control plane.
 *
 * One token per data directory: 32 random bytes from getrandom(), hex, in
 * DIR/token (mode 0600), written into the kubeconfig. Requests without it
 * get 401 (rest.c writes the Status); the health and version endpoints are
 * open, as on a real API server. Comparison is constant-time. Cost: none.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "apiserver/server.h"
#include "kobj/kobj.h"

kp_err kp_apiserver__auth_load_or_create(const char *dir, char *token, size_t n, struct kp_errbuf *eb)
{
	char path[4096], line[2 * 32 + 2];
	unsigned char raw[32];
	ssize_t got;
	int fd;

	if (n < 2 * sizeof(raw) + 1)
		return kp_errf(eb, KP_ERR_RANGE, "token buffer too small");
	if ((size_t)snprintf(path, sizeof(path), "%s/token", dir) >= sizeof(path))
		return kp_errf(eb, KP_ERR_RANGE, "data dir path too long: %s", dir);
	fd = open(path, O_RDONLY);
	if (fd >= 0) {
		got = read(fd, token, n - 1);
		close(fd);
		if (got > 0) {
			token[got] = '\0';
			token[strcspn(token, "\r\n")] = '\0';
			if (strlen(token) >= 16)
				return KP_OK;
		}
	}
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return kp_errf(eb, KP_ERR_IO, "token: getrandom failed");
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(token + 2 * i, 3, "%02x", raw[i]);
	snprintf(line, sizeof(line), "%s\n", token);
	return kp_kobj_write_file(path, line, strlen(line), eb);
}

bool kp_apiserver__auth_check(const char *token, const char *authorization)
{
	size_t tl, al;
	unsigned char diff = 0;

	if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
		return false;
	authorization += 7;
	while (*authorization == ' ')
		authorization++;
	tl = strlen(token);
	al = strcspn(authorization, " \t\r\n");
	if (tl == 0 || al != tl)
		return false;
	for (size_t i = 0; i < tl; i++)
		diff |= (unsigned char)(token[i] ^ authorization[i]);
	return diff == 0;
}

bool kp_apiserver__auth_exempt(const char *path)
{
	static const char *const open_paths[] = { "/healthz", "/livez", "/readyz", "/version" };

	for (size_t i = 0; i < KP_ARRAY_LEN(open_paths); i++) {
		size_t l = strlen(open_paths[i]);
		if (strncmp(path, open_paths[i], l) == 0 && (path[l] == '\0' || path[l] == '/'))
			return true;
	}
	return false;
}
