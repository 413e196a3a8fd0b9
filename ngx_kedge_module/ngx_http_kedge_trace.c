
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 *
 * Following one request: X-Kedge-Request-ID, given by the client or
 * made here, sent to the backend and back to the client; and
 * X-Kedge-Info-Logs, which has kedge's decisions about that request
 * (route, authorization, endpoints, outcome) logged at info, whatever
 * the error_log's level.
 */


#include "ngx_http_kedge_module.h"

#include <openssl/err.h>
#include <openssl/rand.h>


/* a request id kept as given: 1 to 128 of [A-Za-z0-9._:-] */
#define NGX_HTTP_KEDGE_REQUEST_ID_LEN  128

/* a request id made here: 16 random bytes, 32 hex digits */
#define NGX_HTTP_KEDGE_ID_BYTES        16

/* the ids drawn from OpenSSL at once, per process */
#define NGX_HTTP_KEDGE_ID_BATCH        256


static ngx_table_elt_t *ngx_http_kedge_trace_header(ngx_http_request_t *r,
    char *lowcase, size_t len);
static ngx_int_t ngx_http_kedge_request_id_valid(ngx_str_t *id);
static ngx_int_t ngx_http_kedge_request_id_make(ngx_log_t *log, u_char *dst);
static ngx_int_t ngx_http_kedge_request_id_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_kedge_trace_header_filter(ngx_http_request_t *r);
static void ngx_http_kedge_vlog(ngx_http_request_t *r, ngx_uint_t level,
    const char *fmt, va_list args);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;


static ngx_str_t  ngx_http_kedge_request_id_name =
    ngx_string("kedge_request_id");


/*
 * The random bytes of the ids to come, drawn NGX_HTTP_KEDGE_ID_BATCH ids
 * at a time: RAND_bytes() costs about 6600 instructions for one id's 16
 * bytes (locks, parameters, the DRBG's AES key set up again) and 17 500
 * for 256 ids' 4 KB.  Each process draws its own: bytes drawn by another
 * process (one this process was forked from) are never used, so no two
 * workers can give the same ids.  A used id's bytes are wiped.
 */
static u_char      ngx_http_kedge_ids[NGX_HTTP_KEDGE_ID_BATCH
                                      * NGX_HTTP_KEDGE_ID_BYTES];
static ngx_uint_t  ngx_http_kedge_ids_left;
static ngx_pid_t   ngx_http_kedge_ids_pid;

/* "00" to "ff", a byte's two hex digits at twice its value */
static u_char      ngx_http_kedge_hex[512];


ngx_int_t
ngx_http_kedge_trace_add_variables(ngx_conf_t *cf)
{
    ngx_str_t                    name = ngx_string("request_id");
    ngx_http_variable_t         *var;
    ngx_http_kedge_main_conf_t  *kmcf;

    var = ngx_http_add_variable(cf, &ngx_http_kedge_request_id_name, 0);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_http_kedge_request_id_variable;

    kmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_kedge_module);

    kmcf->request_id_var = ngx_http_get_variable_index(cf, &name);
    if (kmcf->request_id_var == NGX_ERROR) {
        return NGX_ERROR;
    }

    kmcf->kedge_request_id_var =
               ngx_http_get_variable_index(cf, &ngx_http_kedge_request_id_name);
    if (kmcf->kedge_request_id_var == NGX_ERROR) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_kedge_trace_init(ngx_conf_t *cf, ngx_http_kedge_main_conf_t *kmcf)
{
    ngx_uint_t  i;

    for (i = 0; i < 256; i++) {
        ngx_http_kedge_hex[2 * i] = "0123456789abcdef"[i >> 4];
        ngx_http_kedge_hex[2 * i + 1] = "0123456789abcdef"[i & 0xf];
    }

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_kedge_trace_header_filter;

    return NGX_OK;
}


/* the first request header of that name, "lowcase" in lower case */

static ngx_table_elt_t *
ngx_http_kedge_trace_header(ngx_http_request_t *r, char *lowcase, size_t len)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncmp(h[i].lowcase_key, lowcase, len) == 0)
        {
            return &h[i];
        }
    }
}


