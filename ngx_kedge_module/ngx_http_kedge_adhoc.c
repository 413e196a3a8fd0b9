
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 *
 * kedge's adhoc rules: a request that no route matched may still be
 * proxied when its host is a name an adhoc rule allows.  The rules of
 * each protocol are compiled into one hash of exact names and ".suffix"
 * keys; a lookup probes the host and each of its label suffixes and
 * keeps the earliest rule, so the first matching rule decides, as in
 * kedge, at one probe per label.
 *
 * The name is resolved by nginx's resolver inside the request, without
 * blocking: kedge_pass waits for the answer (nginx's resolver caches it
 * per worker for its TTL, or "valid="), then dials every address of it,
 * round robin, on a request-local set of endpoints.
 */


#include "ngx_http_kedge_module.h"


static char *ngx_http_kedge_adhoc_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, ngx_uint_t protocol);
static ngx_int_t ngx_http_kedge_adhoc_table_init(ngx_conf_t *cf,
    ngx_http_kedge_route_table_t *table);
static ngx_http_kedge_adhoc_t *ngx_http_kedge_adhoc_find(
    ngx_http_kedge_route_table_t *table, ngx_str_t *host);
static ngx_int_t ngx_http_kedge_adhoc_name_valid(ngx_str_t *name);
static ngx_int_t ngx_http_kedge_adhoc_replace(ngx_http_request_t *r,
    ngx_http_kedge_ctx_t *ctx, ngx_str_t *host);
static void ngx_http_kedge_adhoc_resolved(ngx_resolver_ctx_t *rctx);
static void ngx_http_kedge_adhoc_cleanup(void *data);
static ngx_int_t ngx_http_kedge_adhoc_peers(ngx_http_request_t *r,
    ngx_http_kedge_ctx_t *ctx, ngx_resolver_addr_t *addrs, ngx_uint_t n);
static void ngx_http_kedge_adhoc_sort(ngx_kedge_peers_t *peers);
static ngx_int_t ngx_http_kedge_adhoc_cmp(const void *one,
    const void *two);
static ngx_uint_t ngx_http_kedge_adhoc_allowed(ngx_http_kedge_adhoc_t *rule,
    struct sockaddr *sockaddr);
static ngx_int_t ngx_http_kedge_adhoc_refuse(ngx_http_request_t *r,
    ngx_http_kedge_ctx_t *ctx, ngx_uint_t status, ngx_uint_t grpc,
    const char *fmt, ...);


char *
ngx_http_kedge_http_adhoc_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    return ngx_http_kedge_adhoc_directive(cf, cmd, NGX_HTTP_KEDGE_HTTP);
}


char *
ngx_http_kedge_grpc_adhoc_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    return ngx_http_kedge_adhoc_directive(cf, cmd, NGX_HTTP_KEDGE_GRPC);
}


/*
 * kedge_http_adhoc NAME_MATCHER ports=PORT|FROM-TO[,...] [port=DEFAULT]
 *                  [replace=PATTERN:SUBSTITUTION] [allow=CIDR[,...]]
 *                  [deny=CIDR[,...]] [tls=off|on|insecure];
 * kedge_grpc_adhoc ...
 */

