
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 *
 * kedge's dynamic routing discovery, the fetcher's side (worker 0): the
 * Services labelled "<prefix>kedge-exposed=true" in every namespace,
 * listed and watched by a reflector (ngx_kedge_k8s_client.c), become
 * routes and backends by kedge's naming rules (ngx_kedge_k8s.c).  After
 * each change the whole set is made again, in a stable order, and
 * written to the store only when it differs from the last one written:
 *
 *   - a backend takes a slot in the store, the one it held before if
 *     any, and gets an EndpointSlice watch of its own while it exists;
 *     a backend named like a configured one is not made: its routes go
 *     to the configured backend;
 *   - a slot is given back, and its watch stopped, only once a route set
 *     without it is in the store;
 *   - a zone too full for the new set keeps the last one (the store logs
 *     it), and the slots taken for the new one are given back.
 *
 * The workers compile the set (ngx_http_kedge_discovered.c).
 */


#include "ngx_kedge_discovery.h"


#define NGX_KEDGE_DISCOVERY_NONE      0xfffffffe


struct ngx_kedge_discovery_svc_s {
    const char                     *invalid;     /* why nothing is exposed */
    ngx_uint_t                      clash;       /* logged a name clash */
    ngx_kedge_k8s_exposed_t         exp;         /* its ports follow */
};


struct ngx_kedge_discovery_held_s {
    ngx_uint_t                      serial;      /* 0: a free slot */
    ngx_uint_t                      kind;        /* NGX_KEDGE_K8S_HTTP.. */
    size_t                          name_len;
    u_char                          name[NGX_KEDGE_STORE_NAME_LEN];
    ngx_kedge_k8s_watch_t          *watch;
    unsigned                        used:1;      /* by the set being made */
    unsigned                        fresh:1;     /* taken for it */
};


/* a backend of the set being made */
typedef struct {
    ngx_str_t                       name;
    ngx_uint_t                      protocol;
    ngx_uint_t                      tls;
    ngx_str_t                       tls_name;
    ngx_str_t                       target;      /* "service.ns:port" */
    ngx_uint_t                      slot;        /* or _CONFIGURED, _NONE */
    ngx_uint_t                      serial;
    ngx_uint_t                      index;       /* in the set written */
    ngx_kedge_discovery_svc_t      *svc;
    ngx_kedge_k8s_exposed_port_t   *port;
} ngx_kedge_discovery_bk_t;


/* a route of the set being made */
typedef struct {
    ngx_uint_t                      backend;
    ngx_uint_t                      seq;
    ngx_uint_t                      protocol;
    ngx_uint_t                      rank;
    in_port_t                       port;
    ngx_str_t                       host;
    ngx_str_t                       service;
    ngx_str_t                       id;
} ngx_kedge_discovery_rt_t;


static void ngx_kedge_discovery_cleanup(void *data);
static ngx_int_t ngx_kedge_discovery_list(ngx_kedge_k8s_reflector_t *rf,
    ngx_kedge_k8s_unknown_t *u, const char **err);
static ngx_int_t ngx_kedge_discovery_event(ngx_kedge_k8s_reflector_t *rf,
    ngx_uint_t type, ngx_kedge_k8s_unknown_t *u, const char **err);
static void ngx_kedge_discovery_failed(ngx_kedge_k8s_reflector_t *rf);
static ngx_kedge_discovery_svc_t *ngx_kedge_discovery_svc(
    ngx_kedge_discovery_t *d, ngx_kedge_k8s_service_t *service,
    ngx_uint_t *declined);
static ngx_int_t ngx_kedge_discovery_find(ngx_kedge_discovery_svc_t **svcs,
    ngx_uint_t n, const char *namespace, const char *name, ngx_uint_t *at);
static int ngx_libc_cdecl ngx_kedge_discovery_cmp_svc(const void *one,
    const void *two);
static ngx_int_t ngx_kedge_discovery_put(ngx_kedge_discovery_t *d,
    ngx_kedge_discovery_svc_t *svc);
static void ngx_kedge_discovery_remove(ngx_kedge_discovery_t *d,
    const char *namespace, const char *name);
static void ngx_kedge_discovery_note(ngx_kedge_discovery_t *d,
    ngx_kedge_discovery_svc_t *old, ngx_kedge_discovery_svc_t *svc);
static ngx_int_t ngx_kedge_discovery_publish(ngx_kedge_k8s_reflector_t *rf);
static ngx_int_t ngx_kedge_discovery_write_set(ngx_kedge_discovery_t *d,
    ngx_uint_t *again);
static ngx_int_t ngx_kedge_discovery_make(ngx_kedge_discovery_t *d,
    ngx_pool_t *pool, ngx_array_t *bks, ngx_array_t *rts);
static ngx_uint_t ngx_kedge_discovery_reserved(ngx_kedge_discovery_t *d,
    ngx_str_t *name, ngx_uint_t protocol);
static ngx_uint_t ngx_kedge_discovery_slots(ngx_kedge_discovery_t *d,
    ngx_array_t *bks);
static int ngx_libc_cdecl ngx_kedge_discovery_cmp_rt(const void *one,
    const void *two);
