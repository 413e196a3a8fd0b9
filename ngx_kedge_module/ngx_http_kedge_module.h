
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 */


#ifndef _NGX_HTTP_KEDGE_MODULE_H_INCLUDED_
#define _NGX_HTTP_KEDGE_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_kedge_store.h"
#include "ngx_kedge_resolve.h"
#include "ngx_kedge_k8s_client.h"


#define NGX_HTTP_KEDGE_VERSION            "0.1.0"


/* kedge keeps two backend name spaces, one per protocol */
#define NGX_HTTP_KEDGE_HTTP               0x01
#define NGX_HTTP_KEDGE_GRPC               0x02


/* how a backend is dialed; also the index of the kedge_pass flavour */
#define NGX_HTTP_KEDGE_TLS_OFF            0
#define NGX_HTTP_KEDGE_TLS_VERIFY         1
#define NGX_HTTP_KEDGE_TLS_INSECURE       2
#define NGX_HTTP_KEDGE_TLS_MODES          3


/* where a backend's endpoints come from */
#define NGX_HTTP_KEDGE_STATIC             0
#define NGX_HTTP_KEDGE_HOST               1
#define NGX_HTTP_KEDGE_SRV                2
#define NGX_HTTP_KEDGE_K8S                3


#define NGX_HTTP_KEDGE_MODE_ANY           0
#define NGX_HTTP_KEDGE_MODE_REVERSE       1
#define NGX_HTTP_KEDGE_MODE_FORWARD       2


/*
 * The X-Kedge-Error-Type values of SPEC section 6; the order is the
 * order of ngx_http_kedge_error_types[].
 */
typedef enum {
    NGX_HTTP_KEDGE_ERR_NONE = 0,
    NGX_HTTP_KEDGE_ERR_UNAUTHORIZED,
    NGX_HTTP_KEDGE_ERR_NO_ROUTE,
    NGX_HTTP_KEDGE_ERR_UNKNOWN_ROUTE,
    NGX_HTTP_KEDGE_ERR_NO_BACKEND,
    NGX_HTTP_KEDGE_ERR_TRANSPORT_CLOSED,
    NGX_HTTP_KEDGE_ERR_NO_CONNECTION,
    NGX_HTTP_KEDGE_ERR_NO_RESOLUTION,
    NGX_HTTP_KEDGE_ERR_TRANSPORT_UNKNOWN,
    NGX_HTTP_KEDGE_ERR_RESOLVER_WATCHER
} ngx_http_kedge_error_e;


typedef struct {
    ngx_str_t                       name;
    ngx_uint_t                      protocols;
    ngx_uint_t                      tls;
    ngx_str_t                       tls_name;

    ngx_uint_t                      source;        /* NGX_HTTP_KEDGE_STATIC.. */
    ngx_kedge_peers_t              *peers;         /* static endpoints */
    ngx_kedge_resolve_t            *resolve;       /* host=, srv= */
    ngx_kedge_k8s_watch_t          *k8s;           /* k8s= */
    ngx_int_t                       index;         /* in the store, or -1 */

    /* worker-local: the round-robin cursor, TLS sessions per endpoint */
    ngx_uint_t                      next;
#if (NGX_HTTP_SSL)
    ngx_ssl_session_t             **sessions;
#endif

    u_char                         *file;
    ngx_uint_t                      line;
} ngx_http_kedge_backend_t;


typedef struct {
    ngx_str_t                       name;          /* lower-cased */
    ngx_str_t                       value;
} ngx_http_kedge_match_header_t;


typedef struct {
    ngx_str_t                       pattern;
    unsigned                        prefix:1;
} ngx_http_kedge_glob_t;


typedef struct {
    ngx_uint_t                      id;            /* 1-based, per table */
    ngx_uint_t                      protocol;
    ngx_str_t                       backend_name;
    ngx_http_kedge_backend_t       *backend;

    ngx_str_t                       host;          /* empty: any */
    in_port_t                       port;          /* 0: any */

    /* HTTP: path_rules (empty: any); gRPC: one service glob */
    ngx_array_t                     globs;         /* ngx_http_kedge_glob_t */

    /* ngx_http_kedge_match_header_t: HTTP header_matcher, gRPC metadata */
    ngx_array_t                     headers;

    ngx_uint_t                      proxy_mode;

    u_char                         *file;
    ngx_uint_t                      line;
} ngx_http_kedge_route_t;


typedef struct ngx_http_kedge_route_list_s  ngx_http_kedge_route_list_t;


/* the routes of a list that can match one first path segment */
typedef struct {
    ngx_str_t                       name;
    ngx_http_kedge_route_list_t    *routes;
    ngx_uint_t                      count;         /* at configuration */
} ngx_http_kedge_segment_t;


/*
 * The routes that can match one host, in configuration order.  A long
 * list is also indexed by the first segment of the path ("/api" of
 * "/api/v1/users"; for gRPC the service of "pkg.Service/Method"): the
 * routes that can match a request with that segment, in the same order,
 * are found by a binary search, so the walk does not grow with the
 * routes of other paths.
 */
struct ngx_http_kedge_route_list_s {
    ngx_uint_t                      nelts;
    ngx_http_kedge_route_t        **elts;

    ngx_uint_t                      nsegments;     /* 0: not indexed */
    ngx_http_kedge_segment_t       *segments;      /* sorted by name */
    ngx_http_kedge_route_list_t    *unindexed;     /* any other segment */
};


