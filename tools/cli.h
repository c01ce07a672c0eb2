/*
 * cli.h - small helpers shared by the subcommands.
 */
#ifndef ANNAL_CLI_H
#define ANNAL_CLI_H

#include <stddef.h>
#include <stdint.h>

/* Parse a decimal u64 (no sign, no junk, no overflow): 0 ok, -1 bad. */
int cli_u64(const char *s, uint64_t *v);

/* Read all of path ("-" or NULL: stdin) into a malloc'd buffer; on error
 * prints "annal CMD: cannot read PATH: reason" and returns -1. */
int cli_read_input(const char *cmd, const char *path, char **buf, size_t *len);

/* Like cli_read_input, but a regular file is mapped (read-only) instead of
 * copied; *mapped says which. Release with cli_unmap_input. */
int cli_map_input(const char *cmd, const char *path, char **buf, size_t *len, int *mapped);
void cli_unmap_input(char *buf, size_t len, int mapped);

/* Progress lines on stderr, only when stderr is a terminal; rate-limited
 * to a few per second. cli_progress_end clears the line. */
void cli_progress(const char *fmt, ...);
void cli_progress_end(void);

#endif
