
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 *
 * The director: kedge's HTTP and gRPC routes, compiled at configuration
 * time into one table per protocol.  A table is indexed by host, each
 * host holding the routes that can match it (its own and the host-less
 * ones) in configuration order, so a lookup costs one hash probe plus a
 * walk over the routes of that host, whatever the size of the table.
 */


#include "ngx_http_kedge_module.h"


static char *ngx_http_kedge_route_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, ngx_uint_t protocol);
static char *ngx_http_kedge_route_host(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_str_t *arg, ngx_str_t *host);
static char *ngx_http_kedge_route_glob(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_str_t *arg, ngx_http_kedge_route_t *route, ngx_uint_t path);
static char *ngx_http_kedge_route_header(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_str_t *arg, ngx_http_kedge_route_t *route);
static ngx_int_t ngx_http_kedge_table_init(ngx_conf_t *cf,
    ngx_http_kedge_main_conf_t *kmcf, ngx_http_kedge_route_table_t *table);
static ngx_int_t ngx_http_kedge_route_index(ngx_conf_t *cf,
    ngx_http_kedge_route_list_t *list);
static size_t ngx_http_kedge_segment_len(u_char *data, size_t len);
static ngx_int_t ngx_http_kedge_glob_segment(ngx_http_kedge_glob_t *glob,
    ngx_str_t *segment);
static int ngx_libc_cdecl ngx_http_kedge_cmp_segments(const void *one,
    const void *two);
static ngx_http_kedge_route_list_t *ngx_http_kedge_route_list_segment(
    ngx_http_kedge_route_list_t *list, u_char *data, size_t len);
static ngx_int_t ngx_http_kedge_route_list(ngx_conf_t *cf,
    ngx_http_kedge_route_table_t *table, ngx_str_t *host,
    ngx_http_kedge_route_list_t *list);
static void ngx_http_kedge_request_init(ngx_http_request_t *r,
    ngx_http_kedge_request_t *req);
