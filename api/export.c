/*
 * export.c - GET /api/v1/export (api/API.md "Integrity"): the evidence
 * bundle (store/FORMAT.md section 8) of the token's tenant's events of one
 * selection, proven against the latest signed checkpoint, as `annal export`
 * writes it (index/bundle.h). The bundle is written into memory and becomes
 * the response body; selections of more than API_EXPORT_MAX events are
 * refused (annal export on the host has no limit).
 */
#include "api/internal.h"

#include "index/bundle.h"
#include "store/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API_EXPORT_MAX 100000

annal_index *api_reads_ix(api_req *r, api_resp *o);
int api_arg_time(api_req *r, api_resp *o, const char *name, int64_t *ns);

/* An id parameter: 1..128 bytes of [A-Za-z0-9._:@/-]. 0, or -1 with the problem set. */
static int check_id(api_resp *o, const char *name, const char *s)
{
    size_t n = strlen(s);
    int ok = n >= 1 && n <= ANNAL_ID_MAX;
    for (size_t k = 0; ok && k < n; k++)
        ok = (s[k] >= 'A' && s[k] <= 'Z') || (s[k] >= 'a' && s[k] <= 'z') || (s[k] >= '0' && s[k] <= '9') ||
             strchr("._:@/-", s[k]) != NULL;
    if (!ok) {
        api_problem(o, 400, "%s must be 1..128 bytes of [A-Za-z0-9._:@/-], not '%.64s'", name, s);
        return -1;
    }
    return 0;
}

#define ADVICE                                                                                                \
    "the server signs checkpoints when it is started with --key (annal keygen makes one), one within its "    \
    "checkpoint interval after appends; retry after the next one"

/* GET /api/v1/export?run_id= | incident_id= | correlation_id= | from=&to= */
void api_get_export(api_req *r, api_resp *o)
{
    static const struct {
        const char *name;
        int kind;
    } ids[] = {{"run_id", ANNAL_BUNDLE_RUN},
               {"incident_id", ANNAL_BUNDLE_INCIDENT},
               {"correlation_id", ANNAL_BUNDLE_CORRELATION}};
    annal_bundle_selection sel = {0};
    int nkinds = 0;
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        const char *v = api_arg_get(r, ids[i].name);
        if (v) {
            nkinds++;
            sel.kind = ids[i].kind;
            sel.id = v;
        }
    }
    sel.has_from = api_arg_get(r, "from") != NULL;
    sel.has_to = api_arg_get(r, "to") != NULL;
    if (sel.has_from || sel.has_to) {
        nkinds++;
        sel.kind = ANNAL_BUNDLE_TIME;
    }
    if (nkinds != 1) {
        api_problem(o, 400, "%s: run_id, incident_id, correlation_id, or a time range from and/or to",
                    nkinds ? "give exactly one selection" : "say which events to export");
        return;
    }
    if (sel.kind == ANNAL_BUNDLE_TIME) {
        if (api_arg_time(r, o, "from", &sel.from_ns) || api_arg_time(r, o, "to", &sel.to_ns))
            return;
        if (sel.has_from && sel.has_to && sel.from_ns > sel.to_ns) {
            api_problem(o, 400, "from (%s) is after to (%s): give from <= to", api_arg_get(r, "from"),
                        api_arg_get(r, "to"));
            return;
        }
    } else {
        for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
            if (ids[i].kind == sel.kind && check_id(o, ids[i].name, sel.id))
                return;
    }
    annal_index *ix = api_reads_ix(r, o);
    if (!ix)
        return;

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        api_problem(o, 500, "out of memory");
        return;
    }
    char err[512];
    annal_bundle_info info;
    int rc = annal_bundle_write(f, ix, annal_db_dir(r->srv->db), r->tenant, &sel, NULL, 0, API_EXPORT_MAX, &info,
                                err, sizeof(err));
    int cerr = fclose(f);
    if (rc == ANNAL_OK && cerr != 0)
        rc = ANNAL_ENOMEM;
    if (rc != ANNAL_OK) {
        free(buf);
        switch (rc) {
        case ANNAL_BUNDLE_ENOEVENTS:
            api_problem(o, 404, "this tenant has no events in this selection");
            break;
        case ANNAL_BUNDLE_ETOOMANY:
            api_problem(o, 400, "the selection holds more than %d events, the most one export answers: narrow it "
                                "(a shorter from/to range), or export on the host with annal export",
                        API_EXPORT_MAX);
            break;
        case ANNAL_BUNDLE_ENOCHECKPOINT:
            api_problem(o, 409, "no checkpoint has been issued yet: " ADVICE);
            break;
        case ANNAL_BUNDLE_EUNCOVERED:
            api_problem(o, 409, "the latest checkpoint (tree size %llu) does not cover the selection, which reaches "
                                "seq %llu: " ADVICE,
                        (unsigned long long)info.tree_size, (unsigned long long)info.last_seq);
            break;
        case ANNAL_BUNDLE_EFOREIGN:
        case ANNAL_BUNDLE_EBADNOTE:
            api_problem(o, 500, "the latest checkpoint cannot be used: %s; an operator must run annal verify "
                                "--against it",
                        err);
            break;
        case ANNAL_EINVAL:
            api_problem(o, 400, "%s", err);
            break;
        case ANNAL_ENOMEM:
            api_problem(o, 500, "out of memory");
            break;
        case ANNAL_ECORRUPT:
            api_problem(o, 500, "%s; an operator must run annal verify (a damaged log) or annal reindex", err);
            break;
        default:
            api_problem_code(o, rc, "export");
        }
        return;
    }
    /* The bundle becomes the body: a memstream buffer is malloc'd and
     * NUL-terminated, as annal_jbuf wants its p. */
    annal_jbuf_free(&o->body);
    o->body.p = buf;
    o->body.n = len;
    o->body.cap = len + 1;
    api_json(o, 200);
}
