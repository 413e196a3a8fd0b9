
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 *
 * kedge_metrics: Prometheus text, from the zone.
 *
 * Requests are counted once answered, in the log phase (so after every
 * retry), by any worker, with an atomic add and no lock, into counters
 * in the zone: one set (ngx_http_kedge_counters_t) per backend and
 * request protocol, laid out at configuration time, and one per slot of
 * discovered backends, whose words carry the tag of the slot's holding
 * (a request of a backend that gave its slot up counts nowhere).
 * Everything else is read from the zone at scrape time: endpoints, the
 * state of each fetcher, the discovered backends held now and their
 * names, the issuers' key sets.  Label values are bounded: by the
 * configuration (backend names, issuer URLs), by the slots of discovered
 * backends, and by fixed lists.
 */


#include "ngx_http_kedge_module.h"


/* what a scrape reads once, for every family */
typedef struct {
    ngx_http_kedge_text_t          *text;
    ngx_http_kedge_main_conf_t     *kmcf;

    /* the discovered backends held now, with their counts */
    ngx_kedge_store_slot_view_t    *discovered;
    ngx_uint_t                      ndiscovered;
} ngx_http_kedge_scrape_t;


static ngx_int_t ngx_http_kedge_metrics_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_kedge_metrics_log_handler(ngx_http_request_t *r);
static ngx_str_t *ngx_http_kedge_metrics_count(ngx_http_request_t *r,
    ngx_http_kedge_ctx_t *ctx, ngx_http_kedge_main_conf_t *kmcf,
    ngx_uint_t class);
static ngx_uint_t ngx_http_kedge_metrics_grpc_code(ngx_http_request_t *r);
static ngx_int_t ngx_http_kedge_metrics_grpc_status(ngx_list_t *list);
static ngx_http_kedge_counters_t *ngx_http_kedge_metrics_slot(
    ngx_http_kedge_main_conf_t *kmcf, ngx_uint_t slot, ngx_str_t **name,
    ngx_str_t **protocol);
static ngx_int_t ngx_http_kedge_metrics_discovered(
    ngx_http_kedge_scrape_t *s);
static void ngx_http_kedge_metrics_counters(ngx_http_kedge_scrape_t *s);
static void ngx_http_kedge_metrics_series(ngx_http_kedge_text_t *t,
    ngx_str_t *family, ngx_str_t *name, ngx_str_t *protocol);
static void ngx_http_kedge_metrics_backend(ngx_http_kedge_text_t *t,
    ngx_str_t *family, ngx_http_kedge_backend_t *backend);
static ngx_str_t *ngx_http_kedge_metrics_kind(
    ngx_kedge_store_slot_view_t *sv);
static void ngx_http_kedge_metrics_backends(ngx_http_kedge_scrape_t *s,
    ngx_str_t *family, ngx_uint_t which);
static void ngx_http_kedge_metrics_views(ngx_http_kedge_text_t *t,
    ngx_str_t *family, ngx_str_t *name, ngx_str_t *protocol,
    ngx_uint_t source, ngx_kedge_store_view_t *view, ngx_uint_t which);
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
    static void ngx_http_kedge_metric_##render(ngx_http_kedge_scrape_t *s,    \
        ngx_str_t *name);

NGX_HTTP_KEDGE_GAUGES(NGX_HTTP_KEDGE_GAUGE_DECLARE)


