
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 *
 * The store's part for authorization: each OIDC issuer's key set, as the
 * fetcher last got it (a JWK Set of the keys it kept), and the tokens
 * verified lately, shared by all workers.
 *
 * Key sets follow the endpoints' rules: one writer, a generation that
 * readers compare without the lock, copied forward by issuer URL on a
 * reload.  A worker that meets an unknown kid asks the fetcher for a
 * fetch through "refetch", at most once per cool-down.
 *
 * Verified tokens are kept until they expire, in a hash table by the
 * digest of token and policy (its first bytes pick the bucket: it is a
 * SHA-256, and only tokens that passed verification get in; the table
 * has a bucket per entry at most), evicted least recently used first;
 * they may take at most a quarter of the zone, so that endpoints and
 * keys always find room (a red-black tree of 30 000 tokens cost a cache
 * miss a level, under the zone's lock).  An entry counts only while its
 * issuer has dropped no key since (the epoch): a key taken away revokes
 * its tokens at once.
 */


#include "ngx_kedge_store.h"


#define NGX_KEDGE_STORE_TOKEN_SIZE  512      /* slab size of an entry */


static ngx_kedge_store_token_t **ngx_kedge_store_token_bucket(
    ngx_kedge_store_sh_t *sh, u_char *digest);
static ngx_kedge_store_token_t *ngx_kedge_store_token_find(
    ngx_kedge_store_sh_t *sh, u_char *digest);
static void ngx_kedge_store_token_remove(ngx_kedge_store_t *store,
    ngx_kedge_store_token_t *t);
static void ngx_kedge_store_token_evict(ngx_kedge_store_t *store,
    ngx_uint_t all_expired);


ngx_int_t
ngx_kedge_store_register_issuer(ngx_kedge_store_t *store, ngx_str_t *url)
{
    ngx_str_t   *s;
    ngx_uint_t   i;

    if (url->len > NGX_KEDGE_STORE_URL_LEN) {
        return NGX_ERROR;
    }

    s = store->issuer_urls.elts;

    for (i = 0; i < store->issuer_urls.nelts; i++) {
        if (s[i].len == url->len
            && ngx_strncmp(s[i].data, url->data, url->len) == 0)
        {
            return i;
        }
    }

    s = ngx_array_push(&store->issuer_urls);
    if (s == NULL) {
        return NGX_ERROR;
    }

    *s = *url;

    return store->issuer_urls.nelts - 1;
}


/* in the zone's init, the lock not needed yet */

ngx_int_t
ngx_kedge_store_keys_init(ngx_kedge_store_t *store)
{
    ngx_str_t                 *url;
    ngx_uint_t                 i, n;
    ngx_kedge_store_sh_t      *sh;
    ngx_kedge_store_issuer_t  *is;

    sh = store->sh;
    n = store->issuer_urls.nelts;

    sh->nissuers = n;
    sh->issuers = ngx_slab_calloc(store->shpool,
                                  (n ? n : 1)
                                  * sizeof(ngx_kedge_store_issuer_t));
    if (sh->issuers == NULL) {
        return NGX_ERROR;
    }

    url = store->issuer_urls.elts;

    for (i = 0; i < n; i++) {
        is = &sh->issuers[i];
        is->url_len = url[i].len;
        ngx_memcpy(is->url, url[i].data, url[i].len);
    }

    ngx_queue_init(&sh->tokens_lru);

    sh->max_tokens = store->shm_zone->shm.size / 4
                     / NGX_KEDGE_STORE_TOKEN_SIZE;

    /* a power of two, at least as many buckets as entries */

    for (n = 1; n < sh->max_tokens; n <<= 1) {
        /* void */
    }

    sh->tokens = ngx_slab_calloc(store->shpool,
                                 n * sizeof(ngx_kedge_store_token_t *));
    if (sh->tokens == NULL) {
        return NGX_ERROR;
    }

    sh->tokens_mask = n - 1;

    return NGX_OK;
}


/* on a reload, under the old zone's lock: the key sets by issuer URL */

void
ngx_kedge_store_keys_adopt(ngx_kedge_store_t *store, ngx_kedge_store_t *old)
{
    ngx_uint_t                 j, k;
    ngx_kedge_store_issuer_t  *is, *ois;

    for (j = 0; j < store->sh->nissuers; j++) {
        is = &store->sh->issuers[j];

        for (k = 0; k < old->sh->nissuers; k++) {
            ois = &old->sh->issuers[k];

            if (ois->url_len != is->url_len
                || ngx_strncmp(ois->url, is->url, is->url_len) != 0
                || ois->jwks == NULL)
            {
                continue;
            }

            is->jwks = ngx_slab_alloc(store->shpool, ois->jwks_len);
            if (is->jwks == NULL) {
                break;
            }

            ngx_memcpy(is->jwks, ois->jwks, ois->jwks_len);
            is->jwks_len = ois->jwks_len;
            is->nkeys = ois->nkeys;
            is->state = ois->state;
            is->synced = ois->synced;
            is->granted = ois->granted;
            is->generation = 1;
            break;
        }
    }
}


/*
 * The fetcher's write: the kept keys as a JWK Set.  The same set again
 * only refreshes the state (NGX_DECLINED); "removed" says a kid of the
 * old set is gone.  Either way a refetch asked for is done.
 */

ngx_int_t
ngx_kedge_store_keys_update(ngx_kedge_store_t *store, ngx_uint_t index,
    u_char *jwks, size_t len, ngx_uint_t nkeys, ngx_uint_t removed,
    ngx_log_t *log)
{
    u_char                    *p, *old;
    ngx_uint_t                 state;
    ngx_kedge_store_issuer_t  *is;

    if (store->retired) {
        return NGX_OK;
    }

    is = &store->sh->issuers[index];

    ngx_shmtx_lock(&store->shpool->mutex);

    state = is->state;

    if (is->jwks && is->jwks_len == len
        && ngx_memcmp(is->jwks, jwks, len) == 0)
    {
        is->state = NGX_KEDGE_STORE_FRESH;
        is->synced = ngx_time();
        is->refetch = 0;
        ngx_memory_barrier();
        is->attempts++;

        ngx_shmtx_unlock(&store->shpool->mutex);

        if (state == NGX_KEDGE_STORE_STALE) {
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "kedge: issuer \"%*s\" in sync again, %ui keys",
                          is->url_len, is->url, nkeys);
        }

        return NGX_DECLINED;
    }

    /* the old set goes first: its room may be what the new one needs */

    old = is->jwks;

    if (old) {
        ngx_slab_free_locked(store->shpool, old);
    }

    p = ngx_slab_alloc_locked(store->shpool, len);

    if (p == NULL) {

        /*
         * no room: no keys rather than keys the issuer may have revoked,
         * so every token is refused until the next fetch finds room
         */

        is->jwks = NULL;
        is->jwks_len = 0;
        is->nkeys = 0;
        is->epoch++;
        is->refetch = 0;
        ngx_memory_barrier();
        is->generation++;
        is->attempts++;

        ngx_shmtx_unlock(&store->shpool->mutex);

        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "kedge: zone \"%V\" is full, issuer \"%*s\" has no "
                      "keys: its tokens are refused",
                      &store->shm_zone->shm.name, is->url_len, is->url);
        return NGX_ERROR;
    }

    ngx_memcpy(p, jwks, len);

    is->jwks = p;
    is->jwks_len = len;
    is->nkeys = nkeys;
    is->state = NGX_KEDGE_STORE_FRESH;
    is->synced = ngx_time();

    if (removed) {
        is->epoch++;
    }

    is->refetch = 0;
    ngx_memory_barrier();
    is->generation++;
    is->attempts++;

    ngx_shmtx_unlock(&store->shpool->mutex);

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "kedge: issuer \"%*s\" has %ui keys, generation %A",
                  is->url_len, is->url, nkeys, is->generation);

    return NGX_OK;
}


