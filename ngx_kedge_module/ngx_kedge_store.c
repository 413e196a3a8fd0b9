
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 *
 * The store: a shared memory zone with the endpoints of every backend
 * that is resolved at run time.  One process writes it (the fetcher, in
 * worker 0); every worker reads it.
 *
 * Readers take no lock per request: each backend carries a generation,
 * and a worker copies a backend's endpoints, under the lock, only when
 * the generation moved.  Requests hold a reference to the copy they
 * use, so a copy is freed after its last user.
 *
 * The zone is mapped anew on every reload ("noreuse"), and what the old
 * zone knew is copied forward by backend name: the new workers route at
 * once, and the late writes of an exiting fetcher land in the old zone,
 * where nobody reads.
 *
 * The zone also holds the endpoints set aside after a failed connect,
 * shared by all workers the same way: any worker writes, under the lock,
 * and each reads its own copy, taken when the generation moved.
 *
 * And the counters of requests: blocks of atomics that any worker adds
 * to without a lock, laid out at configuration time and found again by
 * key on a reload, where their values are copied forward.
 */


#include "ngx_kedge_store.h"


static ngx_int_t ngx_kedge_store_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_kedge_store_adopt(ngx_kedge_store_t *store);
static void ngx_kedge_store_adopt_counters(ngx_kedge_store_t *store,
    ngx_kedge_store_t *old);
static ngx_kedge_store_addr_t *ngx_kedge_store_copy_addrs(
    ngx_slab_pool_t *shpool, ngx_kedge_store_addr_t *src, ngx_uint_t n);
static ngx_int_t ngx_kedge_store_cmp_addrs(const void *one, const void *two);
static int ngx_libc_cdecl ngx_kedge_store_qsort_addrs(const void *one,
    const void *two);
static ngx_uint_t ngx_kedge_store_same(ngx_kedge_store_backend_t *b,
    ngx_addr_t *addrs, ngx_uint_t naddrs);
static void ngx_kedge_store_cleanup(void *data);


ngx_kedge_store_t *
ngx_kedge_store_create(ngx_conf_t *cf, ngx_str_t *name, size_t size,
    void *tag)
{
    ngx_kedge_store_t  *store;

    store = ngx_pcalloc(cf->pool, sizeof(ngx_kedge_store_t));
    if (store == NULL) {
        return NULL;
    }

    store->pool = cf->pool;

    if (ngx_array_init(&store->names, cf->pool, 8, sizeof(ngx_str_t))
        != NGX_OK
        || ngx_array_init(&store->issuer_urls, cf->pool, 1,
                          sizeof(ngx_str_t))
           != NGX_OK
        || ngx_array_init(&store->blocks, cf->pool, 8,
                          sizeof(ngx_kedge_store_block_t))
           != NGX_OK)
    {
        return NULL;
    }

    store->shm_zone = ngx_shared_memory_add(cf, name, size, tag);
    if (store->shm_zone == NULL) {
        return NULL;
    }

    if (store->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate zone \"%V\"", name);
        return NULL;
    }

    store->shm_zone->init = ngx_kedge_store_init_zone;
    store->shm_zone->data = store;
    store->shm_zone->noreuse = 1;

    return store;
}


/* called once per backend at configuration time; returns its index */

ngx_int_t
ngx_kedge_store_register(ngx_kedge_store_t *store, ngx_str_t *name)
{
    ngx_str_t  *s;

    if (name->len > NGX_KEDGE_STORE_NAME_LEN) {
        return NGX_ERROR;
    }

    s = ngx_array_push(&store->names);
    if (s == NULL) {
        return NGX_ERROR;
    }

    *s = *name;

    return store->names.nelts - 1;
}


/*
 * At configuration time: a block of "n" counters under "key"; returns
 * its number for ngx_kedge_store_counters()
 */

