
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 *
 * An HTTP client on nginx's event loop: libcurl's multi-socket API, its
 * sockets watched by nginx's event module, its timer an nginx timer.
 * Used by the fetcher (Kubernetes API, OIDC discovery and keys), which
 * it never blocks:
 *
 * - names are resolved inside libcurl, asynchronously when it was built
 *   with an asynchronous resolver (Debian's libcurl4-openssl: threaded;
 *   CURL_VERSION_ASYNCHDNS); without one a host name would block the
 *   worker, which is reported when the first client is created;
 *
 * - the sockets are libcurl's: it opens, reuses and closes them.  Each
 *   is lent an nginx connection while libcurl watches it; on
 *   CURL_POLL_REMOVE the events are deleted and the connection is given
 *   back, the socket left open.  libcurl 7.88 may close a socket before
 *   it says CURL_POLL_REMOVE (a connect timeout does), and its number
 *   may be reused meanwhile: a socket is known by its inode, checked at
 *   every call, and one that is no longer there has lost its events
 *   with it;
 *
 * - the events are level-triggered, as libcurl expects: it does not
 *   read a socket until EAGAIN, so with nginx's usual edge-triggered
 *   events data left in the kernel after a read would never be
 *   signalled again;
 *
 * - the timer is cancelable and the connections are marked idle: on a
 *   graceful exit, ngx_close_idle_connections() reaches them, the
 *   transfers are dropped at once, without callbacks, and the exit
 *   waits for none of them.
 *
 * libcurl's errors are mapped here, once, to NGX_OK or NGX_ERROR and a
 * short text in h->error.  curl_global_init() runs once per process,
 * with the default allocators; curl_global_cleanup() never runs: a
 * process uses libcurl until it exits.
 */


#include <curl/curl.h>

#include "ngx_kedge_curl.h"


#ifndef CURL_WRITEFUNC_ERROR
#define CURL_WRITEFUNC_ERROR        0
#endif

#define NGX_KEDGE_CURL_ABORT_SIZE   1
#define NGX_KEDGE_CURL_ABORT_DATA   2
#define NGX_KEDGE_CURL_ABORT_EVENT  3

/* dead peers of long watches: probes after 30s of silence, every 10s */
#define NGX_KEDGE_CURL_KEEPIDLE     30
#define NGX_KEDGE_CURL_KEEPINTVL    10


struct ngx_kedge_curl_s {
    CURLM                          *multi;
    ngx_log_t                      *log;
    ngx_event_t                     timer;
    ngx_queue_t                     xfers;
    ngx_queue_t                     sockets;      /* watched */
    ngx_uint_t                      orphans;      /* cancelled in libcurl */
    ngx_uint_t                      failed;       /* no events for them */
    ngx_uint_t                      depth;        /* inside libcurl */
    unsigned                        closed:1;
};


/* a socket of libcurl's, watched */
typedef struct {
    ngx_queue_t                     queue;
    ngx_connection_t               *connection;
    ngx_kedge_curl_t               *curl;
    dev_t                           dev;
    ino_t                           ino;
} ngx_kedge_curl_sock_t;


struct ngx_kedge_curl_xfer_s {
    ngx_queue_t                     queue;
    ngx_kedge_curl_t               *curl;
    ngx_kedge_http_t               *http;         /* NULL: cancelled */
    CURL                           *easy;
    struct curl_slist              *headers;
    size_t                          max_size;
    ngx_msec_t                      timeout;
    ngx_uint_t                      low_speed_time;
    ngx_uint_t                      abort;
    unsigned                        orphan:1;
    unsigned                        failed:1;
    char                            errbuf[CURL_ERROR_SIZE];
};


static ngx_int_t ngx_kedge_curl_global_init(ngx_log_t *log);
static void ngx_kedge_curl_cleanup(void *data);
static void ngx_kedge_curl_close(ngx_kedge_curl_t *c);
static ngx_int_t ngx_kedge_curl_setup(ngx_kedge_curl_xfer_t *x,
    ngx_kedge_http_t *h);
static u_char *ngx_kedge_curl_cstr(u_char *p, ngx_str_t *prefix,
    ngx_str_t *s);
static int ngx_kedge_curl_socket(CURL *easy, curl_socket_t s, int what,
    void *userp, void *socketp);
static ngx_kedge_curl_sock_t *ngx_kedge_curl_watch_socket(
    ngx_kedge_curl_t *c, curl_socket_t s);
static ngx_uint_t ngx_kedge_curl_same(ngx_kedge_curl_sock_t *sock,
    curl_socket_t s);
