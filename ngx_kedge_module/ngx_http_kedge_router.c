
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 *
 * The director: kedge's HTTP and gRPC routes, compiled at configuration
 * time into one table per protocol.  A table is indexed by host (a hash
 * of the exact host names to each host's own routes) and a long list of
 * routes by the first segment of the path (gRPC: the service), so a
 * lookup walks only the routes that can match the request's host and
 * segment, in configuration order, whatever the size of the table.
 * Discovered routes come after the configured ones, from tables of the
 * same kind that each worker builds when the route set changes
 * (ngx_http_kedge_discovered.c).
 */


#include "ngx_http_kedge_module.h"


/* lists this long are indexed by segment; shorter ones are walked */
#define NGX_HTTP_KEDGE_INDEX_MIN  8


/* a glob's segment and its route, sorted to make a list's index */
typedef struct {
    ngx_str_t                       name;
    ngx_http_kedge_route_t         *route;
} ngx_http_kedge_segment_route_t;


/* the request's first segment, hashed once for the lists that ask */
typedef struct {
    u_char                         *data;          /* path or method */
    size_t                          len;
    size_t                          seg_len;
    ngx_uint_t                      key;
    ngx_uint_t                      hashed;
    ngx_log_t                      *log;
} ngx_http_kedge_request_segment_t;


/* candidate routes, in configuration order */
typedef struct {
    ngx_http_kedge_route_t        **next;
    ngx_http_kedge_route_t        **last;
} ngx_http_kedge_run_t;


static char *ngx_http_kedge_route_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, ngx_uint_t protocol);
static ngx_int_t ngx_http_kedge_table_init(ngx_conf_t *cf,
    ngx_http_kedge_main_conf_t *kmcf, ngx_http_kedge_route_table_t *table);
static int ngx_libc_cdecl ngx_http_kedge_route_cmp(const void *one,
    const void *two);
static ngx_int_t ngx_http_kedge_route_cmp_host(ngx_http_kedge_route_t *a,
    ngx_http_kedge_route_t *b);
static ngx_int_t ngx_http_kedge_route_list(ngx_pool_t *pool,
    ngx_pool_t *temp_pool, ngx_http_kedge_route_t **routes, ngx_uint_t n,
    ngx_http_kedge_route_list_t *list);
static ngx_int_t ngx_http_kedge_route_index(ngx_pool_t *pool,
    ngx_pool_t *temp_pool, ngx_http_kedge_route_list_t *list);
static size_t ngx_http_kedge_segment_len(u_char *data, size_t len);
static ngx_int_t ngx_http_kedge_glob_segment(ngx_http_kedge_glob_t *glob,
    ngx_str_t *segment);
static ngx_uint_t ngx_http_kedge_route_indexed(ngx_http_kedge_route_t *route);
static int ngx_libc_cdecl ngx_http_kedge_segment_cmp(const void *one,
    const void *two);
static ngx_int_t ngx_http_kedge_index_init(ngx_pool_t *pool,
    ngx_http_kedge_index_t *index, ngx_uint_t n);
static ngx_http_kedge_index_slot_t *ngx_http_kedge_index_add(
    ngx_http_kedge_index_t *index, ngx_str_t *name);
static ngx_http_kedge_route_list_t *ngx_http_kedge_index_find(
    ngx_http_kedge_index_t *index, ngx_uint_t key, u_char *data, size_t len);
static ngx_http_kedge_index_slot_t *ngx_http_kedge_index_slot(
    ngx_http_kedge_index_t *index, ngx_uint_t key, u_char *data, size_t len);
static void ngx_http_kedge_request_init(ngx_http_request_t *r,
    ngx_http_kedge_request_t *req);
static in_port_t ngx_http_kedge_parse_port(u_char *p, u_char *last);
static ngx_http_kedge_route_t *ngx_http_kedge_route_find(
    ngx_http_request_t *r, ngx_http_kedge_route_table_t *table,
    ngx_http_kedge_request_t *req);
static ngx_uint_t ngx_http_kedge_route_runs(ngx_http_kedge_route_list_t *list,
    ngx_http_kedge_request_segment_t *seg, ngx_http_kedge_run_t *run);
static ngx_uint_t ngx_http_kedge_globs_match(ngx_array_t *globs,
    u_char *data, size_t len);
static ngx_uint_t ngx_http_kedge_headers_match(ngx_http_request_t *r,
    ngx_array_t *match, ngx_uint_t any_value);


char *
ngx_http_kedge_http_route_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    return ngx_http_kedge_route_directive(cf, cmd, NGX_HTTP_KEDGE_HTTP);
}


char *
ngx_http_kedge_grpc_route_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    return ngx_http_kedge_route_directive(cf, cmd, NGX_HTTP_KEDGE_GRPC);
}


/*
 * kedge_http_route backend=NAME [host=HOST] [port=N] [path=PATH]...
 *                  [header=NAME:VALUE]... [proxy_mode=MODE];
 * kedge_grpc_route backend=NAME [service=GLOB] [authority=HOST] [port=N]
 *                  [metadata=KEY:VALUE]...;
 */

