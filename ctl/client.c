/*
 * client.c — HTTP requests of ctgctl over libcurl (see client.h).
 */
#include "client.h"

#include <curl/curl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct client {
    CURL *curl;
    char *url;
    struct curl_slist *headers;
};

struct answer {
    char *data;
    size_t len;
};

static size_t on_body(char *ptr, size_t size, size_t n, void *arg)
{
    struct answer *a = arg;
    char *grown = realloc(a->data, a->len + size * n + 1);
    if (!grown)
        return 0;
    a->data = grown;
    memcpy(a->data + a->len, ptr, size * n);
    a->len += size * n;
    a->data[a->len] = '\0';
    return size * n;
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
        char header[1024];
        snprintf(header, sizeof header, "Authorization: Bearer %s", token);
        c->headers = curl_slist_append(c->headers, header);
    }
    c->headers = curl_slist_append(c->headers, "Accept: application/json");
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    return c;
}

void client_free(struct client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    curl_slist_free_all(c->headers);
    free(c->url);
    free(c);
}

/* Prints the server's error message (SPEC §3 shape) or the status. */
static void report_refusal(long status, const json_t *body)
{
    json_t *error = json_object_get(body, "error");
    const char *message = json_string_value(json_object_get(error, "message"));
    fprintf(stderr, "ctgctl: the server answered %ld: %s\n", status,
            message ? message : "(no message)");
}

/* Performs the GET; *body is the parsed answer (NULL when not JSON). */
static enum exit_code perform_get(struct client *c, const char *path, json_t **body, long *status)
{
    char url[4096];
    struct answer a = {0};
    snprintf(url, sizeof url, "%s%s", c->url, path);
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &a);
    CURLcode rc = curl_easy_perform(c->curl);
    if (rc != CURLE_OK) {
        fprintf(stderr, "ctgctl: cannot reach %s: %s\n", c->url, curl_easy_strerror(rc));
        free(a.data);
        return EXIT_UNREACHABLE;
    }
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
    *body = a.data ? json_loadb(a.data, a.len, 0, NULL) : NULL;
    free(a.data);
    return *status >= 400 || !*body ? EXIT_REFUSED : EXIT_OK;
}

enum exit_code client_get(struct client *c, const char *path, json_t **out, long *status)
{
    json_t *body;
    enum exit_code rc = perform_get(c, path, &body, status);
    if (rc == EXIT_OK)
        *out = body;
    else
        json_decref(body);
    return rc;
}

enum exit_code client_get_json(struct client *c, const char *path, json_t **out)
{
    json_t *body = NULL;
    long status = 0;
    enum exit_code rc = perform_get(c, path, &body, &status);
    if (rc == EXIT_REFUSED)
        report_refusal(status, body);
    if (rc == EXIT_OK)
        *out = body;
    else
        json_decref(body);
    return rc;
}
