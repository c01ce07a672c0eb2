/*
 * segdir.h - the segment files of a data directory.
 */
#ifndef ANNAL_SEGDIR_H
#define ANNAL_SEGDIR_H

#include <stddef.h>
#include <stdint.h>

/* Lists the segment files (named by annal_seg_name) of the directory `dir`,
 * sorted by first seq; other files are ignored. *seqs is malloc'd (NULL when
 * none); the caller frees it. Returns ANNAL_OK, or ANNAL_EIO (errno set) when
 * the directory cannot be read, or ANNAL_ENOMEM. */
int annal_segdir_list(const char *dir, uint64_t **seqs, size_t *n);

/* Reads the whole file dir/<segment of first_seq> into a malloc'd buffer.
 * Returns ANNAL_OK, ANNAL_EIO (errno set) or ANNAL_ENOMEM. */
int annal_segdir_read(const char *dir, uint64_t first_seq, unsigned char **buf, size_t *len);

/* dir + "/" + segment name into out[cap]; 0, or -1 if it does not fit. */
int annal_segdir_path(const char *dir, uint64_t first_seq, char *out, size_t cap);

#endif
