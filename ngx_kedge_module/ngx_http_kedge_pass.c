
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 *
 * kedge_pass: the content handler of a kedge location.  It routes the
 * request, answers kedge's errors itself, and hands everything else to
 * nginx's own proxy or grpc module.
 *
 * How backends are dialed (plain, TLS, TLS without verification) is a
 * location setting in nginx, so kedge_pass builds one hidden location
 * per mode, "flavours", exactly as "if" builds its hidden locations:
 * they are merged with the kedge_pass location by nginx itself (so
 * every proxy_* and grpc_* directive written there applies), and the
 * handler switches the request to the flavour of the chosen backend.
 */


#include "ngx_http_kedge_module.h"


#define NGX_HTTP_KEDGE_DEFAULT_CA  "/etc/ssl/certs/ca-certificates.crt"


static char *ngx_http_kedge_flavour(ngx_conf_t *cf,
    ngx_http_kedge_flavour_t *fl, ngx_uint_t tls, ngx_str_t *upstream,
    ngx_str_t *ca);
static char *ngx_http_kedge_conf_command(ngx_conf_t *cf, void **loc_conf,
    char *module_name, ngx_str_t *argv, ngx_uint_t argc);
static ngx_int_t ngx_http_kedge_url(ngx_conf_t *cf, char *scheme,
    ngx_str_t *upstream, ngx_str_t *url);
static ngx_int_t ngx_http_kedge_pass_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_kedge_set_header(ngx_http_request_t *r,
    char *name, ngx_str_t *value);
static ngx_int_t ngx_http_kedge_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_kedge_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;


#define NGX_HTTP_KEDGE_VAR_BACKEND     0
#define NGX_HTTP_KEDGE_VAR_AUTHORITY   1
#define NGX_HTTP_KEDGE_VAR_TLS_NAME    2
#define NGX_HTTP_KEDGE_VAR_ERROR_TYPE  3
#define NGX_HTTP_KEDGE_VAR_ROUTE       4


