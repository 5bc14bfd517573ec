/*
 * model.c — what a valid convention is (SPEC §2).
 *
 * Owns the checks run on every write and the normal form in which documents are stored. The
 * document's shape is written down as tables: for each object of SPEC §2, the keys it may hold,
 * whether each is required, and the function that checks its value. One generic walker applies a
 * table, reports missing and unknown keys, and calls the value checks; the few rules that tie
 * two values together (end after start, an action's objective, unique ids) live in the check of
 * the object that holds both.
 *
 * Every problem becomes {"path", "message"} in the caller's `details`, with `path` a JSON pointer
 * (RFC 6901). Paths are chains of segments on the stack, rendered only when a problem is found,
 * so no key is ever truncated. A value of the wrong type is reported once and not descended into.
 */
#include "ctg/model.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Limits SPEC §2 states in its patterns, named once. */
#define YEAR_MIN       1900
#define YEAR_MAX       2999
#define ITEM_ID_MAX    64  /* characters of an objective's or action's id */
#define ACTION_NUM_MAX 32  /* characters of an action number given as a string ("2.a") */

#define STRINGIFY(x) #x
#define TEXT_OF(x)   STRINGIFY(x)

const char *const model_server_fields[] = {
    "rev", "created_at", "updated_at", "created_by", "updated_by", NULL,
};

/* ---- paths and problems ---------------------------------------------------------------- */

/* One segment of a JSON pointer; the root is the NULL path. */
struct path {
    const struct path *up;
    const char *key;  /* NULL for an array index */
    size_t key_len;
    size_t index;
};

#define OBJECTIVE_IDS_KEPT 64 /* the objectives' ids the actions' references compare with */

struct checker {
    const json_t *doc;  /* the whole document, for rules that look across it */
    json_t *details;    /* where problems go; may be NULL to only count them */
    size_t problems;
    /* The id of each of the first objectives, read at the first reference (NULL until then):
       every action names one, and finding it again was a lookup per objective per action. */
    const json_t *objective_ids[OBJECTIVE_IDS_KEPT];
};

static struct path at_key(const struct path *up, const char *key, size_t key_len)
{
    return (struct path){.up = up, .key = key, .key_len = key_len};
}

static struct path at_field(const struct path *up, const char *key)
{
    return at_key(up, key, strlen(key));
}

static struct path at_index(const struct path *up, size_t index)
{
    return (struct path){.up = up, .index = index};
}

/* Writes the segment with ~ and / escaped (RFC 6901) when `out` is not NULL; returns its length. */
static size_t render_segment(const struct path *p, char *out)
{
    char digits[24];
    const char *s = p->key;
    size_t n = p->key_len, len = 0;
    if (!s) {
        n = (size_t)snprintf(digits, sizeof digits, "%zu", p->index);
        s = digits;
    }
    for (size_t i = 0; i < n; i++) {
        const char *piece = s[i] == '~' ? "~0" : s[i] == '/' ? "~1" : NULL;
        size_t piece_len = piece ? 2 : 1;
        if (out)
            memcpy(out + len, piece ? piece : &s[i], piece_len);
        len += piece_len;
    }
    return len;
}

/* Writes the whole pointer when `out` is not NULL; returns its length. */
static size_t render_path(const struct path *p, char *out)
{
    if (!p)
        return 0;
    size_t len = render_path(p->up, out);
    if (out)
        out[len] = '/';
    return len + 1 + render_segment(p, out ? out + len + 1 : NULL);
}

static json_t *path_string(const struct path *p)
{
    size_t len = render_path(p, NULL);
    char *buf = malloc(len + 1);
    if (!buf)
        return NULL;
    render_path(p, buf);
    json_t *s = json_stringn(buf, len);
    free(buf);
    return s;
}

/* Appends {"path", "message"} to the details. Counted even if memory runs out, so that an
 * invalid document is never taken for a valid one. */
__attribute__((format(printf, 3, 4)))
static void problem(struct checker *c, const struct path *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_t *message = json_vsprintf(fmt, ap);
    va_end(ap);
    json_t *item = json_object();
    json_object_set_new(item, "path", path_string(p));
    json_object_set_new(item, "message", message ? message : json_string("invalid value"));
    json_array_append_new(c->details, item);
    c->problems++;
}

