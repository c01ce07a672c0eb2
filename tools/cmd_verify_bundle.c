/*
 * annal verify-bundle: the offline check of an evidence bundle
 * (store/FORMAT.md, "Evidence bundles") with the log's verifier key and
 * nothing else: the checkpoint's signature, and for every event its record,
 * its tenant, the selection and its inclusion proof in the checkpoint's tree.
 */
#include "cli.h"
#include "cmd.h"

#include "store/checkpoint.h"
#include "store/error.h"
#include "store/event.h"
#include "store/hash.h"
#include "store/merkle.h"
#include "store/note.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUNDLE_FORMAT "annal-evidence-bundle/1"
#define MAX_REPORTED 20 /* failing events listed one by one */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: annal verify-bundle FILE --key VKEY\n\n"
            "Check an evidence bundle written by annal export (FILE, or - for standard input)\n"
            "offline, with the log's verifier key alone: the checkpoint's C2SP signature by\n"
            "VKEY, and for every event that its record is a valid annal record with the\n"
            "entry's seq, within the checkpoint's tree, of the bundle's tenant and in its\n"
            "selection, and that its leaf hash SHA-256(0x00 || record) with the entry's\n"
            "RFC 9162 inclusion proof gives the checkpoint's root. Format:\n"
            "store/FORMAT.md, \"Evidence bundles\".\n\n"
            "options:\n"
            "  --key VKEY   the verifier key string (NAME+KEYID+KEY, as annal keygen prints\n"
            "               it) or a file holding it (required)\n\n"
            "output: on success `ok` with the events verified, the tenant, the checkpoint's\n"
            "origin, tree size and root; on failure `FAILED` lines saying which event (its\n"
            "position in the bundle and seq) and why.\n"
            "exit status: 0 every event verified, 1 the bundle does not verify, 2 usage\n"
            "error or FILE unreadable\n");
}

/* 1 when s[0..n) is an id: 1..128 bytes of [A-Za-z0-9._:@/-]. */
static int id_valid(const char *s, size_t n)
{
    if (n < 1 || n > ANNAL_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("._:@/-", c)))
            return 0;
    }
    return 1;
}

/* 32 bytes from exactly 64 lower-case hex digits: 0 or -1. */
static int hex32(const char *s, size_t n, unsigned char out[32])
{
    if (n != 64)
        return -1;
    for (size_t i = 0; i < 32; i++) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            char c = s[2 * i + (size_t)k];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (d < 0)
                return -1;
            v = v * 16 + d;
        }
        out[i] = (unsigned char)v;
    }
    return 0;
}

/* Does the object have exactly the members names[0..n)? */
static int members_exactly(json_t *obj, const char *const *names, size_t n)
{
    if (json_object_size(obj) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!json_object_get(obj, names[i]))
            return 0;
    return 1;
}

static int slice_eq(annal_slice s, const char *v, size_t n)
{
    return s.p && s.n == n && !memcmp(s.p, v, n);
}

enum sel { SEL_TIME, SEL_RUN, SEL_INCIDENT, SEL_CORRELATION };

typedef struct selection {
    enum sel kind;
    int has_from, has_to;
    int64_t from_ns, to_ns;
    const char *id;
    size_t id_len;
} selection;

/* Parse the selection object: NULL, or why it is invalid. */
static const char *parse_selection(json_t *s, selection *sel)
{
    memset(sel, 0, sizeof(*sel));
    if (!json_is_object(s) || json_object_size(s) == 0)
        return "\"selection\" must be a non-empty object";
    static const char *const ids[] = {"run_id", "incident_id", "correlation_id"};
    for (int k = 0; k < 3; k++) {
        json_t *v = json_object_get(s, ids[k]);
        if (!v)
            continue;
        if (json_object_size(s) != 1)
            return "\"selection\" holds a link id and other members";
        if (!json_is_string(v) || !id_valid(json_string_value(v), json_string_length(v)))
            return "the selection's id is not an id (1..128 bytes of [A-Za-z0-9._:@/-])";
        sel->kind = k == 0 ? SEL_RUN : k == 1 ? SEL_INCIDENT : SEL_CORRELATION;
        sel->id = json_string_value(v);
        sel->id_len = json_string_length(v);
        return NULL;
    }
    sel->kind = SEL_TIME;
    json_t *from = json_object_get(s, "from"), *to = json_object_get(s, "to");
    if (json_object_size(s) != (size_t)(!!from + !!to))
        return "\"selection\" has an unknown member (it holds \"from\" and/or \"to\", or one of \"run_id\", "
               "\"incident_id\", \"correlation_id\")";
    if (from && (!json_is_string(from) ||
                 annal_time_parse(json_string_value(from), json_string_length(from), &sel->from_ns)))
        return "the selection's \"from\" is not an RFC 3339 time";
    if (to && (!json_is_string(to) || annal_time_parse(json_string_value(to), json_string_length(to), &sel->to_ns)))
        return "the selection's \"to\" is not an RFC 3339 time";
    sel->has_from = !!from;
    sel->has_to = !!to;
    return NULL;
}

