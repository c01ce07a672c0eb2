/*
 * cpool.h - compressing many independent buffers into zstd frames in
 * parallel: the log writer's blocks. A pool owns `nthreads` threads, each
 * with its own ZSTD_CCtx; the thread calling annal_cpool_run works too, so
 * a pool of 0 threads compresses everything in the caller.
 *
 * Every frame carries its content size and a content checksum, at the
 * pool's compression level. One annal_cpool_run at a time per pool.
 */
#ifndef ANNAL_CPOOL_H
#define ANNAL_CPOOL_H

#include <stddef.h>

typedef struct annal_cpool annal_cpool;

typedef struct annal_cjob {
    const void *src;   /* in: bytes to compress */
    size_t src_len;
    void *dst;         /* in: where the frame goes */
    size_t dst_cap;    /* >= ZSTD_compressBound(src_len) */
    size_t out_len;    /* out: the frame's length */
} annal_cjob;

/* Returns ANNAL_OK, ANNAL_ENOMEM or ANNAL_EINVAL (nthreads < 0). */
int annal_cpool_create(int nthreads, int level, annal_cpool **out);

/* Compress jobs[0..n) and return when all are done: ANNAL_OK, or ANNAL_ENOMEM
 * if zstd failed on any (their out_len is then unspecified). */
int annal_cpool_run(annal_cpool *p, annal_cjob *jobs, size_t n);

/* Stop the threads and free; NULL is a no-op. */
void annal_cpool_free(annal_cpool *p);

#endif