static u_char *ngx_kedge_discovery_write(ngx_pool_t *pool, ngx_array_t *bks,
    ngx_array_t *rts, size_t *len);
static ngx_uint_t ngx_kedge_discovery_commit(ngx_kedge_discovery_t *d,
    ngx_array_t *bks);
static void ngx_kedge_discovery_drop(ngx_kedge_discovery_t *d,
    ngx_uint_t slot);
static void ngx_kedge_discovery_free(ngx_kedge_discovery_svc_t **svcs,
    ngx_uint_t n);


ngx_int_t
ngx_kedge_discovery_start(ngx_kedge_discovery_t *d, ngx_pool_t *pool,
    ngx_log_t *log)
{
    u_char                      *p;
    size_t                       len;
    ngx_uint_t                   i;
    ngx_pool_cleanup_t          *cln;
    ngx_kedge_k8s_reflector_t   *rf;
    ngx_kedge_discovery_held_t  *h;

    /* libcurl first: its cleanup then runs after the watches' */

    if (ngx_kedge_k8s_api_init(d->api, pool, log) != NGX_OK) {
        return NGX_ERROR;
    }

    d->log = log;

    d->held = ngx_pcalloc(pool, d->max_backends
                                * sizeof(ngx_kedge_discovery_held_t));
    if (d->held == NULL) {
        return NGX_ERROR;
    }

    /*
     * after a reload the slots are those the old fetcher held, copied
     * forward with their endpoints: taken over by name at the first set
     */

    for (i = 0; i < d->max_backends; i++) {
        h = &d->held[i];
        h->serial = ngx_kedge_store_dynamic_held(d->store, i, h->name,
                                                 &h->name_len, &h->kind);
    }

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_kedge_discovery_cleanup;
    cln->data = d;

    rf = &d->reflector;

    len = 3 * (d->label_prefix.len + sizeof("kedge-exposed=true"))
          + sizeof("Services labelled kedge-exposed=true")
          + d->label_prefix.len;

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(&rf->path, "/api/v1/services");

    rf->selector.data = p;
    p = ngx_kedge_k8s_escape(p, p + len, d->label_prefix.data,
                             d->label_prefix.len);
    p = ngx_cpymem(p, "kedge-exposed%3Dtrue", 20);
    rf->selector.len = p - rf->selector.data;

    rf->what.data = p;
    p = ngx_sprintf(p, "Services labelled %Vkedge-exposed=true",
                    &d->label_prefix);
    rf->what.len = p - rf->what.data;

    rf->api = d->api;
    rf->list = ngx_kedge_discovery_list;
    rf->event = ngx_kedge_discovery_event;
    rf->publish = ngx_kedge_discovery_publish;
    rf->failed = ngx_kedge_discovery_failed;
    rf->data = d;

    return ngx_kedge_k8s_reflector_start(rf, log);
}


/* at exit: the store is left as it is, for the next configuration */

static void
ngx_kedge_discovery_cleanup(void *data)
{
    ngx_kedge_discovery_t *d = data;

    ngx_uint_t  i;

    ngx_kedge_k8s_reflector_stop(&d->reflector);

    for (i = 0; i < d->max_backends; i++) {
        if (d->held[i].watch) {
            ngx_kedge_k8s_watch_destroy(d->held[i].watch);
            d->held[i].watch = NULL;
        }
    }

    ngx_kedge_discovery_free(d->services, d->nservices);
    d->nservices = 0;

    if (d->services) {
        ngx_free(d->services);
        d->services = NULL;
    }

    if (d->last) {
        ngx_free(d->last);
        d->last = NULL;
    }
}