ngx_int_t
ngx_kedge_store_register_counters(ngx_kedge_store_t *store, ngx_str_t *key,
    ngx_uint_t n)
{
    ngx_kedge_store_block_t  *b;

    if (key->len > NGX_KEDGE_STORE_KEY_LEN) {
        return NGX_ERROR;
    }

    b = ngx_array_push(&store->blocks);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->offset = store->ncounters;
    b->n = n;
    b->key_len = key->len;
    ngx_memcpy(b->key, key->data, key->len);

    store->ncounters += n;

    return store->blocks.nelts - 1;
}


/* a block of counters to add to; NULL once a newer zone took over */

ngx_atomic_t *
ngx_kedge_store_counters(ngx_kedge_store_t *store, ngx_uint_t block)
{
    if (store->retired || store->sh == NULL) {
        return NULL;
    }

    return store->sh->counters + store->sh->blocks[block].offset;
}


static ngx_int_t
ngx_kedge_store_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_kedge_store_t *store = shm_zone->data;

    size_t                      len;
    ngx_str_t                  *name;
    ngx_uint_t                  i, n;
    ngx_pool_cleanup_t         *cln;
    ngx_kedge_store_backend_t  *b;

    store->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    n = store->names.nelts + store->ndynamic;

    store->sh = ngx_slab_calloc(store->shpool, sizeof(ngx_kedge_store_sh_t));
    if (store->sh == NULL) {
        return NGX_ERROR;
    }

    store->sh->nbackends = n;
    store->sh->nconfigured = store->names.nelts;
    store->sh->backends = ngx_slab_calloc(store->shpool,
                                  (n ? n : 1)
                                  * sizeof(ngx_kedge_store_backend_t));
    if (store->sh->backends == NULL) {
        return NGX_ERROR;
    }

    /* the request counters of the discovered backends' slots */

    store->sh->nslot_counters = store->nslot_counters;
    store->sh->slot_counters = ngx_slab_calloc(store->shpool,
                                  ngx_max(store->ndynamic
                                          * store->nslot_counters, 1)
                                  * sizeof(ngx_atomic_t));
    if (store->sh->slot_counters == NULL) {
        return NGX_ERROR;
    }

    name = store->names.elts;

    for (i = 0; i < store->names.nelts; i++) {
        b = &store->sh->backends[i];
        b->name_len = name[i].len;
        ngx_memcpy(b->name, name[i].data, name[i].len);
    }

    /* the counters and their keys */

    store->sh->nblocks = store->blocks.nelts;
    store->sh->blocks = ngx_slab_alloc(store->shpool,
                                       ngx_max(store->blocks.nelts, 1)
                                       * sizeof(ngx_kedge_store_block_t));
    store->sh->counters = ngx_slab_calloc(store->shpool,
                                          ngx_max(store->ncounters, 1)
                                          * sizeof(ngx_atomic_t));

    if (store->sh->blocks == NULL || store->sh->counters == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(store->sh->blocks, store->blocks.elts,
               store->blocks.nelts * sizeof(ngx_kedge_store_block_t));

    store->shpool->data = store->sh;

    len = sizeof(" in kedge zone \"\"") + shm_zone->shm.name.len;

    store->shpool->log_ctx = ngx_slab_alloc(store->shpool, len);
    if (store->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(store->shpool->log_ctx, " in kedge zone \"%V\"%Z",
                &shm_zone->shm.name);

    store->shpool->log_nomem = 0;

    if (ngx_kedge_store_keys_init(store) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the worker-local copies, freed with this configuration */

    store->nlocal = n;
    store->local = ngx_pcalloc(store->pool,
                               (n ? n : 1) * sizeof(ngx_kedge_peers_t *));
    if (store->local == NULL) {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(store->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_kedge_store_cleanup;
    cln->data = store;

    ngx_kedge_store_adopt(store);

    return NGX_OK;
}


/*
 * On a reload, "ngx_cycle" is still the old cycle: copy what its zone of
 * the same name knew, backend by backend.
 */

static void
ngx_kedge_store_adopt(ngx_kedge_store_t *store)
{
    ngx_uint_t                  i, j, k;
    ngx_shm_zone_t             *zone;
    ngx_list_part_t            *part;
    ngx_kedge_store_t          *old;
    ngx_kedge_store_backend_t  *b, *ob;

    part = &((ngx_cycle_t *) ngx_cycle)->shared_memory.part;
    zone = part->elts;
    old = NULL;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            zone = part->elts;
            i = 0;
        }

        if (zone[i].tag == store->shm_zone->tag
            && zone[i].shm.name.len == store->shm_zone->shm.name.len
            && ngx_strncmp(zone[i].shm.name.data,
                           store->shm_zone->shm.name.data,
                           zone[i].shm.name.len) == 0
            && zone[i].data != store)
        {
            old = zone[i].data;
            break;
        }
    }

    if (old == NULL || old->sh == NULL) {
        return;
    }

    /*
     * nginx unmaps the old zone once the new configuration is up: in a
     * process that goes on with both (no master, a reload), whatever the
     * old configuration still runs must leave it alone
     */

    old->retired = 1;

    ngx_shmtx_lock(&old->shpool->mutex);

    /* configured backends by name; discovered ones come with their routes */

    for (j = 0; j < store->sh->nconfigured; j++) {
        b = &store->sh->backends[j];

        for (k = 0; k < old->sh->nconfigured; k++) {
            ob = &old->sh->backends[k];

            if (ob->name_len != b->name_len
                || ngx_strncmp(ob->name, b->name, b->name_len) != 0)
            {
                continue;
            }

            b->syncs = ob->syncs;
            b->failures = ob->failures;

            if (ob->state == NGX_KEDGE_STORE_NEVER) {
                continue;
            }

            b->addrs = ngx_kedge_store_copy_addrs(store->shpool, ob->addrs,
                                                  ob->naddrs);
            if (b->addrs == NULL && ob->naddrs) {
                break;
            }

            b->naddrs = ob->naddrs;
            b->state = ob->state;
            b->synced = ob->synced;
            b->generation = 1;
            break;
        }
    }

    ngx_kedge_store_routes_adopt(store, old);
    ngx_kedge_store_keys_adopt(store, old);

    ngx_shmtx_unlock(&old->shpool->mutex);

    ngx_kedge_store_adopt_counters(store, old);
}


/*
 * The counters of the old zone, block by block when key and size match.
 * No lock: the old workers may still add to them, and what they add
 * after this copy is theirs alone.
 */

static void
ngx_kedge_store_adopt_counters(ngx_kedge_store_t *store,
    ngx_kedge_store_t *old)
{
    ngx_uint_t                j, k, i;
    ngx_kedge_store_block_t  *b, *ob;

    for (j = 0; j < store->sh->nblocks; j++) {
        b = &store->sh->blocks[j];

        for (k = 0; k < old->sh->nblocks; k++) {
            ob = &old->sh->blocks[k];

            if (ob->n != b->n || ob->key_len != b->key_len
                || ngx_strncmp(ob->key, b->key, b->key_len) != 0)
            {
                continue;
            }

            for (i = 0; i < b->n; i++) {
                store->sh->counters[b->offset + i] =
                                          old->sh->counters[ob->offset + i];
            }

            break;
        }
    }
}


static ngx_kedge_store_addr_t *
ngx_kedge_store_copy_addrs(ngx_slab_pool_t *shpool,
    ngx_kedge_store_addr_t *src, ngx_uint_t n)
{
    ngx_kedge_store_addr_t  *dst;

    if (n == 0) {
        return NULL;
    }

    dst = ngx_slab_alloc(shpool, n * sizeof(ngx_kedge_store_addr_t));
    if (dst == NULL) {
        return NULL;
    }

    ngx_memcpy(dst, src, n * sizeof(ngx_kedge_store_addr_t));

    return dst;
}


/*
 * The fetcher's write: a new endpoint set, kept in a canonical order so
 * that an unchanged set (DNS answers rotate) changes nothing.
 */

ngx_int_t
ngx_kedge_store_update(ngx_kedge_store_t *store, ngx_uint_t index,
    ngx_addr_t *addrs, ngx_uint_t naddrs, ngx_log_t *log)
{
    ngx_uint_t                  i, n, state;
    ngx_kedge_store_addr_t     *sa, *old;
    ngx_kedge_store_backend_t  *b;

    if (store->retired) {
        return NGX_OK;
    }

    b = &store->sh->backends[index];

    /*
     * qsort, not ngx_sort(): that one is an insertion sort, quadratic on
     * the unordered join of a Service's EndpointSlices (10 000 endpoints
     * took the fetcher's worker seconds per watch event)
     */

    ngx_qsort(addrs, naddrs, sizeof(ngx_addr_t), ngx_kedge_store_qsort_addrs);

    /* the same endpoint twice (several slices, SRV targets) counts once */

    for (i = 1, n = naddrs ? 1 : 0; i < naddrs; i++) {
        if (ngx_kedge_store_cmp_addrs(&addrs[n - 1], &addrs[i]) != 0) {
            addrs[n++] = addrs[i];
        }
    }

    naddrs = n;

    ngx_shmtx_lock(&store->shpool->mutex);

    state = b->state;

    if (state != NGX_KEDGE_STORE_NEVER
        && ngx_kedge_store_same(b, addrs, naddrs))
    {
        b->state = NGX_KEDGE_STORE_FRESH;
        b->synced = ngx_time();
        b->syncs++;

        ngx_shmtx_unlock(&store->shpool->mutex);

        if (state == NGX_KEDGE_STORE_STALE) {
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "kedge: backend \"%*s\" in sync again, "
                          "%ui endpoints", b->name_len, b->name, naddrs);
        }

        return NGX_OK;
    }

    sa = NULL;

    if (naddrs) {
        sa = ngx_slab_alloc_locked(store->shpool,
                                   naddrs * sizeof(ngx_kedge_store_addr_t));
        if (sa == NULL) {
            b->failures++;

            ngx_shmtx_unlock(&store->shpool->mutex);

            if (ngx_atomic_fetch_add(&store->sh->nomem, 1) == 0) {
                ngx_log_error(NGX_LOG_ERR, log, 0,
                              "kedge: zone \"%V\" is full, backend \"%*s\" "
                              "keeps its last known endpoints",
                              &store->shm_zone->shm.name,
                              b->name_len, b->name);
            }

            return NGX_ERROR;
        }
    }

    for (i = 0; i < naddrs; i++) {
        ngx_memcpy(&sa[i].sockaddr, addrs[i].sockaddr, addrs[i].socklen);
        sa[i].socklen = addrs[i].socklen;
        sa[i].name_len = ngx_sock_ntop(addrs[i].sockaddr, addrs[i].socklen,
                                       sa[i].name, NGX_SOCKADDR_STRLEN, 1);
    }

    old = b->addrs;

    b->addrs = sa;
    b->naddrs = naddrs;
    b->state = NGX_KEDGE_STORE_FRESH;
    b->synced = ngx_time();
    b->syncs++;

    /* readers compare the generation without the lock: data first */

    ngx_memory_barrier();
    b->generation++;

    if (old) {
        ngx_slab_free_locked(store->shpool, old);
    }

    ngx_shmtx_unlock(&store->shpool->mutex);

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "kedge: backend \"%*s\" has %ui endpoints, generation %A",
                  b->name_len, b->name, naddrs, b->generation);

    return NGX_OK;
}


