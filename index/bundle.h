/*
 * bundle.h - evidence bundles (store/FORMAT.md section 8): one tenant's
 * selected events, exactly as stored, each with its RFC 9162 inclusion
 * proof in the tree of one signed checkpoint, and that checkpoint. `annal
 * export` (tools/cmd_export.c) and GET /api/v1/export (api/export.c) write
 * them with these functions; `annal verify-bundle` checks them.
 *
 * NAME
 *   annal_bundle_prepare, annal_bundle_emit, annal_bundle_free,
 *   annal_bundle_write, annal_bundle_strerror, annal_bundle_json_string
 *
 * SYNOPSIS
 *   annal_bundle *b;
 *   annal_bundle_info info;
 *   int rc = annal_bundle_prepare(ix, dir, "acme", &sel, NULL, 0, NULL, 0, &b, &info, err, sizeof(err));
 *   if (rc == ANNAL_OK) { rc = annal_bundle_emit(b, f, err, sizeof(err)); annal_bundle_free(b); }
 *
 *   or, in one call: annal_bundle_write(f, ix, dir, "acme", &sel, NULL, 0, 0, &info, err, sizeof(err));
 *
 * DESCRIPTION
 *   annal_bundle_prepare() does every check that can fail before a byte is
 *   written: it lists the tenant's events of the selection from the index
 *   (tenant-scoped reads: ascending, distinct seqs), takes the checkpoint
 *   (checkpoint_note, or the latest one saved in dir/checkpoints/), and
 *   checks that the checkpoint's tree covers the largest seq selected and
 *   that its root is the root of the index's tree of that size (so it is a
 *   checkpoint of this log). The signature is not checked: the checkpoint
 *   is the log's own, and the auditor checks it with the verifier key.
 *   annal_bundle_emit() then writes the bundle to a stdio stream: each
 *   record read from the log (tenant-scoped: a record of another tenant is
 *   never read), its leaf hash, its inclusion proof, and every proof
 *   verified against the checkpoint's root before it is written. It writes
 *   the members in the order of FORMAT.md's tables, one event entry per
 *   line, ending in "\n]}\n".
 *
 *   The caller catches the index up first (annal_index_catch_up, or
 *   annal_db_settle in a server): the selection and the tree are what the
 *   index has applied. The index may go on growing during the calls (a
 *   server): the checks hold for every later state of a log that only
 *   grows.
 *
 * ARGUMENTS
 *   ix               an open index of the log in dir (not owned)
 *   dir              the data directory: its checkpoints/ is read when
 *                    checkpoint_note is NULL (not owned)
 *   tenant           the tenant: an id (1..128 bytes of [A-Za-z0-9._:@/-])
 *   sel              the selection (below); only read during the call
 *   checkpoint_note, note_len
 *                    a signed checkpoint (C2SP note) to prove against,
 *                    note_len bytes, or NULL: the latest saved one. Copied:
 *                    the caller keeps ownership.
 *   checkpoint_name  what the messages call checkpoint_note (e.g. its file
 *                    name); NULL: "the checkpoint given". Unused when
 *                    checkpoint_note is NULL.
 *   max_events       refuse a selection of more events than this
 *                    (ANNAL_BUNDLE_ETOOMANY); 0: no limit
 *   out (prepare)    on ANNAL_OK, the prepared bundle, owned by the caller
 *                    (annal_bundle_free); NULL on an error
 *   info             may be NULL; filled as far as known, on success and on
 *                    every error (zeros for what was not reached)
 *   f (emit, write)  where the bundle goes: written and fflush'ed, not
 *                    closed or fsync'ed
 *   err, errlen      may be NULL/0; on an error, one sentence without
 *                    advice about a front end ("issue a newer checkpoint
 *                    with ..."), which the caller adds
 *
 *   A prepared bundle holds its own copy of the seqs and the note; it
 *   refers to ix, which must stay open until annal_bundle_emit returns.
 *
 * RETURN VALUE
 *   ANNAL_OK, or one of
 *   ANNAL_EINVAL                  a NULL argument, an unknown selection
 *                                 kind, a tenant or id that is not an id,
 *                                 a time selection with to <= 0 or from > to
 *   ANNAL_BUNDLE_ENOEVENTS        (prepare, write) the tenant has no event
 *                                 in the selection; nothing written
 *   ANNAL_BUNDLE_ETOOMANY         (prepare, write) more than max_events
 *                                 events; info->events is a lower bound
 *   ANNAL_BUNDLE_ENOCHECKPOINT    (prepare, write) checkpoint_note is NULL
 *                                 and no checkpoint is saved in dir
 *   ANNAL_BUNDLE_EBADNOTE         (prepare, write) the checkpoint is not a
 *                                 well-formed signed note with a checkpoint
 *                                 body (or a saved one cannot be read: the
 *                                 errors of annal_checkpoint_latest other
 *                                 than ANNAL_ENOTFOUND are returned as
 *                                 they are, see below)
 *   ANNAL_BUNDLE_EUNCOVERED       (prepare, write) the checkpoint's tree
 *                                 size is below the largest seq selected:
 *                                 a newer checkpoint must be issued
 *   ANNAL_BUNDLE_EFOREIGN         (prepare, write) the checkpoint is not one
 *                                 of this log: its tree is larger than the
 *                                 index's applied seq, or its root is not
 *                                 the root of the log's first size leaves
 *                                 (another log, or this log was rewritten)
 *   ANNAL_ECORRUPT, ANNAL_EIO, ANNAL_ENOMEM
 *                                 (prepare) reading the saved checkpoint
 *                                 failed (annal_checkpoint_latest), or
 *                                 (emit) a record of the log is damaged;
 *                                 ANNAL_ECORRUPT from emit also when a
 *                                 proof does not verify (the index's tree
 *                                 does not match the log: annal reindex)
 *   ANNAL_EIO                     (emit) also: f has its error indicator
 *                                 set after the last write and fflush
 *                                 (errno as the failed write left it)
 *   ANNAL_EINDEX, ANNAL_EVERSION, ANNAL_EIO, ANNAL_ENOMEM
 *                                 reading the index failed
 *   ANNAL_ENOTFOUND               (emit) a selected record is no longer
 *                                 readable as the tenant's (cannot happen
 *                                 with a log that only grows)
 *   After an error in emit, f holds part of a bundle: the caller discards
 *   it (the CLI writes FILE.tmp and renames it only on success).
 *
 * THREADS
 *   The functions may run in any number of threads at once, on one index,
 *   each with its own bundle and stream.
 */
