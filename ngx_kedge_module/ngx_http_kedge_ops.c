
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 *
 * The ops endpoints: kedge_health (the process answers), kedge_ready
 * (every backend fed at run time has been synced at least once, so
 * traffic sent here can be routed) and kedge_version; and the text
 * buffers that kedge_metrics and kedge_status write their answers to.
 */


#include "ngx_http_kedge_module.h"


static ngx_int_t ngx_http_kedge_health_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_kedge_ready_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_kedge_version_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_kedge_ops_reply(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *body);
static ngx_int_t ngx_http_kedge_text_reserve(ngx_http_kedge_text_t *t,
    size_t size);


/* room enough for any line written with ngx_http_kedge_text_printf() */
#define NGX_HTTP_KEDGE_TEXT_LINE   4096
#define NGX_HTTP_KEDGE_TEXT_BUF    (64 * 1024)


char *
ngx_http_kedge_health_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    switch (cmd->name.data[sizeof("kedge_") - 1]) {

    case 'h':
        clcf->handler = ngx_http_kedge_health_handler;
        break;

    case 'r':
        clcf->handler = ngx_http_kedge_ready_handler;
        break;

    default: /* kedge_version */
        clcf->handler = ngx_http_kedge_version_handler;
        break;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_kedge_health_handler(ngx_http_request_t *r)
{
    ngx_str_t  body = ngx_string("ok\n");

    return ngx_http_kedge_ops_reply(r, NGX_HTTP_OK, &body);
}


static ngx_int_t
ngx_http_kedge_ready_handler(ngx_http_request_t *r)
{
    u_char                      *p;
    ngx_str_t                    body;
    ngx_uint_t                   i;
    ngx_kedge_store_t           *store;
    ngx_http_kedge_backend_t    *backend;
    ngx_http_kedge_main_conf_t  *kmcf;

    kmcf = ngx_http_get_module_main_conf(r, ngx_http_kedge_module);
    store = kmcf->store;
    backend = kmcf->backends.elts;

    for (i = 0; i < kmcf->backends.nelts; i++) {

        if (backend[i].index == NGX_ERROR
            || store->sh->backends[backend[i].index].state
               != NGX_KEDGE_STORE_NEVER)
        {
            continue;
        }

        p = ngx_pnalloc(r->pool, sizeof("not ready: backend \"\" never "
                                        "synced\n") - 1
                                 + backend[i].name.len);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        body.data = p;
        body.len = ngx_sprintf(p, "not ready: backend \"%V\" never synced\n",
                               &backend[i].name)
                   - p;

        return ngx_http_kedge_ops_reply(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        &body);
    }

    if (!ngx_http_kedge_discovery_ready(kmcf)) {
        ngx_str_set(&body, "not ready: discovery never synced\n");

        return ngx_http_kedge_ops_reply(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        &body);
    }

    ngx_str_set(&body, "ready\n");

    return ngx_http_kedge_ops_reply(r, NGX_HTTP_OK, &body);
}


static ngx_int_t
ngx_http_kedge_version_handler(ngx_http_request_t *r)
{
    ngx_str_t  body = ngx_string("{\"version\": \"" NGX_HTTP_KEDGE_VERSION
                                 "\", \"nginx\": \"" NGINX_VERSION "\"}\n");

    return ngx_http_kedge_ops_reply(r, NGX_HTTP_OK, &body);
}


static ngx_int_t
ngx_http_kedge_ops_reply(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *body)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    r->headers_out.status = status;
    r->headers_out.content_length_n = body->len;
    ngx_str_set(&r->headers_out.content_type, "text/plain");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = body->data;
    b->last = body->data + body->len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/*
 * An answer written piece by piece into a chain of buffers from the
 * request's pool; an allocation failure is remembered and reported by
 * ngx_http_kedge_text_send()
 */

void
ngx_http_kedge_text_init(ngx_http_kedge_text_t *t, ngx_http_request_t *r)
{
    ngx_memzero(t, sizeof(ngx_http_kedge_text_t));

    t->request = r;
    t->last = &t->out;
}


static ngx_int_t
ngx_http_kedge_text_reserve(ngx_http_kedge_text_t *t, size_t size)
{
    ngx_chain_t  *cl;

    if (t->error) {
        return NGX_ERROR;
    }

    if (t->buf && (size_t) (t->buf->end - t->buf->last) >= size) {
        return NGX_OK;
    }

    t->buf = ngx_create_temp_buf(t->request->pool,
                                 ngx_max(size, NGX_HTTP_KEDGE_TEXT_BUF));
    cl = ngx_alloc_chain_link(t->request->pool);

    if (t->buf == NULL || cl == NULL) {
        t->error = 1;
        return NGX_ERROR;
    }

    cl->buf = t->buf;
    cl->next = NULL;

    *t->last = cl;
    t->last = &cl->next;

    return NGX_OK;
}


/* a line of known bounds: ngx_sprintf()'s formats */

void
ngx_http_kedge_text_printf(ngx_http_kedge_text_t *t, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    if (ngx_http_kedge_text_reserve(t, NGX_HTTP_KEDGE_TEXT_LINE) != NGX_OK) {
        return;
    }

    va_start(args, fmt);
    p = ngx_vslprintf(t->buf->last, t->buf->end, fmt, args);
    va_end(args);

    t->len += p - t->buf->last;
    t->buf->last = p;
}


/*
 * A string of any length, escaped: as a JSON string (quotes included),
 * or as a Prometheus label value (backslash, double quote, line feed)
 */

void
ngx_http_kedge_text_escaped(ngx_http_kedge_text_t *t, ngx_str_t *s,
    ngx_uint_t json)
{
    u_char      *p, ch;
    size_t       size;
    ngx_uint_t   i;

    if (json) {
        size = s->len + ngx_escape_json(NULL, s->data, s->len) + 2;

    } else {
        size = 2 * s->len;
    }

    if (ngx_http_kedge_text_reserve(t, size) != NGX_OK) {
        return;
    }

    p = t->buf->last;

    if (json) {
        *p++ = '"';
        p = (u_char *) ngx_escape_json(p, s->data, s->len);
        *p++ = '"';

    } else {
        for (i = 0; i < s->len; i++) {
            ch = s->data[i];

            switch (ch) {

            case '\\':
            case '"':
                *p++ = '\\';
                *p++ = ch;
                break;

            case '\n':
                *p++ = '\\';
                *p++ = 'n';
                break;

            default:
                *p++ = ch;
            }
        }
    }

    t->len += p - t->buf->last;
    t->buf->last = p;
}


ngx_int_t
ngx_http_kedge_text_send(ngx_http_kedge_text_t *t, char *content_type)
{
    ngx_int_t            rc;
    ngx_http_request_t  *r;

    r = t->request;

    if (t->error || ngx_http_kedge_text_reserve(t, 0) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = t->len;
    r->headers_out.content_type.data = (u_char *) content_type;
    r->headers_out.content_type.len = ngx_strlen(content_type);
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    /* a scrape or a look at the status is never cached */

    if (ngx_http_kedge_no_cache(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    t->buf->last_buf = (r == r->main) ? 1 : 0;
    t->buf->last_in_chain = 1;

    return ngx_http_output_filter(r, t->out);
}


/* the method and body checks of every ops answer */

ngx_int_t
ngx_http_kedge_ops_request(ngx_http_request_t *r)
{
    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    return ngx_http_discard_request_body(r);
}


ngx_int_t
ngx_http_kedge_no_cache(ngx_http_request_t *r)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Cache-Control");
    ngx_str_set(&h->value, "no-store");

    return NGX_OK;
}
