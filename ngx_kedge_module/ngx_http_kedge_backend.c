
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
 * kedge_backend NAME endpoints=ADDR[,ADDR...] [protocol=http|grpc]
 *               [tls=off|on|insecure] [tls_name=NAME];
 */

char *
ngx_http_kedge_backend_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_kedge_main_conf_t *kmcf = conf;

    char                      *rv;
    ngx_str_t                 *value, s;
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
    backend->tls_name = value[1];
    backend->file = cf->conf_file->file.name.data;
    backend->line = cf->conf_file->line;

    if (ngx_array_init(&backend->endpoints, cf->pool, 4, sizeof(ngx_addr_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

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

    if (backend->endpoints.nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "backend \"%V\" has no endpoints, "
                           "\"endpoints=\" is required in \"%V\" directive",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

#if (NGX_HTTP_SSL)
    if (ngx_http_kedge_backend_sessions(cf, backend) != NGX_OK) {
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
    u_char      *p, *last, *comma;
    ngx_int_t    rc;
    ngx_addr_t  *addr;

    p = list->data;
    last = list->data + list->len;

    /* "a,b": every element counts, an empty one too ("a,", ",a", "") */

    for ( ;; ) {
        comma = ngx_strlchr(p, last, ',');
        if (comma == NULL) {
            comma = last;
        }

        addr = ngx_array_push(&backend->endpoints);
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

    backend->sessions = ngx_pcalloc(cf->pool, backend->endpoints.nelts
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
    ks->n = backend->endpoints.nelts;

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
