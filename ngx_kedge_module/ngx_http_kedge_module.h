
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
#include "ngx_kedge_discovery.h"
#include "ngx_kedge_oidc.h"
#include "ngx_http_kedge_metrics.h"


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


/* what a request must show: kedge_auth, a route's auth= */
#define NGX_HTTP_KEDGE_AUTH_OFF           0
#define NGX_HTTP_KEDGE_AUTH_CERT          1
#define NGX_HTTP_KEDGE_AUTH_TOKEN         2
#define NGX_HTTP_KEDGE_AUTH_EITHER        3
#define NGX_HTTP_KEDGE_AUTH_BOTH          4


/* what a client certificate rule looks at */
#define NGX_HTTP_KEDGE_CERT_DNS           0
#define NGX_HTTP_KEDGE_CERT_URI           1
#define NGX_HTTP_KEDGE_CERT_CN            2


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
    ngx_uint_t                      serial;        /* discovered: its slot's */
    ngx_str_t                       target;        /* discovered: k8s= */

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


/* one identity a client certificate may have, compiled */
typedef struct {
    ngx_uint_t                      type;          /* NGX_HTTP_KEDGE_CERT_* */
    ngx_str_t                       pattern;       /* DNS: lower-cased */
    unsigned                        label:1;       /* "*.": one DNS label */
    unsigned                        prefix:1;      /* a trailing "*" */
} ngx_http_kedge_cert_rule_t;


typedef struct {
    ngx_uint_t                      id;            /* 1-based, per table */
    ngx_str_t                       name;          /* discovered: ns/svc:port */
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

    /* on top of the location's kedge_auth: auth=, cert_*= */
    ngx_uint_t                      auth;
    ngx_uint_t                      auth_set;
    ngx_array_t                    *cert_rules;

    /* a kedge_http_route at file:line, or a route of a kedge_config file */
    u_char                         *file;
    ngx_uint_t                      line;
    ngx_str_t                       path;          /* "http.routes[3]" */
} ngx_http_kedge_route_t;


typedef struct ngx_http_kedge_route_list_s  ngx_http_kedge_route_list_t;


/* a name (a host, a first segment) and its routes: a slot of an index */
typedef struct {
    ngx_str_t                       name;          /* empty: a free slot */
    ngx_uint_t                      key;           /* ngx_hash_key() */
    ngx_http_kedge_route_list_t    *routes;
} ngx_http_kedge_index_slot_t;


/* names to routes: open addressing, at most half full */
typedef struct {
    ngx_http_kedge_index_slot_t    *slots;         /* NULL: no names */
    ngx_uint_t                      mask;          /* slots - 1 */
    ngx_uint_t                      shift;         /* 32 - log2(slots) */
} ngx_http_kedge_index_t;


/*
 * The routes of one host, or the host-less ones, in configuration order.
 * A list of 8 routes or more is also indexed by the first segment of the
 * path ("/api" of "/api/v1/users"; for gRPC the service of
 * "pkg.Service/Method"): its routes that can match a request are then
 * those of the request's segment and those that can match any segment
 * ("any": no path, or a glob such as "/api*", which also matches
 * "/apis"), each in configuration order.
 */
struct ngx_http_kedge_route_list_s {
    ngx_uint_t                      nelts;
    ngx_http_kedge_route_t        **elts;

    ngx_http_kedge_index_t          segments;      /* no slots: walked */
    ngx_uint_t                      nany;
    ngx_http_kedge_route_t        **any;
};


/* a port, or an inclusive range of ports, an adhoc rule allows */
typedef struct {
    in_port_t                       from;
    in_port_t                       to;
} ngx_http_kedge_port_range_t;


#define NGX_HTTP_KEDGE_ADHOC_CURSORS      32


/* an adhoc rule: names no route knows, resolved and dialed directly */
typedef struct {
    ngx_uint_t                      id;            /* 1-based, per table */
    ngx_uint_t                      protocol;
    ngx_str_t                       matcher;       /* as written */
    ngx_str_t                       key;           /* name, ".suffix", "" */
    in_port_t                       default_port;
    ngx_array_t                     ports;  /* ngx_http_kedge_port_range_t */
    ngx_str_t                       pattern;       /* empty: no replace */
    ngx_str_t                       substitution;
    ngx_array_t                    *allow;         /* ngx_cidr_t */
    ngx_array_t                    *deny;          /* ngx_cidr_t */
    ngx_uint_t                      tls;

    /* worker-local: round-robin cursors, a name's by a hash of it */
    ngx_uint_t                      next[NGX_HTTP_KEDGE_ADHOC_CURSORS];

    u_char                         *file;
    ngx_uint_t                      line;
    ngx_str_t                       path;          /* "http.adhoc_rules[0]" */
} ngx_http_kedge_adhoc_t;