static ngx_int_t ngx_kedge_curl_want(ngx_event_t *ev, ngx_int_t event,
    ngx_uint_t want);
static void ngx_kedge_curl_release(ngx_kedge_curl_sock_t *sock);
static int ngx_kedge_curl_timer(CURLM *multi, long timeout_ms, void *userp);
static void ngx_kedge_curl_event(ngx_event_t *ev);
static void ngx_kedge_curl_timeout(ngx_event_t *ev);
static void ngx_kedge_curl_action(ngx_kedge_curl_t *c, curl_socket_t s,
    int mask);
static void ngx_kedge_curl_finalize(ngx_kedge_curl_xfer_t *x,
    CURLcode code);
static void ngx_kedge_curl_error(ngx_kedge_curl_xfer_t *x,
    ngx_kedge_http_t *h, CURLcode code);
static time_t ngx_kedge_curl_max_age(CURL *easy);
static size_t ngx_kedge_curl_write(char *ptr, size_t size, size_t nmemb,
    void *userdata);
static void ngx_kedge_curl_free(ngx_kedge_curl_xfer_t *x);


static ngx_uint_t  ngx_kedge_curl_initialized;


ngx_kedge_curl_t *
ngx_kedge_curl_create(ngx_pool_t *pool, ngx_log_t *log)
{
    ngx_kedge_curl_t    *c;
    ngx_pool_cleanup_t  *cln;

    if (ngx_kedge_curl_global_init(log) != NGX_OK) {
        return NULL;
    }

    c = ngx_pcalloc(pool, sizeof(ngx_kedge_curl_t));
    if (c == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    c->multi = curl_multi_init();
    if (c->multi == NULL) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "kedge: curl_multi_init() failed");
        return NULL;
    }

    /* the transfers, the multi handle and the timer go with the pool */

    cln->handler = ngx_kedge_curl_cleanup;
    cln->data = c;

    c->log = log;
    ngx_queue_init(&c->xfers);
    ngx_queue_init(&c->sockets);

    c->timer.handler = ngx_kedge_curl_timeout;
    c->timer.data = c;
    c->timer.log = log;

    /* a graceful exit never waits for libcurl's next timeout */
    c->timer.cancelable = 1;

    if (curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION,
                          ngx_kedge_curl_socket)
        != CURLM_OK
        || curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c) != CURLM_OK
        || curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION,
                             ngx_kedge_curl_timer)
           != CURLM_OK
        || curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c) != CURLM_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "kedge: curl_multi_setopt() failed");
        ngx_kedge_curl_close(c);
        return NULL;
    }

    return c;
}


static ngx_int_t
ngx_kedge_curl_global_init(ngx_log_t *log)
{
    CURLcode                 code;
    curl_version_info_data  *v;

    if (ngx_kedge_curl_initialized) {
        return NGX_OK;
    }

    /* the default allocators: libcurl shares them with OpenSSL */

    code = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (code != CURLE_OK) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "kedge: curl_global_init() failed: %s",
                      curl_easy_strerror(code));
        return NGX_ERROR;
    }

    ngx_kedge_curl_initialized = 1;

    v = curl_version_info(CURLVERSION_NOW);

    if (!(v->features & CURL_VERSION_ASYNCHDNS)) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "kedge: libcurl %s resolves names synchronously: "
                      "a host name in a URL blocks the worker while it is "
                      "resolved", v->version);
    }

    if (!(v->features & CURL_VERSION_SSL)) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "kedge: libcurl %s has no TLS: https URLs fail",
                      v->version);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, log, 0,
                   "kedge: libcurl %s, %s", v->version,
                   v->ssl_version ? v->ssl_version : "no TLS");

    return NGX_OK;
}


static void
ngx_kedge_curl_cleanup(void *data)
{
    ngx_kedge_curl_t *c = data;

    ngx_kedge_curl_close(c);
}


/*
 * Drops every transfer without callbacks and closes libcurl's sockets:
 * the pool goes, or the process exits gracefully.
 */

