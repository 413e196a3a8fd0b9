
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 *
 * kedge_metrics: Prometheus text, from the zone.
 *
 * Requests are counted once answered, in the log phase (so after every
 * retry), by any worker, with an atomic add and no lock, into counters
 * in the zone: one set (ngx_http_kedge_counters_t) per backend and
 * request protocol, laid out at configuration time.  Everything else
 * is read from the zone at scrape time: endpoints, the state of each
 * fetcher, the issuers' key sets.  Label values are bounded by the
 * configuration: backend names, issuer URLs, and fixed lists.
 */


#include "ngx_http_kedge_module.h"


static ngx_int_t ngx_http_kedge_metrics_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_kedge_metrics_log_handler(ngx_http_request_t *r);
static ngx_http_kedge_counters_t *ngx_http_kedge_metrics_slot(
    ngx_http_kedge_main_conf_t *kmcf, ngx_uint_t slot, ngx_str_t **name,
    ngx_str_t **protocol);
static void ngx_http_kedge_metrics_counters(ngx_http_kedge_text_t *t,
    ngx_http_kedge_main_conf_t *kmcf);
static void ngx_http_kedge_metrics_backend(ngx_http_kedge_text_t *t,
    ngx_str_t *family, ngx_http_kedge_backend_t *backend);
static void ngx_http_kedge_metrics_issuer(ngx_http_kedge_text_t *t,
    ngx_str_t *family, ngx_kedge_store_issuer_t *is);
static ngx_kedge_store_sh_t *ngx_http_kedge_metrics_sh(
    ngx_http_kedge_main_conf_t *kmcf);


/*
 * The families read from the zone at scrape time, one list: each entry
 * makes the HELP and TYPE lines and calls its renderer,
 * ngx_http_kedge_metric_<render>(), with the family's name.
 *
 *     X(render, family, type, help)
 */

#define NGX_HTTP_KEDGE_GAUGES(X)                                              \
                                                                              \
    X(info, "kedge_info", "gauge",                                            \
      "The module's version and nginx's, always 1.")                          \
                                                                              \
    X(backend_info, "kedge_backend_info", "gauge",                            \
      "Each backend, where its endpoints come from and how it is dialed, "    \
      "always 1.")                                                            \
                                                                              \
    X(endpoints, "kedge_backend_endpoints", "gauge",                          \
      "The endpoints a backend balances over now.")                           \
                                                                              \
    X(state, "kedge_backend_state", "gauge",                                  \
      "1 for the state of a backend resolved at run time: never synced, "     \
      "fresh (the last sync succeeded), stale (it failed, the last known "    \
      "endpoints are kept).")                                                 \
                                                                              \
    X(sync_age, "kedge_backend_sync_age_seconds", "gauge",                    \
      "Seconds since the last successful sync of a backend resolved at "      \
      "run time.")                                                            \
                                                                              \
    X(syncs, "kedge_backend_syncs_total", "counter",                          \
      "Syncs of a backend resolved at run time (DNS answers, Kubernetes "     \
      "lists and watch events), by result.")                                  \
                                                                              \
    X(watch, "kedge_backend_watch_state", "gauge",                            \
      "1 for what the fetcher of a k8s= backend does: listing, watching, "    \
      "or retrying after a failure.")                                         \
                                                                              \
    X(set_aside, "kedge_set_aside_endpoints", "gauge",                        \
      "Endpoints set aside now after a failed connect.")                      \
                                                                              \
    X(issuer_state, "kedge_oidc_key_set_state", "gauge",                      \
      "1 for the state of an OIDC issuer's key set: never fetched, fresh, "   \
      "stale (the last fetch failed, the keys are kept).")                    \
                                                                              \
    X(issuer_keys, "kedge_oidc_keys", "gauge",                                \
      "The keys of an OIDC issuer that tokens are checked against.")          \
                                                                              \
    X(issuer_age, "kedge_oidc_key_set_age_seconds", "gauge",                  \
      "Seconds since the last successful fetch of an issuer's key set.")      \
                                                                              \
    X(issuer_fetches, "kedge_oidc_key_fetches_total", "counter",              \
      "Fetches of an issuer's key set, by result.")                           \
                                                                              \
    X(tokens, "kedge_oidc_cached_tokens", "gauge",                            \
      "Verified tokens cached in the zone.")                                  \
                                                                              \
    X(zone_full, "kedge_zone_full_total", "counter",                          \
      "Updates of endpoints lost because the zone was full.")


