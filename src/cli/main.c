/*
 * main.c - the `karpenter` binary: dispatches to its subcommands.
 *
 * One binary, several faces: `simulate` (offline what-if over manifests),
 * `catalog` (the instance-type menu), `version`; `up` and `controller`
 * arrive with the local control plane and the controller.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"

#ifndef KP_VERSION
#define KP_VERSION "0.1.0-dev"
#endif

static void usage(FILE *f)
{
	fputs("usage: karpenter <command> [options]\n"
	      "\n"
	      "commands:\n"
	      "  simulate    plan the nodes Karpenter would launch for a set of manifests\n"
	      "  catalog     list the instance types, capacity, allocatable and prices\n"
	      "  up          run a local Kubernetes control plane (kubectl works against it)\n"
	      "  controller  run the Karpenter controller against a cluster\n"
	      "  version     print the version\n"
	      "\n"
	      "run `karpenter <command> --help` for a command's options\n", f);
}

static int is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *kp_cli_datadir(void)
{
	static char found[PATH_MAX];
	char exe[PATH_MAX], cand[PATH_MAX];
	const char *env = getenv("KARPENTER_DATA_DIR");
	ssize_t n;

	if (env && *env)
		return env;
	if (found[0])
		return found;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			/* build/karpenter and build/san/karpenter both live under the repo */
			static const char *const rel[] = { "/../data", "/../../data", "/../share/karpenter/data" };
			for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
				snprintf(cand, sizeof(cand), "%s%s", exe, rel[i]);
				if (is_dir(cand)) {
					if (!realpath(cand, found))
						snprintf(found, sizeof(found), "%s", cand);
					return found;
				}
			}
		}
	}
	snprintf(found, sizeof(found), "data");
	return found;
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2) {
		usage(stderr);
		return KP_EXIT_USAGE;
	}
	cmd = argv[1];
	if (strcmp(cmd, "simulate") == 0)
		return kp_cmd_simulate(argc - 1, argv + 1, kp_cli_datadir());
	if (strcmp(cmd, "catalog") == 0)
		return kp_cmd_catalog(argc - 1, argv + 1, kp_cli_datadir());
	if (strcmp(cmd, "up") == 0)
		return kp_cmd_up(argc - 1, argv + 1, kp_cli_datadir());
	if (strcmp(cmd, "controller") == 0)
		return kp_cmd_controller(argc - 1, argv + 1, kp_cli_datadir());
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("karpenter-c %s\n", KP_VERSION);
		return KP_EXIT_OK;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return KP_EXIT_OK;
	}
	fprintf(stderr, "karpenter: unknown command \"%s\"\n", cmd);
	usage(stderr);
	return KP_EXIT_USAGE;
}
