
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 *
 * Backends: named pools of endpoints, as kedge's backend pool defines
 * them.  kedge keeps HTTP and gRPC backends in two name spaces, so a
 * backend belongs to one protocol or to both.
 */


#include "ngx_http_kedge_module.h"


static char *ngx_http_kedge_backend_endpoints(ngx_conf_t *cf,
    ngx_http_kedge_backend_t *backend, ngx_str_t *list);
static char *ngx_http_kedge_backend_dns(ngx_conf_t *cf,
    ngx_http_kedge_backend_t *backend, ngx_uint_t source, ngx_str_t *arg);
static ngx_int_t ngx_http_kedge_k8s_in_cluster(ngx_conf_t *cf,
    ngx_kedge_k8s_api_t *api);
static ngx_int_t ngx_http_kedge_k8s_label_valid(ngx_str_t *label);

#if (NGX_HTTP_SSL)
static ngx_int_t ngx_http_kedge_backend_sessions(ngx_conf_t *cf,
    ngx_http_kedge_backend_t *backend);
static void ngx_http_kedge_backend_free_sessions(void *data);


typedef struct {
    ngx_ssl_session_t             **sessions;
    ngx_uint_t                      n;
} ngx_http_kedge_sessions_t;
#endif


ngx_int_t
ngx_http_kedge_backend_name_valid(ngx_str_t *name)
{
    u_char      ch;
    ngx_uint_t  i;

    /* kedge: ^[a-z_0-9.]{2,64}$ */

    if (name->len < 2 || name->len > 64) {
        return NGX_DECLINED;
    }

    for (i = 0; i < name->len; i++) {
        ch = name->data[i];

        if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')
            || ch == '_' || ch == '.')
        {
            continue;
        }

        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_http_kedge_backend_t *
ngx_http_kedge_backend_find(ngx_http_kedge_main_conf_t *kmcf, ngx_str_t *name,
    ngx_uint_t protocol)
{
    ngx_uint_t                 i;
    ngx_http_kedge_backend_t  *backend;

    backend = kmcf->backends.elts;

    for (i = 0; i < kmcf->backends.nelts; i++) {
        if ((backend[i].protocols & protocol)
            && backend[i].name.len == name->len
            && ngx_strncmp(backend[i].name.data, name->data, name->len) == 0)
        {
            return &backend[i];
        }
    }

    return NULL;
}


/*
 * kedge_kubernetes [URL] [token_file=FILE] [ca_file=FILE] [max_size=SIZE];
 *
 * Without URL: the in-cluster service account, as client-go's
 * rest.InClusterConfig() (KUBERNETES_SERVICE_HOST/PORT, read here, in
 * the master: workers do not see the environment).
 */

char *
ngx_http_kedge_kubernetes_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_kedge_main_conf_t *kmcf = conf;

    ssize_t               size;
    ngx_str_t            *value, s;
    ngx_uint_t            i;
    ngx_kedge_k8s_api_t  *api;

    if (kmcf->k8s_api) {
        return "is duplicate";
    }

    api = ngx_pcalloc(cf->pool, sizeof(ngx_kedge_k8s_api_t));
    if (api == NULL) {
        return NGX_CONF_ERROR;
    }

    api->max_size = 16 * 1024 * 1024;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "token_file=", 11) == 0) {
            api->token_file.data = value[i].data + 11;
            api->token_file.len = value[i].len - 11;
            continue;
        }

        if (ngx_strncmp(value[i].data, "ca_file=", 8) == 0) {
            api->ca_file.data = value[i].data + 8;
            api->ca_file.len = value[i].len - 8;
            continue;
        }

        if (ngx_strncmp(value[i].data, "max_size=", 9) == 0) {
            s.data = value[i].data + 9;
            s.len = value[i].len - 9;

            size = ngx_parse_size(&s);
            if (size == NGX_ERROR || size < 4096) {
                goto invalid;
            }

            api->max_size = size;
            continue;
        }

        if (i == 1
            && (ngx_strncmp(value[i].data, "https://", 8) == 0
                || ngx_strncmp(value[i].data, "http://", 7) == 0))
        {
            api->url = value[i];

            while (api->url.len && api->url.data[api->url.len - 1] == '/') {
                api->url.len--;
            }

            continue;
        }

        goto invalid;
    }

    if (api->url.len == 0 && ngx_http_kedge_k8s_in_cluster(cf, api)
                             != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    kmcf->k8s_api = api;
    kmcf->k8s_api_file = cf->conf_file->file.name.data;
    kmcf->k8s_api_line = cf->conf_file->line;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"%V\" directive",
                       &value[i], &cmd->name);
    return NGX_CONF_ERROR;
}


