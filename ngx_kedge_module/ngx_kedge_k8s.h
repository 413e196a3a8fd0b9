
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


#define NGX_KEDGE_K8S_OK         0
#define NGX_KEDGE_K8S_ERROR     -1
#define NGX_KEDGE_K8S_AGAIN     -2

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


#endif /* _NGX_KEDGE_K8S_H_INCLUDED_ */
