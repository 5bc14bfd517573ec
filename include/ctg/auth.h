/*
 * auth.h — who is asking, and what they may do (SPEC §3, "Auth").
 *
 * A request names its token in `Authorization: Bearer <token>`. The configuration holds only
 * each token's SHA-256; a presented token is hashed and compared with every configured hash in
 * constant time. With no token configured, every request acts as the built-in `anonymous`
 * admin (and the server listens on loopback only).
 */
#ifndef CTG_AUTH_H
#define CTG_AUTH_H

#include "ctg/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum auth_result { AUTH_OK, AUTH_MISSING, AUTH_UNKNOWN };

/*
 * Finds the token for an Authorization header value (NULL when absent). On AUTH_OK `*who` is
 * the matching configured token, or the anonymous admin when no token is configured.
 */
enum auth_result auth_authenticate(const struct config *cfg, const char *authorization,
                                   const struct token **who);

/* Any role reads in its departments; editors and admins write there too. */
bool auth_can_read(const struct token *who, const char *department);
bool auth_can_write(const struct token *who, const char *department);
/* Admins alone manage the server (plugin reloads). */
bool auth_is_admin(const struct token *who);

void auth_sha256(const void *data, size_t len, uint8_t out[32]);

#endif
