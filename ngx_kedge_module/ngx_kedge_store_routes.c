
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
 *   - each slot's request counters, which any worker adds to without a
 *     lock; every word carries the tag of its holding (ngx_kedge_store.h),
 *     set when the slot is taken, so that the counts of a holding start
 *     at 0 and a late add of the last one is dropped, never counted for
 *     the next;
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
static void ngx_kedge_store_dynamic_tag(ngx_kedge_store_sh_t *sh,
    ngx_uint_t slot, ngx_atomic_uint_t tag);


/* at configuration time, once: the number of slots, their counters */

void
ngx_kedge_store_register_dynamic(ngx_kedge_store_t *store, ngx_uint_t n,
    ngx_uint_t ncounters)
{
    store->ndynamic = n;
    store->nslot_counters = ncounters;
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
    ngx_str_t *name, ngx_uint_t kind, ngx_uint_t tls)
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

    /* its counters start at 0, and take no add of another holding */

    ngx_kedge_store_dynamic_tag(store->sh, slot, ngx_kedge_store_tag(serial));

    b->serial = serial;
    b->kind = kind;
    b->tls = tls;
    b->name_len = name->len;
    ngx_memcpy(b->name, name->data, name->len);

    ngx_shmtx_unlock(&store->shpool->mutex);

    return serial;
}


/* how a held slot's backend is dialed now, as the route set says; a word */

void
ngx_kedge_store_dynamic_tls(ngx_kedge_store_t *store, ngx_uint_t slot,
    ngx_uint_t tls)
{
    if (store->retired) {
        return;
    }

    store->sh->backends[store->sh->nconfigured + slot].tls = tls;
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
    b->tls = 0;
    b->name_len = 0;

    ngx_kedge_store_dynamic_tag(store->sh, b - store->sh->backends
                                           - store->sh->nconfigured, 0);

    ngx_memory_barrier();
    b->generation++;
}


/* every counter of a slot: 0, for the holding of "tag" (0: none) */

static void
ngx_kedge_store_dynamic_tag(ngx_kedge_store_sh_t *sh, ngx_uint_t slot,
    ngx_atomic_uint_t tag)
{
    ngx_uint_t     i;
    ngx_atomic_t  *a;

    a = sh->slot_counters + slot * sh->nslot_counters;

    for (i = 0; i < sh->nslot_counters; i++) {
        a[i] = tag;
    }
}


/*
 * A request of a discovered backend (its index among all backends and
 * its slot's serial, as the route set said) adds 1 to a counter: no
 * lock, and nothing when the slot went to another holding since.
 */

void
ngx_kedge_store_dynamic_count(ngx_kedge_store_t *store, ngx_uint_t index,
    ngx_uint_t serial, ngx_uint_t counter)
{
    ngx_atomic_t          *a;
    ngx_atomic_uint_t      v, tag;
    ngx_kedge_store_sh_t  *sh;

    if (store->retired || store->sh == NULL) {
        return;
    }

    sh = store->sh;

    if (index < sh->nconfigured || index >= sh->nbackends
        || counter >= sh->nslot_counters)
    {
        return;
    }

    a = sh->slot_counters + (index - sh->nconfigured) * sh->nslot_counters
        + counter;

    tag = ngx_kedge_store_tag(serial);

    for ( ;; ) {
        v = *a;

        if ((v & ~NGX_KEDGE_STORE_COUNT_MASK) != tag) {
            return;
        }

        /* past its bits, a count starts again at 0: a counter reset */

        if (ngx_atomic_cmp_set(a, v,
                               tag | ((v + 1) & NGX_KEDGE_STORE_COUNT_MASK)))
        {
            return;
        }
    }
}


/*
 * The discovered backends held now (ngx_kedge_store_slot_view_t), by
 * slot: names, kinds and states copied under the lock, then each one's
 * counts, those of its holding only.  NULL on an allocation failure.
 */

ngx_array_t *
ngx_kedge_store_dynamic_view(ngx_kedge_store_t *store, ngx_pool_t *pool)
{
    u_char                       *p;
    ngx_uint_t                    i, j, n;
    ngx_array_t                  *a;
    ngx_atomic_t                 *c;
    ngx_atomic_uint_t             v, tag;
    ngx_kedge_store_sh_t         *sh;
    ngx_kedge_store_backend_t    *b;
    ngx_kedge_store_slot_view_t  *sv;

    a = ngx_array_create(pool, 4, sizeof(ngx_kedge_store_slot_view_t));
    if (a == NULL) {
        return NULL;
    }

    if (store->retired || store->sh == NULL) {
        return a;
    }

    sh = store->sh;
    n = sh->nbackends - sh->nconfigured;

    ngx_shmtx_lock(&store->shpool->mutex);

    for (i = 0; i < n; i++) {
        b = &sh->backends[sh->nconfigured + i];

        if (b->serial == 0) {
            continue;
        }

        sv = ngx_array_push(a);
        p = ngx_pnalloc(pool, b->name_len + 1);

        if (sv == NULL || p == NULL) {
            ngx_shmtx_unlock(&store->shpool->mutex);
            return NULL;
        }

        sv->slot = i;
        sv->serial = b->serial;
        sv->kind = b->kind;
        sv->tls = b->tls;
        sv->name.data = p;
        sv->name.len = b->name_len;
        ngx_memcpy(p, b->name, b->name_len);

        ngx_memzero(&sv->view, sizeof(ngx_kedge_store_view_t));
        sv->view.state = b->state;
        sv->view.synced = b->synced;
        sv->view.generation = b->generation;
        sv->view.syncs = b->syncs;
        sv->view.failures = b->failures;
        sv->view.watch = b->watch;
        sv->view.naddrs = b->naddrs;
    }

    ngx_shmtx_unlock(&store->shpool->mutex);

    /* the counters, without the lock: a word of another holding is 0 */

    sv = a->elts;

    for (i = 0; i < a->nelts; i++) {
        sv[i].counters = ngx_palloc(pool, ngx_max(sh->nslot_counters, 1)
                                          * sizeof(ngx_atomic_uint_t));
        if (sv[i].counters == NULL) {
            return NULL;
        }

        c = sh->slot_counters + sv[i].slot * sh->nslot_counters;
        tag = ngx_kedge_store_tag(sv[i].serial);

        for (j = 0; j < sh->nslot_counters; j++) {
            v = c[j];
            sv[i].counters[j] = ((v & ~NGX_KEDGE_STORE_COUNT_MASK) == tag)
                                ? (v & NGX_KEDGE_STORE_COUNT_MASK) : 0;
        }
    }

    return a;
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
    ngx_uint_t                  i, j, n;
    ngx_atomic_t               *c, *oc;
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
        b->tls = ob->tls;
        b->name_len = ob->name_len;
        ngx_memcpy(b->name, ob->name, ob->name_len);
        b->generation = 1;

        /*
         * the holding's counts go on, as a configured backend's do; the
         * old workers' late adds stay in the old zone.  Counters of
         * another layout (another build of the module) start at 0.
         */

        if (old->sh->nslot_counters == store->sh->nslot_counters) {
            c = store->sh->slot_counters + i * store->sh->nslot_counters;
            oc = old->sh->slot_counters + i * old->sh->nslot_counters;

            for (j = 0; j < store->sh->nslot_counters; j++) {
                c[j] = oc[j];
            }

        } else {
            ngx_kedge_store_dynamic_tag(store->sh, i,
                                        ngx_kedge_store_tag(b->serial));
        }
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
