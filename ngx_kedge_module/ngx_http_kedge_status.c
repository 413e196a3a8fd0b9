
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 *
 * kedge_status: the live routing table as JSON: the routes in the order
 * they are tried (each with its "source": "config" now, "discovery" for
 * the routes of Kubernetes discovery), the adhoc rules, the backends
 * with the endpoints they balance over now and the state of their
 * fetchers, the OIDC issuers' key sets, and the endpoints set aside.
 */


#include "ngx_http_kedge_module.h"


static ngx_int_t ngx_http_kedge_status_handler(ngx_http_request_t *r);
static ngx_uint_t ngx_http_kedge_status_routes(ngx_http_kedge_text_t *t,
    ngx_http_kedge_route_table_t *table, char *source, ngx_uint_t n);
static void ngx_http_kedge_status_adhoc(ngx_http_kedge_text_t *t,
    ngx_http_kedge_route_table_t *table);
static void ngx_http_kedge_status_backend(ngx_http_kedge_text_t *t,
    ngx_http_kedge_main_conf_t *kmcf, ngx_http_kedge_backend_t *backend);
static void ngx_http_kedge_status_target(ngx_http_kedge_text_t *t,
    ngx_http_kedge_backend_t *backend);
static void ngx_http_kedge_status_glob(ngx_http_kedge_text_t *t,
    ngx_http_kedge_glob_t *glob);
static void ngx_http_kedge_status_issuers(ngx_http_kedge_text_t *t,
    ngx_http_kedge_main_conf_t *kmcf);
static void ngx_http_kedge_status_aside(ngx_http_kedge_text_t *t,
    ngx_http_kedge_main_conf_t *kmcf);
static void ngx_http_kedge_status_string(ngx_http_kedge_text_t *t,
    char *name, ngx_str_t *value);


static char  *ngx_http_kedge_status_sources[] = {
    "static", "host", "srv", "k8s"
};


static char  *ngx_http_kedge_status_tls[] = {
    "off", "on", "insecure"
};


static char  *ngx_http_kedge_status_modes[] = {
    "ANY", "REVERSE_PROXY", "FORWARD_PROXY"
};


static char  *ngx_http_kedge_status_auth[] = {
    "off", "cert", "token", "either", "both"
};


static char  *ngx_http_kedge_status_watch[] = {
    "none", "listing", "watching", "retrying"
};


char *
ngx_http_kedge_status_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_kedge_status_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_kedge_status_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_uint_t                     i, n;
    ngx_array_t                   *dbackends;
    ngx_http_kedge_text_t          t;
    ngx_http_kedge_backend_t      *backend, **db;
    ngx_http_kedge_main_conf_t    *kmcf;
    ngx_http_kedge_route_table_t  *dhttp, *dgrpc;

    rc = ngx_http_kedge_ops_request(r);
    if (rc != NGX_OK) {
        return rc;
    }

    kmcf = ngx_http_get_module_main_conf(r, ngx_http_kedge_module);

    ngx_http_kedge_text_init(&t, r);

    ngx_http_kedge_text_printf(&t, "{\"version\": \"" NGX_HTTP_KEDGE_VERSION
                               "\", \"nginx\": \"" NGINX_VERSION "\", "
                               "\"time\": %T, \"zone\": ", ngx_time());
    ngx_http_kedge_text_escaped(&t, &kmcf->store->shm_zone->shm.name, 1);

    /* the discovered routes come after the configured ones */

    if (ngx_http_kedge_discovered_view(r, &dhttp, &dgrpc, &dbackends)
        != NGX_OK)
    {
        dhttp = NULL;
        dgrpc = NULL;
        dbackends = NULL;
    }

    ngx_http_kedge_text_printf(&t, ",\n\"routes\": [");

    n = ngx_http_kedge_status_routes(&t, &kmcf->http, "config", 0);

    if (dhttp) {
        n = ngx_http_kedge_status_routes(&t, dhttp, "discovery", n);
    }

    n = ngx_http_kedge_status_routes(&t, &kmcf->grpc, "config", n);

    if (dgrpc) {
        (void) ngx_http_kedge_status_routes(&t, dgrpc, "discovery", n);
    }

    ngx_http_kedge_text_printf(&t, "\n],\n\"adhoc\": [");
    ngx_http_kedge_status_adhoc(&t, &kmcf->http);

    if (kmcf->http.adhoc.nelts && kmcf->grpc.adhoc.nelts) {
        ngx_http_kedge_text_printf(&t, ",");
    }

    ngx_http_kedge_status_adhoc(&t, &kmcf->grpc);

    ngx_http_kedge_text_printf(&t, "\n],\n\"backends\": [");

    backend = kmcf->backends.elts;

    for (i = 0; i < kmcf->backends.nelts; i++) {
        ngx_http_kedge_text_printf(&t, i ? ",\n " : "\n ");
        ngx_http_kedge_status_backend(&t, kmcf, &backend[i]);
    }

    n = kmcf->backends.nelts;
    db = dbackends ? dbackends->elts : NULL;

    for (i = 0; dbackends && i < dbackends->nelts; i++) {
        ngx_http_kedge_text_printf(&t, n++ ? ",\n " : "\n ");
        ngx_http_kedge_status_backend(&t, kmcf, db[i]);
    }

    ngx_http_kedge_text_printf(&t, "\n],\n\"issuers\": [");
    ngx_http_kedge_status_issuers(&t, kmcf);

    ngx_http_kedge_text_printf(&t, "],\n\"set_aside\": [");
    ngx_http_kedge_status_aside(&t, kmcf);

    ngx_http_kedge_text_printf(&t, "]}\n");

    return ngx_http_kedge_text_send(&t, "application/json");
}


