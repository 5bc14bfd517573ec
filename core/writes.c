/*
 * writes.c — the write pipeline of conventions (see writes.h).
 *
 * The whole pipeline runs inside the store's write transaction, so the rev that is checked is
 * the rev that is replaced, whichever process writes. The store may run it more than once
 * (after growing a full map): it starts by clearing its outcome.
 */
#include "ctg/writes.h"
#include "ctg/auth.h"
#include "ctg/clock.h"
#include "ctg/json_arena.h"
#include "ctg/json_parse.h"
#include "ctg/merge_patch.h"
#include "ctg/model.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

struct write_ctx {
    const struct write_request *w;
    struct write_outcome *out;
    json_t *current;       /* the stored document before the write, or NULL */
    json_t *stored;        /* the document the write stores, or NULL */
    uint64_t current_rev;
    uint64_t last_rev;     /* when there is no current document: the id's last rev, or 0 */
};

void write_outcome_clear(struct write_outcome *out)
{
    json_decref(out->extra);
    free(out->text);
    memset(out, 0, sizeof *out);
}

static int refuse(struct write_outcome *out, int status, const char *code, json_t *extra,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int refuse(struct write_outcome *out, int status, const char *code, json_t *extra,
                  const char *fmt, ...)
{
    out->status = status;
    out->code = code;
    json_decref(out->extra);
    out->extra = extra;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof out->message, fmt, ap);
    va_end(ap);
    return -1;
}

/* Six random bytes; from the clock and a counter in the unlikely case getrandom fails. */
static void random_bytes(unsigned char out[6])
{
    static uint64_t counter;
    if (getrandom(out, 6, 0) == 6)
        return;
    uint64_t v = (uint64_t)clock_now_ms() * 1000003u + ++counter;
    for (int i = 0; i < 6; i++, v >>= 8)
        out[i] = (unsigned char)v;
}

/* "<department>-<12 hex digits>", lower case; the department prefix helps a human reader. */
static void generate_id(const json_t *body, char out[72])
{
    const char *department = json_string_value(json_object_get(body, "department"));
    unsigned char random[6];
    random_bytes(random);
    char prefix[8] = "ctg";
    if (department && model_department_valid(department))
        for (size_t i = 0; i <= strlen(department); i++)
            prefix[i] = (char)tolower((unsigned char)department[i]);
    snprintf(out, 72, "%s-%02x%02x%02x%02x%02x%02x", prefix, random[0], random[1], random[2],
             random[3], random[4], random[5]);
}

static int validate(struct write_ctx *c, const json_t *candidate);

/* Picks the id the write is about; a generated id is new to the store. */
static int resolve_id(struct write_ctx *c, struct store_txn *txn)
{
    json_t *body_id = json_object_get(c->w->body, "id");
    if (!c->w->id && body_id && !json_is_string(body_id))
        return validate(c, c->w->body); /* reports /id: an id is never generated over a bad one */
    const char *given = c->w->id ? c->w->id : json_string_value(body_id);
    if (given) {
        snprintf(c->out->id, sizeof c->out->id, "%s", given);
        return 0;
    }
    struct record_view view;
    do
        generate_id(c->w->body, c->out->id);
    while (store_txn_get_doc(txn, c->out->id, &view) == STORE_OK);
    return 0;
}

static int load_current(struct write_ctx *c, struct store_txn *txn)
{
    struct record_view view;
    c->current = NULL;
    c->current_rev = 0;
    if (!model_id_valid(c->out->id))
        return 0; /* the model reports the bad id; nothing can be stored under it */
    enum store_status status = store_txn_get_doc(txn, c->out->id, &view);
    if (status == STORE_NOT_FOUND)
        return 0;
    if (status == STORE_OK)
        c->current = json_parse_body(view.body, view.body_len, NULL);
    if (!c->current)
        return refuse(c->out, 500, "internal", NULL, "the stored convention cannot be read");
    c->current_rev = view.rev;
    return 0;
}

static json_t *rev_extra(uint64_t rev)
{
    return json_pack("{s:I}", "current_rev", (json_int_t)rev);
}

