
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 */


#ifndef _NGX_KEDGE_CURL_H_INCLUDED_
#define _NGX_KEDGE_CURL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>


#define NGX_KEDGE_HTTP_ERROR_LEN   160


/*
 * libcurl's multi handle on nginx's event loop, in the fetcher's process.
 * Its pool owns it: when the pool goes, every transfer is dropped
 * without callbacks; so it is on a graceful exit.
 */
typedef struct ngx_kedge_curl_s       ngx_kedge_curl_t;

/*
 * One GET: the caller's memory, valid and not started again until
 * done() was called or the transfer was cancelled.
 */
typedef struct ngx_kedge_http_s       ngx_kedge_http_t;

typedef struct ngx_kedge_curl_xfer_s  ngx_kedge_curl_xfer_t;


/*
 * Body bytes as they arrive, h->status already set: NGX_OK to go on,
 * NGX_ERROR to abort the transfer (done() follows with NGX_ERROR).
 * It may cancel transfers, itself included; it may not start any.
 */
typedef ngx_int_t (*ngx_kedge_http_data_pt)(ngx_kedge_http_t *h,
    u_char *data, size_t len);

/*
 * The end, called once: NGX_OK when a response was received in full,
 * whatever its status (h->status), NGX_ERROR otherwise, h->error says
 * why ("connect timeout", "timeout", "stalled: ...", "cannot connect:
 * Connection refused", "TLS: ...", "response larger than N bytes",
 * "aborted by the receiver", ...).  It may start transfers, this h
 * again included, and cancel others.
 */
typedef void (*ngx_kedge_http_done_pt)(ngx_kedge_http_t *h, ngx_int_t rc);


struct ngx_kedge_http_s {
    /* set by the caller; the strings are copied by ngx_kedge_http_start() */
    ngx_str_t                       url;
    ngx_str_t                       bearer;       /* Authorization: Bearer */
    ngx_str_t                       accept;       /* Accept */
    ngx_str_t                       ca_file;      /* empty: system CAs */
    ngx_msec_t                      connect_timeout;  /* TCP and TLS */
    ngx_msec_t                      timeout;      /* all of it; 0: none */
    ngx_uint_t                      low_speed_time;   /* seconds below
                                                     1 byte/s, as libcurl
                                                     averages it over 5s;
                                                     0: off */
    size_t                          max_size;     /* body; 0: no limit */
    ngx_kedge_http_data_pt          data;
    ngx_kedge_http_done_pt          done;
    void                           *ctx;

    /* results */
    ngx_uint_t                      status;
    ngx_str_t                       error;        /* valid until h is
                                                     started again */
    size_t                          received;     /* body bytes */
    time_t                          max_age;      /* Cache-Control:
                                                     seconds, 0 for no-store
                                                     or no-cache, -1: none */

    /* private */
    ngx_kedge_curl_xfer_t          *xfer;
    u_char                          error_buf[NGX_KEDGE_HTTP_ERROR_LEN];
};


ngx_kedge_curl_t *ngx_kedge_curl_create(ngx_pool_t *pool, ngx_log_t *log);

/* NGX_ERROR: not started, no callback, h->error says why */
ngx_int_t ngx_kedge_http_start(ngx_kedge_curl_t *curl, ngx_kedge_http_t *h);

/* no callback after it; a no-op once done() was called */
void ngx_kedge_http_cancel(ngx_kedge_http_t *h);


#endif /* _NGX_KEDGE_CURL_H_INCLUDED_ */
