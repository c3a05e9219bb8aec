/*
 * aws_int.h - what the AWS provider's files share: the provider state,
 * resolved EC2NodeClasses and the EC2 helpers (paginated Describe).
 * Internal to src/cloud/aws.
 */
#ifndef KARPENTER_CLOUD_AWS_INT_H
#define KARPENTER_CLOUD_AWS_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "cloud/aws/aws.h"
#include "karpenter/log.h"
#include "cloud/aws/provider.h"

#define KP_AWS_EC2_VERSION "2016-11-15"
#define KP_AWS_TAG_NODEPOOL "karpenter.sh/nodepool"
#define KP_AWS_TAG_NODECLAIM "karpenter.sh/nodeclaim"
#define KP_AWS_TAG_NODECLASS "karpenter.k8s.aws/ec2nodeclass"
#define KP_AWS_TAG_CLUSTER "eks:eks-cluster-name"
#define KP_AWS_LABEL_CR_ID "karpenter.k8s.aws/capacity-reservation-id"
#define KP_AWS_ANN_HASH "karpenter.k8s.aws/ec2nodeclass-hash"
#define KP_AWS_ANN_HASH_VERSION "karpenter.k8s.aws/ec2nodeclass-hash-version"
/* The version of our hash (nodeclass.c): not Karpenter's "v4" on purpose,
 * since our FNV of the spec is not Karpenter's hashstructure value. A
 * NodeClaim Karpenter itself launched carries another version, so its hash
 * is never compared (drift.go compares only when the versions match) and
 * taking over a cluster does not mark every node drifted. Bump it when the
 * hash's input changes. */
#define KP_AWS_HASH_VERSION "kc-v1"

struct kp_aws_subnet {
	char id[64], zone[64], zone_id[64];
	int64_t free_ips;
};

struct kp_aws_sg {
	char id[64], name[256];
};

struct kp_aws_ami {
	char id[64], name[256], arch[16];     /* arch: "amd64" / "arm64" (Kubernetes names) */
	char created[40];
	bool deprecated;
	bool mac;                             /* x86_64_mac / arm64_mac: for mac types only */
};

/* A capacity reservation (ODCR) the class selects
 * (DescribeCapacityReservations, pkg/providers/capacityreservation). */
struct kp_aws_cr {
	char id[64], type[64], zone[64], owner[32], match[16];
	int64_t total, avail;                 /* TotalInstanceCount, AvailableInstanceCount */
};

/* One resolved EC2NodeClass. */
struct kp_aws_class {
	char name[256], uid[128];
	char hash[24];                        /* karpenter.k8s.aws/ec2nodeclass-hash */
	char family[32];                      /* AL2, AL2023, Bottlerocket, Windows2022, Custom, ... */
	json_t *spec;                         /* owned copy of .spec */
	struct kp_aws_subnet *subnets;
	int nsub;
	struct kp_aws_sg *sgs;
	int nsg;
	struct kp_aws_ami *amis;
	int nami;
	struct kp_aws_cr *crs;                /* capacityReservationSelectorTerms' reservations */
	int ncr;
	char profile[256];                    /* instance profile name */
	bool ready;
	bool deleted;                         /* the EC2NodeClass is gone (nodeclass_forget) */
	char reason[512];
	int64_t max_pods;                     /* spec.kubelet.maxPods, 0 = unset */
	bool v1beta1;                         /* karpenter.k8s.aws/v1beta1 (metadataOptions hop limit 2) */
	/* catalog for this class (offerings in its subnets' zones) */
	struct kp_catalog *cat;
	uint64_t cat_gen;
};