static char *
ngx_http_kedge_adhoc_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_uint_t protocol)
{
    u_char                      *p, *last, *comma, *dash, *colon;
    ngx_int_t                    n, from, to;
    ngx_str_t                   *value, s;
    ngx_uint_t                   i, ports;
    ngx_http_kedge_adhoc_t      *rule;
    ngx_http_kedge_main_conf_t  *kmcf;

    kmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_kedge_module);

    value = cf->args->elts;

    rule = ngx_http_kedge_adhoc_add(cf, kmcf, protocol);
    if (rule == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_kedge_adhoc_matcher(rule, &value[1]) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid name matcher \"%V\" in \"%V\" directive, "
                           "it must be a name, \"*.\" and a name, or \"*\"",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    ports = 0;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "port=", 5) == 0) {
            n = ngx_atoi(value[i].data + 5, value[i].len - 5);

            if (n < 1 || n > 65535) {
                goto invalid;
            }

            rule->default_port = (in_port_t) n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "ports=", 6) == 0) {
            p = value[i].data + 6;
            last = value[i].data + value[i].len;

            /* "80,443,8000-9000": every element counts, an empty one too */

            for ( ;; ) {
                comma = ngx_strlchr(p, last, ',');
                if (comma == NULL) {
                    comma = last;
                }

                dash = ngx_strlchr(p, comma, '-');

                from = ngx_atoi(p, (dash ? dash : comma) - p);
                to = dash ? ngx_atoi(dash + 1, comma - dash - 1) : from;

                if (ngx_http_kedge_adhoc_port_range(rule, from, to)
                    != NGX_OK)
                {
                    goto invalid;
                }

                if (comma == last) {
                    break;
                }

                p = comma + 1;
            }

            ports = 1;
            continue;
        }

        if (ngx_strncmp(value[i].data, "replace=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            colon = ngx_strlchr(s.data, s.data + s.len, ':');

            if (colon == NULL) {
                goto invalid;
            }

            rule->pattern.data = s.data;
            rule->pattern.len = colon - s.data;
            rule->substitution.data = colon + 1;
            rule->substitution.len = s.data + s.len - colon - 1;

            if (ngx_http_kedge_adhoc_replace_valid(rule) != NGX_OK) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "allow=", 6) == 0
            || ngx_strncmp(value[i].data, "deny=", 5) == 0)
        {
            s.data = ngx_strlchr(value[i].data,
                                 value[i].data + value[i].len, '=') + 1;
            s.len = value[i].data + value[i].len - s.data;

            n = ngx_http_kedge_adhoc_cidrs(cf, value[i].data[0] == 'a'
                                               ? &rule->allow : &rule->deny,
                                           &s);
            if (n == NGX_DECLINED) {
                goto invalid;
            }

            if (n != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strcmp(value[i].data, "tls=off") == 0) {
            rule->tls = NGX_HTTP_KEDGE_TLS_OFF;
            continue;
        }

        if (ngx_strcmp(value[i].data, "tls=on") == 0) {
            rule->tls = NGX_HTTP_KEDGE_TLS_VERIFY;
            continue;
        }

        if (ngx_strcmp(value[i].data, "tls=insecure") == 0) {
            rule->tls = NGX_HTTP_KEDGE_TLS_INSECURE;
            continue;
        }

        goto invalid;
    }

    /* kedge's rule without allowed ports refuses every request: say so */

    if (!ports) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"ports=\" is required in \"%V\" directive",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"%V\" directive",
                       &value[i], &cmd->name);
    return NGX_CONF_ERROR;
}


/* a new rule at the end of its table: default port 80, nothing allowed */

ngx_http_kedge_adhoc_t *
ngx_http_kedge_adhoc_add(ngx_conf_t *cf, ngx_http_kedge_main_conf_t *kmcf,
    ngx_uint_t protocol)
{
    ngx_http_kedge_adhoc_t        *rule;
    ngx_http_kedge_route_table_t  *table;

    table = (protocol == NGX_HTTP_KEDGE_GRPC) ? &kmcf->grpc : &kmcf->http;

    if (table->adhoc.elts == NULL
        && ngx_array_init(&table->adhoc, cf->pool, 4,
                          sizeof(ngx_http_kedge_adhoc_t))
           != NGX_OK)
    {
        return NULL;
    }

    rule = ngx_array_push(&table->adhoc);
    if (rule == NULL) {
        return NULL;
    }

    ngx_memzero(rule, sizeof(ngx_http_kedge_adhoc_t));

    rule->id = table->adhoc.nelts;
    rule->protocol = protocol;
    rule->default_port = 80;
    rule->tls = NGX_HTTP_KEDGE_TLS_OFF;
    rule->file = cf->conf_file->file.name.data;
    rule->line = cf->conf_file->line;

    if (ngx_array_init(&rule->ports, cf->pool, 2,
                       sizeof(ngx_http_kedge_port_range_t))
        != NGX_OK)
    {
        return NULL;
    }

    return rule;
}


/*
 * "name.example.com", "*.example.com" (names ending in ".example.com",
 * whole labels only) or "*" (any name); lower-cased in place.
 */