/*
 * The routes of one table, in the order they are tried, after n others;
 * returns how many there are then.
 */

static ngx_uint_t
ngx_http_kedge_status_routes(ngx_http_kedge_text_t *t,
    ngx_http_kedge_route_table_t *table, char *source, ngx_uint_t n)
{
    char                           *proto;
    ngx_uint_t                      i, j, grpc;
    ngx_http_kedge_glob_t          *glob;
    ngx_http_kedge_route_t         *route;
    ngx_http_kedge_match_header_t  *h;

    route = table->routes.elts;

    for (i = 0; i < table->routes.nelts; i++) {
        grpc = (route[i].protocol == NGX_HTTP_KEDGE_GRPC);
        proto = grpc ? "grpc" : "http";

        /* a discovered route by its Service, as $kedge_route names it */

        if (route[i].name.len) {
            ngx_http_kedge_text_printf(t, "%s\n {\"id\": \"%s:%V\", ",
                                       n++ ? "," : "", proto,
                                       &route[i].name);

        } else {
            ngx_http_kedge_text_printf(t, "%s\n {\"id\": \"%s:%ui\", ",
                                       n++ ? "," : "", proto, route[i].id);
        }

        ngx_http_kedge_text_printf(t, "\"protocol\": \"%s\", "
                                   "\"source\": \"%s\", \"backend\": ",
                                   proto, source);
        ngx_http_kedge_text_escaped(t, &route[i].backend->name, 1);

        if (route[i].host.len) {
            ngx_http_kedge_status_string(t, grpc ? "authority" : "host",
                                         &route[i].host);
        }

        ngx_http_kedge_text_printf(t, ", \"port\": %d", (int) route[i].port);

        glob = route[i].globs.elts;

        if (grpc) {
            if (route[i].globs.nelts) {
                ngx_http_kedge_text_printf(t, ", \"service\": ");
                ngx_http_kedge_status_glob(t, &glob[0]);

            } else {
                ngx_http_kedge_text_printf(t, ", \"service\": \"*\"");
            }

        } else {
            ngx_http_kedge_text_printf(t, ", \"paths\": [");

            for (j = 0; j < route[i].globs.nelts; j++) {
                ngx_http_kedge_text_printf(t, j ? ", " : "");
                ngx_http_kedge_status_glob(t, &glob[j]);
            }

            ngx_http_kedge_text_printf(t, "], \"proxy_mode\": \"%s\"",
                              ngx_http_kedge_status_modes[route[i].proxy_mode]);
        }

        ngx_http_kedge_text_printf(t, ", \"%s\": [",
                                   grpc ? "metadata" : "headers");

        h = route[i].headers.elts;

        for (j = 0; j < route[i].headers.nelts; j++) {
            ngx_http_kedge_text_printf(t, j ? ", {" : "{");
            ngx_http_kedge_text_printf(t, "\"name\": ");
            ngx_http_kedge_text_escaped(t, &h[j].name, 1);
            ngx_http_kedge_status_string(t, "value", &h[j].value);
            ngx_http_kedge_text_printf(t, "}");
        }

        ngx_http_kedge_text_printf(t, "], \"auth\": \"%s\"}",
                                   ngx_http_kedge_status_auth[route[i].auth]);
    }

    return n;
}


/* the adhoc rules of one table, in the order they are tried */

