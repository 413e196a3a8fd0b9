
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 *
 * kedge_balancer keepalive=N: the balancer's own cache of idle upstream
 * connections, one per upstream{} block and worker.
 *
 * nginx's "keepalive" keeps one queue per upstream and walks it comparing
 * addresses on every request; under round robin over many endpoints the
 * connection wanted is near its end, so a request costs a walk of all N.
 * Here idle connections are found by their key in a hash table: the
 * endpoint's address, and for TLS how it was dialed (the location's
 * upstream configuration, with its certificates and CAs, and the name
 * sent and verified), for gRPC or HTTP/1.1.  A key holds its connections
 * most recently used first; one LRU list over all keys enforces the cap
 * and picks what to close when it is reached; keepalive_per_endpoint=
 * bounds a key.  Getting and putting a connection cost a hash and a
 * short walk of a bucket, whatever the number of endpoints.  The hash
 * takes the key 8 bytes at a time, multiplies and folds, seeded per
 * process: CRC-32 (a byte at a time) cost more than the rest of the
 * cache (1100 instructions a request), and ngx_murmur_hash2() shifts a
 * signed int, which UBSan stops.
 *
 * What is kept and when, the idle handlers and the close follow
 * ngx_http_upstream_keepalive_module exactly, but for the idle timeout:
 * every connection of a cache has the same one, so the LRU list is also
 * the order in which they expire, and one timer per cache, set for the
 * oldest, replaces a timer per connection (with thousands kept, those
 * made every timer of the worker a walk down a deep tree).
 */


#include "ngx_http_kedge_module.h"


/* a DNS name is at most 253 characters: longer TLS names are not kept */
#define NGX_HTTP_KEDGE_KA_NAME_LEN     256

/*
 * a bucket with this many keys takes no other: the table is at most half
 * full, so only names chosen to collide (adhoc rules) get there, and a
 * lookup never walks more than this
 */
#define NGX_HTTP_KEDGE_KA_CHAIN_MAX    8

#define NGX_HTTP_KEDGE_KA_MAX          1000000


/* what makes two connections interchangeable */
typedef struct {
    uint32_t                        addr[4];       /* IPv4: addr[0] */
    uint32_t                        scope;
    uint16_t                        family;
    uint16_t                        port;
    uint16_t                        name_len;
    uint8_t                         grpc;
    uint8_t                         tls;
    void                           *conf;          /* TLS: u->conf */
    u_char                          name[NGX_HTTP_KEDGE_KA_NAME_LEN];
} ngx_http_kedge_ka_key_t;


typedef struct ngx_http_kedge_ka_node_s  ngx_http_kedge_ka_node_t;

/* a key that has idle connections */
struct ngx_http_kedge_ka_node_s {
    ngx_http_kedge_ka_node_t       *next;          /* bucket, or free list */
    ngx_queue_t                     items;         /* most recent first */
    ngx_uint_t                      count;
    uint32_t                        hash;
    ngx_http_kedge_ka_key_t         key;
};


typedef struct {
    ngx_queue_t                     lru;           /* cache->lru or ->free */
    ngx_queue_t                     sibling;       /* node->items */
    ngx_http_kedge_ka_node_t       *node;
    ngx_connection_t               *connection;
    ngx_http_kedge_keepalive_t     *cache;
    ngx_msec_t                      idle_since;
} ngx_http_kedge_ka_item_t;


struct ngx_http_kedge_keepalive_s {
    ngx_queue_t                     lru;           /* most recent first */
    ngx_queue_t                     free;
    ngx_http_kedge_ka_node_t       *free_nodes;

    /* taken in order, so that memory never used is never touched */
    ngx_http_kedge_ka_item_t       *items;
    ngx_uint_t                      nitems;
    ngx_http_kedge_ka_node_t       *nodes;
    ngx_uint_t                      nnodes;

    ngx_http_kedge_ka_node_t      **buckets;
    ngx_uint_t                      mask;

    ngx_uint_t                      max;
    ngx_uint_t                      per_endpoint;

    /* set for the oldest: the tail of the LRU list */
    ngx_event_t                     timer;
    ngx_msec_t                      timeout;
};