void
ngx_kedge_store_keys_failed(ngx_kedge_store_t *store, ngx_uint_t index,
    ngx_log_t *log)
{
    ngx_uint_t                 state;
    ngx_kedge_store_issuer_t  *is;

    if (store->retired) {
        return;
    }

    is = &store->sh->issuers[index];

    ngx_shmtx_lock(&store->shpool->mutex);

    state = is->state;

    if (state == NGX_KEDGE_STORE_FRESH) {
        is->state = NGX_KEDGE_STORE_STALE;
    }

    is->failures++;
    is->refetch = 0;
    ngx_memory_barrier();
    is->attempts++;

    ngx_shmtx_unlock(&store->shpool->mutex);

    if (state == NGX_KEDGE_STORE_FRESH) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "kedge: issuer \"%*s\" is stale, keeping its %ui "
                      "last known keys", is->url_len, is->url, is->nkeys);
    }
}


/*
 * A worker's copy of an issuer's JWK Set, when its generation is not
 * "*generation" any more: NGX_OK with the set in "*jwks" (ngx_alloc()ed,
 * NUL-terminated, the caller frees it), or NULL when there is none (any
 * more), and its generation and epoch; NGX_DECLINED: nothing changed;
 * NGX_ERROR: no memory for the copy.
 */

