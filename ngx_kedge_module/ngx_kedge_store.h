
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 */


#ifndef _NGX_KEDGE_STORE_H_INCLUDED_
#define _NGX_KEDGE_STORE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_KEDGE_STORE_NAME_LEN   64
#define NGX_KEDGE_STORE_URL_LEN    512
#define NGX_KEDGE_STORE_DIGEST_LEN 32

/* endpoints set aside after a failed connect, at most this many at once */
#define NGX_KEDGE_STORE_ASIDE      256


/* what the fetcher last knew of a backend */
#define NGX_KEDGE_STORE_NEVER      0       /* never resolved */
#define NGX_KEDGE_STORE_FRESH      1       /* the last sync succeeded */
#define NGX_KEDGE_STORE_STALE      2       /* it failed: last known kept */


/* what a watching fetcher (k8s=) is doing */
#define NGX_KEDGE_STORE_WATCH_NONE     0   /* not a watched backend */
#define NGX_KEDGE_STORE_WATCH_LISTING  1   /* a list runs */
#define NGX_KEDGE_STORE_WATCH_WATCHING 2   /* a watch runs */
#define NGX_KEDGE_STORE_WATCH_RETRYING 3   /* waiting out a back-off */


/* the key of a block of counters: "backend/protocols/protocol" */
#define NGX_KEDGE_STORE_KEY_LEN    (NGX_KEDGE_STORE_NAME_LEN + 16)


/*
 * A counter of a discovered backend's slot is one word: the tag of the
 * holding it counts for in the high bits, the count in the low ones.  An
 * add whose tag is not the word's (a request of the slot's last holding,
 * finishing after the slot went to another backend) is dropped, so that
 * a count never passes from one backend to the next.  Tags are never 0:
 * a free slot's words are.
 */
#if (NGX_PTR_SIZE == 8)
#define NGX_KEDGE_STORE_COUNT_BITS 40
#else
#define NGX_KEDGE_STORE_COUNT_BITS 24
#endif

#define NGX_KEDGE_STORE_COUNT_MASK                                            \
    (((ngx_atomic_uint_t) 1 << NGX_KEDGE_STORE_COUNT_BITS) - 1)

#define NGX_KEDGE_STORE_TAGS                                                  \
    (((ngx_atomic_uint_t) 1                                                   \
      << (8 * sizeof(ngx_atomic_uint_t) - NGX_KEDGE_STORE_COUNT_BITS)) - 1)

#define ngx_kedge_store_tag(serial)                                           \
    (((ngx_atomic_uint_t) ((serial) % NGX_KEDGE_STORE_TAGS) + 1)              \
     << NGX_KEDGE_STORE_COUNT_BITS)


typedef struct {
    ngx_sockaddr_t                  sockaddr;
    socklen_t                       socklen;
    u_short                         name_len;
    u_char                          name[NGX_SOCKADDR_STRLEN];
} ngx_kedge_store_addr_t;


/* one backend in shared memory; written by the fetcher only */
typedef struct {
    ngx_atomic_t                    generation;
    ngx_uint_t                      state;
    time_t                          synced;      /* last successful sync */
    ngx_uint_t                      naddrs;
    ngx_kedge_store_addr_t         *addrs;       /* slab */
    ngx_atomic_t                    syncs;       /* successful, ever */
    ngx_atomic_t                    failures;    /* failed, ever */
    ngx_uint_t                      watch;       /* NGX_KEDGE_STORE_WATCH_* */

    /* a discovered backend's: who holds the slot (0: nobody), its kind */
    ngx_uint_t                      serial;
    ngx_uint_t                      kind;
    ngx_uint_t                      tls;         /* dialed with TLS */

    ngx_uint_t                      name_len;
    u_char                          name[NGX_KEDGE_STORE_NAME_LEN];
} ngx_kedge_store_backend_t;


