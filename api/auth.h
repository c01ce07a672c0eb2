/*
 * auth.h - bearer tokens: each scoped to one tenant and one role.
 *
 * A token is "annal_" followed by 64 hex digits (32 random bytes from
 * getrandom). It is shown once, when it is made; the token file keeps only
 * its SHA-256. The file (default DIR/tokens, mode 0600) has one line per
 * token:
 *
 *     <id> <sha256 hex of the whole token> <tenant> <role> <created RFC 3339>
 *
 * id is the first 12 hex digits of the hash: what `annal token list` shows
 * and `annal token revoke` takes. Lines starting with '#' and blank lines
 * are ignored. Roles (what each may do is the route table's business,
 * api/routes.c): ingest, read, audit, admin.
 *
 * Lookup hashes the presented token and compares it with every stored hash
 * in constant time (CRYPTO_memcmp over all of them, no early exit), so the
 * time taken does not depend on which stored token, if any, matches.
 *
 * A token set is immutable once loaded: the server swaps in a new one on
 * SIGHUP (api/server.c). Errors: ANNAL_OK, ANNAL_EIO (errno set; err says
 * the path), ANNAL_EINVAL (a malformed line: err names it), ANNAL_ENOMEM,
 * ANNAL_ENOTFOUND (revoke: no such id).
 */
#ifndef ANNAL_API_AUTH_H
#define ANNAL_API_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "index/views.h" /* ANNAL_ID_MAX via store/event.h */
#include "store/event.h"

enum annal_role { ANNAL_ROLE_INGEST = 1, ANNAL_ROLE_READ = 2, ANNAL_ROLE_AUDIT = 4, ANNAL_ROLE_ADMIN = 8 };

#define ANNAL_TOKEN_LEN 70 /* "annal_" + 64 hex */

typedef struct annal_token_entry {
    char id[13];
    unsigned char hash[32];
    char tenant[ANNAL_ID_MAX + 1];
    int role;               /* enum annal_role */
    char created[31];
} annal_token_entry;

typedef struct annal_tokens {
    annal_token_entry *v;
    size_t n;
} annal_tokens;

/* The role named s ("ingest", ...), or 0. */
int annal_role_parse(const char *s);
const char *annal_role_name(int role);

/* Load the token file at path into *out (a missing file is an empty set).
 * Free with annal_tokens_free. */
int annal_tokens_load(const char *path, annal_tokens *out, char *err, size_t errlen);
void annal_tokens_free(annal_tokens *t);

/* The entry whose token is tok[0..n), or NULL. Constant time in the
 * matching entry (see above). */
const annal_token_entry *annal_tokens_find(const annal_tokens *t, const char *tok, size_t n);

/* Make a new token for (tenant, role), append its line to the file at path
 * (created 0600 if missing; the append is fsync'ed), and write the token
 * (NUL-terminated) into token[ANNAL_TOKEN_LEN + 1] and its id into id[13]. */
int annal_tokens_add(const char *path, const char *tenant, int role, char token[ANNAL_TOKEN_LEN + 1],
                     char id[13], char *err, size_t errlen);

/* Remove the line of token id from the file (rewritten through a
 * temporary file and rename). ANNAL_ENOTFOUND when no line has that id. */
int annal_tokens_revoke(const char *path, const char *id, char *err, size_t errlen);

#endif
