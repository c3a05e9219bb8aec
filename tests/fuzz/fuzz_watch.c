/*
 * fuzz_watch.c - libFuzzer harness for the client's watch stream decoding:
 * the de-chunked body of a watch response fed to kp_watch_parser in pieces,
 * each event's object decoded into a cluster as an informer would
 * (kp_load_object). Byte 0 picks the piece size, so events straddle reads.
 */
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "karpenter/objects.h"
#include "kube/kube.h"
#include "load/load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_event(void *ud, enum kp_watch_type type, json_t *obj)
{
	struct kp_cluster *c = ud;
	struct kp_errbuf eb = { 0 };
	struct kp_load_opts o = { NULL, 1700000000 };

	(void)kp_watch_type_name(type);
	if (type != KP_WATCH_ERROR && type != KP_WATCH_BOOKMARK)
		(void)kp_load_object(c, obj, NULL, NULL, "watch", &o, &eb);
	return type == KP_WATCH_ERROR;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kp_watch_parser p;
	struct kp_cluster c;
	struct kp_errbuf eb = { 0 };
	size_t piece;
	kp_err rc = KP_OK;

	if (size < 1 || size > 1 << 18)
		return 0;
	piece = (size_t)data[0] + 1;
	data++;
	size--;
	kp_cluster_init(&c);
	/* a small event cap so the oversized-event path is reachable */
	kp_watch_parser_init(&p, 4096, on_event, &c);
	for (size_t off = 0; off < size && !rc; off += piece)
		rc = kp_watch_parser_feed(&p, (const char *)data + off, size - off < piece ? size - off : piece, &eb);
	if (!rc)
		(void)kp_watch_parser_finish(&p, &eb);
	kp_watch_parser_free(&p);
	kp_cluster_link(&c);
	kp_cluster_free(&c);
	return 0;
}