/* the discovered routes: one blob, written whole by the fetcher */
typedef struct {
    ngx_atomic_t                    generation;
    ngx_uint_t                      state;
    time_t                          synced;
    ngx_uint_t                      full;        /* the last write failed */
    size_t                          len;
    u_char                         *data;        /* slab */
} ngx_kedge_store_routes_t;


/* a block of counters in shared memory, found again by key on reload */
typedef struct {
    ngx_uint_t                      offset;      /* in sh->counters */
    ngx_uint_t                      n;
    ngx_uint_t                      key_len;
    u_char                          key[NGX_KEDGE_STORE_KEY_LEN];
} ngx_kedge_store_block_t;


typedef struct {
    ngx_sockaddr_t                  sockaddr;
    socklen_t                       socklen;
    ngx_msec_t                      until;       /* ngx_current_msec */
} ngx_kedge_store_aside_t;


/* an OIDC issuer's keys in shared memory; written by the fetcher only */
typedef struct {
    ngx_atomic_t                    generation;  /* the key set changed */
    ngx_atomic_t                    attempts;    /* fetches finished */
    ngx_atomic_t                    failures;    /* of them, failed */
    ngx_atomic_t                    refetch;     /* a worker asks for one */
    time_t                          granted;     /* last refetch asked */
    ngx_uint_t                      state;
    time_t                          synced;      /* last successful fetch */
    ngx_uint_t                      epoch;       /* moves when a key goes */
    ngx_uint_t                      nkeys;
    size_t                          jwks_len;
    u_char                         *jwks;        /* slab: a JWK Set */
    ngx_uint_t                      url_len;
    u_char                          url[NGX_KEDGE_STORE_URL_LEN];
} ngx_kedge_store_issuer_t;


/* a verified token, by a digest of the token and of its policy */
typedef struct ngx_kedge_store_token_s  ngx_kedge_store_token_t;

struct ngx_kedge_store_token_s {
    ngx_kedge_store_token_t        *next;        /* in its bucket */
    ngx_queue_t                     queue;       /* least recently used */
    time_t                          expires;
    ngx_uint_t                      issuer;
    ngx_uint_t                      epoch;
    u_char                          digest[NGX_KEDGE_STORE_DIGEST_LEN];
    u_short                         sub_len;
    u_char                          sub[1];
};


typedef struct {
    ngx_uint_t                      nbackends;
    ngx_kedge_store_backend_t      *backends;
    ngx_atomic_t                    nomem;       /* updates lost: zone full */

    /* backends[nconfigured..nbackends): slots of discovered backends */
    ngx_uint_t                      nconfigured;
    ngx_uint_t                      serial;      /* the last one given */
    ngx_kedge_store_routes_t        routes;

    /* the slots' request counters, tagged words, "nslot_counters" each */
    ngx_uint_t                      nslot_counters;
    ngx_atomic_t                   *slot_counters;

    ngx_uint_t                      nissuers;
    ngx_kedge_store_issuer_t       *issuers;

    /* the counters of requests, updated with atomic adds, no lock */
    ngx_uint_t                      nblocks;
    ngx_kedge_store_block_t        *blocks;
    ngx_atomic_t                   *counters;

    ngx_kedge_store_token_t       **tokens;      /* buckets */
    ngx_uint_t                      tokens_mask;
    ngx_queue_t                     tokens_lru;
    ngx_uint_t                      ntokens;
    ngx_uint_t                      max_tokens;

    /* shared by every worker; copied by each when the generation moves */
    ngx_atomic_t                    aside_generation;
    ngx_uint_t                      aside_used;  /* slots ever taken */
    ngx_kedge_store_aside_t         aside[NGX_KEDGE_STORE_ASIDE];
} ngx_kedge_store_sh_t;


/*
 * A worker-local copy of a backend's endpoints.  Requests hold a
 * reference while they use it; the copy is freed after its last user.
 */
typedef struct {
    ngx_uint_t                      refs;
    ngx_uint_t                      generation;
    ngx_uint_t                      serial;      /* of a discovered backend */
    ngx_uint_t                      state;
    ngx_uint_t                      naddrs;
    ngx_addr_t                     *addrs;
} ngx_kedge_peers_t;


