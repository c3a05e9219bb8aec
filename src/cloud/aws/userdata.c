/*
 * userdata.c - user data per AMI family for one launch, as Karpenter's
 * pkg/providers/amifamily/bootstrap writes it:
 *
 *   AL2 (eksbootstrap.go EKS.Script): MIME multipart; the class's userData
 *     parts first (copied; plain userData becomes one shell-script part),
 *     then /etc/eks/bootstrap.sh with --kubelet-extra-args
 *     '--node-labels=... --register-with-taints=... --max-pods=N',
 *     --dns-cluster-ip, --use-max-pods false.
 *   AL2023 (nodeadm.go Nodeadm.Script): MIME multipart; the userData parts
 *     (plain userData: a NodeConfig when it is YAML, else a shell script),
 *     then Karpenter's NodeConfig (cluster, kubelet config maxPods,
 *     clusterDNS, registerWithTaints; flags --node-labels).
 *   Bottlerocket (bottlerocket.go Bottlerocket.Script): the userData TOML
 *     parsed (toml.c) and settings.kubernetes.{api-server,
 *     cluster-certificate, cluster-name, cluster-dns-ip, max-pods} set over
 *     it, node-labels and node-taints merged key by key (ours win).
 *   Windows (windows.go): PowerShell, userData first, then
 *     Start-EKSBootstrap.ps1 with -KubeletExtraArgs and -DNSClusterIP.
 *   Custom: userData verbatim.
 *
 * Labels: the NodeClaim's labels plus karpenter.sh/capacity-type
 * (launchtemplate.go createAMIOptions). Taints: spec.taints, then
 * spec.startupTaints, then karpenter.sh/unregistered:NoExecute unless one
 * with that key and effect is there (amifamily resolver.go).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cloud/aws/aws_int.h"
#include "karpenter/labels.h"
#include "karpenter/taints.h"

#define UD_MAX (1u << 20)
#define BOUNDARY "//"
#define MAX_PARTS 64

/* ---- what the launch passes to the node ---- */

struct udopts {
	struct kp_arena a;
	struct kp_labels labels;          /* sorted by key */
	struct kp_taint *taints;
	int ntaints;
	char maxpods[32];                 /* "" = unset */
	const json_t *dns;                /* spec.kubelet.clusterDNS (array) or NULL */
};

static void opts_init(struct udopts *o, const struct kp_aws_class *c, const struct kp_nodeclaim *claim,
		      enum kp_captype ct)
{
	static const struct kp_taint unreg = { "karpenter.sh/unregistered", NULL, KP_EFFECT_NOEXECUTE };
	const json_t *kubelet = json_object_get(c->spec, "kubelet");
	int n = claim ? claim->taints.n + claim->startup_taints.n : 0;
	bool has_unreg = false;

	memset(o, 0, sizeof(*o));
	kp_arena_init(&o->a);
	if (claim)
		kp_labels_copy(&o->labels, &o->a, &claim->labels);
	kp_labels_set(&o->labels, &o->a, KP_LABEL_CAPACITY_TYPE, kp_captype_name(ct));
	o->taints = kp_arena_alloc(&o->a, (size_t)(n + 1) * sizeof(*o->taints));
	for (int i = 0; claim && o->taints && i < n; i++) {
		const struct kp_taint *t = i < claim->taints.n ? &claim->taints.t[i]
							       : &claim->startup_taints.t[i - claim->taints.n];

		o->taints[o->ntaints++] = *t;
		has_unreg |= strcmp(t->key, unreg.key) == 0 && t->effect == unreg.effect; /* Taint.MatchTaint */
	}
	if (o->taints && !has_unreg)
		o->taints[o->ntaints++] = unreg;
	if (c->max_pods > 0)
		snprintf(o->maxpods, sizeof(o->maxpods), "%lld", (long long)c->max_pods);
	if (json_array_size(json_object_get(kubelet, "clusterDNS")))
		o->dns = json_object_get(kubelet, "clusterDNS");
}

