/*
 * nodeclass.c - EC2NodeClass resolution (karpenter.k8s.aws v1 and v1beta1
 * shapes): subnets and security groups from selector terms (tags with "*",
 * id, name), AMIs (alias family@version through SSM, id, name, tags, owner,
 * ssmParameter; newest non-deprecated first), the instance profile (given,
 * or created for spec.role and tagged), tag validation, the
 * ec2nodeclass-hash, status and conditions (user data per AMI family is
 * userdata.c's).
 *
 * Mirrors pkg/providers/{subnet,securitygroup,amifamily,instanceprofile}
 * and pkg/apis/v1/ec2nodeclass_hash.go: selector terms are ORed, fields in
 * a term ANDed; every id term collapses into one filter; one Describe per
 * filter set; results de-duplicated by id.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cloud/aws/aws_int.h"
#include "karpenter/quantity.h"

static void copy(char *dst, size_t n, const char *src)
{
	size_t k = strnlen(src ? src : "", n - 1);

	memcpy(dst, src ? src : "", k);
	dst[k] = 0;
}

/* snprintf through a va_list: reasons are cut to their buffer on purpose */
static void whyf(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void whyf(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
}

static uint64_t fnv(uint64_t h, const char *s)
{
	for (; s && *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

int kp_aws_volume_gib(const json_t *size, int64_t *gib)
{
	int64_t bytes;

	*gib = 0;
	if (!size)
		return 0;
	if (json_is_integer(size))
		bytes = json_integer_value(size);
	else if (!json_is_string(size) || kp_qty_parse(json_string_value(size), KP_QTY_UNIT, &bytes, NULL))
		return -1;
	if (bytes <= 0)
		return -1;
	/* launchtemplate.go volumeSize: to GiB, rounded up */
	*gib = bytes / (1LL << 30) + (bytes % (1LL << 30) != 0);
	return 1;
}

bool kp_aws_family_windows(const char *family)
{
	return strncmp(family, "Windows", 7) == 0;
}

/* ---- selector terms into Describe filters ---- */

/* Adds the tag filters of term's "tags" map starting at filter number *nf. */
static void tag_filters(struct kp_aws_params *p, const json_t *tags, int *nf)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)tags, k, v) {
		const char *val = json_string_value(v);

		(*nf)++;
		if (!val || strcmp(val, "*") == 0) {
			kp_aws_params_addf(p, "tag-key", "Filter.%d.Name", *nf);
			kp_aws_params_addf(p, k, "Filter.%d.Value.1", *nf);
		} else {
			char name[300];

			snprintf(name, sizeof(name), "tag:%s", k);
			kp_aws_params_addf(p, name, "Filter.%d.Name", *nf);
			kp_aws_params_addf(p, val, "Filter.%d.Value.1", *nf);
		}
	}
}

/* ---- subnets ---- */

struct subnets {
	struct kp_aws_class *c;
	int cap;
};

static kp_err on_subnet(void *ud, const struct kp_aws_xnode *it, struct kp_errbuf *eb)
{
	struct subnets *s = ud;
	struct kp_aws_class *c = s->c;
	const char *id = kp_aws_xml_text(it, "subnetId");
	struct kp_aws_subnet *sn;
	int64_t ips = 0;

	if (!id)
		return KP_OK;
	for (int i = 0; i < c->nsub; i++)
		if (strcmp(c->subnets[i].id, id) == 0)
			return KP_OK;
	if (c->nsub == s->cap) {
		int cap = s->cap ? s->cap * 2 : 8;
		void *n = realloc(c->subnets, (size_t)cap * sizeof(*c->subnets));

		if (!n)
			return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
		c->subnets = n;
		s->cap = cap;
	}
	sn = &c->subnets[c->nsub++];
	memset(sn, 0, sizeof(*sn));
	copy(sn->id, sizeof(sn->id), id);
	copy(sn->zone, sizeof(sn->zone), kp_aws_xml_text(it, "availabilityZone"));
	copy(sn->zone_id, sizeof(sn->zone_id), kp_aws_xml_text(it, "availabilityZoneId"));
	if (kp_aws_xml_text(it, "availableIpAddressCount"))
		kp_parse_i64(kp_aws_xml_text(it, "availableIpAddressCount"), &ips);
	sn->free_ips = ips;
	return KP_OK;
}

static kp_err resolve_subnets(struct kp_aws_cloud *w, const json_t *terms, struct kp_aws_class *c, struct kp_errbuf *eb)
{
	struct subnets s = { c, 0 };
	struct kp_aws_params ids;
	int nids = 0;
	size_t i;
	json_t *t;
	kp_err rc = KP_OK;

	kp_aws_params_init(&ids, "DescribeSubnets", KP_AWS_EC2_VERSION);
	kp_aws_params_add(&ids, "Filter.1.Name", "subnet-id");
	json_array_foreach((json_t *)terms, i, t) {
		const char *id = json_string_value(json_object_get(t, "id"));
		const json_t *tags = json_object_get(t, "tags");

		if (id) {
			kp_aws_params_addf(&ids, id, "Filter.1.Value.%d", ++nids);
		} else if (json_is_object(tags) && json_object_size(tags)) {
			struct kp_aws_params p;
			int nf = 0;

			kp_aws_params_init(&p, "DescribeSubnets", KP_AWS_EC2_VERSION);
			tag_filters(&p, tags, &nf);
			rc = kp_aws_ec2_each(w, &p, "subnetSet", on_subnet, &s, eb);
			kp_aws_params_free(&p);
		}
		if (rc)
			break;
	}
	if (!rc && nids)
		rc = kp_aws_ec2_each(w, &ids, "subnetSet", on_subnet, &s, eb);
	kp_aws_params_free(&ids);
	return rc;
}

/* ---- security groups ---- */