static ngx_int_t
ngx_http_kedge_request_id_valid(ngx_str_t *id)
{
    u_char      ch;
    ngx_uint_t  i;

    if (id->len == 0 || id->len > NGX_HTTP_KEDGE_REQUEST_ID_LEN) {
        return NGX_DECLINED;
    }

    for (i = 0; i < id->len; i++) {
        ch = id->data[i];

        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
            || (ch >= '0' && ch <= '9')
            || ch == '-' || ch == '_' || ch == '.' || ch == ':')
        {
            continue;
        }

        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * $kedge_request_id: with "kedge_request_id on", the client's
 * X-Kedge-Request-ID when well-formed, else a new id, which nginx's
 * $request_id then is too; with "off", the client's header as sent, if
 * any.  Evaluated once per request (and kept across internal redirects,
 * as $request_id is).
 */

static ngx_int_t
ngx_http_kedge_request_id_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                      *p;
    ngx_table_elt_t             *h;
    ngx_http_kedge_ctx_t        *ctx;
    ngx_http_variable_value_t   *id;
    ngx_http_kedge_loc_conf_t   *klcf;
    ngx_http_kedge_main_conf_t  *kmcf;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kedge_module);

    /* a request kedge handles has had its headers read */

    ctx = ngx_http_get_module_ctx(r, ngx_http_kedge_module);

    h = ctx ? ctx->request_id
            : ngx_http_kedge_trace_header(r, "x-kedge-request-id",
                                          sizeof("x-kedge-request-id") - 1);

    if (h && (!klcf->request_id
              || ngx_http_kedge_request_id_valid(&h->value) == NGX_OK))
    {
        v->len = h->value.len;
        v->data = h->value.data;
        v->valid = 1;
        v->no_cacheable = 0;
        v->not_found = 0;

        return NGX_OK;
    }

    if (!klcf->request_id) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (h) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "kedge: X-Kedge-Request-ID replaced");

        ngx_http_kedge_info(r, "kedge: X-Kedge-Request-ID replaced: not 1 "
                            "to %d of [A-Za-z0-9._:-]",
                            NGX_HTTP_KEDGE_REQUEST_ID_LEN);
    }

    /*
     * nginx's $request_id and this id are one: the one already made, else
     * a new one that $request_id then has too
     */

    kmcf = ngx_http_get_module_main_conf(r, ngx_http_kedge_module);

    id = &r->variables[kmcf->request_id_var];

    if (!id->valid || id->not_found) {
        p = ngx_pnalloc(r->pool, 2 * NGX_HTTP_KEDGE_ID_BYTES);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (ngx_http_kedge_request_id_make(r->connection->log, p)
            != NGX_OK)
        {

            /* OpenSSL failed (and said why): nginx's own $request_id */

            id = ngx_http_get_indexed_variable(r, kmcf->request_id_var);

            if (id == NULL || id->not_found) {
                v->not_found = 1;
                return NGX_OK;
            }

            *v = *id;

            return NGX_OK;
        }

        id->len = 2 * NGX_HTTP_KEDGE_ID_BYTES;
        id->data = p;
        id->valid = 1;
        id->no_cacheable = 0;
        id->not_found = 0;
    }

    *v = *id;

    return NGX_OK;
}


/* a new id: 32 hex digits of 16 bytes from OpenSSL's CSPRNG */

static ngx_int_t
ngx_http_kedge_request_id_make(ngx_log_t *log, u_char *dst)
{
    u_char      *src;
    const char  *err;
    ngx_uint_t   i;

    if (ngx_http_kedge_ids_left == 0 || ngx_http_kedge_ids_pid != ngx_pid) {

        if (RAND_bytes(ngx_http_kedge_ids, sizeof(ngx_http_kedge_ids)) != 1) {
            err = ERR_reason_error_string(ERR_peek_last_error());
            ERR_clear_error();

            ngx_http_kedge_ids_left = 0;
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "kedge: RAND_bytes() failed: %s",
                          err ? err : "no reason given");
            return NGX_ERROR;
        }

        ngx_http_kedge_ids_left = NGX_HTTP_KEDGE_ID_BATCH;
        ngx_http_kedge_ids_pid = ngx_pid;
    }

    ngx_http_kedge_ids_left--;

    src = &ngx_http_kedge_ids[ngx_http_kedge_ids_left
                              * NGX_HTTP_KEDGE_ID_BYTES];

    for (i = 0; i < NGX_HTTP_KEDGE_ID_BYTES; i++) {
        ngx_memcpy(dst + 2 * i, &ngx_http_kedge_hex[2 * src[i]], 2);
    }

    ngx_memzero(src, NGX_HTTP_KEDGE_ID_BYTES);

    return NGX_OK;
}


