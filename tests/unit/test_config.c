/*
 * test_config.c — reading the configuration file (core/config.c, SPEC §6).
 *
 * Each case writes a small Lua file into a temporary folder and loads it. Failures must name
 * the file and the offending key, and leave nothing to free.
 */
#include "ctg/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "tmpdir.h"

static char tmp_dir[4096];
static char conf_path[4200];

static void tmp_setup(void)
{
    tmpdir_make(tmp_dir, sizeof tmp_dir, "test_config");
    snprintf(conf_path, sizeof conf_path, "%s/ctgd.conf", tmp_dir);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        perror(path);
        exit(2);
    }
}

static int load_text(const char *text, struct config *cfg, char *err, size_t errlen)
{
    write_file(conf_path, text);
    err[0] = '\0';
    return config_load(conf_path, cfg, err, errlen);
}

/* ---- what a good file gives ---- */

static void test_empty_file_gives_the_defaults(void)
{
    struct config cfg;
    char err[512];
    CHECK_INT(load_text("-- nothing set: every default applies\n", &cfg, err, sizeof err), 0);
    CHECK_STR(err, "");
    CHECK_STR(cfg.listen_host, "127.0.0.1");
    CHECK_INT(cfg.listen_port, 8080);
    CHECK_STR(cfg.data_dir, "data");
    CHECK_INT(cfg.map_size, 256LL * 1024 * 1024);
    CHECK_INT(cfg.map_size_max, 16LL * 1024 * 1024 * 1024); /* conf/ctgd.conf says so */
    CHECK_INT(cfg.limits.body_max, 1024 * 1024);
    CHECK_INT(cfg.limits.timeout, 30);
    CHECK_INT(cfg.limits.connections, 1024);
    CHECK_INT(cfg.limits.result_cache, 16 * 1024 * 1024); /* conf/ctgd.conf and the default */
    CHECK_INT(cfg.n_tokens, 0);
    CHECK_STR(cfg.events_bind, "tcp://127.0.0.1:5560");
    CHECK(cfg.events_heartbeat == 5.0);
    CHECK(cfg.plugin_dirs != NULL && cfg.plugin_dirs[0] == NULL);
    CHECK_INT(cfg.log_level, LOG_INFO);
    config_free(&cfg);
}

#define SHA_CAF29 "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define SHA_LECTURE "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
#define SHA_OPS   "60303AE22B998861BCE3B28F33EEC1BE758A213C86C93C076DBE9F558C11C752"

static const char full_conf[] =
    "-- ctgd of the Caf du Finistère\n"
    "listen = \"[::1]:9000\"\n"
    "data_dir = \"/var/lib/ctgd\"\n"
    "map_size = 64 * 1024 * 1024\n"
    "events = { bind = \"ipc:///run/ctgd/events.ipc\", heartbeat = 2 }\n"
    "plugins = { \"a\", \"b\" }\n"
    "limits = { body_max = 2048, timeout = 5, connections = 64, result_cache = 0 }\n"
    "log_level = \"debug\"\n"
    "tokens = {\n"
    "  { name = \"caf29\", sha256 = \"" SHA_CAF29 "\", role = \"editor\",\n"
    "    departments = { \"29\", \"2A\", \"974\" } },\n"
    "  { name = \"ops\", sha256 = \"" SHA_OPS "\", role = \"admin\", departments = \"*\" },\n"
    "  { name = \"lecture\", sha256 = \"" SHA_LECTURE "\", role = \"reader\", departments = {} },\n"
    "}\n";