static ngx_int_t ngx_http_kedge_keepalive_key(ngx_http_kedge_ctx_t *ctx,
    ngx_peer_connection_t *pc, ngx_http_kedge_ka_key_t *key, size_t *len);
static ngx_http_kedge_ka_node_t *ngx_http_kedge_keepalive_lookup(
    ngx_http_kedge_keepalive_t *cache, ngx_http_kedge_ka_key_t *key,
    size_t len, uint32_t hash, ngx_uint_t *depth);
static uint32_t ngx_http_kedge_keepalive_hash(u_char *p, size_t len);
static ngx_http_kedge_keepalive_t *ngx_http_kedge_keepalive_create(
    ngx_http_kedge_srv_conf_t *kscf, ngx_log_t *log);
static void ngx_http_kedge_keepalive_detach(ngx_http_kedge_ka_item_t *item,
    ngx_http_kedge_ka_node_t *keep);
static void ngx_http_kedge_keepalive_timer_handler(ngx_event_t *ev);
static void ngx_http_kedge_keepalive_dummy_handler(ngx_event_t *ev);
static void ngx_http_kedge_keepalive_close_handler(ngx_event_t *ev);
static void ngx_http_kedge_keepalive_close(ngx_connection_t *c);


/*
 * kedge_balancer keepalive=N [keepalive_per_endpoint=N]
 *                [keepalive_requests=N] [keepalive_time=TIME]
 *                [keepalive_timeout=TIME];
 *
 * The defaults are nginx's keepalive_requests 1000, keepalive_time 1h,
 * keepalive_timeout 60s; keepalive_per_endpoint= defaults to N.
 */

char *
ngx_http_kedge_keepalive_param(ngx_conf_t *cf, ngx_http_kedge_srv_conf_t *kscf,
    ngx_str_t *value)
{
    u_char       *eq;
    ngx_int_t     n;
    ngx_str_t     name, arg;
    ngx_msec_t    ms, *msp;
    ngx_uint_t   *np, max;

    eq = ngx_strlchr(value->data, value->data + value->len, '=');

    if (eq == NULL) {
        goto invalid;
    }

    name.data = value->data;
    name.len = eq - value->data;
    arg.data = eq + 1;
    arg.len = value->data + value->len - arg.data;

    np = NULL;
    msp = NULL;
    max = NGX_MAX_INT_T_VALUE;

    if (name.len == 9 && ngx_strncmp(name.data, "keepalive", 9) == 0) {
        np = &kscf->keepalive;
        max = NGX_HTTP_KEDGE_KA_MAX;

    } else if (name.len == 22
               && ngx_strncmp(name.data, "keepalive_per_endpoint", 22) == 0)
    {
        np = &kscf->keepalive_per_endpoint;
        max = NGX_HTTP_KEDGE_KA_MAX;

    } else if (name.len == 18
               && ngx_strncmp(name.data, "keepalive_requests", 18) == 0)
    {
        np = &kscf->keepalive_requests;

    } else if (name.len == 14
               && ngx_strncmp(name.data, "keepalive_time", 14) == 0)
    {
        msp = &kscf->keepalive_time;

    } else if (name.len == 17
               && ngx_strncmp(name.data, "keepalive_timeout", 17) == 0)
    {
        msp = &kscf->keepalive_timeout;

    } else {
        goto invalid;
    }

    if ((np && *np) || (msp && *msp)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate \"%V=\" in \"kedge_balancer\" "
                           "directive", &name);
        return NGX_CONF_ERROR;
    }

    if (np) {
        n = ngx_atoi(arg.data, arg.len);

        if (n == NGX_ERROR || n == 0 || (ngx_uint_t) n > max) {
            goto invalid;
        }

        *np = n;
        return NGX_CONF_OK;
    }

    ms = ngx_parse_time(&arg, 0);

    if (ms == (ngx_msec_t) NGX_ERROR || ms == 0) {
        goto invalid;
    }

    *msp = ms;
    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"kedge_balancer\" "
                       "directive", value);
    return NGX_CONF_ERROR;
}


/* once the directive is read: what goes with keepalive=, the defaults */