static ngx_http_variable_t  ngx_http_kedge_vars[] = {

    { ngx_string("kedge_backend"), NULL, ngx_http_kedge_variable,
      NGX_HTTP_KEDGE_VAR_BACKEND, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("kedge_authority"), NULL, ngx_http_kedge_variable,
      NGX_HTTP_KEDGE_VAR_AUTHORITY, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("kedge_tls_name"), NULL, ngx_http_kedge_variable,
      NGX_HTTP_KEDGE_VAR_TLS_NAME, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("kedge_error_type"), NULL, ngx_http_kedge_variable,
      NGX_HTTP_KEDGE_VAR_ERROR_TYPE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("kedge_route"), NULL, ngx_http_kedge_variable,
      NGX_HTTP_KEDGE_VAR_ROUTE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


/*
 * kedge_pass [UPSTREAM] [ssl_trusted_certificate=FILE];
 *
 * UPSTREAM defaults to "kedge"; "upstream kedge { kedge_balancer;
 * keepalive N; }" gives the backends warm connections.
 */

char *
ngx_http_kedge_pass_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kedge_loc_conf_t *klcf = conf;

    char                       *rv;
    ngx_str_t                  *value, upstream, ca, argv[3];
    ngx_url_t                   u;
    ngx_uint_t                  i;
    ngx_http_conf_ctx_t        *ctx;
    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_kedge_pass_ref_t  *ref;
    ngx_http_kedge_main_conf_t *kmcf;

    if (klcf->pass) {
        return "is duplicate";
    }

    ngx_str_set(&upstream, "kedge");
    ngx_str_set(&ca, NGX_HTTP_KEDGE_DEFAULT_CA);

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "ssl_trusted_certificate=", 24) == 0
            && value[i].len > 24)
        {
            ca.data = value[i].data + 24;
            ca.len = value[i].len - 24;
            continue;
        }

        if (i == 1 && ngx_strlchr(value[i].data, value[i].data + value[i].len,
                                  '=') == NULL
            && ngx_strlchr(value[i].data, value[i].data + value[i].len,
                           ':') == NULL
            && value[i].len)
        {
            upstream = value[i];
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"%V\" directive",
                           &value[i], &cmd->name);
        return NGX_CONF_ERROR;
    }

    klcf->pass = 1;

    /*
     * the backend sees the client's Host (as with kedge), and keepalive
     * to backends needs "Connection" cleared; these go to the kedge_pass
     * location itself, so that proxy_set_header directives written there
     * add to them rather than replace them
     */

    ctx = cf->ctx;

    ngx_str_set(&argv[0], "proxy_set_header");
    ngx_str_set(&argv[1], "Host");
    ngx_str_set(&argv[2], "$kedge_authority");

    rv = ngx_http_kedge_conf_command(cf, ctx->loc_conf,
                                     "ngx_http_proxy_module", argv, 3);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    ngx_str_set(&argv[1], "Connection");
    ngx_str_set(&argv[2], "");

    rv = ngx_http_kedge_conf_command(cf, ctx->loc_conf,
                                     "ngx_http_proxy_module", argv, 3);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    /*
     * what clients of a forward proxy send for the proxy's connection
     * is not the backend's: kedge (Go's ReverseProxy) drops it too
     */

    ngx_str_set(&argv[1], "Proxy-Connection");

    rv = ngx_http_kedge_conf_command(cf, ctx->loc_conf,
                                     "ngx_http_proxy_module", argv, 3);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    /*
     * the credentials presented to kedge are kedge's, for HTTP and gRPC
     * alike: an empty value drops the header (the authorizer removes it
     * from the request too); the backend's own Authorization passes
     */

    ngx_str_set(&argv[1], "Proxy-Authorization");

    rv = ngx_http_kedge_conf_command(cf, ctx->loc_conf,
                                     "ngx_http_proxy_module", argv, 3);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    ngx_str_set(&argv[0], "grpc_set_header");

    rv = ngx_http_kedge_conf_command(cf, ctx->loc_conf,
                                     "ngx_http_grpc_module", argv, 3);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    /*
     * the request id, kept or made (kedge_request_id), for HTTP and gRPC;
     * with "kedge_request_id off", the client's header as sent
     */

    ngx_str_set(&argv[1], "X-Kedge-Request-ID");
    ngx_str_set(&argv[2], "$kedge_request_id");

    ngx_str_set(&argv[0], "proxy_set_header");

    rv = ngx_http_kedge_conf_command(cf, ctx->loc_conf,
                                     "ngx_http_proxy_module", argv, 3);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    ngx_str_set(&argv[0], "grpc_set_header");

    rv = ngx_http_kedge_conf_command(cf, ctx->loc_conf,
                                     "ngx_http_grpc_module", argv, 3);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    /* for gRPC a "Host" replaces the :authority of the grpc_pass URL */

    ngx_str_set(&argv[1], "Host");
    ngx_str_set(&argv[2], "$kedge_authority");

    rv = ngx_http_kedge_conf_command(cf, ctx->loc_conf,
                                     "ngx_http_grpc_module", argv, 3);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    /*
     * the upstream first, with no port: the proxy_pass and grpc_pass of
     * every flavour then find this one rather than adding one per scheme
     * default port; its upstream{} block may come later, or never: it is
     * adopted now and checked once all is parsed
     */

    ngx_memzero(&u, sizeof(ngx_url_t));
    u.url = upstream;
    u.no_resolve = 1;

    kmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_kedge_module);

    ref = ngx_array_push(&kmcf->passes);
    if (ref == NULL) {
        return NGX_CONF_ERROR;
    }

    ref->upstream = upstream;
    ref->clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    ref->uscf = ngx_http_upstream_add(cf, &u, 0);
    ref->file = cf->conf_file->file.name.data;
    ref->line = cf->conf_file->line;

    if (ref->uscf == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_http_kedge_balancer_adopt(ref->uscf);

    for (i = 0; i < NGX_HTTP_KEDGE_TLS_MODES; i++) {
        rv = ngx_http_kedge_flavour(cf, &klcf->flavours[i], i, &upstream,
                                    &ca);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_kedge_pass_handler;


    return NGX_CONF_OK;
}


static char *
ngx_http_kedge_flavour(ngx_conf_t *cf, ngx_http_kedge_flavour_t *fl,
    ngx_uint_t tls, ngx_str_t *upstream, ngx_str_t *ca)
{
    char                      *rv, *prefix, *suffix, *module_name;
    void                      *mconf;
    ngx_str_t                  argv[2];
    ngx_uint_t                 i, t;
    ngx_http_module_t         *module;
    ngx_http_conf_ctx_t       *ctx, *pctx;
    ngx_http_core_loc_conf_t  *clcf, *pclcf;

    /* a hidden location, built as ngx_http_rewrite_if() builds one */

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_conf_ctx_t));
    if (ctx == NULL) {
        return NGX_CONF_ERROR;
    }

    pctx = cf->ctx;
    ctx->main_conf = pctx->main_conf;
    ctx->srv_conf = pctx->srv_conf;

    ctx->loc_conf = ngx_pcalloc(cf->pool, sizeof(void *) * ngx_http_max_module);
    if (ctx->loc_conf == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 0; cf->cycle->modules[i]; i++) {
        if (cf->cycle->modules[i]->type != NGX_HTTP_MODULE) {
            continue;
        }

        module = cf->cycle->modules[i]->ctx;

        if (module->create_loc_conf) {
            mconf = module->create_loc_conf(cf);
            if (mconf == NULL) {
                return NGX_CONF_ERROR;
            }

            ctx->loc_conf[cf->cycle->modules[i]->ctx_index] = mconf;
        }
    }

    pclcf = pctx->loc_conf[ngx_http_core_module.ctx_index];

    clcf = ctx->loc_conf[ngx_http_core_module.ctx_index];
    clcf->loc_conf = ctx->loc_conf;
    clcf->name = pclcf->name;
    clcf->noname = 1;

    if (ngx_http_add_location(cf, &pclcf->locations, clcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    fl->loc_conf = ctx->loc_conf;

    ngx_str_set(&argv[0], "proxy_pass");
    if (ngx_http_kedge_url(cf, tls ? "https://" : "http://", upstream,
                           &argv[1])
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    rv = ngx_http_kedge_conf_command(cf, ctx->loc_conf,
                                     "ngx_http_proxy_module", argv, 2);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    fl->http_handler = clcf->handler;

    ngx_str_set(&argv[0], "grpc_pass");
    if (ngx_http_kedge_url(cf, tls ? "grpcs://" : "grpc://", upstream,
                           &argv[1])
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    rv = ngx_http_kedge_conf_command(cf, ctx->loc_conf,
                                     "ngx_http_grpc_module", argv, 2);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    fl->grpc_handler = clcf->handler;

    ngx_str_set(&argv[0], "proxy_http_version");
    ngx_str_set(&argv[1], "1.1");

    rv = ngx_http_kedge_conf_command(cf, ctx->loc_conf,
                                     "ngx_http_proxy_module", argv, 2);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (tls == NGX_HTTP_KEDGE_TLS_OFF) {
        return NGX_CONF_OK;
    }

    /* the same TLS settings for both modules, "proxy_" and "grpc_" */

    for (i = 0; i < 2; i++) {
        prefix = (i == 0) ? "proxy" : "grpc";
        module_name = (i == 0) ? "ngx_http_proxy_module"
                               : "ngx_http_grpc_module";

        for (t = 0; t < 4; t++) {
            switch (t) {

            case 0:
                suffix = "ssl_server_name";
                ngx_str_set(&argv[1], "on");
                break;

            case 1:
                suffix = "ssl_name";
                ngx_str_set(&argv[1], "$kedge_tls_name");
                break;

            case 2:
                suffix = "ssl_verify";

                if (tls == NGX_HTTP_KEDGE_TLS_VERIFY) {
                    ngx_str_set(&argv[1], "on");

                } else {
                    ngx_str_set(&argv[1], "off");
                }

                break;

            default:
                if (tls != NGX_HTTP_KEDGE_TLS_VERIFY) {
                    continue;
                }

                suffix = "ssl_trusted_certificate";
                argv[1] = *ca;
                break;
            }

            argv[0].data = ngx_pnalloc(cf->pool, sizeof("proxy_") - 1
                                       + ngx_strlen(suffix) + 1);
            if (argv[0].data == NULL) {
                return NGX_CONF_ERROR;
            }

            argv[0].len = ngx_sprintf(argv[0].data, "%s_%s%Z", prefix, suffix)
                          - argv[0].data - 1;

            rv = ngx_http_kedge_conf_command(cf, ctx->loc_conf, module_name,
                                             argv, 2);
            if (rv != NGX_CONF_OK) {
                return rv;
            }
        }
    }

    return NGX_CONF_OK;
}


/*
 * Runs one directive of another module, as if written in the location
 * whose configurations are "loc_conf"; argv[0] is the directive name.
 */

static char *
ngx_http_kedge_conf_command(ngx_conf_t *cf, void **loc_conf,
    char *module_name, ngx_str_t *argv, ngx_uint_t argc)
{
    char                 *rv;
    ngx_uint_t            i;
    ngx_conf_t            save;
    ngx_array_t           args;
    ngx_module_t         *m;
    ngx_command_t        *cmd;
    ngx_http_conf_ctx_t   ctx;

    m = NULL;

    for (i = 0; cf->cycle->modules[i]; i++) {
        if (ngx_strcmp(cf->cycle->modules[i]->name, module_name) == 0) {
            m = cf->cycle->modules[i];
            break;
        }
    }

    if (m == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"kedge_pass\" needs %s, which this nginx "
                           "lacks", module_name);
        return NGX_CONF_ERROR;
    }

    for (cmd = m->commands; cmd->name.len; cmd++) {
        if (cmd->name.len == argv[0].len
            && ngx_strncmp(cmd->name.data, argv[0].data, argv[0].len) == 0)
        {
            break;
        }
    }

    if (cmd->name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"kedge_pass\" needs the \"%V\" directive, "
                           "which this nginx lacks", &argv[0]);
        return NGX_CONF_ERROR;
    }

    args.elts = argv;
    args.nelts = argc;
    args.size = sizeof(ngx_str_t);
    args.nalloc = argc;
    args.pool = cf->pool;

    ctx = *(ngx_http_conf_ctx_t *) cf->ctx;
    ctx.loc_conf = loc_conf;

    save = *cf;
    cf->ctx = &ctx;
    cf->args = &args;
    cf->cmd_type = NGX_HTTP_LOC_CONF;

    rv = cmd->set(cf, cmd, loc_conf[m->ctx_index]);

    *cf = save;

    if (rv == NGX_CONF_OK) {
        return NGX_CONF_OK;
    }

    if (rv != NGX_CONF_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" directive %s, as set by \"kedge_pass\"",
                           &cmd->name, rv);
    }

    return NGX_CONF_ERROR;
}


