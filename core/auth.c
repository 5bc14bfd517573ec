/*
 * auth.c — bearer tokens: hashing, constant-time lookup, and the role × department rules.
 */
#include "ctg/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct token anonymous = {
    .name = "anonymous", .role = ROLE_ADMIN, .all_departments = true,
};

void auth_sha256(const void *data, size_t len, uint8_t out[32])
{
    unsigned int out_len = 32;
    if (!EVP_Digest(data, len, out, &out_len, EVP_sha256(), NULL))
        abort(); /* SHA-256 is always available: a failure here is a broken libcrypto */
}

/* Returns the token after "Bearer " (scheme case-insensitive), or NULL. */
static const char *bearer_token(const char *authorization)
{
    if (strncasecmp(authorization, "Bearer ", 7) != 0)
        return NULL;
    const char *token = authorization + 7;
    while (*token == ' ')
        token++;
    return *token ? token : NULL;
}

enum auth_result auth_authenticate(const struct config *cfg, const char *authorization,
                                   const struct token **who)
{
    if (cfg->n_tokens == 0) {
        *who = &anonymous;
        return AUTH_OK;
    }
    const char *token = authorization ? bearer_token(authorization) : NULL;
    if (!token)
        return AUTH_MISSING;
    uint8_t digest[32];
    auth_sha256(token, strlen(token), digest);
    /* Every configured hash is compared, match or not, so timing tells nothing. */
    const struct token *found = NULL;
    for (size_t i = 0; i < cfg->n_tokens; i++)
        if (CRYPTO_memcmp(digest, cfg->tokens[i].sha256, sizeof digest) == 0)
            found = &cfg->tokens[i];
    if (!found)
        return AUTH_UNKNOWN;
    *who = found;
    return AUTH_OK;
}

static bool department_allowed(const struct token *who, const char *department)
{
    if (who->all_departments)
        return true;
    for (char **d = who->departments; d && *d; d++)
        if (strcmp(*d, department) == 0)
            return true;
    return false;
}

bool auth_can_read(const struct token *who, const char *department)
{
    return department_allowed(who, department);
}

bool auth_can_write(const struct token *who, const char *department)
{
    return who->role >= ROLE_EDITOR && department_allowed(who, department);
}

bool auth_is_admin(const struct token *who)
{
    return who->role == ROLE_ADMIN;
}
