/*
 * client.c — HTTP requests of ctgctl over libcurl (see client.h). One easy handle serves every
 * request, so that a command making many requests (list --all, import, export) keeps one
 * connection open.
 */
#include "client.h"

#include <curl/curl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct client {
    CURL *curl;
    char *url;            /* the base, without a trailing '/' */
    char *authorization;  /* "Authorization: Bearer <token>", or NULL */
};

static size_t on_body(char *ptr, size_t size, size_t n, void *arg)
{
    return buf_append(arg, ptr, size * n) ? size * n : 0;
}

struct client *client_new(const char *url, const char *token)
{
    struct client *c = calloc(1, sizeof *c);
    if (!c || !(c->curl = curl_easy_init()) || !(c->url = strdup(url))) {
        client_free(c);
        return NULL;
    }
    size_t len = strlen(c->url);
    if (len && c->url[len - 1] == '/')
        c->url[len - 1] = '\0';
    if (token) {
        struct buf header = {0};
        if (!buf_printf(&header, "Authorization: Bearer %s", token)) {
            client_free(c);
            return NULL;
        }
        c->authorization = header.data;
    }
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 300L);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    return c;
}

void client_free(struct client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    free(c->authorization);
    free(c->url);
    free(c);
}

/* The headers of one request; NULL when memory runs out. */
static struct curl_slist *request_headers(const struct client *c, const struct request *req)
{
    char line[256];
    struct curl_slist *list = NULL, *next;
    const char *fixed[] = {c->authorization, "Accept: application/json, */*;q=0.5",
                           "Expect:" /* no 100-continue wait for large bodies */};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        if (!fixed[i])
            continue;
        if (!(next = curl_slist_append(list, fixed[i])))
            goto fail;
        list = next;
    }
    if (req->content_type)
        snprintf(line, sizeof line, "Content-Type: %s", req->content_type);
    else
        snprintf(line, sizeof line, "Content-Type:"); /* none, not curl's form type */
    if (!(next = curl_slist_append(list, line)))
        goto fail;
    list = next;
    if (req->if_match) {
        snprintf(line, sizeof line, "If-Match: \"%s\"", req->if_match);
        if (!(next = curl_slist_append(list, line)))
            goto fail;
        list = next;
    }
    return list;
fail:
    curl_slist_free_all(list);
    return NULL;
}

/* The method and body of `req` on the handle. */
static void set_method(CURL *curl, const struct request *req)
{
    if (strcmp(req->method, "GET") == 0) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, NULL);
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
        return;
    }
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body ? req->body : "");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body ? req->body_len : 0));
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST,
                     strcmp(req->method, "POST") == 0 ? NULL : req->method);
}

static bool is_json_type(const char *content_type)
{
    static const char json[] = "application/json";
    return content_type && strncmp(content_type, json, sizeof json - 1) == 0 &&
           (content_type[sizeof json - 1] == '\0' || content_type[sizeof json - 1] == ';');
}

/* After a transfer: the status, and the answer parsed when it says it is JSON. */
static void read_answer(CURL *curl, struct response *resp)
{
    char *content_type = NULL;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
    curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &content_type);
    if (is_json_type(content_type) && resp->body.len)
        resp->json = json_loadb(resp->body.data, resp->body.len, 0, NULL);
}

enum exit_code client_request(struct client *c, const struct request *req, struct response *resp)
{
    *resp = (struct response){0};
    struct buf url = {0};
    struct curl_slist *headers = request_headers(c, req);
    if (!headers || !buf_printf(&url, "%s%s", c->url, req->path)) {
        fprintf(stderr, "ctgctl: out of memory\n");
        curl_slist_free_all(headers);
        buf_free(&url);
        return EXIT_UNREACHABLE;
    }
    curl_easy_setopt(c->curl, CURLOPT_URL, url.data);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &resp->body);
    set_method(c->curl, req);
    CURLcode rc = curl_easy_perform(c->curl);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    buf_free(&url);
    if (rc != CURLE_OK) {
        fprintf(stderr, "ctgctl: cannot reach %s: %s\n", c->url, curl_easy_strerror(rc));
        return EXIT_UNREACHABLE;
    }
    read_answer(c->curl, resp);
    if (resp->status >= 200 && resp->status < 300)
        return EXIT_OK;
    if (!req->quiet)
        client_print_error("the server answered", resp->status, resp->json);
    return EXIT_REFUSED;
}

void response_free(struct response *resp)
{
    buf_free(&resp->body);
    json_decref(resp->json);
    resp->json = NULL;
}

enum exit_code client_json(struct client *c, const struct request *req, const json_t *body,
                           json_t **out, long *status)
{
    struct request with_body = *req;
    char *text = NULL;
    if (body) {
        text = json_dumps(body, JSON_COMPACT);
        if (!text) {
            fprintf(stderr, "ctgctl: out of memory\n");
            return EXIT_UNREACHABLE;
        }
        with_body.body = text;
        with_body.body_len = strlen(text);
        with_body.content_type = req->content_type ? req->content_type : "application/json";
    }
    struct response resp;
    enum exit_code rc = client_request(c, &with_body, &resp);
    free(text);
    if (status)
        *status = resp.status;
    if (rc == EXIT_OK && !resp.json) {
        if (!req->quiet)
            fprintf(stderr, "ctgctl: the answer to %s %s is not JSON\n", req->method, req->path);
        rc = EXIT_REFUSED;
    }
    if (rc == EXIT_OK) {
        *out = resp.json;
        resp.json = NULL;
    }
    response_free(&resp);
    return rc;
}

enum exit_code client_get_json(struct client *c, const char *path, json_t **out)
{
    return client_json(c, &(struct request){.method = "GET", .path = path}, NULL, out, NULL);
}

enum exit_code client_get(struct client *c, const char *path, json_t **out, long *status)
{
    return client_json(c, &(struct request){.method = "GET", .path = path, .quiet = true}, NULL,
                       out, status);
}

/* One line per detail that adds something to the message (a path, a plugin's name). */
static void print_details(const json_t *error, const char *message)
{
    size_t i;
    json_t *detail;
    json_array_foreach(json_object_get(error, "details"), i, detail) {
        const char *path = json_string_value(json_object_get(detail, "path"));
        const char *text = json_string_value(json_object_get(detail, "message"));
        const char *plugin = json_string_value(json_object_get(detail, "plugin"));
        bool said = message && text && strstr(message, text) && (!path || strstr(message, path));
        if (!text || (said && !plugin))
            continue;
        fprintf(stderr, "  %s%s%s", path && *path ? path : "", path && *path ? ": " : "", text);
        if (plugin)
            fprintf(stderr, " (plugin %s)", plugin);
        fputc('\n', stderr);
    }
}

void client_print_error(const char *where, long status, const json_t *error)
{
    if (json_object_get(error, "error"))
        error = json_object_get(error, "error");
    const char *code = json_string_value(json_object_get(error, "code"));
    const char *message = json_string_value(json_object_get(error, "message"));
    fprintf(stderr, "ctgctl: %s", where);
    if (status)
        fprintf(stderr, " %ld", status);
    fprintf(stderr, "%s%s: %s\n", code ? " " : "", code ? code : "",
            message ? message : "(no message)");
    print_details(error, message);
}
