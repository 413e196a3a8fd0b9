
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 *
 * kedge_balancer: the upstream peer selector.  The backend was chosen by
 * the router; this picks one of its endpoints, round robin, and moves on
 * to the next one when a connection fails.  With keepalive=N it keeps
 * idle connections itself, found by endpoint in constant time
 * (ngx_http_kedge_keepalive.c); without, it chains like any nginx
 * balancer, so nginx's "keepalive" placed after it caches them.
 */


#include "ngx_http_kedge_module.h"


static ngx_int_t ngx_http_kedge_balancer_init_upstream(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_kedge_balancer_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_kedge_balancer_get_peer(ngx_peer_connection_t *pc,
    void *data);
static void ngx_http_kedge_balancer_free_peer(ngx_peer_connection_t *pc,
    void *data, ngx_uint_t state);

#if (NGX_HTTP_SSL)
static ngx_int_t ngx_http_kedge_balancer_set_session(
    ngx_peer_connection_t *pc, void *data);
static void ngx_http_kedge_balancer_save_session(ngx_peer_connection_t *pc,
    void *data);
#endif


/*
 * kedge_balancer [set_aside=TIME] [keepalive=N [keepalive_per_endpoint=N]
 *                [keepalive_requests=N] [keepalive_time=TIME]
 *                [keepalive_timeout=TIME]];
 */

char *
ngx_http_kedge_balancer_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_kedge_srv_conf_t *kscf = conf;

    ngx_str_t                     *value, s;
    ngx_uint_t                     i, aside;
    ngx_msec_t                     ms;
    ngx_http_upstream_server_t    *us;
    ngx_http_upstream_srv_conf_t  *uscf;

    if (kscf->balancer) {
        return "is duplicate";
    }

    kscf->set_aside = NGX_HTTP_KEDGE_SET_ASIDE;
    aside = 0;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "keepalive", 9) == 0) {
            if (ngx_http_kedge_keepalive_param(cf, kscf, &value[i])
                != NGX_CONF_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "set_aside=", 10) != 0 || aside) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" in \"%V\" "
                               "directive", &value[i], &cmd->name);
            return NGX_CONF_ERROR;
        }

        s.data = value[i].data + 10;
        s.len = value[i].len - 10;

        ms = ngx_parse_time(&s, 0);

        if (ms == (ngx_msec_t) NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid time \"%V\" in \"%V\" directive",
                               &value[i], &cmd->name);
            return NGX_CONF_ERROR;
        }

        kscf->set_aside = ms;
        aside = 1;
    }

    if (ngx_http_kedge_keepalive_check(cf, kscf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    uscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_upstream_module);

    /* kedge_pass may have adopted this upstream already: no warning */

    if (uscf->peer.init_upstream
        && uscf->peer.init_upstream != ngx_http_kedge_balancer_init_upstream)
    {
        /* an earlier "keepalive" would be dropped here, silently */

        if (kscf->keepalive) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"kedge_balancer keepalive=\" after "
                               "\"keepalive\" or another balancing method "
                               "in upstream \"%V\": \"keepalive=\" keeps "
                               "the idle connections itself",
                               &uscf->host);
            return NGX_CONF_ERROR;
        }

        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "load balancing method redefined");
    }

    /*
     * the upstream block insists on a "server"; this placeholder carries
     * no address and is never used: endpoints come from the backends
     */

    us = ngx_array_push(uscf->servers);
    if (us == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(us, sizeof(ngx_http_upstream_server_t));
    ngx_str_set(&us->name, "kedge_balancer");

    kscf->balancer = 1;
    uscf->peer.init_upstream = ngx_http_kedge_balancer_init_upstream;

    return NGX_CONF_OK;
}


/*
 * kedge_pass names an upstream that may be declared later, or never:
 * an implicit one gets this balancer instead of a DNS lookup of its name
 */

void
ngx_http_kedge_balancer_adopt(ngx_http_upstream_srv_conf_t *uscf)
{
    if (!(uscf->flags & NGX_HTTP_UPSTREAM_CREATE)
        && uscf->peer.init_upstream == NULL)
    {
        uscf->peer.init_upstream = ngx_http_kedge_balancer_init_upstream;
    }
}


