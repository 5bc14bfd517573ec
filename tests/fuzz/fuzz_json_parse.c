/*
 * fuzz_json_parse.c — JSON texts read and written through yajl (core/json_parse.c,
 * core/json_write.c) against jansson's own json_loadb and json_dumps.
 *
 * Properties, for any input:
 *   - json_parse_body gives what json_loadb gives with JSON_REJECT_DUPLICATES: both refuse it
 *     with the same error (text, line, column, position), or both read the same value, with its
 *     keys in the same order (the same compact text);
 *   - json_write of that value is json_dumps(value, JSON_COMPACT), byte for byte;
 *   - so is json_write_verbatim, which copies the members json_parse_body_verbatim noted from
 *     the input.
 */
#include "ctg/json_parse.h"
#include "ctg/json_verbatim.h"
#include "ctg/json_write.h"

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t want_err, got_err;
    json_t *want = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &want_err);
    struct json_verbatim verbatim = {0};
    json_t *got = json_parse_body_verbatim((const char *)data, size, &got_err, &verbatim);
    FUZZ_ASSERT(!want == !got, "json_loadb %s, json_parse_body %s", want ? "reads it" : want_err.text,
                got ? "reads it" : got_err.text);
    if (!want) {
        FUZZ_ASSERT(strcmp(want_err.text, got_err.text) == 0 && want_err.line == got_err.line &&
                        want_err.column == got_err.column && want_err.position == got_err.position,
                    "errors differ: '%s' against '%s'", want_err.text, got_err.text);
        return 0;
    }
    char *want_text = json_dumps(want, JSON_COMPACT);
    char *got_text = json_dumps(got, JSON_COMPACT);
    FUZZ_ASSERT(want_text && got_text && strcmp(want_text, got_text) == 0 && json_equal(want, got),
                "values differ: %s against %s", want_text ? want_text : "?", got_text ? got_text : "?");
    size_t written_len;
    char *written = json_write(got, &written_len);
    FUZZ_ASSERT(written && strcmp(written, want_text) == 0 && written_len == strlen(want_text),
                "json_write gives %s, json_dumps %s", written ? written : "NULL", want_text);
    free(written);
    written = json_write_verbatim(got, &verbatim, &written_len);
    FUZZ_ASSERT(written && strcmp(written, want_text) == 0 && written_len == strlen(want_text),
                "json_write_verbatim gives %s, json_dumps %s", written ? written : "NULL", want_text);
    free(written);
    json_verbatim_clear(&verbatim);
    free(want_text);
    free(got_text);
    json_decref(want);
    json_decref(got);
    return 0;
}
