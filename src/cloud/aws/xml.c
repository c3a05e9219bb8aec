/*
 * xml.c - AWS Query protocol answers (EC2, IAM, STS) into a small arena
 * tree (struct kp_aws_xnode) so the rest of the provider never holds a
 * libxml2 type. libxml2 parses with network access, entity substitution
 * and DTD loading off; the tree is copied out and libxml2's document freed
 * before returning.
 *
 * Cost: one libxml2 parse plus one walk, O(bytes). Limits: depth
 * KP_AWS_XML_MAX_DEPTH, KP_AWS_XML_MAX_NODES elements.
 */
#include <limits.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "cloud/aws/aws.h"

struct conv {
	struct kp_arena *a;
	size_t nodes;
	struct kp_errbuf *eb;
};

static kp_err convert(struct conv *cv, xmlNode *x, int depth, struct kp_aws_xnode **out)
{
	struct kp_aws_xnode *n, **tail;
	bool has_elem = false;

	if (depth > KP_AWS_XML_MAX_DEPTH)
		return kp_errf(cv->eb, KP_ERR_INVALID, "xml: nested deeper than %d", KP_AWS_XML_MAX_DEPTH);
	if (++cv->nodes > KP_AWS_XML_MAX_NODES)
		return kp_errf(cv->eb, KP_ERR_INVALID, "xml: more than %d elements", KP_AWS_XML_MAX_NODES);
	n = kp_arena_alloc(cv->a, sizeof(*n));
	if (!n || !(n->name = kp_arena_strdup(cv->a, (const char *)x->name)))
		return kp_errf(cv->eb, KP_ERR_NOMEM, "xml: out of memory");
	tail = &n->child;
	for (xmlNode *ch = x->children; ch; ch = ch->next) {
		kp_err rc;

		if (ch->type != XML_ELEMENT_NODE)
			continue;
		has_elem = true;
		if ((rc = convert(cv, ch, depth + 1, tail)))
			return rc;
		tail = &(*tail)->next;
	}
	if (!has_elem) {
		/* direct text and CDATA only: entity references are never expanded */
		struct kp_buf t;

		kp_buf_init(&t, 64u << 20);
		for (xmlNode *ch = x->children; ch; ch = ch->next)
			if ((ch->type == XML_TEXT_NODE || ch->type == XML_CDATA_SECTION_NODE) && ch->content &&
			    kp_buf_addstr(&t, (const char *)ch->content)) {
				kp_buf_free(&t);
				return kp_errf(cv->eb, KP_ERR_LIMIT, "xml: text too long");
			}
		n->text = kp_arena_strdup(cv->a, t.data ? t.data : "");
		kp_buf_free(&t);
		if (!n->text)
			return kp_errf(cv->eb, KP_ERR_NOMEM, "xml: out of memory");
	}
	*out = n;
	return KP_OK;
}

kp_err kp_aws_xml_parse(struct kp_arena *a, const char *buf, size_t len, struct kp_aws_xnode **root,
			struct kp_errbuf *eb)
{
	struct conv cv = { a, 0, eb };
	xmlDoc *doc;
	xmlNode *top;
	kp_err rc;

	*root = NULL;
	if (!buf || len == 0)
		return kp_errf(eb, KP_ERR_INVALID, "xml: empty document");
	if (len > INT_MAX)
		return kp_errf(eb, KP_ERR_INVALID, "xml: document too large");
	doc = xmlReadMemory(buf, (int)len, NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc) {
		const xmlError *e = xmlGetLastError();
		char msg[160] = "not well-formed";

		if (e && e->message) {
			size_t k = strnlen(e->message, sizeof(msg) - 1);

			memcpy(msg, e->message, k);
			msg[k] = 0;
			while (k > 0 && (msg[k - 1] == '\n' || msg[k - 1] == ' '))
				msg[--k] = 0;
		}
		xmlResetLastError();
		return kp_errf(eb, KP_ERR_INVALID, "xml: %s", msg);
	}
	if (doc->intSubset || doc->extSubset) {
		/* AWS answers never carry a DTD; refusing one avoids entity tricks */
		xmlFreeDoc(doc);
		return kp_errf(eb, KP_ERR_INVALID, "xml: DOCTYPE not allowed");
	}
	top = xmlDocGetRootElement(doc);
	if (!top) {
		xmlFreeDoc(doc);
		return kp_errf(eb, KP_ERR_INVALID, "xml: no root element");
	}
	rc = convert(&cv, top, 0, root);
	xmlFreeDoc(doc);
	if (rc)
		*root = NULL;
	return rc;
}

const struct kp_aws_xnode *kp_aws_xml_child(const struct kp_aws_xnode *n, const char *name)
{
	if (!n)
		return NULL;
	for (const struct kp_aws_xnode *c = n->child; c; c = c->next)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

const struct kp_aws_xnode *kp_aws_xml_path(const struct kp_aws_xnode *n, const char *path)
{
	char step[128];

	while (n && *path) {
		const char *slash = strchr(path, '/');
		size_t k = slash ? (size_t)(slash - path) : strlen(path);

		if (k >= sizeof(step))
			return NULL;
		memcpy(step, path, k);
		step[k] = 0;
		n = kp_aws_xml_child(n, step);
		path += k + (slash ? 1 : 0);
	}
	return n;
}

const char *kp_aws_xml_text(const struct kp_aws_xnode *n, const char *path)
{
	n = kp_aws_xml_path(n, path);
	return n ? n->text : NULL;
}

const struct kp_aws_xnode *kp_aws_xml_find(const struct kp_aws_xnode *n, const char *name)
{
	if (!n)
		return NULL;
	for (const struct kp_aws_xnode *c = n->child; c; c = c->next) {
		const struct kp_aws_xnode *f;

		if (strcmp(c->name, name) == 0)
			return c;
		if ((f = kp_aws_xml_find(c, name)))
			return f;
	}
	return NULL;
}