ngx_int_t
ngx_http_kedge_balancer_check(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *uscf)
{
    ngx_http_kedge_srv_conf_t  *kscf;

    if (uscf->srv_conf == NULL) {
        /* implicit, adopted by ngx_http_kedge_balancer_adopt() */
        return NGX_OK;
    }

    kscf = uscf->srv_conf[ngx_http_kedge_module.ctx_index];

    /* only the placeholder of ngx_http_kedge_balancer_directive() */

    if (!kscf->balancer || uscf->servers->nelts != 1) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* another balancer, "keepalive", wraps this one in that upstream */

ngx_uint_t
ngx_http_kedge_balancer_wrapped(ngx_http_upstream_srv_conf_t *uscf)
{
    return uscf->peer.init_upstream != ngx_http_kedge_balancer_init_upstream;
}


static ngx_int_t
ngx_http_kedge_balancer_init_upstream(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_http_kedge_srv_conf_t  *kscf;

    /* nginx's "keepalive" after it calls this as its original balancer */

    if (us->srv_conf
        && us->peer.init_upstream != ngx_http_kedge_balancer_init_upstream)
    {
        kscf = ngx_http_conf_upstream_srv_conf(us, ngx_http_kedge_module);

        if (kscf->keepalive) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"keepalive\" (or another balancer wrapping "
                          "it) and \"kedge_balancer keepalive=\" in "
                          "upstream \"%V\" in %s:%ui: \"keepalive=\" "
                          "keeps the idle connections itself, use one "
                          "or the other", &us->host, us->file_name,
                          us->line);
            return NGX_ERROR;
        }
    }

    us->peer.init = ngx_http_kedge_balancer_init_peer;

    return NGX_OK;
}


static ngx_int_t
ngx_http_kedge_balancer_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_uint_t                   n;
    ngx_http_kedge_ctx_t        *ctx;
    ngx_http_kedge_backend_t    *backend;
    ngx_http_kedge_srv_conf_t   *kscf;
    ngx_http_kedge_main_conf_t  *kmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_kedge_module);

    if (ctx == NULL || ctx->backend == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "kedge_balancer: upstream \"%V\" used by a request "
                      "that kedge_pass did not route", &us->host);
        return NGX_ERROR;
    }

    backend = ctx->backend;
    n = ctx->peers->naddrs;

    /* round robin: each request starts one endpoint further */

    ctx->first = backend->next++ % n;
    ctx->tries = 0;
    ctx->unreachable = 0;
    ctx->cached_retry = 0;
    ctx->request = r;

    kmcf = ngx_http_get_module_main_conf(r, ngx_http_kedge_module);
    ctx->store = kmcf->store;

    if (us->srv_conf) {
        kscf = ngx_http_conf_upstream_srv_conf(us, ngx_http_kedge_module);
        ctx->set_aside = kscf->set_aside;
        ctx->keepalive = kscf->keepalive ? kscf : NULL;

    } else {
        ctx->set_aside = NGX_HTTP_KEDGE_SET_ASIDE;
        ctx->keepalive = NULL;
    }

    r->upstream->peer.data = ctx;
    r->upstream->peer.get = ngx_http_kedge_balancer_get_peer;
    r->upstream->peer.free = ngx_http_kedge_balancer_free_peer;
    r->upstream->peer.tries = n;

#if (NGX_HTTP_SSL)
    r->upstream->peer.set_session = ngx_http_kedge_balancer_set_session;
    r->upstream->peer.save_session = ngx_http_kedge_balancer_save_session;
#endif

    return NGX_OK;
}


