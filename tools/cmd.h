/*
 * cmd.h - the subcommands of the `annal` binary. Each takes the arguments
 * after the subcommand name (argv[0] is the subcommand name) and returns the
 * process exit status: 0 success, 1 the check failed (verify), 2 usage or
 * I/O error. Each prints its own --help.
 */
#ifndef ANNAL_CMD_H
#define ANNAL_CMD_H

#include <stddef.h>
#include <stdio.h>

int cmd_append(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_gen(int argc, char **argv);
int cmd_query(int argc, char **argv);
/* annal query's view subcommands (cmd_query_views.c). cmd_query passes its
 * arguments here first: -1 when WHAT is not one of them (or --help is
 * given), else the exit status. Their --help lines: */
int cmd_query_views(int argc, char **argv);
extern const char cmd_query_views_help[];
int cmd_reindex(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_checkpoint(int argc, char **argv);
int cmd_prove(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_verify_bundle(int argc, char **argv);

/* Shared by verify --against, export and verify-bundle. */
struct annal_note_verifier;
/* Parse --key VKEY: a verifier key string, or a file holding one (or the
 * signer key file of annal keygen, whose public half is used). 0, or -1
 * after printing "annal CMD: --key: ..." on stderr. */
int cmd_load_vkey(const char *cmd, const char *arg, struct annal_note_verifier *out);
/* Write s[0..n) as a JSON string (quotes included) to f: '"', '\\' and
 * control characters escaped, every other byte as is. */
void cmd_json_string(FILE *f, const char *s, size_t n);

#endif