typedef struct {
    ngx_array_t                     routes;        /* ngx_http_kedge_route_t */
    ngx_hash_t                      hosts;     /* host -> route list */
    ngx_http_kedge_route_list_t     any_host;
} ngx_http_kedge_route_table_t;


/* a kedge_pass location and its upstream, checked once all is parsed */
typedef struct {
    ngx_str_t                       upstream;
    ngx_http_upstream_srv_conf_t   *uscf;
    u_char                         *file;
    ngx_uint_t                      line;
} ngx_http_kedge_pass_ref_t;


typedef struct {
    ngx_array_t                     backends;  /* ngx_http_kedge_backend_t */
    ngx_array_t                     passes;   /* ngx_http_kedge_pass_ref_t */
    ngx_kedge_store_t              *store;
    ngx_kedge_k8s_api_t            *k8s_api;
    u_char                         *k8s_api_file;
    ngx_uint_t                      k8s_api_line;
    ngx_http_kedge_route_table_t    http;
    ngx_http_kedge_route_table_t    grpc;
} ngx_http_kedge_main_conf_t;


/* a hidden location that proxies with one backend TLS mode */
typedef struct {
    void                          **loc_conf;
    ngx_http_handler_pt             http_handler;
    ngx_http_handler_pt             grpc_handler;
} ngx_http_kedge_flavour_t;


#define NGX_HTTP_KEDGE_SET_ASIDE          2000


typedef struct {
    ngx_flag_t                      balancer;
    ngx_msec_t                      set_aside;
} ngx_http_kedge_srv_conf_t;


typedef struct {
    ngx_flag_t                      pass;
    ngx_http_kedge_flavour_t        flavours[NGX_HTTP_KEDGE_TLS_MODES];
} ngx_http_kedge_loc_conf_t;


/* what the request has been told about itself, stable once set */
typedef struct {
    ngx_str_t                       host;          /* lower-case, no port */
    in_port_t                       port;
    ngx_str_t                       authority;     /* host[:port] as sent */
    ngx_uint_t                      proxy_mode;
    unsigned                        grpc:1;
} ngx_http_kedge_request_t;


typedef struct {
    ngx_http_kedge_request_t        req;
    ngx_http_kedge_route_t         *route;
    ngx_http_kedge_backend_t       *backend;
    ngx_kedge_peers_t              *peers;
    ngx_http_kedge_error_e          error;
    ngx_uint_t                      tries;
    ngx_uint_t                      first;
    ngx_uint_t                      current;
    ngx_uint_t                      unreachable;  /* aside or refused */
    ngx_uint_t                      cached_retry;
    ngx_msec_t                      set_aside;
    ngx_http_request_t             *request;
    ngx_kedge_store_t              *store;
} ngx_http_kedge_ctx_t;


extern ngx_module_t  ngx_http_kedge_module;
extern ngx_str_t     ngx_http_kedge_error_types[];


/* ngx_http_kedge_backend.c */
char *ngx_http_kedge_backend_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_http_kedge_backend_t *ngx_http_kedge_backend_find(
    ngx_http_kedge_main_conf_t *kmcf, ngx_str_t *name, ngx_uint_t protocol);
ngx_int_t ngx_http_kedge_backend_name_valid(ngx_str_t *name);
char *ngx_http_kedge_zone_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_kedge_kubernetes_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_kedge_backends_init(ngx_conf_t *cf,
    ngx_http_kedge_main_conf_t *kmcf);
ngx_int_t ngx_http_kedge_backends_tls_check(ngx_conf_t *cf,
    ngx_http_kedge_main_conf_t *kmcf);
ngx_int_t ngx_http_kedge_backends_start(ngx_cycle_t *cycle,
    ngx_http_kedge_main_conf_t *kmcf);
ngx_kedge_peers_t *ngx_http_kedge_backend_peers(ngx_http_request_t *r,
    ngx_http_kedge_backend_t *backend);

/* ngx_http_kedge_router.c */
char *ngx_http_kedge_http_route_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_kedge_grpc_route_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_kedge_router_init(ngx_conf_t *cf,
    ngx_http_kedge_main_conf_t *kmcf);
ngx_http_kedge_ctx_t *ngx_http_kedge_route(ngx_http_request_t *r);

/* ngx_http_kedge_pass.c */
char *ngx_http_kedge_pass_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_kedge_pass_init(ngx_conf_t *cf);
char *ngx_http_kedge_pass_merge(ngx_conf_t *cf,
    ngx_http_kedge_loc_conf_t *prev, ngx_http_kedge_loc_conf_t *conf);
ngx_int_t ngx_http_kedge_add_variables(ngx_conf_t *cf);

/* ngx_http_kedge_ops.c */
char *ngx_http_kedge_health_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* ngx_http_kedge_balancer.c */
char *ngx_http_kedge_balancer_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
void ngx_http_kedge_balancer_adopt(ngx_http_upstream_srv_conf_t *uscf);
ngx_int_t ngx_http_kedge_balancer_check(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *uscf);
ngx_uint_t ngx_http_kedge_balancer_wrapped(ngx_http_upstream_srv_conf_t *uscf);


#endif /* _NGX_HTTP_KEDGE_MODULE_H_INCLUDED_ */
