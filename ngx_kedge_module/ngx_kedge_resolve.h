
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 */


#ifndef _NGX_KEDGE_RESOLVE_H_INCLUDED_
#define _NGX_KEDGE_RESOLVE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_kedge_store.h"


/* one backend resolved through DNS: host= (A/AAAA) or srv= (SRV) */
typedef struct {
    ngx_str_t                       backend;      /* for logs */
    ngx_str_t                       name;
    ngx_str_t                       service;      /* SRV: "_grpc._tcp" */
    in_port_t                       port;         /* host: the port; srv:
                                                     override or 0 */
    ngx_uint_t                      index;        /* in the store */
    ngx_kedge_store_t              *store;
    ngx_resolver_t                 *resolver;
    ngx_msec_t                      timeout;

    /* run time, in the fetcher's process */
    ngx_event_t                     timer;
    ngx_msec_t                      backoff;
    ngx_uint_t                      failing;
} ngx_kedge_resolve_t;


ngx_int_t ngx_kedge_resolve_start(ngx_kedge_resolve_t *rs, ngx_pool_t *pool,
    ngx_log_t *log);


#endif /* _NGX_KEDGE_RESOLVE_H_INCLUDED_ */