typedef struct {
    ngx_array_t                     routes;        /* ngx_http_kedge_route_t */
    ngx_http_kedge_index_t          hosts;     /* host -> its routes */
    ngx_http_kedge_route_list_t     any_host;

    ngx_array_t                     adhoc;        /* ngx_http_kedge_adhoc_t */
    ngx_hash_t                      adhoc_names;  /* key -> first rule */
    ngx_http_kedge_adhoc_t         *adhoc_any;    /* the first "*" rule */
} ngx_http_kedge_route_table_t;


typedef struct ngx_http_kedge_discovery_conf_s
    ngx_http_kedge_discovery_conf_t;


/* a kedge_pass location and its upstream, checked once all is parsed */
typedef struct {
    ngx_str_t                       upstream;
    ngx_http_upstream_srv_conf_t   *uscf;
    ngx_http_core_loc_conf_t       *clcf;
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
    ngx_http_kedge_discovery_conf_t  *discovery;
    ngx_array_t                     issuers;  /* ngx_kedge_oidc_issuer_t * */

    /*
     * the request counters: blocks in the store from "counters" on, two
     * (HTTP, gRPC requests) per entry: each backend, requests without
     * one, each adhoc rule (HTTP rules, then gRPC rules); an entry's
     * backend_name label and the protocols it serves
     */
    ngx_uint_t                      counters;
    ngx_uint_t                      nentries;
    ngx_str_t                      *entry_names;
    ngx_uint_t                     *entry_protocols;

    ngx_int_t                       request_id_var;    /* $request_id */
    ngx_int_t                       kedge_request_id_var;
} ngx_http_kedge_main_conf_t;


/* a hidden location that proxies with one backend TLS mode */
typedef struct {
    void                          **loc_conf;
    ngx_http_handler_pt             http_handler;
    ngx_http_handler_pt             grpc_handler;
} ngx_http_kedge_flavour_t;


#define NGX_HTTP_KEDGE_SET_ASIDE          2000


/* kedge_balancer keepalive=: the idle connections of one worker */
typedef struct ngx_http_kedge_keepalive_s  ngx_http_kedge_keepalive_t;


typedef struct {
    ngx_flag_t                      balancer;
    ngx_msec_t                      set_aside;

    /* keepalive=N and the rest: 0 when the balancer keeps no connections */
    ngx_uint_t                      keepalive;
    ngx_uint_t                      keepalive_per_endpoint;
    ngx_uint_t                      keepalive_requests;
    ngx_msec_t                      keepalive_time;
    ngx_msec_t                      keepalive_timeout;

    /* worker-local, made when the first connection is kept */
    ngx_http_kedge_keepalive_t     *cache;
} ngx_http_kedge_srv_conf_t;


/* kedge_bearer_token: only its digest is kept */
typedef struct {
    u_char                          digest[32];
    u_char                         *file;
    ngx_uint_t                      line;
} ngx_http_kedge_bearer_t;


typedef struct {
    ngx_flag_t                      pass;
    ngx_http_kedge_flavour_t        flavours[NGX_HTTP_KEDGE_TLS_MODES];

    ngx_uint_t                      auth;          /* as written */
    ngx_uint_t                      policy;        /* in effect */
    ngx_array_t                    *cert_rules;
    ngx_kedge_oidc_policy_t        *oidc;
    ngx_http_kedge_bearer_t        *bearer;
    ngx_uint_t                      auth_log;
    u_char                         *oidc_file;
    ngx_uint_t                      oidc_line;
    u_char                         *auth_file;
    ngx_uint_t                      auth_line;

    ngx_flag_t                      request_id;    /* kedge_request_id */
    ngx_flag_t                      info_logs;     /* kedge_info_logs */
} ngx_http_kedge_loc_conf_t;


