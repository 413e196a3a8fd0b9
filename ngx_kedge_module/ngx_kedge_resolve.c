
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 *
 * The DNS resolvers of kedge, host= (A/AAAA, a fixed port) and srv=
 * (SRV, targets resolved to addresses), on nginx's own non-blocking
 * resolver.  Runs in the fetcher's process only, driven by a timer:
 * every answer is re-resolved as it expires, a failure keeps the last
 * good answer in the store and retries with back-off and jitter.
 */


#include "ngx_kedge_resolve.h"


#define NGX_KEDGE_RESOLVE_MAX_VALID     300


static void ngx_kedge_resolve_stop(void *data);
static void ngx_kedge_resolve_timer(ngx_event_t *ev);
static void ngx_kedge_resolve_handler(ngx_resolver_ctx_t *ctx);
static ngx_int_t ngx_kedge_resolve_answer(ngx_kedge_resolve_t *rs,
    ngx_resolver_ctx_t *ctx, ngx_pool_t *pool, ngx_array_t *addrs);
static ngx_int_t ngx_kedge_resolve_push(ngx_array_t *addrs,
    struct sockaddr *sockaddr, socklen_t socklen, in_port_t port);
static void ngx_kedge_resolve_retry(ngx_kedge_resolve_t *rs,
    ngx_log_t *log);


ngx_int_t
ngx_kedge_resolve_start(ngx_kedge_resolve_t *rs, ngx_pool_t *pool,
    ngx_log_t *log)
{
    ngx_pool_cleanup_t  *cln;

    /* the timer goes with the configuration that owns it */

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_kedge_resolve_stop;
    cln->data = rs;

    rs->timer.handler = ngx_kedge_resolve_timer;
    rs->timer.data = rs;
    rs->timer.log = log;

    /* a graceful exit never waits for the next resolution */
    rs->timer.cancelable = 1;

    rs->backoff = 0;

    ngx_add_timer(&rs->timer, 0);

    return NGX_OK;
}


static void
ngx_kedge_resolve_stop(void *data)
{
    ngx_kedge_resolve_t *rs = data;

    if (rs->timer.timer_set) {
        ngx_del_timer(&rs->timer);
    }
}


static void
ngx_kedge_resolve_timer(ngx_event_t *ev)
{
    ngx_kedge_resolve_t *rs = ev->data;

    ngx_resolver_ctx_t  *ctx;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    ctx = ngx_resolve_start(rs->resolver, NULL);
    if (ctx == NULL || ctx == NGX_NO_RESOLVER) {
        ngx_log_error(NGX_LOG_ERR, ev->log, 0,
                      "kedge: cannot resolve \"%V\" for backend \"%V\"",
                      &rs->name, &rs->backend);
        ngx_kedge_resolve_retry(rs, ev->log);
        return;
    }

    ctx->name = rs->name;
    ctx->service = rs->service;
    ctx->handler = ngx_kedge_resolve_handler;
    ctx->data = rs;
    ctx->timeout = rs->timeout;
    ctx->cancelable = 1;

    if (ngx_resolve_name(ctx) != NGX_OK) {
        /* the resolver freed the context */
        ngx_kedge_resolve_retry(rs, ev->log);
    }
}