static const char *dns0(const struct udopts *o)
{
	return o->dns ? json_string_value(json_array_get(o->dns, 0)) : NULL;
}

/* "k=v,k2=v2" (sorted, as nodeLabelArg) */
static void labels_csv(struct kp_buf *b, const struct udopts *o)
{
	for (int i = 0; i < o->labels.n; i++)
		kp_buf_printf(b, "%s%s=%s", i ? "," : "", o->labels.kv[i].key, o->labels.kv[i].value);
}

/* "k=v:Effect,..." (nodeTaintArg) */
static void taints_csv(struct kp_buf *b, const struct udopts *o)
{
	for (int i = 0; i < o->ntaints; i++)
		kp_buf_printf(b, "%s%s=%s:%s", i ? "," : "", o->taints[i].key, o->taints[i].value ? o->taints[i].value : "",
			      kp_effect_name(o->taints[i].effect));
}

/* kubeletExtraArgs: --node-labels="..." --register-with-taints="..." --max-pods=N */
static void kubelet_args(struct kp_buf *b, const struct udopts *o)
{
	kp_buf_addstr(b, "--node-labels=\"");
	labels_csv(b, o);
	kp_buf_addstr(b, "\"");
	if (o->ntaints) {
		kp_buf_addstr(b, " --register-with-taints=\"");
		taints_csv(b, o);
		kp_buf_addstr(b, "\"");
	}
	if (o->maxpods[0])
		kp_buf_printf(b, " --max-pods=%s", o->maxpods);
}

/* A JSON string, which YAML reads as the same string. */
static void yq(struct kp_buf *b, const char *s)
{
	json_t *j = json_string(s ? s : "");
	char *d = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;

	kp_buf_addstr(b, d ? d : "\"\"");
	free(d);
	json_decref(j);
}

/* A TOML basic string. */
static char *tq(const char *s)
{
	struct kp_buf b;

	kp_buf_init(&b, UD_MAX);
	kp_buf_addstr(&b, "\"");
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			kp_buf_printf(&b, "\\%c", *s);
		else if ((unsigned char)*s < 0x20 || *s == 0x7f)
			kp_buf_printf(&b, "\\u%04x", (unsigned char)*s);
		else
			kp_buf_printf(&b, "%c", *s);
	}
	kp_buf_addstr(&b, "\"");
	return kp_buf_take(&b);
}

/* ---- MIME multipart ---- */

struct part {
	const char *hdr, *body;           /* header block (without the blank line), body */
	size_t nhdr, nbody;
};

/* The line at *p (without its end), advancing *p past it. */
static size_t line_at(const char **p, const char *end, const char **l)
{
	const char *s = *p, *nl = memchr(s, '\n', (size_t)(end - s));
	size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);

	*l = s;
	*p = nl ? nl + 1 : end;
	if (n && s[n - 1] == '\r')
		n--;
	return n;
}

static bool is_blank(const char *l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (l[i] != ' ' && l[i] != '\t')
			return false;
	return true;
}

/* 1: "--B" (a delimiter), 2: "--B--" (the close), 0: neither. Trailing
 * blanks allowed (RFC 2046 transport padding). */
static int delim(const char *l, size_t n, const char *bd, size_t nb)
{
	if (n < nb + 2 || l[0] != '-' || l[1] != '-' || memcmp(l + 2, bd, nb) != 0)
		return 0;
	l += nb + 2;
	n -= nb + 2;
	if (n >= 2 && l[0] == '-' && l[1] == '-')
		return is_blank(l + 2, n - 2) ? 2 : 0;
	return is_blank(l, n) ? 1 : 0;
}

