
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 *
 * Key sets and signed tokens, checked strictly before cjose sees them:
 * plain C on jansson, cjose and OpenSSL, without nginx, so that unit
 * tests and fuzzers link it.
 */


#ifndef _NGX_KEDGE_JOSE_H_INCLUDED_
#define _NGX_KEDGE_JOSE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <time.h>


#define NGX_KEDGE_JOSE_OK            0
#define NGX_KEDGE_JOSE_ERROR        -1    /* out of memory */
#define NGX_KEDGE_JOSE_DENY         -2    /* refused, "reason" says why */
#define NGX_KEDGE_JOSE_UNKNOWN_KID  -3    /* no key of that kid (yet) */


/* the signature algorithms, as a set */
#define NGX_KEDGE_JOSE_RS256        0x0001
#define NGX_KEDGE_JOSE_RS384        0x0002
#define NGX_KEDGE_JOSE_RS512        0x0004
#define NGX_KEDGE_JOSE_PS256        0x0008
#define NGX_KEDGE_JOSE_PS384        0x0010
#define NGX_KEDGE_JOSE_PS512        0x0020
#define NGX_KEDGE_JOSE_ES256        0x0040
#define NGX_KEDGE_JOSE_ES384        0x0080
#define NGX_KEDGE_JOSE_ES512        0x0100

#define NGX_KEDGE_JOSE_RSA_ALGS     0x003f
#define NGX_KEDGE_JOSE_ALL_ALGS     0x01ff

#define NGX_KEDGE_JOSE_MAX_KEYS     64
#define NGX_KEDGE_JOSE_KID_LEN      128
#define NGX_KEDGE_JOSE_SUB_LEN      255
#define NGX_KEDGE_JOSE_RSA_MIN_BITS 2048
#define NGX_KEDGE_JOSE_RSA_MAX_BITS 16384


typedef struct ngx_kedge_jwks_s  ngx_kedge_jwks_t;


/* a key left out of a set, and why; for the fetcher's log */
typedef void (*ngx_kedge_jwks_skip_pt)(void *data, const char *kid,
    const char *why);


/* what a token must satisfy; compiled from the configuration */
typedef struct {
    const char                     *issuer;
    const char                     *client_id;
    const char                     *perms_claim;
    const char                    **allow;        /* permissions */
    size_t                          nallow;
    unsigned                        algs;
    long                            leeway;       /* seconds */
    size_t                          max_size;     /* the token */
} ngx_kedge_jwt_policy_t;


typedef struct {
    const char                     *reason;       /* static text */
    int64_t                         exp;
    char                            kid[NGX_KEDGE_JOSE_KID_LEN + 1];
    char                            sub[NGX_KEDGE_JOSE_SUB_LEN + 1];
    size_t                          sub_len;      /* 0: none, or not
                                                     printable */
} ngx_kedge_jwt_result_t;


unsigned ngx_kedge_jose_alg(const char *name, size_t len);
const char *ngx_kedge_jose_alg_name(unsigned alg);

/*
 * Strict base64url (RFC 7515, appendix C): the URL-safe alphabet only,
 * no padding, unused bits zero.  "out" holds at least len * 3 / 4 bytes.
 */
int ngx_kedge_jose_b64url_decode(const char *in, size_t len, uint8_t *out,
    size_t *out_len);

/*
 * A JWS ECDSA signature (RFC 7518, 3.4: R then S, "len" bytes each, at
 * most 66, big-endian) as the DER ECDSA-Sig-Value OpenSSL verifies, into
 * "out" (at least 2 * len + 9 bytes); its length, or 0 when R or S is
 * zero or not below "order" (the group's order, "len" bytes big-endian).
 */
size_t ngx_kedge_jose_ecdsa_der(const uint8_t *sig, size_t len,
    const uint8_t *order, uint8_t *out);

/*
 * Parses a JWK Set; keys that cannot be used safely with "algs" are
 * skipped (and reported), the rest kept.  The set may be empty.  With
 * "json", the kept keys as a JWK Set document (malloc()ed).
 */
ngx_kedge_jwks_t *ngx_kedge_jwks_parse(const char *data, size_t len,
    unsigned algs, ngx_kedge_jwks_skip_pt skip, void *skip_data,
    char **json, const char **err);
size_t ngx_kedge_jwks_count(ngx_kedge_jwks_t *keys);
const char *ngx_kedge_jwks_kid(ngx_kedge_jwks_t *keys, size_t i);
int ngx_kedge_jwks_contains(ngx_kedge_jwks_t *keys, ngx_kedge_jwks_t *other,
    size_t i);
void ngx_kedge_jwks_free(ngx_kedge_jwks_t *keys);

int ngx_kedge_jwt_verify(const char *token, size_t len,
    ngx_kedge_jwks_t *keys, const ngx_kedge_jwt_policy_t *policy,
    time_t now, ngx_kedge_jwt_result_t *result);


#endif /* _NGX_KEDGE_JOSE_H_INCLUDED_ */
