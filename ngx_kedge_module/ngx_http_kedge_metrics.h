
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 */


#ifndef _NGX_HTTP_KEDGE_METRICS_H_INCLUDED_
#define _NGX_HTTP_KEDGE_METRICS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* the status classes of kedge_requests_total: "1xx".."5xx", then other */
#define NGX_HTTP_KEDGE_CLASSES     6

/* the error types, NGX_HTTP_KEDGE_ERR_NONE included (never counted) */
#define NGX_HTTP_KEDGE_ERR_TYPES   10

/* the grpc-status codes 0..16, then "none" (absent, or not a code) */
#define NGX_HTTP_KEDGE_GRPC_CODES  18


/*
 * The counters of requests, one list: each entry makes a field of
 * ngx_http_kedge_counters_t (an array of atomics, indexed by the value
 * of its own label), and a family of /metrics with its HELP and TYPE.
 * The code that counts names the fields, so /metrics and the counting
 * cannot drift apart.
 *
 * Every family is also labelled by backend_name and protocol: there is
 * one ngx_http_kedge_counters_t per backend and request protocol, in the
 * zone, laid out at configuration time, and one per slot of discovered
 * backends, of tagged words (ngx_kedge_store.h).  A sparse family shows
 * only the series that are not zero.
 *
 *     X(field, family, label, values, size, sparse, help)
 */

#define NGX_HTTP_KEDGE_COUNTERS(X)                                            \
                                                                              \
    X(requests, "kedge_requests_total", "code",                               \
      ngx_http_kedge_status_classes, NGX_HTTP_KEDGE_CLASSES, 0,               \
      "Requests that kedge routed or refused, once answered (after "          \
      "retries), by backend, request protocol and status class.")             \
                                                                              \
    X(errors, "kedge_proxy_errors_total", "type",                             \
      ngx_http_kedge_error_types, NGX_HTTP_KEDGE_ERR_TYPES, 1,                \
      "Requests that kedge refused or failed, by backend, request "           \
      "protocol and kedge error type.")                                       \
                                                                              \
    X(grpc, "kedge_grpc_handled_total", "grpc_code",                          \
      ngx_http_kedge_grpc_codes, NGX_HTTP_KEDGE_GRPC_CODES, 1,                \
      "gRPC calls that kedge routed or refused, once ended, by backend, "     \
      "request protocol and grpc-status, named as go-grpc-prometheus names "  \
      "it (none: the call ended without one).")


#define NGX_HTTP_KEDGE_COUNTER_FIELD(field, family, label, values, size,     \
                                     sparse, help)                            \
    ngx_atomic_t                    field[size];

typedef struct {
    NGX_HTTP_KEDGE_COUNTERS(NGX_HTTP_KEDGE_COUNTER_FIELD)
} ngx_http_kedge_counters_t;


/* a counter's place in ngx_http_kedge_counters_t, in words */
#define ngx_http_kedge_counter_index(field, i)                                \
    (offsetof(ngx_http_kedge_counters_t, field) / sizeof(ngx_atomic_t) + (i))


extern ngx_str_t  ngx_http_kedge_status_classes[];
extern ngx_str_t  ngx_http_kedge_grpc_codes[];


#endif /* _NGX_HTTP_KEDGE_METRICS_H_INCLUDED_ */
