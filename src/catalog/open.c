/*
 * open.c - resolves a --catalog argument to one of the builders.
 *
 * NULL, "aws" and "aws-us-east-1" are the built-in AWS catalog for
 * us-east-1 (read from <datadir>/aws/), "kwok" is Karpenter's kwok catalog,
 * and anything else is a path to a JSON catalog file. Cost: that of the
 * builder chosen.
 */
#include <string.h>

#include "catalog/catalog_io.h"

kp_err kp_catalog_open(struct kp_catalog *cat, struct kp_resnames *rn, const char *name_or_file,
		       const char *datadir, struct kp_errbuf *eb)
{
	const char *s = name_or_file;
	kp_err rc;

	if (!s || strcmp(s, "aws") == 0 || strcmp(s, "aws-us-east-1") == 0)
		return kp_catalog_load_aws(cat, rn, datadir, "us-east-1", eb);
	if (strcmp(s, "kwok") == 0)
		return kp_catalog_build_kwok(cat, rn, eb);
	rc = kp_catalog_load_json(cat, rn, s, eb);
	if (rc == KP_ERR_NOTFOUND && !strchr(s, '/') && !strchr(s, '.'))
		kp_err_prefix(eb, "unknown catalog (built in: aws, aws-us-east-1, kwok): ");
	return rc;
}