ngx_int_t
ngx_http_kedge_adhoc_matcher(ngx_http_kedge_adhoc_t *rule, ngx_str_t *matcher)
{
    ngx_str_t  name;

    rule->matcher = *matcher;

    if (matcher->len == 1 && matcher->data[0] == '*') {
        ngx_str_null(&rule->key);
        return NGX_OK;
    }

    name = *matcher;

    if (name.len > 2 && name.data[0] == '*' && name.data[1] == '.') {
        name.data += 2;
        name.len -= 2;
    }

    if (ngx_http_kedge_host_name(&name) != NGX_OK) {
        return NGX_DECLINED;
    }

    /* "*.example.com" is looked up as ".example.com" */

    rule->key = *matcher;

    if (matcher->data[0] == '*') {
        rule->key.data++;
        rule->key.len--;
    }

    return NGX_OK;
}


/* a port, or a range of them, allowed: NGX_DECLINED when out of range */

ngx_int_t
ngx_http_kedge_adhoc_port_range(ngx_http_kedge_adhoc_t *rule, ngx_int_t from,
    ngx_int_t to)
{
    ngx_http_kedge_port_range_t  *range;

    if (from < 1 || to > 65535 || from > to) {
        return NGX_DECLINED;
    }

    range = ngx_array_push(&rule->ports);
    if (range == NULL) {
        return NGX_ERROR;
    }

    range->from = (in_port_t) from;
    range->to = (in_port_t) to;

    return NGX_OK;
}


/*
 * dns_name_replace: a non-empty pattern, and a substitution (possibly
 * empty), both made of what names are made of; lower-cased in place.
 */

ngx_int_t
ngx_http_kedge_adhoc_replace_valid(ngx_http_kedge_adhoc_t *rule)
{
    u_char     *p, *last;
    ngx_str_t  *s;

    if (rule->pattern.len == 0) {
        return NGX_DECLINED;
    }

    for (s = &rule->pattern; s; s = (s == &rule->pattern)
                                    ? &rule->substitution : NULL)
    {
        last = s->data + s->len;

        for (p = s->data; p < last; p++) {
            *p = ngx_tolower(*p);

            if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
                  || *p == '.' || *p == '-' || *p == '_'))
            {
                return NGX_DECLINED;
            }
        }
    }

    return NGX_OK;
}


/* "10.0.0.0/8,fd00::/8": NGX_DECLINED when one is not an address range */

ngx_int_t
ngx_http_kedge_adhoc_cidrs(ngx_conf_t *cf, ngx_array_t **cidrs,
    ngx_str_t *list)
{
    u_char      *p, *last, *comma;
    ngx_int_t    rc;
    ngx_str_t    s;
    ngx_cidr_t  *cidr;

    if (*cidrs == NULL) {
        *cidrs = ngx_array_create(cf->pool, 4, sizeof(ngx_cidr_t));
        if (*cidrs == NULL) {
            return NGX_ERROR;
        }
    }

    p = list->data;
    last = list->data + list->len;

    for ( ;; ) {
        comma = ngx_strlchr(p, last, ',');
        if (comma == NULL) {
            comma = last;
        }

        s.data = p;
        s.len = comma - p;

        cidr = ngx_array_push(*cidrs);
        if (cidr == NULL) {
            return NGX_ERROR;
        }

        rc = (s.len == 0) ? NGX_ERROR : ngx_ptocidr(&s, cidr);

        if (rc == NGX_ERROR) {
            return NGX_DECLINED;
        }

        if (rc == NGX_DONE) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "low address bits of %V are meaningless", &s);
        }

        if (comma == last) {
            break;
        }

        p = comma + 1;
    }

    return NGX_OK;
}


/*
 * Once all is parsed: the lookup hash of each protocol, and a resolver
 * for every kedge_pass location when there are adhoc rules.
 */

