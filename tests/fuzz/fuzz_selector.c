/*
 * fuzz_selector.c - libFuzzer harness for the API server's labelSelector=
 * and fieldSelector= parsing and matching (the apiserver module's
 * rest_select.c).
 *
 * Input: the selector text, then optionally a NUL byte and a JSON object to
 * match against. The text is parsed both as a label and as a field
 * selector; a selector that parses is matched against the object (or a
 * fixed Pod when none is given), and against the object's selector view
 * (enccache.c, what watches match on): the answers must agree for label
 * selectors, and for field selectors a Pod supports when no string in the
 * object is longer than the view keeps (the API validates those fields'
 * lengths far below it).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "apiserver/enccache.h"
#include "apiserver/rest_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char POD[] = "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\","
			  "\"namespace\":\"default\",\"labels\":{\"app\":\"web\",\"tier\":\"3\"}},"
			  "\"spec\":{\"nodeName\":\"n1\"},\"status\":{\"phase\":\"Running\"}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kp_apiserver__selector *sel;
	struct kp_arena a;
	struct kp_errbuf eb = { 0 };
	const uint8_t *nul;
	json_error_t je;
	json_t *obj, *view;
	char *text;

	if (size > 1 << 16)
		return 0;
	nul = memchr(data, '\0', size);
	text = malloc(size + 1);
	sel = malloc(sizeof(*sel));
	if (!text || !sel) {
		free(text);
		free(sel);
		return 0;
	}
	memcpy(text, data, nul ? (size_t)(nul - data) : size);
	text[nul ? (size_t)(nul - data) : size] = '\0';
	obj = nul ? json_loadb((const char *)nul + 1, size - (size_t)(nul + 1 - data), 0, &je)
		  : json_loads(POD, 0, &je);
	view = obj ? kp_apiserver__enc_view(obj) : NULL;
	kp_arena_init(&a);
	if (kp_apiserver__sel_parse(sel, &a, text, true, &eb) == KP_OK && obj &&
	    kp_apiserver__labels_match(sel, obj) != kp_apiserver__labels_match(sel, view))
		abort();   /* the view answers a label selector differently */
	if (kp_apiserver__sel_parse(sel, &a, text, false, &eb) == KP_OK && obj &&
	    kp_apiserver__fields_match(sel, obj) != kp_apiserver__fields_match(sel, view) &&
	    kp_apiserver__fields_check(sel, "", "pods", &eb) == KP_OK && size <= 1024)
		abort();   /* the view answers a supported field selector differently */
	kp_arena_free(&a);
	json_decref(view);
	json_decref(obj);
	free(sel);
	free(text);
	return 0;
}