struct kp_aws_cloud {
	struct kp_cloud pub;
	struct kp_aws_client *cl;
	struct kp_cloud_aws_opts o;
	char cluster[128], queue[256], cluster_endpoint[512], cluster_cidr[64], k8s_version[16];
	char *cluster_ca;
	const struct kp_catalog *base;
	pthread_mutex_t mu;
	/* instance types from the API: {type: {"zones": [...], "usage": [...]}} */
	json_t *types;
	int64_t types_ms;
	json_t *spot;                         /* {type: {zone: price}} */
	json_t *od;                           /* {type: price} from the Pricing API, NULL = the table's */
	int64_t pricing_ms;                   /* last Pricing API attempt (0 = none yet) */
	bool pricing_failing;                 /* the last attempt failed (logged once until a success) */
	struct kp_log log;
	uint64_t types_gen;
	pthread_t types_th;                   /* loads and refreshes the types (provider.c) */
	bool types_started;
	pthread_cond_t types_cv;              /* signalled after each load attempt (under mu) */
	int types_tries;
	char types_err[1100];                 /* last load error, "" after a success */
	/* unavailable offerings: {"captype:type:zone": expiry ms} */
	json_t *ice;
	uint64_t ice_gen;
	int64_t clock_skew_ms;
	/* classes */
	struct kp_aws_class **classes;
	int nclasses;
	json_t *pool_class;                   /* nodepool name -> class name */
	json_t *lts;                          /* launch template names known to exist */
	/* catalogs replaced while a caller may still read them (freed at destroy) */
	struct kp_catalog **retired;
	int nretired;
	/* interruption */
	pthread_t sqs;
	bool sqs_started;
	atomic_int stop;
	char queue_url[1024];
	json_t *events;                       /* pending events, array of {kind, id} */
	uint64_t events_by_kind[8];
	/* CreateFleet batching (batch.c) */
	pthread_mutex_t fleet_mu;
	pthread_cond_t fleet_cv;              /* on CLOCK_MONOTONIC */
	struct kp_aws__fleet_batch *fleet_open;
	int64_t fleet_idle_ms, fleet_max_ms;  /* 35 ms / 1 s as Karpenter; idle 0 = off */
	atomic_llong tag_next_ms;             /* next CreateTags slot, monotonic (tagging.c) */
};

/* ---- CreateFleet batching (batch.c) ---- */
#define KP_AWS_FLEET_BATCH_MAX 500
struct kp_aws__fleet_batch;
struct kp_aws_fleet_req {
	const char *key;                 /* the request without its NodeClaim tag; NULL = no batching */
	const char *claim;               /* the NodeClaim's name (tagged on a batched instance) */
	struct kp_aws_params *single;    /* the request as built, sent when the batch is of one */
	/* builds the request for n instances without the NodeClaim tag */
	void (*build)(void *ctx, int n, struct kp_aws_params *p);
	void *build_ctx;
};
void kp_aws_fleet_init(struct kp_aws_cloud *w);
void kp_aws_fleet_fini(struct kp_aws_cloud *w);
/* One CreateFleet through the batcher: r and eb as kp_aws_query's, r->xml a
 * CreateFleetResponse holding this request's instance (if any) and the
 * answer's errorSet. Blocks for the batch window (35 ms idle, 1 s max). */
kp_err kp_aws_fleet_call(struct kp_aws_cloud *w, const struct kp_aws_fleet_req *q, struct kp_arena *a,
			 struct kp_aws_resp *r, struct kp_errbuf *eb);

int64_t kp_aws_now_ms(struct kp_aws_cloud *w);

/* ---- EC2 helpers (provider.c) ---- */
typedef kp_err (*kp_aws_item_fn)(void *ud, const struct kp_aws_xnode *item, struct kp_errbuf *eb);
/* Sends p to EC2 page after page (NextToken), calling fn for each element
 * of the list at path set (e.g. "subnetSet") in every page. p is kept. */
kp_err kp_aws_ec2_each(struct kp_aws_cloud *w, struct kp_aws_params *p, const char *set, kp_aws_item_fn fn, void *ud,
		       struct kp_errbuf *eb);