ngx_int_t
ngx_http_kedge_adhoc_init(ngx_conf_t *cf, ngx_http_kedge_main_conf_t *kmcf)
{
    ngx_uint_t                  i;
    ngx_http_kedge_pass_ref_t  *ref;

    if (ngx_http_kedge_adhoc_table_init(cf, &kmcf->http) != NGX_OK
        || ngx_http_kedge_adhoc_table_init(cf, &kmcf->grpc) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (kmcf->http.adhoc.nelts + kmcf->grpc.adhoc.nelts == 0) {
        return NGX_OK;
    }

    ref = kmcf->passes.elts;

    for (i = 0; i < kmcf->passes.nelts; i++) {
        if (ref[i].clcf->resolver == NULL
            || ref[i].clcf->resolver->connections.nelts == 0)
        {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"kedge_pass\" in %s:%ui needs a \"resolver\" "
                          "for the adhoc rules", ref[i].file, ref[i].line);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_kedge_adhoc_table_init(ngx_conf_t *cf,
    ngx_http_kedge_route_table_t *table)
{
    ngx_int_t                rc;
    ngx_uint_t               i;
    ngx_hash_init_t          hash;
    ngx_hash_keys_arrays_t   ha;
    ngx_http_kedge_adhoc_t  *rule;

    if (table->adhoc.nelts == 0) {
        return NGX_OK;
    }

    ha.temp_pool = cf->temp_pool;
    ha.pool = cf->pool;

    if (ngx_hash_keys_array_init(&ha, NGX_HASH_SMALL) != NGX_OK) {
        return NGX_ERROR;
    }

    rule = table->adhoc.elts;

    for (i = 0; i < table->adhoc.nelts; i++) {

        if (rule[i].key.len == 0) {
            if (table->adhoc_any == NULL) {
                table->adhoc_any = &rule[i];
            }

            continue;
        }

        /* a later rule of the same key never decides: the first is kept */

        rc = ngx_hash_add_key(&ha, &rule[i].key, &rule[i],
                              NGX_HASH_READONLY_KEY);

        if (rc != NGX_OK && rc != NGX_BUSY) {
            return NGX_ERROR;
        }
    }

    if (ha.keys.nelts == 0) {
        return NGX_OK;
    }

    hash.hash = &table->adhoc_names;
    hash.key = ngx_hash_key;
    hash.max_size = 65536;
    hash.bucket_size = ngx_align(512, ngx_cacheline_size);  /* 253-byte names */
    hash.name = "kedge_adhoc_names_hash";
    hash.pool = cf->pool;
    hash.temp_pool = NULL;

    return ngx_hash_init(&hash, ha.keys.elts, ha.keys.nelts);
}


/*
 * Called by the router when no route matched: NGX_OK when a rule took
 * the request (ctx->adhoc, or a refusal in ctx->error), NGX_DECLINED
 * when none did.
 */

ngx_int_t
ngx_http_kedge_adhoc_match(ngx_http_request_t *r, ngx_http_kedge_ctx_t *ctx)
{
    in_port_t                     port;
    ngx_uint_t                    i;
    ngx_http_kedge_adhoc_t       *rule;
    ngx_http_kedge_main_conf_t   *kmcf;
    ngx_http_kedge_port_range_t  *range;

    kmcf = ngx_http_get_module_main_conf(r, ngx_http_kedge_module);

    rule = ngx_http_kedge_adhoc_find(ctx->req.grpc ? &kmcf->grpc
                                                   : &kmcf->http,
                                     &ctx->req.host);
    if (rule == NULL) {
        return NGX_DECLINED;
    }

    ctx->adhoc = rule;

    ctx->adhoc_ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_kedge_adhoc_ctx_t));
    if (ctx->adhoc_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "kedge: adhoc rule #%ui \"%V\" for \"%V\"",
                   rule->id, &rule->matcher, &ctx->req.host);

    /* the port written, else the rule's default, as kedge */

    if (!ctx->req.port_given) {
        port = rule->default_port;

    } else if (ctx->req.port == 0) {
        return ngx_http_kedge_adhoc_refuse(r, ctx, NGX_HTTP_BAD_REQUEST, 3,
                                           "adhoc: malformed port number");

    } else {
        port = ctx->req.port;
    }

    range = rule->ports.elts;

    for (i = 0; i < rule->ports.nelts; i++) {
        if (port >= range[i].from && port <= range[i].to) {
            break;
        }
    }

    if (i == rule->ports.nelts) {
        return ngx_http_kedge_adhoc_refuse(r, ctx, NGX_HTTP_BAD_REQUEST, 3,
                                           "adhoc: port %d is not allowed",
                                           (int) port);
    }

    ctx->adhoc_ctx->port = port;

    return ngx_http_kedge_adhoc_replace(r, ctx, &ctx->req.host);
}


/* the earliest rule whose name, or suffix, or "*", matches the host */

static ngx_http_kedge_adhoc_t *
ngx_http_kedge_adhoc_find(ngx_http_kedge_route_table_t *table,
    ngx_str_t *host)
{
    u_char                  *p, *last;
    ngx_uint_t               key;
    ngx_http_kedge_adhoc_t  *rule, *found;

    if (table->adhoc.nelts == 0
        || ngx_http_kedge_adhoc_name_valid(host) != NGX_OK)
    {
        return NULL;
    }

    rule = table->adhoc_any;

    if (table->adhoc_names.size == 0) {
        return rule;
    }

    p = host->data;
    last = host->data + host->len;

    /* the name itself, then ".b.c" and ".c" of "a.b.c" */

    for ( ;; ) {
        key = ngx_hash_key(p, last - p);
        found = ngx_hash_find(&table->adhoc_names, key, p, last - p);

        if (found && (rule == NULL || found->id < rule->id)) {
            rule = found;
        }

        p = ngx_strlchr(p + 1, last, '.');

        if (p == NULL) {
            return rule;
        }
    }
}


/*
 * What adhoc rules look at and resolve: lower-case DNS names (nginx
 * lower-cases the host), labels of 1 to 63 characters, 253 at most.
 */

static ngx_int_t
ngx_http_kedge_adhoc_name_valid(ngx_str_t *name)
{
    u_char      ch;
    ngx_uint_t  i, label;

    if (name->len == 0 || name->len > 253) {
        return NGX_DECLINED;
    }

    label = 0;

    for (i = 0; i < name->len; i++) {
        ch = name->data[i];

        if (ch == '.') {
            if (label == 0) {
                return NGX_DECLINED;
            }

            label = 0;
            continue;
        }

        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')
              || ch == '-' || ch == '_')
            || ++label > 63)
        {
            return NGX_DECLINED;
        }
    }

    return (label == 0) ? NGX_DECLINED : NGX_OK;
}