static void
ngx_http_kedge_status_adhoc(ngx_http_kedge_text_t *t,
    ngx_http_kedge_route_table_t *table)
{
    char                         *proto;
    ngx_uint_t                    i, j;
    ngx_http_kedge_adhoc_t       *rule;
    ngx_http_kedge_port_range_t  *range;

    rule = table->adhoc.elts;

    for (i = 0; i < table->adhoc.nelts; i++) {
        proto = (rule[i].protocol == NGX_HTTP_KEDGE_GRPC) ? "grpc" : "http";

        ngx_http_kedge_text_printf(t, "%s\n {\"id\": \"%s-adhoc:%ui\", "
                                   "\"protocol\": \"%s\", "
                                   "\"source\": \"config\", \"matcher\": ",
                                   i ? "," : "", proto, rule[i].id, proto);
        ngx_http_kedge_text_escaped(t, &rule[i].matcher, 1);

        ngx_http_kedge_text_printf(t, ", \"default_port\": %d, "
                                   "\"ports\": [", (int) rule[i].default_port);

        range = rule[i].ports.elts;

        for (j = 0; j < rule[i].ports.nelts; j++) {
            ngx_http_kedge_text_printf(t, "%s\"%d-%d\"", j ? ", " : "",
                                       (int) range[j].from, (int) range[j].to);
        }

        ngx_http_kedge_text_printf(t, "]");

        if (rule[i].pattern.len) {
            ngx_http_kedge_status_string(t, "replace", &rule[i].pattern);
            ngx_http_kedge_status_string(t, "substitution",
                                         &rule[i].substitution);
        }

        ngx_http_kedge_text_printf(t, ", \"tls\": \"%s\"}",
                                   ngx_http_kedge_status_tls[rule[i].tls]);
    }
}


static void
ngx_http_kedge_status_backend(ngx_http_kedge_text_t *t,
    ngx_http_kedge_main_conf_t *kmcf, ngx_http_kedge_backend_t *backend)
{
    ngx_str_t               *names;
    ngx_uint_t               i, naddrs;
    ngx_kedge_store_view_t   view;

    ngx_http_kedge_text_printf(t, "{\"name\": ");
    ngx_http_kedge_text_escaped(t, &backend->name, 1);

    ngx_http_kedge_text_printf(t, ", \"protocol\": \"%V\", "
                               "\"source\": \"%s\", \"target\": ",
                               ngx_http_kedge_backend_protocol(backend),
                               ngx_http_kedge_status_sources[backend->source]);
    ngx_http_kedge_status_target(t, backend);

    ngx_http_kedge_text_printf(t, ", \"tls\": \"%s\"",
                               ngx_http_kedge_status_tls[backend->tls]);

    if (backend->tls != NGX_HTTP_KEDGE_TLS_OFF) {
        ngx_http_kedge_status_string(t, "tls_name", &backend->tls_name);
    }

    names = NULL;
    naddrs = 0;

    if (backend->index == NGX_ERROR) {
        ngx_http_kedge_text_printf(t, ", \"state\": \"static\"");
        naddrs = backend->peers->naddrs;

    } else {
        if (ngx_kedge_store_view(kmcf->store, backend->index,
                                 t->request->pool, &view)
            == NGX_ERROR)
        {
            t->error = 1;
            return;
        }

        ngx_http_kedge_text_printf(t, ", \"state\": \"%V\", "
                                   "\"generation\": %ui, "
                                   "\"syncs\": %ui, \"failures\": %ui",
                                   ngx_http_kedge_store_state(view.state),
                                   view.generation, view.syncs,
                                   view.failures);

        if (view.state == NGX_KEDGE_STORE_NEVER) {
            ngx_http_kedge_text_printf(t, ", \"synced\": null, "
                                       "\"seconds_since_sync\": null");

        } else {
            ngx_http_kedge_text_printf(t, ", \"synced\": %T, "
                                       "\"seconds_since_sync\": %T",
                                       view.synced,
                                       ngx_max(ngx_time() - view.synced, 0));
        }

        if (backend->source == NGX_HTTP_KEDGE_K8S) {
            ngx_http_kedge_text_printf(t, ", \"watch\": \"%s\"",
                                      ngx_http_kedge_status_watch[view.watch]);
        }

        names = view.names;
        naddrs = view.naddrs;
    }

    ngx_http_kedge_text_printf(t, ", \"endpoints\": [");

    for (i = 0; i < naddrs; i++) {
        ngx_http_kedge_text_printf(t, i ? ", " : "");
        ngx_http_kedge_text_escaped(t, names ? &names[i]
                                             : &backend->peers->addrs[i].name,
                                    1);
    }

    ngx_http_kedge_text_printf(t, "]}");
}


/* what the backend's endpoints come from, as configured */

