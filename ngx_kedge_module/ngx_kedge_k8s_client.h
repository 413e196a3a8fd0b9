
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
#include "ngx_kedge_k8s.h"


/* the Kubernetes API server and how to talk to it */
typedef struct {
    ngx_str_t                       url;          /* no trailing "/" */
    ngx_str_t                       token_file;
    ngx_str_t                       ca_file;
    size_t                          max_size;     /* list body, watch frame */

    ngx_kedge_curl_t               *curl;         /* run time */
} ngx_kedge_k8s_api_t;


/* the events of a watch a reflector hands over */
#define NGX_KEDGE_K8S_ADDED           0
#define NGX_KEDGE_K8S_MODIFIED        1
#define NGX_KEDGE_K8S_DELETED         2
#define NGX_KEDGE_K8S_BOOKMARK        3


typedef struct ngx_kedge_k8s_reflector_s  ngx_kedge_k8s_reflector_t;

/*
 * A list body, unwrapped: the callback decodes its kind, replaces all it
 * knew and sets the list's resourceVersion (ngx_kedge_k8s_reflector_rv());
 * NGX_ERROR with *err set keeps what it knew.
 */
typedef ngx_int_t (*ngx_kedge_k8s_list_pt)(ngx_kedge_k8s_reflector_t *rf,
    ngx_kedge_k8s_unknown_t *u, const char **err);

/*
 * The object of one watch event (NGX_KEDGE_K8S_ADDED...), unwrapped: the
 * callback applies it, then sets its resourceVersion; a BOOKMARK only
 * sets it.  NGX_ERROR with *err set: the watch starts over with a list.
 */
typedef ngx_int_t (*ngx_kedge_k8s_event_pt)(ngx_kedge_k8s_reflector_t *rf,
    ngx_uint_t type, ngx_kedge_k8s_unknown_t *u, const char **err);

/*
 * What the list or the events changed goes out (to the store): NGX_OK
 * means in sync; NGX_ERROR, not (it logged why).
 */
typedef ngx_int_t (*ngx_kedge_k8s_publish_pt)(ngx_kedge_k8s_reflector_t *rf);

/* a sync failed: what was known stays, marked stale */
typedef void (*ngx_kedge_k8s_failed_pt)(ngx_kedge_k8s_reflector_t *rf);

/* what it does now: NGX_KEDGE_STORE_WATCH_LISTING, _WATCHING, _RETRYING */
typedef void (*ngx_kedge_k8s_state_pt)(ngx_kedge_k8s_reflector_t *rf,
    ngx_uint_t state);


/*
 * One resource listed and watched as client-go's reflector does it, on
 * libcurl in the fetcher's process.  The caller sets the fields above
 * "run time" and keeps the memory until ngx_kedge_k8s_reflector_stop().
 */
struct ngx_kedge_k8s_reflector_s {
    ngx_kedge_k8s_api_t            *api;
    ngx_str_t                       path;         /* ".../endpointslices" */
    ngx_str_t                       selector;     /* labelSelector, encoded */
    ngx_str_t                       what;         /* for logs */

    ngx_kedge_k8s_list_pt           list;
    ngx_kedge_k8s_event_pt          event;
    ngx_kedge_k8s_publish_pt        publish;
    ngx_kedge_k8s_failed_pt         failed;
    ngx_kedge_k8s_state_pt          state;        /* or NULL */
    void                           *data;

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
};


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
    ngx_kedge_k8s_reflector_t       reflector;
    ngx_kedge_k8s_slice_entry_t    *slices;       /* by slice name */
    ngx_uint_t                      allocated;    /* by _watch_create() */
} ngx_kedge_k8s_watch_t;


ngx_int_t ngx_kedge_k8s_api_init(ngx_kedge_k8s_api_t *api, ngx_pool_t *pool,
    ngx_log_t *log);
ngx_int_t ngx_kedge_k8s_reflector_start(ngx_kedge_k8s_reflector_t *rf,
    ngx_log_t *log);
void ngx_kedge_k8s_reflector_stop(ngx_kedge_k8s_reflector_t *rf);
ngx_int_t ngx_kedge_k8s_reflector_rv(ngx_kedge_k8s_reflector_t *rf,
    const char *rv);
u_char *ngx_kedge_k8s_escape(u_char *dst, u_char *last, u_char *src,
    size_t len);

ngx_int_t ngx_kedge_k8s_watch_start(ngx_kedge_k8s_watch_t *w,
    ngx_pool_t *pool, ngx_log_t *log);
ngx_kedge_k8s_watch_t *ngx_kedge_k8s_watch_create(ngx_kedge_k8s_api_t *api,
    ngx_kedge_store_t *store, ngx_uint_t index, ngx_str_t *backend,
    ngx_str_t *service, ngx_str_t *namespace, ngx_str_t *port_name,
    ngx_log_t *log);
void ngx_kedge_k8s_watch_destroy(ngx_kedge_k8s_watch_t *w);


#endif /* _NGX_KEDGE_K8S_CLIENT_H_INCLUDED_ */
