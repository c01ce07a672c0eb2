/*
 * gen_data.c - the vocabulary tables of `annal gen`; see gen_data.h.
 */
#include "tools/gen_data.h"

#include <stddef.h>

#define COUNT(a) ((unsigned)(sizeof(a) / sizeof((a)[0])))

const struct gen_name gen_tenant_names[] = {
    {"acme", "Acme Corporation"},          {"globex", "Globex"},
    {"initech", "Initech"},                {"umbrella", "Umbrella Health"},
    {"hooli", "Hooli"},                    {"piedpiper", "Pied Piper"},
    {"soylent", "Soylent Foods"},          {"cyberdyne", "Cyberdyne Systems"},
    {"tyrell", "Tyrell Corporation"},      {"wayne-ent", "Wayne Enterprises"},
    {"stark-ind", "Stark Industries"},     {"wonka", "Wonka Industries"},
    {"oscorp", "Oscorp"},                  {"aperture", "Aperture Science"},
    {"black-mesa", "Black Mesa"},          {"vandelay", "Vandelay Industries"},
    {"dunder-mifflin", "Dunder Mifflin"},  {"bluth", "Bluth Company"},
    {"sterling-cooper", "Sterling Cooper"},{"massive-dynamic", "Massive Dynamic"},
    {"nakatomi", "Nakatomi Trading"},      {"weyland", "Weyland-Yutani"},
    {"momcorp", "MomCorp"},                {"planet-express", "Planet Express"},
    {"krusty", "Krusty Krab Logistics"},   {"duff", "Duff Beverages"},
    {"lacuna", "Lacuna Inc."},             {"gringotts", "Gringotts Bank"},
    {"monarch", "Monarch Solutions"},      {"prestige", "Prestige Worldwide"},
    {"zorg", "Zorg Industries"},           {"buy-n-large", "Buy n Large"},
    {"rekall", "Rekall"},                  {"omni", "Omni Consumer Products"},
    {"virtucon", "Virtucon"},              {"gekko", "Gekko & Co"},
    {"spacely", "Spacely Sprockets"},      {"cogswell", "Cogswell Cogs"},
    {"encom", "ENCOM"},                    {"kaiju-labs", "Kaiju Labs"},
    {"nordlys", "Nordlys Energi"},         {"cafe-brule", "Café Brûlé SAS"},
    {"muller-bau", "Müller Bau GmbH"},     {"sakura-fin", "さくらファイナンス"},
};
const unsigned gen_n_tenant_names = COUNT(gen_tenant_names);

const struct gen_name gen_first_names[] = {
    {"alice", "Alice"},   {"bob", "Bob"},       {"carol", "Carol"},   {"dmitri", "Dmitri"},
    {"eva", "Eva"},       {"farid", "Farid"},   {"grace", "Grace"},   {"hiro", "Hiro"},
    {"ines", "Inês"},     {"jose", "José"},     {"kwame", "Kwame"},   {"lena", "Lena"},
    {"mei", "Mei"},       {"noor", "Noor"},     {"oscar", "Oscar"},   {"priya", "Priya"},
    {"quinn", "Quinn"},   {"rafael", "Rafael"}, {"sofia", "Sofia"},   {"tomas", "Tomás"},
    {"uma", "Uma"},       {"viktor", "Viktor"}, {"wen", "Wen"},       {"yusuf", "Yusuf"},
    {"zoe", "Zoë"},       {"bjorn", "Björn"},   {"chloe", "Chloé"},   {"aisha", "Aisha"},
    {"lars", "Lars"},     {"nadia", "Nadia"},   {"pablo", "Pablo"},   {"sven", "Sven"},
};
const unsigned gen_n_first_names = COUNT(gen_first_names);

const char *const gen_last_names[] = {
    "lopez",  "nguyen", "okafor", "schmidt", "tanaka",  "kowalski", "haddad",
    "singh",  "moreau", "rossi",  "johansson", "kim",   "patel",    "silva",
    "cohen",  "mensah", "ivanova", "garcia", "oconnor", "andersen", "yamamoto",
};
const unsigned gen_n_last_names = COUNT(gen_last_names);

