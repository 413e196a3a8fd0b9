
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 *
 * kedge's dynamic routing discovery, the requests' side: the directive,
 * and the discovered routes as each worker uses them.  The fetcher
 * (ngx_kedge_discovery.c) writes the route set to the zone; a worker
 * that routes a request no configured route takes looks at the set's
 * generation (one read, no lock) and, when it moved, copies the set and
 * compiles it into route tables like the configured ones, with backends
 * of its own.  Requests hold a reference to the tables they used: their
 * route and backend stay valid until they end.
 */


#include "ngx_http_kedge_module.h"


/* one compiled route set, worker-local */
typedef struct {
    ngx_uint_t                      refs;
    ngx_pool_t                     *pool;
    ngx_http_kedge_route_table_t    http;
    ngx_http_kedge_route_table_t    grpc;
    ngx_array_t                     backends;  /* ngx_http_kedge_backend_t * */
} ngx_http_kedge_discovered_t;


struct ngx_http_kedge_discovery_conf_s {
    ngx_kedge_discovery_t           core;
    u_char                         *file;
    ngx_uint_t                      line;

    /* the log of the cycle, for pools that outlive a request's */
    ngx_log_t                      *log;

    /* worker-local: the set compiled last, and its generation */
    ngx_uint_t                      generation;
    ngx_http_kedge_discovered_t    *current;
    ngx_uint_t                      failing;
};


static ngx_int_t ngx_http_kedge_discovery_number(ngx_str_t *value,
    ngx_uint_t *n);
static void ngx_http_kedge_discovery_cleanup(void *data);
static ngx_http_kedge_discovered_t *ngx_http_kedge_discovered_compile(
    ngx_http_kedge_main_conf_t *kmcf, u_char *data, size_t len);
static ngx_int_t ngx_http_kedge_discovered_routes(ngx_pool_t *pool,
    ngx_http_kedge_discovered_t *set, ngx_http_kedge_backend_t **backends,
    ngx_uint_t *protocols, ngx_uint_t nbackends, u_char *p, u_char *last,
    ngx_uint_t nroutes);
static ngx_http_kedge_discovered_t *ngx_http_kedge_discovered_get(
    ngx_http_request_t *r);
static void ngx_http_kedge_discovered_release(void *data);


/*
 * kedge_discovery [label_prefix=kedge.com/] domain_suffix=SUFFIX
 *                 [max_services=256] [max_backends=2*max_services];
 */

char *
ngx_http_kedge_discovery_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_kedge_main_conf_t *kmcf = conf;

    u_char                           *p;
    ngx_str_t                        *value, s;
    ngx_uint_t                        i, n;
    ngx_http_kedge_discovery_conf_t  *dc;

    if (kmcf->discovery) {
        return "is duplicate";
    }

    dc = ngx_pcalloc(cf->pool, sizeof(ngx_http_kedge_discovery_conf_t));
    if (dc == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_str_set(&dc->core.label_prefix, "kedge.com/");
    dc->core.max_services = NGX_KEDGE_DISCOVERY_MAX_SERVICES;
    dc->file = cf->conf_file->file.name.data;
    dc->line = cf->conf_file->line;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        /* the values are NUL-terminated by the parser, as the decoder wants */

        if (ngx_strncmp(value[i].data, "label_prefix=", 13) == 0) {
            s.data = value[i].data + 13;
            s.len = value[i].len - 13;

            if (!ngx_kedge_k8s_label_prefix_valid((char *) s.data)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid label prefix \"%V\" in \"%V\" "
                                   "directive, a DNS subdomain and \"/\" "
                                   "(\"kedge.com/\") is expected",
                                   &s, &cmd->name);
                return NGX_CONF_ERROR;
            }

            dc->core.label_prefix = s;
            continue;
        }

        if (ngx_strncmp(value[i].data, "domain_suffix=", 14) == 0) {
            s.data = value[i].data + 14;
            s.len = value[i].len - 14;

            for (p = s.data; p < s.data + s.len; p++) {
                *p = ngx_tolower(*p);
            }

            if (!ngx_kedge_k8s_host_valid((char *) s.data)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid domain suffix \"%V\" in \"%V\" "
                                   "directive, a DNS name is expected",
                                   &s, &cmd->name);
                return NGX_CONF_ERROR;
            }

            dc->core.domain_suffix = s;
            continue;
        }

        if (ngx_strncmp(value[i].data, "max_services=", 13) == 0) {
            s.data = value[i].data + 13;
            s.len = value[i].len - 13;

            if (ngx_http_kedge_discovery_number(&s, &n) != NGX_OK) {
                goto invalid;
            }

            dc->core.max_services = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "max_backends=", 13) == 0) {
            s.data = value[i].data + 13;
            s.len = value[i].len - 13;

            if (ngx_http_kedge_discovery_number(&s, &n) != NGX_OK) {
                goto invalid;
            }

            dc->core.max_backends = n;
            continue;
        }

        goto invalid;
    }

    if (dc->core.domain_suffix.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"domain_suffix=\" is required in \"%V\" "
                           "directive", &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (dc->core.max_backends == 0) {
        dc->core.max_backends = ngx_min(2 * dc->core.max_services, 65535);
    }

    kmcf->discovery = dc;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"%V\" directive",
                       &value[i], &cmd->name);
    return NGX_CONF_ERROR;
}