static ngx_int_t
ngx_http_kedge_k8s_in_cluster(ngx_conf_t *cf, ngx_kedge_k8s_api_t *api)
{
    u_char  *host, *port, *p;
    size_t   len;

    host = (u_char *) getenv("KUBERNETES_SERVICE_HOST");
    port = (u_char *) getenv("KUBERNETES_SERVICE_PORT");

    if (host == NULL || port == NULL || *host == '\0' || *port == '\0') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"kedge_kubernetes\" without a URL needs "
                           "KUBERNETES_SERVICE_HOST and "
                           "KUBERNETES_SERVICE_PORT (in-cluster)");
        return NGX_ERROR;
    }

    len = sizeof("https://[]:") - 1 + ngx_strlen(host) + ngx_strlen(port);

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    api->url.data = p;
    api->url.len = ngx_sprintf(p, ngx_strchr(host, ':') ? "https://[%s]:%s"
                                                       : "https://%s:%s",
                               host, port)
                   - p;

    if (api->token_file.len == 0) {
        ngx_str_set(&api->token_file,
                    "/var/run/secrets/kubernetes.io/serviceaccount/token");
    }

    if (api->ca_file.len == 0) {
        ngx_str_set(&api->ca_file,
                    "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
    }

    return NGX_OK;
}


/* [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63: Services and namespaces */

