/*
 * aws_client_check.c - the AWS client (src/cloud/aws) against a real
 * moto_server, through tests/aws/proxy.py for the answers moto cannot give
 * (throttling, 5xx, auth failure, credential endpoints). Run by
 * tests/aws/run, which starts and stops both servers.
 *
 * Usage: aws_client_check MOTO_URL PROXY_URL TMPDIR
 * Prints one "ok"/"FAIL" line per check and "aws-client: N passed, M failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "cloud/aws/aws.h"

static int npass, nfail;
static const char *MOTO, *PROXY, *TMP;

static void check(bool cond, const char *name, const char *detail)
{
	if (cond) {
		npass++;
		printf("ok   %s\n", name);
	} else {
		nfail++;
		printf("FAIL %s%s%s\n", name, detail && *detail ? ": " : "", detail ? detail : "");
	}
}

static void env_creds(void)
{
	setenv("AWS_ACCESS_KEY_ID", "testing", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "testing", 1);
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_ROLE_ARN");
	unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	unsetenv("AWS_PROFILE");
}

static void no_creds(void)
{
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
}

static struct kp_aws_client *client(const char *endpoint, int attempts)
{
	struct kp_aws_config cfg = { 0 };
	struct kp_aws_client *c = NULL;
	struct kp_errbuf eb = { 0 };

	cfg.region = "us-east-1";
	cfg.endpoint = endpoint;
	cfg.max_attempts = attempts;
	cfg.backoff_base_ms = 20;
	cfg.backoff_cap_ms = 100;
	cfg.timeout_ms = 10000;
	if (kp_aws_client_new(&cfg, &c, &eb))
		fprintf(stderr, "client: %s\n", eb.msg);
	return c;
}

static void proxy_post(const char *path, const char *json)
{
	char url[512], *out = NULL;
	long st;
	CURL *h = curl_easy_init();

	snprintf(url, sizeof(url), "%s%s", PROXY, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fwrite);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, fopen("/dev/null", "w"));
	curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
	curl_easy_cleanup(h);
	free(out);
}

static json_t *proxy_log(void)
{
	char url[512], *body = NULL;
	long st = 0;
	json_t *j = NULL;

	snprintf(url, sizeof(url), "%s/_proxy/log", PROXY);
	if (!kp_aws_http("GET", url, NULL, 5000, &st, &body, NULL) && st == 200)
		j = json_loads(body, 0, NULL);
	free(body);
	return j;
}

/* DescribeAvailabilityZones; returns the number of zones (-1 on error). */
static int zones(struct kp_aws_client *c, struct kp_aws_resp *resp, struct kp_errbuf *eb)
{
	struct kp_aws_params p;
	struct kp_arena a;
	int n = -1;

	kp_arena_init(&a);
	kp_aws_params_init(&p, "DescribeAvailabilityZones", "2016-11-15");
	if (!kp_aws_query(c, "ec2", &p, false, false, &a, resp, eb)) {
		const struct kp_aws_xnode *set = kp_aws_xml_child(resp->xml, "availabilityZoneInfo");

		n = 0;
		for (const struct kp_aws_xnode *it = set ? set->child : NULL; it; it = it->next)
			if (kp_aws_xml_text(it, "zoneName"))
				n++;
	}
	kp_aws_params_free(&p);
	kp_arena_free(&a);
	return n;
}

static void t_env_query(void)
{
	struct kp_aws_client *c;
	struct kp_aws_resp r;
	struct kp_errbuf eb = { 0 };
	struct kp_aws_creds cr;
	int n;

	env_creds();
	c = client(MOTO, 3);
	n = zones(c, &r, &eb);
	check(n >= 3, "query protocol: DescribeAvailabilityZones signed with env credentials", eb.msg);
	check(!kp_aws_client_creds(c, &cr, &eb) && strcmp(cr.source, "env") == 0, "credentials: source env", cr.source);
	check(r.request_id[0] != 0, "request id read from the answer", NULL);
	kp_aws_client_free(c);
}

