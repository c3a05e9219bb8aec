/*
 * args.h - the command-line conventions every subcommand shares:
 * "--name value" and "--name=value", and the "needs a value" error.
 */
#ifndef KARPENTER_CLI_ARGS_H
#define KARPENTER_CLI_ARGS_H

struct kp_cli_arg {
	const char *name;   /* "--catalog"; points into buf or at the argument itself */
	const char *val;    /* inline value of "--name=value", else NULL */
	char buf[64];
};

/* Splits one argument: "--name=value" gives name "--name" and an inline
 * value; any other argument is the name alone. */
void kp_cli_arg_split(const char *arg, struct kp_cli_arg *o);
/* The option's value: the inline one, else argv[*i + 1] (advancing *i).
 * Prints "karpenter CMD: NAME needs a value" and returns NULL when there is
 * none. */
const char *kp_cli_arg_value(const char *cmd, struct kp_cli_arg *o, int argc, char **argv, int *i);

#endif
