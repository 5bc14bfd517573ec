/*
 * embedded.h — files compiled into ctgd (cmake/embed.cmake), so that an installed ctgd needs
 * nothing beside it: the OpenAPI description and the web dashboard.
 */
#ifndef CTG_EMBEDDED_H
#define CTG_EMBEDDED_H

#include <stddef.h>

struct embedded_file {
    const char *name;          /* path relative to its folder, e.g. "app.js"; NULL ends a table */
    const char *content_type;
    const char *etag;          /* "\"<16 hex digits of its SHA-256>\"" */
    const unsigned char *bytes;
    size_t len;
};

/* docs/openapi.yaml */
extern const struct embedded_file embedded_docs[];
/* web/: the dashboard served at / */
extern const struct embedded_file embedded_web[];

/* The file called `name` in `table`, or NULL. */
const struct embedded_file *embedded_find(const struct embedded_file *table, const char *name);

#endif
