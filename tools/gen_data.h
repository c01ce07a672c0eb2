/*
 * gen_data.h - the vocabulary of `annal gen` (tools/gen.c): tenants, people,
 * models and prices, features, API key kinds, errors, incidents, policy
 * rules and the provider/consumer service flows. Pure constant tables.
 *
 * Every string here is emitted inside JSON strings without escaping, so none
 * may contain '"', '\\' or control characters (tests/test_gen.c parses every
 * line). Strings used as ids (tenant names, user names, agent ids, pod names)
 * use only [a-z0-9.-]. Display names may hold non-ASCII UTF-8.
 */
#ifndef ANNAL_GEN_DATA_H
#define ANNAL_GEN_DATA_H

#include <stdint.h>

struct gen_name {
    const char *id;      /* id-safe, e.g. "acme" */
    const char *display; /* human form, may be UTF-8, e.g. "Acme Corporation" */
};

struct gen_model {
    const char *name;     /* "claude-3-5-sonnet" */
    const char *provider; /* "anthropic" */
    uint32_t in_cpm;      /* price: cents per million input tokens */
    uint32_t out_cpm;     /* cents per million output tokens */
    uint32_t ctx_k;       /* context window, thousands of tokens */
    uint32_t fail_pm;     /* extra failure probability, per mille */
};

struct gen_feature {
    const char *tag;      /* feature_tag, e.g. "customer_support.chat" */
    const char *what;     /* a few words for summaries */
    uint32_t in_base;     /* typical input tokens of one call */
    uint32_t out_base;    /* typical output tokens of one call */
    uint32_t model;       /* index into gen_models: the usual choice */
    uint32_t steps_min;   /* CostRecorded events per run */
    uint32_t steps_max;
    const char *agent;    /* run actor id when an agent drives it, else NULL */
    const char *prompt;   /* prompt template name */
    uint32_t fail_pm;     /* extra failure probability, per mille */
};

struct gen_key_kind {
    const char *name;     /* key name, e.g. "batch-pipeline" */
    uint32_t weight;      /* share of runs that use a key of this kind */
    uint32_t tok_pct;     /* token multiplier, percent */
    int live;             /* ak_live_ or ak_test_ prefix */
};

struct gen_error {
    const char *code;     /* error_code */
    const char *message;
    uint32_t http_status;
    int retryable;
};

struct gen_incident {
    const char *category;
    const char *title;
    int policy;           /* 1: source POLICY_VIOLATION, 0: MANUAL */
};

struct gen_rule {
    const char *name;
    const char *kind;
    const char *condition;
    const char *action;       /* default action */
    const char *threshold_key;/* NULL: the rule has no numeric threshold */
    int64_t threshold;        /* default threshold */
    uint32_t saved_cents;     /* typical estimated_cost_saved_cents of one prevention */
};

/* One step of a provider/consumer flow, a service event `<svc>.<object>.<action>`. */
struct gen_flow {
    const char *steps[3];     /* event types; NULL-terminated when fewer than 3 */
    const char *services[3];  /* emitting service (actor_id "svc:<name>") */
    int kind;                 /* which payload builder gen.c uses */
};

extern const struct gen_name gen_tenant_names[];
extern const unsigned gen_n_tenant_names;
extern const struct gen_name gen_first_names[];
extern const unsigned gen_n_first_names;
extern const char *const gen_last_names[];
extern const unsigned gen_n_last_names;
extern const char *const gen_roles[];     /* [0] is OWNER */
extern const unsigned gen_n_roles;
extern const char *const gen_plans[];
extern const unsigned gen_n_plans;
extern const char *const gen_regions[];
extern const unsigned gen_n_regions;
extern const struct gen_model gen_models[];
extern const unsigned gen_n_models;
extern const struct gen_feature gen_features[];
extern const unsigned gen_n_features;
extern const struct gen_key_kind gen_key_kinds[];
extern const unsigned gen_n_key_kinds;
extern const struct gen_error gen_errors[];
extern const unsigned gen_n_errors;
extern const struct gen_incident gen_incidents[];
extern const unsigned gen_n_incidents;
extern const char *const gen_ack_notes[];
extern const unsigned gen_n_ack_notes;
extern const char *const gen_resolve_notes[];
extern const unsigned gen_n_resolve_notes;
extern const char *const gen_close_notes[];
extern const unsigned gen_n_close_notes;
extern const struct gen_rule gen_rules[];
extern const unsigned gen_n_rules;
extern const char *const gen_proposal_reasons[];
extern const unsigned gen_n_proposal_reasons;
extern const char *const gen_reject_reasons[];
extern const unsigned gen_n_reject_reasons;
extern const char *const gen_override_reasons[];
extern const unsigned gen_n_override_reasons;
extern const char *const gen_emergency_reasons[];
extern const unsigned gen_n_emergency_reasons;
extern const struct gen_flow gen_flows[];
extern const unsigned gen_n_flows;
extern const char *const gen_root_causes[];
extern const unsigned gen_n_root_causes;
extern const char *const gen_workflows[];
extern const unsigned gen_n_workflows;
extern const char *const gen_finish_reasons[];
extern const unsigned gen_n_finish_reasons;
extern const char *const gen_sdks[];
extern const unsigned gen_n_sdks;
extern const char *const gen_temperatures[];
extern const unsigned gen_n_temperatures;

#endif