/* what the request has been told about itself, stable once set */
typedef struct {
    ngx_str_t                       host;          /* lower-case, no port */
    in_port_t                       port;
    ngx_str_t                       authority;     /* host[:port] as sent */
    ngx_uint_t                      proxy_mode;
    unsigned                        grpc:1;
    unsigned                        port_given:1;  /* port 0: malformed */
} ngx_http_kedge_request_t;


/* what the authorizer found out about a request */
typedef struct {
    ngx_int_t                       token;         /* once checked */
    const char                     *cert_reason;
    const char                     *token_reason;
    ngx_str_t                       subject;       /* the token's "sub" */
    ngx_uint_t                      method;        /* NGX_HTTP_KEDGE_AUTH_* */
    ngx_uint_t                      attempts;      /* the issuer's, waiting */
    ngx_msec_t                      wait_until;
    unsigned                        token_checked:1;
    unsigned                        waited:1;
    unsigned                        done:1;
} ngx_http_kedge_auth_t;


/*
 * What an adhoc rule needs of a request, allocated when one matches, so
 * that the requests of configured routes do not carry it: the name
 * resolved, the resolution pending, and the rules' refusals with their
 * own message and statuses.
 */
typedef struct {
    ngx_str_t                       name;
    in_port_t                       port;
    ngx_resolver_ctx_t             *resolving;
    ngx_str_t                       error_message;
    ngx_uint_t                      error_status;
    ngx_uint_t                      error_grpc;
    unsigned                        waiting:1;
} ngx_http_kedge_adhoc_ctx_t;


typedef struct {
    ngx_http_kedge_request_t        req;
    ngx_uint_t                      routed;
    ngx_http_kedge_auth_t           auth;
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
    ngx_http_kedge_srv_conf_t      *keepalive;    /* keepalive=, or NULL */
    ngx_http_request_t             *request;
    ngx_kedge_store_t              *store;
    ngx_table_elt_t                *request_id;   /* X-Kedge-Request-ID */
    unsigned                        info_logs:1;  /* X-Kedge-Info-Logs */

    /* an adhoc rule matched: the rule, and what it needs of the request */
    ngx_http_kedge_adhoc_t         *adhoc;
    ngx_http_kedge_adhoc_ctx_t     *adhoc_ctx;
} ngx_http_kedge_ctx_t;


/* an answer of the ops endpoints, written piece by piece */
typedef struct {
    ngx_http_request_t             *request;
    ngx_chain_t                    *out;
    ngx_chain_t                   **last;
    ngx_buf_t                      *buf;
    off_t                           len;
    ngx_uint_t                      error;
} ngx_http_kedge_text_t;


extern ngx_module_t  ngx_http_kedge_module;
extern ngx_str_t     ngx_http_kedge_error_types[];


/* ngx_http_kedge_backend.c */
char *ngx_http_kedge_backend_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_http_kedge_backend_t *ngx_http_kedge_backend_find(
    ngx_http_kedge_main_conf_t *kmcf, ngx_str_t *name, ngx_uint_t protocol);
ngx_int_t ngx_http_kedge_backend_name_valid(ngx_str_t *name);
ngx_http_kedge_backend_t *ngx_http_kedge_backend_add(ngx_conf_t *cf,
    ngx_http_kedge_main_conf_t *kmcf, ngx_str_t *name);
ngx_int_t ngx_http_kedge_backend_host(ngx_conf_t *cf,
    ngx_http_kedge_backend_t *backend, ngx_str_t *name, in_port_t port);
ngx_int_t ngx_http_kedge_backend_srv(ngx_conf_t *cf,
    ngx_http_kedge_backend_t *backend, ngx_str_t *dns_name, in_port_t port);
ngx_int_t ngx_http_kedge_backend_k8s(ngx_conf_t *cf,
    ngx_http_kedge_backend_t *backend, ngx_str_t *spec);
ngx_uint_t ngx_http_kedge_backend_done(ngx_conf_t *cf,
    ngx_http_kedge_main_conf_t *kmcf, ngx_http_kedge_backend_t *backend);
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
ngx_http_kedge_route_t *ngx_http_kedge_route_add(ngx_conf_t *cf,
    ngx_http_kedge_main_conf_t *kmcf, ngx_uint_t protocol);
ngx_int_t ngx_http_kedge_host_name(ngx_str_t *host);
ngx_int_t ngx_http_kedge_route_glob(ngx_http_kedge_route_t *route,
    ngx_str_t *s);
