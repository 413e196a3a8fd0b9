
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 */


#ifndef _NGX_KEDGE_OIDC_H_INCLUDED_
#define _NGX_KEDGE_OIDC_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_kedge_store.h"
#include "ngx_kedge_curl.h"
#include "ngx_kedge_jose.h"


#define NGX_KEDGE_OIDC_POLICY_ID_LEN  16
#define NGX_KEDGE_OIDC_DIGEST_LEN     32        /* SHA-256: the cache's key */


/* an OIDC issuer: its keys, fetched by the fetcher, read by every worker */
typedef struct {
    ngx_str_t                       url;          /* exact, NUL-terminated */
    ngx_str_t                       ca_file;      /* empty: system CAs */
    ngx_msec_t                      refresh;      /* no Cache-Control */
    ngx_msec_t                      refresh_min;  /* bounds of max-age */
    ngx_msec_t                      refresh_max;
    time_t                          cooldown;     /* between refetches */
    ngx_msec_t                      kid_wait;     /* a request, for one */
    size_t                          max_size;     /* each document */
    ngx_uint_t                      declared;     /* kedge_oidc_issuer */

    ngx_kedge_store_t              *store;
    ngx_uint_t                      index;        /* in the store */

    /* per process: the parsed copy of the store's key set */
    ngx_kedge_jwks_t               *keys;
    ngx_uint_t                      generation;
    ngx_uint_t                      epoch;

    /* the fetcher's, in its process */
    ngx_log_t                      *log;
    ngx_kedge_curl_t               *curl;
    ngx_kedge_http_t                http;
    ngx_event_t                     timer;
    ngx_event_t                     poll;
    ngx_uint_t                      busy;
    ngx_uint_t                      discovering;
    ngx_uint_t                      failing;
    ngx_msec_t                      backoff;
    u_char                         *jwks_uri;
    u_char                         *buf;
    size_t                          buf_len;
    size_t                          buf_size;
} ngx_kedge_oidc_issuer_t;


/* what a kedge_oidc directive asks of a token */
typedef struct {
    ngx_kedge_oidc_issuer_t        *issuer;
    ngx_kedge_jwt_policy_t          jwt;
    u_char                          id[NGX_KEDGE_OIDC_POLICY_ID_LEN];
} ngx_kedge_oidc_policy_t;


ngx_int_t ngx_kedge_oidc_start(ngx_kedge_oidc_issuer_t *is,
    ngx_kedge_curl_t *curl, ngx_pool_t *pool, ngx_log_t *log);
void ngx_kedge_oidc_cleanup(void *data);

ngx_int_t ngx_kedge_oidc_cached(ngx_kedge_oidc_policy_t *policy,
    ngx_str_t *token, u_char *digest, u_char *sub, size_t *sub_len);
ngx_int_t ngx_kedge_oidc_verify(ngx_kedge_oidc_policy_t *policy,
    ngx_str_t *token, u_char *digest, ngx_uint_t may_wait, u_char *sub,
    size_t *sub_len, const char **reason, ngx_log_t *log);
ngx_uint_t ngx_kedge_oidc_attempts(ngx_kedge_oidc_issuer_t *is);
void ngx_kedge_oidc_exit_process(void);


#endif /* _NGX_KEDGE_OIDC_H_INCLUDED_ */
