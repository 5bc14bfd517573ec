/*
 * writes.h — every change to a convention goes through write_convention(): the rev rule, the
 * building of the new document (replace, merge patch, action patch), the department rights,
 * the model's validation, the server-set fields, and the one transaction that stores it all.
 * The HTTP handlers only translate requests into a struct write_request and outcomes into
 * answers, so that later writers (bulk import, the command line) share the same rules.
 */
#ifndef CTG_WRITES_H
#define CTG_WRITES_H

#include "ctg/config.h"
#include "ctg/plugins.h"
#include "ctg/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

enum write_kind { WRITE_CREATE, WRITE_REPLACE, WRITE_PATCH, WRITE_PATCH_ACTION, WRITE_DELETE };

/* The rev a client says it read: If-Match, or `rev` in the body or query. */
struct rev_claim {
    bool given;
    bool any;        /* If-Match: * */
    bool if_match;   /* from the If-Match header (a mismatch is 412, else 409) */
    uint64_t rev;
};

struct write_request {
    enum write_kind kind;
    const char *id;        /* NULL on create: the body's id, or a generated one */
    const char *action_id; /* WRITE_PATCH_ACTION */
    const json_t *body;    /* the document or the merge patch, `rev` already taken out */
    /* When not NULL: the body's members whose text is stored as it came (json_verbatim.h);
       used only when write_stores_body_values(kind) */
    const struct json_verbatim *verbatim;
    struct rev_claim claim;
    const struct token *who;
    struct plugins *plugins; /* the department rules; NULL: the model's rules only */
};

struct write_outcome {
    int status;            /* 200 or 201 when written; else the HTTP error status */
    const char *code;      /* the error code of SPEC §3 */
    char message[512];
    json_t *extra;         /* error fields beyond status/code/message (details, current_rev) */
    char *text;            /* the stored document's JSON text; NULL after a delete or a refusal */
    enum change_type type;
    char id[72];
    uint64_t rev;
};

/*
 * Whether a write of this kind stores the very values of its body (a create or a replace shares
 * them), whose verbatim members' texts then are the stored ones; a patch merges them into
 * copies, and its body's verbatim members are of no use.
 */
bool write_stores_body_values(enum write_kind kind);

/* Runs one write to the end; `out` must be released with write_outcome_clear(). */
void write_convention(struct store *st, const struct write_request *w, struct write_outcome *out);

/*
 * Runs `n` writes in one transaction and one sync: each has its own outcome (a refused write
 * leaves the others be). Every outcome must be released with write_outcome_clear().
 */
void write_conventions(struct store *st, const struct write_request *w, struct write_outcome *out,
                       size_t n);

/*
 * Writes that the caller makes one at a time, inside the transaction (a bulk import's lines):
 * prepare() turns the i-th into its request just before it runs, or refuses it (returns -1
 * after write_refuse), and release(), when not NULL, drops what prepare made once the write
 * has run. A batch of a thousand then holds one parsed document at a time, in memory that the
 * next write reuses, instead of a thousand. The store may run a batch again (after growing its
 * map): prepare must give the same request each time.
 */
struct write_source {
    int (*prepare)(void *arg, size_t i, struct write_request *w, struct write_outcome *out);
    void (*release)(void *arg, size_t i);
    /* When not NULL: runs once the batch is committed, while its sync waits for the disk
       (store_write_meanwhile), if it does; it must not need the writes on disk. */
    void (*meanwhile)(void *arg);
    void *arg;
    bool outcomes_only; /* outcomes without their text: the caller does not answer with it */
};

/* write_conventions() over the `n` writes of `src`. */
void write_conventions_from(struct store *st, const struct write_source *src,
                            struct write_outcome *out, size_t n);

/* Refuses a write in its outcome, as the pipeline does: for the refusals of a write_source. */
void write_refuse(struct write_outcome *out, int status, const char *code, const char *message);

void write_outcome_clear(struct write_outcome *out);

#endif