#ifndef ANNAL_INDEX_BUNDLE_H
#define ANNAL_INDEX_BUNDLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "index/index.h"
#include "store/checkpoint.h"

#define ANNAL_BUNDLE_FORMAT "annal-evidence-bundle/1"

/* The errors of this module (store/error.h's space, beyond its codes). */
enum {
    ANNAL_BUNDLE_ENOEVENTS = -30201,
    ANNAL_BUNDLE_ETOOMANY = -30202,
    ANNAL_BUNDLE_ENOCHECKPOINT = -30203,
    ANNAL_BUNDLE_EBADNOTE = -30204,
    ANNAL_BUNDLE_EUNCOVERED = -30205,
    ANNAL_BUNDLE_EFOREIGN = -30206,
};

/* The kinds of selection (FORMAT.md section 8, "selection"). */
enum annal_bundle_kind {
    ANNAL_BUNDLE_TIME = 1,     /* from <= t < to, t: occurred_at, else recorded_at */
    ANNAL_BUNDLE_RUN,          /* run_id == id */
    ANNAL_BUNDLE_INCIDENT,     /* incident_id == id */
    ANNAL_BUNDLE_CORRELATION,  /* correlation_id == id */
};

typedef struct annal_bundle_selection {
    int kind;                  /* enum annal_bundle_kind */
    int has_from, has_to;      /* TIME: which bounds are given (none: every event) */
    int64_t from_ns, to_ns;    /* TIME: ns since the epoch; to_ns > 0 when has_to */
    const char *id;            /* RUN, INCIDENT, CORRELATION: the id */
} annal_bundle_selection;

typedef struct annal_bundle_info {
    size_t events;             /* events selected (a lower bound with ETOOMANY) */
    uint64_t last_seq;         /* the largest seq selected */
    uint64_t applied;          /* the index's applied seq when checked */
    uint64_t tree_size;        /* the checkpoint's tree size (0: not read) */
    int latest;                /* 1: the checkpoint is the latest saved one */
    char origin[ANNAL_CHECKPOINT_ORIGIN_MAX + 1]; /* the checkpoint's origin ("": not read) */
} annal_bundle_info;

typedef struct annal_bundle annal_bundle;

int annal_bundle_prepare(annal_index *ix, const char *dir, const char *tenant, const annal_bundle_selection *sel,
                         const char *checkpoint_note, size_t note_len, const char *checkpoint_name,
                         size_t max_events, annal_bundle **out, annal_bundle_info *info, char *err,
                         size_t errlen);

int annal_bundle_emit(annal_bundle *b, FILE *f, char *err, size_t errlen);

/* Free a prepared bundle; NULL is a no-op. */
void annal_bundle_free(annal_bundle *b);

/* annal_bundle_prepare (checkpoint_name NULL), then annal_bundle_emit to f.
 * The errors of both; nothing is written to f when prepare fails. */
int annal_bundle_write(FILE *f, annal_index *ix, const char *dir, const char *tenant,
                       const annal_bundle_selection *sel, const char *checkpoint_note, size_t note_len,
                       size_t max_events, annal_bundle_info *info, char *err, size_t errlen);

/* A static name for any code returned here (and every code of
 * annal_index_strerror); never NULL. */
const char *annal_bundle_strerror(int code);

/* Write s[0..n) to f as a JSON string (quotes included): '"', '\\' and the
 * control characters escaped (\n \r \t, else \u00XX), every other byte as
 * it is. What bundles use for records and the checkpoint. */
void annal_bundle_json_string(FILE *f, const char *s, size_t n);

#endif