/* ---- scalar checks ---------------------------------------------------------------------- */

typedef void check_fn(struct checker *c, const json_t *v, const struct path *p);

/* The string's C value, or NULL when it holds a NUL byte (then no syntax rule can match). */
static const char *plain_string(const json_t *v)
{
    const char *s = json_string_value(v);
    return s && strlen(s) == json_string_length(v) ? s : NULL;
}

static size_t count_code_points(const json_t *v)
{
    const unsigned char *s = (const unsigned char *)json_string_value(v);
    size_t n = 0, bytes = json_string_length(v);
    for (size_t i = 0; i < bytes; i++)
        n += (s[i] & 0xC0) != 0x80;
    return n;
}

static bool is_blank(const json_t *v)
{
    const char *s = json_string_value(v);
    size_t bytes = json_string_length(v);
    for (size_t i = 0; i < bytes; i++)
        if (!strchr(" \t\n\r\f\v", s[i]) || s[i] == '\0')
            return false;
    return true;
}

/* A code point is 1 to 4 bytes: the byte length alone often shows the count within bounds. */
static bool length_surely_within(const json_t *v, size_t min, size_t max)
{
    size_t bytes = json_string_length(v);
    return bytes <= max && (bytes + 3) / 4 >= min;
}

/* A string of min..max characters (code points); one that must not be empty must not be blank. */
static void check_string(struct checker *c, const json_t *v, const struct path *p,
                         size_t min, size_t max)
{
    if (!json_is_string(v)) {
        problem(c, p, "must be a string");
        return;
    }
    size_t n = 0;
    if (!length_surely_within(v, min, max) && ((n = count_code_points(v)) < min || n > max))
        problem(c, p, "must be %zu to %zu characters long (got %zu)", min, max, n);
    else if (min > 0 && is_blank(v))
        problem(c, p, "must not be blank");
}

/* A string that `valid` accepts; `rule` says what is expected. */
static void check_syntax(struct checker *c, const json_t *v, const struct path *p,
                         bool (*valid)(const char *), const char *rule)
{
    const char *s = plain_string(v);
    if (!json_is_string(v))
        problem(c, p, "must be a string");
    else if (!s || !valid(s))
        problem(c, p, "%s", rule);
}

