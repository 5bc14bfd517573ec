/*
 * api.h — the route tables of the HTTP API, one per resource file (api_<resource>.c).
 * Each table ends with an entry whose pattern is NULL.
 */
#ifndef CTG_API_H
#define CTG_API_H

#include "ctg/http.h"

extern const struct http_route api_system_routes[];
extern const struct http_route api_conventions_routes[];

#endif