/*
 * dns_name_replace: every occurrence of the pattern, as kedge's
 * strings.Replace(); a name without it is the configuration's error.
 */

static ngx_int_t
ngx_http_kedge_adhoc_replace(ngx_http_request_t *r,
    ngx_http_kedge_ctx_t *ctx, ngx_str_t *host)
{
    u_char                      *p, *q, *last, *d;
    size_t                       len;
    ngx_uint_t                   n;
    ngx_http_kedge_adhoc_t      *rule;
    ngx_http_kedge_adhoc_ctx_t  *ac;

    rule = ctx->adhoc;
    ac = ctx->adhoc_ctx;

    if (rule->pattern.len == 0) {
        ac->name = *host;
        return NGX_OK;
    }

    last = host->data + host->len;
    n = 0;

    for (p = host->data; p + rule->pattern.len <= last; /* void */ ) {
        q = ngx_strlcasestrn(p, last, rule->pattern.data,
                             rule->pattern.len - 1);
        if (q == NULL) {
            break;
        }

        n++;
        p = q + rule->pattern.len;
    }

    if (n == 0) {
        return ngx_http_kedge_adhoc_refuse(r, ctx, NGX_HTTP_BAD_GATEWAY, 5,
                                           "adhoc: cannot resolve %V host: "
                                           "replace pattern %V does not "
                                           "match it", &ctx->req.authority,
                                           &rule->pattern);
    }

    len = host->len + n * rule->substitution.len - n * rule->pattern.len;

    d = ngx_pnalloc(r->pool, len ? len : 1);
    if (d == NULL) {
        return NGX_ERROR;
    }

    ac->name.data = d;

    for (p = host->data; p < last; /* void */ ) {
        q = (p + rule->pattern.len <= last)
            ? ngx_strlcasestrn(p, last, rule->pattern.data,
                               rule->pattern.len - 1)
            : NULL;

        if (q == NULL) {
            d = ngx_cpymem(d, p, last - p);
            break;
        }

        d = ngx_cpymem(d, p, q - p);
        d = ngx_cpymem(d, rule->substitution.data, rule->substitution.len);
        p = q + rule->pattern.len;
    }

    ac->name.len = d - ac->name.data;

    if (ngx_http_kedge_adhoc_name_valid(&ac->name) != NGX_OK) {
        return ngx_http_kedge_adhoc_refuse(r, ctx, NGX_HTTP_BAD_GATEWAY, 5,
                                           "adhoc: cannot resolve %V host: "
                                           "\"%V\" is no DNS name",
                                           &ctx->req.authority,
                                           &ac->name);
    }

    return NGX_OK;
}