/* The boundary parameter of the Content-Type header in hdr. */
static bool boundary_of(const char *hdr, size_t n, char *out, size_t on)
{
	const char *end = hdr + n, *p = hdr, *l;

	while (p < end) {
		size_t ln = line_at(&p, end, &l);
		char v[1024];
		size_t k = 0;
		const char *bp;

		if (ln < 13 || strncasecmp(l, "Content-Type:", 13) != 0)
			continue;
		/* the value, with its continuation lines */
		k = ln - 13 < sizeof(v) - 1 ? ln - 13 : sizeof(v) - 1;
		memcpy(v, l + 13, k);
		while (p < end && (*p == ' ' || *p == '\t')) {
			size_t cn = line_at(&p, end, &l);

			if (k + cn + 1 < sizeof(v)) {
				v[k++] = ' ';
				memcpy(v + k, l, cn);
				k += cn;
			}
		}
		v[k] = 0;
		bp = strcasestr(v, "boundary=");
		if (!bp)
			return false;
		bp += 9;
		k = 0;
		if (*bp == '"') {
			for (bp++; *bp && *bp != '"' && k + 1 < on; bp++)
				out[k++] = *bp;
		} else {
			for (; *bp && *bp != ';' && *bp != ' ' && *bp != '\t' && k + 1 < on; bp++)
				out[k++] = *bp;
		}
		out[k] = 0;
		return k > 0;
	}
	return false;
}

/* Splits MIME multipart user data into its parts. -1 with why when it is
 * not well formed. */
static int mime_parts(const char *ud, struct part *parts, int max, char *why, size_t wn)
{
	const char *p = ud, *end = ud + strlen(ud), *l, *hdr = ud;
	char bd[128];
	size_t nb, n;
	int np = 0, d = 0;
	const char *start = NULL;

	/* top-level headers, up to the blank line */
	for (;;) {
		if (p >= end) {
			snprintf(why, wn, "MIME user data: no blank line after the headers");
			return -1;
		}
		n = line_at(&p, end, &l);
		if (n == 0)
			break;
	}
	if (!boundary_of(hdr, (size_t)(l - hdr), bd, sizeof(bd))) {
		snprintf(why, wn, "MIME user data: no multipart boundary in Content-Type");
		return -1;
	}
	nb = strlen(bd);
	/* preamble, parts */
	while (p < end) {
		const char *ls = p;

		n = line_at(&p, end, &l);
		if (!(d = delim(l, n, bd, nb)))
			continue;
		if (start) {
			const char *e = ls > start && ls[-1] == '\n' ? ls - 1 : ls;
			const char *q = start, *hl;
			struct part *pt;

			if (e > start && e[-1] == '\r')
				e--;
			if (np == max) {
				snprintf(why, wn, "MIME user data: more than %d parts", max);
				return -1;
			}
			pt = &parts[np++];
			pt->hdr = start;
			for (;;) {
				size_t hn;

				if (q >= e) {
					pt->nhdr = (size_t)(e - start);
					pt->body = e;
					pt->nbody = 0;
					break;
				}
				hn = line_at(&q, e, &hl);
				if (hn == 0) {
					pt->nhdr = (size_t)(hl - start);
					pt->body = q;
					pt->nbody = (size_t)(e - q);
					break;
				}
			}
		}
		if (d == 2)
			break;
		start = p;
	}
	if (d != 2 && start && start < end && !is_blank(start, (size_t)(end - start))) {
		snprintf(why, wn, "MIME user data: no closing --%s-- delimiter", bd);
		return -1;
	}
	if (np == 0) {
		snprintf(why, wn, "MIME user data: no part delimited by --%s", bd);
		return -1;
	}
	return np;
}

static bool is_mime(const char *ud)
{
	while (*ud == ' ' || *ud == '\t' || *ud == '\n' || *ud == '\r')
		ud++;
	return strncmp(ud, "MIME-Version:", 13) == 0;
}

/* A part body must not hold our boundary's delimiter line. */
static bool holds_boundary(const char *s, size_t n)
{
	const char *p = s, *end = s + n, *l;

	while (p < end) {
		size_t ln = line_at(&p, end, &l);

		if (delim(l, ln, BOUNDARY, strlen(BOUNDARY)))
			return true;
	}
	return false;
}

static void mime_head(struct kp_buf *b)
{
	kp_buf_addstr(b, "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"" BOUNDARY "\"\n\n");
}