static void t_errors(void)
{
	struct kp_aws_client *c;
	struct kp_aws_resp r;
	struct kp_errbuf eb = { 0 };
	struct kp_aws_params p;
	struct kp_arena a;
	kp_err rc;

	env_creds();
	c = client(MOTO, 3);
	kp_arena_init(&a);
	kp_aws_params_init(&p, "DescribeInstances", "2016-11-15");
	kp_aws_params_add(&p, "InstanceId.1", "i-0123456789abcdef0");
	rc = kp_aws_query(c, "ec2", &p, false, false, &a, &r, &eb);
	check(rc == KP_ERR_NOTFOUND && strcmp(r.code, "InvalidInstanceID.NotFound") == 0 && r.attempts == 1,
	      "EC2 error decoded: InvalidInstanceID.NotFound, not retried", eb.msg);
	check(strstr(eb.msg, "ec2 DescribeInstances: InvalidInstanceID.NotFound") != NULL,
	      "error message names service, action and code", eb.msg);
	kp_aws_params_free(&p);

	/* JSON protocol: SSM put/get, not found */
	rc = kp_aws_json(c, "ssm", "AmazonSSM.PutParameter", "1.1",
			 "{\"Name\":\"/karpenter/test/ami\",\"Value\":\"ami-0123\",\"Type\":\"String\",\"Overwrite\":true}",
			 &r, &eb);
	kp_aws_resp_clear(&r);
	rc = rc ? rc : kp_aws_json(c, "ssm", "AmazonSSM.GetParameter", "1.1", "{\"Name\":\"/karpenter/test/ami\"}", &r, &eb);
	check(!rc && r.json &&
		      kp_strcmp0(json_string_value(json_object_get(json_object_get(r.json, "Parameter"), "Value")),
				 "ami-0123") == 0,
	      "JSON 1.1 protocol: SSM PutParameter then GetParameter", eb.msg);
	kp_aws_resp_clear(&r);
	rc = kp_aws_json(c, "ssm", "AmazonSSM.GetParameter", "1.1", "{\"Name\":\"/karpenter/none\"}", &r, &eb);
	check(rc == KP_ERR_NOTFOUND && strcmp(r.code, "ParameterNotFound") == 0, "SSM ParameterNotFound decoded",
	      eb.msg);
	kp_aws_resp_clear(&r);
	/* SQS JSON 1.0 */
	rc = kp_aws_json(c, "sqs", "AmazonSQS.CreateQueue", "1.0", "{\"QueueName\":\"client-check\"}", &r, &eb);
	check(!rc && json_string_value(json_object_get(r.json, "QueueUrl")), "JSON 1.0 protocol: SQS CreateQueue",
	      eb.msg);
	kp_aws_resp_clear(&r);
	rc = kp_aws_json(c, "sqs", "AmazonSQS.GetQueueUrl", "1.0", "{\"QueueName\":\"no-such-queue\"}", &r, &eb);
	check(rc == KP_ERR_NOTFOUND, "SQS missing queue -> not found", r.code);
	kp_aws_resp_clear(&r);
	kp_arena_free(&a);
	kp_aws_client_free(c);
}