ngx_int_t
ngx_kedge_store_keys_copy(ngx_kedge_store_t *store, ngx_uint_t index,
    u_char **jwks, size_t *len, ngx_uint_t *generation, ngx_uint_t *epoch,
    ngx_log_t *log)
{
    ngx_kedge_store_issuer_t  *is;

    if (store->retired) {
        return NGX_DECLINED;
    }

    is = &store->sh->issuers[index];

    if (is->generation == *generation) {
        return NGX_DECLINED;
    }

    *jwks = NULL;
    *len = 0;

    ngx_shmtx_lock(&store->shpool->mutex);

    if (is->jwks) {
        *jwks = ngx_alloc(is->jwks_len + 1, log);
        if (*jwks == NULL) {
            ngx_shmtx_unlock(&store->shpool->mutex);
            return NGX_ERROR;
        }

        ngx_memcpy(*jwks, is->jwks, is->jwks_len);
        (*jwks)[is->jwks_len] = '\0';
        *len = is->jwks_len;
    }

    *generation = is->generation;
    *epoch = is->epoch;

    ngx_shmtx_unlock(&store->shpool->mutex);

    return NGX_OK;
}


/*
 * A worker met a kid it does not know: the fetcher is asked to fetch
 * the keys now, unless it was asked less than "cooldown" ago.  1: asked
 * (or already asked and not done yet), worth waiting for; 0: not now.
 */

ngx_uint_t
ngx_kedge_store_keys_want(ngx_kedge_store_t *store, ngx_uint_t index,
    time_t cooldown)
{
    time_t                     now;
    ngx_uint_t                 asked;
    ngx_kedge_store_issuer_t  *is;

    if (store->retired) {
        return 0;
    }

    is = &store->sh->issuers[index];
    now = ngx_time();

    if (is->refetch) {
        return 1;
    }

    if (now - is->granted < cooldown) {
        return 0;
    }

    ngx_shmtx_lock(&store->shpool->mutex);

    asked = 0;

    if (is->refetch) {
        asked = 1;

    } else if (now - is->granted >= cooldown) {
        is->granted = now;
        is->refetch = 1;
        asked = 1;
    }

    ngx_shmtx_unlock(&store->shpool->mutex);

    return asked;
}


/* NGX_OK: the token was verified under this policy and is still valid */

ngx_int_t
ngx_kedge_store_token_get(ngx_kedge_store_t *store, u_char *digest,
    u_char *sub, size_t *sub_len)
{
    ngx_int_t                 rc;
    ngx_kedge_store_sh_t     *sh;
    ngx_kedge_store_token_t  *t;

    if (store->retired) {
        return NGX_DECLINED;
    }

    sh = store->sh;
    rc = NGX_DECLINED;

    ngx_shmtx_lock(&store->shpool->mutex);

    t = ngx_kedge_store_token_find(sh, digest);

    if (t) {
        if (t->expires > ngx_time()
            && t->issuer < sh->nissuers
            && t->epoch == sh->issuers[t->issuer].epoch)
        {
            ngx_queue_remove(&t->queue);
            ngx_queue_insert_head(&sh->tokens_lru, &t->queue);

            ngx_memcpy(sub, t->sub, t->sub_len);
            *sub_len = t->sub_len;
            rc = NGX_OK;

        } else {
            ngx_kedge_store_token_remove(store, t);
        }
    }

    ngx_shmtx_unlock(&store->shpool->mutex);

    return rc;
}