const char *const gen_roles[] = {"OWNER", "ADMIN", "DEVELOPER", "ANALYST", "VIEWER", "AUDITOR"};
const unsigned gen_n_roles = COUNT(gen_roles);

const char *const gen_plans[] = {"TEAM", "BUSINESS", "ENTERPRISE", "ENTERPRISE_PLUS"};
const unsigned gen_n_plans = COUNT(gen_plans);

const char *const gen_regions[] = {"us-east-1",    "us-west-2",      "eu-west-1",
                                   "eu-central-1", "ap-southeast-2", "ap-northeast-1"};
const unsigned gen_n_regions = COUNT(gen_regions);

/* Prices are list prices in cents per million tokens. */
const struct gen_model gen_models[] = {
    {"claude-3-opus", "anthropic", 1500, 7500, 200, 15},
    {"claude-3-5-sonnet", "anthropic", 300, 1500, 200, 5},
    {"claude-3-haiku", "anthropic", 25, 125, 200, 5},
    {"gpt-4o", "openai", 250, 1000, 128, 8},
    {"gpt-4o-mini", "openai", 15, 60, 128, 5},
    {"gpt-4-turbo", "openai", 1000, 3000, 128, 12},
    {"o1-preview", "openai", 1500, 6000, 128, 45},
    {"gemini-1.5-pro", "google", 125, 500, 2000, 10},
    {"gemini-1.5-flash", "google", 8, 30, 1000, 6},
    {"llama-3.1-70b-instruct", "bedrock", 99, 99, 128, 12},
    {"mistral-large", "mistral", 200, 600, 128, 10},
};
const unsigned gen_n_models = COUNT(gen_models);

const struct gen_feature gen_features[] = {
    {"customer_support.chat", "support chat", 1800, 350, 1, 1, 2, NULL, "support-chat-v12", 0},
    {"customer_support.triage", "ticket triage", 1200, 120, 2, 1, 1, "agent:support-triage", "triage-v4", 0},
    {"sales.email_draft", "sales email drafting", 900, 600, 3, 1, 2, NULL, "sales-email-v7", 0},
    {"search.rerank", "search reranking", 4000, 60, 4, 1, 1, "agent:search-reranker", "rerank-v3", 0},
    {"docs.summarize", "document summaries", 12000, 800, 7, 1, 3, NULL, "summarize-v9", 5},
    {"code.review", "code review", 9000, 1200, 1, 1, 3, "agent:code-reviewer", "code-review-v15", 10},
    {"code.generate", "code generation", 3000, 2500, 3, 1, 4, NULL, "codegen-v6", 10},
    {"incident.triage", "incident triage", 6000, 900, 0, 2, 5, "agent:incident-responder", "incident-triage-v5", 20},
    {"analytics.sql_assist", "SQL assistant", 2500, 400, 3, 1, 2, NULL, "sql-assist-v8", 15},
    {"hr.policy_qa", "HR policy answers", 2200, 300, 2, 1, 1, NULL, "hr-qa-v3", 0},
    {"legal.contract_review", "contract review", 28000, 2000, 0, 1, 3, NULL, "contract-review-v11", 10},
    {"marketing.copy", "marketing copy", 600, 900, 10, 1, 2, NULL, "copy-v2", 0},
    {"finance.invoice_extract", "invoice extraction", 3500, 500, 8, 1, 1, "agent:invoice-extractor", "invoice-v6", 10},
    {"security.alert_enrich", "security alert enrichment", 5000, 700, 5, 1, 3, "agent:soc-enricher", "soc-enrich-v4", 15},
    {"ops.runbook_agent", "runbook automation", 7000, 1500, 6, 2, 6, "agent:runbook-executor", "runbook-v10", 40},
    {"research.deep_dive", "research deep dives", 15000, 4000, 6, 2, 5, NULL, "deep-dive-v2", 25},
};
const unsigned gen_n_features = COUNT(gen_features);

const struct gen_key_kind gen_key_kinds[] = {
    {"production", 60, 100, 1},
    {"batch-pipeline", 25, 260, 1},
    {"staging", 8, 70, 0},
    {"ci", 4, 50, 0},
    {"analytics-notebook", 6, 150, 1},
    {"partner-integration", 10, 120, 1},
};
const unsigned gen_n_key_kinds = COUNT(gen_key_kinds);