static ngx_int_t
ngx_http_kedge_discovery_number(ngx_str_t *value, ngx_uint_t *n)
{
    ngx_int_t  rc;

    rc = ngx_atoi(value->data, value->len);

    if (rc < 1 || rc > 65535) {
        return NGX_ERROR;
    }

    *n = rc;

    return NGX_OK;
}


/*
 * Once all is parsed, before the backends take their places in the
 * store: the slots of discovered backends after them, and the names of
 * the configured backends, which discovery does not make.
 */

ngx_int_t
ngx_http_kedge_discovery_init(ngx_conf_t *cf,
    ngx_http_kedge_main_conf_t *kmcf)
{
    size_t                            need;
    ngx_uint_t                        i;
    ngx_pool_cleanup_t               *cln;
    ngx_kedge_discovery_name_t       *name;
    ngx_http_kedge_backend_t         *backend;
    ngx_http_kedge_discovery_conf_t  *dc;

    dc = kmcf->discovery;

    if (dc == NULL) {
        return NGX_OK;
    }

    if (kmcf->k8s_api == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"kedge_discovery\" in %s:%ui needs "
                      "\"kedge_kubernetes\"", dc->file, dc->line);
        return NGX_ERROR;
    }

    if (kmcf->store == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"kedge_discovery\" in %s:%ui needs \"kedge_zone\"",
                      dc->file, dc->line);
        return NGX_ERROR;
    }

    /* the slots and their counters, the set-aside table, room to spare */

    need = 128 * 1024 + ngx_align((kmcf->backends.nelts
                                   + dc->core.max_backends)
                                  * sizeof(ngx_kedge_store_backend_t),
                                  ngx_pagesize)
           + ngx_align(dc->core.max_backends
                       * sizeof(ngx_http_kedge_counters_t), ngx_pagesize);

    if (kmcf->store->shm_zone->shm.size < need) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"kedge_discovery\" in %s:%ui with max_backends=%ui "
                      "needs a \"kedge_zone\" of at least %uzk",
                      dc->file, dc->line, dc->core.max_backends,
                      (need + 1023) / 1024);
        return NGX_ERROR;
    }

    dc->core.api = kmcf->k8s_api;
    dc->core.store = kmcf->store;
    dc->log = &cf->cycle->new_log;

    ngx_kedge_store_register_dynamic(kmcf->store, dc->core.max_backends,
                                     sizeof(ngx_http_kedge_counters_t)
                                     / sizeof(ngx_atomic_t));

    if (ngx_array_init(&dc->core.reserved, cf->pool,
                       kmcf->backends.nelts ? kmcf->backends.nelts : 1,
                       sizeof(ngx_kedge_discovery_name_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    backend = kmcf->backends.elts;

    for (i = 0; i < kmcf->backends.nelts; i++) {
        name = ngx_array_push(&dc->core.reserved);
        if (name == NULL) {
            return NGX_ERROR;
        }

        name->name = backend[i].name;
        name->protocols = 0;

        if (backend[i].protocols & NGX_HTTP_KEDGE_HTTP) {
            name->protocols |= NGX_KEDGE_K8S_HTTP;
        }

        if (backend[i].protocols & NGX_HTTP_KEDGE_GRPC) {
            name->protocols |= NGX_KEDGE_K8S_GRPC;
        }
    }

    /* each worker's compiled set goes with this configuration */

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_kedge_discovery_cleanup;
    cln->data = dc;

    return NGX_OK;
}


static void
ngx_http_kedge_discovery_cleanup(void *data)
{
    ngx_http_kedge_discovery_conf_t *dc = data;

    if (dc->current) {
        ngx_http_kedge_discovered_release(dc->current);
        dc->current = NULL;
    }
}


/* in the fetcher's process */

ngx_int_t
ngx_http_kedge_discovery_start(ngx_cycle_t *cycle,
    ngx_http_kedge_main_conf_t *kmcf)
{
    if (kmcf->discovery == NULL) {
        return NGX_OK;
    }

    return ngx_kedge_discovery_start(&kmcf->discovery->core, cycle->pool,
                                     cycle->log);
}


/* kedge_ready: the Services were listed once, in this zone or before */

ngx_uint_t
ngx_http_kedge_discovery_ready(ngx_http_kedge_main_conf_t *kmcf)
{
    if (kmcf->discovery == NULL) {
        return 1;
    }

    return ngx_kedge_store_routes_state(kmcf->store)
           != NGX_KEDGE_STORE_NEVER;
}


/* the discovered routes of a protocol for a request; NULL: none */

ngx_http_kedge_route_table_t *
ngx_http_kedge_discovered_table(ngx_http_request_t *r, ngx_uint_t grpc)
{
    ngx_http_kedge_discovered_t  *set;

    set = ngx_http_kedge_discovered_get(r);
    if (set == NULL) {
        return NULL;
    }

    return grpc ? &set->grpc : &set->http;
}


/* for kedge_status: the tables and the backends; NGX_DECLINED: none */

ngx_int_t
ngx_http_kedge_discovered_view(ngx_http_request_t *r,
    ngx_http_kedge_route_table_t **http, ngx_http_kedge_route_table_t **grpc,
    ngx_array_t **backends)
{
    ngx_http_kedge_discovered_t  *set;
    ngx_http_kedge_main_conf_t   *kmcf;

    kmcf = ngx_http_get_module_main_conf(r, ngx_http_kedge_module);

    if (kmcf->discovery == NULL) {
        return NGX_DECLINED;
    }

    set = ngx_http_kedge_discovered_get(r);
    if (set == NULL) {
        return NGX_DECLINED;
    }

    *http = &set->http;
    *grpc = &set->grpc;
    *backends = &set->backends;

    return NGX_OK;
}


/*
 * The route set, compiled again if it changed; the request holds it
 * until it ends.  NULL: none.
 */

static ngx_http_kedge_discovered_t *
ngx_http_kedge_discovered_get(ngx_http_request_t *r)
{
    u_char                           *data;
    size_t                            len;
    ngx_int_t                         rc;
    ngx_uint_t                        generation;
    ngx_pool_cleanup_t               *cln;
    ngx_http_kedge_discovered_t      *set;
    ngx_http_kedge_main_conf_t       *kmcf;
    ngx_http_kedge_discovery_conf_t  *dc;

    kmcf = ngx_http_get_module_main_conf(r, ngx_http_kedge_module);
    dc = kmcf->discovery;

    generation = dc->generation;

    rc = ngx_kedge_store_routes_copy(kmcf->store, &generation, &data, &len,
                                     r->connection->log);

    if (rc == NGX_OK) {
        set = ngx_http_kedge_discovered_compile(kmcf, data, len);
        ngx_free(data);

        /* a set that cannot be used waits for the next one: logged once */

        dc->generation = generation;

        if (set) {
            if (dc->current) {
                ngx_http_kedge_discovered_release(dc->current);
            }

            dc->current = set;

            if (dc->failing) {
                ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                              "kedge: discovered routes compiled again");
                dc->failing = 0;
            }

        } else if (!dc->failing) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "kedge: the discovered routes could not be "
                          "compiled, the last ones stay");
            dc->failing = 1;
        }
    }

    set = dc->current;

    if (set == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    set->refs++;

    cln->handler = ngx_http_kedge_discovered_release;
    cln->data = set;

    return set;
}