static void
ngx_kedge_curl_close(ngx_kedge_curl_t *c)
{
    ngx_queue_t            *q;
    ngx_kedge_curl_xfer_t  *x;
    ngx_kedge_curl_sock_t  *sock;

    if (c->closed) {
        return;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_EVENT, c->log, 0, "kedge: curl close");

    c->closed = 1;

    while (!ngx_queue_empty(&c->xfers)) {
        q = ngx_queue_head(&c->xfers);
        x = ngx_queue_data(q, ngx_kedge_curl_xfer_t, queue);

        if (x->http) {
            x->http->xfer = NULL;
            x->http = NULL;
        }

        ngx_kedge_curl_free(x);
    }

    /* the cached connections are closed here */

    (void) curl_multi_cleanup(c->multi);
    c->multi = NULL;

    if (c->timer.timer_set) {
        ngx_del_timer(&c->timer);
    }

    /* a socket closed unannounced and never removed */

    while (!ngx_queue_empty(&c->sockets)) {
        q = ngx_queue_head(&c->sockets);
        sock = ngx_queue_data(q, ngx_kedge_curl_sock_t, queue);

        if (!ngx_kedge_curl_same(sock, sock->connection->fd)) {
            sock->connection->read->active = 0;
            sock->connection->write->active = 0;
        }

        ngx_kedge_curl_release(sock);
    }
}


ngx_int_t
ngx_kedge_http_start(ngx_kedge_curl_t *c, ngx_kedge_http_t *h)
{
    CURLMcode               mc;
    ngx_kedge_curl_xfer_t  *x;

    h->status = 0;
    h->received = 0;
    h->max_age = -1;
    h->xfer = NULL;
    h->error.data = h->error_buf;
    h->error.len = 0;

    if (c->closed || ngx_exiting) {
        h->error.len = ngx_sprintf(h->error_buf, "shutting down")
                       - h->error_buf;
        return NGX_ERROR;
    }

    if (h->done == NULL) {
        ngx_log_error(NGX_LOG_ALERT, c->log, 0,
                      "kedge: a transfer of \"%V\" without done()", &h->url);
        h->error.len = ngx_sprintf(h->error_buf, "internal error")
                       - h->error_buf;
        return NGX_ERROR;
    }

    if (c->depth) {
        /* libcurl's API may not be called from its callbacks */
        ngx_log_error(NGX_LOG_ALERT, c->log, 0,
                      "kedge: a transfer of \"%V\" started from a data "
                      "handler", &h->url);
        h->error.len = ngx_sprintf(h->error_buf, "internal error")
                       - h->error_buf;
        return NGX_ERROR;
    }

    x = ngx_calloc(sizeof(ngx_kedge_curl_xfer_t), c->log);
    if (x == NULL) {
        h->error.len = ngx_sprintf(h->error_buf, "out of memory")
                       - h->error_buf;
        return NGX_ERROR;
    }

    x->curl = c;
    x->http = h;
    x->max_size = h->max_size;
    x->timeout = h->timeout;
    x->low_speed_time = h->low_speed_time;

    x->easy = curl_easy_init();
    if (x->easy == NULL) {
        ngx_log_error(NGX_LOG_ALERT, c->log, 0,
                      "kedge: curl_easy_init() failed");
        h->error.len = ngx_sprintf(h->error_buf, "out of memory")
                       - h->error_buf;
        ngx_free(x);
        return NGX_ERROR;
    }

    if (ngx_kedge_curl_setup(x, h) != NGX_OK) {
        curl_easy_cleanup(x->easy);
        curl_slist_free_all(x->headers);
        ngx_free(x);
        return NGX_ERROR;
    }

    /* libcurl sets its timer: the transfer begins in the event loop */

    mc = curl_multi_add_handle(c->multi, x->easy);
    if (mc != CURLM_OK) {
        ngx_log_error(NGX_LOG_ALERT, c->log, 0,
                      "kedge: curl_multi_add_handle() failed: %s",
                      curl_multi_strerror(mc));
        h->error.len = ngx_sprintf(h->error_buf, "internal error")
                       - h->error_buf;
        curl_easy_cleanup(x->easy);
        curl_slist_free_all(x->headers);
        ngx_free(x);
        return NGX_ERROR;
    }

    ngx_queue_insert_tail(&c->xfers, &x->queue);
    h->xfer = x;

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, c->log, 0,
                   "kedge: curl start %p \"%V\"", x, &h->url);

    return NGX_OK;
}