const struct gen_error gen_errors[] = {
    {"PROVIDER_TIMEOUT", "upstream provider did not answer within 60 s", 504, 1},
    {"RATE_LIMITED", "provider answered 429 Too Many Requests", 429, 1},
    {"CONTEXT_LENGTH_EXCEEDED", "prompt exceeds the context window of the model", 400, 0},
    {"CONTENT_FILTERED", "response blocked by the provider content filter", 400, 0},
    {"TOOL_EXECUTION_ERROR", "tool call jira.create_issue returned an error", 502, 1},
    {"INVALID_RESPONSE", "model output failed JSON schema validation", 422, 1},
    {"INTERNAL_ERROR", "worker crashed while streaming the response", 500, 1},
    {"POLICY_BLOCKED", "run stopped by a policy rule before the provider call", 403, 0},
};
const unsigned gen_n_errors = COUNT(gen_errors);

const struct gen_incident gen_incidents[] = {
    {"ACCURACY", "Hallucinated figures in the quarterly revenue summary", 0},
    {"SAFETY", "Support assistant suggested an unsafe workaround", 0},
    {"LATENCY", "Chat p95 latency above 20 s for EU users", 0},
    {"PRIVACY", "Customer phone number echoed in a chat transcript", 0},
    {"AVAILABILITY", "Provider outage degraded model routing", 0},
    {"DATA_QUALITY", "Invoice extractor mislabels VAT amounts", 0},
    {"ACCURACY", "Code review bot approved a failing migration", 0},
    {"COMPLIANCE", "Contract review missed an auto-renewal clause", 0},
    {"PROMPT_INJECTION", "Prompt injection attempt in an uploaded document", 1},
    {"DATA_EGRESS", "PII sent to a provider outside the EU", 1},
    {"MODEL_GOVERNANCE", "Unapproved model used in production", 1},
    {"COST_CONTROL", "Run exceeded the per-request token cap", 1},
    {"ACCESS", "Revoked API key presented at the gateway", 1},
    {"SECRETS", "Cloud credentials pasted into a prompt", 1},
};
const unsigned gen_n_incidents = COUNT(gen_incidents);

const char *const gen_ack_notes[] = {
    "Investigating", "On-call engineer engaged", "Assigned to the ML platform team",
    "Reproduced in staging", "Customer success informed", "Looking at provider status page",
};
const unsigned gen_n_ack_notes = COUNT(gen_ack_notes);

const char *const gen_resolve_notes[] = {
    "Root cause fixed in the next prompt template version",
    "Provider confirmed recovery; error rate back to baseline",
    "Mitigated by routing to a fallback model",
    "Guardrail threshold tuned and regression test added",
    "Customer data purged and the DPO notified",
    "Tool integration credentials renewed",
};
const unsigned gen_n_resolve_notes = COUNT(gen_resolve_notes);

const char *const gen_close_notes[] = {
    "False positive after manual review", "Duplicate of an earlier incident",
    "Expected behaviour, documented in the runbook", "Test traffic from the staging key",
};
const unsigned gen_n_close_notes = COUNT(gen_close_notes);

const struct gen_rule gen_rules[] = {
    {"block-pii-egress", "CONTENT", "request.pii_detected == true and provider.region != tenant.region", "BLOCK", NULL, 0, 40},
    {"max-tokens-per-request", "USAGE", "request.input_tokens > max_tokens", "BLOCK", "max_tokens", 32000, 120},
    {"model-allowlist", "GOVERNANCE", "run.model not in allowed_models", "BLOCK", NULL, 0, 90},
    {"cost-per-run-cap", "COST", "run.estimated_cost_cents > max_cost_cents", "BLOCK", "max_cost_cents", 500, 350},
    {"prompt-injection-guard", "SECURITY", "guardrail.injection_score >= min_score", "BLOCK", "min_score", 80, 25},
    {"eu-data-residency", "RESIDENCY", "tenant.region == eu and provider.region != eu", "BLOCK", NULL, 0, 30},
    {"rate-limit-per-key", "USAGE", "api_key.requests_per_minute > max_rpm", "THROTTLE", "max_rpm", 600, 15},
    {"human-review-legal", "REVIEW", "feature_tag == legal.contract_review and confidence_pct < min_confidence_pct", "REQUIRE_APPROVAL", "min_confidence_pct", 85, 60},
    {"toxic-output-filter", "CONTENT", "output.toxicity_pct >= max_toxicity_pct", "REDACT", "max_toxicity_pct", 70, 10},
    {"secrets-in-prompt", "SECURITY", "request.contains_secret == true", "BLOCK", NULL, 0, 20},
};
const unsigned gen_n_rules = COUNT(gen_rules);