static void test_full_file_is_read_exactly(void)
{
    struct config cfg;
    char err[512];
    CHECK_INT(load_text(full_conf, &cfg, err, sizeof err), 0);
    CHECK_STR(err, "");
    CHECK_STR(cfg.listen_host, "::1");
    CHECK_INT(cfg.listen_port, 9000);
    CHECK_STR(cfg.data_dir, "/var/lib/ctgd");
    CHECK_INT(cfg.map_size, 64LL * 1024 * 1024);
    CHECK_INT(cfg.map_size_max, 16LL * 1024 * 1024 * 1024); /* the default: above map_size */
    CHECK_STR(cfg.events_bind, "ipc:///run/ctgd/events.ipc");
    CHECK(cfg.events_heartbeat == 2.0);
    CHECK(cfg.plugin_dirs != NULL);
    if (cfg.plugin_dirs) {
        CHECK_STR(cfg.plugin_dirs[0], "a");
        CHECK_STR(cfg.plugin_dirs[1], "b");
        CHECK(cfg.plugin_dirs[1] && cfg.plugin_dirs[2] == NULL);
    }
    CHECK_INT(cfg.limits.body_max, 2048);
    CHECK_INT(cfg.limits.timeout, 5);
    CHECK_INT(cfg.limits.connections, 64);
    CHECK_INT(cfg.limits.result_cache, 0);
    CHECK_INT(cfg.log_level, LOG_DEBUG);
    CHECK_INT(cfg.n_tokens, 3);
    if (cfg.n_tokens == 3) {
        const struct token *t = &cfg.tokens[0];
        static const uint8_t caf29[32] = {
            0x9f, 0x86, 0xd0, 0x81, 0x88, 0x4c, 0x7d, 0x65, 0x9a, 0x2f, 0xea,
            0xa0, 0xc5, 0x5a, 0xd0, 0x15, 0xa3, 0xbf, 0x4f, 0x1b, 0x2b, 0x0b,
            0x82, 0x2c, 0xd1, 0x5d, 0x6c, 0x15, 0xb0, 0xf0, 0x0a, 0x08,
        };
        static const uint8_t ops[32] = { /* upper-case hex reads the same */
            0x60, 0x30, 0x3a, 0xe2, 0x2b, 0x99, 0x88, 0x61, 0xbc, 0xe3, 0xb2,
            0x8f, 0x33, 0xee, 0xc1, 0xbe, 0x75, 0x8a, 0x21, 0x3c, 0x86, 0xc9,
            0x3c, 0x07, 0x6d, 0xbe, 0x9f, 0x55, 0x8c, 0x11, 0xc7, 0x52,
        };
        CHECK_STR(t->name, "caf29");
        CHECK(memcmp(t->sha256, caf29, 32) == 0);
        CHECK_INT(t->role, ROLE_EDITOR);
        CHECK(!t->all_departments);
        CHECK(t->departments != NULL);
        if (t->departments) {
            CHECK_STR(t->departments[0], "29");
            CHECK_STR(t->departments[1], "2A");
            CHECK_STR(t->departments[2], "974");
            CHECK(t->departments[2] && t->departments[3] == NULL);
        }
        t = &cfg.tokens[1];
        CHECK_STR(t->name, "ops");
        CHECK(memcmp(t->sha256, ops, 32) == 0);
        CHECK_INT(t->role, ROLE_ADMIN);
        CHECK(t->all_departments);
        t = &cfg.tokens[2];
        CHECK_STR(t->name, "lecture");
        CHECK(t->sha256[0] == 0x2c && t->sha256[31] == 0xae);
        CHECK_INT(t->role, ROLE_READER);
        CHECK(!t->all_departments);
        CHECK(t->departments != NULL && t->departments[0] == NULL); /* no department at all */
    }
    config_free(&cfg);
    CHECK(cfg.listen_host == NULL && cfg.tokens == NULL && cfg.n_tokens == 0);
}

static void test_map_size_max_follows_a_large_map_size(void)
{
    struct config cfg;
    char err[512];
    /* Without map_size_max, a map_size above its default raises it; with one, it is kept. */
    CHECK_INT(load_text("map_size = 32 * 1024 * 1024 * 1024\n", &cfg, err, sizeof err), 0);
    CHECK_INT(cfg.map_size, 32LL << 30);
    CHECK_INT(cfg.map_size_max, 32LL << 30);
    config_free(&cfg);
    CHECK_INT(load_text("map_size = 1024 * 1024\nmap_size_max = 8 * 1024 * 1024\n", &cfg, err,
                        sizeof err), 0);
    CHECK_INT(cfg.map_size, 1LL << 20);
    CHECK_INT(cfg.map_size_max, 8LL << 20);
    config_free(&cfg);
}

static void test_config_can_compute_with_locals(void)
{
    struct config cfg;
    char err[512];
    /* Plain Lua: locals and arithmetic work; a local does not become a key. */
    CHECK_INT(load_text("local MiB = 1024 * 1024\n"
                        "map_size = 128 * MiB\n"
                        "limits = { body_max = 4 * MiB }\n",
                        &cfg, err, sizeof err), 0);
    CHECK_INT(cfg.map_size, 128LL << 20);
    CHECK_INT(cfg.limits.body_max, 4LL << 20);
    config_free(&cfg);
}

/* ---- what a bad file gives ---- */

/* Loads `text`, which must fail with a message naming the file and containing each of `words`. */
static void check_refused(int line, const char *text, const char *const words[])
{
    struct config cfg;
    char err[512];
    memset(&cfg, 0x5a, sizeof cfg);
    int rc = load_text(text, &cfg, err, sizeof err);
    bool ok = rc == -1 && strstr(err, conf_path) != NULL;
    for (size_t i = 0; words[i]; i++)
        ok = ok && strstr(err, words[i]) != NULL;
    if (!ok)
        fprintf(stderr, "line %d: config_load gave %d, \"%s\" for:\n%s\n", line, rc, err, text);
    CHECK_INT(rc, -1);
    CHECK(strstr(err, conf_path) != NULL);
    for (size_t i = 0; words[i]; i++)
        CHECK(strstr(err, words[i]) != NULL);
    if (rc == 0) {
        config_free(&cfg);
        return;
    }
    /* Nothing is left to free: the config is emptied. */
    CHECK(cfg.listen_host == NULL && cfg.data_dir == NULL && cfg.tokens == NULL &&
          cfg.plugin_dirs == NULL && cfg.n_tokens == 0);
}