typedef struct {
    ngx_str_t                       name;
    char                           *head;
    void                          (*render)(ngx_http_kedge_scrape_t *s,
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


/* grpc-status, as go-grpc-prometheus named it (grpc-go's codes.Code) */

ngx_str_t  ngx_http_kedge_grpc_codes[] = {
    ngx_string("OK"),
    ngx_string("Canceled"),
    ngx_string("Unknown"),
    ngx_string("InvalidArgument"),
    ngx_string("DeadlineExceeded"),
    ngx_string("NotFound"),
    ngx_string("AlreadyExists"),
    ngx_string("PermissionDenied"),
    ngx_string("ResourceExhausted"),
    ngx_string("FailedPrecondition"),
    ngx_string("Aborted"),
    ngx_string("OutOfRange"),
    ngx_string("Unimplemented"),
    ngx_string("Internal"),
    ngx_string("Unavailable"),
    ngx_string("DataLoss"),
    ngx_string("Unauthenticated"),
    ngx_string("none")
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
 * A request counted where it belongs: under its discovered backend's
 * slot, its backend's entry, its adhoc rule's, or that of no backend;
 * returns the entry's backend_name
 */

static ngx_str_t *
ngx_http_kedge_metrics_count(ngx_http_request_t *r, ngx_http_kedge_ctx_t *ctx,
    ngx_http_kedge_main_conf_t *kmcf, ngx_uint_t class)
{
    ngx_str_t                   *name, *protocol;
    ngx_uint_t                   code, slot, entry, nb;
    ngx_http_kedge_backend_t    *backends, *b;
    ngx_http_kedge_counters_t   *c;

    code = ctx->req.grpc ? ngx_http_kedge_metrics_grpc_code(r) : 0;

    nb = kmcf->backends.nelts;
    backends = kmcf->backends.elts;
    b = ctx->backend;

    if (ctx->adhoc == NULL && b && b->serial
        && (b < backends || b >= backends + nb))
    {
        /* a discovered backend: its slot's counters, while it holds it */

        ngx_kedge_store_dynamic_count(kmcf->store, b->index, b->serial,
                        ngx_http_kedge_counter_index(requests, class));

        if (ctx->error != NGX_HTTP_KEDGE_ERR_NONE) {
            ngx_kedge_store_dynamic_count(kmcf->store, b->index, b->serial,
                        ngx_http_kedge_counter_index(errors, ctx->error));
        }

        if (ctx->req.grpc) {
            ngx_kedge_store_dynamic_count(kmcf->store, b->index, b->serial,
                        ngx_http_kedge_counter_index(grpc, code));
        }

        return &b->name;
    }

    if (ctx->adhoc) {
        entry = nb + ctx->adhoc->id
                + ((ctx->adhoc->protocol == NGX_HTTP_KEDGE_GRPC)
                   ? kmcf->http.adhoc.nelts : 0);

    } else if (b >= backends && b < backends + nb) {
        entry = b - backends;

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

        if (ctx->req.grpc) {
            (void) ngx_atomic_fetch_add(&c->grpc[code], 1);
        }
    }

    return name;
}


/*
 * A gRPC call's grpc-status: of the trailers the client was sent, else
 * of the headers (a Trailers-Only answer: the backend's, or kedge's own
 * refusal); "none" without one, or with one that is not a code 0..16
 */

static ngx_uint_t
ngx_http_kedge_metrics_grpc_code(ngx_http_request_t *r)
{
    ngx_int_t  code;

    code = ngx_http_kedge_metrics_grpc_status(&r->headers_out.trailers);

    if (code == NGX_DECLINED) {
        code = ngx_http_kedge_metrics_grpc_status(&r->headers_out.headers);
    }

    if (code < 0 || code >= NGX_HTTP_KEDGE_GRPC_CODES - 1) {
        return NGX_HTTP_KEDGE_GRPC_CODES - 1;
    }

    return code;
}


/* the first grpc-status of a list: its value, NGX_ERROR, or NGX_DECLINED */

static ngx_int_t
ngx_http_kedge_metrics_grpc_status(ngx_list_t *list)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    if (list->part.elts == NULL) {
        return NGX_DECLINED;
    }

    part = &list->part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        /* HTTP/2 names are lower-case: the cheap comparison first */

        if (h[i].hash == 0
            || h[i].key.len != sizeof("grpc-status") - 1
            || (ngx_strncmp(h[i].key.data, "grpc-status",
                            sizeof("grpc-status") - 1)
                != 0
                && ngx_strncasecmp(h[i].key.data, (u_char *) "grpc-status",
                                   sizeof("grpc-status") - 1)
                   != 0))
        {
            continue;
        }

        /* decimal digits only, as grpc-go reads it; not a code: NGX_ERROR */

        if (h[i].value.len == 0 || h[i].value.len > 2) {
            return NGX_ERROR;
        }

        return ngx_atoi(h[i].value.data, h[i].value.len);
    }

    return NGX_DECLINED;
}


/*
 * The log phase: a request that kedge routed (kedge_pass), or refused
 * wherever (an authorizer's 401), counted by its final status, and a
 * gRPC call by its grpc-status too
 */

static ngx_int_t
ngx_http_kedge_metrics_log_handler(ngx_http_request_t *r)
{
    u_char                      *p;
    ngx_str_t                   *protocol, *name, none = ngx_string("");
    ngx_uint_t                   status, class;
    ngx_http_kedge_ctx_t        *ctx;
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

    name = ngx_http_kedge_metrics_count(r, ctx, kmcf, class);
    protocol = &ngx_http_kedge_protocols[ctx->req.grpc];

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
    ngx_int_t                 rc;
    ngx_http_kedge_text_t     t;
    ngx_http_kedge_gauge_t   *g;
    ngx_http_kedge_scrape_t   s;

    rc = ngx_http_kedge_ops_request(r);
    if (rc != NGX_OK) {
        return rc;
    }

    ngx_http_kedge_text_init(&t, r);

    s.text = &t;
    s.kmcf = ngx_http_get_module_main_conf(r, ngx_http_kedge_module);

    if (ngx_http_kedge_metrics_discovered(&s) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_kedge_metrics_counters(&s);

    for (g = ngx_http_kedge_gauges; g->name.len; g++) {
        ngx_http_kedge_text_printf(&t, "%s", g->head);
        g->render(&s, &g->name);
    }

    return ngx_http_kedge_text_send(&t, "text/plain; version=0.0.4; "
                                        "charset=utf-8");
}


/*
 * The discovered backends held now, read once for the whole scrape: the
 * name each slot has now labels its series.  A slot that a reload left
 * under the name of a configured backend of its protocol (until the new
 * fetcher gives it up) is not shown: the configured one has the series.
 */

static ngx_int_t
ngx_http_kedge_metrics_discovered(ngx_http_kedge_scrape_t *s)
{
    ngx_uint_t                    i, n, protocol;
    ngx_array_t                  *a;
    ngx_kedge_store_slot_view_t  *sv;

    s->discovered = NULL;
    s->ndiscovered = 0;

    if (s->kmcf->discovery == NULL) {
        return NGX_OK;
    }

    a = ngx_kedge_store_dynamic_view(s->kmcf->store, s->text->request->pool);
    if (a == NULL) {
        return NGX_ERROR;
    }

    sv = a->elts;
    n = 0;

    for (i = 0; i < a->nelts; i++) {
        protocol = (sv[i].kind == NGX_KEDGE_K8S_GRPC) ? NGX_HTTP_KEDGE_GRPC
                                                      : NGX_HTTP_KEDGE_HTTP;

        if (ngx_http_kedge_backend_find(s->kmcf, &sv[i].name, protocol)) {
            continue;
        }

        sv[n++] = sv[i];
    }

    s->discovered = sv;
    s->ndiscovered = n;

    return NGX_OK;
}


/* the families of NGX_HTTP_KEDGE_COUNTERS, generated */

static void
ngx_http_kedge_metrics_counters(ngx_http_kedge_scrape_t *s)
{
    ngx_str_t                     *protocol, *name, family;
    ngx_uint_t                     slot, nslots, i, k, v;
    ngx_http_kedge_text_t         *t;
    ngx_kedge_store_slot_view_t   *sv;
    ngx_http_kedge_counters_t     *c;

    t = s->text;
    nslots = s->kmcf->nentries * 2;

#define NGX_HTTP_KEDGE_COUNTER_RENDER(field, fname, label, values, size,     \
                                      sparse, help)                           \
                                                                              \
    ngx_str_set(&family, fname);                                              \
                                                                              \
    ngx_http_kedge_text_printf(t, "# HELP " fname " " help "\n"               \
                                  "# TYPE " fname " counter\n");              \
                                                                              \
    for (slot = 0; slot < nslots; slot++) {                                   \
        c = ngx_http_kedge_metrics_slot(s->kmcf, slot, &name, &protocol);     \
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
            ngx_http_kedge_metrics_series(t, &family, name, protocol);        \
            ngx_http_kedge_text_printf(t, "," label "=\"%V\"} %ui\n",         \
                                       &values[i], v);                        \
        }                                                                     \
    }                                                                         \
                                                                              \
    for (k = 0; k < s->ndiscovered; k++) {                                    \
        sv = &s->discovered[k];                                               \
                                                                              \
        for (i = 0; i < size; i++) {                                          \
            v = sv->counters[ngx_http_kedge_counter_index(field, i)];         \
                                                                              \
            if (values[i].len == 0 || (sparse && v == 0)) {                   \
                continue;                                                     \
            }                                                                 \
                                                                              \
            ngx_http_kedge_metrics_series(t, &family, &sv->name,              \
                                          ngx_http_kedge_metrics_kind(sv));   \
            ngx_http_kedge_text_printf(t, "," label "=\"%V\"} %ui\n",         \
                                       &values[i], v);                        \
        }                                                                     \
    }

    NGX_HTTP_KEDGE_COUNTERS(NGX_HTTP_KEDGE_COUNTER_RENDER)

#undef NGX_HTTP_KEDGE_COUNTER_RENDER
}