struct sgs {
	struct kp_aws_class *c;
	int cap;
};

static kp_err on_sg(void *ud, const struct kp_aws_xnode *it, struct kp_errbuf *eb)
{
	struct sgs *s = ud;
	struct kp_aws_class *c = s->c;
	const char *id = kp_aws_xml_text(it, "groupId");

	if (!id)
		return KP_OK;
	for (int i = 0; i < c->nsg; i++)
		if (strcmp(c->sgs[i].id, id) == 0)
			return KP_OK;
	if (c->nsg == s->cap) {
		int cap = s->cap ? s->cap * 2 : 8;
		void *n = realloc(c->sgs, (size_t)cap * sizeof(*c->sgs));

		if (!n)
			return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
		c->sgs = n;
		s->cap = cap;
	}
	copy(c->sgs[c->nsg].id, sizeof(c->sgs[0].id), id);
	copy(c->sgs[c->nsg].name, sizeof(c->sgs[0].name), kp_aws_xml_text(it, "groupName"));
	c->nsg++;
	return KP_OK;
}

static kp_err resolve_sgs(struct kp_aws_cloud *w, const json_t *terms, struct kp_aws_class *c, struct kp_errbuf *eb)
{
	struct sgs s = { c, 0 };
	struct kp_aws_params ids, names;
	int nids = 0, nnames = 0;
	size_t i;
	json_t *t;
	kp_err rc = KP_OK;

	kp_aws_params_init(&ids, "DescribeSecurityGroups", KP_AWS_EC2_VERSION);
	kp_aws_params_add(&ids, "Filter.1.Name", "group-id");
	kp_aws_params_init(&names, "DescribeSecurityGroups", KP_AWS_EC2_VERSION);
	kp_aws_params_add(&names, "Filter.1.Name", "group-name");
	json_array_foreach((json_t *)terms, i, t) {
		const char *id = json_string_value(json_object_get(t, "id"));
		const char *name = json_string_value(json_object_get(t, "name"));
		const json_t *tags = json_object_get(t, "tags");

		if (id) {
			kp_aws_params_addf(&ids, id, "Filter.1.Value.%d", ++nids);
		} else if (name) {
			kp_aws_params_addf(&names, name, "Filter.1.Value.%d", ++nnames);
		} else if (json_is_object(tags) && json_object_size(tags)) {
			struct kp_aws_params p;
			int nf = 0;

			kp_aws_params_init(&p, "DescribeSecurityGroups", KP_AWS_EC2_VERSION);
			tag_filters(&p, tags, &nf);
			rc = kp_aws_ec2_each(w, &p, "securityGroupInfo", on_sg, &s, eb);
			kp_aws_params_free(&p);
		}
		if (rc)
			break;
	}
	if (!rc && nids)
		rc = kp_aws_ec2_each(w, &ids, "securityGroupInfo", on_sg, &s, eb);
	if (!rc && nnames)
		rc = kp_aws_ec2_each(w, &names, "securityGroupInfo", on_sg, &s, eb);
	kp_aws_params_free(&ids);
	kp_aws_params_free(&names);
	return rc;
}

/* ---- capacity reservations (pkg/providers/capacityreservation) ---- */

struct crs {
	struct kp_aws_class *c;
	int cap;
};

static kp_err on_cr(void *ud, const struct kp_aws_xnode *it, struct kp_errbuf *eb)
{
	struct crs *s = ud;
	struct kp_aws_class *c = s->c;
	const char *id = kp_aws_xml_text(it, "capacityReservationId");
	const char *state = kp_aws_xml_text(it, "state");
	struct kp_aws_cr *cr;

	if (!id || (state && strcmp(state, "active") != 0))
		return KP_OK;
	for (int i = 0; i < c->ncr; i++)
		if (strcmp(c->crs[i].id, id) == 0)
			return KP_OK;
	if (c->ncr == s->cap) {
		int cap = s->cap ? s->cap * 2 : 4;
		void *n = realloc(c->crs, (size_t)cap * sizeof(*c->crs));

		if (!n)
			return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
		c->crs = n;
		s->cap = cap;
	}
	cr = &c->crs[c->ncr];
	memset(cr, 0, sizeof(*cr));
	copy(cr->id, sizeof(cr->id), id);
	copy(cr->type, sizeof(cr->type), kp_aws_xml_text(it, "instanceType"));
	copy(cr->zone, sizeof(cr->zone), kp_aws_xml_text(it, "availabilityZone"));
	copy(cr->owner, sizeof(cr->owner), kp_aws_xml_text(it, "ownerId"));
	copy(cr->match, sizeof(cr->match), kp_aws_xml_text(it, "instanceMatchCriteria"));
	if (kp_aws_xml_text(it, "totalInstanceCount"))
		kp_parse_i64(kp_aws_xml_text(it, "totalInstanceCount"), &cr->total);
	if (kp_aws_xml_text(it, "availableInstanceCount"))
		kp_parse_i64(kp_aws_xml_text(it, "availableInstanceCount"), &cr->avail);
	if (cr->type[0] && cr->zone[0] && cr->total > 0)
		c->ncr++;
	return KP_OK;
}

/* capacityReservationSelectorTerms: ids collapse into one call
 * (CapacityReservationId.N), each tags/ownerID term is one filter set;
 * always state=active, and instanceMatchCriteria when the term has it
 * (capacityreservation/provider.go List). No terms: no call. */