const char *const gen_proposal_reasons[] = {
    "Repeated violations last week",
    "Spend on this feature grew faster than usage",
    "Requested by the security review",
    "Follow-up of the incident postmortem",
    "New EU customers require data residency",
    "Reduce noise from low-value alerts",
};
const unsigned gen_n_proposal_reasons = COUNT(gen_proposal_reasons);

const char *const gen_reject_reasons[] = {
    "Blocks a critical customer workflow",
    "Superseded by a broader rule",
    "Threshold too aggressive; revisit after the quarter",
    "Needs a staging trial first",
};
const unsigned gen_n_reject_reasons = COUNT(gen_reject_reasons);

const char *const gen_override_reasons[] = {
    "Quarter-end batch reprocessing approved by finance",
    "Launch week traffic expected to double",
    "Backfill of the search index",
    "Customer escalation; CFO approved the extra spend",
};
const unsigned gen_n_override_reasons = COUNT(gen_override_reasons);

const char *const gen_emergency_reasons[] = {
    "Provider outage: bypass routing rules to reach the fallback region",
    "Incident bridge: unblock the runbook agent while rules are fixed",
    "Regulator request: freeze all automated actions",
};
const unsigned gen_n_emergency_reasons = COUNT(gen_emergency_reasons);

const struct gen_flow gen_flows[] = {
    {{"holmesgpt.response.complete", "aianalysis.analysis.completed", NULL},
     {"holmesgpt-api", "aianalysis-controller", NULL}, 0},
    {{"gateway.request.received", "router.model.selected", "gateway.response.sent"},
     {"llm-gateway", "model-router", "llm-gateway"}, 1},
    {{"retriever.search.completed", "reranker.results.scored", NULL},
     {"retriever", "reranker", NULL}, 2},
    {{"guardrail.check.completed", "gateway.request.forwarded", NULL},
     {"guardrail", "llm-gateway", NULL}, 3},
    {{"webhook.delivery.sent", "notifier.delivery.acknowledged", NULL},
     {"webhook-dispatcher", "notifier", NULL}, 4},
    {{"evaluator.score.computed", "dashboard.metric.updated", NULL},
     {"evaluator", "dashboard-api", NULL}, 5},
};
const unsigned gen_n_flows = COUNT(gen_flows);

const char *const gen_root_causes[] = {
    "Memory pressure on the payments pod after the 14:00 deploy",
    "Certificate rotation left a stale CA bundle in the ingress",
    "Connection pool exhaustion in the orders database",
    "Feature flag enabled a slow code path for large tenants",
    "Node drain evicted the only replica of the cache",
    "Upstream DNS resolver timing out in one availability zone",
};
const unsigned gen_n_root_causes = COUNT(gen_root_causes);

const char *const gen_workflows[] = {
    "restart-deployment", "scale-out-replicas", "rollback-release", "rotate-certificate",
    "drain-and-replace-node", "increase-pool-size", "flush-cache",
};
const unsigned gen_n_workflows = COUNT(gen_workflows);

const char *const gen_finish_reasons[] = {"stop", "stop", "stop", "stop", "length"};
const unsigned gen_n_finish_reasons = COUNT(gen_finish_reasons);

const char *const gen_sdks[] = {"annal-python/1.8.2", "annal-node/1.6.0", "annal-go/0.9.4",
                                "langchain-annal/0.3.1"};
const unsigned gen_n_sdks = COUNT(gen_sdks);

const char *const gen_temperatures[] = {"0", "0.2", "0.3", "0.7", "1"};
const unsigned gen_n_temperatures = COUNT(gen_temperatures);