/* "family{backend_name="web",protocol="any"", the name escaped */

static void
ngx_http_kedge_metrics_series(ngx_http_kedge_text_t *t, ngx_str_t *family,
    ngx_str_t *name, ngx_str_t *protocol)
{
    ngx_http_kedge_text_printf(t, "%V{backend_name=\"", family);
    ngx_http_kedge_text_escaped(t, name, 0);
    ngx_http_kedge_text_printf(t, "\",protocol=\"%V\"", protocol);
}


static void
ngx_http_kedge_metric_info(ngx_http_kedge_scrape_t *s, ngx_str_t *name)
{
    ngx_http_kedge_text_printf(s->text, "%V{version=\""
                               NGX_HTTP_KEDGE_VERSION "\",nginx=\""
                               NGINX_VERSION "\"} 1\n", name);
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


/* a discovered backend's name space: its one protocol */

static ngx_str_t *
ngx_http_kedge_metrics_kind(ngx_kedge_store_slot_view_t *sv)
{
    return &ngx_http_kedge_protocols[sv->kind == NGX_KEDGE_K8S_GRPC];
}


ngx_str_t *
ngx_http_kedge_store_state(ngx_uint_t state)
{
    return &ngx_http_kedge_states[state];
}


static void
ngx_http_kedge_metrics_backend(ngx_http_kedge_text_t *t, ngx_str_t *family,
    ngx_http_kedge_backend_t *backend)
{
    ngx_http_kedge_metrics_series(t, family, &backend->name,
                                  ngx_http_kedge_backend_protocol(backend));
}


/*
 * The families of every backend, one renderer: the configured backends,
 * then the discovered ones held now
 */

#define NGX_HTTP_KEDGE_M_INFO         0
#define NGX_HTTP_KEDGE_M_ENDPOINTS    1
#define NGX_HTTP_KEDGE_M_STATE        2
#define NGX_HTTP_KEDGE_M_SYNC_AGE     3
#define NGX_HTTP_KEDGE_M_SYNCS        4
#define NGX_HTTP_KEDGE_M_WATCH        5


static void
ngx_http_kedge_metrics_backends(ngx_http_kedge_scrape_t *s,
    ngx_str_t *family, ngx_uint_t which)
{
    ngx_uint_t                    i;
    ngx_kedge_store_view_t        view, *v;
    ngx_http_kedge_backend_t     *backend;
    ngx_kedge_store_slot_view_t  *sv;

    backend = s->kmcf->backends.elts;

    for (i = 0; i < s->kmcf->backends.nelts; i++) {

        if (which == NGX_HTTP_KEDGE_M_INFO) {
            ngx_http_kedge_metrics_backend(s->text, family, &backend[i]);
            ngx_http_kedge_text_printf(s->text,
                                    ",source=\"%V\",tls=\"%V\"} 1\n",
                                    &ngx_http_kedge_sources[backend[i].source],
                                    &ngx_http_kedge_tls_modes[backend[i].tls]);
            continue;
        }

        if (backend[i].index == NGX_ERROR) {

            /* endpoints= */

            if (which == NGX_HTTP_KEDGE_M_ENDPOINTS) {
                ngx_http_kedge_metrics_backend(s->text, family, &backend[i]);
                ngx_http_kedge_text_printf(s->text, "} %ui\n",
                                           backend[i].peers->naddrs);
            }

            continue;
        }

        if (ngx_kedge_store_view(s->kmcf->store, backend[i].index, NULL,
                                 &view)
            != NGX_OK)
        {
            continue;
        }

        ngx_http_kedge_metrics_views(s->text, family, &backend[i].name,
                                     ngx_http_kedge_backend_protocol(
                                                                &backend[i]),
                                     backend[i].source, &view, which);
    }

    for (i = 0; i < s->ndiscovered; i++) {
        sv = &s->discovered[i];
        v = &sv->view;

        if (which == NGX_HTTP_KEDGE_M_INFO) {
            ngx_http_kedge_metrics_series(s->text, family, &sv->name,
                                          ngx_http_kedge_metrics_kind(sv));
            ngx_http_kedge_text_printf(s->text,
                       ",source=\"%V\",tls=\"%V\"} 1\n",
                       &ngx_http_kedge_sources[NGX_HTTP_KEDGE_K8S],
                       &ngx_http_kedge_tls_modes[sv->tls
                                                 ? NGX_HTTP_KEDGE_TLS_INSECURE
                                                 : NGX_HTTP_KEDGE_TLS_OFF]);
            continue;
        }

        ngx_http_kedge_metrics_views(s->text, family, &sv->name,
                                     ngx_http_kedge_metrics_kind(sv),
                                     NGX_HTTP_KEDGE_K8S, v, which);
    }
}


/* the series of one backend resolved at run time, from its view */

static void
ngx_http_kedge_metrics_views(ngx_http_kedge_text_t *t, ngx_str_t *family,
    ngx_str_t *name, ngx_str_t *protocol, ngx_uint_t source,
    ngx_kedge_store_view_t *view, ngx_uint_t which)
{
    ngx_uint_t  st;

    switch (which) {

    case NGX_HTTP_KEDGE_M_ENDPOINTS:
        ngx_http_kedge_metrics_series(t, family, name, protocol);
        ngx_http_kedge_text_printf(t, "} %ui\n", view->naddrs);
        break;

    case NGX_HTTP_KEDGE_M_STATE:
        for (st = NGX_KEDGE_STORE_NEVER; st <= NGX_KEDGE_STORE_STALE; st++) {
            ngx_http_kedge_metrics_series(t, family, name, protocol);
            ngx_http_kedge_text_printf(t, ",state=\"%V\"} %d\n",
                                       &ngx_http_kedge_states[st],
                                       view->state == st);
        }

        break;

    case NGX_HTTP_KEDGE_M_SYNC_AGE:
        if (view->state == NGX_KEDGE_STORE_NEVER) {
            break;
        }

        ngx_http_kedge_metrics_series(t, family, name, protocol);
        ngx_http_kedge_text_printf(t, "} %T\n",
                                   ngx_max(ngx_time() - view->synced, 0));
        break;

    case NGX_HTTP_KEDGE_M_SYNCS:
        ngx_http_kedge_metrics_series(t, family, name, protocol);
        ngx_http_kedge_text_printf(t, ",result=\"ok\"} %ui\n", view->syncs);
        ngx_http_kedge_metrics_series(t, family, name, protocol);
        ngx_http_kedge_text_printf(t, ",result=\"error\"} %ui\n",
                                   view->failures);
        break;

    case NGX_HTTP_KEDGE_M_WATCH:
        if (source != NGX_HTTP_KEDGE_K8S) {
            break;
        }

        for (st = NGX_KEDGE_STORE_WATCH_LISTING;
             st <= NGX_KEDGE_STORE_WATCH_RETRYING;
             st++)
        {
            ngx_http_kedge_metrics_series(t, family, name, protocol);
            ngx_http_kedge_text_printf(t, ",state=\"%V\"} %d\n",
                                       &ngx_http_kedge_watch_states[st],
                                       view->watch == st);
        }

        break;
    }
}


static void
ngx_http_kedge_metric_backend_info(ngx_http_kedge_scrape_t *s,
    ngx_str_t *name)
{
    ngx_http_kedge_metrics_backends(s, name, NGX_HTTP_KEDGE_M_INFO);
}


static void
ngx_http_kedge_metric_endpoints(ngx_http_kedge_scrape_t *s, ngx_str_t *name)
{
    ngx_http_kedge_metrics_backends(s, name, NGX_HTTP_KEDGE_M_ENDPOINTS);
}


static void
ngx_http_kedge_metric_state(ngx_http_kedge_scrape_t *s, ngx_str_t *name)
{
    ngx_http_kedge_metrics_backends(s, name, NGX_HTTP_KEDGE_M_STATE);
}


static void
ngx_http_kedge_metric_sync_age(ngx_http_kedge_scrape_t *s, ngx_str_t *name)
{
    ngx_http_kedge_metrics_backends(s, name, NGX_HTTP_KEDGE_M_SYNC_AGE);
}


static void
ngx_http_kedge_metric_syncs(ngx_http_kedge_scrape_t *s, ngx_str_t *name)
{
    ngx_http_kedge_metrics_backends(s, name, NGX_HTTP_KEDGE_M_SYNCS);
}


static void
ngx_http_kedge_metric_watch(ngx_http_kedge_scrape_t *s, ngx_str_t *name)
{
    ngx_http_kedge_metrics_backends(s, name, NGX_HTTP_KEDGE_M_WATCH);
}


static void
ngx_http_kedge_metric_set_aside(ngx_http_kedge_scrape_t *s,
    ngx_str_t *name)
{
    ngx_array_t  *a;

    a = ngx_kedge_store_aside_view(s->kmcf->store, s->text->request->pool);
    if (a == NULL) {
        s->text->error = 1;
        return;
    }

    ngx_http_kedge_text_printf(s->text, "%V %ui\n", name, a->nelts);
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
ngx_http_kedge_metric_issuer_state(ngx_http_kedge_scrape_t *s,
    ngx_str_t *name)
{
    ngx_uint_t             i, st;
    ngx_kedge_store_sh_t  *sh;

    sh = ngx_http_kedge_metrics_sh(s->kmcf);

    for (i = 0; sh && i < sh->nissuers; i++) {
        for (st = NGX_KEDGE_STORE_NEVER; st <= NGX_KEDGE_STORE_STALE; st++) {
            ngx_http_kedge_metrics_issuer(s->text, name, &sh->issuers[i]);
            ngx_http_kedge_text_printf(s->text, ",state=\"%V\"} %d\n",
                                       &ngx_http_kedge_states[st],
                                       sh->issuers[i].state == st);
        }
    }
}


static void
ngx_http_kedge_metric_issuer_keys(ngx_http_kedge_scrape_t *s,
    ngx_str_t *name)
{
    ngx_uint_t             i;
    ngx_kedge_store_sh_t  *sh;

    sh = ngx_http_kedge_metrics_sh(s->kmcf);

    for (i = 0; sh && i < sh->nissuers; i++) {
        ngx_http_kedge_metrics_issuer(s->text, name, &sh->issuers[i]);
        ngx_http_kedge_text_printf(s->text, "} %ui\n", sh->issuers[i].nkeys);
    }
}


static void
ngx_http_kedge_metric_issuer_age(ngx_http_kedge_scrape_t *s,
    ngx_str_t *name)
{
    ngx_uint_t                 i;
    ngx_kedge_store_sh_t      *sh;
    ngx_kedge_store_issuer_t  *is;

    sh = ngx_http_kedge_metrics_sh(s->kmcf);

    for (i = 0; sh && i < sh->nissuers; i++) {
        is = &sh->issuers[i];

        if (is->state == NGX_KEDGE_STORE_NEVER || is->synced == 0) {
            continue;
        }

        ngx_http_kedge_metrics_issuer(s->text, name, is);
        ngx_http_kedge_text_printf(s->text, "} %T\n",
                                   ngx_max(ngx_time() - is->synced, 0));
    }
}


static void
ngx_http_kedge_metric_issuer_fetches(ngx_http_kedge_scrape_t *s,
    ngx_str_t *name)
{
    ngx_uint_t                 i, attempts, failures;
    ngx_kedge_store_sh_t      *sh;
    ngx_kedge_store_issuer_t  *is;

    sh = ngx_http_kedge_metrics_sh(s->kmcf);

    for (i = 0; sh && i < sh->nissuers; i++) {
        is = &sh->issuers[i];

        failures = is->failures;
        attempts = ngx_max(is->attempts, failures);

        ngx_http_kedge_metrics_issuer(s->text, name, is);
        ngx_http_kedge_text_printf(s->text, ",result=\"ok\"} %ui\n",
                                   attempts - failures);
        ngx_http_kedge_metrics_issuer(s->text, name, is);
        ngx_http_kedge_text_printf(s->text, ",result=\"error\"} %ui\n",
                                   failures);
    }
}


static void
ngx_http_kedge_metric_tokens(ngx_http_kedge_scrape_t *s,
    ngx_str_t *name)
{
    ngx_kedge_store_sh_t  *sh;

    sh = ngx_http_kedge_metrics_sh(s->kmcf);

    ngx_http_kedge_text_printf(s->text, "%V %ui\n", name, sh ? sh->ntokens : 0);
}


static void
ngx_http_kedge_metric_zone_full(ngx_http_kedge_scrape_t *s,
    ngx_str_t *name)
{
    ngx_kedge_store_sh_t  *sh;

    sh = ngx_http_kedge_metrics_sh(s->kmcf);

    ngx_http_kedge_text_printf(s->text, "%V %uA\n", name, sh ? sh->nomem : 0);
}