/* a failed sync: the last known endpoints stay, the staleness shows */

void
ngx_kedge_store_failed(ngx_kedge_store_t *store, ngx_uint_t index,
    ngx_log_t *log)
{
    ngx_uint_t                  state, naddrs;
    ngx_kedge_store_backend_t  *b;

    if (store->retired) {
        return;
    }

    b = &store->sh->backends[index];

    ngx_shmtx_lock(&store->shpool->mutex);

    state = b->state;
    naddrs = b->naddrs;

    if (state == NGX_KEDGE_STORE_FRESH) {
        b->state = NGX_KEDGE_STORE_STALE;
    }

    b->failures++;

    ngx_shmtx_unlock(&store->shpool->mutex);

    if (state == NGX_KEDGE_STORE_FRESH) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "kedge: backend \"%*s\" is stale, keeping its %ui "
                      "last known endpoints", b->name_len, b->name, naddrs);
    }
}


/*
 * When a fetcher tries again after failed syncs: 0.5 s doubling to 30 s,
 * plus up to a quarter of jitter so that fetchers do not march in step.
 * A successful sync resets *backoff to 0.
 */

ngx_msec_t
ngx_kedge_store_backoff(ngx_msec_t *backoff)
{
    *backoff = *backoff ? ngx_min(*backoff * 2, 30000) : 500;

    return *backoff + (ngx_msec_t) ngx_random() % (*backoff / 4 + 1);
}


