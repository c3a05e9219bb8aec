/*
 * commands.h - the `karpenter` subcommands. Each takes argv starting at the
 * subcommand's own name and returns the process exit status: 0 success,
 * 1 runtime failure, 2 bad usage or bad input.
 */
#ifndef KARPENTER_CLI_COMMANDS_H
#define KARPENTER_CLI_COMMANDS_H

#define KP_EXIT_OK 0
#define KP_EXIT_FAIL 1
#define KP_EXIT_USAGE 2

/* `karpenter catalog [--catalog NAME|FILE] [-o json|table]` */
int kp_cmd_catalog(int argc, char **argv, const char *datadir);
/* `karpenter simulate -f PATH [-f PATH ...] [--catalog NAME|FILE] [-o json|table]` */
int kp_cmd_simulate(int argc, char **argv, const char *datadir);
/* `karpenter up [--listen ADDR:PORT] [--kubeconfig PATH] [--data-dir DIR] ...`: the local control plane */
int kp_cmd_up(int argc, char **argv, const char *datadir);
/* `karpenter controller [--kubeconfig PATH] [--cloud-provider fake] ...`: the Karpenter controller */
int kp_cmd_controller(int argc, char **argv, const char *datadir);

/* Directory holding the built-in data (data/aws/...), found at run time:
 * $KARPENTER_DATA_DIR, else <dir of the executable>/../data, else
 * <dir of the executable>/../share/karpenter/data, else ./data. */
const char *kp_cli_datadir(void);

#endif
