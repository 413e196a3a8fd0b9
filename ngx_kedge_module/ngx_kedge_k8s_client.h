
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 */


#ifndef _NGX_KEDGE_K8S_CLIENT_H_INCLUDED_
#define _NGX_KEDGE_K8S_CLIENT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_kedge_store.h"
#include "ngx_kedge_curl.h"


/* the Kubernetes API server and how to talk to it */
typedef struct {
    ngx_str_t                       url;          /* no trailing "/" */
    ngx_str_t                       token_file;
    ngx_str_t                       ca_file;
    size_t                          max_size;     /* list body, watch frame */

    ngx_kedge_curl_t               *curl;         /* run time */
} ngx_kedge_k8s_api_t;


typedef struct ngx_kedge_k8s_slice_s  ngx_kedge_k8s_slice_entry_t;


/* one k8s= backend: the EndpointSlices of a Service, listed and watched */
typedef struct {
    ngx_str_t                       backend;      /* for logs */
    ngx_str_t                       service;
    ngx_str_t                       namespace;
    ngx_str_t                       port_name;    /* or: */
    in_port_t                       port_number;

    ngx_kedge_k8s_api_t            *api;
    ngx_uint_t                      index;        /* in the store */
    ngx_kedge_store_t              *store;

    /* run time, in the fetcher's process */
    ngx_log_t                      *log;
    ngx_kedge_http_t                http;
    ngx_uint_t                      watching;     /* else listing */
    ngx_uint_t                      busy;         /* a transfer runs */
    ngx_uint_t                      failing;
    ngx_uint_t                      unauthorized;
    ngx_uint_t                      relist;
    ngx_msec_t                      backoff;
    ngx_event_t                     timer;

    u_char                          rv[64];       /* resourceVersion */
    size_t                          rv_len;

    u_char                         *buf;          /* body, frames */
    size_t                          buf_len;
    size_t                          buf_size;

    ngx_kedge_k8s_slice_entry_t    *slices;       /* by slice name */
} ngx_kedge_k8s_watch_t;


ngx_int_t ngx_kedge_k8s_watch_start(ngx_kedge_k8s_watch_t *w,
    ngx_pool_t *pool, ngx_log_t *log);


#endif /* _NGX_KEDGE_K8S_CLIENT_H_INCLUDED_ */
