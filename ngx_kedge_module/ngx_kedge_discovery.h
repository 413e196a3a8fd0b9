
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 */


#ifndef _NGX_KEDGE_DISCOVERY_H_INCLUDED_
#define _NGX_KEDGE_DISCOVERY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_kedge_store.h"
#include "ngx_kedge_k8s_client.h"


#define NGX_KEDGE_DISCOVERY_MAX_SERVICES   256
#define NGX_KEDGE_DISCOVERY_PORTS          16     /* kedge ports a Service */

/* a route set's backend that is a configured one, found by name */
#define NGX_KEDGE_DISCOVERY_CONFIGURED     0xffffffff


/*
 * The route set in the zone, as the fetcher writes it and the workers
 * read it: this header, the backends, then the routes, each record
 * followed by its strings and padded to 8 bytes.
 */
typedef struct {
    uint32_t                        nbackends;
    uint32_t                        nroutes;
} ngx_kedge_discovery_set_t;


typedef struct {
    uint64_t                        serial;      /* of the slot's holding */
    uint32_t                        slot;        /* or _CONFIGURED */
    uint16_t                        protocol;    /* NGX_KEDGE_K8S_HTTP.. */
    uint16_t                        tls;         /* TLS, not verified */
    uint16_t                        name_len;
    uint16_t                        tls_name_len;
    uint16_t                        target_len;  /* "service.ns:port" */
    /* name, tls_name, target */
} ngx_kedge_discovery_backend_t;


typedef struct {
    uint32_t                        backend;     /* in the set */
    uint16_t                        port;
    uint16_t                        host_len;
    uint16_t                        service_len; /* gRPC: the glob */
    uint16_t                        id_len;      /* "namespace/name:port" */
    /* host, service, id */
} ngx_kedge_discovery_route_t;


/* a configured backend: its name is not discovery's to take */
typedef struct {
    ngx_str_t                       name;
    ngx_uint_t                      protocols;   /* NGX_KEDGE_K8S_HTTP|.. */
} ngx_kedge_discovery_name_t;


typedef struct ngx_kedge_discovery_svc_s   ngx_kedge_discovery_svc_t;
typedef struct ngx_kedge_discovery_held_s  ngx_kedge_discovery_held_t;


typedef struct {
    ngx_str_t                       label_prefix;  /* NUL-terminated */
    ngx_str_t                       domain_suffix; /* NUL-terminated */
    ngx_uint_t                      max_services;
    ngx_uint_t                      max_backends;  /* slots in the store */
    ngx_kedge_k8s_api_t            *api;
    ngx_kedge_store_t              *store;
    ngx_array_t                     reserved;  /* ngx_kedge_discovery_name_t */

    /* run time, in the fetcher's process */
    ngx_kedge_k8s_reflector_t       reflector;
    ngx_log_t                      *log;
    ngx_kedge_discovery_svc_t     **services;      /* by namespace, name */
    ngx_uint_t                      nservices;
    ngx_uint_t                      nalloc;
    ngx_kedge_discovery_held_t     *held;          /* by slot */
    u_char                         *last;          /* the set last written */
    size_t                          last_len;
    ngx_uint_t                      over_services; /* as last logged */
    ngx_uint_t                      over_backends;
} ngx_kedge_discovery_t;


ngx_int_t ngx_kedge_discovery_start(ngx_kedge_discovery_t *d,
    ngx_pool_t *pool, ngx_log_t *log);


#endif /* _NGX_KEDGE_DISCOVERY_H_INCLUDED_ */