/* what the fetcher of a watched backend does now; a word, no lock */

void
ngx_kedge_store_watch(ngx_kedge_store_t *store, ngx_uint_t index,
    ngx_uint_t watch)
{
    if (store->retired) {
        return;
    }

    store->sh->backends[index].watch = watch;
}


/*
 * What the zone knows of a backend, for the ops endpoints; with a pool,
 * the names of its endpoints too, copied under the lock.  NGX_DECLINED
 * once a newer zone took over.
 */

ngx_int_t
ngx_kedge_store_view(ngx_kedge_store_t *store, ngx_uint_t index,
    ngx_pool_t *pool, ngx_kedge_store_view_t *view)
{
    u_char                     *p;
    ngx_uint_t                  i;
    ngx_kedge_store_backend_t  *b;

    ngx_memzero(view, sizeof(ngx_kedge_store_view_t));

    if (store->retired || store->sh == NULL) {
        return NGX_DECLINED;
    }

    b = &store->sh->backends[index];

    if (pool == NULL) {
        /* words, each read at once: enough for numbers */

        view->state = b->state;
        view->synced = b->synced;
        view->generation = b->generation;
        view->syncs = b->syncs;
        view->failures = b->failures;
        view->watch = b->watch;
        view->naddrs = b->naddrs;

        return NGX_OK;
    }

    ngx_shmtx_lock(&store->shpool->mutex);

    view->state = b->state;
    view->synced = b->synced;
    view->generation = b->generation;
    view->syncs = b->syncs;
    view->failures = b->failures;
    view->watch = b->watch;
    view->naddrs = b->naddrs;

    view->names = ngx_palloc(pool, ngx_max(b->naddrs, 1)
                                   * (sizeof(ngx_str_t) + NGX_SOCKADDR_STRLEN));
    if (view->names == NULL) {
        ngx_shmtx_unlock(&store->shpool->mutex);
        return NGX_ERROR;
    }

    p = (u_char *) (view->names + ngx_max(b->naddrs, 1));

    for (i = 0; i < b->naddrs; i++) {
        view->names[i].data = p;
        view->names[i].len = b->addrs[i].name_len;
        p = ngx_cpymem(p, b->addrs[i].name, b->addrs[i].name_len);
    }

    ngx_shmtx_unlock(&store->shpool->mutex);

    return NGX_OK;
}


