
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 */


#ifndef _NGX_KEDGE_STORE_H_INCLUDED_
#define _NGX_KEDGE_STORE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_KEDGE_STORE_NAME_LEN   64

/* endpoints set aside after a failed connect, at most this many at once */
#define NGX_KEDGE_STORE_ASIDE      256


/* what the fetcher last knew of a backend */
#define NGX_KEDGE_STORE_NEVER      0       /* never resolved */
#define NGX_KEDGE_STORE_FRESH      1       /* the last sync succeeded */
#define NGX_KEDGE_STORE_STALE      2       /* it failed: last known kept */


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
    ngx_uint_t                      name_len;
    u_char                          name[NGX_KEDGE_STORE_NAME_LEN];
} ngx_kedge_store_backend_t;


typedef struct {
    ngx_sockaddr_t                  sockaddr;
    socklen_t                       socklen;
    ngx_msec_t                      until;       /* ngx_current_msec */
} ngx_kedge_store_aside_t;


typedef struct {
    ngx_uint_t                      nbackends;
    ngx_kedge_store_backend_t      *backends;
    ngx_atomic_t                    nomem;       /* updates lost: zone full */

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
    ngx_uint_t                      state;
    ngx_uint_t                      naddrs;
    ngx_addr_t                     *addrs;
} ngx_kedge_peers_t;


typedef struct {
    ngx_shm_zone_t                 *shm_zone;
    ngx_slab_pool_t                *shpool;
    ngx_kedge_store_sh_t           *sh;

    ngx_array_t                     names;       /* ngx_str_t */
    ngx_pool_t                     *pool;        /* the configuration's */

    /* a newer configuration took over: its zone may be unmapped already */
    ngx_uint_t                      retired;

    /* worker-local: the current copy of each backend, of the set-aside */
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

ngx_kedge_peers_t *ngx_kedge_store_peers(ngx_kedge_store_t *store,
    ngx_uint_t index, ngx_log_t *log);
void ngx_kedge_peers_release(ngx_kedge_peers_t *peers);

void ngx_kedge_store_set_aside(ngx_kedge_store_t *store,
    struct sockaddr *sockaddr, socklen_t socklen, ngx_msec_t backoff);
ngx_uint_t ngx_kedge_store_is_aside(ngx_kedge_store_t *store,
    struct sockaddr *sockaddr, socklen_t socklen);


#endif /* _NGX_KEDGE_STORE_H_INCLUDED_ */