static ngx_int_t
ngx_http_kedge_k8s_label_valid(ngx_str_t *label)
{
    u_char      ch;
    ngx_uint_t  i;

    if (label->len == 0 || label->len > 63
        || label->data[0] == '-' || label->data[label->len - 1] == '-')
    {
        return NGX_DECLINED;
    }

    for (i = 0; i < label->len; i++) {
        ch = label->data[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')
              || ch == '-'))
        {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/*
 * kedge's k8s resolver: SERVICE.NAMESPACE[.ANY.SUFFIX]:PORT_NAME_OR_NUMBER;
 * NGX_DECLINED when it is not that
 */

ngx_int_t
ngx_http_kedge_backend_k8s(ngx_conf_t *cf, ngx_http_kedge_backend_t *backend,
    ngx_str_t *spec)
{
    u_char                 *p, *last, *colon, *dot, *dot2;
    ngx_int_t               n;
    ngx_kedge_k8s_watch_t  *w;

    w = ngx_pcalloc(cf->pool, sizeof(ngx_kedge_k8s_watch_t));
    if (w == NULL) {
        return NGX_ERROR;
    }

    p = spec->data;
    last = spec->data + spec->len;

    colon = ngx_strlchr(p, last, ':');
    dot = ngx_strlchr(p, colon ? colon : last, '.');

    if (colon == NULL || dot == NULL || dot == p || colon + 1 == last) {
        return NGX_DECLINED;
    }

    dot2 = ngx_strlchr(dot + 1, colon, '.');
    if (dot2 == NULL) {
        dot2 = colon;
    }

    w->service.data = p;
    w->service.len = dot - p;
    w->namespace.data = dot + 1;
    w->namespace.len = dot2 - dot - 1;

    /* DNS labels, as Kubernetes names them: they go into URLs */

    if (ngx_http_kedge_k8s_label_valid(&w->service) != NGX_OK
        || ngx_http_kedge_k8s_label_valid(&w->namespace) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    n = ngx_atoi(colon + 1, last - colon - 1);

    if (n != NGX_ERROR) {
        if (n < 1 || n > 65535) {
            return NGX_DECLINED;
        }

        w->port_number = (in_port_t) n;

    } else {
        /* a port name: NUL-terminated for the decoder */

        w->port_name.len = last - colon - 1;
        w->port_name.data = ngx_pnalloc(cf->pool, w->port_name.len + 1);
        if (w->port_name.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(w->port_name.data, colon + 1, w->port_name.len);
        w->port_name.data[w->port_name.len] = '\0';
    }

    w->backend = backend->name;
    backend->k8s = w;
    backend->source = NGX_HTTP_KEDGE_K8S;

    return NGX_OK;
}


/* kedge_zone NAME SIZE; */

char *
ngx_http_kedge_zone_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kedge_main_conf_t *kmcf = conf;

    ssize_t     size;
    ngx_str_t  *value;

    if (kmcf->store) {
        return "is duplicate";
    }

    value = cf->args->elts;

    size = ngx_parse_size(&value[2]);

    /* the set-aside table alone takes 32k */

    if (size == NGX_ERROR || size < 128 * 1024) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\" in \"%V\" directive, "
                           "at least 128k is needed", &value[2], &cmd->name);
        return NGX_CONF_ERROR;
    }

    kmcf->store = ngx_kedge_store_create(cf, &value[1], size,
                                         &ngx_http_kedge_module);
    if (kmcf->store == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * Once all is parsed: backends resolved at run time get their place in
 * the store and nginx's resolver of the http level.
 */

ngx_int_t
ngx_http_kedge_backends_init(ngx_conf_t *cf, ngx_http_kedge_main_conf_t *kmcf)
{
    ngx_int_t                  index;
    ngx_str_t                  name;
    ngx_uint_t                 i;
    ngx_http_kedge_backend_t  *backend;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    /* without kedge_zone, a default one: set-aside targets are shared */

    if (kmcf->store == NULL) {
        ngx_str_set(&name, "kedge");

        kmcf->store = ngx_kedge_store_create(cf, &name, 1024 * 1024,
                                             &ngx_http_kedge_module);
        if (kmcf->store == NULL) {
            return NGX_ERROR;
        }
    }

    backend = kmcf->backends.elts;

    for (i = 0; i < kmcf->backends.nelts; i++) {

        if (backend[i].source == NGX_HTTP_KEDGE_STATIC) {
            continue;
        }

        if (backend[i].k8s && kmcf->k8s_api == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "backend \"%V\" in %s:%ui needs "
                          "\"kedge_kubernetes\"",
                          &backend[i].name, backend[i].file,
                          backend[i].line);
            return NGX_ERROR;
        }

        if (backend[i].resolve
            && (clcf->resolver == NULL
                || clcf->resolver->connections.nelts == 0))
        {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "backend \"%V\" in %s:%ui needs a \"resolver\" "
                          "at the http level",
                          &backend[i].name, backend[i].file,
                          backend[i].line);
            return NGX_ERROR;
        }

        index = ngx_kedge_store_register(kmcf->store, &backend[i].name);
        if (index == NGX_ERROR) {
            return NGX_ERROR;
        }

        backend[i].index = index;

        if (backend[i].k8s) {
            backend[i].k8s->index = index;
            backend[i].k8s->store = kmcf->store;
            backend[i].k8s->api = kmcf->k8s_api;
            continue;
        }

        backend[i].resolve->index = index;
        backend[i].resolve->store = kmcf->store;
        backend[i].resolve->resolver = clcf->resolver;
        backend[i].resolve->timeout =
                            clcf->resolver_timeout == NGX_CONF_UNSET_MSEC
                            ? 30000 : clcf->resolver_timeout;
    }

    return NGX_OK;
}


/*
 * nginx's keepalive caches connections by address alone: with it, an
 * endpoint dialed with TLS must not be dialed another way too, or a
 * connection verified for one name (or not verified) would serve another.
 */

ngx_int_t
ngx_http_kedge_backends_tls_check(ngx_conf_t *cf,
    ngx_http_kedge_main_conf_t *kmcf)
{
    ngx_uint_t                 i, j, k, l;
    ngx_addr_t                *a, *b;
    ngx_http_kedge_backend_t  *backend, *tb, *ob;

    backend = kmcf->backends.elts;

    for (i = 0; i < kmcf->backends.nelts; i++) {
        tb = &backend[i];

        if (tb->peers == NULL || tb->tls == NGX_HTTP_KEDGE_TLS_OFF) {
            continue;
        }

        for (j = 0; j < kmcf->backends.nelts; j++) {
            ob = &backend[j];

            if (j == i || ob->peers == NULL
                || (ob->tls == tb->tls
                    && ob->tls_name.len == tb->tls_name.len
                    && ngx_strncmp(ob->tls_name.data, tb->tls_name.data,
                                   tb->tls_name.len) == 0))
            {
                continue;
            }

            for (k = 0; k < tb->peers->naddrs; k++) {
                a = &tb->peers->addrs[k];

                for (l = 0; l < ob->peers->naddrs; l++) {
                    b = &ob->peers->addrs[l];

                    if (ngx_cmp_sockaddr(a->sockaddr, a->socklen,
                                         b->sockaddr, b->socklen, 1)
                        == NGX_OK)
                    {
                        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                                      "endpoint %V of backend \"%V\" in "
                                      "%s:%ui is dialed another way by "
                                      "backend \"%V\" in %s:%ui: "
                                      "different \"tls=\" or \"tls_name=\" "
                                      "cannot share kept-alive connections",
                                      &a->name, &tb->name, tb->file, tb->line,
                                      &ob->name, ob->file, ob->line);
                        return NGX_ERROR;
                    }
                }
            }
        }
    }

    return NGX_OK;
}