static ngx_int_t
ngx_kedge_curl_setup(ngx_kedge_curl_xfer_t *x, ngx_kedge_http_t *h)
{
    CURL               *easy;
    u_char             *buf, *url, *ca, *bearer, *accept, *p;
    size_t              len;
    ngx_str_t           prefix;
    ngx_uint_t          i;
    struct curl_slist  *list;

    /* a header value with a line break would inject headers */

    for (i = 0; i < h->bearer.len; i++) {
        if (h->bearer.data[i] < ' ' || h->bearer.data[i] == 0x7f) {
            goto invalid;
        }
    }

    for (i = 0; i < h->accept.len; i++) {
        if (h->accept.data[i] < ' ' || h->accept.data[i] == 0x7f) {
            goto invalid;
        }
    }

    /* libcurl copies every string: these copies only add the NULs */

    len = h->url.len + h->ca_file.len + h->bearer.len + h->accept.len
          + sizeof("Authorization: Bearer ") + sizeof("Accept: ") + 2;

    buf = ngx_alloc(len, x->curl->log);
    if (buf == NULL) {
        goto nomem;
    }

    ngx_str_set(&prefix, "");

    url = buf;
    p = ngx_kedge_curl_cstr(url, &prefix, &h->url);

    ca = p;
    p = ngx_kedge_curl_cstr(ca, &prefix, &h->ca_file);

    ngx_str_set(&prefix, "Authorization: Bearer ");
    bearer = p;
    p = ngx_kedge_curl_cstr(bearer, &prefix, &h->bearer);

    ngx_str_set(&prefix, "Accept: ");
    accept = p;
    (void) ngx_kedge_curl_cstr(accept, &prefix, &h->accept);

    if (h->bearer.len) {
        list = curl_slist_append(x->headers, (char *) bearer);
        if (list == NULL) {
            ngx_free(buf);
            goto nomem;
        }

        x->headers = list;
    }

    if (h->accept.len) {
        list = curl_slist_append(x->headers, (char *) accept);
        if (list == NULL) {
            ngx_free(buf);
            goto nomem;
        }

        x->headers = list;
    }

    easy = x->easy;

    if (curl_easy_setopt(easy, CURLOPT_URL, (char *) url) != CURLE_OK
#if (LIBCURL_VERSION_NUM >= 0x075500)
        || curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https")
           != CURLE_OK
#else
        || curl_easy_setopt(easy, CURLOPT_PROTOCOLS,
                            (long) (CURLPROTO_HTTP|CURLPROTO_HTTPS))
           != CURLE_OK
#endif
#if (LIBCURL_VERSION_NUM >= 0x075700)
        /* a transfer cancelled while resolving does not wait for it */
        || curl_easy_setopt(easy, CURLOPT_QUICK_EXIT, 1L) != CURLE_OK
#endif
        || curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_HTTP_VERSION,
                            (long) CURL_HTTP_VERSION_1_1)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_USERAGENT, "kedge") != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_HTTPHEADER, x->headers)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                            (long) h->connect_timeout)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long) h->timeout)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE,
                            (long) NGX_KEDGE_CURL_KEEPIDLE)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL,
                            (long) NGX_KEDGE_CURL_KEEPINTVL)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION,
                            ngx_kedge_curl_write)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_WRITEDATA, x) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_PRIVATE, x) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, x->errbuf)
           != CURLE_OK)
    {
        ngx_free(buf);
        goto failed;
    }

    if (h->low_speed_time
        && (curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L) != CURLE_OK
            || curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME,
                                (long) h->low_speed_time)
               != CURLE_OK))
    {
        ngx_free(buf);
        goto failed;
    }

    /* a known Content-Length above the cap fails before the body */

    if (h->max_size
        && curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE,
                            (curl_off_t) h->max_size)
           != CURLE_OK)
    {
        ngx_free(buf);
        goto failed;
    }

    /* this CA only, not the system's directory as well */

    if (h->ca_file.len
        && (curl_easy_setopt(easy, CURLOPT_CAINFO, (char *) ca) != CURLE_OK
            || curl_easy_setopt(easy, CURLOPT_CAPATH, NULL) != CURLE_OK))
    {
        ngx_free(buf);
        goto failed;
    }

    ngx_free(buf);

    return NGX_OK;

invalid:

    ngx_log_error(NGX_LOG_ERR, x->curl->log, 0,
                  "kedge: invalid header value for \"%V\"", &h->url);
    h->error.len = ngx_sprintf(h->error_buf, "invalid header value")
                   - h->error_buf;
    return NGX_ERROR;

nomem:

    h->error.len = ngx_sprintf(h->error_buf, "out of memory")
                   - h->error_buf;
    return NGX_ERROR;

failed:

    ngx_log_error(NGX_LOG_ALERT, x->curl->log, 0,
                  "kedge: curl_easy_setopt() failed for \"%V\"", &h->url);
    h->error.len = ngx_sprintf(h->error_buf, "internal error")
                   - h->error_buf;
    return NGX_ERROR;
}


static u_char *
ngx_kedge_curl_cstr(u_char *p, ngx_str_t *prefix, ngx_str_t *s)
{
    if (s->len) {
        p = ngx_cpymem(p, prefix->data, prefix->len);
        p = ngx_cpymem(p, s->data, s->len);
    }

    *p++ = '\0';

    return p;
}