static ngx_int_t
ngx_kedge_discovery_list(ngx_kedge_k8s_reflector_t *rf,
    ngx_kedge_k8s_unknown_t *u, const char **err)
{
    ngx_kedge_discovery_t *d = rf->data;

    ngx_int_t                      rc;
    ngx_uint_t                     i, k, n, at, declined;
    ngx_kedge_discovery_svc_t    **svcs, *svc;
    ngx_kedge_k8s_service_list_t  *list;

    list = k8s__io__api__core__v1__service_list__unpack(NULL, u->raw.len,
                                                        u->raw.data);
    if (list == NULL) {
        *err = "malformed ServiceList";
        return NGX_ERROR;
    }

    rc = NGX_ERROR;
    svcs = NULL;
    n = 0;

    if (list->metadata == NULL || list->metadata->resourceversion == NULL
        || ngx_kedge_k8s_reflector_rv(rf, list->metadata->resourceversion)
           != NGX_OK)
    {
        *err = "ServiceList without a valid resourceVersion";
        goto done;
    }

    svcs = ngx_alloc((list->n_items ? list->n_items : 1)
                     * sizeof(ngx_kedge_discovery_svc_t *), rf->log);
    if (svcs == NULL) {
        *err = "out of memory";
        goto done;
    }

    for (i = 0; i < list->n_items; i++) {
        svc = ngx_kedge_discovery_svc(d, list->items[i], &declined);

        if (svc == NULL) {
            if (declined) {
                continue;
            }

            *err = "out of memory";
            goto done;
        }

        svcs[n++] = svc;
    }

    ngx_qsort(svcs, n, sizeof(ngx_kedge_discovery_svc_t *),
              ngx_kedge_discovery_cmp_svc);

    /* a name twice in a list (no API server does that): one counts */

    for (i = 1, k = n ? 1 : 0; i < n; i++) {
        if (ngx_kedge_discovery_cmp_svc(&svcs[k - 1], &svcs[i]) == 0) {
            ngx_free(svcs[k - 1]);
            svcs[k - 1] = svcs[i];
            continue;
        }

        svcs[k++] = svcs[i];
    }

    n = k;

    /* what changed since the last list is logged, the rest was */

    for (i = 0; i < n; i++) {
        if (ngx_kedge_discovery_find(d->services, d->nservices,
                                     svcs[i]->exp.namespace,
                                     svcs[i]->exp.name, &at)
            == NGX_OK)
        {
            ngx_kedge_discovery_note(d, d->services[at], svcs[i]);

        } else {
            ngx_kedge_discovery_note(d, NULL, svcs[i]);
        }
    }

    /* the list replaces everything known before */

    ngx_kedge_discovery_free(d->services, d->nservices);

    if (d->services) {
        ngx_free(d->services);
    }

    d->services = svcs;
    d->nservices = n;
    d->nalloc = list->n_items ? list->n_items : 1;

    svcs = NULL;
    n = 0;
    rc = NGX_OK;

done:

    if (svcs) {
        ngx_kedge_discovery_free(svcs, n);
        ngx_free(svcs);
    }

    k8s__io__api__core__v1__service_list__free_unpacked(list, NULL);

    return rc;
}


static ngx_int_t
ngx_kedge_discovery_event(ngx_kedge_k8s_reflector_t *rf, ngx_uint_t type,
    ngx_kedge_k8s_unknown_t *u, const char **err)
{
    ngx_kedge_discovery_t *d = rf->data;

    ngx_int_t                   rc;
    ngx_uint_t                  declined;
    ngx_kedge_k8s_service_t    *service;
    ngx_kedge_discovery_svc_t  *svc;

    service = k8s__io__api__core__v1__service__unpack(NULL, u->raw.len,
                                                      u->raw.data);

    if (service == NULL || service->metadata == NULL
        || service->metadata->resourceversion == NULL)
    {
        *err = "malformed Service in a WatchEvent";
        rc = NGX_ERROR;
        goto done;
    }

    rc = NGX_ERROR;

    if (type != NGX_KEDGE_K8S_BOOKMARK) {

        if (service->metadata->name == NULL
            || service->metadata->namespace_ == NULL)
        {
            *err = "Service without a name or a namespace";
            goto done;
        }

        svc = NULL;
        declined = 1;

        if (type != NGX_KEDGE_K8S_DELETED) {
            svc = ngx_kedge_discovery_svc(d, service, &declined);

            if (svc == NULL && !declined) {
                *err = "out of memory";
                goto done;
            }
        }

        /* deleted, or no longer labelled: gone */

        if (svc == NULL) {
            ngx_kedge_discovery_remove(d, service->metadata->namespace_,
                                       service->metadata->name);

        } else if (ngx_kedge_discovery_put(d, svc) != NGX_OK) {
            ngx_free(svc);
            *err = "out of memory";
            goto done;
        }
    }

    if (ngx_kedge_k8s_reflector_rv(rf, service->metadata->resourceversion)
        != NGX_OK)
    {
        *err = "invalid resourceVersion in a WatchEvent";
        goto done;
    }

    rc = NGX_OK;

done:

    if (service) {
        k8s__io__api__core__v1__service__free_unpacked(service, NULL);
    }

    return rc;
}


static void
ngx_kedge_discovery_failed(ngx_kedge_k8s_reflector_t *rf)
{
    ngx_kedge_discovery_t *d = rf->data;

    ngx_kedge_store_routes_failed(d->store);
}


/*
 * What a Service exposes, in memory of its own; NULL with *declined set
 * when it is not to be kept: not labelled, or too broken to be named.
 */