char *
ngx_http_kedge_keepalive_check(ngx_conf_t *cf, ngx_http_kedge_srv_conf_t *kscf)
{
    if (kscf->keepalive == 0) {
        if (kscf->keepalive_per_endpoint || kscf->keepalive_requests
            || kscf->keepalive_time || kscf->keepalive_timeout)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"keepalive_*=\" parameters of "
                               "\"kedge_balancer\" need \"keepalive=\"");
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    if (kscf->keepalive_per_endpoint > kscf->keepalive) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"keepalive_per_endpoint=%ui\" is more than "
                           "\"keepalive=%ui\" in \"kedge_balancer\" "
                           "directive", kscf->keepalive_per_endpoint,
                           kscf->keepalive);
        return NGX_CONF_ERROR;
    }

    if (kscf->keepalive_per_endpoint == 0) {
        kscf->keepalive_per_endpoint = kscf->keepalive;
    }

    if (kscf->keepalive_requests == 0) {
        kscf->keepalive_requests = 1000;
    }

    if (kscf->keepalive_time == 0) {
        kscf->keepalive_time = 3600000;
    }

    if (kscf->keepalive_timeout == 0) {
        kscf->keepalive_timeout = 60000;
    }

    return NGX_CONF_OK;
}


/* the balancer chose pc->sockaddr: an idle connection to it, if any */

ngx_int_t
ngx_http_kedge_keepalive_get(ngx_http_kedge_ctx_t *ctx,
    ngx_peer_connection_t *pc)
{
    size_t                       len;
    uint32_t                     hash;
    ngx_uint_t                   depth;
    ngx_queue_t                 *q;
    ngx_connection_t            *c;
    ngx_http_kedge_ka_key_t      key;
    ngx_http_kedge_ka_item_t    *item;
    ngx_http_kedge_ka_node_t    *node;
    ngx_http_kedge_keepalive_t  *cache;

    cache = ctx->keepalive->cache;

    if (cache == NULL || ngx_queue_empty(&cache->lru)) {
        return NGX_OK;
    }

    if (ngx_http_kedge_keepalive_key(ctx, pc, &key, &len) != NGX_OK) {
        return NGX_OK;
    }

    hash = ngx_http_kedge_keepalive_hash((u_char *) &key, len);

    node = ngx_http_kedge_keepalive_lookup(cache, &key, len, hash, &depth);

    if (node == NULL) {
        return NGX_OK;
    }

    q = ngx_queue_head(&node->items);
    item = ngx_queue_data(q, ngx_http_kedge_ka_item_t, sibling);
    c = item->connection;

    ngx_http_kedge_keepalive_detach(item, NULL);
    ngx_queue_insert_head(&cache->free, &item->lru);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                   "kedge keepalive: using connection %p", c);

    c->idle = 0;
    c->sent = 0;
    c->data = NULL;
    c->log = pc->log;
    c->read->log = pc->log;
    c->write->log = pc->log;
    c->pool->log = pc->log;

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    pc->connection = c;
    pc->cached = 1;

    return NGX_DONE;
}


/* the request is done with its connection: keep it if it can serve more */