static kp_err resolve_crs(struct kp_aws_cloud *w, const json_t *terms, struct kp_aws_class *c, struct kp_errbuf *eb)
{
	struct crs s = { c, 0 };
	struct kp_aws_params ids;
	int nids = 0;
	size_t i;
	json_t *t;
	kp_err rc = KP_OK;

	kp_aws_params_init(&ids, "DescribeCapacityReservations", KP_AWS_EC2_VERSION);
	kp_aws_params_add(&ids, "Filter.1.Name", "state");
	kp_aws_params_add(&ids, "Filter.1.Value.1", "active");
	json_array_foreach((json_t *)terms, i, t) {
		const char *id = json_string_value(json_object_get(t, "id"));
		const char *owner = json_string_value(json_object_get(t, "ownerID"));
		const char *match = json_string_value(json_object_get(t, "instanceMatchCriteria"));
		const json_t *tags = json_object_get(t, "tags");

		if (id) {
			kp_aws_params_addf(&ids, id, "CapacityReservationId.%d", ++nids);
		} else if ((json_is_object(tags) && json_object_size(tags)) || owner) {
			struct kp_aws_params p;
			int nf = 1;

			kp_aws_params_init(&p, "DescribeCapacityReservations", KP_AWS_EC2_VERSION);
			kp_aws_params_add(&p, "Filter.1.Name", "state");
			kp_aws_params_add(&p, "Filter.1.Value.1", "active");
			if (json_is_object(tags))
				tag_filters(&p, tags, &nf);
			if (owner) {
				nf++;
				kp_aws_params_addf(&p, "owner-id", "Filter.%d.Name", nf);
				kp_aws_params_addf(&p, owner, "Filter.%d.Value.1", nf);
			}
			if (match) {
				nf++;
				kp_aws_params_addf(&p, "instance-match-criteria", "Filter.%d.Name", nf);
				kp_aws_params_addf(&p, match, "Filter.%d.Value.1", nf);
			}
			rc = kp_aws_ec2_each(w, &p, "capacityReservationSet", on_cr, &s, eb);
			kp_aws_params_free(&p);
		}
		if (rc)
			break;
	}
	if (!rc && nids)
		rc = kp_aws_ec2_each(w, &ids, "capacityReservationSet", on_cr, &s, eb);
	kp_aws_params_free(&ids);
	return rc;
}

/* ---- AMIs ---- */

struct amis {
	struct kp_aws_class *c;
	int cap;
	int64_t now_s;
};

static kp_err on_image(void *ud, const struct kp_aws_xnode *it, struct kp_errbuf *eb)
{
	struct amis *s = ud;
	struct kp_aws_class *c = s->c;
	const char *id = kp_aws_xml_text(it, "imageId"), *arch = kp_aws_xml_text(it, "architecture");
	const char *dep = kp_aws_xml_text(it, "deprecationTime");
	struct kp_aws_ami *am;
	int64_t t;

	bool mac = false;
	const char *karch = NULL;

	if (!id || !arch)
		return KP_OK;
	/* v1.AWSToKubeArchitectures: x86_64 -> amd64, arm64; the mac variants
	 * map to the same arch but only to mac instance types; anything else
	 * (i386) is skipped, as amifamily.amis does */
	if (strcmp(arch, "x86_64") == 0 || (mac = strcmp(arch, "x86_64_mac") == 0))
		karch = "amd64";
	else if (strcmp(arch, "arm64") == 0 || (mac = strcmp(arch, "arm64_mac") == 0))
		karch = "arm64";
	if (!karch)
		return KP_OK;
	for (int i = 0; i < c->nami; i++)
		if (strcmp(c->amis[i].id, id) == 0)
			return KP_OK;
	if (c->nami == s->cap) {
		int cap = s->cap ? s->cap * 2 : 8;
		void *n = realloc(c->amis, (size_t)cap * sizeof(*c->amis));

		if (!n)
			return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
		c->amis = n;
		s->cap = cap;
	}
	am = &c->amis[c->nami++];
	memset(am, 0, sizeof(*am));
	copy(am->id, sizeof(am->id), id);
	copy(am->name, sizeof(am->name), kp_aws_xml_text(it, "name"));
	copy(am->arch, sizeof(am->arch), karch);
	am->mac = mac;
	copy(am->created, sizeof(am->created), kp_aws_xml_text(it, "creationDate"));
	am->deprecated = dep && !kp_parse_rfc3339(dep, &t) && t <= s->now_s;
	return KP_OK;
}

static int ami_cmp(const void *x, const void *y)
{
	const struct kp_aws_ami *a = x, *b = y;
	int c;

	/* pkg/providers/amifamily: non-deprecated first, newer first, then name */
	if (a->deprecated != b->deprecated)
		return a->deprecated ? 1 : -1;
	if ((c = strcmp(b->created, a->created)))
		return c;
	return strcmp(b->name, a->name);
}

static kp_err ssm_get(struct kp_aws_cloud *w, const char *name, char *out, size_t n, struct kp_errbuf *eb)
{
	struct kp_aws_resp r;
	json_t *body = json_pack("{s:s}", "Name", name);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	kp_err rc;

	json_decref(body);
	if (!text)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	rc = kp_aws_json(w->cl, "ssm", "AmazonSSM.GetParameter", "1.1", text, &r, eb);
	free(text);
	if (!rc) {
		const char *v = json_string_value(json_object_get(json_object_get(r.json, "Parameter"), "Value"));

		if (v)
			copy(out, n, v);
		else
			rc = kp_errf(eb, KP_ERR_INVALID, "ssm parameter %s: no value", name);
	}
	kp_aws_resp_clear(&r);
	return rc;
}

/* SSM paths of alias family@version (pkg/providers/amifamily,
 * DescribeImageQuery), one per architecture/variant. */