void
ngx_kedge_http_cancel(ngx_kedge_http_t *h)
{
    ngx_kedge_curl_t       *c;
    ngx_kedge_curl_xfer_t  *x;

    x = h->xfer;

    if (x == NULL) {
        return;
    }

    h->xfer = NULL;
    x->http = NULL;

    c = x->curl;

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, c->log, 0,
                   "kedge: curl cancel %p", x);

    if (c->depth) {
        /* inside libcurl, from a data handler: removed when it returns */
        x->orphan = 1;
        c->orphans++;
        return;
    }

    ngx_kedge_curl_free(x);
}


/*
 * libcurl says which events of a socket it wants: the socket gets an
 * nginx connection the first time, level-triggered events as asked,
 * and gives the connection back on CURL_POLL_REMOVE.
 */

static int
ngx_kedge_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp,
    void *socketp)
{
    ngx_kedge_curl_t *c = userp;

    char                   *p;
    ngx_kedge_curl_xfer_t  *x;
    ngx_kedge_curl_sock_t  *sock;

    sock = socketp;

    ngx_log_debug3(NGX_LOG_DEBUG_EVENT, c->log, 0,
                   "kedge: curl socket %d what:%d sock:%p", s, what, sock);

    if (sock && !ngx_kedge_curl_same(sock, s)) {
        /*
         * libcurl closed the socket unannounced (it may, on a connect
         * timeout), and the number may have been reused since: its
         * events went with it
         */

        ngx_log_debug1(NGX_LOG_DEBUG_EVENT, c->log, 0,
                       "kedge: curl socket %d was closed", s);

        sock->connection->read->active = 0;
        sock->connection->write->active = 0;
        ngx_kedge_curl_release(sock);
        sock = NULL;

        if (what != CURL_POLL_REMOVE
            && curl_multi_assign(c->multi, s, NULL) != CURLM_OK)
        {
            goto failed;
        }
    }

    if (what == CURL_POLL_REMOVE) {
        if (sock) {
            ngx_kedge_curl_release(sock);
        }

        return 0;
    }

    if (c->closed) {
        return 0;
    }

    if (sock == NULL) {
        sock = ngx_kedge_curl_watch_socket(c, s);
        if (sock == NULL) {
            goto failed;
        }

        if (curl_multi_assign(c->multi, s, sock) != CURLM_OK) {
            ngx_kedge_curl_release(sock);
            goto failed;
        }
    }

    if (ngx_kedge_curl_want(sock->connection->read, NGX_READ_EVENT,
                            what & CURL_POLL_IN)
        == NGX_OK
        && ngx_kedge_curl_want(sock->connection->write, NGX_WRITE_EVENT,
                               what & CURL_POLL_OUT)
           == NGX_OK)
    {
        return 0;
    }

failed:

    /*
     * -1 would make the multi handle dead for good: the transfer alone
     * fails, when libcurl returns
     */

    p = NULL;
    (void) curl_easy_getinfo(easy, CURLINFO_PRIVATE, &p);
    x = (ngx_kedge_curl_xfer_t *) p;

    if (x && !x->failed) {
        x->failed = 1;
        x->abort = NGX_KEDGE_CURL_ABORT_EVENT;
        c->failed++;
    }

    return 0;
}


static ngx_kedge_curl_sock_t *
ngx_kedge_curl_watch_socket(ngx_kedge_curl_t *c, curl_socket_t s)
{
    struct stat             st;
    ngx_connection_t       *conn;
    ngx_kedge_curl_sock_t  *sock;

    /* what the socket is, to know it is still the same one later */

    if (fstat(s, &st) == -1) {
        ngx_log_error(NGX_LOG_ALERT, c->log, ngx_errno,
                      "kedge: fstat() of libcurl socket %d failed", s);
        return NULL;
    }

    sock = ngx_alloc(sizeof(ngx_kedge_curl_sock_t), c->log);
    if (sock == NULL) {
        return NULL;
    }

    conn = ngx_get_connection(s, c->log);
    if (conn == NULL) {
        ngx_free(sock);
        return NULL;
    }

    sock->connection = conn;
    sock->curl = c;
    sock->dev = st.st_dev;
    sock->ino = st.st_ino;

    conn->data = sock;
    conn->log = c->log;
    conn->read->log = c->log;
    conn->write->log = c->log;
    conn->read->handler = ngx_kedge_curl_event;
    conn->write->handler = ngx_kedge_curl_event;
    conn->number = ngx_atomic_fetch_add(ngx_connection_counter, 1);

    /* reached by ngx_close_idle_connections() on a graceful exit */
    conn->idle = 1;

    ngx_queue_insert_tail(&c->sockets, &sock->queue);

    return sock;
}