/*
 * kedge_pass of a request an adhoc rule took: resolve its name, then
 * proxy; NGX_DONE while the resolver has not answered.
 */

ngx_int_t
ngx_http_kedge_adhoc_pass(ngx_http_request_t *r, ngx_http_kedge_ctx_t *ctx)
{
    ngx_addr_t                   addr;
    ngx_resolver_ctx_t          *rctx;
    ngx_http_cleanup_t          *cln;
    ngx_resolver_addr_t          raddr;
    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_kedge_adhoc_ctx_t  *ac;

    ac = ctx->adhoc_ctx;

    /* an address is dialed as it is, as Go's LookupHost() answers it */

    if (ngx_parse_addr(r->pool, &addr, ac->name.data,
                       ac->name.len)
        == NGX_OK)
    {
        raddr.sockaddr = addr.sockaddr;
        raddr.socklen = addr.socklen;

        if (ngx_http_kedge_adhoc_peers(r, ctx, &raddr, 1) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ctx->error ? ngx_http_kedge_error(r, ctx)
                          : ngx_http_kedge_pass_proxy(r, ctx);
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    rctx = ngx_resolve_start(clcf->resolver, NULL);
    if (rctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rctx == NGX_NO_RESOLVER) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "kedge: no resolver for the adhoc name \"%V\"",
                      &ac->name);

        ngx_http_kedge_adhoc_refuse(r, ctx, NGX_HTTP_BAD_GATEWAY, 5,
                                    "adhoc: cannot resolve %V host: "
                                    "no resolver", &ctx->req.authority);
        return ngx_http_kedge_error(r, ctx);
    }

    /* the resolution goes with the request, however the request ends */

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        ngx_resolve_name_done(rctx);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_kedge_adhoc_cleanup;
    cln->data = ctx->adhoc_ctx;

    rctx->name = ac->name;
    rctx->handler = ngx_http_kedge_adhoc_resolved;
    rctx->data = r;
    rctx->timeout = clcf->resolver_timeout;

    ac->resolving = rctx;

    if (ngx_resolve_name(rctx) != NGX_OK) {
        /* the resolver freed the context */
        ac->resolving = NULL;
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ac->resolving == NULL) {

        /* answered at once, from the resolver's cache */

        return ctx->error ? ngx_http_kedge_error(r, ctx)
                          : ngx_http_kedge_pass_proxy(r, ctx);
    }

    /* the answer comes later: a client that goes away ends the wait */

    ac->waiting = 1;
    r->main->count++;

    if (r->connection->read->ready) {
        ngx_post_event(r->connection->read, &ngx_posted_events);

    } else if (ngx_handle_read_event(r->connection->read, 0) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->read_event_handler = ngx_http_test_reading;

    return NGX_DONE;
}


static void
ngx_http_kedge_adhoc_resolved(ngx_resolver_ctx_t *rctx)
{
    ngx_http_request_t *r = rctx->data;

    ngx_int_t              rc;
    ngx_connection_t      *c;
    ngx_http_kedge_ctx_t  *ctx;

    c = r->connection;
    ctx = ngx_http_get_module_ctx(r, ngx_http_kedge_module);

    ctx->adhoc_ctx->resolving = NULL;
    rc = NGX_OK;

    if (rctx->state) {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "kedge: adhoc name \"%V\" could not be resolved "
                      "(%i: %s)", &rctx->name, rctx->state,
                      ngx_resolver_strerror(rctx->state));

        ngx_http_kedge_adhoc_refuse(r, ctx, NGX_HTTP_BAD_GATEWAY, 5,
                                    "adhoc: cannot resolve %V host: %s",
                                    &ctx->req.authority,
                                    ngx_resolver_strerror(rctx->state));

    } else {
        rc = ngx_http_kedge_adhoc_peers(r, ctx, rctx->addrs, rctx->naddrs);
    }

    ngx_resolve_name_done(rctx);

    if (!ctx->adhoc_ctx->waiting) {
        /* inside ngx_resolve_name(): kedge_pass goes on from there */
        return;
    }

    ctx->adhoc_ctx->waiting = 0;
    r->read_event_handler = ngx_http_block_reading;

    if (rc != NGX_OK) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;

    } else if (ctx->error) {
        rc = ngx_http_kedge_error(r, ctx);

    } else {
        rc = ngx_http_kedge_pass_proxy(r, ctx);
    }

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_kedge_adhoc_cleanup(void *data)
{
    ngx_http_kedge_adhoc_ctx_t *ac = data;

    if (ac->resolving) {
        ngx_resolve_name_done(ac->resolving);
        ac->resolving = NULL;
    }
}


