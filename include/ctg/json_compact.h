/*
 * json_compact.h — members of the compact JSON text ctgd writes (json_write's: no white space,
 * keys without escapes), found without decoding the text.
 *
 * The change events given to on_change are read member by member as a plugin reads them
 * (lua_json.c), and the log's entries are routed by their type and department (changes.c): a
 * whole decoding of each would cost more than the rest of the work on them.
 */
#ifndef CTG_JSON_COMPACT_H
#define CTG_JSON_COMPACT_H

#include <stdbool.h>
#include <stddef.h>

enum json_member { JSON_MEMBER_ABSENT, JSON_MEMBER_FOUND, JSON_MEMBER_UNKNOWN };

/*
 * Finds the member `key` in the compact text of an object (`len` bytes, braces included): the
 * text of its value in *value and *value_len. UNKNOWN when the text is not as ctgd writes it
 * (white space, say) or a key holds an escape: only a whole decoding can tell then. What the
 * values hold is not checked, only where they end.
 */
enum json_member json_compact_member(const char *text, size_t len, const char *key, size_t key_len,
                                     const char **value, size_t *value_len);

/*
 * True when the text is one object and nothing after it, as far as its brackets and strings
 * tell (what scalars hold is not checked).
 */
bool json_compact_is_object(const char *text, size_t len);

#endif