/* the endpoints set aside now (ngx_kedge_store_aside_view_t), or NULL */

ngx_array_t *
ngx_kedge_store_aside_view(ngx_kedge_store_t *store, ngx_pool_t *pool)
{
    u_char                        *p;
    ngx_uint_t                     i;
    ngx_array_t                   *a;
    ngx_msec_int_t                 left;
    ngx_kedge_store_aside_t       *aside;
    ngx_kedge_store_aside_view_t  *v;

    a = ngx_array_create(pool, 4, sizeof(ngx_kedge_store_aside_view_t));
    if (a == NULL) {
        return NULL;
    }

    if (store->retired || store->sh == NULL) {
        return a;
    }

    ngx_shmtx_lock(&store->shpool->mutex);

    aside = store->sh->aside;

    for (i = 0; i < store->sh->aside_used; i++) {
        left = (ngx_msec_int_t) (aside[i].until - ngx_current_msec);

        if (left <= 0) {
            continue;
        }

        v = ngx_array_push(a);
        p = ngx_pnalloc(pool, NGX_SOCKADDR_STRLEN);

        if (v == NULL || p == NULL) {
            ngx_shmtx_unlock(&store->shpool->mutex);
            return NULL;
        }

        v->name.data = p;
        v->name.len = ngx_sock_ntop(&aside[i].sockaddr.sockaddr,
                                    aside[i].socklen, p, NGX_SOCKADDR_STRLEN,
                                    1);
        v->left = left;
    }

    ngx_shmtx_unlock(&store->shpool->mutex);

    return a;
}