static bool in_list(const char *s, const char *const *list)
{
    for (; s && *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

static void check_enum(struct checker *c, const json_t *v, const struct path *p,
                       const char *const *choices)
{
    if (json_is_string(v) && in_list(plain_string(v), choices))
        return;
    char expected[256] = "";
    for (const char *const *choice = choices; *choice; choice++) {
        if (choice != choices)
            strcat(expected, ", ");
        strcat(expected, *choice);
    }
    problem(c, p, "must be one of %s", expected);
}

/* A finite number within [min, max]; an infinite bound means no bound on that side. */
static void check_number(struct checker *c, const json_t *v, const struct path *p,
                         double min, double max)
{
    if (!json_is_number(v) || !isfinite(json_number_value(v))) {
        problem(c, p, "must be a number");
        return;
    }
    double x = json_number_value(v);
    if (x >= min && x <= max)
        return;
    if (isinf(max))
        problem(c, p, "must be a number of at least %g", min);
    else
        problem(c, p, "must be a number from %g to %g", min, max);
}

static void check_integer(struct checker *c, const json_t *v, const struct path *p,
                          json_int_t min, json_int_t max)
{
    json_int_t x = json_integer_value(v);
    if (!json_is_integer(v) || x < min || x > max)
        problem(c, p, "must be an integer from %" JSON_INTEGER_FORMAT " to %" JSON_INTEGER_FORMAT,
                min, max);
}

/* ---- named value kinds ------------------------------------------------------------------ */

/* min..max bytes of [a-z0-9-], not starting with '-': ids and keys. */
static bool is_slug(const char *s, size_t min, size_t max)
{
    size_t n = 0;
    for (; s && s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || (s[n] == '-' && n)))
            return false;
    return n >= min && n <= max;
}

static bool champ_key_valid(const char *s)
{
    return is_slug(s, 1, MODEL_KEY_MAX);
}

static bool figure_name_valid(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= MODEL_KEY_MAX;
}

#define KEY_SYNTAX "at most " TEXT_OF(MODEL_KEY_MAX) " bytes matching ^[a-z0-9][a-z0-9-]*$"

static const char *const statuses[] = {
    "preparation", "diagnostic", "action_plan", "monitoring", "evaluation", "closed", NULL,
};
static const char *const territory_kinds[] = {"commune", "epci", "departement", "autre", NULL};
static const char *const signatory_roles[] = {
    "caf", "departement", "epci", "commune", "msa", "etat", "autre", NULL,
};
static const char *const action_statuses[] = {"planned", "in_progress", "done", "abandoned", NULL};
static const char *const amendment_kinds[] = {"extension", "modification", NULL};

static void check_doc_id(struct checker *c, const json_t *v, const struct path *p)
{
    check_syntax(c, v, p, model_id_valid,
                 "must be 3 to 64 characters matching ^[a-z0-9][a-z0-9-]{2,63}$");
}

static void check_department(struct checker *c, const json_t *v, const struct path *p)
{
    check_syntax(c, v, p, model_department_valid,
                 "must be an INSEE department code: 01..19, 2A, 2B, 21..95 or 971..976");
}

static void check_date(struct checker *c, const json_t *v, const struct path *p)
{
    check_syntax(c, v, p, model_date_valid, "must be a real calendar date YYYY-MM-DD");
}

static void check_signed_on(struct checker *c, const json_t *v, const struct path *p)
{
    if (!json_is_null(v))
        check_date(c, v, p);
}

static void check_champ_key(struct checker *c, const json_t *v, const struct path *p)
{
    check_syntax(c, v, p, champ_key_valid, "must be a key of " KEY_SYNTAX);
}

static void check_name(struct checker *c, const json_t *v, const struct path *p)
{
    check_string(c, v, p, 1, MODEL_TITLE_MAX);
}

static void check_label(struct checker *c, const json_t *v, const struct path *p)
{
    check_string(c, v, p, 0, MODEL_TITLE_MAX);
}

static void check_goal(struct checker *c, const json_t *v, const struct path *p)
{
    check_string(c, v, p, 1, MODEL_TEXT_MAX);
}

static void check_summary(struct checker *c, const json_t *v, const struct path *p)
{
    check_string(c, v, p, 0, MODEL_TEXT_MAX);
}

static void check_item_id(struct checker *c, const json_t *v, const struct path *p)
{
    check_string(c, v, p, 1, ITEM_ID_MAX);
}

static void check_siren(struct checker *c, const json_t *v, const struct path *p)
{
    const char *s = plain_string(v);
    if (!s || strlen(s) != 9 || strspn(s, "0123456789") != 9)
        problem(c, p, "must be a string of exactly 9 digits");
}

static void check_year(struct checker *c, const json_t *v, const struct path *p)
{
    check_integer(c, v, p, YEAR_MIN, YEAR_MAX);
}

static void check_any_number(struct checker *c, const json_t *v, const struct path *p)
{
    check_number(c, v, p, -HUGE_VAL, HUGE_VAL);
}

static void check_amount(struct checker *c, const json_t *v, const struct path *p)
{
    check_number(c, v, p, 0, HUGE_VAL);
}

static void check_progress(struct checker *c, const json_t *v, const struct path *p)
{
    check_number(c, v, p, 0, 100);
}

static void check_action_number(struct checker *c, const json_t *v, const struct path *p)
{
    size_t chars = json_is_string(v) ? count_code_points(v) : 0;
    bool ok = json_is_integer(v) ? json_integer_value(v) >= 0
                                 : chars >= 1 && chars <= ACTION_NUM_MAX;
    if (!ok)
        problem(c, p, "must be an integer of at least 0 or a string of 1 to %d characters",
                ACTION_NUM_MAX);
}

static void check_status(struct checker *c, const json_t *v, const struct path *p)
{
    check_enum(c, v, p, statuses);
}

static void check_territory_kind(struct checker *c, const json_t *v, const struct path *p)
{
    check_enum(c, v, p, territory_kinds);
}

static void check_signatory_role(struct checker *c, const json_t *v, const struct path *p)
{
    check_enum(c, v, p, signatory_roles);
}

static void check_action_status(struct checker *c, const json_t *v, const struct path *p)
{
    check_enum(c, v, p, action_statuses);
}

static void check_amendment_kind(struct checker *c, const json_t *v, const struct path *p)
{
    check_enum(c, v, p, amendment_kinds);
}

/* ---- containers ------------------------------------------------------------------------- */

struct field {
    const char *key;
    size_t key_len;
    bool required;
    check_fn *check;
};

#define FIELD(key, required, check) {key, sizeof key - 1, required, check}
#define FIELDS_MAX 24 /* check_fields keeps one value per field on its stack */
#define FIELDS_FIT(table) \
    _Static_assert(sizeof table / sizeof table[0] <= FIELDS_MAX + 1, #table " has too many fields")

bool model_is_server_field(const char *key, size_t key_len)
{
    /* "rev", or one of four of 10 bytes: a key of another length is none of them */
    return (key_len == 3 || key_len == 10) && strlen(key) == key_len &&
           in_list(key, model_server_fields);
}

static bool field_is(const struct field *f, const char *key, size_t key_len)
{
    return f->key_len == key_len && memcmp(f->key, key, key_len) == 0;
}

/*
 * The index of `key` in `fields`, or -1. The search starts at `from` (the field after the last
 * key found) and goes round: documents mostly list their keys in the order of the fields.
 */
static long field_index(const struct field *fields, const char *key, size_t key_len, long from)
{
    for (long i = from; fields[i].key; i++)
        if (field_is(&fields[i], key, key_len))
            return i;
    for (long i = 0; i < from; i++)
        if (field_is(&fields[i], key, key_len))
            return i;
    return -1;
}

/* Every key not in `fields` is a problem; at the top level (root path) server fields are
 * skipped whatever their value. */
static void reject_unknown_keys(struct checker *c, const json_t *obj, const struct path *p,
                                const struct field *fields)
{
    const char *key;
    size_t key_len;
    json_t *v;
    json_object_keylen_foreach((json_t *)obj, key, key_len, v) {
        if (field_index(fields, key, key_len, 0) >= 0 ||
            (!p && model_is_server_field(key, key_len)))
            continue;
        struct path at = at_key(p, key, key_len);
        problem(c, &at, "unknown key '%s' (free-form data goes in /extra)", key);
    }
}

/*
 * An object holding only `fields`, each checked; returns whether `v` was an object. One walk
 * over the object finds the value of each field (a lookup per field cost more); the checks
 * then run in the order of `fields`, and unknown keys are reported last.
 */
static bool check_fields(struct checker *c, const json_t *v, const struct path *p,
                         const struct field *fields)
{
    if (!json_is_object(v)) {
        problem(c, p, "must be an object");
        return false;
    }
    const json_t *values[FIELDS_MAX] = {NULL};
    bool unknown = false;
    json_t *object = (json_t *)v;
    long next = 0;
    /* by the iterator: json_object_keylen_foreach finds it again from the key, thrice */
    for (void *it = json_object_iter(object); it; it = json_object_iter_next(object, it)) {
        const char *key = json_object_iter_key(it);
        size_t key_len = json_object_iter_key_len(it);
        long i = field_index(fields, key, key_len, next);
        if (i >= 0) {
            values[i] = json_object_iter_value(it);
            next = fields[i + 1].key ? i + 1 : 0;
        } else if (p || !model_is_server_field(key, key_len)) {
            unknown = true;
        }
    }
    for (size_t i = 0; fields[i].key; i++) {
        struct path at = at_key(p, fields[i].key, fields[i].key_len);
        if (values[i])
            fields[i].check(c, values[i], &at);
        else if (fields[i].required)
            problem(c, &at, "is required");
    }
    if (unknown)
        reject_unknown_keys(c, v, p, fields);
    return true;
}

/* An array of at most MODEL_ARRAY_MAX items, each checked; returns whether they were checked. */
static bool check_array(struct checker *c, const json_t *v, const struct path *p,
                        check_fn *check_item)
{
    if (!json_is_array(v)) {
        problem(c, p, "must be an array");
        return false;
    }
    if (json_array_size(v) > MODEL_ARRAY_MAX) {
        problem(c, p, "must have at most %d items", MODEL_ARRAY_MAX);
        return false;
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        struct path at = at_index(p, i);
        check_item(c, json_array_get(v, i), &at);
    }
    return true;
}

/* What a free-form map ({key: value}) accepts. */
struct map_rule {
    bool (*key_valid)(const char *key);
    const char *key_rule;
    check_fn *check_value;
};

static void check_map(struct checker *c, const json_t *v, const struct path *p,
                      const struct map_rule *rule)
{
    if (!json_is_object(v)) {
        problem(c, p, "must be an object");
        return;
    }
    const char *key;
    size_t key_len;
    json_t *value;
    json_object_keylen_foreach((json_t *)v, key, key_len, value) {
        struct path at = at_key(p, key, key_len);
        if (strlen(key) != key_len || !rule->key_valid(key))
            problem(c, &at, "%s", rule->key_rule);
        rule->check_value(c, value, &at);
    }
}

/* The item's value to compare for uniqueness: the item itself, or its `field`. */
static const json_t *unique_value(const json_t *item, const char *field)
{
    const json_t *v = field ? json_object_get(item, field) : item;
    return json_is_string(v) ? v : NULL;
}

/*
 * Up to this many items, an item is compared with each earlier one: cheaper than an object of
 * the strings seen, for the few actions or objectives of a convention.
 */
#define PAIRS_MAX 16

static bool same_string(const json_t *a, const json_t *b)
{
    return json_string_length(a) == json_string_length(b) &&
           memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
}

/* The index of the first of the values before `i` that is `values[i]`; -1 if none. */
static long earlier_pair(const json_t *const values[], size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (values[j] && same_string(values[i], values[j]))
            return (long)j;
    return -1;
}

/* The same by `seen`, an object of the strings met so far (string → index of its first use). */
static long earlier_seen(json_t *seen, size_t i, const json_t *v)
{
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    const json_t *first = json_object_getn(seen, s, len);
    if (first)
        return (long)json_integer_value(first);
    json_object_setn_new_nocheck(seen, s, len, json_integer((json_int_t)i));
    return -1;
}

/*
 * Reports each item whose string (or string `field`) repeats an earlier item's. Beyond
 * PAIRS_MAX items, the strings seen are the keys of an object: comparing every pair costs n² per
 * array, and a 1 MiB body holds 150 arrays of 1000 champs.
 */
static void reject_duplicates(struct checker *c, const json_t *arr, const struct path *p,
                              const char *field)
{
    size_t n = json_array_size(arr);
    json_t *seen = n > PAIRS_MAX ? json_object() : NULL;
    const json_t *values[PAIRS_MAX];
    for (size_t i = 0; i < n; i++) {
        const json_t *v = unique_value(json_array_get(arr, i), field);
        if (!seen)
            values[i] = v;
        if (!v)
            continue;
        long first = seen ? earlier_seen(seen, i, v) : earlier_pair(values, i);
        if (first < 0)
            continue;
        struct path item = at_index(p, i), at = field ? at_field(&item, field) : item;
        problem(c, &at, "duplicate '%s': already used at index %ld", json_string_value(v),
                first);
    }
    json_decref(seen);
}

/* The value of `key` in `obj` when it is a valid date, else NULL. */
static const char *date_of(const json_t *obj, const char *key)
{
    const char *s = plain_string(json_object_get(obj, key));
    return s && model_date_valid(s) ? s : NULL;
}

/* ---- the parts of a convention ---------------------------------------------------------- */

static void check_names(struct checker *c, const json_t *v, const struct path *p)
{
    check_array(c, v, p, check_name);
}

static const struct field territory_fields[] = {
    FIELD("name", true, check_name),
    FIELD("kind", false, check_territory_kind),
    FIELD("siren", false, check_siren),
    FIELD("communes", false, check_names),
    {NULL, 0, false, NULL},
};
FIELDS_FIT(territory_fields);

static void check_territory(struct checker *c, const json_t *v, const struct path *p)
{
    check_fields(c, v, p, territory_fields);
}

static const struct field representative_fields[] = {
    FIELD("name", true, check_name),
    FIELD("title", false, check_label),
    {NULL, 0, false, NULL},
};
FIELDS_FIT(representative_fields);

static void check_representative(struct checker *c, const json_t *v, const struct path *p)
{
    check_fields(c, v, p, representative_fields);
}

static void check_representatives(struct checker *c, const json_t *v, const struct path *p)
{
    check_array(c, v, p, check_representative);
}

static const struct field signatory_fields[] = {
    FIELD("organisation", true, check_name),
    FIELD("role", false, check_signatory_role),
    FIELD("representatives", false, check_representatives),
    {NULL, 0, false, NULL},
};
FIELDS_FIT(signatory_fields);

static void check_signatory(struct checker *c, const json_t *v, const struct path *p)
{
    check_fields(c, v, p, signatory_fields);
}

static void check_signatories(struct checker *c, const json_t *v, const struct path *p)
{
    check_array(c, v, p, check_signatory);
}

static const struct field period_fields[] = {
    FIELD("start", true, check_date),
    FIELD("end", true, check_date),
    {NULL, 0, false, NULL},
};
FIELDS_FIT(period_fields);

static void check_period(struct checker *c, const json_t *v, const struct path *p)
{
    if (!check_fields(c, v, p, period_fields))
        return;
    const char *start = date_of(v, "start"), *end = date_of(v, "end");
    struct path at = at_field(p, "end");
    if (start && end && strcmp(end, start) <= 0)
        problem(c, &at, "must be after /period/start");
}

static void check_champs(struct checker *c, const json_t *v, const struct path *p)
{
    if (check_array(c, v, p, check_champ_key))
        reject_duplicates(c, v, p, NULL);
}

static void check_goals(struct checker *c, const json_t *v, const struct path *p)
{
    check_array(c, v, p, check_goal);
}

static const struct field objective_fields[] = {
    FIELD("id", true, check_item_id),
    FIELD("title", true, check_name),
    FIELD("goals", false, check_goals),
    {NULL, 0, false, NULL},
};
FIELDS_FIT(objective_fields);

static void check_objective(struct checker *c, const json_t *v, const struct path *p)
{
    check_fields(c, v, p, objective_fields);
}

static void check_objectives(struct checker *c, const json_t *v, const struct path *p)
{
    if (check_array(c, v, p, check_objective))
        reject_duplicates(c, v, p, "id");
}

/* The id of objective `i` (NULL if it has none), kept for the next reference. */
static const json_t *objective_id(struct checker *c, const json_t *objectives, size_t i)
{
    const json_t *id = i < OBJECTIVE_IDS_KEPT ? c->objective_ids[i] : NULL;
    if (!id) {
        id = json_object_get(json_array_get(objectives, i), "id");
        if (i < OBJECTIVE_IDS_KEPT)
            c->objective_ids[i] = id;
    }
    return id;
}

/* An action's objective must be the id of one of the document's objectives. */
static void check_objective_ref(struct checker *c, const json_t *v, const struct path *p)
{
    if (!json_is_string(v)) {
        problem(c, p, "must be a string");
        return;
    }
    const json_t *objectives = json_object_get(c->doc, "objectives");
    /* Already reported at /objectives; searching an oversized list for each action would also
     * cost actions × objectives (1000 × 500 000 in a 1 MiB body: seconds of the event loop). */
    if (objectives &&
        (!json_is_array(objectives) || json_array_size(objectives) > MODEL_ARRAY_MAX))
        return;
    for (size_t i = 0; i < json_array_size(objectives); i++)
        if (json_equal(v, objective_id(c, objectives, i)))
            return;
    problem(c, p, "no objective has id '%s' (see /objectives)", json_string_value(v));
}

static const struct map_rule figures_rule = {
    figure_name_valid, "figure name must be 1 to " TEXT_OF(MODEL_KEY_MAX) " bytes long",
    check_any_number,
};

static void check_figures(struct checker *c, const json_t *v, const struct path *p)
{
    check_map(c, v, p, &figures_rule);
}

static const struct field action_fields[] = {
    FIELD("id", true, check_item_id),
    FIELD("number", false, check_action_number),
    FIELD("title", true, check_name),
    FIELD("objective", false, check_objective_ref),
    FIELD("champ", false, check_champ_key),
    FIELD("status", false, check_action_status),
    FIELD("progress", false, check_progress),
    FIELD("lead", false, check_label),
    FIELD("budget", false, check_amount),
    FIELD("start", false, check_date),
    FIELD("end", false, check_date),
    FIELD("figures", false, check_figures),
    {NULL, 0, false, NULL},
};
FIELDS_FIT(action_fields);

static void check_action(struct checker *c, const json_t *v, const struct path *p)
{
    if (!check_fields(c, v, p, action_fields))
        return;
    const char *start = date_of(v, "start"), *end = date_of(v, "end");
    struct path at = at_field(p, "end");
    if (start && end && strcmp(end, start) < 0)
        problem(c, &at, "must not be before start (%s)", start);
}

static void check_actions(struct checker *c, const json_t *v, const struct path *p)
{
    if (check_array(c, v, p, check_action))
        reject_duplicates(c, v, p, "id");
}

static const struct field committee_fields[] = {
    FIELD("name", true, check_name),
    FIELD("champs", false, check_champs),
    FIELD("members", false, check_names),
    {NULL, 0, false, NULL},
};
FIELDS_FIT(committee_fields);

static void check_committee(struct checker *c, const json_t *v, const struct path *p)
{
    check_fields(c, v, p, committee_fields);
}

static void check_committees(struct checker *c, const json_t *v, const struct path *p)
{
    check_array(c, v, p, check_committee);
}

static const struct field governance_fields[] = {
    FIELD("steering_committee", false, check_names),
    FIELD("thematic_committees", false, check_committees),
    {NULL, 0, false, NULL},
};
FIELDS_FIT(governance_fields);

static void check_governance(struct checker *c, const json_t *v, const struct path *p)
{
    check_fields(c, v, p, governance_fields);
}

static const struct field diagnostic_fields[] = {
    FIELD("year", false, check_year),
    FIELD("figures", false, check_figures),
    {NULL, 0, false, NULL},
};
FIELDS_FIT(diagnostic_fields);

static void check_diagnostic(struct checker *c, const json_t *v, const struct path *p)
{
    check_fields(c, v, p, diagnostic_fields);
}

static const struct field funding_fields[] = {
    FIELD("year", false, check_year),
    FIELD("amount", false, check_amount),
    FIELD("source", false, check_label),
    FIELD("label", false, check_label),
    {NULL, 0, false, NULL},
};
FIELDS_FIT(funding_fields);

static void check_funding_line(struct checker *c, const json_t *v, const struct path *p)
{
    check_fields(c, v, p, funding_fields);
}

static void check_funding(struct checker *c, const json_t *v, const struct path *p)
{
    check_array(c, v, p, check_funding_line);
}

static const struct field target_fields[] = {
    FIELD("baseline", false, check_any_number),
    FIELD("target", false, check_any_number),
    FIELD("year", false, check_year),
    {NULL, 0, false, NULL},
};
FIELDS_FIT(target_fields);

static void check_target(struct checker *c, const json_t *v, const struct path *p)
{
    check_fields(c, v, p, target_fields);
}

static const struct map_rule targets_rule = {
    champ_key_valid, "indicator key must be " KEY_SYNTAX, check_target,
};

static void check_targets(struct checker *c, const json_t *v, const struct path *p)
{
    check_map(c, v, p, &targets_rule);
}

static const struct field amendment_fields[] = {
    FIELD("date", true, check_date),
    FIELD("kind", true, check_amendment_kind),
    FIELD("new_end", false, check_date),
    FIELD("summary", false, check_summary),
    {NULL, 0, false, NULL},
};
FIELDS_FIT(amendment_fields);

/* An extension needs its new end, which must fall after the period's start. */
static void check_amendment(struct checker *c, const json_t *v, const struct path *p)
{
    if (!check_fields(c, v, p, amendment_fields))
        return;
    const char *kind = plain_string(json_object_get(v, "kind"));
    const char *new_end = date_of(v, "new_end");
    const char *start = date_of(json_object_get(c->doc, "period"), "start");
    struct path at = at_field(p, "new_end");
    if (!json_object_get(v, "new_end") && kind && strcmp(kind, "extension") == 0)
        problem(c, &at, "is required when kind is extension");
    else if (new_end && start && strcmp(new_end, start) <= 0)
        problem(c, &at, "must be after /period/start");
}

static void check_amendments(struct checker *c, const json_t *v, const struct path *p)
{
    check_array(c, v, p, check_amendment);
}

static bool nests_within(const json_t *v, int levels);

static bool child_nests_within(const json_t *child, int levels)
{
    bool container = json_is_object(child) || json_is_array(child);
    return !container || (levels > 0 && nests_within(child, levels - 1));
}

/* Whether the containers below `v` nest at most `levels` deep ({"a": {}} nests 1 deep). */
static bool nests_within(const json_t *v, int levels)
{
    json_t *obj = (json_t *)v;
    for (size_t i = 0; i < json_array_size(v); i++)
        if (!child_nests_within(json_array_get(v, i), levels))
            return false;
    for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it))
        if (!child_nests_within(json_object_iter_value(it), levels))
            return false;
    return true;
}