static void
ngx_http_kedge_status_target(ngx_http_kedge_text_t *t,
    ngx_http_kedge_backend_t *backend)
{
    u_char                 *p;
    ngx_str_t               s;
    ngx_kedge_resolve_t    *rs;
    ngx_kedge_k8s_watch_t  *w;

    rs = backend->resolve;
    w = backend->k8s;

    switch (backend->source) {

    case NGX_HTTP_KEDGE_HOST:
        s.len = rs->name.len + sizeof(":65535") - 1;
        break;

    case NGX_HTTP_KEDGE_SRV:
        s.len = rs->service.len + 1 + rs->name.len;
        break;

    case NGX_HTTP_KEDGE_K8S:

        /* a discovered backend: no watch of this configuration's */

        if (w == NULL) {
            ngx_http_kedge_text_escaped(t, &backend->target, 1);
            return;
        }

        s.len = w->service.len + 1 + w->namespace.len + 1
                + ngx_max(w->port_name.len, sizeof("65535") - 1);
        break;

    default: /* NGX_HTTP_KEDGE_STATIC */
        ngx_http_kedge_text_printf(t, "null");
        return;
    }

    s.data = ngx_pnalloc(t->request->pool, s.len);
    if (s.data == NULL) {
        t->error = 1;
        return;
    }

    switch (backend->source) {

    case NGX_HTTP_KEDGE_HOST:
        p = ngx_sprintf(s.data, "%V:%d", &rs->name, (int) rs->port);
        break;

    case NGX_HTTP_KEDGE_SRV:
        p = ngx_sprintf(s.data, "%V.%V", &rs->service, &rs->name);
        break;

    default: /* NGX_HTTP_KEDGE_K8S */
        p = ngx_sprintf(s.data, "%V.%V:", &w->service, &w->namespace);

        if (w->port_name.len) {
            p = ngx_cpymem(p, w->port_name.data, w->port_name.len);

        } else {
            p = ngx_sprintf(p, "%d", (int) w->port_number);
        }

        break;
    }

    s.len = p - s.data;

    ngx_http_kedge_text_escaped(t, &s, 1);
}


/* a path or service matcher as written: its trailing "*" too */

static void
ngx_http_kedge_status_glob(ngx_http_kedge_text_t *t,
    ngx_http_kedge_glob_t *glob)
{
    ngx_str_t  s;

    s.len = glob->pattern.len + glob->prefix;
    s.data = ngx_pnalloc(t->request->pool, s.len + 1);
    if (s.data == NULL) {
        t->error = 1;
        return;
    }

    ngx_memcpy(s.data, glob->pattern.data, glob->pattern.len);

    if (glob->prefix) {
        s.data[s.len - 1] = '*';
    }

    ngx_http_kedge_text_escaped(t, &s, 1);
}


static void
ngx_http_kedge_status_issuers(ngx_http_kedge_text_t *t,
    ngx_http_kedge_main_conf_t *kmcf)
{
    ngx_str_t                  url;
    ngx_uint_t                 i;
    ngx_kedge_store_t         *store;
    ngx_kedge_store_issuer_t  *is;

    store = kmcf->store;

    if (store->retired || store->sh == NULL) {
        return;
    }

    for (i = 0; i < store->sh->nissuers; i++) {
        is = &store->sh->issuers[i];

        url.data = is->url;
        url.len = is->url_len;

        ngx_http_kedge_text_printf(t, i ? ",\n {\"url\": " : "\n {\"url\": ");
        ngx_http_kedge_text_escaped(t, &url, 1);

        ngx_http_kedge_text_printf(t, ", \"state\": \"%V\", \"keys\": %ui, "
                                   "\"fetches\": %uA, \"failures\": %uA",
                                   ngx_http_kedge_store_state(is->state),
                                   is->nkeys, is->attempts, is->failures);

        if (is->state == NGX_KEDGE_STORE_NEVER || is->synced == 0) {
            ngx_http_kedge_text_printf(t, ", \"synced\": null, "
                                       "\"seconds_since_sync\": null}");

        } else {
            ngx_http_kedge_text_printf(t, ", \"synced\": %T, "
                                       "\"seconds_since_sync\": %T}",
                                       is->synced,
                                       ngx_max(ngx_time() - is->synced, 0));
        }
    }

    if (store->sh->nissuers) {
        ngx_http_kedge_text_printf(t, "\n");
    }
}


static void
ngx_http_kedge_status_aside(ngx_http_kedge_text_t *t,
    ngx_http_kedge_main_conf_t *kmcf)
{
    ngx_uint_t                     i;
    ngx_array_t                   *a;
    ngx_kedge_store_aside_view_t  *v;

    a = ngx_kedge_store_aside_view(kmcf->store, t->request->pool);
    if (a == NULL) {
        t->error = 1;
        return;
    }

    v = a->elts;

    for (i = 0; i < a->nelts; i++) {
        ngx_http_kedge_text_printf(t, i ? ", {\"endpoint\": "
                                        : "{\"endpoint\": ");
        ngx_http_kedge_text_escaped(t, &v[i].name, 1);
        ngx_http_kedge_text_printf(t, ", \"ms_left\": %M}", v[i].left);
    }
}


/* , "name": "value" */

static void
ngx_http_kedge_status_string(ngx_http_kedge_text_t *t, char *name,
    ngx_str_t *value)
{
    ngx_http_kedge_text_printf(t, ", \"%s\": ", name);
    ngx_http_kedge_text_escaped(t, value, 1);
}