static ngx_uint_t
ngx_kedge_curl_same(ngx_kedge_curl_sock_t *sock, curl_socket_t s)
{
    struct stat  st;

    if (sock->connection->fd != s || fstat(s, &st) == -1) {
        return 0;
    }

    return st.st_dev == sock->dev && st.st_ino == sock->ino;
}


static ngx_int_t
ngx_kedge_curl_want(ngx_event_t *ev, ngx_int_t event, ngx_uint_t want)
{
    if (want && !ev->active) {
        return ngx_add_event(ev, event, NGX_LEVEL_EVENT);
    }

    if (!want && ev->active) {
        return ngx_del_event(ev, event, 0);
    }

    return NGX_OK;
}


/* the socket stays open: libcurl closes it, or keeps it for reuse */

static void
ngx_kedge_curl_release(ngx_kedge_curl_sock_t *sock)
{
    ngx_connection_t  *conn;

    conn = sock->connection;

    if (conn->read->active) {
        (void) ngx_del_event(conn->read, NGX_READ_EVENT, 0);
    }

    if (conn->write->active) {
        (void) ngx_del_event(conn->write, NGX_WRITE_EVENT, 0);
    }

    if (conn->read->posted) {
        ngx_delete_posted_event(conn->read);
    }

    if (conn->write->posted) {
        ngx_delete_posted_event(conn->write);
    }

    ngx_free_connection(conn);

    /* stale events of this round see the connection gone */
    conn->fd = (ngx_socket_t) -1;

    ngx_queue_remove(&sock->queue);
    ngx_free(sock);
}


static int
ngx_kedge_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    ngx_kedge_curl_t *c = userp;

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, c->log, 0,
                   "kedge: curl timer %l", timeout_ms);

    /* exactly libcurl's timeout, not within nginx's lazy delay */

    if (c->timer.timer_set) {
        ngx_del_timer(&c->timer);
    }

    if (timeout_ms >= 0 && !c->closed) {
        ngx_add_timer(&c->timer, (ngx_msec_t) timeout_ms);
    }

    return 0;
}


static void
ngx_kedge_curl_event(ngx_event_t *ev)
{
    ngx_kedge_curl_t       *c;
    ngx_connection_t       *conn;
    ngx_kedge_curl_sock_t  *sock;

    conn = ev->data;
    sock = conn->data;
    c = sock->curl;

    if (conn->close || ngx_exiting) {
        /* a graceful exit: ngx_close_idle_connections() */
        ngx_kedge_curl_close(c);
        return;
    }

    ev->ready = 0;

    /* the connection may be given back inside: not touched after */

    ngx_kedge_curl_action(c, conn->fd,
                          ev->write ? CURL_CSELECT_OUT : CURL_CSELECT_IN);
}


static void
ngx_kedge_curl_timeout(ngx_event_t *ev)
{
    ngx_kedge_curl_t *c = ev->data;

    if (ngx_exiting) {
        ngx_kedge_curl_close(c);
        return;
    }

    ngx_kedge_curl_action(c, CURL_SOCKET_TIMEOUT, 0);
}


/*
 * Lets libcurl act, then ends the transfers it finished.  A done()
 * callback may start transfers and cancel others: every message is
 * read anew, and libcurl drops the messages of a removed transfer.
 */

static void
ngx_kedge_curl_action(ngx_kedge_curl_t *c, curl_socket_t s, int mask)
{
    int                     running, pending;
    char                   *p;
    CURLMsg                *msg;
    CURLMcode               mc;
    ngx_queue_t            *q;
    ngx_kedge_curl_xfer_t  *x;

    c->depth++;
    mc = curl_multi_socket_action(c->multi, s, mask, &running);
    c->depth--;

    if (mc != CURLM_OK) {
        ngx_log_error(NGX_LOG_ALERT, c->log, 0,
                      "kedge: curl_multi_socket_action() failed: %s",
                      curl_multi_strerror(mc));
    }

    for ( ;; ) {
        if (c->closed) {
            return;
        }

        msg = curl_multi_info_read(c->multi, &pending);
        if (msg == NULL) {
            break;
        }

        if (msg->msg != CURLMSG_DONE) {
            continue;
        }

        p = NULL;
        (void) curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &p);
        x = (ngx_kedge_curl_xfer_t *) p;

        ngx_kedge_curl_finalize(x, msg->data.result);
    }

    /*
     * The transfers cancelled by data handlers and those whose sockets
     * could not be watched, not finished by libcurl
     */

    for (q = ngx_queue_head(&c->xfers);
         (c->orphans || c->failed) && q != ngx_queue_sentinel(&c->xfers);
         /* void */)
    {
        x = ngx_queue_data(q, ngx_kedge_curl_xfer_t, queue);
        q = ngx_queue_next(q);

        if (x->orphan) {
            ngx_kedge_curl_free(x);

        } else if (x->failed) {
            ngx_kedge_curl_finalize(x, CURLE_COULDNT_CONNECT);

            if (c->closed) {
                return;
            }

            /* done() may have changed the queue */
            q = ngx_queue_head(&c->xfers);
        }
    }
}