static void check_extra(struct checker *c, const json_t *v, const struct path *p)
{
    if (!json_is_object(v))
        problem(c, p, "must be an object");
    else if (!nests_within(v, MODEL_EXTRA_DEPTH))
        problem(c, p, "must not nest deeper than %d levels", MODEL_EXTRA_DEPTH);
}

/* The top level, in the order of SPEC §2 (which is also the stored order). */
static const struct field document_fields[] = {
    FIELD("id", false, check_doc_id),
    FIELD("department", true, check_department),
    FIELD("title", true, check_name),
    FIELD("territory", false, check_territory),
    FIELD("signatories", false, check_signatories),
    FIELD("signed_on", false, check_signed_on),
    FIELD("period", true, check_period),
    FIELD("status", true, check_status),
    FIELD("champs", false, check_champs),
    FIELD("objectives", false, check_objectives),
    FIELD("actions", false, check_actions),
    FIELD("governance", false, check_governance),
    FIELD("diagnostic", false, check_diagnostic),
    FIELD("funding", false, check_funding),
    FIELD("targets", false, check_targets),
    FIELD("amendments", false, check_amendments),
    FIELD("extra", false, check_extra),
    {NULL, 0, false, NULL},
};
FIELDS_FIT(document_fields);

/* ---- the contract ----------------------------------------------------------------------- */

