/*
 * aws_check.h - what the AWS check tools (aws_provider_check, aws_ami_check,
 * aws_tag_check) share: the pass/fail counters and their "ok"/"FAIL" lines,
 * and EC2 fixtures sent straight to moto through the raw client (CL, with
 * answers in the arena A). Header only: each tool is one translation unit.
 */
#ifndef KP_TESTS_AWS_CHECK_H
#define KP_TESTS_AWS_CHECK_H

#include <stdbool.h>
#include <stdio.h>

#include "cloud/aws/aws.h"

static int npass, nfail;
static struct kp_aws_client *CL;     /* direct to moto: fixtures and assertions */
static struct kp_arena A;

static inline void check(bool cond, const char *name, const char *detail)
{
	if (cond) {
		npass++;
		printf("ok   %s\n", name);
	} else {
		nfail++;
		printf("FAIL %s%s%s\n", name, detail && *detail ? ": " : "", detail ? detail : "");
	}
	fflush(stdout);
}

/* One EC2 call with key/value pairs (NULL-terminated); its XML, or NULL
 * (the error printed as a fixture failure). */
static inline struct kp_aws_xnode *ec2(const char *action, const char *const *kv)
{
	struct kp_aws_params p;
	struct kp_aws_resp r;
	struct kp_errbuf eb = { 0 };
	struct kp_aws_xnode *x = NULL;

	kp_aws_params_init(&p, action, "2016-11-15");
	for (int i = 0; kv && kv[i]; i += 2)
		kp_aws_params_add(&p, kv[i], kv[i + 1]);
	if (kp_aws_query(CL, "ec2", &p, false, false, &A, &r, &eb))
		fprintf(stderr, "fixture %s: %s\n", action, eb.msg);
	else
		x = r.xml;
	kp_aws_params_free(&p);
	return x;
}

static inline void tag(const char *id, const char *k, const char *v)
{
	const char *kv[] = { "ResourceId.1", id, "Tag.1.Key", k, "Tag.1.Value", v, NULL };

	ec2("CreateTags", kv);
}

#endif
