#include "cpool.h"

#include "error.h"

#include <pthread.h>
#include <stdlib.h>
#include <zstd.h>

struct annal_cpool {
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    pthread_t *threads;
    int nthreads, started;
    int level;
    ZSTD_CCtx *own;        /* the caller's context */
    /* the current run, under mu */
    annal_cjob *jobs;
    size_t n, next, left;
    unsigned long gen;
    int failed, stop;
};

static ZSTD_CCtx *cctx_new(int level)
{
    ZSTD_CCtx *c = ZSTD_createCCtx();
    if (c) {
        ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
        ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
        ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 1);
    }
    return c;
}

/* Take and compress jobs until none is left; called with mu held. */
static void work(annal_cpool *p, ZSTD_CCtx *c)
{
    while (p->next < p->n) {
        annal_cjob *j = &p->jobs[p->next++];
        pthread_mutex_unlock(&p->mu);
        size_t r = c ? ZSTD_compress2(c, j->dst, j->dst_cap, j->src, j->src_len) : (size_t)-1;
        pthread_mutex_lock(&p->mu);
        if (!c || ZSTD_isError(r))
            p->failed = 1;
        else
            j->out_len = r;
        if (--p->left == 0)
            pthread_cond_broadcast(&p->done);
    }
}

static void *worker(void *arg)
{
    annal_cpool *p = arg;
    ZSTD_CCtx *c = cctx_new(p->level);
    pthread_mutex_lock(&p->mu);
    unsigned long seen = p->gen;
    for (;;) {
        while (p->gen == seen && !p->stop)
            pthread_cond_wait(&p->go, &p->mu);
        if (p->stop)
            break;
        seen = p->gen;
        work(p, c);
    }
    pthread_mutex_unlock(&p->mu);
    ZSTD_freeCCtx(c);
    return NULL;
}

int annal_cpool_create(int nthreads, int level, annal_cpool **out)
{
    *out = NULL;
    if (nthreads < 0)
        return ANNAL_EINVAL;
    annal_cpool *p = calloc(1, sizeof(*p));
    if (!p)
        return ANNAL_ENOMEM;
    p->level = level;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    p->own = cctx_new(level);
    p->threads = calloc((size_t)nthreads + 1, sizeof(*p->threads));
    if (!p->own || !p->threads) {
        annal_cpool_free(p);
        return ANNAL_ENOMEM;
    }
    p->nthreads = nthreads;
    for (int i = 0; i < nthreads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0)
            break;
        p->started++;
    }
    *out = p;
    return ANNAL_OK;
}

int annal_cpool_run(annal_cpool *p, annal_cjob *jobs, size_t n)
{
    pthread_mutex_lock(&p->mu);
    p->jobs = jobs;
    p->n = n;
    p->next = 0;
    p->left = n;
    p->failed = 0;
    if (n > 1 && p->started) {
        p->gen++;
        pthread_cond_broadcast(&p->go);
    }
    work(p, p->own);
    while (p->left)
        pthread_cond_wait(&p->done, &p->mu);
    int rc = p->failed ? ANNAL_ENOMEM : ANNAL_OK;
    p->jobs = NULL;
    p->n = 0;
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void annal_cpool_free(annal_cpool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->started; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    ZSTD_freeCCtx(p->own);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    free(p);
}