/* The rev rule of SPEC §3. */
static int check_rev(struct write_ctx *c)
{
    const struct write_request *w = c->w;
    if (!c->current) {
        if (w->kind == WRITE_CREATE || (w->kind == WRITE_REPLACE && !w->claim.given))
            return 0;
        return refuse(c->out, 404, "not_found", NULL, "no convention '%s'", c->out->id);
    }
    if (w->kind == WRITE_CREATE)
        return refuse(c->out, 409, "id_taken", rev_extra(c->current_rev),
                      "a convention '%s' exists already", c->out->id);
    if (!w->claim.given)
        return refuse(c->out, 428, "precondition_required", rev_extra(c->current_rev),
                      "name the rev you read: If-Match: \"%llu\" or \"rev\": %llu in the body",
                      (unsigned long long)c->current_rev, (unsigned long long)c->current_rev);
    if (w->claim.any || w->claim.rev == c->current_rev)
        return 0;
    return refuse(c->out, w->claim.if_match ? 412 : 409,
                  w->claim.if_match ? "precondition_failed" : "rev_conflict",
                  rev_extra(c->current_rev), "rev %llu is not the current rev %llu",
                  (unsigned long long)w->claim.rev, (unsigned long long)c->current_rev);
}

/* The index of the action whose id is `action_id`, or -1. */
static long find_action(const json_t *actions, const char *action_id)
{
    size_t i;
    json_t *action;
    json_array_foreach(actions, i, action) {
        const char *id = json_string_value(json_object_get(action, "id"));
        if (id && strcmp(id, action_id) == 0)
            return (long)i;
    }
    return -1;
}

static json_t *patch_action(struct write_ctx *c)
{
    json_t *candidate = json_deep_copy(c->current);
    json_t *actions = json_object_get(candidate, "actions");
    long i = find_action(actions, c->w->action_id);
    if (i < 0) {
        json_decref(candidate);
        refuse(c->out, 404, "not_found", NULL, "convention '%s' has no action '%s'", c->out->id,
               c->w->action_id);
        return NULL;
    }
    json_t *action = json_incref(json_array_get(actions, (size_t)i));
    json_array_set_new(actions, (size_t)i, merge_patch_apply(action, c->w->body));
    return candidate;
}

static bool body_id_is(const json_t *body, const char *id)
{
    json_t *given = json_object_get(body, "id");
    return json_is_string(given) && strcmp(json_string_value(given), id) == 0;
}

static bool body_id_differs(const json_t *body, const char *id)
{
    return json_object_get(body, "id") && !body_id_is(body, id);
}

/* The document the write proposes, before validation; NULL after a refusal. */
static json_t *build_candidate(struct write_ctx *c)
{
    json_t *candidate;
    switch (c->w->kind) {
    case WRITE_PATCH:
        candidate = merge_patch_apply(json_deep_copy(c->current), c->w->body);
        if (!json_equal(json_object_get(candidate, "id"), json_object_get(c->current, "id"))) {
            json_decref(candidate);
            refuse(c->out, 400, "bad_parameter", NULL, "the id of a convention cannot be patched");
            return NULL;
        }
        return candidate;
    case WRITE_PATCH_ACTION:
        return patch_action(c);
    case WRITE_REPLACE:
        if (body_id_differs(c->w->body, c->out->id)) {
            refuse(c->out, 400, "bad_parameter", NULL,
                   "the body's id is not the id of the path ('%s')", c->out->id);
            return NULL;
        }
        /* fall through */
    default:
        if (body_id_is(c->w->body, c->out->id)) /* the body itself: nothing changes it */
            return json_incref((json_t *)c->w->body);
        /* Shallow: only the top level changes (the id); the body's values are shared. */
        candidate = json_copy((json_t *)c->w->body); /* refcounts change, values do not */
        json_object_set_new(candidate, "id", json_string(c->out->id));
        return candidate;
    }
}

static int check_department(struct write_ctx *c, const char *department)
{
    if (!department || auth_can_write(c->w->who, department))
        return 0;
    return refuse(c->out, 403, "forbidden", NULL, "token '%s' cannot write in department %s",
                  c->w->who->name, department);
}

