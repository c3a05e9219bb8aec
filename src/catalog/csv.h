/*
 * csv.h - a small bounded CSV reader for the catalog data files (internal).
 *
 * RFC 4180 records: comma-separated fields, optional double quotes with ""
 * as an escaped quote, LF or CRLF line ends. The first record is the header;
 * every later record must have as many fields as it. The whole file is read
 * into one buffer (capped by the caller) and fields are split in place, so a
 * field pointer stays valid until kp_csv_close().
 *
 * Life cycle:
 *	struct kp_csv csv;
 *	bool got;
 *	rc = kp_csv_open(&csv, path, KP_CSV_MAX_BYTES, eb);
 *	rc = kp_csv_columns(&csv, names, idx, n, eb);    map header names
 *	while (!(rc = kp_csv_next(&csv, &got, eb)) && got)
 *		use csv.field[idx[i]];
 *	kp_csv_close(&csv);                              also after errors
 */
#ifndef KARPENTER_CATALOG_CSV_H
#define KARPENTER_CATALOG_CSV_H

#include "karpenter/base.h"

#define KP_CSV_MAX_COLS 64
#define KP_CSV_MAX_BYTES (16u * 1024u * 1024u)   /* default cap on a data file */

struct kp_csv {
	const char *name;              /* file name used in messages (borrowed) */
	char *data;                    /* malloc'ed file contents, split in place */
	size_t len;
	size_t pos;                    /* parse position */
	int line;                      /* line number where the current record starts */
	int next_line;                 /* where the next one would */
	int ncols;                     /* header fields */
	char *header[KP_CSV_MAX_COLS];
	int nfields;                   /* fields in the current record */
	char *field[KP_CSV_MAX_COLS];  /* current record, NUL-terminated */
};

/* Reads path (at most max_bytes) and its header record. KP_ERR_IO when the
 * file cannot be read, KP_ERR_LIMIT when it is too large, KP_ERR_INVALID on
 * a malformed header. Messages start with the path. */
kp_err kp_csv_open(struct kp_csv *c, const char *path, size_t max_bytes, struct kp_errbuf *eb);
/* Same over a copy of an in-memory text; name is used in messages. */
kp_err kp_csv_open_mem(struct kp_csv *c, const char *name, const char *text, size_t len,
		       struct kp_errbuf *eb);
/* Index of header column name, or -1. */
int kp_csv_col(const struct kp_csv *c, const char *name);
/* Maps n column names to indices; KP_ERR_INVALID naming the first missing one. */
kp_err kp_csv_columns(const struct kp_csv *c, const char *const *names, int *idx, int n,
		      struct kp_errbuf *eb);
/* Reads the next record into c->field. *got is false at end of input.
 * KP_ERR_INVALID ("file:line: ...") on a bad quote or wrong field count. */
kp_err kp_csv_next(struct kp_csv *c, bool *got, struct kp_errbuf *eb);
/* Releases the buffer. Safe on a zeroed or already closed reader. */
void kp_csv_close(struct kp_csv *c);

#endif