static ngx_kedge_discovery_svc_t *
ngx_kedge_discovery_svc(ngx_kedge_discovery_t *d,
    ngx_kedge_k8s_service_t *service, ngx_uint_t *declined)
{
    int                            rc;
    const char                    *err;
    ngx_kedge_k8s_exposed_t        exp;
    ngx_kedge_discovery_svc_t     *svc;
    ngx_kedge_k8s_exposed_port_t   ports[NGX_KEDGE_DISCOVERY_PORTS];

    *declined = 0;
    err = NULL;

    rc = ngx_kedge_k8s_service_expose(service,
                                      (char *) d->label_prefix.data,
                                      (char *) d->domain_suffix.data,
                                      &exp, ports, NGX_KEDGE_DISCOVERY_PORTS,
                                      &err);

    if (rc == NGX_KEDGE_K8S_DECLINED) {
        *declined = 1;
        return NULL;
    }

    if (rc == NGX_KEDGE_K8S_ERROR && exp.name[0] == '\0') {
        ngx_log_error(NGX_LOG_WARN, d->log, 0,
                      "kedge: discovery: a Service not exposed: %s", err);
        *declined = 1;
        return NULL;
    }

    if (rc == NGX_KEDGE_K8S_ERROR) {
        exp.nports = 0;
    }

    svc = ngx_alloc(sizeof(ngx_kedge_discovery_svc_t)
                    + exp.nports * sizeof(ngx_kedge_k8s_exposed_port_t),
                    d->log);
    if (svc == NULL) {
        return NULL;
    }

    svc->invalid = (rc == NGX_KEDGE_K8S_ERROR) ? err : NULL;

    /* a Service changed: its name clashes, if any, are logged again */
    svc->clash = 0;
    svc->exp = exp;
    svc->exp.ports = (ngx_kedge_k8s_exposed_port_t *) (svc + 1);

    ngx_memcpy(svc->exp.ports, ports,
               exp.nports * sizeof(ngx_kedge_k8s_exposed_port_t));

    return svc;
}


static ngx_int_t
ngx_kedge_discovery_find(ngx_kedge_discovery_svc_t **svcs, ngx_uint_t n,
    const char *namespace, const char *name, ngx_uint_t *at)
{
    ngx_int_t   c;
    ngx_uint_t  lo, hi, mid;

    lo = 0;
    hi = n;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;

        c = ngx_strcmp(svcs[mid]->exp.namespace, namespace);
        if (c == 0) {
            c = ngx_strcmp(svcs[mid]->exp.name, name);
        }

        if (c == 0) {
            *at = mid;
            return NGX_OK;
        }

        if (c < 0) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    *at = lo;

    return NGX_DECLINED;
}


static int ngx_libc_cdecl
ngx_kedge_discovery_cmp_svc(const void *one, const void *two)
{
    ngx_int_t                   c;
    ngx_kedge_discovery_svc_t  *a, *b;

    a = *(ngx_kedge_discovery_svc_t **) one;
    b = *(ngx_kedge_discovery_svc_t **) two;

    c = ngx_strcmp(a->exp.namespace, b->exp.namespace);

    return (int) (c ? c : ngx_strcmp(a->exp.name, b->exp.name));
}


/* a Service added or changed: it takes its place, in order */

static ngx_int_t
ngx_kedge_discovery_put(ngx_kedge_discovery_t *d,
    ngx_kedge_discovery_svc_t *svc)
{
    ngx_uint_t                   at, n;
    ngx_kedge_discovery_svc_t  **svcs;

    if (ngx_kedge_discovery_find(d->services, d->nservices,
                                 svc->exp.namespace, svc->exp.name, &at)
        == NGX_OK)
    {
        ngx_kedge_discovery_note(d, d->services[at], svc);
        ngx_free(d->services[at]);
        d->services[at] = svc;
        return NGX_OK;
    }

    if (d->nservices == d->nalloc) {
        n = d->nalloc ? 2 * d->nalloc : 16;

        svcs = ngx_alloc(n * sizeof(ngx_kedge_discovery_svc_t *), d->log);
        if (svcs == NULL) {
            return NGX_ERROR;
        }

        if (d->services) {
            ngx_memcpy(svcs, d->services,
                       d->nservices * sizeof(ngx_kedge_discovery_svc_t *));
            ngx_free(d->services);
        }

        d->services = svcs;
        d->nalloc = n;
    }

    ngx_kedge_discovery_note(d, NULL, svc);

    ngx_memmove(&d->services[at + 1], &d->services[at],
                (d->nservices - at) * sizeof(ngx_kedge_discovery_svc_t *));

    d->services[at] = svc;
    d->nservices++;

    return NGX_OK;
}


static void
ngx_kedge_discovery_remove(ngx_kedge_discovery_t *d, const char *namespace,
    const char *name)
{
    ngx_uint_t  at;

    if (ngx_kedge_discovery_find(d->services, d->nservices, namespace, name,
                                 &at)
        != NGX_OK)
    {
        return;
    }

    ngx_free(d->services[at]);

    ngx_memmove(&d->services[at], &d->services[at + 1],
                (d->nservices - at - 1)
                * sizeof(ngx_kedge_discovery_svc_t *));

    d->nservices--;
}


/* why a Service, or some of its ports, cannot be exposed: once a change */

static void
ngx_kedge_discovery_note(ngx_kedge_discovery_t *d,
    ngx_kedge_discovery_svc_t *old, ngx_kedge_discovery_svc_t *svc)
{
    if (svc->invalid) {
        if (old == NULL || old->invalid != svc->invalid) {
            ngx_log_error(NGX_LOG_WARN, d->log, 0,
                          "kedge: discovery: Service %s/%s not exposed: %s",
                          svc->exp.namespace, svc->exp.name, svc->invalid);
        }

        return;
    }

    if (svc->exp.skipped
        && (old == NULL || old->invalid
            || old->exp.skipped != svc->exp.skipped
            || old->exp.skipped_reason != svc->exp.skipped_reason
            || ngx_strcmp(old->exp.skipped_port, svc->exp.skipped_port)
               != 0))
    {
        ngx_log_error(NGX_LOG_WARN, d->log, 0,
                      "kedge: discovery: Service %s/%s: %uz port(s) left "
                      "out, the first \"%s\": %s",
                      svc->exp.namespace, svc->exp.name, svc->exp.skipped,
                      svc->exp.skipped_port, svc->exp.skipped_reason);
    }
}


