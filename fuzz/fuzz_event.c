/*
 * fuzz_event.c - libFuzzer target for the JSON scanner (store/json.h), the
 * event validator and the record parser (store/event.h). abort() on any
 * disagreement.
 *
 * 1. Differential against jansson 2.14: annal_json_compact (the generic
 *    scanner, no event rules) and json_loadb(JSON_REJECT_DUPLICATES |
 *    JSON_DECODE_ANY, NUL not allowed) must agree on accept/reject. Three
 *    documented, narrow exceptions:
 *      - depth: we reject nesting deeper than 32, jansson allows 2048. Allowed
 *        only when our reason is the depth one;
 *      - real overflow: jansson rejects a number with a fraction/exponent
 *        whose value overflows a double ("real number overflow", e.g. 1e400);
 *        we check only the grammar of such numbers. Allowed only when
 *        jansson's error is exactly that;
 *      - a raw NUL byte right after a number or a literal (true/false/null):
 *        jansson's lexer loses it and accepts "8\0" (a jansson bug; such a
 *        byte is invalid JSON). Allowed only when our error is at that NUL.
 *    When both accept, jansson's value of our compact output must equal
 *    (json_equal) its value of the input.
 * 2. The scanner with a tiny hash-set arena (ANNAL_JSON_TINY_ARENA, so that
 *    objects of more than ~50 members take the walking fallback) decides
 *    and writes exactly the same. The compact output is a fixed point
 *    (compacting it again changes nothing) and passes the check-only mode;
 *    the input passes check-only mode exactly when it was already compact.
 * 3. annal_event_parse: if it accepts, the generic scanner accepts with the
 *    same output, jansson sees an object, the event's slices lie inside the
 *    output, and its record round-trips through annal_record_build and
 *    annal_record_parse with the same fields.
 * 4. annal_record_parse on the raw input: if it accepts, rebuilding the record
 *    from the parsed event gives back exactly the input.
 * 5. annal_record_parse on a record whose body is the input must accept
 *    exactly when annal_event_parse accepts "{" input "}" without removing
 *    any byte (the record form is the compact form).
 */
#include "store/error.h"
#include "store/event.h"
#include "store/json.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUT (1u << 20)
#define PREFIX "{\"seq\":42,\"recorded_at\":\"2025-01-05T12:00:00.123456789Z\","
#define PREFIX_LEN (sizeof PREFIX - 1)

#define REQUIRE(cond)                                                                        \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "fuzz_event: %s:%d: check failed: %s\n", __FILE__, __LINE__,     \
                    #cond);                                                                  \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

static int slice_in(annal_slice s, const char *base, size_t len)
{
    if (!s.p)
        return s.n == 0;
    return s.p >= base && s.p + s.n <= base + len;
}

static int slice_eq(annal_slice a, annal_slice b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0) && (!a.p) == (!b.p);
}

static void same_fields(const annal_event *a, const annal_event *b)
{
    REQUIRE(slice_eq(a->tenant_id, b->tenant_id) && slice_eq(a->event_type, b->event_type));
    REQUIRE(slice_eq(a->event_id, b->event_id) && slice_eq(a->actor_type, b->actor_type));
    REQUIRE(slice_eq(a->actor_id, b->actor_id) && slice_eq(a->entity_type, b->entity_type));
    REQUIRE(slice_eq(a->entity_id, b->entity_id) && slice_eq(a->run_id, b->run_id));
    REQUIRE(slice_eq(a->incident_id, b->incident_id) && slice_eq(a->api_key_id, b->api_key_id));
    REQUIRE(slice_eq(a->correlation_id, b->correlation_id));
    REQUIRE(a->has_occurred_at == b->has_occurred_at && a->occurred_at_ns == b->occurred_at_ns);
    REQUIRE(a->type == b->type && a->domain == b->domain && a->is_ledger == b->is_ledger);
    REQUIRE(a->body_len == b->body_len && memcmp(a->body, b->body, a->body_len) == 0);
}

/* Is jansson's error the "real number overflow" one (1e400)? */
static int is_real_overflow(const json_error_t *jerr)
{
    return json_error_code(jerr) == json_error_numeric_overflow &&
           strncmp(jerr->text, "real number overflow", 20) == 0;
}