/*
 * The endpoints of the answer the address ranges allow, on the port,
 * for this request only; with a backend of their own, not in the store.
 */

static ngx_int_t
ngx_http_kedge_adhoc_peers(ngx_http_request_t *r, ngx_http_kedge_ctx_t *ctx,
    ngx_resolver_addr_t *addrs, ngx_uint_t n)
{
    u_char                       text[NGX_SOCKADDR_STRLEN];
    ngx_str_t                    name;
    ngx_uint_t                   i, denied;
    ngx_addr_t                  *addr;
    ngx_kedge_peers_t           *peers;
    ngx_http_kedge_adhoc_t      *rule;
    ngx_http_kedge_backend_t    *backend;
    ngx_http_kedge_adhoc_ctx_t  *ac;

    rule = ctx->adhoc;
    ac = ctx->adhoc_ctx;

    peers = ngx_pcalloc(r->pool, sizeof(ngx_kedge_peers_t));
    if (peers == NULL) {
        return NGX_ERROR;
    }

    peers->addrs = ngx_pcalloc(r->pool, n * sizeof(ngx_addr_t));
    if (peers->addrs == NULL) {
        return NGX_ERROR;
    }

    denied = 0;

    for (i = 0; i < n; i++) {
        addr = &peers->addrs[peers->naddrs];

        addr->sockaddr = ngx_palloc(r->pool, addrs[i].socklen);
        if (addr->sockaddr == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(addr->sockaddr, addrs[i].sockaddr, addrs[i].socklen);
        addr->socklen = addrs[i].socklen;
        ngx_inet_set_port(addr->sockaddr, ac->port);

        /* the name is written when the balancer dials the address */

        if (!ngx_http_kedge_adhoc_allowed(rule, addr->sockaddr)) {
            name.data = text;
            name.len = ngx_sock_ntop(addr->sockaddr, addr->socklen, text,
                                     NGX_SOCKADDR_STRLEN, 1);

            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "kedge: adhoc name \"%V\": address %V is not "
                          "allowed", &ac->name, &name);
            denied++;
            continue;
        }

        peers->naddrs++;
    }

    if (peers->naddrs == 0) {
        return ngx_http_kedge_adhoc_refuse(r, ctx, NGX_HTTP_FORBIDDEN, 7,
                                           "adhoc: %V resolves to no "
                                           "allowed address",
                                           &ctx->req.authority);
    }

    peers->refs = 1;
    peers->state = NGX_KEDGE_STORE_FRESH;

    backend = ngx_pcalloc(r->pool, sizeof(ngx_http_kedge_backend_t));
    if (backend == NULL) {
        return NGX_ERROR;
    }

    backend->name = ac->name;
    backend->protocols = rule->protocol;
    backend->tls = rule->tls;
    backend->tls_name = ac->name;
    backend->source = NGX_HTTP_KEDGE_STATIC;
    backend->peers = peers;
    backend->index = NGX_ERROR;

    /*
     * round robin over the addresses of a name, from request to request:
     * the resolver rotates cached answers at random, so they are sorted,
     * and each name has a cursor (or shares one with a few others)
     */

    ngx_http_kedge_adhoc_sort(peers);

    backend->next = rule->next[ngx_hash_key(ac->name.data,
                                            ac->name.len)
                               % NGX_HTTP_KEDGE_ADHOC_CURSORS]++;

    ctx->backend = backend;
    ctx->peers = peers;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "kedge: adhoc name \"%V\": %ui addresses, %ui not "
                   "allowed, port %d", &ac->name, peers->naddrs,
                   denied, (int) ac->port);

    return NGX_OK;
}


