/*
 * provider.h - the AWS cloud provider: a struct kp_cloud over EC2 (and
 * SSM, IAM, SQS) through the client of aws.h, mirroring
 * karpenter-provider-aws (pkg/cloudprovider, pkg/providers/{instance,
 * instancetype,launchtemplate,subnet,securitygroup,amifamily,
 * instanceprofile}, pkg/controllers/interruption).
 *
 * Life cycle: kp_cloud_aws_opts_init(), set the options, kp_cloud_aws_new()
 * (from main: it creates the client), kp_cloud_destroy(). The base catalog
 * (the built-in AWS catalog: labels, capacity and allocatable per type, as
 * src/catalog/aws.c computes them) is borrowed and must outlive the cloud;
 * the types and zones actually offered come from DescribeInstanceTypes and
 * DescribeInstanceTypeOfferings. Every operation is thread-safe.
 */
#ifndef KARPENTER_CLOUD_AWS_PROVIDER_H
#define KARPENTER_CLOUD_AWS_PROVIDER_H

#include <stdio.h>

#include "karpenter/cloud.h"

struct kp_cloud_aws_opts {
	const char *cluster;            /* cluster name: tags, LT names; required */
	const char *region;             /* NULL = from the environment */
	const char *endpoint;           /* --aws-endpoint; NULL = variables / AWS */
	const char *profile;
	const char *interruption_queue; /* SQS queue name; NULL = no interruption handling */
	const char *cluster_endpoint;   /* API server URL written into user data */
	const char *cluster_ca;         /* base64 CA bundle for user data ("" = none) */
	const char *cluster_cidr;       /* service CIDR for nodeadm (default 10.100.0.0/16) */
	const char *k8s_version;        /* "1.32": AMI alias SSM paths */
	int max_attempts;               /* client retries (0 = 5) */
	int64_t backoff_base_ms;        /* 0 = 100 */
	int64_t ice_ttl_ms;             /* unavailable offerings TTL; 0 = 180000 (3 min) */
	int64_t types_ttl_ms;           /* instance types / offerings cache; 0 = 300000 */
	int64_t sqs_wait_s;             /* ReceiveMessage WaitTimeSeconds; 0 = 20 */
	const struct kp_catalog *base;  /* borrowed; required */
	const char *pricing_endpoint;   /* Pricing API endpoint (beats endpoint); NULL = as the other services */
	int64_t pricing_ttl_ms;         /* on-demand prices from the Pricing API; 0 = 12 h, < 0 = never asked */
	FILE *log_out;                  /* the provider's log lines (JSON); NULL = none */
};

void kp_cloud_aws_opts_init(struct kp_cloud_aws_opts *o);
/* KP_ERR_INVALID (missing cluster/base, bad endpoint, no region) with eb. */
kp_err kp_cloud_aws_new(const struct kp_cloud_aws_opts *o, struct kp_cloud **out, struct kp_errbuf *eb);

/* Offerings marked unavailable now (for tests and logs): the number of
 * live "captype:type:zone" entries, and whether key is one of them. */
int kp_cloud_aws_ice_count(struct kp_cloud *cp);
bool kp_cloud_aws_ice_has(struct kp_cloud *cp, const char *key);
/* Moves the cloud's clock for the ICE cache forward by ms (tests: expiry
 * without waiting 3 minutes). */
void kp_cloud_aws_advance(struct kp_cloud *cp, int64_t ms);
/* Launch-template garbage collection (also run by the provider's types
 * thread at every refresh): deletes the cluster's launch templates of a
 * class this provider resolved that none of the class's current (AMI,
 * reservation) templates is, and every one of a deleted class. Templates
 * of classes it has not resolved are left alone. *deleted = how many went. */
kp_err kp_cloud_aws_lt_gc(struct kp_cloud *cp, int *deleted, struct kp_errbuf *eb);

#endif