/* the request id back to the client, in place of the backend's own */

static ngx_int_t
ngx_http_kedge_trace_header_filter(ngx_http_request_t *r)
{
    ngx_uint_t                   i;
    ngx_list_part_t             *part;
    ngx_table_elt_t             *h;
    ngx_http_variable_value_t   *id;
    ngx_http_kedge_loc_conf_t   *klcf;
    ngx_http_kedge_main_conf_t  *kmcf;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kedge_module);

    if (r != r->main || !klcf->pass || !klcf->request_id) {
        return ngx_http_next_header_filter(r);
    }

    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash
            && h[i].key.len == sizeof("X-Kedge-Request-ID") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "X-Kedge-Request-ID",
                               h[i].key.len)
               == 0)
        {
            h[i].hash = 0;
        }
    }

    kmcf = ngx_http_get_module_main_conf(r, ngx_http_kedge_module);

    id = ngx_http_get_indexed_variable(r, kmcf->kedge_request_id_var);

    if (id && !id->not_found && id->len) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "X-Kedge-Request-ID");
        h->value.data = id->data;
        h->value.len = id->len;
    }

    return ngx_http_next_header_filter(r);
}


/*
 * What the request's headers ask of kedge, read in one walk when its
 * context is made: the first X-Kedge-Request-ID, and the first
 * X-Kedge-Info-Logs, which asks for info logs with any value, as kedge
 * (winch sends "winch-$USER"), where "kedge_info_logs" allows it
 */

void
ngx_http_kedge_trace_request(ngx_http_request_t *r, ngx_http_kedge_ctx_t *ctx)
{
    ngx_uint_t                  i;
    ngx_list_part_t            *part;
    ngx_table_elt_t            *h, *info;
    ngx_http_kedge_loc_conf_t  *klcf;

    ctx->request_id = NULL;
    info = NULL;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("x-kedge-request-id") - 1
            && ctx->request_id == NULL
            && ngx_strncmp(h[i].lowcase_key, "x-kedge-request-id",
                           sizeof("x-kedge-request-id") - 1)
               == 0)
        {
            ctx->request_id = &h[i];

        } else if (h[i].key.len == sizeof("x-kedge-info-logs") - 1
                   && info == NULL
                   && ngx_strncmp(h[i].lowcase_key, "x-kedge-info-logs",
                                  sizeof("x-kedge-info-logs") - 1)
                      == 0)
        {
            info = &h[i];
        }
    }

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kedge_module);

    ctx->info_logs = (klcf->info_logs && info && info->value.len);
}


/*
 * A line about the request: at "level" where the error_log allows it,
 * and for a request with X-Kedge-Info-Logs whatever the error_log's
 * level.  The level of the connection's log, which is the request's
 * (an HTTP/2 stream has a connection and log of its own; an HTTP/1.1
 * connection's requests come one at a time), is raised only while the
 * line is written.
 */

void
ngx_http_kedge_log(ngx_http_request_t *r, ngx_uint_t level,
    const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    ngx_http_kedge_vlog(r, level, fmt, args);
    va_end(args);
}


/*
 * A line only for a request with X-Kedge-Info-Logs, kedge's decisions:
 * through ngx_http_kedge_info(), which has checked
 */

void
ngx_http_kedge_info_core(ngx_http_request_t *r, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    ngx_http_kedge_vlog(r, NGX_LOG_INFO, fmt, args);
    va_end(args);
}


static void
ngx_http_kedge_vlog(ngx_http_request_t *r, ngx_uint_t level,
    const char *fmt, va_list args)
{
    u_char                *p;
    ngx_log_t             *log;
    ngx_uint_t             saved, forced;
    ngx_http_kedge_ctx_t  *ctx;
    u_char                 msg[NGX_MAX_ERROR_STR];

    log = r->connection->log;

    ctx = ngx_http_get_module_ctx(r, ngx_http_kedge_module);
    forced = (ctx && ctx->info_logs);

    if (log->log_level < level && !forced) {
        return;
    }

    p = ngx_vslprintf(msg, msg + sizeof(msg), fmt, args);

    saved = log->log_level;

    if (log->log_level < level) {
        log->log_level = level;
    }

    ngx_log_error_core(level, log, 0, "%*s", (size_t) (p - msg), msg);

    log->log_level = saved;
}