/* The model's rules, then (on a document the model accepts) the department's plugins. */
static int validate(struct write_ctx *c, const json_t *candidate)
{
    json_t *details = json_array();
    long problems = (long)model_validate(candidate, details);
    if (problems == 0 && c->w->plugins) {
        char err[512];
        problems = plugins_validate(c->w->plugins, candidate, c->current, details, err, sizeof err);
        if (problems < 0) {
            json_decref(details);
            return refuse(c->out, 500, "plugin_failed", NULL, "%s", err);
        }
    }
    if (problems == 0) {
        json_decref(details);
        return 0;
    }
    json_t *first = json_array_get(details, 0);
    return refuse(c->out, 422, "validation_failed", json_pack("{s:o}", "details", details),
                  "invalid convention (%ld problem%s): %s %s", problems, problems > 1 ? "s" : "",
                  json_string_value(json_object_get(first, "path")),
                  json_string_value(json_object_get(first, "message")));
}

/* The document as stored: normal form, then the server-set fields. */
static json_t *stamp(const struct write_ctx *c, const json_t *candidate, const char *now)
{
    json_t *doc = model_normalize(candidate);
    const char *actor = c->w->who->name;
    json_t *created_at = c->current ? json_object_get(c->current, "created_at") : NULL;
    json_t *created_by = c->current ? json_object_get(c->current, "created_by") : NULL;
    json_object_set_new(doc, "rev", json_integer((json_int_t)c->out->rev));
    json_object_set_new(doc, "created_at", created_at ? json_incref(created_at) : json_string(now));
    json_object_set_new(doc, "updated_at", json_string(now));
    json_object_set_new(doc, "created_by", created_by ? json_incref(created_by) : json_string(actor));
    json_object_set_new(doc, "updated_by", json_string(actor));
    return doc;
}

bool write_stores_body_values(enum write_kind kind)
{
    return kind == WRITE_CREATE || kind == WRITE_REPLACE;
}

static int save(struct write_ctx *c, struct store_txn *txn, const char *now)
{
    struct store_change change = {
        .id = c->out->id, .type = c->out->type, .old_doc = c->current, .new_doc = c->stored,
        .rev = c->out->rev, .actor = c->w->who->name, .at = now, .stored_text = &c->out->text,
        .verbatim = write_stores_body_values(c->w->kind) ? c->w->verbatim : NULL,
    };
    enum store_status status = store_txn_save(txn, &change);
    if (status == STORE_FULL)
        return refuse(c->out, 507, "storage_full", NULL, "the store is full; nothing was written");
    if (status != STORE_OK)
        return refuse(c->out, 500, "internal", NULL, "the write failed; nothing was written");
    c->out->status = c->current ? 200 : 201;
    return 0;
}

/* Builds, checks and saves the new document (or the deletion). */
static int write_document(struct write_ctx *c, struct store_txn *txn)
{
    char now[CLOCK_RFC3339_LEN];
    clock_format_rfc3339(clock_now_ms(), now);
    if (c->w->kind == WRITE_DELETE) {
        c->out->type = CHANGE_DELETED;
        c->out->rev = c->current_rev + 1;
        return save(c, txn, now);
    }
    json_t *candidate = build_candidate(c);
    if (!candidate)
        return -1;
    /* Rights first: a token learns nothing of the rules of a department it may not write in,
     * whose plugins do not even run for it (docs/api.md, "Conventions"). */
    const char *department = json_string_value(json_object_get(candidate, "department"));
    if (check_department(c, department) < 0 || validate(c, candidate) < 0) {
        json_decref(candidate);
        return -1;
    }
    /* A deleted id that is created again goes on from its last rev: a rev names one document. */
    c->out->rev = (c->current ? c->current_rev : c->last_rev) + 1;
    c->out->type = c->current ? CHANGE_UPDATED : CHANGE_CREATED;
    c->stored = stamp(c, candidate, now);
    json_decref(candidate);
    if (!c->stored)
        return refuse(c->out, 500, "internal", NULL, "out of memory; nothing was written");
    return save(c, txn, now);
}