/*
 * The order of ngx_http_kedge_adhoc_cmp().  IPv4 addresses alone (the
 * usual answer; all on one port) are sorted in place by the address as a
 * number, which is the same order as comparing their bytes: a function
 * call and a memcmp() a comparison were half of what building the list
 * cost.
 */

static void
ngx_http_kedge_adhoc_sort(ngx_kedge_peers_t *peers)
{
    in_addr_t    key;
    ngx_uint_t   i, j, n;
    ngx_addr_t   tmp, *a;

    a = peers->addrs;
    n = peers->naddrs;

    for (i = 0; i < n; i++) {
        if (a[i].sockaddr->sa_family != AF_INET) {
            ngx_sort(a, n, sizeof(ngx_addr_t), ngx_http_kedge_adhoc_cmp);
            return;
        }
    }

    for (i = 1; i < n; i++) {
        tmp = a[i];
        key = ntohl(((struct sockaddr_in *) tmp.sockaddr)->sin_addr.s_addr);

        for (j = i; j > 0; j--) {
            if (ntohl(((struct sockaddr_in *) a[j - 1].sockaddr)
                      ->sin_addr.s_addr)
                <= key)
            {
                break;
            }

            a[j] = a[j - 1];
        }

        a[j] = tmp;
    }
}


/* by family (IPv4 first), then by address */

static ngx_int_t
ngx_http_kedge_adhoc_cmp(const void *one, const void *two)
{
    const ngx_addr_t  *a = one;
    const ngx_addr_t  *b = two;

    if (a->sockaddr->sa_family != b->sockaddr->sa_family) {
        return (a->sockaddr->sa_family == AF_INET) ? -1 : 1;
    }

    if (a->socklen != b->socklen) {
        return (a->socklen < b->socklen) ? -1 : 1;
    }

    return ngx_memcmp(a->sockaddr, b->sockaddr, a->socklen);
}


static ngx_uint_t
ngx_http_kedge_adhoc_allowed(ngx_http_kedge_adhoc_t *rule,
    struct sockaddr *sockaddr)
{
    /* ngx_cidr_match() takes an IPv4-mapped IPv6 address for IPv4 */

    if (rule->deny && ngx_cidr_match(sockaddr, rule->deny) == NGX_OK) {
        return 0;
    }

    if (rule->allow && ngx_cidr_match(sockaddr, rule->allow) != NGX_OK) {
        return 0;
    }

    return 1;
}


/*
 * kedge's refusals of adhoc requests: its error type for routing errors
 * (unknown-route-error), an HTTP status, a gRPC status, and a message.
 */

static ngx_int_t
ngx_http_kedge_adhoc_refuse(ngx_http_request_t *r, ngx_http_kedge_ctx_t *ctx,
    ngx_uint_t status, ngx_uint_t grpc, const char *fmt, ...)
{
    u_char                      *p, *last;
    va_list                      args;
    ngx_http_kedge_adhoc_ctx_t  *ac;

    ac = ctx->adhoc_ctx;

    ctx->error = NGX_HTTP_KEDGE_ERR_UNKNOWN_ROUTE;
    ac->error_status = status;
    ac->error_grpc = grpc;

    p = ngx_pnalloc(r->pool, 1024);
    if (p == NULL) {
        ngx_str_set(&ac->error_message, "adhoc: refused");
        return NGX_OK;
    }

    va_start(args, fmt);
    last = ngx_vslprintf(p, p + 1024, fmt, args);
    va_end(args);

    ac->error_message.data = p;
    ac->error_message.len = last - p;

    return NGX_OK;
}