/* what the ops endpoints see of a backend in the zone */
typedef struct {
    ngx_uint_t                      state;
    time_t                          synced;
    ngx_uint_t                      generation;
    ngx_uint_t                      syncs;
    ngx_uint_t                      failures;
    ngx_uint_t                      watch;
    ngx_uint_t                      naddrs;
    ngx_str_t                      *names;       /* with a pool only */
} ngx_kedge_store_view_t;


/* what the ops endpoints see of a discovered backend, held now */
typedef struct {
    ngx_uint_t                      slot;
    ngx_uint_t                      serial;
    ngx_uint_t                      kind;
    ngx_uint_t                      tls;
    ngx_str_t                       name;
    ngx_kedge_store_view_t          view;
    ngx_atomic_uint_t              *counters;    /* its holding's counts */
} ngx_kedge_store_slot_view_t;


/* an endpoint set aside, and for how long still */
typedef struct {
    ngx_str_t                       name;
    ngx_msec_t                      left;
} ngx_kedge_store_aside_view_t;


typedef struct {
    ngx_shm_zone_t                 *shm_zone;
    ngx_slab_pool_t                *shpool;
    ngx_kedge_store_sh_t           *sh;

    ngx_array_t                     names;       /* ngx_str_t */
    ngx_uint_t                      ndynamic;    /* discovered backends */
    ngx_uint_t                      nslot_counters;   /* each one's */
    ngx_array_t                     issuer_urls; /* ngx_str_t */
    ngx_array_t                     blocks;  /* ngx_kedge_store_block_t */
    ngx_uint_t                      ncounters;
    ngx_pool_t                     *pool;        /* the configuration's */

    /* a newer configuration took over: its zone may be unmapped already */
    ngx_uint_t                      retired;

    /* worker-local: the current copy of each backend, of the set-aside */
    ngx_uint_t                      nlocal;
    ngx_kedge_peers_t             **local;
    ngx_uint_t                      aside_generation;
    ngx_uint_t                      aside_used;
    ngx_kedge_store_aside_t         aside[NGX_KEDGE_STORE_ASIDE];
} ngx_kedge_store_t;


ngx_kedge_store_t *ngx_kedge_store_create(ngx_conf_t *cf, ngx_str_t *name,
    size_t size, void *tag);
ngx_int_t ngx_kedge_store_register(ngx_kedge_store_t *store,
    ngx_str_t *name);

ngx_int_t ngx_kedge_store_update(ngx_kedge_store_t *store, ngx_uint_t index,
    ngx_addr_t *addrs, ngx_uint_t naddrs, ngx_log_t *log);
void ngx_kedge_store_failed(ngx_kedge_store_t *store, ngx_uint_t index,
    ngx_log_t *log);
ngx_msec_t ngx_kedge_store_backoff(ngx_msec_t *backoff);
void ngx_kedge_store_watch(ngx_kedge_store_t *store, ngx_uint_t index,
    ngx_uint_t watch);

ngx_int_t ngx_kedge_store_view(ngx_kedge_store_t *store, ngx_uint_t index,
    ngx_pool_t *pool, ngx_kedge_store_view_t *view);
ngx_array_t *ngx_kedge_store_aside_view(ngx_kedge_store_t *store,
    ngx_pool_t *pool);

ngx_int_t ngx_kedge_store_register_counters(ngx_kedge_store_t *store,
    ngx_str_t *key, ngx_uint_t n);
ngx_atomic_t *ngx_kedge_store_counters(ngx_kedge_store_t *store,
    ngx_uint_t block);

ngx_kedge_peers_t *ngx_kedge_store_peers(ngx_kedge_store_t *store,
    ngx_uint_t index, ngx_log_t *log);
void ngx_kedge_peers_release(ngx_kedge_peers_t *peers);

