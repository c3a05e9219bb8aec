/*
 * jsonw.h - a streaming JSON writer for large outputs (simulate -o json).
 *
 * Writes a JSON document value by value into a FILE through a fixed 64 KiB
 * buffer, so an output of any size costs constant memory: nothing is built
 * first. The bytes are exactly what jansson's json_dumpf(JSON_INDENT(2))
 * writes for the same values (the format `simulate -o json` always had):
 * two-space indentation, ": " between key and value, "[]" and "{}" for empty
 * containers, strings escaped as jansson does (\" \\ \b \f \n \r \t, other
 * control characters as \u00XX, everything else as is), integers in
 * decimal, reals as "%.17g" with ".0" added when the text would read as an
 * integer. Non-finite reals (which jansson refuses) are written as null, and
 * bytes that are not UTF-8 (jansson refuses the string) as U+FFFD.
 *
 * Life cycle: kp_jw_init() with a FILE (borrowed); begin/end calls must
 * nest (at most KP_JW_MAX_DEPTH); inside an object every value is preceded
 * by kp_jw_key(). kp_jw_finish() flushes and reports whether every write
 * succeeded. Errors are sticky: after a failed write the rest is skipped.
 * Misuse (unbalanced ends, too deep) is a programming error (assert).
 */
#ifndef KARPENTER_JSONW_JSONW_H
#define KARPENTER_JSONW_JSONW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#define KP_JW_BUF 65536
#define KP_JW_MAX_DEPTH 64

struct kp_jw {
	FILE *f;                        /* borrowed */
	bool err;                       /* a write failed */
	bool after_key;                 /* a key was written; its value comes next */
	int depth;                      /* open containers */
	bool nonempty[KP_JW_MAX_DEPTH]; /* container at that depth has an element */
	size_t n;                       /* bytes in buf */
	char buf[KP_JW_BUF];
};

void kp_jw_init(struct kp_jw *w, FILE *f);
void kp_jw_obj_begin(struct kp_jw *w);
void kp_jw_obj_end(struct kp_jw *w);
void kp_jw_arr_begin(struct kp_jw *w);
void kp_jw_arr_end(struct kp_jw *w);
/* Key of the next object member. */
void kp_jw_key(struct kp_jw *w, const char *key);
/* String value; NULL writes null. */
void kp_jw_str(struct kp_jw *w, const char *s);
void kp_jw_null(struct kp_jw *w);
void kp_jw_int(struct kp_jw *w, int64_t v);
void kp_jw_real(struct kp_jw *w, double v);
void kp_jw_bool(struct kp_jw *w, bool v);
/* A jansson value (borrowed), written in place with the same formatting;
 * NULL writes null. For the small parts still built as jansson trees. */
void kp_jw_value(struct kp_jw *w, const json_t *v);
/* Flushes the buffer; 0 when every write succeeded, -1 otherwise. */
int kp_jw_finish(struct kp_jw *w);

#endif