void
ngx_http_kedge_keepalive_free(ngx_http_kedge_ctx_t *ctx,
    ngx_peer_connection_t *pc, ngx_uint_t state)
{
    size_t                       len;
    uint32_t                     hash;
    ngx_uint_t                   depth;
    ngx_queue_t                 *q;
    ngx_connection_t            *c;
    ngx_http_upstream_t         *u;
    ngx_http_kedge_ka_key_t      key;
    ngx_http_kedge_ka_item_t    *item;
    ngx_http_kedge_ka_node_t    *node;
    ngx_http_kedge_srv_conf_t   *kscf;
    ngx_http_kedge_keepalive_t  *cache;

    kscf = ctx->keepalive;
    u = ctx->request->upstream;
    c = pc->connection;

    /* the checks of ngx_http_upstream_free_keepalive_peer(), in order */

    if (state & NGX_PEER_FAILED
        || c == NULL
        || c->read->eof
        || c->read->error
        || c->read->timedout
        || c->write->error
        || c->write->timedout)
    {
        return;
    }

    if (c->requests >= kscf->keepalive_requests) {
        return;
    }

    if (ngx_current_msec - c->start_time > kscf->keepalive_time) {
        return;
    }

    if (!u->keepalive) {
        return;
    }

    if (!u->request_body_sent) {
        return;
    }

    if (ngx_terminate || ngx_exiting) {
        return;
    }

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        return;
    }

    if (ngx_http_kedge_keepalive_key(ctx, pc, &key, &len) != NGX_OK) {
        return;
    }

    cache = kscf->cache;

    if (cache == NULL) {
        cache = ngx_http_kedge_keepalive_create(kscf, pc->log);
        if (cache == NULL) {
            return;
        }

        kscf->cache = cache;
    }

    hash = ngx_http_kedge_keepalive_hash((u_char *) &key, len);

    node = ngx_http_kedge_keepalive_lookup(cache, &key, len, hash, &depth);

    if (node == NULL && depth >= NGX_HTTP_KEDGE_KA_CHAIN_MAX) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                       "kedge keepalive: bucket full, not keeping %p", c);
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                   "kedge keepalive: saving connection %p", c);

    if (node && node->count >= cache->per_endpoint) {

        /* the endpoint has all it may keep: its oldest goes */

        q = ngx_queue_last(&node->items);
        item = ngx_queue_data(q, ngx_http_kedge_ka_item_t, sibling);

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                       "kedge keepalive: closing %p, the endpoint's oldest",
                       item->connection);

        ngx_http_kedge_keepalive_detach(item, node);
        ngx_http_kedge_keepalive_close(item->connection);

    } else if (!ngx_queue_empty(&cache->free)) {
        q = ngx_queue_head(&cache->free);
        ngx_queue_remove(q);
        item = ngx_queue_data(q, ngx_http_kedge_ka_item_t, lru);

    } else if (cache->nitems < cache->max) {
        item = &cache->items[cache->nitems++];
        item->cache = cache;

    } else {

        /* the cache is full: the connection idle the longest goes */

        q = ngx_queue_last(&cache->lru);
        item = ngx_queue_data(q, ngx_http_kedge_ka_item_t, lru);

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                       "kedge keepalive: closing %p, the least recent",
                       item->connection);

        ngx_http_kedge_keepalive_detach(item, node);
        ngx_http_kedge_keepalive_close(item->connection);
    }

    if (node == NULL) {

        /* keys in use never outnumber the connections kept: one is free */

        if (cache->free_nodes) {
            node = cache->free_nodes;
            cache->free_nodes = node->next;

        } else {
            node = &cache->nodes[cache->nnodes++];
        }

        ngx_memcpy(&node->key, &key, len);
        node->hash = hash;
        node->count = 0;
        ngx_queue_init(&node->items);

        node->next = cache->buckets[hash & cache->mask];
        cache->buckets[hash & cache->mask] = node;
    }

    ngx_queue_insert_head(&cache->lru, &item->lru);
    ngx_queue_insert_head(&node->items, &item->sibling);
    node->count++;

    item->node = node;
    item->connection = c;
    item->idle_since = ngx_current_msec;

    pc->connection = NULL;

    /* the cache's timer closes it when idle too long, not its own */

    if (!cache->timer.timer_set) {
        ngx_add_timer(&cache->timer, cache->timeout);
    }

    c->read->delayed = 0;

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    c->write->handler = ngx_http_kedge_keepalive_dummy_handler;
    c->read->handler = ngx_http_kedge_keepalive_close_handler;

    c->data = item;
    c->idle = 1;
    c->log = ngx_cycle->log;
    c->read->log = ngx_cycle->log;
    c->write->log = ngx_cycle->log;
    c->pool->log = ngx_cycle->log;

    if (c->read->ready) {
        ngx_http_kedge_keepalive_close_handler(c->read);
    }
}


/*
 * The key of the connection to pc->sockaddr for this request.  A plain
 * connection carries any request of its protocol to that address; a TLS
 * one is bound to the name it was dialed for (SNI, the certificate
 * verified) and to the location's TLS settings (CAs, client certificate),
 * which u->conf holds, one per kedge_pass flavour and protocol.
 */