static int alias_paths(struct kp_aws_cloud *w, const char *family, const char *ver, char paths[4][320])
{
	const char *k = w->k8s_version;
	bool latest = strcmp(ver, "latest") == 0;
	int n = 0;

	if (strcmp(family, "al2023") == 0) {
		static const char *const arch[] = { "x86_64", "arm64" };

		for (int i = 0; i < 2; i++) {
			if (latest)
				snprintf(paths[n++], 320,
					 "/aws/service/eks/optimized-ami/%s/amazon-linux-2023/%s/standard/recommended/image_id",
					 k, arch[i]);
			else
				snprintf(paths[n++], 320,
					 "/aws/service/eks/optimized-ami/%s/amazon-linux-2023/%s/standard/"
					 "amazon-eks-node-al2023-%s-standard-%s-%s/image_id",
					 k, arch[i], arch[i], k, ver);
		}
	} else if (strcmp(family, "al2") == 0) {
		static const char *const suffix[] = { "", "-arm64" };

		for (int i = 0; i < 2; i++) {
			if (latest)
				snprintf(paths[n++], 320, "/aws/service/eks/optimized-ami/%s/amazon-linux-2%s/recommended/image_id",
					 k, suffix[i]);
			else
				snprintf(paths[n++], 320,
					 "/aws/service/eks/optimized-ami/%s/amazon-linux-2%s/amazon-eks%snode-%s-%s/image_id",
					 k, suffix[i], i ? "-arm64-" : "-", k, ver);
		}
	} else if (strcmp(family, "bottlerocket") == 0) {
		static const char *const arch[] = { "x86_64", "arm64" };

		for (int i = 0; i < 2; i++)
			snprintf(paths[n++], 320, "/aws/service/bottlerocket/aws-k8s-%s/%s/%s/image_id", k, arch[i],
				 latest ? "latest" : ver);
	} else if (strncmp(family, "windows", 7) == 0) {
		snprintf(paths[n++], 320,
			 "/aws/service/ami-windows-latest/Windows_Server-%s-English-Core-EKS_Optimized-%s/image_id",
			 family + 7, k);
	}
	return n;
}

static const char *family_of_alias(const char *fam)
{
	static const struct {
		const char *alias, *family;
	} map[] = { { "al2", "AL2" }, { "al2023", "AL2023" }, { "bottlerocket", "Bottlerocket" },
		    { "windows2019", "Windows2019" }, { "windows2022", "Windows2022" },
		    { "windows2025", "Windows2025" } };

	for (size_t i = 0; i < KP_ARRAY_LEN(map); i++)
		if (strcmp(map[i].alias, fam) == 0)
			return map[i].family;
	return NULL;
}

static void keep_newest(struct kp_aws_class *c);

static kp_err resolve_amis(struct kp_aws_cloud *w, const json_t *terms, struct kp_aws_class *c, char *why, size_t wn,
			   struct kp_errbuf *eb)
{
	struct amis s = { c, 0, kp_aws_now_ms(w) / 1000 };
	struct kp_aws_params ids;
	int nids = 0;
	size_t i;
	json_t *t;
	kp_err rc = KP_OK;

	kp_aws_params_init(&ids, "DescribeImages", KP_AWS_EC2_VERSION);
	kp_aws_params_add(&ids, "Filter.1.Name", "image-id");
	json_array_foreach((json_t *)terms, i, t) {
		const char *id = json_string_value(json_object_get(t, "id"));
		const char *name = json_string_value(json_object_get(t, "name"));
		const char *owner = json_string_value(json_object_get(t, "owner"));
		const char *alias = json_string_value(json_object_get(t, "alias"));
		const char *ssm = json_string_value(json_object_get(t, "ssmParameter"));
		const json_t *tags = json_object_get(t, "tags");

		if (alias) {
			char fam[32], paths[4][320], val[128];
			const char *at = strchr(alias, '@');
			size_t k = at ? (size_t)(at - alias) : strlen(alias);
			int np, found = 0;

			if (k >= sizeof(fam))
				k = sizeof(fam) - 1;
			memcpy(fam, alias, k);
			fam[k] = 0;
			np = alias_paths(w, fam, at ? at + 1 : "latest", paths);
			if (np == 0) {
				whyf(why, wn, "amiSelectorTerms: unknown alias family \"%s\"", fam);
				continue;
			}
			for (int j = 0; j < np; j++) {
				struct kp_errbuf e2 = { 0 };

				if (!ssm_get(w, paths[j], val, sizeof(val), &e2)) {
					kp_aws_params_addf(&ids, val, "Filter.1.Value.%d", ++nids);
					found++;
				}
			}
			if (!found)
				whyf(why, wn, "amiSelectorTerms: alias %s: no SSM parameter %s", alias, paths[0]);
		} else if (ssm) {
			char val[128];
			struct kp_errbuf e2 = { 0 };

			if (!ssm_get(w, ssm, val, sizeof(val), &e2))
				kp_aws_params_addf(&ids, val, "Filter.1.Value.%d", ++nids);
			else
				whyf(why, wn, "amiSelectorTerms: ssmParameter %s: %s", ssm, e2.msg);
		} else if (id) {
			kp_aws_params_addf(&ids, id, "Filter.1.Value.%d", ++nids);
		} else {
			struct kp_aws_params p;
			int nf = 0;

			kp_aws_params_init(&p, "DescribeImages", KP_AWS_EC2_VERSION);
			if (name) {
				kp_aws_params_addf(&p, "name", "Filter.%d.Name", ++nf);
				kp_aws_params_addf(&p, name, "Filter.%d.Value.1", nf);
			}
			if (json_is_object(tags))
				tag_filters(&p, tags, &nf);
			kp_aws_params_addf(&p, "state", "Filter.%d.Name", ++nf);
			kp_aws_params_addf(&p, "available", "Filter.%d.Value.1", nf);
			if (owner) {
				kp_aws_params_add(&p, "Owner.1", owner);
			} else if (name) {
				kp_aws_params_add(&p, "Owner.1", "self");
				kp_aws_params_add(&p, "Owner.2", "amazon");
			}
			kp_aws_params_add(&p, "IncludeDeprecated", "true");
			rc = kp_aws_ec2_each(w, &p, "imagesSet", on_image, &s, eb);
			kp_aws_params_free(&p);
		}
		if (rc)
			break;
	}
	if (!rc && nids) {
		kp_aws_params_add(&ids, "Filter.2.Name", "state");
		kp_aws_params_add(&ids, "Filter.2.Value.1", "available");
		kp_aws_params_add(&ids, "IncludeDeprecated", "true");
		rc = kp_aws_ec2_each(w, &ids, "imagesSet", on_image, &s, eb);
	}
	kp_aws_params_free(&ids);
	if (c->nami > 1)
		qsort(c->amis, (size_t)c->nami, sizeof(*c->amis), ami_cmp);
	keep_newest(c);
	return rc;
}

