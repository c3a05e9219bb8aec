/*
 * fuzz_userdata.c - libFuzzer harness for EC2NodeClass spec.userData as
 * the AWS provider merges it (src/cloud/aws/userdata.c, toml.c). The first
 * byte picks the family (Bottlerocket, AL2, AL2023), the rest is userData.
 *
 * Properties, else abort:
 *  - TOML: what kp_aws_toml_emit writes parses again, and emitting that
 *    gives the same text (each table once, nothing lost on a second pass);
 *  - Bottlerocket: the user data holds exactly one [settings.kubernetes];
 *  - AL2/AL2023: the user data is MIME that the merger reads back as the
 *    user's parts: merging it again adds exactly one part.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cloud/aws/aws_int.h"
#include "karpenter/labels.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_lines(const char *s, const char *line)
{
	size_t n = strlen(line);
	int k = 0;

	for (const char *p = s; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t ln = nl ? (size_t)(nl - p) : strlen(p);

		k += ln == n && memcmp(p, line, n) == 0;
		p = nl ? nl + 1 : NULL;
	}
	return k;
}

static char *render(struct kp_aws_cloud *w, const char *family, const char *user, const struct kp_nodeclaim *claim)
{
	struct kp_aws_class c;
	struct kp_errbuf eb = { 0 };
	char *out;

	memset(&c, 0, sizeof(c));
	snprintf(c.family, sizeof(c.family), "%s", family);
	c.spec = json_object();
	json_object_set_new(c.spec, "userData", json_string(user));
	c.max_pods = 29;
	out = kp_aws_user_data(w, &c, claim, KP_CAP_SPOT, &eb);
	json_decref(c.spec);
	return out;
}

static void toml_roundtrip(const char *text, size_t n)
{
	struct kp_aws_toml *d = NULL, *d2 = NULL;
	struct kp_errbuf eb = { 0 };
	char *e1, *e2;

	if (kp_aws_toml_parse(text, n, &d, &eb))
		return;
	e1 = kp_aws_toml_emit(d);
	if (!e1 || kp_aws_toml_parse(e1, strlen(e1), &d2, &eb))
		abort(); /* our own output must read back */
	e2 = kp_aws_toml_emit(d2);
	if (!e2 || strcmp(e1, e2) != 0)
		abort();
	free(e1);
	free(e2);
	kp_aws_toml_free(d);
	kp_aws_toml_free(d2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kp_aws_cloud w;
	static const char *const fams[] = { "Bottlerocket", "AL2", "AL2023" };
	struct kp_nodeclaim claim;
	struct kp_arena a;
	const char *fam;
	char *user, *ud;

	if (size < 1 || size > 1 << 16)
		return 0;
	fam = fams[data[0] % 3];
	user = malloc(size);
	if (!user)
		return 0;
	memcpy(user, data + 1, size - 1);
	user[size - 1] = 0;
	snprintf(w.cluster, sizeof(w.cluster), "demo");
	snprintf(w.cluster_endpoint, sizeof(w.cluster_endpoint), "https://api.demo");
	snprintf(w.cluster_cidr, sizeof(w.cluster_cidr), "10.100.0.0/16");
	w.cluster_ca = "Q0E=";
	kp_arena_init(&a);
	memset(&claim, 0, sizeof(claim));
	kp_labels_set(&claim.labels, &a, KP_LABEL_NODEPOOL, "default");

	toml_roundtrip(user, size - 1);
	ud = render(&w, fam, user, &claim);
	if (ud && strcmp(fam, "Bottlerocket") == 0) {
		if (count_lines(ud, "[settings.kubernetes]") != 1)
			abort();
		toml_roundtrip(ud, strlen(ud));
	} else if (ud) {
		char *again = render(&w, fam, ud, &claim);

		if (!again || count_lines(again, "--//") != count_lines(ud, "--//") + 1 ||
		    count_lines(again, "--//--") != 1)
			abort();
		free(again);
	}
	free(ud);
	free(user);
	kp_arena_free(&a);
	return 0;
}