static ngx_int_t
ngx_http_kedge_keepalive_key(ngx_http_kedge_ctx_t *ctx,
    ngx_peer_connection_t *pc, ngx_http_kedge_ka_key_t *key, size_t *len)
{
    ngx_str_t            *name;
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6  *sin6;
#endif

    ngx_memzero(key, offsetof(ngx_http_kedge_ka_key_t, name));

    switch (pc->sockaddr->sa_family) {

    case AF_INET:
        sin = (struct sockaddr_in *) pc->sockaddr;
        key->addr[0] = sin->sin_addr.s_addr;
        key->port = sin->sin_port;
        break;

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) pc->sockaddr;
        ngx_memcpy(key->addr, &sin6->sin6_addr, 16);
        key->scope = sin6->sin6_scope_id;
        key->port = sin6->sin6_port;
        break;
#endif

    default:
        return NGX_DECLINED;
    }

    key->family = pc->sockaddr->sa_family;
    key->grpc = ctx->req.grpc;

    if (ctx->backend->tls != NGX_HTTP_KEDGE_TLS_OFF) {
        name = &ctx->backend->tls_name;

        if (name->len > NGX_HTTP_KEDGE_KA_NAME_LEN) {
            return NGX_DECLINED;
        }

        key->tls = (uint8_t) ctx->backend->tls;
        key->conf = ctx->request->upstream->conf;
        key->name_len = (uint16_t) name->len;
        ngx_memcpy(key->name, name->data, name->len);
    }

    *len = offsetof(ngx_http_kedge_ka_key_t, name) + key->name_len;

    return NGX_OK;
}


/*
 * The key's hash: 8 bytes at a time, each mixed in by a multiplication
 * and a fold (unsigned 64-bit arithmetic only), from a seed drawn per
 * process, so that which names share a bucket cannot be worked out
 * from outside; the bucket walk is bounded anyway.
 */

static uint32_t
ngx_http_kedge_keepalive_hash(u_char *p, size_t len)
{
    uint64_t         h, w;
    static uint64_t  seed;

    if (seed == 0) {
        seed = ((uint64_t) ngx_random() << 32 ^ (uint64_t) ngx_random()) | 1;
    }

    h = seed ^ len;

    while (len >= 8) {
        ngx_memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
        p += 8;
        len -= 8;
    }

    while (len--) {
        h = (h ^ *p++) * 0x100000001b3ULL;
    }

    h ^= h >> 29;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 32;

    return (uint32_t) h;
}


static ngx_http_kedge_ka_node_t *
ngx_http_kedge_keepalive_lookup(ngx_http_kedge_keepalive_t *cache,
    ngx_http_kedge_ka_key_t *key, size_t len, uint32_t hash,
    ngx_uint_t *depth)
{
    ngx_uint_t                 n;
    ngx_http_kedge_ka_node_t  *node;

    n = 0;

    for (node = cache->buckets[hash & cache->mask]; node; node = node->next) {

        /* the fixed part holds name_len: a shorter name differs there */

        if (node->hash == hash && ngx_memcmp(&node->key, key, len) == 0) {
            return node;
        }

        n++;
    }

    *depth = n;

    return NULL;
}


/*
 * Made in the worker when it first keeps a connection, from the cycle's
 * pool as nginx's keepalive; the arrays are taken in order, so a large
 * keepalive= costs memory only as connections are kept.
 */

static ngx_http_kedge_keepalive_t *
ngx_http_kedge_keepalive_create(ngx_http_kedge_srv_conf_t *kscf,
    ngx_log_t *log)
{
    ngx_uint_t                   n;
    ngx_pool_t                  *pool;
    ngx_http_kedge_keepalive_t  *cache;

    pool = ngx_cycle->pool;

    cache = ngx_pcalloc(pool, sizeof(ngx_http_kedge_keepalive_t));
    if (cache == NULL) {
        return NULL;
    }

    /* at most half full */

    n = 16;

    while (n < 2 * kscf->keepalive) {
        n <<= 1;
    }

    cache->items = ngx_palloc(pool,
                           kscf->keepalive * sizeof(ngx_http_kedge_ka_item_t));
    cache->nodes = ngx_palloc(pool,
                           kscf->keepalive * sizeof(ngx_http_kedge_ka_node_t));
    cache->buckets = ngx_pcalloc(pool,
                                 n * sizeof(ngx_http_kedge_ka_node_t *));

    if (cache->items == NULL || cache->nodes == NULL
        || cache->buckets == NULL)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "kedge_balancer: no memory for the idle connections "
                      "of keepalive=%ui: not kept", kscf->keepalive);

        if (cache->items) {
            ngx_pfree(pool, cache->items);
        }

        if (cache->nodes) {
            ngx_pfree(pool, cache->nodes);
        }

        return NULL;
    }

    ngx_queue_init(&cache->lru);
    ngx_queue_init(&cache->free);

    cache->mask = n - 1;
    cache->max = kscf->keepalive;
    cache->per_endpoint = kscf->keepalive_per_endpoint;

    /* a graceful exit closes idle connections anyway: never wait for it */

    cache->timeout = kscf->keepalive_timeout;
    cache->timer.handler = ngx_http_kedge_keepalive_timer_handler;
    cache->timer.data = cache;
    cache->timer.log = ngx_cycle->log;
    cache->timer.cancelable = 1;

    return cache;
}