static in_port_t ngx_http_kedge_parse_port(u_char *p, u_char *last);
static ngx_http_kedge_route_t *ngx_http_kedge_route_find(
    ngx_http_request_t *r, ngx_http_kedge_route_table_t *table,
    ngx_http_kedge_request_t *req);
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
    char                          *rv;
    ngx_int_t                      n;
    ngx_str_t                     *value, arg;
    ngx_uint_t                     i, grpc;
    ngx_http_kedge_route_t        *route;
    ngx_http_kedge_main_conf_t    *kmcf;
    ngx_http_kedge_route_table_t  *table;

    kmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_kedge_module);

    grpc = (protocol == NGX_HTTP_KEDGE_GRPC);
    table = grpc ? &kmcf->grpc : &kmcf->http;

    route = ngx_array_push(&table->routes);
    if (route == NULL) {
        return NGX_CONF_ERROR;
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
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        arg = value[i];

        if (ngx_strncmp(arg.data, "backend=", 8) == 0) {
            route->backend_name.data = arg.data + 8;
            route->backend_name.len = arg.len - 8;

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
            rv = ngx_http_kedge_route_host(cf, cmd, &arg, &route->host);
            if (rv != NGX_CONF_OK) {
                return rv;
            }

            continue;
        }

        if (ngx_strncmp(arg.data, "port=", 5) == 0) {
            n = ngx_atoi(arg.data + 5, arg.len - 5);

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
            rv = ngx_http_kedge_route_glob(cf, cmd, &arg, route, !grpc);
            if (rv != NGX_CONF_OK) {
                return rv;
            }

            continue;
        }

        if ((!grpc && ngx_strncmp(arg.data, "header=", 7) == 0)
            || (grpc && ngx_strncmp(arg.data, "metadata=", 9) == 0))
        {
            rv = ngx_http_kedge_route_header(cf, cmd, &arg, route);
            if (rv != NGX_CONF_OK) {
                return rv;
            }

            continue;
        }

        if (!grpc && ngx_strncmp(arg.data, "proxy_mode=", 11) == 0) {
            arg.data += 11;
            arg.len -= 11;

            if (ngx_strcasecmp(arg.data, (u_char *) "any") == 0) {
                route->proxy_mode = NGX_HTTP_KEDGE_MODE_ANY;

            } else if (ngx_strcasecmp(arg.data, (u_char *) "reverse_proxy")
                       == 0
                       || ngx_strcmp(arg.data, "reverse") == 0)
            {
                route->proxy_mode = NGX_HTTP_KEDGE_MODE_REVERSE;

            } else if (ngx_strcasecmp(arg.data, (u_char *) "forward_proxy")
                       == 0
                       || ngx_strcmp(arg.data, "forward") == 0)
            {
                route->proxy_mode = NGX_HTTP_KEDGE_MODE_FORWARD;

            } else {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid proxy_mode \"%V\" in \"%V\" "
                                   "directive, it must be \"ANY\", "
                                   "\"REVERSE_PROXY\" or \"FORWARD_PROXY\"",
                                   &arg, &cmd->name);
                return NGX_CONF_ERROR;
            }

            continue;
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

    if (grpc && route->globs.nelts > 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate \"service=\" in \"%V\" directive",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_kedge_route_host(ngx_conf_t *cf, ngx_command_t *cmd, ngx_str_t *arg,
    ngx_str_t *host)
{
    u_char      ch;
    ngx_uint_t  i;

    host->data = ngx_strlchr(arg->data, arg->data + arg->len, '=') + 1;
    host->len = arg->data + arg->len - host->data;

    if (host->len == 0 || host->len > 253) {
        goto invalid;
    }

    /* a DNS name or an address; the port has a matcher of its own */

    for (i = 0; i < host->len; i++) {
        ch = ngx_tolower(host->data[i]);
        host->data[i] = ch;

        if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')
            || ch == '.' || ch == '-' || ch == '_')
        {
            continue;
        }

        goto invalid;
    }

    if (host->data[0] == '.' || host->data[host->len - 1] == '.') {
        goto invalid;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid host \"%V\" in \"%V\" directive, a host name "
                       "without port is required", arg, &cmd->name);
    return NGX_CONF_ERROR;
}


static char *
ngx_http_kedge_route_glob(ngx_conf_t *cf, ngx_command_t *cmd, ngx_str_t *arg,
    ngx_http_kedge_route_t *route, ngx_uint_t path)
{
    u_char                 *star;
    ngx_str_t               s;
    ngx_http_kedge_glob_t  *glob;

    s.data = ngx_strlchr(arg->data, arg->data + arg->len, '=') + 1;
    s.len = arg->data + arg->len - s.data;

    star = ngx_strlchr(s.data, s.data + s.len, '*');

    if ((star && star != s.data + s.len - 1)
        || (path && (s.len == 0 || s.data[0] != '/'))
        || (!path && s.len && s.data[0] == '/'))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid %s \"%V\" in \"%V\" directive, %s",
                           path ? "path" : "service", arg, &cmd->name,
                           path ? "it must start with \"/\" and may end "
                                  "with \"*\""
                                : "it must be \"*\", a name, or a prefix "
                                  "ending with \"*\"");
        return NGX_CONF_ERROR;
    }

    /* kedge: an empty or "*" service matcher matches every service */

    if (!path && (s.len == 0 || (s.len == 1 && s.data[0] == '*'))) {
        return NGX_CONF_OK;
    }

    glob = ngx_array_push(&route->globs);
    if (glob == NULL) {
        return NGX_CONF_ERROR;
    }

    glob->prefix = (star != NULL);
    glob->pattern.data = s.data;
    glob->pattern.len = s.len - glob->prefix;

    return NGX_CONF_OK;
}