/* in the fetcher's process: start resolving */

ngx_int_t
ngx_http_kedge_backends_start(ngx_cycle_t *cycle,
    ngx_http_kedge_main_conf_t *kmcf)
{
    ngx_uint_t                 i;
    ngx_http_kedge_backend_t  *backend;

    backend = kmcf->backends.elts;

    for (i = 0; i < kmcf->backends.nelts; i++) {
        if (backend[i].resolve
            && ngx_kedge_resolve_start(backend[i].resolve, cycle->pool,
                                       cycle->log)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (backend[i].k8s
            && ngx_kedge_k8s_watch_start(backend[i].k8s, cycle->pool,
                                         cycle->log)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static void
ngx_http_kedge_backend_peers_cleanup(void *data)
{
    ngx_kedge_peers_release(data);
}


/*
 * The endpoints a request balances over, referenced until the request
 * ends; NULL when a backend resolved at run time never was.
 */

ngx_kedge_peers_t *
ngx_http_kedge_backend_peers(ngx_http_request_t *r,
    ngx_http_kedge_backend_t *backend)
{
    ngx_kedge_peers_t           *peers;
    ngx_pool_cleanup_t          *cln;
    ngx_http_kedge_main_conf_t  *kmcf;

    if (backend->index == NGX_ERROR) {
        return backend->peers;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    kmcf = ngx_http_get_module_main_conf(r, ngx_http_kedge_module);

    peers = ngx_kedge_store_peers(kmcf->store, backend->index,
                                  r->connection->log);
    if (peers == NULL) {
        return NULL;
    }

    /* a discovered backend's slot taken by another since this route set */

    if (peers->serial != backend->serial) {
        ngx_kedge_peers_release(peers);
        return NULL;
    }

    cln->handler = ngx_http_kedge_backend_peers_cleanup;
    cln->data = peers;

    return peers;
}


/*
 * kedge_backend NAME endpoints=ADDR[,ADDR...] | host=NAME:PORT
 *               | srv=_SERVICE._PROTO.NAME [port_override=PORT]
 *               | k8s=SERVICE.NAMESPACE:PORT
 *               [protocol=http|grpc] [tls=off|on|insecure] [tls_name=NAME];
 */

char *
ngx_http_kedge_backend_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_kedge_main_conf_t *kmcf = conf;

    char                      *rv;
    ngx_int_t                  n;
    ngx_str_t                 *value, s;
    in_port_t                  port_override;
    ngx_uint_t                 i, protocol;
    ngx_http_kedge_backend_t  *backend;

    value = cf->args->elts;

    if (ngx_http_kedge_backend_name_valid(&value[1]) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid backend name \"%V\" in \"%V\" directive, "
                           "it must match ^[a-z_0-9.]{2,64}$",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    backend = ngx_http_kedge_backend_add(cf, kmcf, &value[1]);
    if (backend == NULL) {
        return NGX_CONF_ERROR;
    }

    port_override = 0;

    for (i = 2; i < cf->args->nelts; i++) {

        /* endpoints=, host=, srv=, k8s=: one source of endpoints */

        if ((backend->peers || backend->resolve || backend->k8s)
            && (ngx_strncmp(value[i].data, "endpoints=", 10) == 0
                || ngx_strncmp(value[i].data, "host=", 5) == 0
                || ngx_strncmp(value[i].data, "srv=", 4) == 0
                || ngx_strncmp(value[i].data, "k8s=", 4) == 0))
        {
            return "has more than one source of endpoints";
        }

        if (ngx_strncmp(value[i].data, "endpoints=", 10) == 0) {
            s.data = value[i].data + 10;
            s.len = value[i].len - 10;

            rv = ngx_http_kedge_backend_endpoints(cf, backend, &s);
            if (rv != NGX_CONF_OK) {
                return rv;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "host=", 5) == 0
            || ngx_strncmp(value[i].data, "srv=", 4) == 0)
        {
            rv = ngx_http_kedge_backend_dns(cf, backend,
                                            value[i].data[0] == 'h'
                                            ? NGX_HTTP_KEDGE_HOST
                                            : NGX_HTTP_KEDGE_SRV,
                                            &value[i]);
            if (rv != NGX_CONF_OK) {
                return rv;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "k8s=", 4) == 0) {
            s.data = value[i].data + 4;
            s.len = value[i].len - 4;

            n = ngx_http_kedge_backend_k8s(cf, backend, &s);

            if (n == NGX_DECLINED) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\" of backend \"%V\", "
                                   "\"k8s=SERVICE.NAMESPACE:PORT\" is required",
                                   &value[i], &backend->name);
                return NGX_CONF_ERROR;
            }

            if (n != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "port_override=", 14) == 0) {
            n = ngx_atoi(value[i].data + 14, value[i].len - 14);

            if (n < 1 || n > 65535) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid port \"%V\" in \"%V\" "
                                   "directive", &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }

            port_override = (in_port_t) n;
            continue;
        }

        if (ngx_strcmp(value[i].data, "protocol=http") == 0) {
            backend->protocols = NGX_HTTP_KEDGE_HTTP;
            continue;
        }

        if (ngx_strcmp(value[i].data, "protocol=grpc") == 0) {
            backend->protocols = NGX_HTTP_KEDGE_GRPC;
            continue;
        }

        if (ngx_strcmp(value[i].data, "tls=off") == 0) {
            backend->tls = NGX_HTTP_KEDGE_TLS_OFF;
            continue;
        }

        if (ngx_strcmp(value[i].data, "tls=on") == 0) {
            backend->tls = NGX_HTTP_KEDGE_TLS_VERIFY;
            continue;
        }

        if (ngx_strcmp(value[i].data, "tls=insecure") == 0) {
            backend->tls = NGX_HTTP_KEDGE_TLS_INSECURE;
            continue;
        }

        if (ngx_strncmp(value[i].data, "tls_name=", 9) == 0
            && value[i].len > 9)
        {
            backend->tls_name.data = value[i].data + 9;
            backend->tls_name.len = value[i].len - 9;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"%V\" directive",
                           &value[i], &cmd->name);
        return NGX_CONF_ERROR;
    }

    if ((backend->peers != NULL) + (backend->resolve != NULL)
        + (backend->k8s != NULL) != 1)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "backend \"%V\" needs exactly one of "
                           "\"endpoints=\", \"host=\", \"srv=\" or "
                           "\"k8s=\" in \"%V\" directive",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (port_override) {
        if (backend->source != NGX_HTTP_KEDGE_SRV) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"port_override=\" goes with \"srv=\" "
                               "in \"%V\" directive", &cmd->name);
            return NGX_CONF_ERROR;
        }

        backend->resolve->port = port_override;
    }

    protocol = ngx_http_kedge_backend_done(cf, kmcf, backend);

    if (protocol == (ngx_uint_t) NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    if (protocol) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate %s backend \"%V\" in \"%V\" "
                           "directive",
                           protocol == NGX_HTTP_KEDGE_HTTP ? "http" : "grpc",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* a new backend of both protocols, plain, with no endpoints yet */

ngx_http_kedge_backend_t *
ngx_http_kedge_backend_add(ngx_conf_t *cf, ngx_http_kedge_main_conf_t *kmcf,
    ngx_str_t *name)
{
    ngx_http_kedge_backend_t  *backend;

    backend = ngx_array_push(&kmcf->backends);
    if (backend == NULL) {
        return NULL;
    }

    ngx_memzero(backend, sizeof(ngx_http_kedge_backend_t));

    backend->name = *name;
    backend->protocols = NGX_HTTP_KEDGE_HTTP|NGX_HTTP_KEDGE_GRPC;
    backend->tls = NGX_HTTP_KEDGE_TLS_OFF;
    backend->file = cf->conf_file->file.name.data;
    backend->line = cf->conf_file->line;
    backend->index = NGX_ERROR;

    return backend;
}


/*
 * Once the last added backend is complete: its TLS name and sessions.
 * Returns the protocol in which its name is taken already (the backend
 * is then dropped), 0 when it is not, or NGX_ERROR.
 */

ngx_uint_t
ngx_http_kedge_backend_done(ngx_conf_t *cf, ngx_http_kedge_main_conf_t *kmcf,
    ngx_http_kedge_backend_t *backend)
{
    ngx_uint_t  protocol;

    /* TLS verifies the DNS name of a named backend, else its own name */

    if (backend->tls_name.len == 0) {
        backend->tls_name = backend->resolve ? backend->resolve->name
                                             : backend->name;
    }

#if (NGX_HTTP_SSL)
    if (backend->peers
        && ngx_http_kedge_backend_sessions(cf, backend) != NGX_OK)
    {
        return (ngx_uint_t) NGX_ERROR;
    }
#endif

    /* the new backend is the last element: look for an earlier one */

    kmcf->backends.nelts--;

    for (protocol = NGX_HTTP_KEDGE_HTTP;
         protocol <= NGX_HTTP_KEDGE_GRPC;
         protocol <<= 1)
    {
        if ((backend->protocols & protocol)
            && ngx_http_kedge_backend_find(kmcf, &backend->name, protocol))
        {
            return protocol;
        }
    }

    kmcf->backends.nelts++;

    return 0;
}


static char *
ngx_http_kedge_backend_endpoints(ngx_conf_t *cf,
    ngx_http_kedge_backend_t *backend, ngx_str_t *list)
{
    u_char       *p, *last, *comma;
    ngx_int_t     rc;
    ngx_addr_t   *addr;
    ngx_array_t  *endpoints;

    endpoints = ngx_array_create(cf->pool, 4, sizeof(ngx_addr_t));
    if (endpoints == NULL) {
        return NGX_CONF_ERROR;
    }

    p = list->data;
    last = list->data + list->len;

    /* "a,b": every element counts, an empty one too ("a,", ",a", "") */

    for ( ;; ) {
        comma = ngx_strlchr(p, last, ',');
        if (comma == NULL) {
            comma = last;
        }

        addr = ngx_array_push(endpoints);
        if (addr == NULL) {
            return NGX_CONF_ERROR;
        }

        /* endpoints are literal addresses: names belong to host= */

        rc = ngx_parse_addr_port(cf->pool, addr, p, comma - p);

        if (rc != NGX_OK
            || ngx_inet_get_port(addr->sockaddr) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid endpoint \"%*s\" of backend \"%V\", "
                               "an IP address and a port are required",
                               comma - p, p, &backend->name);
            return NGX_CONF_ERROR;
        }

        addr->name.len = comma - p;
        addr->name.data = p;

        if (comma == last) {
            break;
        }

        p = comma + 1;
    }

    /* the same shape as the copies of the store, never released */

    backend->peers = ngx_pcalloc(cf->pool, sizeof(ngx_kedge_peers_t));
    if (backend->peers == NULL) {
        return NGX_CONF_ERROR;
    }

    backend->peers->refs = 1;
    backend->peers->naddrs = endpoints->nelts;
    backend->peers->addrs = endpoints->elts;
    backend->peers->state = NGX_KEDGE_STORE_FRESH;
    backend->source = NGX_HTTP_KEDGE_STATIC;

    return NGX_CONF_OK;
}


/* host=NAME:PORT, srv=_SERVICE._PROTO.NAME */

static char *
ngx_http_kedge_backend_dns(ngx_conf_t *cf, ngx_http_kedge_backend_t *backend,
    ngx_uint_t source, ngx_str_t *arg)
{
    u_char     *p, *last;
    ngx_int_t   n;
    ngx_str_t   s, name;

    s.data = ngx_strlchr(arg->data, arg->data + arg->len, '=') + 1;
    s.len = arg->data + arg->len - s.data;

    if (source == NGX_HTTP_KEDGE_HOST) {
        last = s.data + s.len;
        p = ngx_strlchr(s.data, last, ':');

        n = p ? ngx_atoi(p + 1, last - p - 1) : NGX_ERROR;

        if (p == s.data || n < 1 || n > 65535) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"%V\" of backend \"%V\", "
                               "\"host=NAME:PORT\" is required",
                               arg, &backend->name);
            return NGX_CONF_ERROR;
        }

        name.data = s.data;
        name.len = p - s.data;

        n = ngx_http_kedge_backend_host(cf, backend, &name, (in_port_t) n);

    } else {
        n = ngx_http_kedge_backend_srv(cf, backend, &s, 0);

        if (n == NGX_DECLINED) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"%V\" of backend \"%V\", "
                               "\"srv=_SERVICE._PROTO.NAME\" is required",
                               arg, &backend->name);
            return NGX_CONF_ERROR;
        }
    }

    return (n == NGX_OK) ? NGX_CONF_OK : NGX_CONF_ERROR;
}