/*
 * An item leaves its key and the LRU list; a key left without connections
 * is freed, unless it is "keep", which is about to take one.
 */

static void
ngx_http_kedge_keepalive_detach(ngx_http_kedge_ka_item_t *item,
    ngx_http_kedge_ka_node_t *keep)
{
    ngx_http_kedge_ka_node_t    *node, **np;
    ngx_http_kedge_keepalive_t  *cache;

    cache = item->cache;
    node = item->node;

    ngx_queue_remove(&item->lru);
    ngx_queue_remove(&item->sibling);

    if (--node->count || node == keep) {
        return;
    }

    for (np = &cache->buckets[node->hash & cache->mask];
         *np != node;
         np = &(*np)->next)
    {
        /* void */
    }

    *np = node->next;

    node->next = cache->free_nodes;
    cache->free_nodes = node;
}


/* the connections idle for keepalive_timeout, oldest first, are closed */

static void
ngx_http_kedge_keepalive_timer_handler(ngx_event_t *ev)
{
    ngx_msec_int_t               left;
    ngx_queue_t                 *q;
    ngx_connection_t            *c;
    ngx_http_kedge_ka_item_t    *item;
    ngx_http_kedge_keepalive_t  *cache;

    cache = ev->data;

    while (!ngx_queue_empty(&cache->lru)) {
        q = ngx_queue_last(&cache->lru);
        item = ngx_queue_data(q, ngx_http_kedge_ka_item_t, lru);

        left = (ngx_msec_int_t) (item->idle_since + cache->timeout
                                 - ngx_current_msec);

        if (left > 0) {
            ngx_add_timer(ev, (ngx_msec_t) left);
            return;
        }

        c = item->connection;

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                       "kedge keepalive: closing %p, idle too long", c);

        ngx_http_kedge_keepalive_detach(item, NULL);
        ngx_queue_insert_head(&cache->free, &item->lru);

        ngx_http_kedge_keepalive_close(c);
    }
}


static void
ngx_http_kedge_keepalive_dummy_handler(ngx_event_t *ev)
{
    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "kedge keepalive dummy handler");
}


/* an idle connection: anything readable (the backend closing) closes it */

static void
ngx_http_kedge_keepalive_close_handler(ngx_event_t *ev)
{
    int                        n;
    char                       buf[1];
    ngx_connection_t          *c;
    ngx_http_kedge_ka_item_t  *item;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "kedge keepalive close handler");

    c = ev->data;

    if (c->close) {
        goto close;
    }

    n = recv(c->fd, buf, 1, MSG_PEEK);

    if (n == -1 && ngx_socket_errno == NGX_EAGAIN) {
        ev->ready = 0;

        if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
            goto close;
        }

        return;
    }

close:

    item = c->data;

    ngx_http_kedge_keepalive_detach(item, NULL);
    ngx_queue_insert_head(&item->cache->free, &item->lru);

    ngx_http_kedge_keepalive_close(c);
}


static void
ngx_http_kedge_keepalive_close(ngx_connection_t *c)
{

#if (NGX_HTTP_SSL)

    if (c->ssl) {
        c->ssl->no_wait_shutdown = 1;
        c->ssl->no_send_shutdown = 1;

        if (ngx_ssl_shutdown(c) == NGX_AGAIN) {
            c->ssl->handler = ngx_http_kedge_keepalive_close;
            return;
        }
    }

#endif

    ngx_destroy_pool(c->pool);
    ngx_close_connection(c);
}
