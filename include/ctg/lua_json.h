/*
 * lua_json.h — JSON values (jansson) as Lua values and back: the only way documents cross the
 * boundary between ctgd and its plugins.
 *
 *   JSON            Lua
 *   null            ctg.json.null (a unique sentinel; nil cannot be stored in a table)
 *   true/false      true/false
 *   integer         integer (math.type(x) == "integer")
 *   real            float   (2.0 stays a float and is written back as 2.0)
 *   string          string (UTF-8 bytes)
 *   array           table with the array metatable, items at 1..n
 *   object          table with the object metatable
 *
 * The two metatables are shared by every document, so Lua code never gets them:
 * getmetatable(t) answers ctg.json.array_mt or ctg.json.object_mt, markers that refuse writes;
 * ctg.json.array(t) and ctg.json.object(t) set them.
 *
 * Lua to JSON: a table with one of the two metatables is written as that kind, even empty; a
 * plain table whose keys are exactly 1..n (n >= 1) is an array, one whose keys are all strings
 * is an object, an empty plain table is an object. Anything else — mixed keys, a function,
 * NaN or infinity, a string that is not UTF-8, nesting deeper than LUA_JSON_DEPTH_MAX — is an
 * error naming the path of the offending value.
 */
#ifndef CTG_LUA_JSON_H
#define CTG_LUA_JSON_H

#include "ctg/json_texts.h"

#include <jansson.h>
#include <lua.h>
#include <stddef.h>

#define LUA_JSON_DEPTH_MAX 64

/* Creates the sentinel and the two metatables in L's registry; call once per state. */
void lua_json_init(lua_State *L);

/*
 * Bounds the JSON that Lua values of this state become (lua_json_to, json.encode, json.decode)
 * to about `bytes` of memory: a table or a string reached many times is small in Lua and huge
 * as JSON, and jansson's memory is out of the reach of the state's memory cap. Over the bound,
 * a conversion is refused like any other. Without a call, there is no bound. Raises a Lua error
 * (memory) only.
 */
void lua_json_set_size_max(lua_State *L, size_t bytes);

/*
 * Pushes `value` as a Lua value. Raises a Lua error (memory) only: call it in protected mode
 * or where a memory error may unwind.
 */
void lua_json_push(lua_State *L, const json_t *value);

/*
 * Pushes `value` for one plugin call: an object is a table that converts each member when it is
 * first read (a member that is a table, once: it is the same table each time), instead of the
 * whole document before the call; anything else is pushed as lua_json_push pushes it. Reading,
 * ipairs, pairs, writing, # and lua_json_to see the document lua_json_push gives; the first
 * write or pairs() turns it into that very table. Only next(), rawget() and rawlen() on the
 * document itself see less: its members are not in it until then. `value` must live until
 * lua_json_end_lazy, after which reading such a table raises an error (lua_json_to refuses it).
 * Raises a Lua error (memory) only.
 */
void lua_json_push_lazy(lua_State *L, const json_t *value);
/* Ends the call of the documents pushed by lua_json_push_lazy so far (see there). */
void lua_json_end_lazy(lua_State *L);
/*
 * Pushes a JSON text that the server wrote itself (a change event), as lua_json_push_text
 * would, but an object read on demand as lua_json_push_lazy's are, its members that are
 * objects too: the text is copied into the state and found member by member. Such a document
 * stays readable after the call. A damaged text raises an error when the part read is.
 */
void lua_json_push_text_lazy(lua_State *L, const char *text, size_t len);

/*
 * lua_json_push_text_lazy, with the place of the value of the member `key` known to the caller
 * (a change event's "doc", which the server put there): the `value_len` bytes at `value_at` in
 * the text, an object. It is then read on demand as any member that is a table, without a
 * search of the text for where it ends. When the place is just after the key, the object's own
 * copy of the text has {} there: the member's bytes are copied once.
 */
void lua_json_push_text_lazy_known(lua_State *L, const char *text, size_t len, const char *key,
                                   size_t value_at, size_t value_len);

/*
 * Pushes the JSON text that the server wrote itself (a stored document, a change event) as the
 * Lua value lua_json_push gives for its parse, decoding the text straight into Lua (yajl) with
 * no jansson tree in between. Raises a Lua error on memory exhaustion or on a text that does
 * not decode (the store is damaged).
 */
void lua_json_push_text(lua_State *L, const char *text, size_t len);

/* Pushes the texts as one Lua array (with the array metatable), each as lua_json_push_text. */
void lua_json_push_texts(lua_State *L, const struct json_texts *texts);

/*
 * Converts the Lua value at `index` to a new JSON value (the caller owns it). On failure returns
 * NULL and writes a message with the value's path (e.g. "/actions/2/figures: a function cannot
 * be written as JSON") into `err`. Raises no Lua error, except on memory exhaustion.
 */
json_t *lua_json_to(lua_State *L, int index, char *err, size_t errlen);

/*
 * Pushes the table that plugins see as ctg.json: encode(value) -> string,
 * decode(string) -> value, null, array(t) and object(t) (set the metatable and return t),
 * array_mt and object_mt (the markers getmetatable() answers). encode and decode raise a Lua
 * error with a clear message on bad input.
 */
void lua_json_push_module(lua_State *L);

#endif
