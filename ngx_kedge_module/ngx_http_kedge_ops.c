
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 *
 * The ops endpoints: kedge_health (the process answers), kedge_ready
 * (every backend fed at run time has been synced at least once, so
 * traffic sent here can be routed) and kedge_version.
 */


#include "ngx_http_kedge_module.h"


static ngx_int_t ngx_http_kedge_health_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_kedge_ready_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_kedge_version_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_kedge_ops_reply(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *body);


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