/* ---- NodeClaim tagging (tagging.c): the tag_instance operation ---- */
enum kp_cloud_err kp_aws_tag_instance(struct kp_cloud *cp, const char *provider_id, const char *node_name,
				      const char *claim_name, struct kp_errbuf *eb);

/* ---- node classes (nodeclass.c) ---- */
/* Resolves obj (an EC2NodeClass, v1 or v1beta1 shape) into c (zeroed by the
 * caller; the previous resolution, if any, in prev for cached parts). On
 * return *status holds the new status (subnets, securityGroups, amis,
 * instanceProfile) and *conds the conditions; c->ready says whether it can
 * launch, c->reason why not. KP_ERR_* only for out-of-memory and bad
 * objects; discovery failures make the class not ready. */
kp_err kp_aws_class_resolve(struct kp_aws_cloud *w, const json_t *obj, struct kp_aws_class *c, json_t **status,
			    json_t **conds, struct kp_errbuf *eb);
void kp_aws_class_clear(struct kp_aws_class *c);
/* The class's karpenter.k8s.aws/ec2nodeclass-hash from its .spec (decimal, into out of size n). */
void kp_aws_class_hash(const json_t *spec, char *out, size_t n);
/* ---- user data (userdata.c, pkg/providers/amifamily/bootstrap) ---- */
/* User data for a launch of claim (NULL: none) as capacity type ct from
 * class c: the family's bootstrap with the claim's labels, taints and
 * startup taints (plus karpenter.sh/unregistered:NoExecute) and the class's
 * kubelet maxPods/clusterDNS, merged with spec.userData (MIME parts for
 * AL2/AL2023, TOML for Bottlerocket). Plain text (the caller encodes it);
 * malloc'ed; NULL with eb when spec.userData cannot be merged. */
char *kp_aws_user_data(struct kp_aws_cloud *w, const struct kp_aws_class *c, const struct kp_nodeclaim *claim,
		       enum kp_captype ct, struct kp_errbuf *eb);

/* ---- TOML (toml.c): Bottlerocket user data merging ---- */
struct kp_aws_toml;
/* Parses text (len bytes); KP_ERR_INVALID with the line in eb. */
kp_err kp_aws_toml_parse(const char *text, size_t len, struct kp_aws_toml **out, struct kp_errbuf *eb);
/* Sets key in the table whose path is table[0..ntable) to raw (TOML
 * source text of the value, e.g. "\"x\"" or "58"), replacing the key and
 * any scalar standing where that table goes. */
kp_err kp_aws_toml_set(struct kp_aws_toml *d, const char *const *table, int ntable, const char *key, const char *raw);
/* The document, each table once (malloc'ed). */
char *kp_aws_toml_emit(const struct kp_aws_toml *d);
void kp_aws_toml_free(struct kp_aws_toml *d);
/* instanceprofile.go Delete: the profile the provider made for class name
 * from its spec.role loses its roles and is deleted; a profile that is not
 * there is not an error. */
kp_err kp_aws_profile_delete(struct kp_aws_cloud *w, const char *name, struct kp_errbuf *eb);
/* The class's AMI for a (non-mac) type of arch ("amd64"/"arm64"): the
 * newest non-deprecated one, the only one the class keeps for that
 * requirement set; NULL when there is none. */
const struct kp_aws_ami *kp_aws_class_ami(const struct kp_aws_class *c, const char *arch);
/* blockDeviceMappings[].ebs.volumeSize (a quantity string, or a number of
 * bytes) in GiB rounded up: 1 and *gib, 0 when size is NULL, -1 when it is
 * not a positive quantity. */
int kp_aws_volume_gib(const json_t *size, int64_t *gib);
/* The class's spec.kubelet as engine settings (kp_itype_aws_kubelet),
 * strings in a; out->set false when there is none. */
kp_err kp_aws_class_kubelet(const struct kp_aws_class *c, struct kp_arena *a, struct kp_kubelet *out);
/* True for Windows families. */
bool kp_aws_family_windows(const char *family);

#endif