void
ngx_kedge_store_token_put(ngx_kedge_store_t *store, u_char *digest,
    time_t expires, ngx_uint_t issuer, ngx_uint_t epoch, u_char *sub,
    size_t sub_len)
{
    ngx_kedge_store_sh_t      *sh;
    ngx_kedge_store_token_t   *t, **bucket;

    if (store->retired || issuer >= store->sh->nissuers
        || sub_len > NGX_KEDGE_STORE_TOKEN_SIZE
                     - offsetof(ngx_kedge_store_token_t, sub))
    {
        return;
    }

    sh = store->sh;

    ngx_shmtx_lock(&store->shpool->mutex);

    if (ngx_kedge_store_token_find(sh, digest)) {
        ngx_shmtx_unlock(&store->shpool->mutex);
        return;
    }

    ngx_kedge_store_token_evict(store, 0);

    if (sh->ntokens >= sh->max_tokens) {
        ngx_kedge_store_token_evict(store, 1);
    }

    t = ngx_slab_alloc_locked(store->shpool,
                              offsetof(ngx_kedge_store_token_t, sub)
                              + sub_len);
    if (t == NULL) {
        ngx_shmtx_unlock(&store->shpool->mutex);
        return;
    }

    ngx_memcpy(t->digest, digest, NGX_KEDGE_STORE_DIGEST_LEN);
    t->expires = expires;
    t->issuer = issuer;
    t->epoch = epoch;
    t->sub_len = (u_short) sub_len;
    ngx_memcpy(t->sub, sub, sub_len);

    bucket = ngx_kedge_store_token_bucket(sh, digest);
    t->next = *bucket;
    *bucket = t;

    ngx_queue_insert_head(&sh->tokens_lru, &t->queue);
    sh->ntokens++;

    ngx_shmtx_unlock(&store->shpool->mutex);
}


/*
 * Under the lock: up to a few expired entries from the cold end, or,
 * with "full", the coldest entry whatever its expiry.
 */

static void
ngx_kedge_store_token_evict(ngx_kedge_store_t *store, ngx_uint_t full)
{
    time_t                    now;
    ngx_uint_t                n;
    ngx_queue_t              *q;
    ngx_kedge_store_sh_t     *sh;
    ngx_kedge_store_token_t  *t;

    sh = store->sh;
    now = ngx_time();

    for (n = 0; n < 3; n++) {
        if (ngx_queue_empty(&sh->tokens_lru)) {
            return;
        }

        q = ngx_queue_last(&sh->tokens_lru);
        t = ngx_queue_data(q, ngx_kedge_store_token_t, queue);

        if (!full && t->expires > now) {
            return;
        }

        ngx_kedge_store_token_remove(store, t);

        if (full) {
            return;
        }
    }
}


static ngx_kedge_store_token_t **
ngx_kedge_store_token_bucket(ngx_kedge_store_sh_t *sh, u_char *digest)
{
    uint64_t  key;

    ngx_memcpy(&key, digest, sizeof(uint64_t));

    return &sh->tokens[key & sh->tokens_mask];
}


static ngx_kedge_store_token_t *
ngx_kedge_store_token_find(ngx_kedge_store_sh_t *sh, u_char *digest)
{
    ngx_kedge_store_token_t  *t;

    for (t = *ngx_kedge_store_token_bucket(sh, digest); t; t = t->next) {
        if (ngx_memcmp(digest, t->digest, NGX_KEDGE_STORE_DIGEST_LEN) == 0) {
            return t;
        }
    }

    return NULL;
}


/* under the lock: out of its bucket and the LRU list, and freed */

static void
ngx_kedge_store_token_remove(ngx_kedge_store_t *store,
    ngx_kedge_store_token_t *t)
{
    ngx_kedge_store_sh_t      *sh;
    ngx_kedge_store_token_t  **p;

    sh = store->sh;

    p = ngx_kedge_store_token_bucket(sh, t->digest);

    while (*p && *p != t) {
        p = &(*p)->next;
    }

    if (*p) {
        *p = t->next;
    }

    ngx_queue_remove(&t->queue);
    ngx_slab_free_locked(store->shpool, t);
    sh->ntokens--;
}