/* Is the event in the selection? NULL, or why not (into buf). */
static const char *in_selection(const selection *sel, const annal_event *ev, char *buf, size_t cap)
{
    const annal_slice *s = sel->kind == SEL_RUN ? &ev->run_id
                           : sel->kind == SEL_INCIDENT ? &ev->incident_id
                           : sel->kind == SEL_CORRELATION ? &ev->correlation_id : NULL;
    if (s) {
        const char *name = sel->kind == SEL_RUN ? "run_id" : sel->kind == SEL_INCIDENT ? "incident_id"
                                                                                         : "correlation_id";
        if (slice_eq(*s, sel->id, sel->id_len))
            return NULL;
        snprintf(buf, cap, "it is not in the selection: its %s is %s%.*s%s, the selection's %.*s", name,
                 s->p ? "\"" : "", s->p ? (int)s->n : 6, s->p ? s->p : "absent", s->p ? "\"" : "",
                 (int)sel->id_len, sel->id);
        return buf;
    }
    int64_t t = ev->has_occurred_at ? ev->occurred_at_ns : ev->recorded_at_ns;
    if ((sel->has_from && t < sel->from_ns) || (sel->has_to && t >= sel->to_ns)) {
        snprintf(buf, cap, "it is not in the selection: its %s is outside [from, to)",
                 ev->has_occurred_at ? "occurred_at" : "recorded_at");
        return buf;
    }
    return NULL;
}

typedef struct ctx {
    const annal_checkpoint *cp;
    const char *tenant;
    size_t tenant_len;
    const selection *sel;
    unsigned char (*proof)[32];
    uint64_t prev_seq;
} ctx;

/* Check entry i: NULL when it verifies, else why (into buf). *seq gets the
 * entry's seq (0 when it has none). */
static const char *check_event(ctx *c, json_t *e, uint64_t *seq, char *buf, size_t cap)
{
    static const char *const names[] = {"seq", "record", "proof"};
    *seq = 0;
    if (!json_is_object(e) || !members_exactly(e, names, 3))
        return "not an object of exactly \"seq\", \"record\" and \"proof\"";
    json_t *js = json_object_get(e, "seq"), *jr = json_object_get(e, "record"), *jp = json_object_get(e, "proof");
    if (!json_is_integer(js) || json_integer_value(js) < 1)
        return "\"seq\" is not an integer >= 1";
    *seq = (uint64_t)json_integer_value(js);
    if (*seq <= c->prev_seq) {
        snprintf(buf, cap, "its seq is not after the previous event's (%llu): events are in ascending seq order, "
                           "each once", (unsigned long long)c->prev_seq);
        return buf;
    }
    c->prev_seq = *seq;
    if (*seq > c->cp->size) {
        snprintf(buf, cap, "seq %llu is beyond the checkpoint's tree of %llu events", (unsigned long long)*seq,
                 (unsigned long long)c->cp->size);
        return buf;
    }
    if (!json_is_string(jr))
        return "\"record\" is not a string";
    const char *rec = json_string_value(jr);
    size_t len = json_string_length(jr);
    annal_event ev;
    annal_event_error err;
    if (annal_record_parse(rec, len, &ev, &err)) {
        snprintf(buf, cap, "the record is not a valid annal record: %s%s%s", err.field, err.field[0] ? ": " : "",
                 err.reason);
        return buf;
    }
    if (ev.seq != *seq) {
        snprintf(buf, cap, "the record's seq is %llu, not the entry's", (unsigned long long)ev.seq);
        return buf;
    }
    if (!slice_eq(ev.tenant_id, c->tenant, c->tenant_len)) {
        snprintf(buf, cap, "the record is of another tenant (%.*s), not of the bundle's tenant %.*s",
                 (int)ev.tenant_id.n, ev.tenant_id.p, (int)c->tenant_len, c->tenant);
        return buf;
    }
    const char *why = in_selection(c->sel, &ev, buf, cap);
    if (why)
        return why;
    if (!json_is_array(jp) || json_array_size(jp) > ANNAL_MERKLE_MAX_PROOF)
        return "\"proof\" is not an array of at most 128 hashes";
    size_t n = json_array_size(jp);
    for (size_t k = 0; k < n; k++) {
        json_t *h = json_array_get(jp, k);
        if (!json_is_string(h) || hex32(json_string_value(h), json_string_length(h), c->proof[k])) {
            snprintf(buf, cap, "proof hash %zu is not 64 lower-case hex digits", k);
            return buf;
        }
    }
    unsigned char leaf[32];
    annal_leaf_hash(rec, len, leaf);
    if (annal_merkle_verify_inclusion(*seq - 1, c->cp->size, leaf, (const unsigned char(*)[32])c->proof, n,
                                      c->cp->root) != ANNAL_OK)
        return "the inclusion proof does not lead from the record's leaf hash to the checkpoint's root (the "
               "record or the proof was altered, or they are of another log)";
    return NULL;
}

