/*
 * api_web.c — the web dashboard: GET / and the files of web/ under /ui/, compiled in.
 *
 * The files hold no data (the page asks the API for everything, with the token the user typed),
 * so they are served without a token. The page is a single document whose views live in the
 * URL's fragment (/#/conventions/{id}), so no other path needs to answer it.
 */
#include "ctg/api.h"
#include "ctg/embedded.h"

/*
 * What the dashboard may load: its own files and the API. Inline styles are allowed for the
 * HTML that plugins render, which the page shows in a sandboxed frame (that frame inherits this
 * policy, and runs no script at all); scripts are never inline.
 */
static const char content_security_policy[] =
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

static void reply_web_file(struct http_request *r, const char *name)
{
    const struct embedded_file *file = embedded_find(embedded_web, name);
    if (!file) {
        http_error(r, 404, "not_found", "no such file of the dashboard: %s", name);
        return;
    }
    http_set_header(r, "Content-Security-Policy", content_security_policy);
    http_set_header(r, "Referrer-Policy", "no-referrer");
    http_reply_file(r, file);
}

/* A query string is ignored here: the page keeps its state in the fragment. */
static void get_dashboard(struct http_request *r)
{
    reply_web_file(r, "index.html");
}

static void get_dashboard_file(struct http_request *r)
{
    reply_web_file(r, r->params[0]);
}

const struct http_route api_web_routes[] = {
    {"/", EVHTTP_REQ_GET, get_dashboard, true},
    {"/ui/{file}", EVHTTP_REQ_GET, get_dashboard_file, true},
    {NULL, 0, NULL, false},
};