static char *
ngx_http_kedge_route_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_uint_t protocol)
{
    u_char                      *colon;
    ngx_int_t                    n;
    ngx_str_t                   *value, arg, s, v;
    ngx_uint_t                   i, grpc;
    ngx_http_kedge_route_t      *route;
    ngx_http_kedge_main_conf_t  *kmcf;

    kmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_kedge_module);

    grpc = (protocol == NGX_HTTP_KEDGE_GRPC);

    route = ngx_http_kedge_route_add(cf, kmcf, protocol);
    if (route == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        arg = value[i];

        /* what follows the "=" */

        s.data = ngx_strlchr(arg.data, arg.data + arg.len, '=');
        s.data = s.data ? s.data + 1 : arg.data + arg.len;
        s.len = arg.data + arg.len - s.data;

        if (ngx_strncmp(arg.data, "backend=", 8) == 0) {
            route->backend_name = s;

            if (ngx_http_kedge_backend_name_valid(&route->backend_name)
                != NGX_OK)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid backend name \"%V\" in \"%V\" "
                                   "directive, it must match "
                                   "^[a-z_0-9.]{2,64}$",
                                   &route->backend_name, &cmd->name);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if ((!grpc && ngx_strncmp(arg.data, "host=", 5) == 0)
            || (grpc && ngx_strncmp(arg.data, "authority=", 10) == 0))
        {
            if (ngx_http_kedge_host_name(&s) != NGX_OK) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid host \"%V\" in \"%V\" directive, "
                                   "a host name without port is required",
                                   &arg, &cmd->name);
                return NGX_CONF_ERROR;
            }

            route->host = s;
            continue;
        }

        if (ngx_strncmp(arg.data, "port=", 5) == 0) {
            n = ngx_atoi(s.data, s.len);

            if (n == NGX_ERROR || n > 65535) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid port \"%V\" in \"%V\" directive, "
                                   "it must be 0 (any) to 65535",
                                   &arg, &cmd->name);
                return NGX_CONF_ERROR;
            }

            route->port = (in_port_t) n;
            continue;
        }

        if ((!grpc && ngx_strncmp(arg.data, "path=", 5) == 0)
            || (grpc && ngx_strncmp(arg.data, "service=", 8) == 0))
        {
            n = ngx_http_kedge_route_glob(route, &s);

            if (n == NGX_DECLINED) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid %s \"%V\" in \"%V\" directive, %s",
                                   grpc ? "service" : "path", &arg,
                                   &cmd->name,
                                   grpc ? "it must be \"*\", a name, or a "
                                          "prefix ending with \"*\""
                                        : "it must start with \"/\" and may "
                                          "end with \"*\"");
                return NGX_CONF_ERROR;
            }

            if (n != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if ((!grpc && ngx_strncmp(arg.data, "header=", 7) == 0)
            || (grpc && ngx_strncmp(arg.data, "metadata=", 9) == 0))
        {
            colon = ngx_strlchr(s.data, s.data + s.len, ':');

            n = NGX_DECLINED;

            if (colon) {
                v.data = colon + 1;
                v.len = s.data + s.len - v.data;
                s.len = colon - s.data;

                n = ngx_http_kedge_route_header(route, &s, &v);
            }

            if (n == NGX_DECLINED) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid matcher \"%V\" in \"%V\" "
                                   "directive, \"NAME:VALUE\" is required",
                                   &arg, &cmd->name);
                return NGX_CONF_ERROR;
            }

            if (n != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (!grpc && ngx_strncmp(arg.data, "proxy_mode=", 11) == 0) {
            n = ngx_http_kedge_proxy_mode(&s);

            if (n == NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid proxy_mode \"%V\" in \"%V\" "
                                   "directive, it must be \"ANY\", "
                                   "\"REVERSE_PROXY\" or \"FORWARD_PROXY\"",
                                   &s, &cmd->name);
                return NGX_CONF_ERROR;
            }

            route->proxy_mode = n;
            continue;
        }

        n = ngx_http_kedge_auth_route_param(cf, cmd, route, &arg);

        if (n == NGX_OK) {
            continue;
        }

        if (n == NGX_ERROR) {
            return NGX_CONF_ERROR;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"%V\" directive",
                           &arg, &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (route->backend_name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"backend=\" is required in \"%V\" directive",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_kedge_auth_route_check(cf, cmd, route) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (grpc && route->globs.nelts > 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate \"service=\" in \"%V\" directive",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* a new route at the end of its table, matching anything yet */

ngx_http_kedge_route_t *
ngx_http_kedge_route_add(ngx_conf_t *cf, ngx_http_kedge_main_conf_t *kmcf,
    ngx_uint_t protocol)
{
    ngx_http_kedge_route_t        *route;
    ngx_http_kedge_route_table_t  *table;

    table = (protocol == NGX_HTTP_KEDGE_GRPC) ? &kmcf->grpc : &kmcf->http;

    route = ngx_array_push(&table->routes);
    if (route == NULL) {
        return NULL;
    }

    ngx_memzero(route, sizeof(ngx_http_kedge_route_t));

    route->id = table->routes.nelts;
    route->protocol = protocol;
    route->proxy_mode = NGX_HTTP_KEDGE_MODE_ANY;
    route->file = cf->conf_file->file.name.data;
    route->line = cf->conf_file->line;

    if (ngx_array_init(&route->globs, cf->pool, 1,
                       sizeof(ngx_http_kedge_glob_t))
        != NGX_OK
        || ngx_array_init(&route->headers, cf->pool, 1,
                          sizeof(ngx_http_kedge_match_header_t))
           != NGX_OK)
    {
        return NULL;
    }

    return route;
}


/*
 * A host matcher: a DNS name or an address, without port; lower-cased
 * in place.  NGX_DECLINED when it is none.
 */

ngx_int_t
ngx_http_kedge_host_name(ngx_str_t *host)
{
    u_char      ch;
    ngx_uint_t  i;

    if (host->len == 0 || host->len > 253) {
        return NGX_DECLINED;
    }

    for (i = 0; i < host->len; i++) {
        ch = ngx_tolower(host->data[i]);
        host->data[i] = ch;

        if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')
            || ch == '.' || ch == '-' || ch == '_')
        {
            continue;
        }

        return NGX_DECLINED;
    }

    if (host->data[0] == '.' || host->data[host->len - 1] == '.') {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * HTTP path rules start with "/", gRPC service matchers do not; either
 * may end with "*" for a prefix.  An empty or "*" service matches every
 * service, as in kedge.
 */

ngx_int_t
ngx_http_kedge_route_glob(ngx_http_kedge_route_t *route, ngx_str_t *s)
{
    u_char                 *star;
    ngx_uint_t              path;
    ngx_http_kedge_glob_t  *glob;

    path = (route->protocol == NGX_HTTP_KEDGE_HTTP);

    star = ngx_strlchr(s->data, s->data + s->len, '*');

    if ((star && star != s->data + s->len - 1)
        || (path && (s->len == 0 || s->data[0] != '/'))
        || (!path && s->len && s->data[0] == '/'))
    {
        return NGX_DECLINED;
    }

    if (!path && (s->len == 0 || (s->len == 1 && s->data[0] == '*'))) {
        return NGX_OK;
    }

    glob = ngx_array_push(&route->globs);
    if (glob == NULL) {
        return NGX_ERROR;
    }

    glob->prefix = (star != NULL);
    glob->pattern.data = s->data;
    glob->pattern.len = s->len - glob->prefix;

    return NGX_OK;
}


/* header and metadata names are tokens, matched case-insensitively */

ngx_int_t
ngx_http_kedge_route_header(ngx_http_kedge_route_t *route, ngx_str_t *name,
    ngx_str_t *value)
{
    u_char                         *p, *last;
    ngx_http_kedge_match_header_t  *h;

    if (name->len == 0) {
        return NGX_DECLINED;
    }

    last = name->data + name->len;

    for (p = name->data; p < last; p++) {
        if (*p <= ' ' || *p >= 0x7f || ngx_strchr("()<>@,;:\\\"/[]?={}", *p))
        {
            return NGX_DECLINED;
        }

        *p = ngx_tolower(*p);
    }

    h = ngx_array_push(&route->headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->name = *name;
    h->value = *value;

    return NGX_OK;
}


/* ANY, REVERSE_PROXY, FORWARD_PROXY (and "reverse", "forward") */

ngx_int_t
ngx_http_kedge_proxy_mode(ngx_str_t *s)
{
    if (s->len == 3 && ngx_strncasecmp(s->data, (u_char *) "any", 3) == 0) {
        return NGX_HTTP_KEDGE_MODE_ANY;
    }

    if ((s->len == 13
         && ngx_strncasecmp(s->data, (u_char *) "reverse_proxy", 13) == 0)
        || (s->len == 7 && ngx_strncmp(s->data, "reverse", 7) == 0))
    {
        return NGX_HTTP_KEDGE_MODE_REVERSE;
    }

    if ((s->len == 13
         && ngx_strncasecmp(s->data, (u_char *) "forward_proxy", 13) == 0)
        || (s->len == 7 && ngx_strncmp(s->data, "forward", 7) == 0))
    {
        return NGX_HTTP_KEDGE_MODE_FORWARD;
    }

    return NGX_ERROR;
}


ngx_int_t
ngx_http_kedge_router_init(ngx_conf_t *cf, ngx_http_kedge_main_conf_t *kmcf)
{
    if (ngx_http_kedge_table_init(cf, kmcf, &kmcf->http) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_kedge_table_init(cf, kmcf, &kmcf->grpc);
}


static ngx_int_t
ngx_http_kedge_table_init(ngx_conf_t *cf, ngx_http_kedge_main_conf_t *kmcf,
    ngx_http_kedge_route_table_t *table)
{
    ngx_uint_t               i;
    ngx_http_kedge_route_t  *route;

    route = table->routes.elts;

    for (i = 0; i < table->routes.nelts; i++) {
        route[i].backend = ngx_http_kedge_backend_find(kmcf,
                                                       &route[i].backend_name,
                                                       route[i].protocol);
        if (route[i].backend == NULL && route[i].path.len) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "kedge_config: %s: %V.backend_name: unknown %s "
                          "backend \"%V\"", route[i].file, &route[i].path,
                          route[i].protocol == NGX_HTTP_KEDGE_GRPC
                          ? "grpc" : "http", &route[i].backend_name);
            return NGX_ERROR;
        }

        if (route[i].backend == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "unknown %s backend \"%V\" in \"%s\" directive "
                          "in %s:%ui",
                          route[i].protocol == NGX_HTTP_KEDGE_GRPC
                          ? "grpc" : "http",
                          &route[i].backend_name,
                          route[i].protocol == NGX_HTTP_KEDGE_GRPC
                          ? "kedge_grpc_route" : "kedge_http_route",
                          route[i].file, route[i].line);
            return NGX_ERROR;
        }
    }

    return ngx_http_kedge_table_build(cf->pool, cf->temp_pool, table);
}


/*
 * The lookup structure of a table whose routes know their backends: at
 * configuration time, and in each worker for every discovered route set
 * (thousands of routes: the routes are grouped by host by a sort, each
 * list indexed by a sort of its segments).  A route is listed once, under
 * its host or with the host-less ones, and once under each segment of
 * its globs: the structure grows with the routes, not with hosts times
 * host-less routes.
 */

ngx_int_t
ngx_http_kedge_table_build(ngx_pool_t *pool, ngx_pool_t *temp_pool,
    ngx_http_kedge_route_table_t *table)
{
    ngx_uint_t                    i, j, n, nany, nhosts;
    ngx_http_kedge_route_t       *route, **by_host, **any;
    ngx_http_kedge_route_list_t  *lists;
    ngx_http_kedge_index_slot_t  *slot;

    route = table->routes.elts;

    by_host = ngx_palloc(temp_pool, (table->routes.nelts + 1)
                                    * sizeof(ngx_http_kedge_route_t *));
    any = ngx_palloc(temp_pool, (table->routes.nelts + 1)
                                * sizeof(ngx_http_kedge_route_t *));
    if (by_host == NULL || any == NULL) {
        return NGX_ERROR;
    }

    n = 0;
    nany = 0;

    for (i = 0; i < table->routes.nelts; i++) {
        if (route[i].host.len) {
            by_host[n++] = &route[i];

        } else {
            any[nany++] = &route[i];
        }
    }

    if (ngx_http_kedge_route_list(pool, temp_pool, any, nany,
                                  &table->any_host)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the routes of a host together, in configuration order */

    ngx_qsort(by_host, n, sizeof(ngx_http_kedge_route_t *),
              ngx_http_kedge_route_cmp);

    nhosts = 0;

    for (i = 0; i < n; i++) {
        if (i == 0 || ngx_http_kedge_route_cmp_host(by_host[i - 1], by_host[i])
                      != 0)
        {
            nhosts++;
        }
    }

    ngx_memzero(&table->hosts, sizeof(ngx_http_kedge_index_t));

    if (nhosts == 0) {
        return NGX_OK;
    }

    lists = ngx_palloc(pool, nhosts * sizeof(ngx_http_kedge_route_list_t));

    if (lists == NULL
        || ngx_http_kedge_index_init(pool, &table->hosts, nhosts) != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i = j) {

        for (j = i + 1;
             j < n && ngx_http_kedge_route_cmp_host(by_host[i], by_host[j])
                      == 0;
             j++)
        {
            /* void */
        }

        if (ngx_http_kedge_route_list(pool, temp_pool, &by_host[i], j - i,
                                      lists)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        slot = ngx_http_kedge_index_add(&table->hosts, &by_host[i]->host);
        slot->routes = lists++;
    }

    return NGX_OK;
}


static int ngx_libc_cdecl
ngx_http_kedge_route_cmp(const void *one, const void *two)
{
    ngx_int_t                rc;
    ngx_http_kedge_route_t  *a, *b;

    a = *(ngx_http_kedge_route_t **) one;
    b = *(ngx_http_kedge_route_t **) two;

    rc = ngx_http_kedge_route_cmp_host(a, b);

    if (rc) {
        return (int) rc;
    }

    /* the routes are the elements of one array: its order */

    return (a < b) ? -1 : (a > b);
}


static ngx_int_t
ngx_http_kedge_route_cmp_host(ngx_http_kedge_route_t *a,
    ngx_http_kedge_route_t *b)
{
    return ngx_memn2cmp(a->host.data, b->host.data, a->host.len, b->host.len);
}


/* a list of routes (in configuration order), and its index */

static ngx_int_t
ngx_http_kedge_route_list(ngx_pool_t *pool, ngx_pool_t *temp_pool,
    ngx_http_kedge_route_t **routes, ngx_uint_t n,
    ngx_http_kedge_route_list_t *list)
{
    ngx_memzero(list, sizeof(ngx_http_kedge_route_list_t));

    list->elts = ngx_palloc(pool, (n + 1) * sizeof(ngx_http_kedge_route_t *));
    if (list->elts == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(list->elts, routes, n * sizeof(ngx_http_kedge_route_t *));
    list->nelts = n;

    return ngx_http_kedge_route_index(pool, temp_pool, list);
}


/*
 * The index of a list.  A route whose globs all give a segment is listed
 * under those segments; any other route (no glob, or a prefix such as
 * "/api*") in "any".  A glob that matches a path gives the path's own
 * segment, so the routes of a list that match a request are all among
 * those of its segment and "any": walking these two in configuration
 * order finds the same first match as walking the whole list.
 */

static ngx_int_t
ngx_http_kedge_route_index(ngx_pool_t *pool, ngx_pool_t *temp_pool,
    ngx_http_kedge_route_list_t *list)
{
    ngx_uint_t                        i, j, k, n;
    ngx_array_t                       pairs;
    ngx_http_kedge_glob_t            *glob;
    ngx_http_kedge_route_t           *route, **elts;
    ngx_http_kedge_index_slot_t      *slot;
    ngx_http_kedge_route_list_t      *sub;
    ngx_http_kedge_segment_route_t   *p;

    if (list->nelts < NGX_HTTP_KEDGE_INDEX_MIN) {
        return NGX_OK;
    }

    if (ngx_array_init(&pairs, temp_pool, list->nelts,
                       sizeof(ngx_http_kedge_segment_route_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    list->any = ngx_palloc(pool, list->nelts
                                 * sizeof(ngx_http_kedge_route_t *));
    if (list->any == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < list->nelts; i++) {
        route = list->elts[i];

        if (!ngx_http_kedge_route_indexed(route)) {
            list->any[list->nany++] = route;
            continue;
        }

        glob = route->globs.elts;

        for (j = 0; j < route->globs.nelts; j++) {
            p = ngx_array_push(&pairs);
            if (p == NULL) {
                return NGX_ERROR;
            }

            (void) ngx_http_kedge_glob_segment(&glob[j], &p->name);
            p->route = route;
        }
    }

    if (pairs.nelts == 0) {
        /* no route names a segment: the list is walked */
        list->nany = 0;
        list->any = NULL;
        return NGX_OK;
    }

    /* by segment, each segment's routes in configuration order */

    p = pairs.elts;

    ngx_qsort(p, pairs.nelts, sizeof(ngx_http_kedge_segment_route_t),
              ngx_http_kedge_segment_cmp);

    /* n segments; a route with two globs of one segment is listed once */

    for (i = 1, n = 1, k = 1; i < pairs.nelts; i++) {
        if (p[i].name.len != p[k - 1].name.len
            || ngx_memcmp(p[i].name.data, p[k - 1].name.data, p[i].name.len)
               != 0)
        {
            n++;

        } else if (p[i].route == p[k - 1].route) {
            continue;
        }

        p[k++] = p[i];
    }

    elts = ngx_palloc(pool, k * sizeof(ngx_http_kedge_route_t *));
    sub = ngx_pcalloc(pool, n * sizeof(ngx_http_kedge_route_list_t));

    if (elts == NULL || sub == NULL
        || ngx_http_kedge_index_init(pool, &list->segments, n) != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < k; i = j, sub++) {

        for (j = i; j < k && p[j].name.len == p[i].name.len
                    && ngx_memcmp(p[j].name.data, p[i].name.data,
                                  p[i].name.len) == 0;
             j++)
        {
            elts[j] = p[j].route;
        }

        sub->elts = &elts[i];
        sub->nelts = j - i;

        slot = ngx_http_kedge_index_add(&list->segments, &p[i].name);
        slot->routes = sub;
    }

    return NGX_OK;
}


/*
 * The first segment of a path ("/api" of "/api/v1" and of "/api"), or
 * of a gRPC method without its "/" ("pkg.Service" of
 * "pkg.Service/Method"): up to the first "/" after the first byte.
 */

static size_t
ngx_http_kedge_segment_len(u_char *data, size_t len)
{
    size_t  i;

    for (i = 1; i < len; i++) {
        if (data[i] == '/') {
            return i;
        }
    }

    return len;
}


/*
 * The segment of every path a glob matches: an exact glob's own; a
 * prefix glob's if its fixed part holds the whole segment ("/api" of
 * "/api/v1/" and a star); NGX_DECLINED for a prefix that does not ("/api"
 * and a star matches "/apis/x" too; "/" and a star, any path).
 */

static ngx_int_t
ngx_http_kedge_glob_segment(ngx_http_kedge_glob_t *glob, ngx_str_t *segment)
{
    size_t  len;

    len = ngx_http_kedge_segment_len(glob->pattern.data, glob->pattern.len);

    if (len == 0 || (glob->prefix && len == glob->pattern.len)) {
        return NGX_DECLINED;
    }

    segment->data = glob->pattern.data;
    segment->len = len;

    return NGX_OK;
}


/* a route with globs, each of which gives a segment */

static ngx_uint_t
ngx_http_kedge_route_indexed(ngx_http_kedge_route_t *route)
{
    ngx_str_t               seg;
    ngx_uint_t              i;
    ngx_http_kedge_glob_t  *glob;

    if (route->globs.nelts == 0) {
        return 0;
    }

    glob = route->globs.elts;

    for (i = 0; i < route->globs.nelts; i++) {
        if (ngx_http_kedge_glob_segment(&glob[i], &seg) != NGX_OK) {
            return 0;
        }
    }

    return 1;
}


static int ngx_libc_cdecl
ngx_http_kedge_segment_cmp(const void *one, const void *two)
{
    ngx_int_t                        rc;
    ngx_http_kedge_segment_route_t  *a, *b;

    a = (ngx_http_kedge_segment_route_t *) one;
    b = (ngx_http_kedge_segment_route_t *) two;

    rc = ngx_memn2cmp(a->name.data, b->name.data, a->name.len, b->name.len);

    if (rc) {
        return (int) rc;
    }

    return (a->route < b->route) ? -1 : (a->route > b->route);
}


/*
 * An index of hosts or segments: a table of at least twice as many slots
 * as names, a power of two, probed linearly from the high bits of a
 * Fibonacci hash of the name's ngx_hash_key().  A lookup hashes the name
 * once and probes a slot or two, whatever the number of names.  (nginx's
 * ngx_hash_t, sized by its bucket size, walked buckets of a dozen names
 * for a few hundred hosts.)
 */

static ngx_int_t
ngx_http_kedge_index_init(ngx_pool_t *pool, ngx_http_kedge_index_t *index,
    ngx_uint_t n)
{
    ngx_uint_t  size, shift;

    for (size = 16, shift = 28; size < 2 * n; size *= 2, shift--) {
        /* void */
    }

    index->slots = ngx_pcalloc(pool,
                               size * sizeof(ngx_http_kedge_index_slot_t));
    if (index->slots == NULL) {
        return NGX_ERROR;
    }

    index->mask = size - 1;
    index->shift = shift;

    return NGX_OK;
}


/* a name's free slot: the names added are distinct, never empty */

static ngx_http_kedge_index_slot_t *
ngx_http_kedge_index_add(ngx_http_kedge_index_t *index, ngx_str_t *name)
{
    ngx_uint_t                    key;
    ngx_http_kedge_index_slot_t  *slot;

    key = ngx_hash_key(name->data, name->len);

    slot = ngx_http_kedge_index_slot(index, key, name->data, name->len);

    slot->name = *name;
    slot->key = key;

    return slot;
}


/* the routes of a name; NULL: none */

static ngx_http_kedge_route_list_t *
ngx_http_kedge_index_find(ngx_http_kedge_index_t *index, ngx_uint_t key,
    u_char *data, size_t len)
{
    if (index->slots == NULL || len == 0) {
        return NULL;
    }

    return ngx_http_kedge_index_slot(index, key, data, len)->routes;
}


/* the slot of a name: its own, or the free one where it would go */

static ngx_http_kedge_index_slot_t *
ngx_http_kedge_index_slot(ngx_http_kedge_index_t *index, ngx_uint_t key,
    u_char *data, size_t len)
{
    ngx_uint_t                    i;
    ngx_http_kedge_index_slot_t  *slot;

    /*
     * names that differ in their last characters only ("/r0998",
     * "/r0999") have keys close together: their low bits would make
     * long runs of full slots, a Fibonacci hash's high bits do not
     */

    i = ((uint32_t) key * 2654435769U) >> index->shift;

    for ( ;; ) {
        slot = &index->slots[i];

        if (slot->name.len == 0
            || (slot->key == key && slot->name.len == len
                && ngx_memcmp(slot->name.data, data, len) == 0))
        {
            return slot;
        }

        i = (i + 1) & index->mask;
    }
}


/* the request's context: what it says of itself, not routed yet */

ngx_http_kedge_ctx_t *
ngx_http_kedge_ctx(ngx_http_request_t *r)
{
    ngx_http_kedge_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_kedge_module);
    if (ctx) {
        return ctx;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_kedge_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_kedge_module);

    ngx_http_kedge_request_init(r, &ctx->req);

    ngx_http_kedge_trace_request(r, ctx);

    return ctx;
}


/* the route of a request, found once: by the authorizer, or kedge_pass */

ngx_http_kedge_ctx_t *
ngx_http_kedge_route(ngx_http_request_t *r)
{
    ngx_http_kedge_ctx_t          *ctx;
    ngx_http_kedge_main_conf_t    *kmcf;
    ngx_http_kedge_route_table_t  *table;

    ctx = ngx_http_kedge_ctx(r);
    if (ctx == NULL || ctx->routed) {
        return ctx;
    }

    ctx->routed = 1;

    kmcf = ngx_http_get_module_main_conf(r, ngx_http_kedge_module);

    ctx->route = ngx_http_kedge_route_find(r, ctx->req.grpc ? &kmcf->grpc
                                                            : &kmcf->http,
                                           &ctx->req);

    /* configured routes first, then the discovered ones */

    if (ctx->route == NULL && kmcf->discovery) {
        table = ngx_http_kedge_discovered_table(r, ctx->req.grpc);

        if (table) {
            ctx->route = ngx_http_kedge_route_find(r, table, &ctx->req);
        }
    }

    if (ctx->route == NULL) {

        /* SPEC section 4: the adhoc rules, when no route matched */

        switch (ngx_http_kedge_adhoc_match(r, ctx)) {

        case NGX_OK:
            return ctx;

        case NGX_DECLINED:
            break;

        default:
            return NULL;
        }

        ctx->error = NGX_HTTP_KEDGE_ERR_NO_ROUTE;

        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "kedge: no %s route for \"%V\" port %d",
                       ctx->req.grpc ? "grpc" : "http",
                       &ctx->req.host, (int) ctx->req.port);

        ngx_http_kedge_info(r, "kedge: no %s route for \"%V\" port %d",
                            ctx->req.grpc ? "grpc" : "http",
                            &ctx->req.host, (int) ctx->req.port);
        return ctx;
    }

    ctx->backend = ctx->route->backend;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "kedge: route #%ui%V of \"%V\" to backend \"%V\"",
                   ctx->route->id, &ctx->route->name, &ctx->req.host,
                   &ctx->backend->name);

    ngx_http_kedge_info(r, "kedge: route %s:%ui for \"%V\" port %d: "
                        "backend \"%V\"",
                        ctx->req.grpc ? "grpc" : "http", ctx->route->id,
                        &ctx->req.host, (int) ctx->req.port,
                        &ctx->backend->name);

    return ctx;
}


static void
ngx_http_kedge_request_init(ngx_http_request_t *r,
    ngx_http_kedge_request_t *req)
{
    u_char           *p, *last;
    ngx_str_t        *ct;
    in_port_t         default_port;
    ngx_uint_t        port_given;
    ngx_table_elt_t  *host;

    req->host = r->headers_in.server;
    req->port = 0;

    port_given = 0;

    if (r->host_end) {

        /*
         * absolute-form, "GET http://host:port/path", sent to a proxy;
         * the port digits follow host_end (nginx keeps r->port_end
         * pointing into the old buffer when a long request line moves)
         */

        req->proxy_mode = NGX_HTTP_KEDGE_MODE_FORWARD;

        p = r->host_end;
        last = r->request_end ? r->request_end : r->host_end;

        if (p < last && *p == ':') {
            port_given = 1;

            for (p++; p < last && *p >= '0' && *p <= '9'; p++) {
                /* void */
            }

            req->port = ngx_http_kedge_parse_port(r->host_end + 1, p);
        }

        req->authority.data = r->host_start;
        req->authority.len = p - r->host_start;

        /* the scheme's default port: 80 for http, 443 for https */

        if (r->schema.len == 5
            && ngx_strncasecmp(r->schema.data, (u_char *) "https", 5) == 0)
        {
            default_port = 443;

        } else if (r->schema.len == 4
                   && ngx_strncasecmp(r->schema.data, (u_char *) "http", 4)
                      == 0)
        {
            default_port = 80;

        } else {
            /* another scheme has no port kedge knows: "any port" only */
            default_port = 0;
        }

    } else {
        req->proxy_mode = NGX_HTTP_KEDGE_MODE_REVERSE;

#if (NGX_HTTP_SSL)
        default_port = (r->connection->ssl != NULL) ? 443 : 80;
#else
        default_port = 80;
#endif

        host = r->headers_in.host;

        if (host) {
            req->authority = host->value;

            p = host->value.data;
            last = p + host->value.len;

            if (p < last && *p == '[') {
                p = ngx_strlchr(p, last, ']');
                if (p == NULL) {
                    p = last;
                }
            }

            p = ngx_strlchr(p, last, ':');

            if (p) {
                port_given = 1;
                req->port = ngx_http_kedge_parse_port(p + 1, last);
            }

        } else {
            ngx_str_null(&req->authority);
        }
    }

    /* a port given but invalid stays 0: only "any port" routes match */

    req->port_given = port_given;

    if (!port_given) {
        req->port = default_port;
    }

    /* gRPC is HTTP/2 with application/grpc; grpc-web is plain HTTP */

    req->grpc = 0;

#if (NGX_HTTP_V2)
    ct = r->headers_in.content_type ? &r->headers_in.content_type->value
                                    : NULL;

    /*
     * clients send it in lower case: a plain comparison first; then
     * "-web" only after a "-"
     */

    if (r->stream && ct
        && ct->len >= sizeof("application/grpc") - 1
        && (ngx_memcmp(ct->data, "application/grpc",
                       sizeof("application/grpc") - 1) == 0
            || ngx_strncasecmp(ct->data, (u_char *) "application/grpc",
                               sizeof("application/grpc") - 1) == 0)
        && !(ct->len >= sizeof("application/grpc-web") - 1
             && ct->data[sizeof("application/grpc") - 1] == '-'
             && ngx_strncasecmp(ct->data + sizeof("application/grpc") - 1,
                                (u_char *) "-web", sizeof("-web") - 1)
                == 0))
    {
        req->grpc = 1;
    }
#else
    (void) ct;
#endif
}


static in_port_t
ngx_http_kedge_parse_port(u_char *p, u_char *last)
{
    ngx_int_t  n;

    n = ngx_atoi(p, last - p);

    if (n < 1 || n > 65535) {
        return 0;
    }

    return (in_port_t) n;
}


/*
 * The first route that matches, in configuration order, among the routes
 * of the request's host and the host-less ones: up to four runs of
 * candidates (a list's whole walk, or its routes of the request's segment
 * and those of any segment), each in configuration order, merged.
 */

static ngx_http_kedge_route_t *
ngx_http_kedge_route_find(ngx_http_request_t *r,
    ngx_http_kedge_route_table_t *table, ngx_http_kedge_request_t *req)
{
    ngx_uint_t                         i, k, n;
    ngx_http_kedge_run_t               run[4];
    ngx_http_kedge_route_t            *route;
    ngx_http_kedge_route_list_t       *list;
    ngx_http_kedge_request_segment_t   seg;

    /* the path; for gRPC the full method name without its leading "/" */

    seg.data = r->uri.data;
    seg.len = r->uri.len;

    if (req->grpc && seg.len) {
        seg.data++;
        seg.len--;
    }

    seg.hashed = 0;
    seg.log = r->connection->log;

    n = 0;

    if (table->hosts.slots && req->host.len) {
        list = ngx_http_kedge_index_find(&table->hosts,
                                         ngx_hash_key(req->host.data,
                                                      req->host.len),
                                         req->host.data, req->host.len);
        if (list) {
            n = ngx_http_kedge_route_runs(list, &seg, run);
        }
    }

    n += ngx_http_kedge_route_runs(&table->any_host, &seg, &run[n]);

    for ( ;; ) {

        /* the next candidate: the first of the runs' next routes */

        route = NULL;
        k = 0;

        for (i = 0; i < n; i++) {
            if (run[i].next < run[i].last
                && (route == NULL || *run[i].next < route))
            {
                route = *run[i].next;
                k = i;
            }
        }

        if (route == NULL) {
            return NULL;
        }

        run[k].next++;

        if (route->port && route->port != req->port) {
            continue;
        }

        if (route->protocol == NGX_HTTP_KEDGE_GRPC) {

            /* the full method name without its leading "/" */

            if (route->globs.nelts
                && (r->uri.len < 2
                    || !ngx_http_kedge_globs_match(&route->globs,
                                                   r->uri.data + 1,
                                                   r->uri.len - 1)))
            {
                continue;
            }

            if (!ngx_http_kedge_headers_match(r, &route->headers, 1)) {
                continue;
            }

            return route;
        }

        if (route->proxy_mode != NGX_HTTP_KEDGE_MODE_ANY
            && route->proxy_mode != req->proxy_mode)
        {
            continue;
        }

        if (route->globs.nelts
            && !ngx_http_kedge_globs_match(&route->globs, r->uri.data,
                                           r->uri.len))
        {
            continue;
        }

        if (!ngx_http_kedge_headers_match(r, &route->headers, 0)) {
            continue;
        }

        return route;
    }
}


/*
 * The runs of a list that can hold a match: the whole list, or, when it
 * is indexed, its routes of the request's segment and of any segment.
 */

static ngx_uint_t
ngx_http_kedge_route_runs(ngx_http_kedge_route_list_t *list,
    ngx_http_kedge_request_segment_t *seg, ngx_http_kedge_run_t *run)
{
    size_t                        i;
    ngx_uint_t                    n, key;
    ngx_http_kedge_route_list_t  *sub;

    if (list->segments.slots == NULL) {
        run[0].next = list->elts;
        run[0].last = list->elts + list->nelts;
        return (list->nelts != 0);
    }

    if (!seg->hashed) {
        seg->hashed = 1;

        /* ngx_hash_key() of the segment, found in one pass */

        key = 0;
        i = 0;

        if (seg->len) {
            key = seg->data[0];

            for (i = 1; i < seg->len && seg->data[i] != '/'; i++) {
                key = ngx_hash(key, seg->data[i]);
            }
        }

        seg->key = key;
        seg->seg_len = i;
    }

    sub = ngx_http_kedge_index_find(&list->segments, seg->key, seg->data,
                                    seg->seg_len);

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, seg->log, 0,
                   "kedge: route index: %ui of segment \"%*s\", %ui of any",
                   sub ? sub->nelts : 0, seg->seg_len, seg->data, list->nany);

    n = 0;

    if (sub) {
        run[n].next = sub->elts;
        run[n].last = sub->elts + sub->nelts;
        n++;
    }

    if (list->nany) {
        run[n].next = list->any;
        run[n].last = list->any + list->nany;
        n++;
    }

    return n;
}


static ngx_uint_t
ngx_http_kedge_globs_match(ngx_array_t *globs, u_char *data, size_t len)
{
    ngx_uint_t              i;
    ngx_http_kedge_glob_t  *glob;

    glob = globs->elts;

    for (i = 0; i < globs->nelts; i++) {
        if (glob[i].prefix ? len >= glob[i].pattern.len
                           : len == glob[i].pattern.len)
        {
            if (ngx_strncmp(data, glob[i].pattern.data, glob[i].pattern.len)
                == 0)
            {
                return 1;
            }
        }
    }

    return 0;
}


/*
 * HTTP header_matcher: the first header of that name must have exactly
 * that value, as Go's Header.Get() in kedge.  gRPC metadata_matcher: one
 * of the values of that key must be equal.
 */

static ngx_uint_t
ngx_http_kedge_headers_match(ngx_http_request_t *r, ngx_array_t *match,
    ngx_uint_t any_value)
{
    ngx_uint_t                      i, j, found;
    ngx_list_part_t                *part;
    ngx_table_elt_t                *h;
    ngx_http_kedge_match_header_t  *m;

    m = match->elts;

    for (i = 0; i < match->nelts; i++) {

        found = 0;
        part = &r->headers_in.headers.part;
        h = part->elts;

        for (j = 0; /* void */ ; j++) {

            if (j >= part->nelts) {
                if (part->next == NULL) {
                    break;
                }

                part = part->next;
                h = part->elts;
                j = 0;
            }

            if (h[j].key.len != m[i].name.len
                || ngx_strncasecmp(h[j].key.data, m[i].name.data,
                                   m[i].name.len)
                   != 0)
            {
                continue;
            }

            found = (h[j].value.len == m[i].value.len
                     && ngx_strncmp(h[j].value.data, m[i].value.data,
                                    m[i].value.len) == 0);

            if (found || !any_value) {
                break;
            }
        }

        if (!found) {
            return 0;
        }
    }

    return 1;
}