static void
ngx_http_kedge_discovered_release(void *data)
{
    ngx_http_kedge_discovered_t *set = data;

    if (--set->refs == 0) {
        ngx_destroy_pool(set->pool);
    }
}


/* the set as ngx_kedge_discovery.h says, every length checked */

static ngx_http_kedge_discovered_t *
ngx_http_kedge_discovered_compile(ngx_http_kedge_main_conf_t *kmcf,
    u_char *data, size_t len)
{
    u_char                         *p, *last, *s;
    size_t                          size;
    ngx_str_t                       name;
    ngx_uint_t                      i, protocol, ndynamic, *protocols;
    ngx_log_t                      *log;
    ngx_pool_t                     *pool, *temp_pool;
    ngx_http_kedge_backend_t      **backends, **bp, *b;
    ngx_kedge_discovery_set_t      *hdr;
    ngx_http_kedge_discovered_t    *set;
    ngx_kedge_discovery_backend_t  *kb;

    p = data;
    last = data + len;

    if ((size_t) (last - p) < sizeof(ngx_kedge_discovery_set_t)) {
        return NULL;
    }

    hdr = (ngx_kedge_discovery_set_t *) p;
    p += ngx_align(sizeof(ngx_kedge_discovery_set_t), 8);

    /* each record takes at least its header */

    if (hdr->nbackends > len / sizeof(ngx_kedge_discovery_backend_t)
        || hdr->nroutes > len / sizeof(ngx_kedge_discovery_route_t))
    {
        return NULL;
    }

    /* the set outlives the request that compiled it: the cycle's log */

    log = kmcf->discovery->log;

    pool = ngx_create_pool(16384, log);
    if (pool == NULL) {
        return NULL;
    }

    temp_pool = ngx_create_pool(16384, log);
    if (temp_pool == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    set = ngx_pcalloc(pool, sizeof(ngx_http_kedge_discovered_t));
    if (set == NULL) {
        goto failed;
    }

    set->pool = pool;
    set->refs = 1;

    if (ngx_array_init(&set->backends, pool, hdr->nbackends + 1,
                       sizeof(ngx_http_kedge_backend_t *))
        != NGX_OK)
    {
        goto failed;
    }

    backends = ngx_pcalloc(temp_pool, (hdr->nbackends + 1)
                                      * sizeof(ngx_http_kedge_backend_t *));
    protocols = ngx_pcalloc(temp_pool, (hdr->nbackends + 1)
                                       * sizeof(ngx_uint_t));
    if (backends == NULL || protocols == NULL) {
        goto failed;
    }

    ndynamic = kmcf->store->ndynamic;

    for (i = 0; i < hdr->nbackends; i++) {
        kb = (ngx_kedge_discovery_backend_t *) p;

        if ((size_t) (last - p) < sizeof(ngx_kedge_discovery_backend_t)) {
            goto failed;
        }

        size = sizeof(ngx_kedge_discovery_backend_t) + kb->name_len
               + kb->tls_name_len + kb->target_len;

        if ((size_t) (last - p) < size) {
            goto failed;
        }

        s = (u_char *) (kb + 1);
        p += ngx_align(size, 8);

        protocol = (kb->protocol == NGX_KEDGE_K8S_GRPC)
                   ? NGX_HTTP_KEDGE_GRPC : NGX_HTTP_KEDGE_HTTP;
        protocols[i] = protocol;

        name.data = s;
        name.len = kb->name_len;

        if (kb->slot == NGX_KEDGE_DISCOVERY_CONFIGURED) {

            /* a name configured: that backend (NULL if no longer) */

            backends[i] = ngx_http_kedge_backend_find(kmcf, &name, protocol);
            continue;
        }

        /* a slot the zone lacks after a reload: routes dropped */

        if (kb->slot >= ndynamic) {
            continue;
        }

        b = ngx_pcalloc(pool, sizeof(ngx_http_kedge_backend_t));
        if (b == NULL) {
            goto failed;
        }

        b->name.data = ngx_pnalloc(pool, name.len + kb->tls_name_len
                                         + kb->target_len);
        if (b->name.data == NULL) {
            goto failed;
        }

        ngx_memcpy(b->name.data, s,
                   name.len + kb->tls_name_len + kb->target_len);

        b->name.len = name.len;
        b->tls_name.data = b->name.data + name.len;
        b->tls_name.len = kb->tls_name_len;
        b->target.data = b->tls_name.data + kb->tls_name_len;
        b->target.len = kb->target_len;

        b->protocols = protocol;
        b->tls = kb->tls ? NGX_HTTP_KEDGE_TLS_INSECURE
                         : NGX_HTTP_KEDGE_TLS_OFF;
        b->source = NGX_HTTP_KEDGE_K8S;
        b->index = ngx_kedge_store_dynamic_index(kmcf->store, kb->slot);
        b->serial = (ngx_uint_t) kb->serial;

        backends[i] = b;

        bp = ngx_array_push(&set->backends);
        if (bp == NULL) {
            goto failed;
        }

        *bp = b;
    }

    if (ngx_http_kedge_discovered_routes(pool, set, backends, protocols,
                                         hdr->nbackends, p, last,
                                         hdr->nroutes)
        != NGX_OK)
    {
        goto failed;
    }

    if (ngx_http_kedge_table_build(pool, temp_pool, &set->http) != NGX_OK
        || ngx_http_kedge_table_build(pool, temp_pool, &set->grpc)
           != NGX_OK)
    {
        goto failed;
    }

    ngx_destroy_pool(temp_pool);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, log, 0,
                   "kedge: discovered routes compiled: %ui http, %ui grpc, "
                   "%ui backends", set->http.routes.nelts,
                   set->grpc.routes.nelts, (ngx_uint_t) hdr->nbackends);

    return set;

failed:

    ngx_destroy_pool(temp_pool);
    ngx_destroy_pool(pool);

    return NULL;
}