/*
 * The token must be able to write where the convention is, before anything about it is told
 * (its rev, whether the id is taken). A deleted id stays its department's: creating it again
 * needs the same rights.
 */
static int check_rights_on_existing(struct write_ctx *c, struct store_txn *txn)
{
    if (c->current)
        return check_department(c, json_string_value(json_object_get(c->current, "department")));
    struct store_revision last;
    if (!model_id_valid(c->out->id) || store_txn_last_revision(txn, c->out->id, &last) != STORE_OK)
        return 0;
    c->last_rev = last.rev;
    return check_department(c, last.department);
}

/* One write inside the transaction, from a fresh context and outcome: 0 when saved, -1 when
 * refused or when the save failed. */
static int run_write(struct write_ctx *c, struct store_txn *txn)
{
    if (resolve_id(c, txn) < 0 || load_current(c, txn) < 0 ||
        check_rights_on_existing(c, txn) < 0 || check_rev(c) < 0)
        return -1;
    return write_document(c, txn);
}

void write_refuse(struct write_outcome *out, int status, const char *code, const char *message)
{
    refuse(out, status, code, NULL, "%s", message);
}

struct batch {
    const struct write_source *src;
    struct write_outcome *out;
    size_t n;
};

/* The i-th write of the batch: 0 when saved, -1 when refused or when the save failed. */
static int run_source_write(const struct batch *b, size_t i, struct store_txn *txn)
{
    const struct write_source *src = b->src;
    struct write_request w;
    struct write_ctx c = {.w = &w, .out = &b->out[i]};
    write_outcome_clear(c.out);
    int rc = src->prepare(src->arg, i, &w, c.out);
    if (rc == 0)
        rc = run_write(&c, txn);
    json_decref(c.current);
    json_decref(c.stored); /* now, so that the next write reuses its memory */
    if (src->outcomes_only) {
        free(c.out->text);
        c.out->text = NULL;
    }
    if (src->release)
        src->release(src->arg, i);
    return rc;
}

/*
 * Every write of the batch in one transaction. A refused write is only an outcome: the others
 * go on. A failed save (full map, I/O) aborts the whole transaction, which the store runs again
 * after growing the map, or reports.
 */
static int run_batch(struct store_txn *txn, void *arg)
{
    struct batch *b = arg;
    for (size_t i = 0; i < b->n; i++) {
        /* The copies, the stored form and the outcome of one write: hundreds of values too. */
        struct json_arena *arena = json_arena_open();
        int rc = run_source_write(b, i, txn);
        json_arena_close(arena);
        if (rc < 0 && store_txn_failed(txn))
            return -1;
    }
    return 0;
}

static void batch_meanwhile(void *arg)
{
    const struct batch *b = arg;
    b->src->meanwhile(b->src->arg);
}

void write_conventions_from(struct store *st, const struct write_source *src,
                            struct write_outcome *out, size_t n)
{
    struct batch b = {src, out, n};
    memset(out, 0, n * sizeof *out);
    enum store_status status = store_write_meanwhile(st, run_batch,
                                                     src->meanwhile ? batch_meanwhile : NULL, &b);
    for (size_t i = 0; i < n; i++) {
        if (status == STORE_FULL && out[i].status < 400)
            refuse(&out[i], 507, "storage_full", NULL, "the store is full; nothing was written");
        else if (status == STORE_ERROR && out[i].status < 400)
            refuse(&out[i], 500, "internal", NULL, "the write failed; nothing was written");
        if (out[i].status >= 400) {
            free(out[i].text);
            out[i].text = NULL;
        }
    }
}

static int prepare_from_array(void *arg, size_t i, struct write_request *w,
                              struct write_outcome *out)
{
    (void)out;
    *w = ((const struct write_request *)arg)[i];
    return 0;
}

void write_conventions(struct store *st, const struct write_request *w, struct write_outcome *out,
                       size_t n)
{
    struct write_source src = {.prepare = prepare_from_array, .arg = (void *)w};
    write_conventions_from(st, &src, out, n);
}

void write_convention(struct store *st, const struct write_request *w, struct write_outcome *out)
{
    write_conventions(st, w, out, 1);
}
