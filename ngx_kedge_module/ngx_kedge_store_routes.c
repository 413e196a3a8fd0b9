
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 *
 * The store's part of kedge's dynamic routing discovery:
 *
 *   - slots for discovered backends, after the configured ones: a
 *     fixed number (kedge_discovery max_backends=), held by the fetcher
 *     under a name while the backend exists.  Each holding gets a new
 *     serial, which the copies of its endpoints carry: a worker still
 *     routing with an older route set never takes the endpoints of the
 *     next backend in the slot for those of the last one;
 *
 *   - the discovered routes, one blob the fetcher writes whole and each
 *     worker copies when its generation moves (ngx_kedge_discovery.h
 *     says what is in it).
 *
 * On a reload both are copied forward, slot by slot: the new workers
 * route as the old ones did, and the new fetcher takes the slots over by
 * name once it has listed the Services again.
 */


#include "ngx_kedge_store.h"


static void ngx_kedge_store_dynamic_clear(ngx_kedge_store_t *store,
    ngx_kedge_store_backend_t *b);


/* at configuration time, once: the number of slots */

void
ngx_kedge_store_register_dynamic(ngx_kedge_store_t *store, ngx_uint_t n)
{
    store->ndynamic = n;
}


/* the index of a slot among all backends, for ngx_kedge_store_peers() */

ngx_uint_t
ngx_kedge_store_dynamic_index(ngx_kedge_store_t *store, ngx_uint_t slot)
{
    return store->names.nelts + slot;
}


/*
 * The fetcher holds a slot for a backend: nothing known of it yet.
 * Returns the holding's serial.
 */

ngx_uint_t
ngx_kedge_store_dynamic_take(ngx_kedge_store_t *store, ngx_uint_t slot,
    ngx_str_t *name, ngx_uint_t kind)
{
    ngx_uint_t                  serial;
    ngx_kedge_store_backend_t  *b;

    if (store->retired || name->len > NGX_KEDGE_STORE_NAME_LEN) {
        return 0;
    }

    b = &store->sh->backends[store->sh->nconfigured + slot];

    ngx_shmtx_lock(&store->shpool->mutex);

    ngx_kedge_store_dynamic_clear(store, b);

    serial = ++store->sh->serial;

    b->serial = serial;
    b->kind = kind;
    b->name_len = name->len;
    ngx_memcpy(b->name, name->data, name->len);

    ngx_shmtx_unlock(&store->shpool->mutex);

    return serial;
}


void
ngx_kedge_store_dynamic_release(ngx_kedge_store_t *store, ngx_uint_t slot)
{
    ngx_kedge_store_backend_t  *b;

    if (store->retired) {
        return;
    }

    b = &store->sh->backends[store->sh->nconfigured + slot];

    ngx_shmtx_lock(&store->shpool->mutex);

    ngx_kedge_store_dynamic_clear(store, b);

    ngx_shmtx_unlock(&store->shpool->mutex);
}


/* under the lock: the slot empty, and every worker's copy outdated */

static void
ngx_kedge_store_dynamic_clear(ngx_kedge_store_t *store,
    ngx_kedge_store_backend_t *b)
{
    if (b->addrs) {
        ngx_slab_free_locked(store->shpool, b->addrs);
    }

    b->addrs = NULL;
    b->naddrs = 0;
    b->state = NGX_KEDGE_STORE_NEVER;
    b->synced = 0;
    b->syncs = 0;
    b->failures = 0;
    b->watch = NGX_KEDGE_STORE_WATCH_NONE;
    b->serial = 0;
    b->kind = 0;
    b->name_len = 0;

    ngx_memory_barrier();
    b->generation++;
}


/*
 * Who holds a slot: its serial (0: nobody) and, into "name" (room for
 * NGX_KEDGE_STORE_NAME_LEN), its name; what a new fetcher finds after a
 * reload.
 */

ngx_uint_t
ngx_kedge_store_dynamic_held(ngx_kedge_store_t *store, ngx_uint_t slot,
    u_char *name, size_t *name_len, ngx_uint_t *kind)
{
    ngx_uint_t                  serial;
    ngx_kedge_store_backend_t  *b;

    if (store->retired) {
        return 0;
    }

    b = &store->sh->backends[store->sh->nconfigured + slot];

    ngx_shmtx_lock(&store->shpool->mutex);

    serial = b->serial;
    *kind = b->kind;
    *name_len = b->name_len;
    ngx_memcpy(name, b->name, b->name_len);

    ngx_shmtx_unlock(&store->shpool->mutex);

    return serial;
}


/*
 * The fetcher's write of the whole route set.  A zone too full for it
 * keeps the set it had (NGX_ERROR, logged once until a write succeeds).
 */