/* kedge's host resolver: every address of NAME, on PORT */

ngx_int_t
ngx_http_kedge_backend_host(ngx_conf_t *cf, ngx_http_kedge_backend_t *backend,
    ngx_str_t *name, in_port_t port)
{
    ngx_kedge_resolve_t  *rs;

    rs = ngx_pcalloc(cf->pool, sizeof(ngx_kedge_resolve_t));
    if (rs == NULL) {
        return NGX_ERROR;
    }

    rs->name = *name;
    rs->port = port;
    rs->backend = backend->name;

    backend->resolve = rs;
    backend->source = NGX_HTTP_KEDGE_HOST;

    return NGX_OK;
}


/*
 * kedge's srv resolver: "_grpc._tcp.svc.ns.svc.cluster.local", the
 * service, then the name; port 0: the ports of the SRV records.
 * NGX_DECLINED when the name is not that.
 */

ngx_int_t
ngx_http_kedge_backend_srv(ngx_conf_t *cf, ngx_http_kedge_backend_t *backend,
    ngx_str_t *dns_name, in_port_t port)
{
    u_char               *last, *dot;
    ngx_kedge_resolve_t  *rs;

    last = dns_name->data + dns_name->len;
    dot = NULL;

    if (dns_name->len && dns_name->data[0] == '_') {
        dot = ngx_strlchr(dns_name->data, last, '.');
        dot = dot ? ngx_strlchr(dot + 1, last, '.') : NULL;
    }

    if (dot == NULL || dot + 1 >= last || dot[-1] == '.') {
        return NGX_DECLINED;
    }

    rs = ngx_pcalloc(cf->pool, sizeof(ngx_kedge_resolve_t));
    if (rs == NULL) {
        return NGX_ERROR;
    }

    rs->service.data = dns_name->data;
    rs->service.len = dot - dns_name->data;
    rs->name.data = dot + 1;
    rs->name.len = last - dot - 1;
    rs->port = port;
    rs->backend = backend->name;

    backend->resolve = rs;
    backend->source = NGX_HTTP_KEDGE_SRV;

    return NGX_OK;
}