static ngx_int_t
ngx_http_kedge_balancer_get_peer(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_kedge_ctx_t *ctx = data;

    ngx_uint_t   n;
    ngx_addr_t  *addr;

    n = ctx->peers->naddrs;

    /* set again by a connection cache when it has one for the endpoint */

    pc->cached = 0;

    /* the next endpoint not set aside after a failed connect */

    for ( ;; ) {
        if (ctx->tries >= n) {

            /* kedge's error when no endpoint could even be connected to */

            if (ctx->unreachable >= n) {
                ctx->error = NGX_HTTP_KEDGE_ERR_NO_CONNECTION;
            }

            return NGX_BUSY;
        }

        ctx->current = (ctx->first + ctx->tries++) % n;
        addr = &ctx->peers->addrs[ctx->current];

        /* adhoc addresses are the client's choice: never set aside */

        if (ctx->adhoc
            || !ngx_kedge_store_is_aside(ctx->store, addr->sockaddr,
                                         addr->socklen))
        {
            break;
        }

        ctx->unreachable++;
    }

    if (addr->name.data == NULL) {

        /* an adhoc answer's address: named only when dialed */

        addr->name.data = ngx_pnalloc(ctx->request->pool,
                                      NGX_SOCKADDR_STRLEN);
        if (addr->name.data == NULL) {
            return NGX_ERROR;
        }

        addr->name.len = ngx_sock_ntop(addr->sockaddr, addr->socklen,
                                       addr->name.data, NGX_SOCKADDR_STRLEN,
                                       1);
    }

    pc->sockaddr = addr->sockaddr;
    pc->socklen = addr->socklen;
    pc->name = &addr->name;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                   "kedge balancer: backend \"%V\" endpoint %V",
                   &ctx->backend->name, &addr->name);

    /*
     * a kept-alive connection of the endpoint; after one failed, this
     * request dials afresh: the backend may have closed the others too
     */

    if (ctx->keepalive && !ctx->cached_retry
        && ngx_http_kedge_keepalive_get(ctx, pc) == NGX_DONE)
    {
        ngx_http_kedge_info(ctx->request, "kedge: backend \"%V\": endpoint "
                            "%V, try %ui, kept-alive connection",
                            &ctx->backend->name, &addr->name, ctx->tries);
        return NGX_DONE;
    }

    ngx_http_kedge_info(ctx->request, "kedge: backend \"%V\": endpoint %V, "
                        "try %ui", &ctx->backend->name, &addr->name,
                        ctx->tries);

    return NGX_OK;
}


static void
ngx_http_kedge_balancer_free_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state)
{
    ngx_http_kedge_ctx_t *ctx = data;

    ngx_http_upstream_t  *u;

    u = ctx->request->upstream;

    if (ctx->keepalive) {
        ngx_http_kedge_keepalive_free(ctx, pc, state);
    }

    if ((state & NGX_PEER_FAILED) && pc->cached && !ctx->cached_retry) {

        /*
         * a kept-alive connection the backend had closed: nginx tries
         * again, and so may this endpoint, on a fresh connection; once
         * (pc->cached stays set for the attempts that follow)
         */

        ctx->cached_retry = 1;

        if (ctx->tries) {
            ctx->tries--;
        }

    } else if ((state & NGX_PEER_FAILED)
               && u->state && u->state->connect_time == (ngx_msec_t) -1)
    {
        /*
         * kedge: a target that failed to connect is set aside; not an
         * adhoc one: clients could fill the zone's table with those
         */

        if (ctx->adhoc == NULL) {
            ngx_kedge_store_set_aside(ctx->store, pc->sockaddr, pc->socklen,
                                      ctx->set_aside);

            ngx_log_error(NGX_LOG_WARN, pc->log, 0,
                          "kedge: endpoint %V of backend \"%V\" set aside "
                          "for %M ms", pc->name, &ctx->backend->name,
                          ctx->set_aside);
        }

        /* none of the endpoints could be connected to: kedge's error */

        if (++ctx->unreachable >= ctx->peers->naddrs) {
            ctx->error = NGX_HTTP_KEDGE_ERR_NO_CONNECTION;
        }
    }

    if (pc->tries) {
        pc->tries--;
    }
}


#if (NGX_HTTP_SSL)

/* TLS sessions are resumed per endpoint, worker-local as in round robin */

static ngx_int_t
ngx_http_kedge_balancer_set_session(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_kedge_ctx_t *ctx = data;

    ngx_ssl_session_t  *session;

    /* only static endpoints keep sessions: they stay where they are */

    if (ctx->backend->sessions == NULL) {
        return NGX_OK;
    }

    session = ctx->backend->sessions[ctx->current];

    if (session == NULL) {
        return NGX_OK;
    }

    return ngx_ssl_set_session(pc->connection, session);
}


static void
ngx_http_kedge_balancer_save_session(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_kedge_ctx_t *ctx = data;

    ngx_ssl_session_t  *old, *session;

    if (ctx->backend->sessions == NULL) {
        return;
    }

    session = ngx_ssl_get_session(pc->connection);

    if (session == NULL) {
        return;
    }

    old = ctx->backend->sessions[ctx->current];
    ctx->backend->sessions[ctx->current] = session;

    if (old) {
        ngx_ssl_free_session(old);
    }
}

#endif