static void
ngx_kedge_discovery_free(ngx_kedge_discovery_svc_t **svcs, ngx_uint_t n)
{
    ngx_uint_t  i;

    for (i = 0; i < n; i++) {
        ngx_free(svcs[i]);
    }
}


/*
 * The Services known, as a route set in the store.  A slot is given back
 * only after a set without its backend is written: a backend left out for
 * want of slots gets the slot at once, with a second set.
 */

static ngx_int_t
ngx_kedge_discovery_publish(ngx_kedge_k8s_reflector_t *rf)
{
    ngx_kedge_discovery_t *d = rf->data;

    ngx_int_t   rc;
    ngx_uint_t  again;

    again = 0;

    rc = ngx_kedge_discovery_write_set(d, &again);

    if (rc == NGX_OK && again) {
        rc = ngx_kedge_discovery_write_set(d, &again);
    }

    return rc;
}


static ngx_int_t
ngx_kedge_discovery_write_set(ngx_kedge_discovery_t *d, ngx_uint_t *again)
{
    u_char                      *set;
    size_t                       len;
    ngx_int_t                    rc;
    ngx_uint_t                   i, over;
    ngx_pool_t                  *pool;
    ngx_array_t                  bks, rts;
    ngx_kedge_discovery_held_t  *h;

    pool = ngx_create_pool(16384, d->log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_ERROR;

    if (ngx_array_init(&bks, pool, 16, sizeof(ngx_kedge_discovery_bk_t))
        != NGX_OK
        || ngx_array_init(&rts, pool, 16, sizeof(ngx_kedge_discovery_rt_t))
           != NGX_OK)
    {
        goto done;
    }

    for (i = 0; i < d->max_backends; i++) {
        d->held[i].used = 0;
        d->held[i].fresh = 0;
    }

    if (ngx_kedge_discovery_make(d, pool, &bks, &rts) != NGX_OK) {
        goto done;
    }

    over = ngx_kedge_discovery_slots(d, &bks);

    ngx_qsort(rts.elts, rts.nelts, sizeof(ngx_kedge_discovery_rt_t),
              ngx_kedge_discovery_cmp_rt);

    set = ngx_kedge_discovery_write(pool, &bks, &rts, &len);
    if (set == NULL) {
        goto failed;
    }

    if (d->last == NULL || d->last_len != len
        || ngx_memcmp(d->last, set, len) != 0
        || ngx_kedge_store_routes_state(d->store) != NGX_KEDGE_STORE_FRESH)
    {
        if (ngx_kedge_store_routes_update(d->store, set, len, d->log)
            != NGX_OK)
        {
            /* the last set stays, with the slots it holds */
            rc = NGX_OK;
            goto failed;
        }

        if (d->last) {
            ngx_free(d->last);
        }

        d->last = ngx_alloc(len, d->log);
        d->last_len = d->last ? len : 0;

        if (d->last) {
            ngx_memcpy(d->last, set, len);
        }

        ngx_log_error(NGX_LOG_NOTICE, d->log, 0,
                      "kedge: discovery: %ui Services, %ui routes, "
                      "%ui backends", d->nservices, rts.nelts, bks.nelts);
    }

    *again = (ngx_kedge_discovery_commit(d, &bks) && over);

    rc = NGX_OK;
    goto done;

failed:

    for (i = 0; i < d->max_backends; i++) {
        h = &d->held[i];

        if (h->fresh) {
            ngx_kedge_store_dynamic_release(d->store, i);
            ngx_memzero(h, sizeof(ngx_kedge_discovery_held_t));
        }
    }

done:

    ngx_destroy_pool(pool);

    return rc;
}


/* the backends and routes of the Services known, in their order */

static ngx_int_t
ngx_kedge_discovery_make(ngx_kedge_discovery_t *d, ngx_pool_t *pool,
    ngx_array_t *bks, ngx_array_t *rts)
{
    u_char                        *p;
    size_t                         len;
    ngx_str_t                      name;
    ngx_uint_t                     i, j, k, exposed, over, seq;
    ngx_kedge_discovery_bk_t      *bk;
    ngx_kedge_discovery_rt_t      *rt;
    ngx_kedge_discovery_svc_t     *svc;
    ngx_kedge_k8s_exposed_port_t  *port;

    exposed = 0;
    over = 0;
    seq = 0;

    for (i = 0; i < d->nservices; i++) {
        svc = d->services[i];

        if (svc->invalid || svc->exp.nports == 0) {
            continue;
        }

        /* the first max_services, by namespace then name */

        if (exposed == d->max_services) {
            over++;
            continue;
        }

        exposed++;

        for (j = 0; j < svc->exp.nports; j++) {
            port = &svc->exp.ports[j];

            name.data = (u_char *) port->backend;
            name.len = ngx_strlen(port->backend);

            bk = bks->elts;

            for (k = 0; k < bks->nelts; k++) {
                if (bk[k].protocol == (ngx_uint_t) port->protocol
                    && bk[k].name.len == name.len
                    && ngx_strncmp(bk[k].name.data, name.data, name.len)
                       == 0)
                {
                    break;
                }
            }

            if (k < bks->nelts && bk[k].svc != svc) {

                /*
                 * "a-b" in "c" and "a" in "b-c" make the same name: the
                 * first Service has it, the other does not take its
                 * traffic
                 */

                if (!svc->clash) {
                    ngx_log_error(NGX_LOG_WARN, d->log, 0,
                                  "kedge: discovery: Service %s/%s: "
                                  "backend \"%V\" is Service %s/%s's, "
                                  "port \"%s\" left out",
                                  svc->exp.namespace, svc->exp.name, &name,
                                  bk[k].svc->exp.namespace,
                                  bk[k].svc->exp.name, port->name);
                    svc->clash = 1;
                }

                continue;
            }

            if (k == bks->nelts) {
                bk = ngx_array_push(bks);
                if (bk == NULL) {
                    return NGX_ERROR;
                }

                bk->name = name;
                bk->protocol = port->protocol;
                bk->tls = port->tls;
                bk->svc = svc;
                bk->port = port;
                bk->serial = 0;
                bk->slot = ngx_kedge_discovery_reserved(d, &name,
                                                        port->protocol)
                           ? NGX_KEDGE_DISCOVERY_CONFIGURED
                           : NGX_KEDGE_DISCOVERY_NONE;

                /* SNI, not verified: the Service's name in the cluster */

                len = ngx_strlen(svc->exp.name)
                      + ngx_strlen(svc->exp.namespace) + sizeof("..svc");

                p = ngx_pnalloc(pool, len);
                if (p == NULL) {
                    return NGX_ERROR;
                }

                bk->tls_name.data = p;
                bk->tls_name.len = ngx_sprintf(p, "%s.%s.svc",
                                               svc->exp.name,
                                               svc->exp.namespace)
                                   - p;

                /* what it resolves, in kedge_backend's k8s= terms */

                len = ngx_strlen(svc->exp.name)
                      + ngx_strlen(svc->exp.namespace)
                      + ngx_strlen(port->name) + sizeof(".:");

                p = ngx_pnalloc(pool, len);
                if (p == NULL) {
                    return NGX_ERROR;
                }

                bk->target.data = p;
                bk->target.len = ngx_sprintf(p, "%s.%s:%s", svc->exp.name,
                                             svc->exp.namespace, port->name)
                                 - p;
            }

            rt = ngx_array_push(rts);
            if (rt == NULL) {
                return NGX_ERROR;
            }

            rt->backend = k;
            rt->seq = seq++;
            rt->protocol = port->protocol;
            rt->port = port->port;

            rt->host.data = (u_char *) svc->exp.host;
            rt->host.len = ngx_strlen(svc->exp.host);

            /* gRPC only; exact names, then longer prefixes, then any */

            ngx_str_set(&rt->service, "");
            rt->rank = 0;

            if (port->protocol == NGX_KEDGE_K8S_GRPC) {
                rt->service.data = (u_char *) svc->exp.service;
                rt->service.len = ngx_strlen(svc->exp.service);

                if (rt->service.len == 0) {
                    rt->rank = 0;

                } else if (rt->service.data[rt->service.len - 1] == '*') {
                    rt->rank = rt->service.len;

                } else {
                    rt->rank = 1024;
                }
            }

            len = ngx_strlen(svc->exp.namespace) + ngx_strlen(svc->exp.name)
                  + ngx_strlen(port->name) + sizeof("/:");

            p = ngx_pnalloc(pool, len);
            if (p == NULL) {
                return NGX_ERROR;
            }

            rt->id.data = p;
            rt->id.len = ngx_sprintf(p, "%s/%s:%s", svc->exp.namespace,
                                     svc->exp.name, port->name)
                         - p;
        }
    }

    if (over != d->over_services) {
        if (over) {
            ngx_log_error(NGX_LOG_WARN, d->log, 0,
                          "kedge: discovery: %ui labelled Services over "
                          "max_services=%ui left out", over,
                          d->max_services);

        } else {
            ngx_log_error(NGX_LOG_NOTICE, d->log, 0,
                          "kedge: discovery: every labelled Service exposed "
                          "again");
        }

        d->over_services = over;
    }

    return NGX_OK;
}


static ngx_uint_t
ngx_kedge_discovery_reserved(ngx_kedge_discovery_t *d, ngx_str_t *name,
    ngx_uint_t protocol)
{
    ngx_uint_t                   i;
    ngx_kedge_discovery_name_t  *r;

    r = d->reserved.elts;

    for (i = 0; i < d->reserved.nelts; i++) {
        if ((r[i].protocols & protocol)
            && r[i].name.len == name->len
            && ngx_strncmp(r[i].name.data, name->data, name->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * Each backend keeps the slot it held; a new one takes a free slot, and
 * with none left it is not made (nor its routes).
 */

static ngx_uint_t
ngx_kedge_discovery_slots(ngx_kedge_discovery_t *d, ngx_array_t *bks)
{
    ngx_uint_t                   i, k, over;
    ngx_kedge_discovery_bk_t    *bk;
    ngx_kedge_discovery_held_t  *h;

    bk = bks->elts;

    for (k = 0; k < bks->nelts; k++) {
        if (bk[k].slot != NGX_KEDGE_DISCOVERY_NONE) {
            continue;
        }

        for (i = 0; i < d->max_backends; i++) {
            h = &d->held[i];

            if (h->serial && !h->used && h->kind == bk[k].protocol
                && h->name_len == bk[k].name.len
                && ngx_strncmp(h->name, bk[k].name.data, h->name_len) == 0)
            {
                h->used = 1;
                bk[k].slot = i;
                bk[k].serial = h->serial;
                break;
            }
        }
    }

    over = 0;
    i = 0;

    for (k = 0; k < bks->nelts; k++) {
        if (bk[k].slot != NGX_KEDGE_DISCOVERY_NONE) {
            continue;
        }

        while (i < d->max_backends && d->held[i].serial) {
            i++;
        }

        if (i == d->max_backends) {
            over++;
            continue;
        }

        h = &d->held[i];

        h->serial = ngx_kedge_store_dynamic_take(d->store, i, &bk[k].name,
                                                 bk[k].protocol, bk[k].tls);
        if (h->serial == 0) {
            over++;
            continue;
        }

        h->kind = bk[k].protocol;
        h->name_len = bk[k].name.len;
        ngx_memcpy(h->name, bk[k].name.data, bk[k].name.len);
        h->watch = NULL;
        h->used = 1;
        h->fresh = 1;

        bk[k].slot = i;
        bk[k].serial = h->serial;
    }

    if (over != d->over_backends) {
        if (over) {
            ngx_log_error(NGX_LOG_WARN, d->log, 0,
                          "kedge: discovery: %ui backends over "
                          "max_backends=%ui left out, with their routes",
                          over, d->max_backends);

        } else {
            ngx_log_error(NGX_LOG_NOTICE, d->log, 0,
                          "kedge: discovery: every discovered backend made "
                          "again");
        }

        d->over_backends = over;
    }

    return over;
}


/* routes by host and port; gRPC services most specific first; then seq */

static int ngx_libc_cdecl
ngx_kedge_discovery_cmp_rt(const void *one, const void *two)
{
    ngx_int_t                  c;
    ngx_kedge_discovery_rt_t  *a, *b;

    a = (ngx_kedge_discovery_rt_t *) one;
    b = (ngx_kedge_discovery_rt_t *) two;

    c = ngx_memn2cmp(a->host.data, b->host.data, a->host.len, b->host.len);
    if (c) {
        return (int) c;
    }

    if (a->port != b->port) {
        return a->port < b->port ? -1 : 1;
    }

    if (a->protocol != b->protocol) {
        return a->protocol < b->protocol ? -1 : 1;
    }

    if (a->rank != b->rank) {
        return a->rank > b->rank ? -1 : 1;
    }

    return a->seq < b->seq ? -1 : (a->seq > b->seq);
}


/* the set as ngx_kedge_discovery.h says, from the pool */

static u_char *
ngx_kedge_discovery_write(ngx_pool_t *pool, ngx_array_t *bks,
    ngx_array_t *rts, size_t *len)
{
    u_char                         *set, *p;
    size_t                          size;
    ngx_uint_t                      k, n, nroutes;
    ngx_kedge_discovery_bk_t       *bk;
    ngx_kedge_discovery_rt_t       *rt;
    ngx_kedge_discovery_set_t      *hdr;
    ngx_kedge_discovery_route_t    *r;
    ngx_kedge_discovery_backend_t  *b;

    bk = bks->elts;
    rt = rts->elts;

    size = ngx_align(sizeof(ngx_kedge_discovery_set_t), 8);

    for (k = 0; k < bks->nelts; k++) {
        size += ngx_align(sizeof(ngx_kedge_discovery_backend_t)
                          + bk[k].name.len + bk[k].tls_name.len
                          + bk[k].target.len, 8);
    }

    for (k = 0; k < rts->nelts; k++) {
        size += ngx_align(sizeof(ngx_kedge_discovery_route_t)
                          + rt[k].host.len + rt[k].service.len
                          + rt[k].id.len, 8);
    }

    /* zeroed: the padding too, so that equal sets compare equal */

    set = ngx_pcalloc(pool, size);
    if (set == NULL) {
        return NULL;
    }

    p = set + ngx_align(sizeof(ngx_kedge_discovery_set_t), 8);
    n = 0;

    for (k = 0; k < bks->nelts; k++) {
        if (bk[k].slot == NGX_KEDGE_DISCOVERY_NONE) {
            continue;
        }

        bk[k].index = n++;

        b = (ngx_kedge_discovery_backend_t *) p;
        b->serial = bk[k].serial;
        b->slot = (uint32_t) bk[k].slot;
        b->protocol = (uint16_t) bk[k].protocol;
        b->tls = (uint16_t) bk[k].tls;
        b->name_len = (uint16_t) bk[k].name.len;
        b->tls_name_len = (uint16_t) bk[k].tls_name.len;
        b->target_len = (uint16_t) bk[k].target.len;

        p = (u_char *) (b + 1);
        p = ngx_cpymem(p, bk[k].name.data, bk[k].name.len);
        p = ngx_cpymem(p, bk[k].tls_name.data, bk[k].tls_name.len);
        p = ngx_cpymem(p, bk[k].target.data, bk[k].target.len);
        p = ngx_align_ptr(p, 8);
    }

    nroutes = 0;

    for (k = 0; k < rts->nelts; k++) {
        if (bk[rt[k].backend].slot == NGX_KEDGE_DISCOVERY_NONE) {
            continue;
        }

        nroutes++;

        r = (ngx_kedge_discovery_route_t *) p;
        r->backend = (uint32_t) bk[rt[k].backend].index;
        r->port = rt[k].port;
        r->host_len = (uint16_t) rt[k].host.len;
        r->service_len = (uint16_t) rt[k].service.len;
        r->id_len = (uint16_t) rt[k].id.len;

        p = (u_char *) (r + 1);
        p = ngx_cpymem(p, rt[k].host.data, rt[k].host.len);
        p = ngx_cpymem(p, rt[k].service.data, rt[k].service.len);
        p = ngx_cpymem(p, rt[k].id.data, rt[k].id.len);
        p = ngx_align_ptr(p, 8);
    }

    hdr = (ngx_kedge_discovery_set_t *) set;
    hdr->nbackends = (uint32_t) n;
    hdr->nroutes = (uint32_t) nroutes;

    *len = p - set;

    return set;
}


/*
 * The set is in the store: new backends get their watch, changed ones a
 * new one, and the slots no route uses any more are given back (their
 * number is returned).
 */

static ngx_uint_t
ngx_kedge_discovery_commit(ngx_kedge_discovery_t *d, ngx_array_t *bks)
{
    ngx_str_t                    service, namespace, port;
    ngx_uint_t                   i, k, released;
    ngx_kedge_k8s_watch_t       *w;
    ngx_kedge_discovery_bk_t    *bk;
    ngx_kedge_discovery_held_t  *h;

    bk = bks->elts;

    for (k = 0; k < bks->nelts; k++) {
        if (bk[k].slot == NGX_KEDGE_DISCOVERY_NONE
            || bk[k].slot == NGX_KEDGE_DISCOVERY_CONFIGURED)
        {
            continue;
        }

        h = &d->held[bk[k].slot];

        /* a Service port may turn TLS on or off and keep its backend */

        ngx_kedge_store_dynamic_tls(d->store, bk[k].slot, bk[k].tls);

        /* the endpoints of the Service port: its slices name it so */

        service.data = (u_char *) bk[k].svc->exp.name;
        service.len = ngx_strlen(bk[k].svc->exp.name);
        namespace.data = (u_char *) bk[k].svc->exp.namespace;
        namespace.len = ngx_strlen(bk[k].svc->exp.namespace);
        port.data = (u_char *) bk[k].port->name;
        port.len = ngx_strlen(bk[k].port->name);

        w = h->watch;

        if (w && (w->port_name.len != port.len
                  || ngx_strncmp(w->port_name.data, port.data, port.len) != 0
                  || w->service.len != service.len
                  || ngx_strncmp(w->service.data, service.data, service.len)
                     != 0
                  || w->namespace.len != namespace.len
                  || ngx_strncmp(w->namespace.data, namespace.data,
                                 namespace.len)
                     != 0))
        {
            ngx_kedge_k8s_watch_destroy(w);
            h->watch = NULL;
        }

        if (h->watch) {
            continue;
        }

        h->watch = ngx_kedge_k8s_watch_create(d->api, d->store,
                              ngx_kedge_store_dynamic_index(d->store,
                                                            bk[k].slot),
                              &bk[k].name, &service, &namespace, &port,
                              d->log);

        if (h->watch == NULL) {
            ngx_log_error(NGX_LOG_ERR, d->log, 0,
                          "kedge: discovery: backend \"%V\" cannot be "
                          "watched, tried again at the next change",
                          &bk[k].name);
        }
    }

    released = 0;

    for (i = 0; i < d->max_backends; i++) {
        if (d->held[i].serial && !d->held[i].used) {
            ngx_kedge_discovery_drop(d, i);
            released++;
        }
    }

    return released;
}


static void
ngx_kedge_discovery_drop(ngx_kedge_discovery_t *d, ngx_uint_t slot)
{
    ngx_kedge_discovery_held_t  *h;

    h = &d->held[slot];

    /* the watch stops first: nothing writes to the slot once given back */

    if (h->watch) {
        ngx_kedge_k8s_watch_destroy(h->watch);
    }

    ngx_kedge_store_dynamic_release(d->store, slot);

    ngx_memzero(h, sizeof(ngx_kedge_discovery_held_t));
}