#define REFUSED(text, ...) check_refused(__LINE__, text, (const char *const[]){__VA_ARGS__, NULL})

#define TOKEN_OK "sha256 = \"" SHA_CAF29 "\""

static void test_lua_syntax_error_is_reported_with_its_line(void)
{
    REFUSED("listen = \"127.0.0.1:8080\"\ndata_dir = \n", ":3:");
    REFUSED("events = { bind = \"tcp://127.0.0.1:5560\" \n", "'}' expected");
}

static void test_unknown_keys_are_refused(void)
{
    REFUSED("lisen = \"127.0.0.1:8080\"\n", "lisen", "unknown key");
    REFUSED("limits = { body_max = 2048, timout = 5 }\n", "limits.timout", "unknown key");
    REFUSED("events = { bind = \"tcp://127.0.0.1:5560\", hearbeat = 2 }\n", "events.hearbeat",
            "unknown key");
    REFUSED("tokens = { { name = \"a\", " TOKEN_OK ", role = \"admin\", departments = \"*\", "
            "dept = \"29\" } }\n", "tokens[1].dept", "unknown key");
}

static void test_bad_listen_values_are_refused(void)
{
    REFUSED("listen = \"nohost\"\n", "listen", "nohost");
    REFUSED("listen = \"127.0.0.1:99999\"\n", "listen", "99999");
    REFUSED("listen = \"127.0.0.1:0\"\n", "listen");
    REFUSED("listen = \":8080\"\n", "listen");
    REFUSED("listen = \"127.0.0.1:80x\"\n", "listen");
    REFUSED("listen = \"[::1:9000\"\n", "listen");
    REFUSED("listen = 8080\n", "listen", "string");
}

static void test_bad_tokens_are_refused(void)
{
    REFUSED("tokens = { { name = \"caf29\", " TOKEN_OK ", role = \"superuser\", "
            "departments = { \"29\" } } }\n",
            "tokens[1].role", "superuser");
    REFUSED("tokens = { { name = \"caf29\", sha256 = \"9f86d081884c7d65\", role = \"editor\", "
            "departments = { \"29\" } } }\n",
            "tokens[1].sha256");
    /* 64 characters, but not all hex digits */
    REFUSED("tokens = { { name = \"caf29\", "
            "sha256 = \"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00aXY\", "
            "role = \"editor\", departments = { \"29\" } } }\n",
            "tokens[1].sha256");
    REFUSED("tokens = { { name = \"caf29\", "
            "sha256 = \" 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0\", "
            "role = \"editor\", departments = { \"29\" } } }\n",
            "tokens[1].sha256");
    REFUSED("tokens = { { name = \"caf29\", " TOKEN_OK ", role = \"editor\", "
            "departments = { \"29\", \"20\" } } }\n",
            "tokens[1].departments[2]", "\"20\"");
    REFUSED("tokens = { { name = \"caf29\", " TOKEN_OK ", role = \"editor\" } }\n",
            "tokens[1].departments", "required");
    REFUSED("tokens = {\n"
            "  { name = \"caf29\", " TOKEN_OK ", role = \"editor\", departments = { \"29\" } },\n"
            "  { name = \"ops\", sha256 = \"" SHA_OPS "\", role = \"admin\", departments = \"*\" },\n"
            "  { name = \"caf29\", sha256 = \"" SHA_LECTURE "\", role = \"reader\", departments = \"*\" },\n"
            "}\n",
            "tokens[3].name", "caf29", "twice");
    /* A mistyped tokens table must not leave the API open. */
    REFUSED("tokens = { admin = { " TOKEN_OK ", role = \"admin\", departments = \"*\" } }\n",
            "tokens", "list");
    REFUSED("tokens = { name = \"admin\", " TOKEN_OK ", role = \"admin\", departments = \"*\" }\n",
            "tokens", "list");
    REFUSED("tokens = {}\n", "tokens", "non-empty");
    /* Two names for one token would make its holder's rights depend on the order. */
    REFUSED("tokens = {\n"
            "  { name = \"caf29\", " TOKEN_OK ", role = \"editor\", departments = { \"29\" } },\n"
            "  { name = \"ops\", " TOKEN_OK ", role = \"admin\", departments = \"*\" },\n"
            "}\n",
            "tokens[2].sha256", "tokens[1]");
    REFUSED("tokens = { { name = \"caf29\", " TOKEN_OK ", role = \"editor\", "
            "departments = { \"29\", other = \"49\" } } }\n",
            "tokens[1].departments", "list");
    REFUSED("tokens = { { " TOKEN_OK ", role = \"reader\", departments = \"*\" } }\n",
            "tokens[1].name", "required");
}