static char *
ngx_http_kedge_route_header(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_str_t *arg, ngx_http_kedge_route_t *route)
{
    u_char                         *p, *colon, *last;
    ngx_http_kedge_match_header_t  *h;

    p = ngx_strlchr(arg->data, arg->data + arg->len, '=') + 1;
    last = arg->data + arg->len;

    colon = ngx_strlchr(p, last, ':');

    if (colon == NULL || colon == p) {
        goto invalid;
    }

    h = ngx_array_push(&route->headers);
    if (h == NULL) {
        return NGX_CONF_ERROR;
    }

    h->name.data = p;
    h->name.len = colon - p;
    h->value.data = colon + 1;
    h->value.len = last - colon - 1;

    /* header names are matched case-insensitively, as tokens */

    for ( /* void */ ; p < colon; p++) {
        if (*p <= ' ' || *p >= 0x7f || ngx_strchr("()<>@,;:\\\"/[]?={}", *p))
        {
            goto invalid;
        }

        *p = ngx_tolower(*p);
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid matcher \"%V\" in \"%V\" directive, "
                       "\"NAME:VALUE\" is required", arg, &cmd->name);
    return NGX_CONF_ERROR;
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
    ngx_int_t                     rc;
    ngx_uint_t                    i;
    ngx_str_t                     none = ngx_null_string;
    ngx_hash_init_t               hash;
    ngx_hash_keys_arrays_t        ha;
    ngx_http_kedge_route_t       *route;
    ngx_http_kedge_route_list_t  *list;

    route = table->routes.elts;

    for (i = 0; i < table->routes.nelts; i++) {
        route[i].backend = ngx_http_kedge_backend_find(kmcf,
                                                       &route[i].backend_name,
                                                       route[i].protocol);
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

    if (ngx_http_kedge_route_list(cf, table, &none, &table->any_host)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ha.temp_pool = cf->temp_pool;
    ha.pool = cf->pool;

    if (ngx_hash_keys_array_init(&ha, NGX_HASH_SMALL) != NGX_OK) {
        return NGX_ERROR;
    }

    for (i = 0; i < table->routes.nelts; i++) {
        if (route[i].host.len == 0) {
            continue;
        }

        list = ngx_palloc(cf->pool, sizeof(ngx_http_kedge_route_list_t));
        if (list == NULL) {
            return NGX_ERROR;
        }

        rc = ngx_hash_add_key(&ha, &route[i].host, list,
                              NGX_HASH_READONLY_KEY);

        if (rc == NGX_BUSY) {
            /* the list of that host is already built */
            continue;
        }

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }

        if (ngx_http_kedge_route_list(cf, table, &route[i].host, list)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    hash.hash = &table->hosts;
    hash.key = ngx_hash_key;
    hash.max_size = 65536;
    hash.bucket_size = ngx_align(512, ngx_cacheline_size);  /* 253-byte names */
    hash.name = "kedge_route_hosts_hash";
    hash.pool = cf->pool;
    hash.temp_pool = NULL;

    return ngx_hash_init(&hash, ha.keys.elts, ha.keys.nelts);
}


/* the routes of one host, its own and the host-less ones, in order */

static ngx_int_t
ngx_http_kedge_route_list(ngx_conf_t *cf,
    ngx_http_kedge_route_table_t *table, ngx_str_t *host,
    ngx_http_kedge_route_list_t *list)
{
    ngx_uint_t               i, n;
    ngx_http_kedge_route_t  *route;

    route = table->routes.elts;

    list->nelts = 0;
    list->elts = ngx_palloc(cf->pool, (table->routes.nelts + 1)
                                      * sizeof(ngx_http_kedge_route_t *));
    if (list->elts == NULL) {
        return NGX_ERROR;
    }

    n = 0;

    for (i = 0; i < table->routes.nelts; i++) {
        if (route[i].host.len == 0
            || (route[i].host.len == host->len
                && ngx_strncmp(route[i].host.data, host->data, host->len)
                   == 0))
        {
            list->elts[n++] = &route[i];
        }
    }

    list->nelts = n;

    return ngx_http_kedge_route_index(cf, list);
}


/* lists this long get a segment index; shorter ones are walked */
#define NGX_HTTP_KEDGE_INDEX_MIN      8

/* at most this many pointers for the lists of the index of one list */
#define NGX_HTTP_KEDGE_INDEX_MAX      (1024 * 1024)


/*
 * The first segment of a path ("/api" of "/api/v1"; "/api" of "/api"),
 * or of a gRPC method ("pkg.Service" of "pkg.Service/Method"): up to
 * the first "/" after the first byte.
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
 * The first segment every request a glob matches has: an exact glob's
 * own; a prefix glob's when its fixed part holds that whole segment
 * (path=/api/ and a star: "/api"); NGX_DECLINED for a prefix that does
 * not (path=/api and a star matches "/apis/x" too).
 */

static ngx_int_t
ngx_http_kedge_glob_segment(ngx_http_kedge_glob_t *glob, ngx_str_t *segment)
{
    size_t  len;

    len = ngx_http_kedge_segment_len(glob->pattern.data, glob->pattern.len);

    if (glob->prefix && len == glob->pattern.len) {
        return NGX_DECLINED;
    }

    segment->data = glob->pattern.data;
    segment->len = len;

    return NGX_OK;
}


static int ngx_libc_cdecl
ngx_http_kedge_cmp_segments(const void *one, const void *two)
{
    ngx_http_kedge_segment_t  *a = (ngx_http_kedge_segment_t *) one;
    ngx_http_kedge_segment_t  *b = (ngx_http_kedge_segment_t *) two;

    return (int) ngx_memn2cmp(a->name.data, b->name.data, a->name.len,
                              b->name.len);
}


/*
 * The segment index of a list.  A route all of whose globs give a
 * segment is "indexed" under those segments; any other route (no path,
 * or a glob like "/api*") can match whatever the segment.  The list of a
 * segment is the list filtered to the routes indexed under it and the
 * others, in the list's order; "unindexed" has the others only.  A
 * request's first match is in the list of its segment (a glob matching
 * the request gives the request's own segment), so first-match order is
 * kept.
 */

static ngx_int_t
ngx_http_kedge_route_index(ngx_conf_t *cf, ngx_http_kedge_route_list_t *list)
{
    ngx_str_t                     seg;
    ngx_uint_t                    i, j, k, n, nother, indexed;
    ngx_array_t                   segments;
    ngx_http_kedge_glob_t        *glob;
    ngx_http_kedge_route_t       *route;
    ngx_http_kedge_segment_t     *s, *found, key;
    ngx_http_kedge_route_list_t  *sub;

    list->nsegments = 0;

    if (list->nelts < NGX_HTTP_KEDGE_INDEX_MIN) {
        return NGX_OK;
    }

    if (ngx_array_init(&segments, cf->temp_pool, 16,
                       sizeof(ngx_http_kedge_segment_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    nother = 0;

    for (i = 0; i < list->nelts; i++) {
        route = list->elts[i];
        glob = route->globs.elts;

        indexed = (route->globs.nelts > 0);

        for (j = 0; j < route->globs.nelts; j++) {
            if (ngx_http_kedge_glob_segment(&glob[j], &seg) != NGX_OK) {
                indexed = 0;
                break;
            }
        }

        if (!indexed) {
            nother++;
            continue;
        }

        for (j = 0; j < route->globs.nelts; j++) {
            (void) ngx_http_kedge_glob_segment(&glob[j], &seg);

            s = ngx_array_push(&segments);
            if (s == NULL) {
                return NGX_ERROR;
            }

            s->name = seg;
            s->routes = NULL;
            s->count = 1;
        }
    }

    if (segments.nelts == 0) {
        return NGX_OK;
    }

    /* the distinct segments, sorted */

    s = segments.elts;

    ngx_qsort(s, segments.nelts, sizeof(ngx_http_kedge_segment_t),
              ngx_http_kedge_cmp_segments);

    /* "count": how many globs give that segment, its routes at most */

    for (i = 1, n = 1; i < segments.nelts; i++) {
        if (ngx_http_kedge_cmp_segments(&s[n - 1], &s[i]) != 0) {
            s[n++] = s[i];

        } else {
            s[n - 1].count++;
        }
    }

    if (segments.nelts + n * nother > NGX_HTTP_KEDGE_INDEX_MAX) {
        /* too many routes that every segment would list: walk instead */
        return NGX_OK;
    }

    list->segments = ngx_palloc(cf->pool, n * sizeof(ngx_http_kedge_segment_t));
    list->unindexed = ngx_palloc(cf->pool, sizeof(ngx_http_kedge_route_list_t));
    sub = ngx_pcalloc(cf->pool, n * sizeof(ngx_http_kedge_route_list_t));

    if (list->segments == NULL || list->unindexed == NULL || sub == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(list->segments, s, n * sizeof(ngx_http_kedge_segment_t));
    list->nsegments = n;

    ngx_memzero(list->unindexed, sizeof(ngx_http_kedge_route_list_t));

    list->unindexed->elts = ngx_palloc(cf->pool, (nother + 1)
                                          * sizeof(ngx_http_kedge_route_t *));
    if (list->unindexed->elts == NULL) {
        return NGX_ERROR;
    }

    for (k = 0; k < n; k++) {
        list->segments[k].routes = &sub[k];
        sub[k].elts = ngx_palloc(cf->pool, (list->segments[k].count + nother)
                                           * sizeof(ngx_http_kedge_route_t *));
        if (sub[k].elts == NULL) {
            return NGX_ERROR;
        }
    }

    /*
     * in list order: an unindexed route goes to every list, an indexed
     * one to the lists of its segments (once, however many globs)
     */

    for (i = 0; i < list->nelts; i++) {
        route = list->elts[i];
        glob = route->globs.elts;

        indexed = (route->globs.nelts > 0);

        for (j = 0; j < route->globs.nelts; j++) {
            if (ngx_http_kedge_glob_segment(&glob[j], &seg) != NGX_OK) {
                indexed = 0;
                break;
            }
        }

        if (!indexed) {
            list->unindexed->elts[list->unindexed->nelts++] = route;

            for (k = 0; k < n; k++) {
                sub[k].elts[sub[k].nelts++] = route;
            }

            continue;
        }

        for (j = 0; j < route->globs.nelts; j++) {
            (void) ngx_http_kedge_glob_segment(&glob[j], &seg);

            key.name = seg;

            found = bsearch(&key, list->segments, n,
                            sizeof(ngx_http_kedge_segment_t),
                            ngx_http_kedge_cmp_segments);

            /* the same segment from an earlier glob of this route */

            if (found->routes->nelts
                && found->routes->elts[found->routes->nelts - 1] == route)
            {
                continue;
            }

            found->routes->elts[found->routes->nelts++] = route;
        }
    }

    return NGX_OK;
}


/* the routes of a list that can match a request with this path/method */

static ngx_http_kedge_route_list_t *
ngx_http_kedge_route_list_segment(ngx_http_kedge_route_list_t *list,
    u_char *data, size_t len)
{
    ngx_int_t                  rc;
    ngx_uint_t                 lo, hi, mid;
    ngx_http_kedge_segment_t  *s;

    len = ngx_http_kedge_segment_len(data, len);

    s = list->segments;
    lo = 0;
    hi = list->nsegments;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;

        rc = ngx_memn2cmp(data, s[mid].name.data, len, s[mid].name.len);

        if (rc == 0) {
            return s[mid].routes;
        }

        if (rc < 0) {
            hi = mid;

        } else {
            lo = mid + 1;
        }
    }

    return list->unindexed;
}


ngx_http_kedge_ctx_t *
ngx_http_kedge_route(ngx_http_request_t *r)
{
    ngx_http_kedge_ctx_t        *ctx;
    ngx_http_kedge_main_conf_t  *kmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_kedge_module);
    if (ctx) {
        return ctx;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_kedge_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_kedge_module);

    kmcf = ngx_http_get_module_main_conf(r, ngx_http_kedge_module);

    ngx_http_kedge_request_init(r, &ctx->req);

    ctx->route = ngx_http_kedge_route_find(r, ctx->req.grpc ? &kmcf->grpc
                                                            : &kmcf->http,
                                           &ctx->req);

    if (ctx->route == NULL) {
        ctx->error = NGX_HTTP_KEDGE_ERR_NO_ROUTE;

        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "kedge: no %s route for \"%V\" port %d",
                       ctx->req.grpc ? "grpc" : "http",
                       &ctx->req.host, (int) ctx->req.port);
        return ctx;
    }

    ctx->backend = ctx->route->backend;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "kedge: route #%ui of \"%V\" to backend \"%V\"",
                   ctx->route->id, &ctx->req.host, &ctx->backend->name);

    return ctx;
}


static void
ngx_http_kedge_request_init(ngx_http_request_t *r,
    ngx_http_kedge_request_t *req)
{
    u_char           *p, *last;
    ngx_str_t        *ct;
    ngx_uint_t        https, port_given;
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

        https = (r->schema.len == 5
                 && ngx_strncasecmp(r->schema.data, (u_char *) "https", 5)
                    == 0);

    } else {
        req->proxy_mode = NGX_HTTP_KEDGE_MODE_REVERSE;

#if (NGX_HTTP_SSL)
        https = (r->connection->ssl != NULL);
#else
        https = 0;
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

    if (!port_given) {
        req->port = https ? 443 : 80;
    }

    /* gRPC is HTTP/2 with application/grpc; grpc-web is plain HTTP */

    req->grpc = 0;

#if (NGX_HTTP_V2)
    ct = r->headers_in.content_type ? &r->headers_in.content_type->value
                                    : NULL;

    if (r->stream && ct
        && ct->len >= sizeof("application/grpc") - 1
        && ngx_strncasecmp(ct->data, (u_char *) "application/grpc",
                           sizeof("application/grpc") - 1) == 0
        && !(ct->len >= sizeof("application/grpc-web") - 1
             && ngx_strncasecmp(ct->data, (u_char *) "application/grpc-web",
                                sizeof("application/grpc-web") - 1) == 0))
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


static ngx_http_kedge_route_t *
ngx_http_kedge_route_find(ngx_http_request_t *r,
    ngx_http_kedge_route_table_t *table, ngx_http_kedge_request_t *req)
{
    ngx_uint_t                    i, key;
    ngx_http_kedge_route_t       *route;
    ngx_http_kedge_route_list_t  *list;

    list = NULL;

    if (req->host.len && table->hosts.size) {
        key = ngx_hash_key(req->host.data, req->host.len);
        list = ngx_hash_find(&table->hosts, key, req->host.data,
                             req->host.len);
    }

    if (list == NULL) {
        list = &table->any_host;
    }

    if (list->nsegments) {
        if (!req->grpc) {
            list = ngx_http_kedge_route_list_segment(list, r->uri.data,
                                                     r->uri.len);

        } else if (r->uri.len >= 2) {
            list = ngx_http_kedge_route_list_segment(list, r->uri.data + 1,
                                                     r->uri.len - 1);

        } else {
            /* no method: only routes without a service glob can match */
            list = list->unindexed;
        }
    }

    for (i = 0; i < list->nelts; i++) {
        route = list->elts[i];

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

    return NULL;
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