ngx_int_t ngx_http_kedge_route_header(ngx_http_kedge_route_t *route,
    ngx_str_t *name, ngx_str_t *value);
ngx_int_t ngx_http_kedge_proxy_mode(ngx_str_t *s);
ngx_int_t ngx_http_kedge_router_init(ngx_conf_t *cf,
    ngx_http_kedge_main_conf_t *kmcf);
ngx_int_t ngx_http_kedge_table_build(ngx_pool_t *pool, ngx_pool_t *temp_pool,
    ngx_http_kedge_route_table_t *table);
ngx_http_kedge_ctx_t *ngx_http_kedge_ctx(ngx_http_request_t *r);
ngx_http_kedge_ctx_t *ngx_http_kedge_route(ngx_http_request_t *r);

/* ngx_http_kedge_adhoc.c */
char *ngx_http_kedge_http_adhoc_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_kedge_grpc_adhoc_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_http_kedge_adhoc_t *ngx_http_kedge_adhoc_add(ngx_conf_t *cf,
    ngx_http_kedge_main_conf_t *kmcf, ngx_uint_t protocol);
ngx_int_t ngx_http_kedge_adhoc_matcher(ngx_http_kedge_adhoc_t *rule,
    ngx_str_t *matcher);
ngx_int_t ngx_http_kedge_adhoc_port_range(ngx_http_kedge_adhoc_t *rule,
    ngx_int_t from, ngx_int_t to);
ngx_int_t ngx_http_kedge_adhoc_replace_valid(ngx_http_kedge_adhoc_t *rule);
ngx_int_t ngx_http_kedge_adhoc_cidrs(ngx_conf_t *cf, ngx_array_t **cidrs,
    ngx_str_t *list);
ngx_int_t ngx_http_kedge_adhoc_init(ngx_conf_t *cf,
    ngx_http_kedge_main_conf_t *kmcf);
ngx_int_t ngx_http_kedge_adhoc_match(ngx_http_request_t *r,
    ngx_http_kedge_ctx_t *ctx);
ngx_int_t ngx_http_kedge_adhoc_pass(ngx_http_request_t *r,
    ngx_http_kedge_ctx_t *ctx);

/* ngx_http_kedge_config.c */
char *ngx_http_kedge_config_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* ngx_http_kedge_discovered.c */
char *ngx_http_kedge_discovery_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_kedge_discovery_init(ngx_conf_t *cf,
    ngx_http_kedge_main_conf_t *kmcf);
ngx_int_t ngx_http_kedge_discovery_start(ngx_cycle_t *cycle,
    ngx_http_kedge_main_conf_t *kmcf);
ngx_uint_t ngx_http_kedge_discovery_ready(ngx_http_kedge_main_conf_t *kmcf);
ngx_http_kedge_route_table_t *ngx_http_kedge_discovered_table(
    ngx_http_request_t *r, ngx_uint_t grpc);
ngx_int_t ngx_http_kedge_discovered_view(ngx_http_request_t *r,
    ngx_http_kedge_route_table_t **http, ngx_http_kedge_route_table_t **grpc,
    ngx_array_t **backends);

/* ngx_http_kedge_pass.c */
char *ngx_http_kedge_pass_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_kedge_pass_init(ngx_conf_t *cf);
char *ngx_http_kedge_pass_merge(ngx_conf_t *cf,
    ngx_http_kedge_loc_conf_t *prev, ngx_http_kedge_loc_conf_t *conf);
ngx_int_t ngx_http_kedge_add_variables(ngx_conf_t *cf);
ngx_int_t ngx_http_kedge_register_variables(ngx_conf_t *cf,
    ngx_http_variable_t *vars);
ngx_int_t ngx_http_kedge_pass_proxy(ngx_http_request_t *r,
    ngx_http_kedge_ctx_t *ctx);
ngx_int_t ngx_http_kedge_error(ngx_http_request_t *r,
    ngx_http_kedge_ctx_t *ctx);

/* ngx_http_kedge_auth.c */
char *ngx_http_kedge_auth_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_kedge_oidc_issuer_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_kedge_oidc_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_kedge_bearer_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_kedge_client_cert_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_kedge_auth_route_param(ngx_conf_t *cf,
    ngx_command_t *cmd, ngx_http_kedge_route_t *route, ngx_str_t *value);
