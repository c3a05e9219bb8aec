/*
 * args.c - splitting "--name=value" options and taking option values, the
 * same way for every subcommand. No allocation; names longer than the
 * buffer are left whole (and then rejected as unknown options).
 */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"

void kp_cli_arg_split(const char *arg, struct kp_cli_arg *o)
{
	const char *eq = strchr(arg, '=');

	o->name = arg;
	o->val = NULL;
	if (arg[0] == '-' && arg[1] == '-' && eq && (size_t)(eq - arg) < sizeof(o->buf)) {
		memcpy(o->buf, arg, (size_t)(eq - arg));
		o->buf[eq - arg] = '\0';
		o->name = o->buf;
		o->val = eq + 1;
	}
}

const char *kp_cli_arg_value(const char *cmd, struct kp_cli_arg *o, int argc, char **argv, int *i)
{
	if (o->val)
		return o->val;
	if (*i + 1 >= argc) {
		fprintf(stderr, "karpenter %s: %s needs a value\n", cmd, o->name);
		return NULL;
	}
	o->val = argv[++*i];
	return o->val;
}