static void mime_part(struct kp_buf *b, const char *hdr, size_t nhdr, const char *body, size_t nbody)
{
	kp_buf_printf(b, "--" BOUNDARY "\n%.*s", (int)nhdr, hdr);
	if (nhdr && hdr[nhdr - 1] != '\n')
		kp_buf_addstr(b, "\n");
	kp_buf_printf(b, "\n%.*s", (int)nbody, body);
	if (nbody && body[nbody - 1] != '\n')
		kp_buf_addstr(b, "\n");
}

/* The user's parts: user (MIME) copied part by part, else one part of
 * plain_type. */
static kp_err user_parts(struct kp_buf *b, const char *user, const char *plain_type, struct kp_errbuf *eb)
{
	struct part parts[MAX_PARTS];
	char why[256];
	int np;

	if (!user || !*user)
		return KP_OK;
	if (!is_mime(user)) {
		char hdr[128];

		if (holds_boundary(user, strlen(user)))
			return kp_errf(eb, KP_ERR_INVALID, "userData: holds the line --%s", BOUNDARY);
		snprintf(hdr, sizeof(hdr), "Content-Type: %s\n", plain_type);
		mime_part(b, hdr, strlen(hdr), user, strlen(user));
		return KP_OK;
	}
	if ((np = mime_parts(user, parts, MAX_PARTS, why, sizeof(why))) < 0)
		return kp_errf(eb, KP_ERR_INVALID, "userData: %s", why);
	for (int i = 0; i < np; i++) {
		if (holds_boundary(parts[i].hdr, parts[i].nhdr) || holds_boundary(parts[i].body, parts[i].nbody))
			return kp_errf(eb, KP_ERR_INVALID, "userData part %d: holds the line --%s", i + 1, BOUNDARY);
		mime_part(b, parts[i].hdr, parts[i].nhdr, parts[i].body, parts[i].nbody);
	}
	return KP_OK;
}

/* nodeadm.go parseUserData: plain userData that is YAML (its first line
 * that is neither blank nor a comment is "key: ...") is a NodeConfig. */
static bool looks_yaml(const char *s)
{
	const char *p = s, *end = s + strlen(s), *l;

	while (p < end) {
		size_t n = line_at(&p, end, &l), i = 0;

		if (is_blank(l, n) || l[0] == '#')
			continue;
		while (i < n && l[i] != ':' && l[i] != ' ' && l[i] != '\t')
			i++;
		return i > 0 && i < n && l[i] == ':' && (i + 1 == n || l[i + 1] == ' ');
	}
	return false;
}

/* ---- families ---- */

static kp_err al2(struct kp_buf *b, struct kp_aws_cloud *w, const char *user, const struct udopts *o,
		  struct kp_errbuf *eb)
{
	kp_err rc;

	mime_head(b);
	if ((rc = user_parts(b, user, "text/x-shellscript; charset=\"us-ascii\"", eb)))
		return rc;
	kp_buf_printf(b,
		      "--" BOUNDARY "\nContent-Type: text/x-shellscript; charset=\"us-ascii\"\n\n#!/bin/bash -xe\n"
		      "exec > >(tee /var/log/user-data.log|logger -t user-data -s 2>/dev/console) 2>&1\n"
		      "/etc/eks/bootstrap.sh '%s' --apiserver-endpoint '%s'",
		      w->cluster, w->cluster_endpoint);
	if (w->cluster_ca && *w->cluster_ca)
		kp_buf_printf(b, " --b64-cluster-ca '%s'", w->cluster_ca);
	kp_buf_addstr(b, " \\\n--kubelet-extra-args '");
	kubelet_args(b, o);
	kp_buf_addstr(b, "'");
	if (dns0(o))
		kp_buf_printf(b, " \\\n--dns-cluster-ip '%s'", dns0(o));
	if (o->maxpods[0])
		kp_buf_addstr(b, " \\\n--use-max-pods false");
	kp_buf_addstr(b, "\n--" BOUNDARY "--\n");
	return KP_OK;
}