ngx_int_t
ngx_kedge_store_routes_update(ngx_kedge_store_t *store, u_char *data,
    size_t len, ngx_log_t *log)
{
    u_char                    *p;
    ngx_uint_t                 full;
    ngx_kedge_store_routes_t  *rt;

    if (store->retired) {
        return NGX_OK;
    }

    rt = &store->sh->routes;

    ngx_shmtx_lock(&store->shpool->mutex);

    p = ngx_slab_alloc_locked(store->shpool, len ? len : 1);

    if (p == NULL) {
        full = rt->full;
        rt->full = 1;

        ngx_shmtx_unlock(&store->shpool->mutex);

        if (!full) {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "kedge: zone \"%V\" is full, the discovered routes "
                          "stay as they were (%uz bytes needed)",
                          &store->shm_zone->shm.name, len);
        }

        return NGX_ERROR;
    }

    ngx_memcpy(p, data, len);

    if (rt->data) {
        ngx_slab_free_locked(store->shpool, rt->data);
    }

    full = rt->full;

    rt->data = p;
    rt->len = len;
    rt->state = NGX_KEDGE_STORE_FRESH;
    rt->synced = ngx_time();
    rt->full = 0;

    /* readers compare the generation without the lock: data first */

    ngx_memory_barrier();
    rt->generation++;

    ngx_shmtx_unlock(&store->shpool->mutex);

    if (full) {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "kedge: zone \"%V\" has room for the discovered routes "
                      "again", &store->shm_zone->shm.name);
    }

    return NGX_OK;
}


/* a failed sync: the routes stay, the staleness shows */

void
ngx_kedge_store_routes_failed(ngx_kedge_store_t *store)
{
    if (store->retired) {
        return;
    }

    ngx_shmtx_lock(&store->shpool->mutex);

    if (store->sh->routes.state == NGX_KEDGE_STORE_FRESH) {
        store->sh->routes.state = NGX_KEDGE_STORE_STALE;
    }

    ngx_shmtx_unlock(&store->shpool->mutex);
}


ngx_uint_t
ngx_kedge_store_routes_state(ngx_kedge_store_t *store)
{
    if (store->retired) {
        return NGX_KEDGE_STORE_STALE;
    }

    return store->sh->routes.state;
}


/*
 * A worker's copy of the route set, made when the generation moved
 * (NGX_DECLINED: it did not, or the set was never written); the caller
 * frees *data with ngx_free().
 */

ngx_int_t
ngx_kedge_store_routes_copy(ngx_kedge_store_t *store, ngx_uint_t *generation,
    u_char **data, size_t *len, ngx_log_t *log)
{
    u_char                    *p;
    ngx_kedge_store_routes_t  *rt;

    if (store->retired) {
        return NGX_DECLINED;
    }

    rt = &store->sh->routes;

    if (rt->generation == *generation) {
        return NGX_DECLINED;
    }

    ngx_shmtx_lock(&store->shpool->mutex);

    if (rt->data == NULL) {
        ngx_shmtx_unlock(&store->shpool->mutex);
        return NGX_DECLINED;
    }

    p = ngx_alloc(rt->len ? rt->len : 1, log);
    if (p == NULL) {
        ngx_shmtx_unlock(&store->shpool->mutex);
        return NGX_ERROR;
    }

    ngx_memcpy(p, rt->data, rt->len);

    *generation = rt->generation;
    *data = p;
    *len = rt->len;

    ngx_shmtx_unlock(&store->shpool->mutex);

    return NGX_OK;
}


/*
 * On a reload, under the old zone's lock: the slots, slot by slot (as
 * many as the new zone has), and the route set; what the route set says
 * of a slot the new zone lacks is dropped by the workers.
 */

void
ngx_kedge_store_routes_adopt(ngx_kedge_store_t *store,
    ngx_kedge_store_t *old)
{
    ngx_uint_t                  i, n;
    ngx_kedge_store_routes_t   *rt, *ort;
    ngx_kedge_store_backend_t  *b, *ob;

    n = ngx_min(store->sh->nbackends - store->sh->nconfigured,
                old->sh->nbackends - old->sh->nconfigured);

    for (i = 0; i < n; i++) {
        b = &store->sh->backends[store->sh->nconfigured + i];
        ob = &old->sh->backends[old->sh->nconfigured + i];

        if (ob->serial == 0) {
            continue;
        }

        b->addrs = NULL;

        if (ob->naddrs) {
            b->addrs = ngx_slab_alloc(store->shpool,
                                  ob->naddrs * sizeof(ngx_kedge_store_addr_t));
            if (b->addrs == NULL) {
                continue;
            }

            ngx_memcpy(b->addrs, ob->addrs,
                       ob->naddrs * sizeof(ngx_kedge_store_addr_t));
        }

        b->naddrs = ob->naddrs;
        b->state = ob->state;
        b->synced = ob->synced;
        b->syncs = ob->syncs;
        b->failures = ob->failures;
        b->serial = ob->serial;
        b->kind = ob->kind;
        b->name_len = ob->name_len;
        ngx_memcpy(b->name, ob->name, ob->name_len);
        b->generation = 1;
    }

    store->sh->serial = old->sh->serial;

    ort = &old->sh->routes;
    rt = &store->sh->routes;

    if (ort->data == NULL) {
        return;
    }

    rt->data = ngx_slab_alloc(store->shpool, ort->len ? ort->len : 1);
    if (rt->data == NULL) {
        return;
    }

    ngx_memcpy(rt->data, ort->data, ort->len);

    rt->len = ort->len;
    rt->state = ort->state;
    rt->synced = ort->synced;
    rt->generation = 1;
}
