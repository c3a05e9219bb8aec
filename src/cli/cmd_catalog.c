/*
 * cmd_catalog.c - `karpenter catalog [--catalog NAME|FILE] [-o json|table]`:
 * prints the instance-type catalog the scheduler would use.
 *
 * The JSON form is the catalog file format (--catalog FILE reads it back);
 * the table is for people. Exit status: 0, 2 on bad usage or bad input
 * (including a catalog file that does not load), 1 on runtime failures
 * (out of memory, write errors). Cost: that of loading the catalog plus
 * O(output).
 */
#include <stdio.h>
#include <string.h>

#include "catalog/catalog_io.h"
#include "cli/args.h"
#include "cli/commands.h"

static void catalog_usage(FILE *f)
{
	fputs("usage: karpenter catalog [--catalog NAME|FILE] [-o json|table]\n"
	      "\n"
	      "  --catalog NAME|FILE   aws or aws-us-east-1 (default), kwok, or a JSON catalog file\n"
	      "  -o, --output FORMAT   table (default) or json (the --catalog FILE format)\n", f);
}

struct catalog_args {
	const char *catalog;
	bool json;
};

/* Returns 0 to go on, -1 after --help, or an exit status. */
static int catalog_parse(int argc, char **argv, struct catalog_args *a)
{
	for (int i = 1; i < argc; i++) {
		struct kp_cli_arg o;
		const char *arg, *val;

		kp_cli_arg_split(argv[i], &o);
		arg = o.name;
		val = o.val;

		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			catalog_usage(stdout);
			return -1;
		}
		if (!val && strncmp(arg, "-o", 2) == 0 && arg[2]) {
			o.val = arg[2] == '=' ? arg + 3 : arg + 2;   /* -ojson, -o=json */
			o.name = arg = "-o";
		}
		if (strcmp(arg, "--catalog") != 0 && strcmp(arg, "-o") != 0 && strcmp(arg, "--output") != 0) {
			fprintf(stderr, "karpenter catalog: unknown option \"%s\"\n", argv[i]);
			catalog_usage(stderr);
			return KP_EXIT_USAGE;
		}
		if (!(val = kp_cli_arg_value("catalog", &o, argc, argv, &i)))
			return KP_EXIT_USAGE;
		if (strcmp(arg, "--catalog") == 0) {
			if (!*val) {
				fprintf(stderr, "karpenter catalog: --catalog needs a value\n");
				return KP_EXIT_USAGE;
			}
			a->catalog = val;
		} else if (strcmp(val, "json") == 0) {
			a->json = true;
		} else if (strcmp(val, "table") == 0) {
			a->json = false;
		} else {
			fprintf(stderr, "karpenter catalog: unknown output format \"%s\" (json or table)\n", val);
			return KP_EXIT_USAGE;
		}
	}
	return 0;
}

int kp_cmd_catalog(int argc, char **argv, const char *datadir)
{
	struct catalog_args args = {0};
	struct kp_resnames rn;
	struct kp_catalog cat;
	struct kp_errbuf eb = {0};
	int status;
	kp_err rc;

	status = catalog_parse(argc, argv, &args);
	if (status)
		return status < 0 ? KP_EXIT_OK : status;

	kp_resnames_init(&rn);
	rc = kp_catalog_open(&cat, &rn, args.catalog, datadir, &eb);
	if (rc) {
		fprintf(stderr, "karpenter catalog: %s\n", eb.msg);
		kp_catalog_free(&cat);
		return rc == KP_ERR_NOMEM ? KP_EXIT_FAIL : KP_EXIT_USAGE;
	}
	if (args.json) {
		struct kp_buf out;

		kp_buf_init(&out, KP_CATALOG_JSON_MAX);
		rc = kp_catalog_to_json(&cat, &rn, &out, &eb);
		if (!rc && (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout)))
			rc = kp_errf(&eb, KP_ERR_IO, "writing output failed");
		kp_buf_free(&out);
	} else {
		rc = kp_catalog_print_table(&cat, &rn, stdout, &eb);
	}
	kp_catalog_free(&cat);
	if (rc) {
		fprintf(stderr, "karpenter catalog: %s\n", eb.msg);
		return KP_EXIT_FAIL;
	}
	return KP_EXIT_OK;
}