#define NGX_HTTP_KEDGE_GAUGE_DECLARE(render, family, type, help)             \
    static void ngx_http_kedge_metric_##render(ngx_http_kedge_text_t *t,      \
        ngx_http_kedge_main_conf_t *kmcf, ngx_str_t *name);

NGX_HTTP_KEDGE_GAUGES(NGX_HTTP_KEDGE_GAUGE_DECLARE)


typedef struct {
    ngx_str_t                       name;
    char                           *head;
    void                          (*render)(ngx_http_kedge_text_t *t,
                                      ngx_http_kedge_main_conf_t *kmcf,
                                      ngx_str_t *name);
} ngx_http_kedge_gauge_t;


#define NGX_HTTP_KEDGE_GAUGE_ENTRY(render, family, type, help)               \
    { ngx_string(family),                                                     \
      "# HELP " family " " help "\n# TYPE " family " " type "\n",             \
      ngx_http_kedge_metric_##render },

static ngx_http_kedge_gauge_t  ngx_http_kedge_gauges[] = {
    NGX_HTTP_KEDGE_GAUGES(NGX_HTTP_KEDGE_GAUGE_ENTRY)
    { ngx_null_string, NULL, NULL }
};


ngx_str_t  ngx_http_kedge_status_classes[] = {
    ngx_string("1xx"),
    ngx_string("2xx"),
    ngx_string("3xx"),
    ngx_string("4xx"),
    ngx_string("5xx"),
    ngx_string("other")
};


static ngx_str_t  ngx_http_kedge_protocols[] = {
    ngx_string("http"),
    ngx_string("grpc"),
    ngx_string("any")
};


static ngx_str_t  ngx_http_kedge_states[] = {
    ngx_string("never"),
    ngx_string("fresh"),
    ngx_string("stale")
};


static ngx_str_t  ngx_http_kedge_watch_states[] = {
    ngx_null_string,
    ngx_string("listing"),
    ngx_string("watching"),
    ngx_string("retrying")
};


static ngx_str_t  ngx_http_kedge_sources[] = {
    ngx_string("static"),
    ngx_string("host"),
    ngx_string("srv"),
    ngx_string("k8s")
};


static ngx_str_t  ngx_http_kedge_tls_modes[] = {
    ngx_string("off"),
    ngx_string("on"),
    ngx_string("insecure")
};


char *
ngx_http_kedge_metrics_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_kedge_metrics_handler;

    return NGX_CONF_OK;
}


/*
 * Once the backends are known: their counters in the zone, two sets
 * per backend (by request protocol), two for requests without one; and
 * the log-phase handler that counts.
 */