#if (NGX_HTTP_SSL)

/*
 * The TLS sessions the balancer keeps per endpoint are OpenSSL's: they
 * are freed with the configuration that holds them.
 */

static ngx_int_t
ngx_http_kedge_backend_sessions(ngx_conf_t *cf,
    ngx_http_kedge_backend_t *backend)
{
    ngx_pool_cleanup_t         *cln;
    ngx_http_kedge_sessions_t  *ks;

    backend->sessions = ngx_pcalloc(cf->pool, backend->peers->naddrs
                                              * sizeof(ngx_ssl_session_t *));
    if (backend->sessions == NULL) {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, sizeof(ngx_http_kedge_sessions_t));
    if (cln == NULL) {
        return NGX_ERROR;
    }

    /* the backend itself may move as the array of backends grows */

    ks = cln->data;
    ks->sessions = backend->sessions;
    ks->n = backend->peers->naddrs;

    cln->handler = ngx_http_kedge_backend_free_sessions;

    return NGX_OK;
}


static void
ngx_http_kedge_backend_free_sessions(void *data)
{
    ngx_http_kedge_sessions_t *ks = data;

    ngx_uint_t  i;

    for (i = 0; i < ks->n; i++) {
        if (ks->sessions[i]) {
            ngx_ssl_free_session(ks->sessions[i]);
        }
    }
}

#endif