static void test_bad_sizes_and_levels_are_refused(void)
{
    REFUSED("map_size = 64 * 1024 * 1024\nmap_size_max = 32 * 1024 * 1024\n", "map_size_max");
    REFUSED("map_size = 1024\n", "map_size");
    REFUSED("log_level = \"loud\"\n", "log_level");
    REFUSED("limits = { body_max = \"1M\" }\n", "limits.body_max");
    REFUSED("limits = { timeout = 0 }\n", "limits.timeout");
    REFUSED("limits = { connections = 4 }\n", "limits.connections");
    REFUSED("limits = { result_cache = -1 }\n", "limits.result_cache");
    REFUSED("limits = { connections = 1.5e9 }\n", "limits.connections");
    REFUSED("events = { heartbeat = 1/0 }\n", "events.heartbeat");
    REFUSED("plugins = { \"plugins\", 42 }\n", "plugins[2]");
    REFUSED("limits = 5\n", "limits", "table");
}

static void test_not_a_number_is_refused(void)
{
    /* 0/0 is NaN: it is below no minimum and above no maximum, yet within no range either. */
    REFUSED("events = { heartbeat = 0/0 }\n", "events.heartbeat");
    REFUSED("map_size_max = 0/0\n", "map_size_max");
}

static void test_endless_configuration_fails_instead_of_hanging(void)
{
    REFUSED("while true do end\n", "too long");
    REFUSED("local function f() return f() end\nf()\n", "too long");
}

static void test_configuration_reaches_no_library(void)
{
    char marker[4300], text[4600];
    snprintf(marker, sizeof marker, "%s/pwned", tmp_dir);
    snprintf(text, sizeof text, "os.execute(\"touch %s\")\n", marker);
    REFUSED(text, "os");
    CHECK(access(marker, F_OK) != 0);
    snprintf(text, sizeof text, "local f = io.open(\"%s\", \"w\")\nf:write(\"x\")\nf:close()\n",
             marker);
    REFUSED(text, "io");
    CHECK(access(marker, F_OK) != 0);
    REFUSED("local lfs = require(\"lfs\")\n", "require");
    REFUSED("dofile(\"/etc/passwd\")\n", "dofile");
    REFUSED("listen = string.format(\"%s:%d\", \"127.0.0.1\", 8080)\n", "string");
}

static void test_missing_file_is_reported(void)
{
    struct config cfg;
    char err[512], path[4300];
    snprintf(path, sizeof path, "%s/absent.conf", tmp_dir);
    CHECK_INT(config_load(path, &cfg, err, sizeof err), -1);
    CHECK(strstr(err, path) != NULL);
    CHECK(cfg.listen_host == NULL && cfg.tokens == NULL);
}

/* ---- loopback ---- */

static void test_loopback_hosts(void)
{
    CHECK(config_host_is_loopback("127.0.0.1"));
    CHECK(config_host_is_loopback("127.1.2.3"));
    CHECK(config_host_is_loopback("::1"));
    CHECK(config_host_is_loopback("localhost"));
    CHECK(!config_host_is_loopback("0.0.0.0"));
    CHECK(!config_host_is_loopback("10.0.0.1"));
    CHECK(!config_host_is_loopback("::"));
    CHECK(!config_host_is_loopback("192.168.1.27"));
    CHECK(!config_host_is_loopback("1.127.0.0"));
}

static void test_host_names_beginning_with_127_are_not_loopback(void)
{
    /* listen takes a host name too (evhttp resolves it): a name is not an address in 127/8. */
    CHECK(!config_host_is_loopback("127.0.0.1.nip.io"));
    CHECK(!config_host_is_loopback("127.example.com"));
}

int main(void)
{
    tmp_setup();
    test_empty_file_gives_the_defaults();
    test_full_file_is_read_exactly();
    test_map_size_max_follows_a_large_map_size();
    test_config_can_compute_with_locals();
    test_lua_syntax_error_is_reported_with_its_line();
    test_unknown_keys_are_refused();
    test_bad_listen_values_are_refused();
    test_bad_tokens_are_refused();
    test_bad_sizes_and_levels_are_refused();
    test_not_a_number_is_refused();
    test_endless_configuration_fails_instead_of_hanging();
    test_configuration_reaches_no_library();
    test_missing_file_is_reported();
    test_loopback_hosts();
    test_host_names_beginning_with_127_are_not_loopback();
    unlink(conf_path);
    rmdir(tmp_dir);
    return check_summary("test_config");
}
