
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

    if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\" in \"%V\" directive, "
                           "at least %uz bytes are needed",
                           &value[2], &cmd->name, 8 * ngx_pagesize);
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

        if (backend[i].resolve == NULL) {
            continue;
        }

        if (clcf->resolver == NULL
            || clcf->resolver->connections.nelts == 0)
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

        backend[i].resolve->index = index;
        backend[i].resolve->store = kmcf->store;
        backend[i].resolve->resolver = clcf->resolver;
        backend[i].resolve->timeout =
                            clcf->resolver_timeout == NGX_CONF_UNSET_MSEC
                            ? 30000 : clcf->resolver_timeout;
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

    if (backend->resolve == NULL) {
        return backend->peers;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    kmcf = ngx_http_get_module_main_conf(r, ngx_http_kedge_module);

    peers = ngx_kedge_store_peers(kmcf->store, backend->resolve->index,
                                  r->connection->log);
    if (peers == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_kedge_backend_peers_cleanup;
    cln->data = peers;

    return peers;
}


/*
 * kedge_backend NAME endpoints=ADDR[,ADDR...] | host=NAME:PORT
 *               | srv=_SERVICE._PROTO.NAME [port_override=PORT]
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

    backend = ngx_array_push(&kmcf->backends);
    if (backend == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(backend, sizeof(ngx_http_kedge_backend_t));

    backend->name = value[1];
    backend->protocols = NGX_HTTP_KEDGE_HTTP|NGX_HTTP_KEDGE_GRPC;
    backend->tls = NGX_HTTP_KEDGE_TLS_OFF;
    backend->file = cf->conf_file->file.name.data;
    backend->line = cf->conf_file->line;

    port_override = 0;

    for (i = 2; i < cf->args->nelts; i++) {

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

    if ((backend->peers != NULL) + (backend->resolve != NULL) != 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "backend \"%V\" needs exactly one of "
                           "\"endpoints=\", \"host=\" or \"srv=\" in "
                           "\"%V\" directive", &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    /* TLS verifies the DNS name of a named backend, else its own name */

    if (backend->tls_name.len == 0) {
        backend->tls_name = backend->resolve ? backend->resolve->name
                                             : backend->name;
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

#if (NGX_HTTP_SSL)
    if (backend->peers
        && ngx_http_kedge_backend_sessions(cf, backend) != NGX_OK)
    {
        return NGX_CONF_ERROR;
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
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate %s backend \"%V\" in \"%V\" "
                               "directive",
                               protocol == NGX_HTTP_KEDGE_HTTP
                               ? "http" : "grpc",
                               &value[1], &cmd->name);
            return NGX_CONF_ERROR;
        }
    }

    kmcf->backends.nelts++;

    return NGX_CONF_OK;
}


static char *
ngx_http_kedge_backend_endpoints(ngx_conf_t *cf,
    ngx_http_kedge_backend_t *backend, ngx_str_t *list)
{
    u_char       *p, *last, *comma;
    ngx_int_t     rc;
    ngx_addr_t   *addr;
    ngx_array_t  *endpoints;

    if (backend->peers || backend->resolve) {
        return "has more than one source of endpoints";
    }

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
    u_char               *p, *last, *dot;
    ngx_int_t             n;
    ngx_str_t             s;
    ngx_kedge_resolve_t  *rs;

    if (backend->peers || backend->resolve) {
        return "has more than one source of endpoints";
    }

    rs = ngx_pcalloc(cf->pool, sizeof(ngx_kedge_resolve_t));
    if (rs == NULL) {
        return NGX_CONF_ERROR;
    }

    s.data = ngx_strlchr(arg->data, arg->data + arg->len, '=') + 1;
    s.len = arg->data + arg->len - s.data;

    p = s.data;
    last = s.data + s.len;

    if (source == NGX_HTTP_KEDGE_HOST) {
        p = ngx_strlchr(p, last, ':');

        n = p ? ngx_atoi(p + 1, last - p - 1) : NGX_ERROR;

        if (p == s.data || n < 1 || n > 65535) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"%V\" of backend \"%V\", "
                               "\"host=NAME:PORT\" is required",
                               arg, &backend->name);
            return NGX_CONF_ERROR;
        }

        rs->name.data = s.data;
        rs->name.len = p - s.data;
        rs->port = (in_port_t) n;

    } else {

        /* "_grpc._tcp.svc.ns.svc.cluster.local": service, then name */

        dot = NULL;

        if (s.len && s.data[0] == '_') {
            dot = ngx_strlchr(p, last, '.');
            dot = dot ? ngx_strlchr(dot + 1, last, '.') : NULL;
        }

        if (dot == NULL || dot + 1 >= last || dot[-1] == '.') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"%V\" of backend \"%V\", "
                               "\"srv=_SERVICE._PROTO.NAME\" is required",
                               arg, &backend->name);
            return NGX_CONF_ERROR;
        }

        rs->service.data = s.data;
        rs->service.len = dot - s.data;
        rs->name.data = dot + 1;
        rs->name.len = last - dot - 1;
    }

    rs->backend = backend->name;
    backend->resolve = rs;
    backend->source = source;

    return NGX_CONF_OK;
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