static void
ngx_kedge_resolve_handler(ngx_resolver_ctx_t *ctx)
{
    ngx_kedge_resolve_t *rs = ctx->data;

    time_t        valid;
    ngx_log_t    *log;
    ngx_pool_t   *pool;
    ngx_array_t   addrs;

    log = rs->timer.log;

    if (ctx->state) {
        if (!rs->failing) {
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "kedge: \"%V\" of backend \"%V\" could not be "
                          "resolved (%i: %s)", &rs->name, &rs->backend,
                          ctx->state, ngx_resolver_strerror(ctx->state));
        }

        rs->failing = 1;
        ngx_resolve_name_done(ctx);

        ngx_kedge_store_failed(rs->store, rs->index, log);
        ngx_kedge_resolve_retry(rs, log);
        return;
    }

    /* one pool per resolution: the answer is copied into the store */

    pool = ngx_create_pool(1024, log);
    if (pool == NULL) {
        ngx_resolve_name_done(ctx);
        ngx_kedge_resolve_retry(rs, log);
        return;
    }

    if (ngx_kedge_resolve_answer(rs, ctx, pool, &addrs) != NGX_OK) {
        ngx_destroy_pool(pool);
        ngx_resolve_name_done(ctx);
        ngx_kedge_resolve_retry(rs, log);
        return;
    }

    valid = ctx->valid - ngx_time();

    ngx_resolve_name_done(ctx);

    if (rs->failing) {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "kedge: \"%V\" of backend \"%V\" resolves again",
                      &rs->name, &rs->backend);
        rs->failing = 0;
    }

    if (ngx_kedge_store_update(rs->store, rs->index, addrs.elts, addrs.nelts,
                               log)
        != NGX_OK)
    {
        ngx_destroy_pool(pool);
        ngx_kedge_resolve_retry(rs, log);
        return;
    }

    ngx_destroy_pool(pool);

    /* resolve again as the answer expires: its TTL, or resolver valid= */

    valid = ngx_max(valid, 1);
    valid = ngx_min(valid, NGX_KEDGE_RESOLVE_MAX_VALID);

    rs->backoff = 0;

    ngx_add_timer(&rs->timer, (ngx_msec_t) valid * 1000);
}


static ngx_int_t
ngx_kedge_resolve_answer(ngx_kedge_resolve_t *rs, ngx_resolver_ctx_t *ctx,
    ngx_pool_t *pool, ngx_array_t *addrs)
{
    in_port_t                 port;
    ngx_uint_t                i, j;
    ngx_resolver_srv_name_t  *srv;

    if (ngx_array_init(addrs, pool, 8, sizeof(ngx_addr_t)) != NGX_OK) {
        return NGX_ERROR;
    }

    if (rs->service.len == 0) {
        for (i = 0; i < ctx->naddrs; i++) {
            if (ngx_kedge_resolve_push(addrs, ctx->addrs[i].sockaddr,
                                       ctx->addrs[i].socklen, rs->port)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        return NGX_OK;
    }

    /* SRV: every target that resolved, each on its own port */

    srv = ctx->srvs;

    for (i = 0; i < ctx->nsrvs; i++) {

        if (srv[i].state) {
            ngx_log_error(NGX_LOG_WARN, rs->timer.log, 0,
                          "kedge: SRV target \"%V\" of backend \"%V\" could "
                          "not be resolved (%i: %s)", &srv[i].name,
                          &rs->backend, srv[i].state,
                          ngx_resolver_strerror(srv[i].state));
            continue;
        }

        port = rs->port ? rs->port : srv[i].port;

        for (j = 0; j < srv[i].naddrs; j++) {
            if (ngx_kedge_resolve_push(addrs, srv[i].addrs[j].sockaddr,
                                       srv[i].addrs[j].socklen, port)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_kedge_resolve_push(ngx_array_t *addrs, struct sockaddr *sockaddr,
    socklen_t socklen, in_port_t port)
{
    ngx_addr_t  *addr;

    addr = ngx_array_push(addrs);
    if (addr == NULL) {
        return NGX_ERROR;
    }

    addr->sockaddr = ngx_palloc(addrs->pool, socklen);
    if (addr->sockaddr == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(addr->sockaddr, sockaddr, socklen);
    addr->socklen = socklen;
    ngx_inet_set_port(addr->sockaddr, port);
    ngx_str_null(&addr->name);

    return NGX_OK;
}


static void
ngx_kedge_resolve_retry(ngx_kedge_resolve_t *rs, ngx_log_t *log)
{
    ngx_msec_t  delay;

    delay = ngx_kedge_store_backoff(&rs->backoff);

    ngx_log_debug3(NGX_LOG_DEBUG_CORE, log, 0,
                   "kedge: resolving \"%V\" of backend \"%V\" again in %M",
                   &rs->name, &rs->backend, delay);

    ngx_add_timer(&rs->timer, delay);
}