/* amifamily.amis (pkg/providers/amifamily/ami.go): of the images matching
 * the same requirements (here the arch and whether it is a mac image;
 * our aliases resolve only the standard variant), only the newest
 * non-deprecated one is kept, so status.amis lists the winners and an
 * instance on any other image has drifted. c->amis is sorted (ami_cmp):
 * the first of each set wins. */
static void keep_newest(struct kp_aws_class *c)
{
	int n = 0;

	for (int i = 0; i < c->nami; i++) {
		bool seen = false;

		for (int j = 0; j < n && !seen; j++)
			seen = c->amis[j].mac == c->amis[i].mac && strcmp(c->amis[j].arch, c->amis[i].arch) == 0;
		if (!seen)
			c->amis[n++] = c->amis[i];
	}
	c->nami = n;
}

/* One map of spec.kubelet (strings; numbers written as integers). */
static kp_err kubelet_map(const json_t *kubelet, const char *key, struct kp_arena *a, struct kp_labels *out)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)json_object_get(kubelet, key), k, v) {
		char num[32];
		const char *val = json_string_value(v);

		if (!val && json_is_integer(v)) {
			snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
			val = num;
		}
		if (val && kp_labels_set(out, a, kp_arena_strdup(a, k), kp_arena_strdup(a, val)))
			return KP_ERR_NOMEM;
	}
	return KP_OK;
}

kp_err kp_aws_class_kubelet(const struct kp_aws_class *c, struct kp_arena *a, struct kp_kubelet *out)
{
	const json_t *kubelet = json_object_get(c->spec, "kubelet");
	kp_err rc;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(kubelet))
		return KP_OK;
	out->set = true;
	out->max_pods = json_integer_value(json_object_get(kubelet, "maxPods"));
	out->pods_per_core = json_integer_value(json_object_get(kubelet, "podsPerCore"));
	rc = kubelet_map(kubelet, "kubeReserved", a, &out->kube_reserved);
	if (!rc)
		rc = kubelet_map(kubelet, "systemReserved", a, &out->system_reserved);
	if (!rc)
		rc = kubelet_map(kubelet, "evictionHard", a, &out->eviction_hard);
	if (!rc)
		rc = kubelet_map(kubelet, "evictionSoft", a, &out->eviction_soft);
	return rc;
}

const struct kp_aws_ami *kp_aws_class_ami(const struct kp_aws_class *c, const char *arch)
{
	for (int i = 0; i < c->nami; i++)
		if (!c->amis[i].mac && strcmp(c->amis[i].arch, arch) == 0)
			return &c->amis[i];
	return NULL;
}

/* ---- instance profile ---- */

static kp_err iam(struct kp_aws_cloud *w, struct kp_aws_params *p, struct kp_arena *a, struct kp_aws_resp *r,
		  struct kp_errbuf *eb)
{
	return kp_aws_query(w->cl, "iam", p, false, false, a, r, eb);
}

/* The name of the profile made for class name: "<cluster>_<hash>". */
static void profile_name(struct kp_aws_cloud *w, const char *name, char *out, size_t n)
{
	snprintf(out, n, "%s_%llu", w->cluster,
		 (unsigned long long)fnv(fnv(fnv(14695981039346656037ULL, w->cl->region), name), w->cluster));
}

kp_err kp_aws_profile_delete(struct kp_aws_cloud *w, const char *name, struct kp_errbuf *eb)
{
	struct kp_arena a;
	struct kp_aws_params p;
	struct kp_aws_resp r;
	const struct kp_aws_xnode *roles;
	char prof[256];
	kp_err rc;

	profile_name(w, name, prof, sizeof(prof));
	kp_arena_init(&a);
	kp_aws_params_init(&p, "GetInstanceProfile", "2010-05-08");
	kp_aws_params_add(&p, "InstanceProfileName", prof);
	rc = iam(w, &p, &a, &r, eb);
	kp_aws_params_free(&p);
	if (rc) {
		if (rc == KP_ERR_NOTFOUND)
			rc = KP_OK;
		else
			kp_err_prefix(eb, "getting instance profile: ");
		goto out;
	}
	roles = kp_aws_xml_find(r.xml, "Roles");
	for (const struct kp_aws_xnode *m = roles ? roles->child : NULL; m; m = m->next) {
		const char *rn = kp_aws_xml_text(m, "RoleName");
		struct kp_aws_resp r2;

		if (!rn)
			continue;
		kp_aws_params_init(&p, "RemoveRoleFromInstanceProfile", "2010-05-08");
		kp_aws_params_add(&p, "InstanceProfileName", prof);
		kp_aws_params_add(&p, "RoleName", rn);
		rc = iam(w, &p, &a, &r2, eb);
		kp_aws_params_free(&p);
		if (rc && rc != KP_ERR_NOTFOUND) {
			kp_err_prefix(eb, "removing role from instance profile: ");
			goto out;
		}
	}
	kp_aws_params_init(&p, "DeleteInstanceProfile", "2010-05-08");
	kp_aws_params_add(&p, "InstanceProfileName", prof);
	rc = iam(w, &p, &a, &r, eb);
	kp_aws_params_free(&p);
	if (rc == KP_ERR_NOTFOUND)
		rc = KP_OK;
	else if (rc)
		kp_err_prefix(eb, "deleting instance profile: ");
	else
		kp_log_info(&w->log, "deleted instance profile", KP_LOG_FIELDS(kp_log_str("name", prof)));
out:
	kp_arena_free(&a);
	return rc;
}

