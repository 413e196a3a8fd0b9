
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 *
 * Decoding the Kubernetes API's protobuf wire format: plain C on top of
 * protobuf-c, without nginx, so that unit tests and fuzzers link it.
 */


#ifndef _NGX_KEDGE_K8S_H_INCLUDED_
#define _NGX_KEDGE_K8S_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "k8s.io/apimachinery/pkg/runtime/generated.pb-c.h"
#include "k8s.io/apimachinery/pkg/apis/meta/v1/generated.pb-c.h"
#include "k8s.io/api/discovery/v1/generated.pb-c.h"
#include "k8s.io/api/core/v1/generated.pb-c.h"


#define NGX_KEDGE_K8S_OK         0
#define NGX_KEDGE_K8S_ERROR     -1
#define NGX_KEDGE_K8S_AGAIN     -2
#define NGX_KEDGE_K8S_DECLINED  -5

#define NGX_KEDGE_K8S_ADDR_LEN  46        /* INET6_ADDRSTRLEN */


typedef K8s__Io__Apimachinery__Pkg__Runtime__Unknown
    ngx_kedge_k8s_unknown_t;
typedef K8s__Io__Apimachinery__Pkg__Apis__Meta__V1__WatchEvent
    ngx_kedge_k8s_watch_event_t;
typedef K8s__Io__Apimachinery__Pkg__Apis__Meta__V1__Status
    ngx_kedge_k8s_status_t;
typedef K8s__Io__Api__Discovery__V1__EndpointSlice
    ngx_kedge_k8s_slice_t;
typedef K8s__Io__Api__Discovery__V1__EndpointSliceList
    ngx_kedge_k8s_slice_list_t;
typedef K8s__Io__Api__Core__V1__Service
    ngx_kedge_k8s_service_t;
typedef K8s__Io__Api__Core__V1__ServiceList
    ngx_kedge_k8s_service_list_t;


/* kedge's dynamic routing discovery: what a labelled Service exposes */

#define NGX_KEDGE_K8S_HTTP          1
#define NGX_KEDGE_K8S_GRPC          2

#define NGX_KEDGE_K8S_LABEL_LEN     63    /* a Service, a namespace */
#define NGX_KEDGE_K8S_PORT_LEN      63    /* a port name */
#define NGX_KEDGE_K8S_HOST_LEN      253
#define NGX_KEDGE_K8S_BACKEND_LEN   64    /* kedge: ^[a-z_0-9.]{2,64}$ */
#define NGX_KEDGE_K8S_PREFIX_LEN    253   /* <prefix>kedge-exposed */


/* one port named http, grpc, httptls or grpctls (or "<that>-*") */
typedef struct {
    int                       protocol;   /* NGX_KEDGE_K8S_HTTP, _GRPC */
    int                       tls;        /* TLS to the backend, unverified */
    uint16_t                  port;       /* the Service port: the route's */
    char                      name[NGX_KEDGE_K8S_PORT_LEN + 1];
    char                      backend[NGX_KEDGE_K8S_BACKEND_LEN + 1];
} ngx_kedge_k8s_exposed_port_t;


typedef struct {
    char                            namespace[NGX_KEDGE_K8S_LABEL_LEN + 1];
    char                            name[NGX_KEDGE_K8S_LABEL_LEN + 1];
    char                            host[NGX_KEDGE_K8S_HOST_LEN + 1];
    char                            service[NGX_KEDGE_K8S_HOST_LEN + 1];

    size_t                          nports;
    ngx_kedge_k8s_exposed_port_t   *ports;       /* the caller's room */

    /* ports named for kedge but left out: how many, the first, why */
    size_t                          skipped;
    char                            skipped_port[NGX_KEDGE_K8S_PORT_LEN + 1];
    const char                     *skipped_reason;
} ngx_kedge_k8s_exposed_t;


/* an endpoint that may receive requests */
typedef struct {
    char                      addr[NGX_KEDGE_K8S_ADDR_LEN];
    int                       family;     /* AF_INET, AF_INET6 */
    uint16_t                  port;
} ngx_kedge_k8s_endpoint_t;


ngx_kedge_k8s_unknown_t *ngx_kedge_k8s_unwrap(const uint8_t *data,
    size_t len, ProtobufCAllocator *allocator, const char **err);
int ngx_kedge_k8s_frame(const uint8_t *data, size_t len, size_t max,
    size_t *frame_len, const char **err);
int ngx_kedge_k8s_slice_endpoints(const ngx_kedge_k8s_slice_t *slice,
    const char *port_name, uint16_t port_number,
    ngx_kedge_k8s_endpoint_t *out, size_t max, size_t *n, const char **err);
int ngx_kedge_k8s_label_prefix_valid(const char *prefix);
int ngx_kedge_k8s_host_valid(const char *host);
int ngx_kedge_k8s_service_expose(const ngx_kedge_k8s_service_t *svc,
    const char *prefix, const char *domain_suffix,
    ngx_kedge_k8s_exposed_t *out, ngx_kedge_k8s_exposed_port_t *ports,
    size_t max, const char **err);


#endif /* _NGX_KEDGE_K8S_H_INCLUDED_ */
