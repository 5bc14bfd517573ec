/*
 * model.h — the convention document of SPEC §2.
 *
 * The model owns what a valid convention is: the checks run on every write, each problem
 * reported with a JSON pointer to the offending value, and the normal form in which documents
 * are stored (known keys in the order of SPEC §2, server-set fields removed so that the server
 * alone sets them).
 */
#ifndef CTG_MODEL_H
#define CTG_MODEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Limits on what one document may hold; they keep a single write bounded. */
#define MODEL_TITLE_MAX      300   /* characters of `title` (and other titles, names, labels) */
#define MODEL_TEXT_MAX       4000  /* characters of free text: goals, summaries */
#define MODEL_ARRAY_MAX      1000  /* items of any array in the document */
#define MODEL_EXTRA_DEPTH    16    /* nesting of `extra` below its own object */
#define MODEL_KEY_MAX        64    /* bytes of a champ, indicator or figure key */

/* Server-set fields: ignored when a client sends them (SPEC §2, "set by the server"). */
extern const char *const model_server_fields[];
/* Whether the key of `key_len` bytes is one of them. */
bool model_is_server_field(const char *key, size_t key_len);

/*
 * Checks `doc` against every rule of SPEC §2. Each problem is appended to `details` (a JSON
 * array) as {"path": "<JSON pointer>", "message": "<what is wrong>"}. Server-set fields are
 * skipped. Returns the number of problems appended: 0 means valid.
 */
size_t model_validate(const json_t *doc, json_t *details);

/*
 * Returns a new object holding the known, client-set keys of a valid `doc` in the order of
 * SPEC §2 (server-set fields dropped). The caller owns the result; its values are `doc`'s own
 * (shared, not copied): neither may be changed below the top level afterwards.
 */
json_t *model_normalize(const json_t *doc);

bool model_id_valid(const char *id);
bool model_department_valid(const char *code);
bool model_status_valid(const char *status);
/* "YYYY-MM-DD" naming a real calendar day (leap years included). */
bool model_date_valid(const char *s);

#endif