int cmd_verify_bundle(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key", required_argument, 0, 'k'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *key = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'k': key = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!key || optind + 1 != argc) {
        fprintf(stderr, "annal verify-bundle: %s (see annal verify-bundle --help)\n",
                !key ? "--key VKEY is required" : optind == argc ? "say which bundle FILE to check"
                                                                 : "one bundle FILE at a time");
        return 2;
    }
    const char *path = argv[optind];
    annal_note_verifier vk;
    if (cmd_load_vkey("verify-bundle", key, &vk))
        return 2;
    char *buf;
    size_t len;
    if (cli_read_input("verify-bundle", path, &buf, &len))
        return 2;

    int status = 1;
    char why[640];
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    unsigned char(*proof)[32] = NULL;
    if (!root) {
        printf("FAILED: %s is not a JSON document: line %d, column %d: %s\n", path, jerr.line, jerr.column,
               jerr.text);
        goto out;
    }
    static const char *const top[] = {"format", "tenant_id", "selection", "key_name", "checkpoint", "events"};
    if (!json_is_object(root) || !members_exactly(root, top, 6)) {
        printf("FAILED: %s is not an evidence bundle: it must be an object of exactly \"format\", \"tenant_id\", "
               "\"selection\", \"key_name\", \"checkpoint\" and \"events\"\n", path);
        goto out;
    }
    json_t *jf = json_object_get(root, "format"), *jt = json_object_get(root, "tenant_id"),
           *jk = json_object_get(root, "key_name"), *jc = json_object_get(root, "checkpoint"),
           *je = json_object_get(root, "events");
    if (!json_is_string(jf) || strcmp(json_string_value(jf), BUNDLE_FORMAT) != 0 ||
        json_string_length(jf) != strlen(BUNDLE_FORMAT)) {
        printf("FAILED: %s: \"format\" is not \"" BUNDLE_FORMAT "\" (another format or version)\n", path);
        goto out;
    }
    if (!json_is_string(jt) || !id_valid(json_string_value(jt), json_string_length(jt))) {
        printf("FAILED: %s: \"tenant_id\" is not a tenant id (1..128 bytes of [A-Za-z0-9._:@/-])\n", path);
        goto out;
    }
    const char *tenant = json_string_value(jt);
    selection sel;
    const char *bad = parse_selection(json_object_get(root, "selection"), &sel);
    if (bad) {
        printf("FAILED: %s: %s\n", path, bad);
        goto out;
    }
    if (!json_is_string(jk) || !json_is_string(jc) || !json_is_array(je)) {
        printf("FAILED: %s: \"key_name\" and \"checkpoint\" must be strings, \"events\" an array\n", path);
        goto out;
    }
    if (json_string_length(jk) != strlen(vk.name) || strcmp(json_string_value(jk), vk.name) != 0) {
        int printable = annal_note_name_valid(json_string_value(jk), json_string_length(jk));
        printf("FAILED: checkpoint: the bundle says its checkpoint is signed by the key named %s, but --key is "
               "the key named %s\n", printable ? json_string_value(jk) : "(an invalid key name)", vk.name);
        goto out;
    }
    annal_checkpoint cp;
    int rc = annal_checkpoint_open(json_string_value(jc), json_string_length(jc), &vk, 1, &cp, why, sizeof(why));
    if (rc == ANNAL_ENOMEM) {
        fprintf(stderr, "annal verify-bundle: out of memory\n");
        status = 2;
        goto out;
    }
    if (rc) {
        printf("FAILED: checkpoint: not a checkpoint signed by the key %s+%08x: %s\n", vk.name, (unsigned)vk.id,
               why);
        goto out;
    }
    size_t n = json_array_size(je);
    if (n == 0) {
        printf("FAILED: %s: the bundle holds no events\n", path);
        goto out;
    }
    if (!(proof = malloc(ANNAL_MERKLE_MAX_PROOF * sizeof(*proof)))) {
        fprintf(stderr, "annal verify-bundle: out of memory\n");
        status = 2;
        goto out;
    }
    ctx cx = {.cp = &cp, .tenant = tenant, .tenant_len = json_string_length(jt), .sel = &sel, .proof = proof};
    size_t failed = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t seq;
        const char *w = check_event(&cx, json_array_get(je, i), &seq, why, sizeof(why));
        if (!w)
            continue;
        if (failed++ < MAX_REPORTED) {
            if (seq)
                printf("FAILED: event %zu (seq %llu): %s\n", i + 1, (unsigned long long)seq, w);
            else
                printf("FAILED: event %zu: %s\n", i + 1, w);
        }
    }
    char hex[65];
    annal_hex32(cp.root, hex);
    if (failed) {
        if (failed > MAX_REPORTED)
            printf("FAILED: ... and %zu more events\n", failed - MAX_REPORTED);
        printf("FAILED: %zu of %zu events of tenant %s do not verify against the checkpoint of %s at tree size "
               "%llu\n", failed, n, tenant, cp.origin, (unsigned long long)cp.size);
        goto out;
    }
    printf("ok: %zu event%s of tenant %s verified\ncheckpoint: origin %s, tree size %llu, root %s, signed by "
           "%s+%08x\n", n, n == 1 ? "" : "s", tenant, cp.origin, (unsigned long long)cp.size, hex, vk.name, (unsigned)vk.id);
    status = 0;
out:
    free(proof);
    json_decref(root);
    free(buf);
    return status;
}