/* pkg/providers/instanceprofile: "<cluster>_<hash>" holding exactly role. */
static kp_err ensure_profile(struct kp_aws_cloud *w, struct kp_aws_class *c, const char *role, char *why, size_t wn,
			     struct kp_errbuf *eb)
{
	struct kp_arena a;
	struct kp_aws_params p;
	struct kp_aws_resp r;
	char path[512];
	const char *slash = strrchr(role, '/');
	const struct kp_aws_xnode *roles;
	bool has = false;
	kp_err rc;

	role = slash ? slash + 1 : role;
	profile_name(w, c->name, c->profile, sizeof(c->profile));
	kp_arena_init(&a);
	kp_aws_params_init(&p, "GetInstanceProfile", "2010-05-08");
	kp_aws_params_add(&p, "InstanceProfileName", c->profile);
	rc = iam(w, &p, &a, &r, eb);
	kp_aws_params_free(&p);
	if (rc == KP_ERR_NOTFOUND) {
		struct kp_errbuf e2 = { 0 };
		char tagk[300];

		snprintf(path, sizeof(path), "/karpenter/%s/%s/%s/", w->cl->region, w->cluster,
			 c->uid[0] ? c->uid : c->name);
		kp_aws_params_init(&p, "CreateInstanceProfile", "2010-05-08");
		kp_aws_params_add(&p, "InstanceProfileName", c->profile);
		kp_aws_params_add(&p, "Path", path);
		snprintf(tagk, sizeof(tagk), "kubernetes.io/cluster/%s", w->cluster);
		kp_aws_params_add(&p, "Tags.member.1.Key", tagk);
		kp_aws_params_add(&p, "Tags.member.1.Value", "owned");
		kp_aws_params_add(&p, "Tags.member.2.Key", KP_AWS_TAG_CLUSTER);
		kp_aws_params_add(&p, "Tags.member.2.Value", w->cluster);
		kp_aws_params_add(&p, "Tags.member.3.Key", KP_AWS_TAG_NODECLASS);
		kp_aws_params_add(&p, "Tags.member.3.Value", c->name);
		kp_aws_params_add(&p, "Tags.member.4.Key", "topology.kubernetes.io/region");
		kp_aws_params_add(&p, "Tags.member.4.Value", w->cl->region);
		rc = iam(w, &p, &a, &r, &e2);
		kp_aws_params_free(&p);
		if (rc && strcmp(r.code, "EntityAlreadyExists") != 0) {
			whyf(why, wn, "instance profile %s: %s", c->profile, e2.msg);
			goto out;
		}
		rc = KP_OK;
	} else if (rc) {
		whyf(why, wn, "instance profile %s: %s", c->profile, eb ? eb->msg : "error");
		goto out;
	} else {
		roles = kp_aws_xml_find(r.xml, "Roles");
		for (const struct kp_aws_xnode *m = roles ? roles->child : NULL; m; m = m->next) {
			const char *rn = kp_aws_xml_text(m, "RoleName");

			if (rn && strcmp(rn, role) == 0) {
				has = true;
			} else if (rn) {
				struct kp_errbuf e2 = { 0 };

				kp_aws_params_init(&p, "RemoveRoleFromInstanceProfile", "2010-05-08");
				kp_aws_params_add(&p, "InstanceProfileName", c->profile);
				kp_aws_params_add(&p, "RoleName", rn);
				iam(w, &p, &a, &r, &e2);
				kp_aws_params_free(&p);
			}
		}
	}
	if (!has) {
		struct kp_errbuf e2 = { 0 };

		kp_aws_params_init(&p, "AddRoleToInstanceProfile", "2010-05-08");
		kp_aws_params_add(&p, "InstanceProfileName", c->profile);
		kp_aws_params_add(&p, "RoleName", role);
		rc = iam(w, &p, &a, &r, &e2);
		kp_aws_params_free(&p);
		if (rc && strcmp(r.code, "LimitExceeded") != 0) {
			whyf(why, wn, "instance profile %s: add role %s: %s", c->profile, role, e2.msg);
			goto out;
		}
		rc = KP_OK;
	}
out:
	kp_arena_free(&a);
	return rc;
}

/* ---- the whole class ---- */

static const char *const RESTRICTED_PREFIX[] = { "kubernetes.io/cluster" };
static const char *const RESTRICTED[] = { KP_AWS_TAG_CLUSTER, KP_AWS_TAG_NODEPOOL, KP_AWS_TAG_NODECLAIM,
					  KP_AWS_TAG_NODECLASS };

static bool tag_restricted(const char *k)
{
	for (size_t i = 0; i < KP_ARRAY_LEN(RESTRICTED); i++)
		if (strcmp(k, RESTRICTED[i]) == 0)
			return true;
	for (size_t i = 0; i < KP_ARRAY_LEN(RESTRICTED_PREFIX); i++)
		if (strncmp(k, RESTRICTED_PREFIX[i], strlen(RESTRICTED_PREFIX[i])) == 0)
			return true;
	return false;
}

static void cond(json_t *conds, const char *type, bool ok, const char *reason, const char *msg)
{
	json_array_append_new(conds, json_pack("{s:s,s:s,s:s,s:s}", "type", type, "status", ok ? "True" : "False",
					       "reason", ok ? type : reason, "message", ok ? "" : msg));
}