ngx_int_t
ngx_http_kedge_metrics_init(ngx_conf_t *cf, ngx_http_kedge_main_conf_t *kmcf)
{
    u_char                      *p;
    ngx_int_t                    block;
    ngx_str_t                    key, *name;
    ngx_uint_t                   i, n, nb, nh, proto;
    ngx_http_handler_pt         *h;
    ngx_http_kedge_backend_t    *backend;
    ngx_http_core_main_conf_t   *cmcf;

    backend = kmcf->backends.elts;
    nb = kmcf->backends.nelts;
    nh = kmcf->http.adhoc.nelts;
    n = nb + 1 + nh + kmcf->grpc.adhoc.nelts;

    kmcf->nentries = n;
    kmcf->entry_names = ngx_pcalloc(cf->pool, n * sizeof(ngx_str_t));
    kmcf->entry_protocols = ngx_pcalloc(cf->pool, n * sizeof(ngx_uint_t));
    key.data = ngx_pnalloc(cf->pool, NGX_KEDGE_STORE_KEY_LEN);

    if (kmcf->entry_names == NULL || kmcf->entry_protocols == NULL
        || key.data == NULL)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        name = &kmcf->entry_names[i];

        if (i < nb) {
            *name = backend[i].name;
            kmcf->entry_protocols[i] = backend[i].protocols;

        } else if (i == nb) {
            ngx_str_set(name, "");
            kmcf->entry_protocols[i] = NGX_HTTP_KEDGE_HTTP
                                       |NGX_HTTP_KEDGE_GRPC;

        } else {
            /* an adhoc rule, as $kedge_route names it: never a backend's */

            name->data = ngx_pnalloc(cf->pool,
                                     sizeof("grpc-adhoc:") + NGX_INT_T_LEN);
            if (name->data == NULL) {
                return NGX_ERROR;
            }

            name->len = ngx_sprintf(name->data, "%s-adhoc:%ui",
                                    (i - nb - 1 < nh) ? "http" : "grpc",
                                    (i - nb - 1 < nh) ? i - nb : i - nb - nh)
                        - name->data;

            kmcf->entry_protocols[i] = (i - nb - 1 < nh) ? NGX_HTTP_KEDGE_HTTP
                                                         : NGX_HTTP_KEDGE_GRPC;
        }

        for (proto = 0; proto < 2; proto++) {

            /* "web/3/http": a backend of both protocols, HTTP requests */

            p = ngx_snprintf(key.data, NGX_KEDGE_STORE_KEY_LEN, "%V/%ui/%V",
                             name, kmcf->entry_protocols[i],
                             &ngx_http_kedge_protocols[proto]);
            key.len = p - key.data;

            block = ngx_kedge_store_register_counters(kmcf->store, &key,
                                           sizeof(ngx_http_kedge_counters_t)
                                           / sizeof(ngx_atomic_t));
            if (block == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (i == 0 && proto == 0) {
                kmcf->counters = block;
            }
        }
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_kedge_metrics_log_handler;

    return NGX_OK;
}


/*
 * The counters of slot "slot" (entry, then request protocol), and the
 * entry's backend_name; NULL for a protocol the entry does not serve or
 * once a newer zone took over
 */

static ngx_http_kedge_counters_t *
ngx_http_kedge_metrics_slot(ngx_http_kedge_main_conf_t *kmcf,
    ngx_uint_t slot, ngx_str_t **name, ngx_str_t **protocol)
{
    ngx_uint_t  i, proto;

    i = slot / 2;
    proto = slot % 2;

    *name = &kmcf->entry_names[i];
    *protocol = &ngx_http_kedge_protocols[proto];

    if (!(kmcf->entry_protocols[i] & (proto ? NGX_HTTP_KEDGE_GRPC
                                            : NGX_HTTP_KEDGE_HTTP)))
    {
        return NULL;
    }

    return (ngx_http_kedge_counters_t *)
               ngx_kedge_store_counters(kmcf->store, kmcf->counters + slot);
}


/*
 * The log phase: a request that kedge routed (kedge_pass), or refused
 * wherever (an authorizer's 401), counted by its final status
 */

static ngx_int_t
ngx_http_kedge_metrics_log_handler(ngx_http_request_t *r)
{
    u_char                      *p;
    ngx_str_t                   *protocol, *name, none = ngx_string("");
    ngx_uint_t                   status, class, slot, entry, nb;
    ngx_http_kedge_ctx_t        *ctx;
    ngx_http_kedge_backend_t    *backends;
    ngx_http_kedge_counters_t   *c;
    ngx_http_variable_value_t   *id;
    ngx_http_kedge_main_conf_t  *kmcf;
    u_char                       route[sizeof("grpc-adhoc:")
                                       + NGX_INT_T_LEN];

    if (r != r->main) {
        return NGX_OK;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_kedge_module);

    if (ctx == NULL
        || (!ctx->routed && ctx->error == NGX_HTTP_KEDGE_ERR_NONE))
    {
        return NGX_OK;
    }

    kmcf = ngx_http_get_module_main_conf(r, ngx_http_kedge_module);

    /* as the access log's $status */

    if (r->err_status) {
        status = r->err_status;

    } else {
        status = r->headers_out.status;
    }

    class = (status >= 100 && status < 600) ? status / 100 - 1
                                            : NGX_HTTP_KEDGE_CLASSES - 1;

    /* the backend's entry, the adhoc rule's, or that of no backend */

    nb = kmcf->backends.nelts;
    backends = kmcf->backends.elts;

    if (ctx->adhoc) {
        entry = nb + ctx->adhoc->id
                + ((ctx->adhoc->protocol == NGX_HTTP_KEDGE_GRPC)
                   ? kmcf->http.adhoc.nelts : 0);

    } else if (ctx->backend >= backends && ctx->backend < backends + nb) {
        entry = ctx->backend - backends;

    } else {
        entry = nb;
    }

    if (entry >= kmcf->nentries) {
        entry = nb;
    }

    slot = entry * 2 + ctx->req.grpc;

    c = ngx_http_kedge_metrics_slot(kmcf, slot, &name, &protocol);

    if (c) {
        (void) ngx_atomic_fetch_add(&c->requests[class], 1);

        if (ctx->error != NGX_HTTP_KEDGE_ERR_NONE) {
            (void) ngx_atomic_fetch_add(&c->errors[ctx->error], 1);
        }
    }

    if (ctx->info_logs) {
        id = ngx_http_get_indexed_variable(r, kmcf->kedge_request_id_var);

        if (id == NULL || id->not_found) {
            id = &ngx_http_variable_null_value;
        }

        p = route;

        if (ctx->route) {
            p = ngx_sprintf(route, "%s:%ui", ctx->req.grpc ? "grpc" : "http",
                            ctx->route->id);

        } else if (ctx->adhoc) {
            p = ngx_cpymem(route, name->data, name->len);

        } else {
            *p++ = '-';
        }

        ngx_http_kedge_info(r, "kedge: done: status %ui, %V request, "
                            "route %*s, backend \"%V\", error type "
                            "\"%V\", request id \"%v\", endpoint tries %ui",
                            status, protocol, (size_t) (p - route), route,
                            (ctx->backend && !ctx->adhoc)
                            ? &ctx->backend->name : &none,
                            ctx->error ? &ngx_http_kedge_error_types[ctx->error]
                                       : &none,
                            id, ctx->tries);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_kedge_metrics_handler(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_http_kedge_text_t        t;
    ngx_http_kedge_gauge_t      *g;
    ngx_http_kedge_main_conf_t  *kmcf;

    rc = ngx_http_kedge_ops_request(r);
    if (rc != NGX_OK) {
        return rc;
    }

    kmcf = ngx_http_get_module_main_conf(r, ngx_http_kedge_module);

    ngx_http_kedge_text_init(&t, r);

    ngx_http_kedge_metrics_counters(&t, kmcf);

    for (g = ngx_http_kedge_gauges; g->name.len; g++) {
        ngx_http_kedge_text_printf(&t, "%s", g->head);
        g->render(&t, kmcf, &g->name);
    }

    return ngx_http_kedge_text_send(&t, "text/plain; version=0.0.4; "
                                        "charset=utf-8");
}


/* the families of NGX_HTTP_KEDGE_COUNTERS, generated */

static void
ngx_http_kedge_metrics_counters(ngx_http_kedge_text_t *t,
    ngx_http_kedge_main_conf_t *kmcf)
{
    ngx_str_t                   *protocol, *name;
    ngx_uint_t                   slot, nslots, i, v;
    ngx_http_kedge_counters_t   *c;

    nslots = kmcf->nentries * 2;

#define NGX_HTTP_KEDGE_COUNTER_RENDER(field, family, label, values, size,    \
                                      sparse, help)                           \
                                                                              \
    ngx_http_kedge_text_printf(t, "# HELP " family " " help "\n"              \
                                  "# TYPE " family " counter\n");             \
                                                                              \
    for (slot = 0; slot < nslots; slot++) {                                   \
        c = ngx_http_kedge_metrics_slot(kmcf, slot, &name, &protocol);        \
        if (c == NULL) {                                                      \
            continue;                                                         \
        }                                                                     \
                                                                              \
        for (i = 0; i < size; i++) {                                          \
            v = c->field[i];                                                  \
                                                                              \
            if (values[i].len == 0 || (sparse && v == 0)) {                   \
                continue;                                                     \
            }                                                                 \
                                                                              \
            ngx_http_kedge_text_printf(t, family "{backend_name=\"%V\","      \
                                       "protocol=\"%V\"," label "=\"%V\"} "   \
                                       "%ui\n",                               \
                                       name, protocol, &values[i], v);        \
        }                                                                     \
    }

    NGX_HTTP_KEDGE_COUNTERS(NGX_HTTP_KEDGE_COUNTER_RENDER)

#undef NGX_HTTP_KEDGE_COUNTER_RENDER
}


static void
ngx_http_kedge_metric_info(ngx_http_kedge_text_t *t,
    ngx_http_kedge_main_conf_t *kmcf, ngx_str_t *name)
{
    ngx_http_kedge_text_printf(t, "%V{version=\"" NGX_HTTP_KEDGE_VERSION
                               "\",nginx=\"" NGINX_VERSION "\"} 1\n", name);
}


ngx_str_t *
ngx_http_kedge_backend_protocol(ngx_http_kedge_backend_t *backend)
{
    switch (backend->protocols) {

    case NGX_HTTP_KEDGE_HTTP:
        return &ngx_http_kedge_protocols[0];

    case NGX_HTTP_KEDGE_GRPC:
        return &ngx_http_kedge_protocols[1];

    default:
        return &ngx_http_kedge_protocols[2];
    }
}


ngx_str_t *
ngx_http_kedge_store_state(ngx_uint_t state)
{
    return &ngx_http_kedge_states[state];
}


/* "family{backend_name="web",protocol="any"" */

static void
ngx_http_kedge_metrics_backend(ngx_http_kedge_text_t *t, ngx_str_t *family,
    ngx_http_kedge_backend_t *backend)
{
    ngx_http_kedge_text_printf(t, "%V{backend_name=\"%V\",protocol=\"%V\"",
                               family, &backend->name,
                               ngx_http_kedge_backend_protocol(backend));
}


static void
ngx_http_kedge_metric_backend_info(ngx_http_kedge_text_t *t,
    ngx_http_kedge_main_conf_t *kmcf, ngx_str_t *name)
{
    ngx_uint_t                 i;
    ngx_http_kedge_backend_t  *backend;

    backend = kmcf->backends.elts;

    for (i = 0; i < kmcf->backends.nelts; i++) {
        ngx_http_kedge_metrics_backend(t, name, &backend[i]);
        ngx_http_kedge_text_printf(t, ",source=\"%V\",tls=\"%V\"} 1\n",
                                   &ngx_http_kedge_sources[backend[i].source],
                                   &ngx_http_kedge_tls_modes[backend[i].tls]);
    }
}


static void
ngx_http_kedge_metric_endpoints(ngx_http_kedge_text_t *t,
    ngx_http_kedge_main_conf_t *kmcf, ngx_str_t *name)
{
    ngx_uint_t                 i, n;
    ngx_kedge_store_view_t     view;
    ngx_http_kedge_backend_t  *backend;

    backend = kmcf->backends.elts;

    for (i = 0; i < kmcf->backends.nelts; i++) {

        if (backend[i].index == NGX_ERROR) {
            n = backend[i].peers->naddrs;

        } else if (ngx_kedge_store_view(kmcf->store, backend[i].index, NULL,
                                        &view)
                   == NGX_OK)
        {
            n = view.naddrs;

        } else {
            continue;
        }

        ngx_http_kedge_metrics_backend(t, name, &backend[i]);
        ngx_http_kedge_text_printf(t, "} %ui\n", n);
    }
}


static void
ngx_http_kedge_metric_state(ngx_http_kedge_text_t *t,
    ngx_http_kedge_main_conf_t *kmcf, ngx_str_t *name)
{
    ngx_uint_t                 i, s;
    ngx_kedge_store_view_t     view;
    ngx_http_kedge_backend_t  *backend;

    backend = kmcf->backends.elts;

    for (i = 0; i < kmcf->backends.nelts; i++) {

        if (backend[i].index == NGX_ERROR
            || ngx_kedge_store_view(kmcf->store, backend[i].index, NULL,
                                    &view)
               != NGX_OK)
        {
            continue;
        }

        for (s = NGX_KEDGE_STORE_NEVER; s <= NGX_KEDGE_STORE_STALE; s++) {
            ngx_http_kedge_metrics_backend(t, name, &backend[i]);
            ngx_http_kedge_text_printf(t, ",state=\"%V\"} %d\n",
                                       &ngx_http_kedge_states[s],
                                       view.state == s);
        }
    }
}


static void
ngx_http_kedge_metric_sync_age(ngx_http_kedge_text_t *t,
    ngx_http_kedge_main_conf_t *kmcf, ngx_str_t *name)
{
    ngx_uint_t                 i;
    ngx_kedge_store_view_t     view;
    ngx_http_kedge_backend_t  *backend;

    backend = kmcf->backends.elts;

    for (i = 0; i < kmcf->backends.nelts; i++) {

        if (backend[i].index == NGX_ERROR
            || ngx_kedge_store_view(kmcf->store, backend[i].index, NULL,
                                    &view)
               != NGX_OK
            || view.state == NGX_KEDGE_STORE_NEVER)
        {
            continue;
        }

        ngx_http_kedge_metrics_backend(t, name, &backend[i]);
        ngx_http_kedge_text_printf(t, "} %T\n",
                                   ngx_max(ngx_time() - view.synced, 0));
    }
}


static void
ngx_http_kedge_metric_syncs(ngx_http_kedge_text_t *t,
    ngx_http_kedge_main_conf_t *kmcf, ngx_str_t *name)
{
    ngx_uint_t                 i;
    ngx_kedge_store_view_t     view;
    ngx_http_kedge_backend_t  *backend;

    backend = kmcf->backends.elts;

    for (i = 0; i < kmcf->backends.nelts; i++) {

        if (backend[i].index == NGX_ERROR
            || ngx_kedge_store_view(kmcf->store, backend[i].index, NULL,
                                    &view)
               != NGX_OK)
        {
            continue;
        }

        ngx_http_kedge_metrics_backend(t, name, &backend[i]);
        ngx_http_kedge_text_printf(t, ",result=\"ok\"} %ui\n", view.syncs);
        ngx_http_kedge_metrics_backend(t, name, &backend[i]);
        ngx_http_kedge_text_printf(t, ",result=\"error\"} %ui\n",
                                   view.failures);
    }
}


static void
ngx_http_kedge_metric_watch(ngx_http_kedge_text_t *t,
    ngx_http_kedge_main_conf_t *kmcf, ngx_str_t *name)
{
    ngx_uint_t                 i, s;
    ngx_kedge_store_view_t     view;
    ngx_http_kedge_backend_t  *backend;

    backend = kmcf->backends.elts;

    for (i = 0; i < kmcf->backends.nelts; i++) {

        if (backend[i].source != NGX_HTTP_KEDGE_K8S
            || ngx_kedge_store_view(kmcf->store, backend[i].index, NULL,
                                    &view)
               != NGX_OK)
        {
            continue;
        }

        for (s = NGX_KEDGE_STORE_WATCH_LISTING;
             s <= NGX_KEDGE_STORE_WATCH_RETRYING;
             s++)
        {
            ngx_http_kedge_metrics_backend(t, name, &backend[i]);
            ngx_http_kedge_text_printf(t, ",state=\"%V\"} %d\n",
                                       &ngx_http_kedge_watch_states[s],
                                       view.watch == s);
        }
    }
}


static void
ngx_http_kedge_metric_set_aside(ngx_http_kedge_text_t *t,
    ngx_http_kedge_main_conf_t *kmcf, ngx_str_t *name)
{
    ngx_array_t  *a;

    a = ngx_kedge_store_aside_view(kmcf->store, t->request->pool);
    if (a == NULL) {
        t->error = 1;
        return;
    }

    ngx_http_kedge_text_printf(t, "%V %ui\n", name, a->nelts);
}


/* "family{issuer="https://..."" */

static void
ngx_http_kedge_metrics_issuer(ngx_http_kedge_text_t *t, ngx_str_t *family,
    ngx_kedge_store_issuer_t *is)
{
    ngx_str_t  url;

    url.data = is->url;
    url.len = is->url_len;

    ngx_http_kedge_text_printf(t, "%V{issuer=\"", family);
    ngx_http_kedge_text_escaped(t, &url, 0);
    ngx_http_kedge_text_printf(t, "\"");
}


/* the issuers in the zone, NULL once a newer zone took over */

static ngx_kedge_store_sh_t *
ngx_http_kedge_metrics_sh(ngx_http_kedge_main_conf_t *kmcf)
{
    if (kmcf->store->retired || kmcf->store->sh == NULL) {
        return NULL;
    }

    return kmcf->store->sh;
}


static void
ngx_http_kedge_metric_issuer_state(ngx_http_kedge_text_t *t,
    ngx_http_kedge_main_conf_t *kmcf, ngx_str_t *name)
{
    ngx_uint_t             i, s;
    ngx_kedge_store_sh_t  *sh;

    sh = ngx_http_kedge_metrics_sh(kmcf);

    for (i = 0; sh && i < sh->nissuers; i++) {
        for (s = NGX_KEDGE_STORE_NEVER; s <= NGX_KEDGE_STORE_STALE; s++) {
            ngx_http_kedge_metrics_issuer(t, name, &sh->issuers[i]);
            ngx_http_kedge_text_printf(t, ",state=\"%V\"} %d\n",
                                       &ngx_http_kedge_states[s],
                                       sh->issuers[i].state == s);
        }
    }
}


static void
ngx_http_kedge_metric_issuer_keys(ngx_http_kedge_text_t *t,
    ngx_http_kedge_main_conf_t *kmcf, ngx_str_t *name)
{
    ngx_uint_t             i;
    ngx_kedge_store_sh_t  *sh;

    sh = ngx_http_kedge_metrics_sh(kmcf);

    for (i = 0; sh && i < sh->nissuers; i++) {
        ngx_http_kedge_metrics_issuer(t, name, &sh->issuers[i]);
        ngx_http_kedge_text_printf(t, "} %ui\n", sh->issuers[i].nkeys);
    }
}


static void
ngx_http_kedge_metric_issuer_age(ngx_http_kedge_text_t *t,
    ngx_http_kedge_main_conf_t *kmcf, ngx_str_t *name)
{
    ngx_uint_t                 i;
    ngx_kedge_store_sh_t      *sh;
    ngx_kedge_store_issuer_t  *is;

    sh = ngx_http_kedge_metrics_sh(kmcf);

    for (i = 0; sh && i < sh->nissuers; i++) {
        is = &sh->issuers[i];

        if (is->state == NGX_KEDGE_STORE_NEVER || is->synced == 0) {
            continue;
        }

        ngx_http_kedge_metrics_issuer(t, name, is);
        ngx_http_kedge_text_printf(t, "} %T\n",
                                   ngx_max(ngx_time() - is->synced, 0));
    }
}


static void
ngx_http_kedge_metric_issuer_fetches(ngx_http_kedge_text_t *t,
    ngx_http_kedge_main_conf_t *kmcf, ngx_str_t *name)
{
    ngx_uint_t                 i, attempts, failures;
    ngx_kedge_store_sh_t      *sh;
    ngx_kedge_store_issuer_t  *is;

    sh = ngx_http_kedge_metrics_sh(kmcf);

    for (i = 0; sh && i < sh->nissuers; i++) {
        is = &sh->issuers[i];

        failures = is->failures;
        attempts = ngx_max(is->attempts, failures);

        ngx_http_kedge_metrics_issuer(t, name, is);
        ngx_http_kedge_text_printf(t, ",result=\"ok\"} %ui\n",
                                   attempts - failures);
        ngx_http_kedge_metrics_issuer(t, name, is);
        ngx_http_kedge_text_printf(t, ",result=\"error\"} %ui\n", failures);
    }
}


static void
ngx_http_kedge_metric_tokens(ngx_http_kedge_text_t *t,
    ngx_http_kedge_main_conf_t *kmcf, ngx_str_t *name)
{
    ngx_kedge_store_sh_t  *sh;

    sh = ngx_http_kedge_metrics_sh(kmcf);

    ngx_http_kedge_text_printf(t, "%V %ui\n", name, sh ? sh->ntokens : 0);
}


static void
ngx_http_kedge_metric_zone_full(ngx_http_kedge_text_t *t,
    ngx_http_kedge_main_conf_t *kmcf, ngx_str_t *name)
{
    ngx_kedge_store_sh_t  *sh;

    sh = ngx_http_kedge_metrics_sh(kmcf);

    ngx_http_kedge_text_printf(t, "%V %uA\n", name, sh ? sh->nomem : 0);
}