static kp_err al2023(struct kp_buf *b, struct kp_aws_cloud *w, const char *user, const struct udopts *o,
		     struct kp_errbuf *eb)
{
	size_t i;
	json_t *v;
	kp_err rc;

	mime_head(b);
	if ((rc = user_parts(b, user,
			     user && looks_yaml(user) ? "application/node.eks.aws" : "text/x-shellscript; charset=\"us-ascii\"",
			     eb)))
		return rc;
	kp_buf_addstr(b, "--" BOUNDARY "\nContent-Type: application/node.eks.aws\n\n"
			 "apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  cluster:\n    name: ");
	yq(b, w->cluster);
	kp_buf_addstr(b, "\n    apiServerEndpoint: ");
	yq(b, w->cluster_endpoint);
	kp_buf_addstr(b, "\n    certificateAuthority: ");
	yq(b, w->cluster_ca ? w->cluster_ca : "");
	kp_buf_addstr(b, "\n    cidr: ");
	yq(b, w->cluster_cidr);
	kp_buf_addstr(b, "\n  kubelet:\n    config:\n");
	if (o->maxpods[0])
		kp_buf_printf(b, "      maxPods: %s\n", o->maxpods);
	if (o->dns) {
		kp_buf_addstr(b, "      clusterDNS:\n");
		json_array_foreach((json_t *)o->dns, i, v) {
			kp_buf_addstr(b, "      - ");
			yq(b, json_string_value(v));
			kp_buf_addstr(b, "\n");
		}
	}
	if (o->ntaints) {
		kp_buf_addstr(b, "      registerWithTaints:\n");
		for (int t = 0; t < o->ntaints; t++) {
			kp_buf_addstr(b, "      - key: ");
			yq(b, o->taints[t].key);
			if (o->taints[t].value) {
				kp_buf_addstr(b, "\n        value: ");
				yq(b, o->taints[t].value);
			}
			kp_buf_printf(b, "\n        effect: %s\n", kp_effect_name(o->taints[t].effect));
		}
	}
	if (!o->maxpods[0] && !o->dns && !o->ntaints)
		kp_buf_addstr(b, "      {}\n");
	kp_buf_addstr(b, "    flags:\n    - ");
	{
		struct kp_buf l;

		kp_buf_init(&l, UD_MAX);
		kp_buf_addstr(&l, "--node-labels=");
		labels_csv(&l, o);
		yq(b, l.data);
		kp_buf_free(&l);
	}
	kp_buf_addstr(b, "\n--" BOUNDARY "--\n");
	return KP_OK;
}

static kp_err toml_str(struct kp_aws_toml *d, const char *const *tbl, int nt, const char *key, const char *val)
{
	char *q = tq(val);
	kp_err rc = q ? kp_aws_toml_set(d, tbl, nt, key, q) : KP_ERR_NOMEM;

	free(q);
	return rc;
}

static kp_err bottlerocket(struct kp_buf *b, struct kp_aws_cloud *w, const char *user, const struct udopts *o,
			   struct kp_errbuf *eb)
{
	static const char *const k8s[] = { "settings", "kubernetes", "" };
	struct kp_aws_toml *d = NULL;
	kp_err rc;
	char *out;