static void
ngx_kedge_curl_finalize(ngx_kedge_curl_xfer_t *x, CURLcode code)
{
    CURL              *easy;
    char              *url;
    long               status;
    ngx_int_t          rc;
    ngx_kedge_curl_t  *c;
    ngx_kedge_http_t  *h;

    c = x->curl;
    easy = x->easy;
    h = x->http;

    if (h == NULL) {
        ngx_kedge_curl_free(x);
        return;
    }

    status = 0;
    (void) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);

    url = NULL;
    (void) curl_easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &url);

    if (url == NULL) {
        url = "";
    }

    h->status = status;
    h->max_age = ngx_kedge_curl_max_age(easy);

    if (code == CURLE_OK) {
        rc = NGX_OK;

        ngx_log_debug4(NGX_LOG_DEBUG_EVENT, c->log, 0,
                       "kedge: curl done %p \"%s\": %ui, %uz bytes",
                       x, url, h->status, h->received);

    } else {
        rc = NGX_ERROR;

        ngx_kedge_curl_error(x, h, code);

        /* the caller decides what is worth a warning, and logs it once */

        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "kedge: GET \"%s\" failed: %V (status %ui, %uz bytes "
                      "received)", url, &h->error, h->status, h->received);
    }

    ngx_kedge_curl_free(x);

    h->xfer = NULL;
    h->done(h, rc);
}


/* what Cache-Control says of the response's freshness */

static time_t
ngx_kedge_curl_max_age(CURL *easy)
{
    u_char             *p, *last;
    time_t              age;
    struct curl_header *hdr;

    if (curl_easy_header(easy, "Cache-Control", 0, CURLH_HEADER, -1, &hdr)
        != CURLHE_OK)
    {
        return -1;
    }

    p = (u_char *) hdr->value;
    last = p + ngx_strlen(p);

    if (ngx_strlcasestrn(p, last, (u_char *) "no-store", 8 - 1)
        || ngx_strlcasestrn(p, last, (u_char *) "no-cache", 8 - 1))
    {
        return 0;
    }

    p = ngx_strlcasestrn(p, last, (u_char *) "max-age=", 8 - 1);

    if (p == NULL) {
        return -1;
    }

    age = 0;

    for (p += 8; p < last && *p >= '0' && *p <= '9'; p++) {
        if (age < 100000000) {
            age = age * 10 + (*p - '0');
        }
    }

    return age;
}