static ngx_int_t
ngx_http_kedge_url(ngx_conf_t *cf, char *scheme, ngx_str_t *upstream,
    ngx_str_t *url)
{
    size_t  len;

    len = ngx_strlen(scheme);

    url->len = len + upstream->len;
    url->data = ngx_pnalloc(cf->pool, url->len + 1);
    if (url->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ngx_cpymem(url->data, scheme, len), upstream->data,
               upstream->len);
    url->data[url->len] = '\0';

    return NGX_OK;
}


/*
 * The hidden locations of "if" and "limit_except" inside a kedge_pass
 * location inherit it, and limit_except's gets the handler, as the proxy
 * module does for proxy_pass.
 */

char *
ngx_http_kedge_pass_merge(ngx_conf_t *cf, ngx_http_kedge_loc_conf_t *prev,
    ngx_http_kedge_loc_conf_t *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    if (conf->pass || !prev->pass) {
        return NGX_CONF_OK;
    }

    conf->pass = prev->pass;
    ngx_memcpy(conf->flavours, prev->flavours, sizeof(conf->flavours));

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->lmt_excpt && clcf->handler == NULL) {
        clcf->handler = ngx_http_kedge_pass_handler;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_kedge_pass_init(ngx_conf_t *cf)
{
    ngx_uint_t                   i;
    ngx_http_kedge_pass_ref_t   *ref;
    ngx_http_kedge_main_conf_t  *kmcf;

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_kedge_header_filter;

    kmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_kedge_module);

    ref = kmcf->passes.elts;

    for (i = 0; i < kmcf->passes.nelts; i++) {
        if (ngx_http_kedge_balancer_check(cf, ref[i].uscf) != NGX_OK) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "upstream \"%V\" of \"kedge_pass\" in %s:%ui "
                          "must use \"kedge_balancer\" and no \"server\"",
                          &ref[i].upstream, ref[i].file, ref[i].line);
            return NGX_ERROR;
        }
    }

    for (i = 0; i < kmcf->passes.nelts; i++) {
        if (ngx_http_kedge_balancer_wrapped(ref[i].uscf)) {
            return ngx_http_kedge_backends_tls_check(cf, kmcf);
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_kedge_pass_handler(ngx_http_request_t *r)
{
    ngx_http_kedge_ctx_t       *ctx;
    ngx_http_kedge_loc_conf_t  *klcf;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kedge_module);

    if (!klcf->pass || klcf->flavours[0].loc_conf == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "kedge: the request left the kedge_pass location");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx = ngx_http_kedge_route(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->error != NGX_HTTP_KEDGE_ERR_NONE) {
        return ngx_http_kedge_error(r, ctx);
    }

    /*
     * the authorizer checks main requests only: a subrequest (SSI, mirror)
     * may not reach a route that asks for credentials of its own
     */

    if (r != r->main && ctx->route
        && ctx->route->auth != NGX_HTTP_KEDGE_AUTH_OFF)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "kedge: unauthorized: a subrequest to route #%ui, "
                      "which asks for credentials", ctx->route->id);

        ctx->error = NGX_HTTP_KEDGE_ERR_UNAUTHORIZED;
        return ngx_http_kedge_error(r, ctx);
    }

    /* an adhoc rule's name is resolved first, without blocking */

    if (ctx->adhoc) {
        return ngx_http_kedge_adhoc_pass(r, ctx);
    }

    ctx->peers = ngx_http_kedge_backend_peers(r, ctx->backend);

    if (ctx->peers == NULL || ctx->peers->naddrs == 0) {
        ctx->error = NGX_HTTP_KEDGE_ERR_NO_RESOLUTION;
        return ngx_http_kedge_error(r, ctx);
    }

    return ngx_http_kedge_pass_proxy(r, ctx);
}