/* 1 and 2: the generic scanner against jansson. Returns our verdict. */
static int check_generic(const char *in, size_t size, char *out, size_t *olen)
{
    annal_json_error je;
    int rc = annal_json_compact(in, size, out, size, olen, 0, &je);
    REQUIRE(rc == ANNAL_OK || rc == ANNAL_EEVENT);
    REQUIRE(rc == ANNAL_OK || je.reason[0]);
    json_error_t jerr;
    json_t *jv = json_loadb(in, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    int ours = rc == ANNAL_OK, theirs = jv != NULL;
    if (ours && !theirs) {
        /* exception: a real that overflows a double */
        if (!is_real_overflow(&jerr)) {
            fprintf(stderr, "fuzz_event: we accept, jansson rejects: %s (line %d col %d)\n",
                    jerr.text, jerr.line, jerr.column);
            abort();
        }
    }
    if (!ours && theirs) {
        /* exceptions: our depth limit; a NUL byte right after a number or a
         * literal, which jansson's lexer drops (it uses NUL as its "no byte
         * buffered" mark, so an un-read NUL vanishes): "8\0" and "[true\0]"
         * load in jansson. We reject every NUL outside strings. */
        int nul_after_token = je.offset > 0 && je.offset < size && in[je.offset] == 0 &&
                              ((in[je.offset - 1] >= '0' && in[je.offset - 1] <= '9') ||
                               in[je.offset - 1] == 'e' || in[je.offset - 1] == 'l');
        if (!strstr(je.reason, "nesting too deep") && !nul_after_token) {
            fprintf(stderr, "fuzz_event: we reject (%s at %zu: %s), jansson accepts\n", je.path,
                    je.offset, je.reason);
            abort();
        }
    }
    /* the huge-object fallback (a tiny hash-set arena) decides the same */
    char *tiny = malloc(size + 1);
    size_t tlen = 0;
    int trc = annal_json_compact(in, size, tiny, size, &tlen, ANNAL_JSON_TINY_ARENA, &je);
    REQUIRE(trc == rc && (rc != ANNAL_OK || (tlen == *olen && memcmp(tiny, out, tlen) == 0)));
    free(tiny);
    if (ours) {
        REQUIRE(*olen <= size);
        /* the compact form is a fixed point and is compact */
        char *again = malloc(*olen + 1);
        size_t alen = 0;
        REQUIRE(annal_json_compact(out, *olen, again, *olen, &alen, 0, &je) == ANNAL_OK);
        REQUIRE(alen == *olen && memcmp(again, out, alen) == 0);
        free(again);
        REQUIRE(annal_json_compact(out, *olen, NULL, 0, NULL, 0, &je) == ANNAL_OK);
        int was_compact = annal_json_compact(in, size, NULL, 0, NULL, 0, &je) == ANNAL_OK;
        REQUIRE(was_compact == (*olen == size));
        if (theirs) {
            json_t *jc = json_loadb(out, *olen, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
            REQUIRE(jc != NULL);
            REQUIRE(json_equal(jv, jc));
            json_decref(jc);
        }
    }
    json_decref(jv);
    return ours;
}

/* 3: the event parser on the input. */
static void check_event(const char *in, size_t size, int generic_ok, const char *gout,
                        size_t golen)
{
    char *out = malloc(size + 1);
    annal_event ev;
    annal_event_error err;
    memset(&err, 0, sizeof err);
    int rc = annal_event_parse(in, size, 0, out, size, &ev, &err);
    REQUIRE(rc == ANNAL_OK || rc == ANNAL_EEVENT);
    if (rc != ANNAL_OK) {
        REQUIRE(err.reason[0] != 0);
        REQUIRE(memchr(err.field, 0, sizeof err.field) && memchr(err.reason, 0, sizeof err.reason));
        free(out);
        return;
    }
    size_t olen = ev.body_len + 2;
    REQUIRE(generic_ok && golen == olen && memcmp(gout, out, olen) == 0);
    REQUIRE(ev.body == out + 1 && out[0] == '{' && out[olen - 1] == '}');
    REQUIRE(ev.tenant_id.n >= 1 && ev.tenant_id.n <= ANNAL_ID_MAX && ev.event_type.n >= 1);
    REQUIRE(slice_in(ev.tenant_id, out, olen) && slice_in(ev.event_type, out, olen));
    REQUIRE(slice_in(ev.run_id, out, olen) && slice_in(ev.correlation_id, out, olen));
    REQUIRE(slice_in(ev.actor_id, out, olen) && slice_in(ev.entity_id, out, olen));
    REQUIRE(ev.type == ANNAL_EV_SERVICE || annal_event_type_name(ev.type) != NULL);
    REQUIRE(annal_domain_name(ev.domain) != NULL);
    REQUIRE(ev.type != ANNAL_EV_SERVICE || ev.correlation_id.n > 0);
    REQUIRE(!ev.is_ledger || (ev.actor_type.n > 0 && ev.actor_id.n > 0));
    json_error_t jerr;
    json_t *jv = json_loadb(out, olen, JSON_REJECT_DUPLICATES, &jerr);
    REQUIRE(jv ? json_is_object(jv) : is_real_overflow(&jerr));
    json_decref(jv);

    /* the record round trip */
    size_t cap = ev.body_len + ANNAL_RECORD_OVERHEAD;
    char *rec = malloc(cap);
    uint64_t seq = 1 + (size * 2654435761u) % 1000000007u;
    int64_t at = 1736078400123456789ll + (int64_t)size;
    size_t n = annal_record_build(&ev, seq, at, rec, cap);
    REQUIRE(n > 0 && n <= cap);
    annal_event rv;
    int rrc = annal_record_parse(rec, n, &rv, &err);
    if (rrc != ANNAL_OK) {
        fprintf(stderr, "fuzz_event: record of a valid event rejected: %s: %s\n", err.field,
                err.reason);
        abort();
    }
    REQUIRE(rv.seq == seq && rv.recorded_at_ns == at);
    same_fields(&ev, &rv);
    REQUIRE(annal_record_build(&ev, UINT64_MAX, at, rec, cap) == cap);
    free(rec);

    /* parsing the compact form again gives the same event */
    char *out2 = malloc(olen);
    annal_event e2;
    REQUIRE(annal_event_parse(out, olen, olen, out2, olen, &e2, &err) == ANNAL_OK);
    REQUIRE(memcmp(out, out2, olen) == 0);
    same_fields(&ev, &e2);
    free(out2);
    free(out);
}

/* 4: the record parser on the raw input. */
static void check_raw_record(const char *in, size_t size)
{
    annal_event rv;
    annal_event_error err;
    if (annal_record_parse(in, size, &rv, &err) != ANNAL_OK)
        return;
    REQUIRE(rv.seq >= 1 && rv.body >= in && rv.body + rv.body_len + 1 == in + size);
    char *rec = malloc(rv.body_len + ANNAL_RECORD_OVERHEAD);
    size_t n = annal_record_build(&rv, rv.seq, rv.recorded_at_ns, rec,
                                  rv.body_len + ANNAL_RECORD_OVERHEAD);
    REQUIRE(n == size && memcmp(rec, in, size) == 0);
    free(rec);
}

/* 5: the input as the body of a record. */
static void check_as_body(const char *in, size_t size)
{
    char *wrapped = malloc(size + 2), *out = malloc(size + 2);
    char *rec = malloc(PREFIX_LEN + size + 1);
    wrapped[0] = '{';
    memcpy(wrapped + 1, in, size);
    wrapped[size + 1] = '}';
    memcpy(rec, PREFIX, PREFIX_LEN);
    memcpy(rec + PREFIX_LEN, in, size);
    rec[PREFIX_LEN + size] = '}';
    annal_event ev, rv;
    annal_event_error err;
    int e = annal_event_parse(wrapped, size + 2, size + 2, out, size + 2, &ev, &err);
    int want = e == ANNAL_OK && ev.body_len == size;
    int got = annal_record_parse(rec, PREFIX_LEN + size + 1, &rv, &err) == ANNAL_OK;
    if (want != got) {
        fprintf(stderr, "fuzz_event: as a record body: event %d (body %zu of %zu), record %d (%s: %s)\n",
                e, e == ANNAL_OK ? ev.body_len : 0, size, got, err.field, err.reason);
        abort();
    }
    if (got) {
        REQUIRE(rv.seq == 42);
        same_fields(&ev, &rv);
    }
    free(wrapped);
    free(out);
    free(rec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    const char *in = (const char *)data;
    char *gout = malloc(size + 1);
    size_t golen = 0;
    int ok = check_generic(in, size, gout, &golen);
    check_event(in, size, ok, gout, golen);
    check_raw_record(in, size);
    check_as_body(in, size);
    free(gout);
    return 0;
}