ngx_int_t ngx_http_kedge_auth_route_check(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_http_kedge_route_t *route);
void ngx_http_kedge_auth_create_conf(ngx_http_kedge_loc_conf_t *klcf);
char *ngx_http_kedge_auth_merge(ngx_conf_t *cf,
    ngx_http_kedge_loc_conf_t *prev, ngx_http_kedge_loc_conf_t *conf);
ngx_int_t ngx_http_kedge_auth_init(ngx_conf_t *cf,
    ngx_http_kedge_main_conf_t *kmcf);
ngx_int_t ngx_http_kedge_auth_start(ngx_cycle_t *cycle,
    ngx_http_kedge_main_conf_t *kmcf);
ngx_int_t ngx_http_kedge_auth_add_variables(ngx_conf_t *cf);

/* ngx_http_kedge_ops.c */
char *ngx_http_kedge_health_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_kedge_ops_request(ngx_http_request_t *r);
ngx_int_t ngx_http_kedge_no_cache(ngx_http_request_t *r);
void ngx_http_kedge_text_init(ngx_http_kedge_text_t *t,
    ngx_http_request_t *r);
void ngx_http_kedge_text_printf(ngx_http_kedge_text_t *t,
    const char *fmt, ...);
void ngx_http_kedge_text_escaped(ngx_http_kedge_text_t *t, ngx_str_t *s,
    ngx_uint_t json);
ngx_int_t ngx_http_kedge_text_send(ngx_http_kedge_text_t *t,
    char *content_type);

/* ngx_http_kedge_metrics.c */
char *ngx_http_kedge_metrics_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_kedge_metrics_init(ngx_conf_t *cf,
    ngx_http_kedge_main_conf_t *kmcf);
ngx_str_t *ngx_http_kedge_backend_protocol(ngx_http_kedge_backend_t *backend);
ngx_str_t *ngx_http_kedge_store_state(ngx_uint_t state);

/* ngx_http_kedge_status.c */
char *ngx_http_kedge_status_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* ngx_http_kedge_trace.c */
ngx_int_t ngx_http_kedge_trace_add_variables(ngx_conf_t *cf);
ngx_int_t ngx_http_kedge_trace_init(ngx_conf_t *cf,
    ngx_http_kedge_main_conf_t *kmcf);
void ngx_http_kedge_trace_request(ngx_http_request_t *r,
    ngx_http_kedge_ctx_t *ctx);
void ngx_http_kedge_log(ngx_http_request_t *r, ngx_uint_t level,
    const char *fmt, ...);
void ngx_http_kedge_info_core(ngx_http_request_t *r, const char *fmt, ...);

/*
 * a line only for a request with X-Kedge-Info-Logs: the test is made
 * here, as ngx_log_error() makes its own, so that the other requests pay
 * neither a call with variable arguments nor the arguments
 */
#define ngx_http_kedge_info(r, ...)                                           \
    if (ngx_http_get_module_ctx(r, ngx_http_kedge_module) != NULL             \
        && ((ngx_http_kedge_ctx_t *)                                          \
            ngx_http_get_module_ctx(r, ngx_http_kedge_module))->info_logs)    \
        ngx_http_kedge_info_core(r, __VA_ARGS__)

/* ngx_http_kedge_balancer.c */
char *ngx_http_kedge_balancer_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
void ngx_http_kedge_balancer_adopt(ngx_http_upstream_srv_conf_t *uscf);
ngx_int_t ngx_http_kedge_balancer_check(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *uscf);
ngx_uint_t ngx_http_kedge_balancer_wrapped(ngx_http_upstream_srv_conf_t *uscf);

/* ngx_http_kedge_keepalive.c */
char *ngx_http_kedge_keepalive_param(ngx_conf_t *cf,
    ngx_http_kedge_srv_conf_t *kscf, ngx_str_t *value);
char *ngx_http_kedge_keepalive_check(ngx_conf_t *cf,
    ngx_http_kedge_srv_conf_t *kscf);
ngx_int_t ngx_http_kedge_keepalive_get(ngx_http_kedge_ctx_t *ctx,
    ngx_peer_connection_t *pc);
void ngx_http_kedge_keepalive_free(ngx_http_kedge_ctx_t *ctx,
    ngx_peer_connection_t *pc, ngx_uint_t state);


#endif /* _NGX_HTTP_KEDGE_MODULE_H_INCLUDED_ */