static ngx_int_t
ngx_http_kedge_discovered_routes(ngx_pool_t *pool,
    ngx_http_kedge_discovered_t *set, ngx_http_kedge_backend_t **backends,
    ngx_uint_t *protocols, ngx_uint_t nbackends, u_char *p, u_char *last,
    ngx_uint_t nroutes)
{
    u_char                        *s;
    size_t                         size;
    ngx_uint_t                     i;
    ngx_http_kedge_glob_t         *glob;
    ngx_http_kedge_route_t        *route;
    ngx_http_kedge_backend_t      *b;
    ngx_kedge_discovery_route_t   *kr;
    ngx_http_kedge_route_table_t  *table;

    if (ngx_array_init(&set->http.routes, pool, nroutes ? nroutes : 1,
                       sizeof(ngx_http_kedge_route_t))
        != NGX_OK
        || ngx_array_init(&set->grpc.routes, pool, nroutes ? nroutes : 1,
                          sizeof(ngx_http_kedge_route_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < nroutes; i++) {
        kr = (ngx_kedge_discovery_route_t *) p;

        if ((size_t) (last - p) < sizeof(ngx_kedge_discovery_route_t)) {
            return NGX_ERROR;
        }

        size = sizeof(ngx_kedge_discovery_route_t) + kr->host_len
               + kr->service_len + kr->id_len;

        if ((size_t) (last - p) < size || kr->backend >= nbackends
            || kr->host_len == 0)
        {
            return NGX_ERROR;
        }

        s = (u_char *) (kr + 1);
        p += ngx_align(size, 8);

        b = backends[kr->backend];

        if (b == NULL) {
            continue;
        }

        /* a configured backend may serve both: the route says which */

        table = (protocols[kr->backend] == NGX_HTTP_KEDGE_GRPC)
                ? &set->grpc : &set->http;

        route = ngx_array_push(&table->routes);
        if (route == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(route, sizeof(ngx_http_kedge_route_t));

        route->protocol = protocols[kr->backend];
        route->backend = b;
        route->backend_name = b->name;
        route->port = kr->port;

        /* kedge: REVERSE_PROXY for HTTP; gRPC has no such matcher */

        route->proxy_mode = (route->protocol == NGX_HTTP_KEDGE_HTTP)
                            ? NGX_HTTP_KEDGE_MODE_REVERSE
                            : NGX_HTTP_KEDGE_MODE_ANY;

        route->host.data = ngx_pnalloc(pool, kr->host_len + kr->service_len
                                             + kr->id_len);
        if (route->host.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(route->host.data, s,
                   kr->host_len + kr->service_len + kr->id_len);

        route->host.len = kr->host_len;
        route->name.data = route->host.data + kr->host_len + kr->service_len;
        route->name.len = kr->id_len;

        if (ngx_array_init(&route->globs, pool, 1,
                           sizeof(ngx_http_kedge_glob_t))
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (route->protocol == NGX_HTTP_KEDGE_GRPC && kr->service_len) {
            glob = ngx_array_push(&route->globs);
            if (glob == NULL) {
                return NGX_ERROR;
            }

            glob->pattern.data = route->host.data + kr->host_len;
            glob->pattern.len = kr->service_len;
            glob->prefix = (glob->pattern.data[glob->pattern.len - 1] == '*');
            glob->pattern.len -= glob->prefix;
        }
    }

    return NGX_OK;
}
