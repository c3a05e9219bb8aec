/*
 * csv.c - bounded RFC 4180 reader over one in-memory copy of a file.
 *
 * Invariants: data is NUL-terminated at len; fields are carved out of data
 * in place (a quoted field is unescaped into its own bytes, which never
 * grows it), so nothing is allocated per record. At most KP_CSV_MAX_COLS
 * fields per record. Cost: one read of the file, then O(bytes) to split.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/csv.h"

static kp_err csv_split(struct kp_csv *c, char **out, int *nout, struct kp_errbuf *eb);

static kp_err csv_start(struct kp_csv *c, struct kp_errbuf *eb)
{
	bool got = false;
	kp_err rc;

	c->line = 1;
	c->next_line = 1;
	rc = csv_split(c, c->header, &c->ncols, eb);
	if (rc)
		return rc;
	got = c->ncols > 0 && !(c->ncols == 1 && c->header[0][0] == '\0');
	if (!got)
		return kp_errf(eb, KP_ERR_INVALID, "%s: missing header", c->name);
	return KP_OK;
}

kp_err kp_csv_open(struct kp_csv *c, const char *path, size_t max_bytes, struct kp_errbuf *eb)
{
	FILE *f;
	size_t cap = 64 * 1024, n;
	char *p;

	memset(c, 0, sizeof(*c));
	c->name = path;
	f = fopen(path, "rb");
	if (!f)
		return kp_errf(eb, KP_ERR_IO, "%s: %s", path, strerror(errno));
	c->data = malloc(cap + 1);
	if (!c->data)
		goto nomem;
	for (;;) {
		n = fread(c->data + c->len, 1, cap - c->len, f);
		c->len += n;
		if (c->len < cap)
			break;
		if (cap >= max_bytes) {
			fclose(f);
			return kp_errf(eb, KP_ERR_LIMIT, "%s: larger than %zu bytes", path, max_bytes);
		}
		cap = cap * 2 > max_bytes ? max_bytes : cap * 2;
		p = realloc(c->data, cap + 1);
		if (!p)
			goto nomem;
		c->data = p;
	}
	if (ferror(f)) {
		fclose(f);
		return kp_errf(eb, KP_ERR_IO, "%s: read error", path);
	}
	fclose(f);
	if (c->len > max_bytes)
		return kp_errf(eb, KP_ERR_LIMIT, "%s: larger than %zu bytes", path, max_bytes);
	c->data[c->len] = '\0';
	return csv_start(c, eb);
nomem:
	fclose(f);
	return kp_errf(eb, KP_ERR_NOMEM, "%s: out of memory", path);
}

kp_err kp_csv_open_mem(struct kp_csv *c, const char *name, const char *text, size_t len,
		       struct kp_errbuf *eb)
{
	memset(c, 0, sizeof(*c));
	c->name = name;
	c->data = malloc(len + 1);
	if (!c->data)
		return kp_errf(eb, KP_ERR_NOMEM, "%s: out of memory", name);
	memcpy(c->data, text, len);
	c->data[len] = '\0';
	c->len = len;
	return csv_start(c, eb);
}

/* Splits one record starting at c->pos (on line c->line) into out[],
 * advancing c->pos past its line end and c->next_line past its lines. */
static kp_err csv_split(struct kp_csv *c, char **out, int *nout, struct kp_errbuf *eb)
{
	char *p = c->data + c->pos, *end = c->data + c->len;
	int n = 0, lines = 0;

	for (;;) {
		char *w = p, *start = p;

		if (n == KP_CSV_MAX_COLS)
			return kp_errf(eb, KP_ERR_LIMIT, "%s:%d: more than %d fields", c->name, c->line,
				       KP_CSV_MAX_COLS);
		if (p < end && *p == '"') {
			p++;
			for (;;) {
				if (p >= end)
					return kp_errf(eb, KP_ERR_INVALID, "%s:%d: unterminated quoted field",
						       c->name, c->line);
				if (*p == '"') {
					if (p + 1 < end && p[1] == '"') {
						*w++ = '"';
						p += 2;
						continue;
					}
					p++;
					break;
				}
				if (*p == '\n')
					lines++;
				*w++ = *p++;
			}
			if (p < end && *p != ',' && *p != '\n' && *p != '\r')
				return kp_errf(eb, KP_ERR_INVALID, "%s:%d: text after closing quote",
					       c->name, c->line);
		} else {
			while (p < end && *p != ',' && *p != '\n' && *p != '\r') {
				if (*p == '"')
					return kp_errf(eb, KP_ERR_INVALID, "%s:%d: quote inside unquoted field",
						       c->name, c->line);
				w++;
				p++;
			}
		}
		out[n++] = start;
		if (p < end && *p == ',') {
			*w = '\0';
			p++;
			continue;
		}
		if (p < end && *p == '\r') {
			*w = '\0';
			p++;
			if (p < end && *p != '\n')
				return kp_errf(eb, KP_ERR_INVALID, "%s:%d: stray carriage return",
					       c->name, c->line);
		}
		*w = '\0';
		if (p < end)
			p++;           /* the '\n' */
		break;
	}
	c->pos = (size_t)(p - c->data);
	c->next_line = c->line + lines + 1;
	*nout = n;
	return KP_OK;
}

kp_err kp_csv_next(struct kp_csv *c, bool *got, struct kp_errbuf *eb)
{
	kp_err rc;

	*got = false;
	for (;;) {
		if (c->pos >= c->len)
			return KP_OK;
		/* blank lines (including a final CRLF) are skipped */
		if (c->data[c->pos] == '\n') {
			c->pos++;
			c->next_line++;
			continue;
		}
		if (c->data[c->pos] == '\r' && c->pos + 1 < c->len && c->data[c->pos + 1] == '\n') {
			c->pos += 2;
			c->next_line++;
			continue;
		}
		break;
	}
	c->line = c->next_line;
	rc = csv_split(c, c->field, &c->nfields, eb);
	if (rc)
		return rc;
	if (c->nfields != c->ncols)
		return kp_errf(eb, KP_ERR_INVALID, "%s:%d: %d fields, header has %d", c->name, c->line,
			       c->nfields, c->ncols);
	*got = true;
	return KP_OK;
}

int kp_csv_col(const struct kp_csv *c, const char *name)
{
	for (int i = 0; i < c->ncols; i++)
		if (strcmp(c->header[i], name) == 0)
			return i;
	return -1;
}

kp_err kp_csv_columns(const struct kp_csv *c, const char *const *names, int *idx, int n,
		      struct kp_errbuf *eb)
{
	for (int i = 0; i < n; i++) {
		idx[i] = kp_csv_col(c, names[i]);
		if (idx[i] < 0)
			return kp_errf(eb, KP_ERR_INVALID, "%s: missing column \"%s\"", c->name, names[i]);
	}
	return KP_OK;
}

void kp_csv_close(struct kp_csv *c)
{
	if (!c)
		return;
	free(c->data);
	c->data = NULL;
	c->len = c->pos = 0;
}