	if ((rc = kp_aws_toml_parse(user ? user : "", user ? strlen(user) : 0, &d, eb)))
		return rc;
	rc = toml_str(d, k8s, 2, "api-server", w->cluster_endpoint);
	if (!rc && w->cluster_ca && *w->cluster_ca)
		rc = toml_str(d, k8s, 2, "cluster-certificate", w->cluster_ca);
	if (!rc)
		rc = toml_str(d, k8s, 2, "cluster-name", w->cluster);
	if (!rc && dns0(o))
		rc = toml_str(d, k8s, 2, "cluster-dns-ip", dns0(o));
	if (!rc && o->maxpods[0])
		rc = kp_aws_toml_set(d, k8s, 2, "max-pods", o->maxpods);
	{
		const char *const tl[] = { "settings", "kubernetes", "node-labels" };

		for (int i = 0; !rc && i < o->labels.n; i++)
			rc = toml_str(d, tl, 3, o->labels.kv[i].key, o->labels.kv[i].value);
	}
	{
		/* node-taints: key = ["value:Effect", ...], one entry per key */
		const char *const tt[] = { "settings", "kubernetes", "node-taints" };

		for (int i = 0; !rc && i < o->ntaints; i++) {
			struct kp_buf v;
			bool first = true;

			for (int j = 0; j < i; j++)
				if (strcmp(o->taints[j].key, o->taints[i].key) == 0)
					first = false;
			if (!first)
				continue;
			kp_buf_init(&v, UD_MAX);
			kp_buf_addstr(&v, "[");
			for (int j = i, n = 0; j < o->ntaints; j++) {
				char ve[1024], *q;

				if (strcmp(o->taints[j].key, o->taints[i].key) != 0)
					continue;
				snprintf(ve, sizeof(ve), "%s:%s", o->taints[j].value ? o->taints[j].value : "",
					 kp_effect_name(o->taints[j].effect));
				q = tq(ve);
				kp_buf_printf(&v, "%s%s", n++ ? ", " : "", q ? q : "\"\"");
				free(q);
			}
			kp_buf_addstr(&v, "]");
			rc = kp_aws_toml_set(d, tt, 3, o->taints[i].key, v.data ? v.data : "[]");
			kp_buf_free(&v);
		}
	}
	if (rc) {
		kp_aws_toml_free(d);
		return kp_errf(eb, rc, "userData: out of memory");
	}
	out = kp_aws_toml_emit(d);
	kp_aws_toml_free(d);
	if (!out)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	kp_buf_addstr(b, out);
	free(out);
	return KP_OK;
}

static void windows(struct kp_buf *b, struct kp_aws_cloud *w, const char *user, const struct udopts *o)
{
	kp_buf_addstr(b, "<powershell>\n");
	if (user && *user)
		kp_buf_printf(b, "%s\n", user);
	kp_buf_printf(b,
		      "[string]$EKSBootstrapScriptFile = \"$env:ProgramFiles\\Amazon\\EKS\\Start-EKSBootstrap.ps1\"\n"
		      "& $EKSBootstrapScriptFile -EKSClusterName '%s' -APIServerEndpoint '%s'",
		      w->cluster, w->cluster_endpoint);
	if (w->cluster_ca && *w->cluster_ca)
		kp_buf_printf(b, " -Base64ClusterCA '%s'", w->cluster_ca);
	kp_buf_addstr(b, " -KubeletExtraArgs '");
	kubelet_args(b, o);
	kp_buf_addstr(b, "'");
	if (dns0(o))
		kp_buf_printf(b, " -DNSClusterIP '%s'", dns0(o));
	kp_buf_addstr(b, "\n</powershell>\n");
}

char *kp_aws_user_data(struct kp_aws_cloud *w, const struct kp_aws_class *c, const struct kp_nodeclaim *claim,
		       enum kp_captype ct, struct kp_errbuf *eb)
{
	const char *user = json_string_value(json_object_get(c->spec, "userData"));
	struct udopts o;
	struct kp_buf b;
	kp_err rc = KP_OK;

	kp_buf_init(&b, UD_MAX);
	opts_init(&o, c, claim, ct);
	if (strcmp(c->family, "Custom") == 0)
		kp_buf_addstr(&b, user ? user : "");
	else if (strcmp(c->family, "AL2023") == 0)
		rc = al2023(&b, w, user, &o, eb);
	else if (strcmp(c->family, "Bottlerocket") == 0)
		rc = bottlerocket(&b, w, user, &o, eb);
	else if (kp_aws_family_windows(c->family))
		windows(&b, w, user, &o);
	else /* AL2, Ubuntu */
		rc = al2(&b, w, user, &o, eb);
	kp_arena_free(&o.a);
	if (rc) {
		kp_buf_free(&b);
		return NULL;
	}
	return kp_buf_take(&b);
}