static void t_retries(void)
{
	struct kp_aws_client *c;
	struct kp_aws_resp r;
	struct kp_errbuf eb = { 0 };
	struct kp_aws_params p;
	struct kp_arena a;
	json_t *log;
	const char *tok = NULL;
	int same = 0, seen = 0, n;
	kp_err rc;

	env_creds();
	c = client(PROXY, 4);
	proxy_post("/_proxy/reset", "{}");
	proxy_post("/_proxy/rules", "{\"throttle\":{\"DescribeAvailabilityZones\":2}}");
	n = zones(c, &r, &eb);
	check(n >= 3 && r.attempts == 3, "throttling (RequestLimitExceeded 503) retried with backoff", eb.msg);
	proxy_post("/_proxy/rules", "{\"fail5xx\":{\"DescribeAvailabilityZones\":1}}");
	n = zones(c, &r, &eb);
	check(n >= 3 && r.attempts == 2, "HTTP 500 InternalError retried", eb.msg);
	proxy_post("/_proxy/rules", "{\"throttle\":{\"DescribeAvailabilityZones\":10}}");
	n = zones(c, &r, &eb);
	check(n < 0 && r.attempts == 4 && strcmp(r.code, "RequestLimitExceeded") == 0 &&
		      strstr(eb.msg, "4 attempts"),
	      "throttled past max attempts: error after exactly 4 attempts", eb.msg);

	/* one ClientToken per logical call, reused across its retries */
	proxy_post("/_proxy/reset", "{}");
	proxy_post("/_proxy/rules", "{\"throttle\":{\"CreateLaunchTemplate\":2}}");
	kp_arena_init(&a);
	kp_aws_params_init(&p, "CreateLaunchTemplate", "2016-11-15");
	kp_aws_params_add(&p, "LaunchTemplateName", "client-check/token");
	kp_aws_params_add(&p, "LaunchTemplateData.ImageId", "ami-03cf127a");
	rc = kp_aws_query(c, "ec2", &p, true, false, &a, &r, &eb);
	kp_aws_params_free(&p);
	log = proxy_log();
	for (size_t i = 0; log && i < json_array_size(log); i++) {
		json_t *e = json_array_get(log, i);
		const char *t = json_string_value(json_object_get(e, "token"));

		if (kp_strcmp0(json_string_value(json_object_get(e, "action")), "CreateLaunchTemplate"))
			continue;
		seen++;
		if (!tok)
			tok = t;
		if (t && tok && *t && strcmp(t, tok) == 0)
			same++;
	}
	check(!rc && seen == 3 && same == 3, "ClientToken: one UUID sent unchanged on all 3 attempts", eb.msg);
	json_decref(log);
	kp_arena_free(&a);

	/* wrong secret: AuthFailure surfaced, not retried */
	proxy_post("/_proxy/rules", "{\"auth_fail\":true}");
	n = zones(c, &r, &eb);
	check(n < 0 && strcmp(r.code, "AuthFailure") == 0 && r.attempts == 1 && strstr(eb.msg, "AuthFailure"),
	      "AuthFailure (HTTP 401) surfaced with its code, not retried", eb.msg);
	proxy_post("/_proxy/reset", "{}");
	kp_aws_client_free(c);

	/* nothing listening: transport error after the retries */
	c = client("http://127.0.0.1:9", 2);
	n = zones(c, &r, &eb);
	check(n < 0 && r.attempts == 2 && eb.code == KP_ERR_IO, "transport error: retried, then KP_ERR_IO", eb.msg);
	kp_aws_client_free(c);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void t_creds_chain(void)
{
	struct kp_aws_client *c;
	struct kp_aws_resp r;
	struct kp_errbuf eb = { 0 };
	struct kp_aws_creds cr;
	char path[512], path2[512], url[512];
	int n;

	/* shared credentials file with profiles */
	no_creds();
	snprintf(path, sizeof(path), "%s/credentials", TMP);
	write_file(path, "[default]\naws_access_key_id = AKIDEFAULT\naws_secret_access_key = d\n\n"
			 "[team]\naws_access_key_id=AKIATEAM\naws_secret_access_key=teamsecret\n");
	snprintf(path2, sizeof(path2), "%s/config", TMP);
	write_file(path2, "[profile team]\nregion = eu-west-1\n");
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	setenv("AWS_CONFIG_FILE", path2, 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	setenv("AWS_PROFILE", "team", 1);
	c = client(MOTO, 2);
	check(c && !kp_aws_client_creds(c, &cr, &eb) && strcmp(cr.source, "profile") == 0 &&
		      strcmp(cr.akid, "AKIATEAM") == 0,
	      "credentials: shared file, profile from AWS_PROFILE", eb.msg);
	kp_aws_client_free(c);
	{
		char reg[64];

		unsetenv("AWS_REGION");
		unsetenv("AWS_DEFAULT_REGION");
		kp_aws_region_from_env("team", reg, sizeof(reg));
		check(strcmp(reg, "eu-west-1") == 0, "region: from [profile team] in the config file", reg);
	}
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	unsetenv("AWS_CONFIG_FILE");

	/* web identity (IRSA) through moto STS */
	snprintf(path, sizeof(path), "%s/token", TMP);
	write_file(path, "eyJhbGciOiJSUzI1NiJ9.test.sig\n");
	setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/karpenter", 1);
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", path, 1);
	c = client(MOTO, 2);
	memset(&cr, 0, sizeof(cr));
	check(c && !kp_aws_client_creds(c, &cr, &eb) && strcmp(cr.source, "web-identity") == 0 && cr.token[0] &&
		      cr.expires_ms > 0 && strncmp(cr.akid, "ASIA", 4) == 0,
	      "credentials: web identity via STS AssumeRoleWithWebIdentity (session token, expiry)", eb.msg);
	n = c ? zones(c, &r, &eb) : -1;
	check(n >= 3, "EC2 call signed with web-identity session credentials", eb.msg);
	kp_aws_client_free(c);
	unsetenv("AWS_ROLE_ARN");
	unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");

	/* EKS Pod Identity: container endpoint with an authorization token file */
	snprintf(url, sizeof(url), "%s/_proxy/container-creds", PROXY);
	snprintf(path, sizeof(path), "%s/pod-token", TMP);
	write_file(path, "pod-identity-token\n");
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", path, 1);
	c = client(MOTO, 2);
	memset(&cr, 0, sizeof(cr));
	check(c && !kp_aws_client_creds(c, &cr, &eb) && strcmp(cr.source, "container") == 0 &&
		      strcmp(cr.token, "token-container") == 0 && cr.expires_ms > 0,
	      "credentials: EKS Pod Identity container endpoint with token file", eb.msg);
	kp_aws_client_free(c);
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");

	/* IMDSv2 */
	unsetenv("AWS_EC2_METADATA_DISABLED");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", PROXY, 1);
	c = client(MOTO, 2);
	memset(&cr, 0, sizeof(cr));
	check(c && !kp_aws_client_creds(c, &cr, &eb) && strcmp(cr.source, "imds") == 0 &&
		      strcmp(cr.akid, "ASIAIMDS") == 0,
	      "credentials: IMDSv2 (token, role name, role credentials)", eb.msg);
	kp_aws_client_free(c);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);

	/* nothing anywhere */
	c = client(MOTO, 2);
	n = c ? zones(c, &r, &eb) : -1;
	check(n < 0 && strstr(eb.msg, "no AWS credentials"), "no credentials: clear error, no request sent", eb.msg);
	kp_aws_client_free(c);
	env_creds();
}

static void t_endpoints(void)
{
	struct kp_aws_client *c;
	char buf[256];

	unsetenv("AWS_ENDPOINT_URL");
	c = client(NULL, 1);
	kp_aws_endpoint(c, "ec2", buf, sizeof(buf));
	check(strcmp(buf, "https://ec2.us-east-1.amazonaws.com") == 0, "endpoint: AWS default for ec2", buf);
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1/", 1);
	setenv("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:2", 1);
	kp_aws_endpoint(c, "ec2", buf, sizeof(buf));
	check(strcmp(buf, "http://127.0.0.1:1") == 0, "endpoint: AWS_ENDPOINT_URL", buf);
	kp_aws_endpoint(c, "sqs", buf, sizeof(buf));
	check(strcmp(buf, "http://127.0.0.1:2") == 0, "endpoint: AWS_ENDPOINT_URL_SQS beats AWS_ENDPOINT_URL", buf);
	kp_aws_client_free(c);
	c = client("http://127.0.0.1:3", 1);
	kp_aws_endpoint(c, "sqs", buf, sizeof(buf));
	check(strcmp(buf, "http://127.0.0.1:3") == 0, "endpoint: --aws-endpoint beats the variables", buf);
	kp_aws_client_free(c);
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_SQS");
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: aws_client_check MOTO_URL PROXY_URL TMPDIR\n");
		return 2;
	}
	MOTO = argv[1];
	PROXY = argv[2];
	TMP = argv[3];
	curl_global_init(CURL_GLOBAL_DEFAULT);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	t_env_query();
	t_errors();
	t_retries();
	t_creds_chain();
	t_endpoints();
	curl_global_cleanup();
	printf("aws-client: %d passed, %d failed\n", npass, nfail);
	return nfail ? 1 : 0;
}