/* ngx_kedge_store_keys.c: issuers' key sets, verified tokens */
ngx_int_t ngx_kedge_store_register_issuer(ngx_kedge_store_t *store,
    ngx_str_t *url);
ngx_int_t ngx_kedge_store_keys_init(ngx_kedge_store_t *store);
void ngx_kedge_store_keys_adopt(ngx_kedge_store_t *store,
    ngx_kedge_store_t *old);
ngx_int_t ngx_kedge_store_keys_update(ngx_kedge_store_t *store,
    ngx_uint_t index, u_char *jwks, size_t len, ngx_uint_t nkeys,
    ngx_uint_t removed, ngx_log_t *log);
void ngx_kedge_store_keys_failed(ngx_kedge_store_t *store, ngx_uint_t index,
    ngx_log_t *log);
ngx_int_t ngx_kedge_store_keys_copy(ngx_kedge_store_t *store,
    ngx_uint_t index, u_char **jwks, size_t *len, ngx_uint_t *generation,
    ngx_uint_t *epoch, ngx_log_t *log);
ngx_uint_t ngx_kedge_store_keys_want(ngx_kedge_store_t *store,
    ngx_uint_t index, time_t cooldown);
ngx_int_t ngx_kedge_store_token_get(ngx_kedge_store_t *store, u_char *digest,
    u_char *sub, size_t *sub_len);
void ngx_kedge_store_token_put(ngx_kedge_store_t *store, u_char *digest,
    time_t expires, ngx_uint_t issuer, ngx_uint_t epoch, u_char *sub,
    size_t sub_len);

/* ngx_kedge_store_routes.c: discovered backends and routes */
void ngx_kedge_store_register_dynamic(ngx_kedge_store_t *store,
    ngx_uint_t n, ngx_uint_t ncounters);
ngx_uint_t ngx_kedge_store_dynamic_index(ngx_kedge_store_t *store,
    ngx_uint_t slot);
ngx_uint_t ngx_kedge_store_dynamic_take(ngx_kedge_store_t *store,
    ngx_uint_t slot, ngx_str_t *name, ngx_uint_t kind, ngx_uint_t tls);
void ngx_kedge_store_dynamic_tls(ngx_kedge_store_t *store, ngx_uint_t slot,
    ngx_uint_t tls);
void ngx_kedge_store_dynamic_release(ngx_kedge_store_t *store,
    ngx_uint_t slot);
void ngx_kedge_store_dynamic_count(ngx_kedge_store_t *store,
    ngx_uint_t index, ngx_uint_t serial, ngx_uint_t counter);
ngx_array_t *ngx_kedge_store_dynamic_view(ngx_kedge_store_t *store,
    ngx_pool_t *pool);
ngx_uint_t ngx_kedge_store_dynamic_held(ngx_kedge_store_t *store,
    ngx_uint_t slot, u_char *name, size_t *name_len, ngx_uint_t *kind);
ngx_int_t ngx_kedge_store_routes_update(ngx_kedge_store_t *store,
    u_char *data, size_t len, ngx_log_t *log);
void ngx_kedge_store_routes_failed(ngx_kedge_store_t *store);
ngx_uint_t ngx_kedge_store_routes_state(ngx_kedge_store_t *store);
ngx_int_t ngx_kedge_store_routes_copy(ngx_kedge_store_t *store,
    ngx_uint_t *generation, u_char **data, size_t *len, ngx_log_t *log);
void ngx_kedge_store_routes_adopt(ngx_kedge_store_t *store,
    ngx_kedge_store_t *old);

void ngx_kedge_store_set_aside(ngx_kedge_store_t *store,
    struct sockaddr *sockaddr, socklen_t socklen, ngx_msec_t backoff);
ngx_uint_t ngx_kedge_store_is_aside(ngx_kedge_store_t *store,
    struct sockaddr *sockaddr, socklen_t socklen);


#endif /* _NGX_KEDGE_STORE_H_INCLUDED_ */