/* the routed request to nginx's proxy or grpc module, as its backend */

ngx_int_t
ngx_http_kedge_pass_proxy(ngx_http_request_t *r, ngx_http_kedge_ctx_t *ctx)
{
    ngx_http_kedge_flavour_t   *fl;
    ngx_http_kedge_loc_conf_t  *klcf;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kedge_module);

    fl = &klcf->flavours[ctx->backend->tls];

    r->loc_conf = fl->loc_conf;
    ngx_http_update_location_config(r);

    return ctx->req.grpc ? fl->grpc_handler(r) : fl->http_handler(r);
}


/* kedge's own refusals: an HTTP status, or a gRPC Trailers-Only reply */

ngx_int_t
ngx_http_kedge_error(ngx_http_request_t *r, ngx_http_kedge_ctx_t *ctx)
{
    ngx_int_t     rc;
    ngx_str_t     message, status;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    switch (ctx->error) {

    case NGX_HTTP_KEDGE_ERR_UNAUTHORIZED:
        ngx_str_set(&message, "Unauthorized");
        ngx_str_set(&status, "16");
        r->headers_out.status = NGX_HTTP_UNAUTHORIZED;
        break;

    case NGX_HTTP_KEDGE_ERR_NO_ROUTE:
        ngx_str_set(&message, "unknown route to service");
        ngx_str_set(&status, "12");
        r->headers_out.status = NGX_HTTP_BAD_GATEWAY;
        break;

    case NGX_HTTP_KEDGE_ERR_NO_RESOLUTION:
        ngx_str_set(&message, "no resolution available");
        ngx_str_set(&status, "14");
        r->headers_out.status = NGX_HTTP_BAD_GATEWAY;
        break;

    case NGX_HTTP_KEDGE_ERR_UNKNOWN_ROUTE:

        /* an adhoc rule's refusal: its own message and statuses */

        message = ctx->adhoc_ctx->error_message;
        r->headers_out.status = ctx->adhoc_ctx->error_status;

        status.data = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
        if (status.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        status.len = ngx_sprintf(status.data, "%ui",
                                 ctx->adhoc_ctx->error_grpc)
                     - status.data;
        break;

    default:
        ngx_str_set(&message, "unknown error");
        ngx_str_set(&status, "2");
        r->headers_out.status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        break;
    }

    /* the authorizer logged its refusal, at its own level */

    if (ctx->error != NGX_HTTP_KEDGE_ERR_UNAUTHORIZED) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "kedge: %V (%V) for \"%V\" port %d",
                      &message, &ngx_http_kedge_error_types[ctx->error],
                      &ctx->req.host, (int) ctx->req.port);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_kedge_set_header(r, "X-Kedge-Error", &message) != NGX_OK
        || ngx_http_kedge_set_header(r, "X-Kedge-Error-Type",
                                     &ngx_http_kedge_error_types[ctx->error])
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->req.grpc) {
        r->headers_out.status = NGX_HTTP_OK;
        ngx_str_set(&r->headers_out.content_type, "application/grpc");
        r->headers_out.content_type_len = r->headers_out.content_type.len;
        r->headers_out.content_length_n = 0;
        r->header_only = 1;

        if (ngx_http_kedge_set_header(r, "grpc-status", &status) != NGX_OK
            || ngx_http_kedge_set_header(r, "grpc-message", &message)
               != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_send_header(r);
    }

    b = ngx_create_temp_buf(r->pool, message.len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, message.data, message.len);
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    ngx_str_set(&r->headers_out.content_type, "text/plain");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_length_n = message.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static ngx_int_t
ngx_http_kedge_set_header(ngx_http_request_t *r, char *name,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value = *value;

    return NGX_OK;
}


static ngx_int_t
ngx_http_kedge_header_filter(ngx_http_request_t *r)
{
    ngx_str_t              message, status;
    ngx_http_kedge_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_kedge_module);

    if (ctx && ctx->error == NGX_HTTP_KEDGE_ERR_NO_CONNECTION
        && r == r->main)
    {
        ngx_str_set(&message, "no connection to all resolved addresses");

        if (ngx_http_kedge_set_header(r, "X-Kedge-Error", &message)
            != NGX_OK
            || ngx_http_kedge_set_header(r, "X-Kedge-Error-Type",
                                    &ngx_http_kedge_error_types[ctx->error])
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        /*
         * a gRPC client gets nginx's 502 as a Trailers-Only reply, as
         * kedge answers: UNAVAILABLE; the error page body goes away
         */

        if (ctx->req.grpc && r->headers_out.status == NGX_HTTP_BAD_GATEWAY) {
            ngx_str_set(&status, "14");

            if (ngx_http_kedge_set_header(r, "grpc-status", &status)
                != NGX_OK
                || ngx_http_kedge_set_header(r, "grpc-message", &message)
                   != NGX_OK)
            {
                return NGX_ERROR;
            }

            r->headers_out.status = NGX_HTTP_OK;
            ngx_str_set(&r->headers_out.content_type, "application/grpc");
            r->headers_out.content_type_len =
                                          r->headers_out.content_type.len;
            r->headers_out.content_type_lowcase = NULL;
            r->headers_out.content_length_n = -1;

            if (r->headers_out.content_length) {
                r->headers_out.content_length->hash = 0;
                r->headers_out.content_length = NULL;
            }

            r->header_only = 1;
        }
    }

    /* as kedge: the backend's name, which an adhoc request has not */

    if (ctx && ctx->backend && ctx->adhoc == NULL
        && ctx->error == NGX_HTTP_KEDGE_ERR_NONE && r == r->main)
    {
        if (ngx_http_kedge_set_header(r, "x-kedge-backend-name",
                                      &ctx->backend->name)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return ngx_http_next_header_filter(r);
}


ngx_int_t
ngx_http_kedge_add_variables(ngx_conf_t *cf)
{
    return ngx_http_kedge_register_variables(cf, ngx_http_kedge_vars);
}


static ngx_int_t
ngx_http_kedge_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    u_char                     *p;
    ngx_str_t                   s;
    ngx_http_kedge_ctx_t       *ctx;
    ngx_http_core_srv_conf_t   *cscf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_kedge_module);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {

    case NGX_HTTP_KEDGE_VAR_BACKEND:
        if (ctx->backend == NULL || ctx->adhoc) {
            v->not_found = 1;
            return NGX_OK;
        }

        s = ctx->backend->name;
        break;

    case NGX_HTTP_KEDGE_VAR_AUTHORITY:

        /* as sent; without one, what nginx's $host would say */

        if (ctx->req.authority.len) {
            s = ctx->req.authority;

        } else if (r->headers_in.server.len) {
            s = r->headers_in.server;

        } else {
            /* no host at all (HTTP/1.0): the server's name, else ours */

            cscf = ngx_http_get_module_srv_conf(r, ngx_http_core_module);
            s = cscf->server_name;

            if (s.len == 0 && ctx->backend) {
                s = ctx->backend->name;
            }
        }

        break;

    case NGX_HTTP_KEDGE_VAR_TLS_NAME:
        if (ctx->backend == NULL) {
            v->not_found = 1;
            return NGX_OK;
        }

        s = ctx->backend->tls_name;
        break;

    case NGX_HTTP_KEDGE_VAR_ERROR_TYPE:
        s = ngx_http_kedge_error_types[ctx->error];

        if (s.data == NULL) {
            /* no error: empty, never NULL (the access log copies it) */
            ngx_str_set(&s, "");
        }

        break;

    default: /* NGX_HTTP_KEDGE_VAR_ROUTE */
        if (ctx->route == NULL && ctx->adhoc == NULL) {
            v->not_found = 1;
            return NGX_OK;
        }

        p = ngx_pnalloc(r->pool, sizeof("grpc-adhoc:") - 1 + NGX_INT_T_LEN
                                 + (ctx->route ? ctx->route->name.len : 0));
        if (p == NULL) {
            return NGX_ERROR;
        }

        s.data = p;

        if (ctx->route && ctx->route->name.len) {

            /* a discovered route: by its Service, "namespace/name:port" */

            s.len = ngx_sprintf(p, "%s:%V",
                                ctx->route->protocol == NGX_HTTP_KEDGE_GRPC
                                ? "grpc" : "http", &ctx->route->name)
                    - p;

        } else if (ctx->route) {
            s.len = ngx_sprintf(p, "%s:%ui",
                                ctx->route->protocol == NGX_HTTP_KEDGE_GRPC
                                ? "grpc" : "http", ctx->route->id)
                    - p;

        } else {
            s.len = ngx_sprintf(p, "%s-adhoc:%ui",
                                ctx->adhoc->protocol == NGX_HTTP_KEDGE_GRPC
                                ? "grpc" : "http", ctx->adhoc->id)
                    - p;
        }

        break;
    }

    v->len = s.len;
    v->data = s.data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}