static void
ngx_kedge_curl_error(ngx_kedge_curl_xfer_t *x, ngx_kedge_http_t *h,
    CURLcode code)
{
    char        *scheme;
    long         oserr;
    u_char      *p, *last;
    curl_off_t   connected, total;

    p = h->error_buf;
    last = h->error_buf + sizeof(h->error_buf);

    oserr = 0;
    (void) curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &oserr);

    if (x->abort == NGX_KEDGE_CURL_ABORT_EVENT) {
        /* nginx logged why: worker_connections, epoll_ctl() */
        p = ngx_slprintf(p, last, "cannot watch the socket");
        goto done;
    }

    switch (code) {

    case CURLE_WRITE_ERROR:
        if (x->abort == NGX_KEDGE_CURL_ABORT_SIZE) {
            p = ngx_slprintf(p, last, "response larger than %uz bytes",
                             x->max_size);

        } else if (x->abort == NGX_KEDGE_CURL_ABORT_DATA) {
            p = ngx_slprintf(p, last, "aborted by the receiver");

        } else {
            p = ngx_slprintf(p, last, "write error");
        }

        break;

    case CURLE_FILESIZE_EXCEEDED:
        p = ngx_slprintf(p, last, "response larger than %uz bytes",
                         x->max_size);
        break;

    case CURLE_OPERATION_TIMEDOUT:

        /* which timeout: connected (TCP, and TLS for https) or not */

        connected = 0;
        scheme = NULL;
        (void) curl_easy_getinfo(x->easy, CURLINFO_SCHEME, &scheme);

        if (scheme && ngx_strcasecmp((u_char *) scheme, (u_char *) "https")
                      == 0)
        {
            (void) curl_easy_getinfo(x->easy, CURLINFO_APPCONNECT_TIME_T,
                                     &connected);

        } else {
            (void) curl_easy_getinfo(x->easy, CURLINFO_CONNECT_TIME_T,
                                     &connected);
        }

        total = 0;
        (void) curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME_T, &total);

        if (connected == 0) {
            p = ngx_slprintf(p, last, "connect timeout");

        } else if (x->low_speed_time
                   && (x->timeout == 0
                       || (ngx_msec_t) (total / 1000) + 100 < x->timeout))
        {
            p = ngx_slprintf(p, last, "stalled: under 1 byte/s for %uis",
                             x->low_speed_time);

        } else {
            p = ngx_slprintf(p, last, "timeout");
        }

        break;

    case CURLE_COULDNT_RESOLVE_HOST:
        p = ngx_slprintf(p, last, "cannot resolve host");
        break;

    case CURLE_COULDNT_CONNECT:
        p = ngx_slprintf(p, last, "cannot connect");

        if (oserr) {
            p = ngx_slprintf(p, last, ": ");
            p = ngx_strerror((ngx_err_t) oserr, p, last - p);
        }

        break;

    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
        p = ngx_slprintf(p, last, "%s",
                         code == CURLE_SEND_ERROR ? "send failed"
                                                  : "receive failed");

        if (oserr) {
            p = ngx_slprintf(p, last, ": ");
            p = ngx_strerror((ngx_err_t) oserr, p, last - p);

        } else if (x->errbuf[0]) {
            p = ngx_slprintf(p, last, ": %s", x->errbuf);
        }

        break;

    case CURLE_GOT_NOTHING:
        p = ngx_slprintf(p, last, "empty reply");
        break;

    case CURLE_PARTIAL_FILE:
        p = ngx_slprintf(p, last, "response truncated");
        break;

    case CURLE_WEIRD_SERVER_REPLY:
        p = ngx_slprintf(p, last, "invalid HTTP response");
        break;

    case CURLE_UNSUPPORTED_PROTOCOL:
        p = ngx_slprintf(p, last, "unsupported URL scheme");
        break;

    case CURLE_URL_MALFORMAT:
        p = ngx_slprintf(p, last, "malformed URL");
        break;

    case CURLE_OUT_OF_MEMORY:
        p = ngx_slprintf(p, last, "out of memory");
        break;

    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_USE_SSL_FAILED:
        p = ngx_slprintf(p, last, "TLS: %s",
                         x->errbuf[0] ? x->errbuf : curl_easy_strerror(code));
        break;

    default:
        p = ngx_slprintf(p, last, "%s",
                         x->errbuf[0] ? x->errbuf : curl_easy_strerror(code));
        break;
    }

done:

    h->error.data = h->error_buf;
    h->error.len = p - h->error_buf;
}


static size_t
ngx_kedge_curl_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    ngx_kedge_curl_xfer_t *x = userdata;

    long               status;
    size_t             len;
    ngx_kedge_http_t  *h;

    h = x->http;
    len = size * nmemb;

    if (h == NULL) {
        return CURL_WRITEFUNC_ERROR;
    }

    status = 0;
    (void) curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    h->status = status;

    if (x->max_size && len > x->max_size - h->received) {
        x->abort = NGX_KEDGE_CURL_ABORT_SIZE;
        return CURL_WRITEFUNC_ERROR;
    }

    h->received += len;

    if (h->data == NULL) {
        return len;
    }

    if (h->data(h, (u_char *) ptr, len) != NGX_OK) {
        x->abort = NGX_KEDGE_CURL_ABORT_DATA;
        return CURL_WRITEFUNC_ERROR;
    }

    if (x->http == NULL) {
        /* the data handler cancelled its own transfer */
        return CURL_WRITEFUNC_ERROR;
    }

    return len;
}


/* gives libcurl's objects back; removing a transfer may close sockets */

static void
ngx_kedge_curl_free(ngx_kedge_curl_xfer_t *x)
{
    ngx_kedge_curl_t  *c;

    c = x->curl;

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, c->log, 0,
                   "kedge: curl free %p", x);

    if (x->orphan) {
        c->orphans--;
    }

    if (x->failed) {
        c->failed--;
    }

    ngx_queue_remove(&x->queue);

    (void) curl_multi_remove_handle(c->multi, x->easy);
    curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);

    ngx_free(x);
}
