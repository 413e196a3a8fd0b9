
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
 */


#include "ngx_kedge_store.h"


static ngx_int_t ngx_kedge_store_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_kedge_store_adopt(ngx_kedge_store_t *store);
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

    n = store->names.nelts;

    store->sh = ngx_slab_calloc(store->shpool, sizeof(ngx_kedge_store_sh_t));
    if (store->sh == NULL) {
        return NGX_ERROR;
    }

    store->sh->nbackends = n;
    store->sh->backends = ngx_slab_calloc(store->shpool,
                                  (n ? n : 1)
                                  * sizeof(ngx_kedge_store_backend_t));
    if (store->sh->backends == NULL) {
        return NGX_ERROR;
    }

    name = store->names.elts;

    for (i = 0; i < n; i++) {
        b = &store->sh->backends[i];
        b->name_len = name[i].len;
        ngx_memcpy(b->name, name[i].data, name[i].len);
    }

    store->shpool->data = store->sh;

    len = sizeof(" in kedge zone \"\"") + shm_zone->shm.name.len;

    store->shpool->log_ctx = ngx_slab_alloc(store->shpool, len);
    if (store->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(store->shpool->log_ctx, " in kedge zone \"%V\"%Z",
                &shm_zone->shm.name);

    store->shpool->log_nomem = 0;

    /* the worker-local copies, freed with this configuration */

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

    for (j = 0; j < store->sh->nbackends; j++) {
        b = &store->sh->backends[j];

        for (k = 0; k < old->sh->nbackends; k++) {
            ob = &old->sh->backends[k];

            if (ob->name_len != b->name_len
                || ngx_strncmp(ob->name, b->name, b->name_len) != 0
                || ob->state == NGX_KEDGE_STORE_NEVER)
            {
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

    ngx_shmtx_unlock(&old->shpool->mutex);
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

    for (i = 0; i < store->names.nelts; i++) {
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
