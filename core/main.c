/*
 * main.c — the ctgd command: read the configuration, then check it (--check), check its store
 * (--verify) or serve.
 */
#include "ctg/config.h"
#include "ctg/http.h"
#include "ctg/json_arena.h"
#include "ctg/log.h"
#include "ctg/plugins.h"
#include "ctg/server.h"
#include "ctg/verify.h"

#include <event2/event.h>

#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: ctgd -c FILE          serve with the configuration FILE\n"
                 "       ctgd --check -c FILE  check the configuration FILE and exit\n"
                 "       ctgd --verify -c FILE check the store of FILE (read-only; may run\n"
                 "                             beside the server): 0 when sound, 1 if not\n"
                 "       ctgd --routes         list the HTTP routes (METHOD /pattern)\n"
                 "       ctgd --version\n");
}

/* Checks the configuration and loads its plugins (without a store: ctg.store is not used). */
static int check_only(const struct config *cfg, const char *path)
{
    if (cfg->n_tokens == 0 && !config_host_is_loopback(cfg->listen_host)) {
        fprintf(stderr, "%s: listen: no token is configured, so only a loopback address is "
                        "allowed\n", path);
        return 1;
    }
    struct plugins_options opt = {
        .dirs = cfg->plugin_dirs,
        .limits = {cfg->limits.lua_instructions, cfg->limits.lua_seconds, cfg->limits.lua_memory},
    };
    char err[1024];
    struct plugins *plugins = plugins_load(&opt, err, sizeof err);
    if (!plugins) {
        fprintf(stderr, "%s: plugins: %s\n", path, err);
        return 1;
    }
    json_t *loaded = plugins_describe(plugins);
    printf("%s: ok (listen %s:%d, data in %s, %zu token%s, %zu plugin%s)\n", path,
           cfg->listen_host, cfg->listen_port, cfg->data_dir, cfg->n_tokens,
           cfg->n_tokens == 1 ? "" : "s", json_array_size(loaded),
           json_array_size(loaded) == 1 ? "" : "s");
    json_decref(loaded);
    plugins_free(plugins);
    return 0;
}

/* Checks the store's invariants, printing each violation, then counts and a verdict. */
static int verify_only(const struct config *cfg)
{
    struct verify_counts n;
    char err[1024];
    if (verify_store(cfg->data_dir, stdout, &n, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    printf("%s: %llu documents, %llu revisions of %llu ids, %llu changes (seq 1..%llu), "
           "%llu index entries: ", cfg->data_dir, (unsigned long long)n.documents,
           (unsigned long long)n.revisions, (unsigned long long)n.ids,
           (unsigned long long)n.changes, (unsigned long long)n.last_seq,
           (unsigned long long)n.index_entries);
    if (n.violations == 0)
        printf("sound\n");
    else
        printf("%llu violation%s\n", (unsigned long long)n.violations, n.violations > 1 ? "s" : "");
    return n.violations == 0 ? 0 : 1;
}

static int serve(const struct config *cfg)
{
    struct server srv;
    char err[512];
    int rc = 1;
    if (server_init(&srv, cfg, err, sizeof err) < 0)
        log_error("server", "%s", err);
    else
        rc = server_run(&srv) < 0 ? 1 : 0;
    server_free(&srv);
    libevent_global_shutdown();
    /* Leak checkers do not see a value left in an arena (its chunk is still in the arenas' set). */
    size_t kept = json_arena_chunks_in_use();
    if (kept > 0)
        log_error("server", "%zu JSON arena chunk%s still in use at exit: a JSON value was never "
                  "freed", kept, kept > 1 ? "s" : "");
    if (rc == 0)
        log_info("server", "stopped");
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'}, {"check", no_argument, NULL, 'k'},
        {"version", no_argument, NULL, 'V'},      {"help", no_argument, NULL, 'h'},
        {"routes", no_argument, NULL, 'r'},       {"verify", no_argument, NULL, 'y'},
        {NULL, 0, NULL, 0},
    };
    /*
     * On glibc's malloc (a build with CTG_JEMALLOC=OFF; jemalloc ignores this): no fastbins. A
     * JSON document is hundreds of small blocks, and glibc consolidates every fastbin each time
     * a block of 1 KiB or more is asked for (10% of a write's time went to malloc_consolidate).
     * Bulk import of 10k conventions: 2.8 s -> 2.55 s.
     */
    mallopt(M_MXFAST, 0);
    const char *path = NULL;
    enum { SERVE, CHECK, VERIFY } mode = SERVE;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
        switch (opt) {
        case 'c': path = optarg; break;
        case 'k': mode = CHECK; break;
        case 'y': mode = VERIFY; break;
        case 'V': printf("ctgd %s\n", CTG_VERSION); return 0;
        case 'r': http_print_routes(stdout); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!path || optind != argc) {
        usage(stderr);
        return 2;
    }
    struct config cfg;
    char err[512];
    if (config_load(path, &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    log_set_level(cfg.log_level);
    int rc = mode == CHECK    ? check_only(&cfg, path)
             : mode == VERIFY ? verify_only(&cfg)
                              : serve(&cfg);
    config_free(&cfg);
    return rc;
}
