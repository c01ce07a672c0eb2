/*
 * cmd.h - the subcommands of the `annal` binary. Each takes the arguments
 * after the subcommand name (argv[0] is the subcommand name) and returns the
 * process exit status: 0 success, 1 the check failed (verify), 2 usage or
 * I/O error. Each prints its own --help.
 */
#ifndef ANNAL_CMD_H
#define ANNAL_CMD_H

int cmd_append(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_gen(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_reindex(int argc, char **argv);
int cmd_stats(int argc, char **argv);

#endif
