/*
 * test_auth.c — bearer tokens and the role × department rules of core/auth.c (SPEC §3, "Auth").
 *
 * The configuration is built by hand, as config_load() would leave it: each token known only by
 * the SHA-256 of its text.
 */
#include "ctg/auth.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"

static void to_hex(const uint8_t digest[32], char out[65])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = digits[digest[i] >> 4];
        out[2 * i + 1] = digits[digest[i] & 0xf];
    }
    out[64] = '\0';
}

static void check_sha256(const char *text, const char *expected_hex)
{
    uint8_t digest[32];
    char hex[65];
    auth_sha256(text, strlen(text), digest);
    to_hex(digest, hex);
    CHECK_STR(hex, expected_hex);
}

/* FIPS 180-2, Appendix B.1 and B.2, and the digest of the empty message. */
static void test_sha256_matches_fips_180_2_vectors(void)
{
    check_sha256("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    check_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    check_sha256("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* ---- a configuration with three tokens ---- */

static char dep_29[] = "29", dep_2a[] = "2A";
static char *scope_29[] = {dep_29, NULL};
static char *scope_29_2a[] = {dep_29, dep_2a, NULL};
static char name_reader[] = "lecture-29", name_editor[] = "caf29", name_admin[] = "ops";

static const char secret_reader[] = "r3ad-only-5f0c2a9b7e1d";
static const char secret_editor[] = "caf29-e8b1d4c07a66f3";
static const char secret_admin[] = "ops-91c4ee02d7b85a";

static struct token tokens[3];
static struct config cfg_with_tokens;

static void build_config(void)
{
    tokens[0] = (struct token){.name = name_reader, .role = ROLE_READER, .departments = scope_29};
    tokens[1] = (struct token){.name = name_editor, .role = ROLE_EDITOR,
                               .departments = scope_29_2a};
    tokens[2] = (struct token){.name = name_admin, .role = ROLE_ADMIN, .all_departments = true};
    auth_sha256(secret_reader, strlen(secret_reader), tokens[0].sha256);
    auth_sha256(secret_editor, strlen(secret_editor), tokens[1].sha256);
    auth_sha256(secret_admin, strlen(secret_admin), tokens[2].sha256);
    memset(&cfg_with_tokens, 0, sizeof cfg_with_tokens);
    cfg_with_tokens.tokens = tokens;
    cfg_with_tokens.n_tokens = 3;
}

/* Authenticates `header`; the token found, or NULL, goes to *who. */
static enum auth_result authenticate(const struct config *cfg, const char *header,
                                     const struct token **who)
{
    *who = NULL;
    return auth_authenticate(cfg, header, who);
}

static void test_missing_credentials_are_told_apart_from_wrong_ones(void)
{
    const struct token *who;
    CHECK_INT(authenticate(&cfg_with_tokens, NULL, &who), AUTH_MISSING);
    CHECK(who == NULL);
    CHECK_INT(authenticate(&cfg_with_tokens, "", &who), AUTH_MISSING);
    CHECK_INT(authenticate(&cfg_with_tokens, "Basic Y2FmMjk6c2VjcmV0", &who), AUTH_MISSING);
    CHECK_INT(authenticate(&cfg_with_tokens, "Bearer ", &who), AUTH_MISSING);
    CHECK_INT(authenticate(&cfg_with_tokens, "Bearer", &who), AUTH_MISSING);
    CHECK(who == NULL);
}

static void test_unknown_tokens_are_refused(void)
{
    const struct token *who;
    CHECK_INT(authenticate(&cfg_with_tokens, "Bearer not-a-configured-token", &who), AUTH_UNKNOWN);
    CHECK(who == NULL);
    /* A prefix of a real token, or the token with a character more, is another token. */
    CHECK_INT(authenticate(&cfg_with_tokens, "Bearer caf29-e8b1d4c07a66f", &who), AUTH_UNKNOWN);
    CHECK_INT(authenticate(&cfg_with_tokens, "Bearer caf29-e8b1d4c07a66f3x", &who), AUTH_UNKNOWN);
    /* The hash the configuration holds is not itself a credential. */
    char header[80], hex[65];
    to_hex(tokens[1].sha256, hex);
    snprintf(header, sizeof header, "Bearer %s", hex);
    CHECK_INT(authenticate(&cfg_with_tokens, header, &who), AUTH_UNKNOWN);
    CHECK(who == NULL);
}

static void test_each_token_finds_its_own_entry(void)
{
    const struct token *who;
    char header[80];
    const char *secrets[3] = {secret_reader, secret_editor, secret_admin};
    for (size_t i = 0; i < 3; i++) {
        snprintf(header, sizeof header, "Bearer %s", secrets[i]);
        CHECK_INT(authenticate(&cfg_with_tokens, header, &who), AUTH_OK);
        CHECK(who == &tokens[i]);
    }
    CHECK_INT(authenticate(&cfg_with_tokens, "Bearer caf29-e8b1d4c07a66f3", &who), AUTH_OK);
    CHECK_STR(who ? who->name : NULL, "caf29");
    CHECK_INT(who ? (long long)who->role : -1, ROLE_EDITOR);
}

static void test_bearer_scheme_is_case_insensitive(void)
{
    const struct token *who;
    CHECK_INT(authenticate(&cfg_with_tokens, "bearer ops-91c4ee02d7b85a", &who), AUTH_OK);
    CHECK(who == &tokens[2]);
    CHECK_INT(authenticate(&cfg_with_tokens, "BEARER ops-91c4ee02d7b85a", &who), AUTH_OK);
    CHECK(who == &tokens[2]);
    /* ...but the token itself is compared exactly. */
    CHECK_INT(authenticate(&cfg_with_tokens, "Bearer OPS-91C4EE02D7B85A", &who), AUTH_UNKNOWN);
}

static void test_no_tokens_configured_means_anonymous_admin(void)
{
    struct config open_cfg;
    memset(&open_cfg, 0, sizeof open_cfg);
    const struct token *who;
    const char *headers[] = {NULL, "Bearer whatever", "Basic xyz"};
    for (size_t i = 0; i < 3; i++) {
        CHECK_INT(authenticate(&open_cfg, headers[i], &who), AUTH_OK);
        if (!who)
            continue;
        CHECK_STR(who->name, "anonymous");
        CHECK_INT(who->role, ROLE_ADMIN);
        CHECK(who->all_departments);
        CHECK(auth_is_admin(who));
        CHECK(auth_can_write(who, "29"));
        CHECK(auth_can_write(who, "974"));
        CHECK(auth_can_read(who, "2B"));
    }
}

/* ---- the role × department matrix ---- */

struct matrix_row {
    enum role role;
    bool all_departments;
    /* expected answers for department 29, then 49 */
    bool read_29, read_49, write_29, write_49, admin;
};

static const struct matrix_row matrix[] = {
    /* role          "*"    read29 read49 write29 write49 admin */
    {ROLE_READER, false, true, false, false, false, false},
    {ROLE_EDITOR, false, true, false, true, false, false},
    {ROLE_ADMIN, false, true, false, true, false, true},
    {ROLE_READER, true, true, true, false, false, false},
    {ROLE_EDITOR, true, true, true, true, true, false},
    {ROLE_ADMIN, true, true, true, true, true, true},
};

static void test_role_by_department_matrix(void)
{
    for (size_t i = 0; i < sizeof matrix / sizeof matrix[0]; i++) {
        const struct matrix_row *m = &matrix[i];
        struct token t = {.name = name_editor, .role = m->role,
                          .all_departments = m->all_departments,
                          .departments = m->all_departments ? NULL : scope_29};
        if (auth_can_read(&t, "29") != m->read_29 || auth_can_read(&t, "49") != m->read_49 ||
            auth_can_write(&t, "29") != m->write_29 || auth_can_write(&t, "49") != m->write_49 ||
            auth_is_admin(&t) != m->admin)
            fprintf(stderr, "matrix row %zu (role %d, all %d) differs\n", i, (int)m->role,
                    (int)m->all_departments);
        CHECK_INT(auth_can_read(&t, "29"), m->read_29);
        CHECK_INT(auth_can_read(&t, "49"), m->read_49);
        CHECK_INT(auth_can_write(&t, "29"), m->write_29);
        CHECK_INT(auth_can_write(&t, "49"), m->write_49);
        CHECK_INT(auth_is_admin(&t), m->admin);
    }
}

static void test_department_codes_are_compared_exactly(void)
{
    /* Scope {29, 2A}: "2" and "290" are not 29, "2a" is not 2A. */
    const struct token *editor = &tokens[1];
    CHECK(auth_can_write(editor, "2A"));
    CHECK(!auth_can_write(editor, "2a"));
    CHECK(!auth_can_write(editor, "2B"));
    CHECK(!auth_can_read(editor, "2"));
    CHECK(!auth_can_read(editor, "290"));
    CHECK(!auth_can_read(editor, ""));
}

int main(void)
{
    build_config();
    test_sha256_matches_fips_180_2_vectors();
    test_missing_credentials_are_told_apart_from_wrong_ones();
    test_unknown_tokens_are_refused();
    test_each_token_finds_its_own_entry();
    test_bearer_scheme_is_case_insensitive();
    test_no_tokens_configured_means_anonymous_admin();
    test_role_by_department_matrix();
    test_department_codes_are_compared_exactly();
    return check_summary("test_auth");
}