size_t model_validate(const json_t *doc, json_t *details)
{
    struct checker c = {.doc = doc, .details = details, .problems = 0};
    check_fields(&c, doc, NULL, document_fields);
    return c.problems;
}

json_t *model_normalize(const json_t *doc)
{
    json_t *out = json_object();
    for (const struct field *f = document_fields; out && f->key; f++) {
        const json_t *v = json_object_get(doc, f->key);
        if (v && json_object_set(out, f->key, (json_t *)v) != 0) {
            json_decref(out);
            out = NULL;
        }
    }
    return out;
}

bool model_id_valid(const char *id)
{
    return is_slug(id, 3, 64);
}

bool model_department_valid(const char *code)
{
    static const char digits[] = "0123456789";
    if (!code)
        return false;
    size_t n = strlen(code);
    if (n == 2 && code[0] == '2' && (code[1] == 'A' || code[1] == 'B'))
        return true;
    if (strspn(code, digits) != n)
        return false;
    int number = n == 2 || n == 3 ? atoi(code) : 0;
    return n == 2 ? number >= 1 && number <= 95 && number != 20 : number >= 971 && number <= 976;
}

bool model_status_valid(const char *status)
{
    return in_list(status, statuses);
}

static bool is_leap_year(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* The value of the `n` decimal digits at `s` (checked by the caller). */
static int digits_value(const char *s, int n)
{
    int value = 0;
    for (int i = 0; i < n; i++)
        value = value * 10 + (s[i] - '0');
    return value;
}

bool model_date_valid(const char *s)
{
    static const int days_in_month[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    int year = digits_value(s, 4), month = digits_value(s + 5, 2), day = digits_value(s + 8, 2);
    if (year < YEAR_MIN || year > YEAR_MAX || month < 1 || month > 12)
        return false;
    int last = days_in_month[month - 1] + (month == 2 && is_leap_year(year));
    return day >= 1 && day <= last;
}