static ngx_int_t
ngx_kedge_store_cmp_addrs(const void *one, const void *two)
{
    ngx_addr_t  *a = (ngx_addr_t *) one;
    ngx_addr_t  *b = (ngx_addr_t *) two;

    if (a->socklen != b->socklen) {
        return (ngx_int_t) a->socklen - (ngx_int_t) b->socklen;
    }

    return ngx_memcmp(a->sockaddr, b->sockaddr, a->socklen);
}


static int ngx_libc_cdecl
ngx_kedge_store_qsort_addrs(const void *one, const void *two)
{
    return (int) ngx_kedge_store_cmp_addrs(one, two);
}


static ngx_uint_t
ngx_kedge_store_same(ngx_kedge_store_backend_t *b, ngx_addr_t *addrs,
    ngx_uint_t naddrs)
{
    ngx_uint_t  i;

    if (b->naddrs != naddrs) {
        return 0;
    }

    for (i = 0; i < naddrs; i++) {
        if (b->addrs[i].socklen != addrs[i].socklen
            || ngx_memcmp(&b->addrs[i].sockaddr, addrs[i].sockaddr,
                          addrs[i].socklen)
               != 0)
        {
            return 0;
        }
    }

    return 1;
}


/*
 * A reference to the worker-local copy of a backend's endpoints, NULL
 * while the backend was never resolved.  The caller releases it.
 */

ngx_kedge_peers_t *
ngx_kedge_store_peers(ngx_kedge_store_t *store, ngx_uint_t index,
    ngx_log_t *log)
{
    u_char                     *p;
    size_t                      size;
    ngx_uint_t                  i, n, generation;
    ngx_sockaddr_t             *sockaddr;
    ngx_kedge_peers_t          *peers, *local;
    ngx_kedge_store_addr_t     *sa;
    ngx_kedge_store_backend_t  *b;

    local = store->local[index];

    if (store->retired) {
        /* what this worker copied last, if anything */

        if (local) {
            local->refs++;
        }

        return local;
    }

    b = &store->sh->backends[index];

    generation = b->generation;

    if (local && local->generation == generation) {
        local->refs++;
        return local;
    }

    if (generation == 0) {
        return NULL;
    }

    ngx_shmtx_lock(&store->shpool->mutex);

    n = b->naddrs;
    size = sizeof(ngx_kedge_peers_t)
           + n * (sizeof(ngx_addr_t) + sizeof(ngx_sockaddr_t)
                  + NGX_SOCKADDR_STRLEN);

    peers = ngx_alloc(size, log);
    if (peers == NULL) {
        ngx_shmtx_unlock(&store->shpool->mutex);
        return NULL;
    }

    peers->generation = b->generation;
    peers->serial = b->serial;
    peers->state = b->state;
    peers->naddrs = n;
    peers->addrs = (ngx_addr_t *) (peers + 1);

    /* the addresses, then the sockaddrs (aligned), then the names */

    sockaddr = (ngx_sockaddr_t *) (peers->addrs + n);
    p = (u_char *) (sockaddr + n);
    sa = b->addrs;

    for (i = 0; i < n; i++) {
        sockaddr[i] = sa[i].sockaddr;
        peers->addrs[i].sockaddr = &sockaddr[i].sockaddr;
        peers->addrs[i].socklen = sa[i].socklen;

        peers->addrs[i].name.data = p;
        peers->addrs[i].name.len = sa[i].name_len;
        p = ngx_cpymem(p, sa[i].name, sa[i].name_len);
    }

    ngx_shmtx_unlock(&store->shpool->mutex);

    /* one reference for the store's own pointer, one for the caller */

    peers->refs = 2;

    if (local) {
        ngx_kedge_peers_release(local);
    }

    store->local[index] = peers;

    return peers;
}