void kp_aws_class_clear(struct kp_aws_class *c)
{
	free(c->subnets);
	free(c->sgs);
	free(c->amis);
	free(c->crs);
	json_decref(c->spec);
	if (c->cat) {
		kp_catalog_free(c->cat);
		free(c->cat);
	}
	memset(c, 0, sizeof(*c));
}

/* The hash: the spec without the selector terms (those drift by their
 * resolved values), as pkg/apis/v1/ec2nodeclass_hash.go ignores them; FNV-1a
 * of its sorted compact JSON, in decimal like hashstructure's. */
void kp_aws_class_hash(const json_t *spec, char *out, size_t n)
{
	json_t *hs = json_deep_copy(spec);
	char *dump;

	json_object_del(hs, "subnetSelectorTerms");
	json_object_del(hs, "securityGroupSelectorTerms");
	json_object_del(hs, "amiSelectorTerms");
	json_object_del(hs, "capacityReservationSelectorTerms");
	dump = hs ? json_dumps(hs, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	snprintf(out, n, "%llu", (unsigned long long)fnv(14695981039346656037ULL, dump));
	free(dump);
	json_decref(hs);
}

kp_err kp_aws_class_resolve(struct kp_aws_cloud *w, const json_t *obj, struct kp_aws_class *c, json_t **status,
			    json_t **conds, struct kp_errbuf *eb)
{
	const json_t *spec = json_object_get(obj, "spec");
	const char *fam = json_string_value(json_object_get(spec, "amiFamily"));
	const json_t *amiterms = json_object_get(spec, "amiSelectorTerms");
	const char *role = json_string_value(json_object_get(spec, "role"));
	const char *profile = json_string_value(json_object_get(spec, "instanceProfile"));
	const json_t *tags = json_object_get(spec, "tags");
	char why_sub[600] = "", why_sg[600] = "", why_ami[600] = "", why_prof[600] = "", why_tags[300] = "";
	char why_cr[600] = "";
	const json_t *crterms = json_object_get(spec, "capacityReservationSelectorTerms");
	json_t *st, *arr, *defterms = NULL;
	const char *k;
	json_t *v;
	struct kp_errbuf e2 = { 0 };

	*status = *conds = NULL;
	copy(c->name, sizeof(c->name), json_string_value(json_object_get(json_object_get(obj, "metadata"), "name")));
	copy(c->uid, sizeof(c->uid), json_string_value(json_object_get(json_object_get(obj, "metadata"), "uid")));
	if (!c->name[0] || !json_is_object(spec))
		return kp_errf(eb, KP_ERR_INVALID, "EC2NodeClass %s: no metadata.name or spec", c->name);
	c->spec = json_deep_copy(spec);
	c->max_pods = json_integer_value(json_object_get(json_object_get(spec, "kubelet"), "maxPods"));
	c->v1beta1 = kp_strcmp0(json_string_value(json_object_get(obj, "apiVersion")), "karpenter.k8s.aws/v1beta1") == 0;
	/* family: explicit, else from the alias (v1), else AL2023 */
	if (!fam && json_array_size(amiterms)) {
		const char *alias = json_string_value(json_object_get(json_array_get(amiterms, 0), "alias"));

		if (alias) {
			char f[32];
			const char *at = strchr(alias, '@');
			size_t n = at ? (size_t)(at - alias) : strlen(alias);

			if (n >= sizeof(f))
				n = sizeof(f) - 1;
			memcpy(f, alias, n);
			f[n] = 0;
			fam = family_of_alias(f);
		}
	}
	copy(c->family, sizeof(c->family), fam ? fam : "AL2023");
	/* v1beta1 with no amiSelectorTerms: the family's recommended AMI;
	 * Ubuntu (v1beta1 only, no alias) from Canonical's SSM parameters
	 * (v0.37 pkg/providers/amifamily/ubuntu.go DefaultAMIs) */
	if (!json_array_size(amiterms) && strcmp(c->family, "Ubuntu") == 0) {
		char p1[256], p2[256];

		snprintf(p1, sizeof(p1), "/aws/service/canonical/ubuntu/eks/20.04/%s/stable/current/amd64/hvm/ebs-gp2/ami-id",
			 w->k8s_version);
		snprintf(p2, sizeof(p2), "/aws/service/canonical/ubuntu/eks/20.04/%s/stable/current/arm64/hvm/ebs-gp2/ami-id",
			 w->k8s_version);
		defterms = json_pack("[{s:s},{s:s}]", "ssmParameter", p1, "ssmParameter", p2);
		amiterms = defterms;
	} else if (!json_array_size(amiterms) && strcmp(c->family, "Custom") != 0) {
		char alias[64], lower[32];
		size_t n = strlen(c->family);

		for (size_t j = 0; j <= n && j < sizeof(lower); j++)
			lower[j] = (char)(c->family[j] >= 'A' && c->family[j] <= 'Z' ? c->family[j] - 'A' + 'a'
										     : c->family[j]);
		lower[sizeof(lower) - 1] = 0;
		snprintf(alias, sizeof(alias), "%s@latest", lower);
		defterms = json_pack("[{s:s}]", "alias", alias);
		amiterms = defterms;
	}
	kp_aws_class_hash(spec, c->hash, sizeof(c->hash));

	json_object_foreach((json_t *)tags, k, v) {
		if (!*k)
			whyf(why_tags, sizeof(why_tags), "spec.tags: empty key");
		else if (tag_restricted(k))
			whyf(why_tags, sizeof(why_tags), "spec.tags: key %s is restricted to Karpenter", k);
	}
	{
		/* blockDeviceMappings[].ebs.volumeSize: a Kubernetes quantity */
		size_t bi;
		json_t *bd;

		json_array_foreach(json_object_get(spec, "blockDeviceMappings"), bi, bd) {
			int64_t gib;

			if (kp_aws_volume_gib(json_object_get(json_object_get(bd, "ebs"), "volumeSize"), &gib) < 0)
				whyf(why_tags, sizeof(why_tags), "spec.blockDeviceMappings[%zu].ebs.volumeSize: not a quantity", bi);
		}
	}
	if (resolve_subnets(w, json_object_get(spec, "subnetSelectorTerms"), c, &e2))
		whyf(why_sub, sizeof(why_sub), "%s", e2.msg);
	else if (c->nsub == 0)
		whyf(why_sub, sizeof(why_sub), "SubnetSelector did not match any Subnets");
	if (resolve_sgs(w, json_object_get(spec, "securityGroupSelectorTerms"), c, &e2))
		whyf(why_sg, sizeof(why_sg), "%s", e2.msg);
	else if (c->nsg == 0)
		whyf(why_sg, sizeof(why_sg), "SecurityGroupSelector did not match any SecurityGroups");
	if (resolve_amis(w, amiterms, c, why_ami, sizeof(why_ami), &e2))
		whyf(why_ami, sizeof(why_ami), "%s", e2.msg);
	else if (c->nami == 0 && !why_ami[0])
		whyf(why_ami, sizeof(why_ami), "AMISelector did not match any AMIs");
	else if (c->nami > 0)
		why_ami[0] = 0;
	json_decref(defterms);
	if (json_array_size(crterms) && resolve_crs(w, crterms, c, &e2))
		whyf(why_cr, sizeof(why_cr), "%s", e2.msg);
	if (profile)
		copy(c->profile, sizeof(c->profile), profile);
	else if (role)
		ensure_profile(w, c, role, why_prof, sizeof(why_prof), &e2);
	else
		whyf(why_prof, sizeof(why_prof), "spec: one of role or instanceProfile is required");

	st = json_object();
	arr = json_array();
	for (int j = 0; j < c->nsub; j++)
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s}", "id", c->subnets[j].id, "zone", c->subnets[j].zone,
						     "zoneID", c->subnets[j].zone_id));
	json_object_set_new(st, "subnets", arr);
	arr = json_array();
	for (int j = 0; j < c->nsg; j++)
		json_array_append_new(arr, json_pack("{s:s,s:s}", "id", c->sgs[j].id, "name", c->sgs[j].name));
	json_object_set_new(st, "securityGroups", arr);
	arr = json_array();
	for (int j = 0; j < c->nami; j++) {
		json_t *a = json_pack("{s:s,s:s,s:[{s:s,s:s,s:[s]}]}", "id", c->amis[j].id, "name", c->amis[j].name,
				      "requirements", "key", "kubernetes.io/arch", "operator", "In", "values",
				      c->amis[j].arch);

		if (c->amis[j].mac) {
			/* mac images: only the mac families of their arch */
			static const char *const fam_x86[] = { "mac1" };
			static const char *const fam_arm[] = { "mac2", "mac2-m1ultra", "mac2-m2", "mac2-m2pro",
								"mac-m4", "mac-m4max", "mac-m4pro" };
			bool arm = strcmp(c->amis[j].arch, "arm64") == 0;
			json_t *vals = json_array();

			for (size_t f = 0; f < (arm ? KP_ARRAY_LEN(fam_arm) : KP_ARRAY_LEN(fam_x86)); f++)
				json_array_append_new(vals, json_string(arm ? fam_arm[f] : fam_x86[f]));
			json_array_append_new(json_object_get(a, "requirements"),
					      json_pack("{s:s,s:s,s:o}", "key", "karpenter.k8s.aws/instance-family",
							"operator", "In", "values", vals));
		}
		if (c->amis[j].deprecated)
			json_object_set_new(a, "deprecated", json_true());
		json_array_append_new(arr, a);
	}
	json_object_set_new(st, "amis", arr);
	if (c->profile[0] && !why_prof[0])
		json_object_set_new(st, "instanceProfile", json_string(c->profile));
	if (json_array_size(crterms)) {
		arr = json_array();
		for (int j = 0; j < c->ncr; j++)
			json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I}", "id", c->crs[j].id,
							     "instanceType", c->crs[j].type, "availabilityZone",
							     c->crs[j].zone, "ownerID", c->crs[j].owner,
							     "instanceMatchCriteria", c->crs[j].match, "totalInstanceCount",
							     (json_int_t)c->crs[j].total, "availableInstanceCount",
							     (json_int_t)c->crs[j].avail));
		json_object_set_new(st, "capacityReservations", arr);
	}
	*status = st;

	*conds = json_array();
	cond(*conds, "SubnetsReady", !why_sub[0], "SubnetsNotFound", why_sub);
	cond(*conds, "SecurityGroupsReady", !why_sg[0], "SecurityGroupsNotFound", why_sg);
	cond(*conds, "AMIsReady", !why_ami[0], "AMINotFound", why_ami);
	cond(*conds, "InstanceProfileReady", !why_prof[0], "InstanceProfileNotFound", why_prof);
	cond(*conds, "ValidationSucceeded", !why_tags[0], strstr(why_tags, "spec.tags") ? "TagsRestricted" : "ValidationFailed",
	     why_tags);
	if (json_array_size(crterms))
		cond(*conds, "CapacityReservationsReady", !why_cr[0], "CapacityReservationsNotFound", why_cr);
	c->ready = !why_sub[0] && !why_sg[0] && !why_ami[0] && !why_prof[0] && !why_tags[0] && !why_cr[0];
	whyf(c->reason, sizeof(c->reason), "%s", why_sub[0] ? why_sub : why_sg[0] ? why_sg : why_ami[0] ? why_ami
						  : why_prof[0]                      ? why_prof
						  : why_tags[0]                      ? why_tags
										     : why_cr);
	cond(*conds, "Ready", c->ready, "NotReady", c->reason);
	return KP_OK;
}