void
ngx_kedge_peers_release(ngx_kedge_peers_t *peers)
{
    if (--peers->refs == 0) {
        ngx_free(peers);
    }
}


static void
ngx_kedge_store_cleanup(void *data)
{
    ngx_kedge_store_t *store = data;

    ngx_uint_t  i;

    for (i = 0; i < store->nlocal; i++) {
        if (store->local[i]) {
            ngx_free(store->local[i]);
            store->local[i] = NULL;
        }
    }
}


/* a failed connect: nobody dials that address before "backoff" is over */

void
ngx_kedge_store_set_aside(ngx_kedge_store_t *store, struct sockaddr *sockaddr,
    socklen_t socklen, ngx_msec_t backoff)
{
    ngx_uint_t                i, slot;
    ngx_msec_int_t            oldest;
    ngx_kedge_store_aside_t  *a;

    if (store->retired) {
        return;
    }

    a = store->sh->aside;

    ngx_shmtx_lock(&store->shpool->mutex);

    /* the same address, else a new slot, else the one expiring first */

    slot = store->sh->aside_used;
    oldest = NGX_MAX_INT_T_VALUE;

    for (i = 0; i < store->sh->aside_used; i++) {

        if (a[i].socklen == socklen
            && ngx_memcmp(&a[i].sockaddr, sockaddr, socklen) == 0)
        {
            slot = i;
            break;
        }

        if (store->sh->aside_used == NGX_KEDGE_STORE_ASIDE
            && (ngx_msec_int_t) (a[i].until - ngx_current_msec) < oldest)
        {
            oldest = (ngx_msec_int_t) (a[i].until - ngx_current_msec);
            slot = i;
        }
    }

    if (slot == store->sh->aside_used) {
        store->sh->aside_used++;
    }

    ngx_memcpy(&a[slot].sockaddr, sockaddr, socklen);
    a[slot].socklen = socklen;
    a[slot].until = ngx_current_msec + backoff;

    ngx_memory_barrier();
    store->sh->aside_generation++;

    ngx_shmtx_unlock(&store->shpool->mutex);
}


ngx_uint_t
ngx_kedge_store_is_aside(ngx_kedge_store_t *store, struct sockaddr *sockaddr,
    socklen_t socklen)
{
    ngx_uint_t                i;
    ngx_kedge_store_aside_t  *a;

    if (!store->retired
        && store->aside_generation != store->sh->aside_generation)
    {
        ngx_shmtx_lock(&store->shpool->mutex);

        store->aside_used = store->sh->aside_used;
        ngx_memcpy(store->aside, store->sh->aside,
                   store->aside_used * sizeof(ngx_kedge_store_aside_t));
        store->aside_generation = store->sh->aside_generation;

        ngx_shmtx_unlock(&store->shpool->mutex);
    }

    a = store->aside;

    for (i = 0; i < store->aside_used; i++) {
        if (a[i].socklen == socklen
            && (ngx_msec_int_t) (a[i].until - ngx_current_msec) > 0
            && ngx_memcmp(&a[i].sockaddr, sockaddr, socklen) == 0)
        {
            return 1;
        }
    }

    return 0;
}
