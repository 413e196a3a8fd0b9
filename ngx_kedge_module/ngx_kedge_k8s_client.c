
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 *
 * The Kubernetes client, as client-go's reflector does it: list a
 * resource, then watch from the list's resourceVersion with bookmarks;
 * a 410 Gone, as a status or as an ERROR event, means list again; any
 * other failure keeps what was known, and the watch resumes from the
 * last resourceVersion after a back-off.  Protobuf only; runs in the
 * fetcher's process, on libcurl driven by nginx events
 * (ngx_kedge_curl.c).
 *
 * The reflector knows the wire format and the protocol; what a list or
 * an object means is its user's: here the EndpointSlices of a k8s=
 * backend, in ngx_kedge_discovery.c the Services of kedge's discovery.
 */


#include "ngx_kedge_k8s_client.h"


#define NGX_KEDGE_K8S_WATCH_SECONDS   290
#define NGX_KEDGE_K8S_MAX_ENDPOINTS   65536


#define NGX_KEDGE_K8S_EVENT_OK        0
#define NGX_KEDGE_K8S_EVENT_RELIST    1
#define NGX_KEDGE_K8S_EVENT_ERROR     2


struct ngx_kedge_k8s_slice_s {
    ngx_kedge_k8s_slice_entry_t    *next;
    size_t                          nendpoints;
    ngx_kedge_k8s_endpoint_t       *endpoints;
    size_t                          name_len;
    u_char                         *name;
};


static void ngx_kedge_k8s_timer(ngx_event_t *ev);
static ngx_int_t ngx_kedge_k8s_request(ngx_kedge_k8s_reflector_t *rf);
static ngx_int_t ngx_kedge_k8s_read_token(ngx_kedge_k8s_reflector_t *rf,
    ngx_str_t *token);
static ngx_int_t ngx_kedge_k8s_data(ngx_kedge_http_t *h, u_char *data,
    size_t len);
static void ngx_kedge_k8s_done(ngx_kedge_http_t *h, ngx_int_t rc);
static ngx_int_t ngx_kedge_k8s_list(ngx_kedge_k8s_reflector_t *rf,
    const char **err);
static ngx_int_t ngx_kedge_k8s_frames(ngx_kedge_k8s_reflector_t *rf);
static ngx_uint_t ngx_kedge_k8s_event(ngx_kedge_k8s_reflector_t *rf,
    u_char *data, size_t len, const char **err);
static void ngx_kedge_k8s_publish(ngx_kedge_k8s_reflector_t *rf);
static void ngx_kedge_k8s_fail(ngx_kedge_k8s_reflector_t *rf,
    const char *what, ngx_str_t *why);
static void ngx_kedge_k8s_schedule(ngx_kedge_k8s_reflector_t *rf,
    ngx_msec_t delay);

static void ngx_kedge_k8s_watch_cleanup(void *data);
static ngx_int_t ngx_kedge_k8s_watch_init(ngx_kedge_k8s_watch_t *w,
    u_char *p);
static size_t ngx_kedge_k8s_watch_size(ngx_kedge_k8s_watch_t *w);
static ngx_int_t ngx_kedge_k8s_slices_list(ngx_kedge_k8s_reflector_t *rf,
    ngx_kedge_k8s_unknown_t *u, const char **err);
static ngx_int_t ngx_kedge_k8s_slices_event(ngx_kedge_k8s_reflector_t *rf,
    ngx_uint_t type, ngx_kedge_k8s_unknown_t *u, const char **err);
static ngx_int_t ngx_kedge_k8s_slices_publish(
    ngx_kedge_k8s_reflector_t *rf);
static void ngx_kedge_k8s_slices_failed(ngx_kedge_k8s_reflector_t *rf);
static void ngx_kedge_k8s_slices_state(ngx_kedge_k8s_reflector_t *rf,
    ngx_uint_t state);
static ngx_kedge_k8s_slice_entry_t *ngx_kedge_k8s_entry(
    ngx_kedge_k8s_watch_t *w, const ngx_kedge_k8s_slice_t *slice,
    const char **err);
static void ngx_kedge_k8s_replace(ngx_kedge_k8s_watch_t *w,
    ngx_kedge_k8s_slice_entry_t *entry, u_char *name, size_t name_len);
static void ngx_kedge_k8s_free_slices(ngx_kedge_k8s_slice_entry_t *s);


/* libcurl's multi handle, once per API server, in the fetcher's process */

ngx_int_t
ngx_kedge_k8s_api_init(ngx_kedge_k8s_api_t *api, ngx_pool_t *pool,
    ngx_log_t *log)
{
    if (api->curl == NULL) {
        api->curl = ngx_kedge_curl_create(pool, log);
        if (api->curl == NULL) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_kedge_k8s_reflector_start(ngx_kedge_k8s_reflector_t *rf, ngx_log_t *log)
{
    if (rf->api->curl == NULL) {
        return NGX_ERROR;
    }

    rf->log = log;
    rf->timer.handler = ngx_kedge_k8s_timer;
    rf->timer.data = rf;
    rf->timer.log = log;
    rf->timer.cancelable = 1;

    /* a timer, not a transfer: this may run inside a transfer's callback */

    ngx_kedge_k8s_schedule(rf, 0);

    return NGX_OK;
}


/* no callback after it; the memory is the caller's again */

void
ngx_kedge_k8s_reflector_stop(ngx_kedge_k8s_reflector_t *rf)
{
    if (rf->busy) {
        ngx_kedge_http_cancel(&rf->http);
        rf->busy = 0;
    }

    if (rf->timer.timer_set) {
        ngx_del_timer(&rf->timer);
    }

    if (rf->buf) {
        ngx_free(rf->buf);
        rf->buf = NULL;
    }
}


static void
ngx_kedge_k8s_timer(ngx_event_t *ev)
{
    ngx_kedge_k8s_reflector_t *rf = ev->data;

    ngx_str_t  why;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    if (ngx_kedge_k8s_request(rf) != NGX_OK) {
        ngx_str_set(&why, "the request could not be started");
        ngx_kedge_k8s_fail(rf, rf->watching ? "watch" : "list", &why);
    }
}


static ngx_int_t
ngx_kedge_k8s_request(ngx_kedge_k8s_reflector_t *rf)
{
    u_char            *p, *last;
    ngx_str_t          token;
    ngx_kedge_http_t  *h;

    static u_char  url[2048];

    if (rf->relist) {
        rf->relist = 0;
        rf->watching = 0;
    }

    p = url;
    last = url + sizeof(url) - 1;

    p = ngx_slprintf(p, last, "%V%V?labelSelector=%V",
                     &rf->api->url, &rf->path, &rf->selector);

    if (rf->watching) {
        p = ngx_slprintf(p, last,
                         "&watch=1&allowWatchBookmarks=true"
                         "&timeoutSeconds=%d&resourceVersion=%*s",
                         NGX_KEDGE_K8S_WATCH_SECONDS, rf->rv_len, rf->rv);
    }

    if (p == last) {
        return NGX_ERROR;
    }

    *p = '\0';

    if (ngx_kedge_k8s_read_token(rf, &token) != NGX_OK) {
        return NGX_ERROR;
    }

    h = &rf->http;
    ngx_memzero(h, sizeof(ngx_kedge_http_t));

    if (rf->state) {
        rf->state(rf, rf->watching ? NGX_KEDGE_STORE_WATCH_WATCHING
                                   : NGX_KEDGE_STORE_WATCH_LISTING);
    }

    h->url.data = url;
    h->url.len = p - url;
    h->bearer = token;
    ngx_str_set(&h->accept, "application/vnd.kubernetes.protobuf");
    h->ca_file = rf->api->ca_file;
    h->connect_timeout = 5000;

    if (rf->watching) {
        /* the server ends a watch after timeoutSeconds: a hang guard */
        h->timeout = (NGX_KEDGE_K8S_WATCH_SECONDS + 30) * 1000;
        h->max_size = 0;

    } else {
        h->timeout = 60000;
        h->low_speed_time = 20;
        h->max_size = rf->api->max_size;
    }

    h->data = ngx_kedge_k8s_data;
    h->done = ngx_kedge_k8s_done;
    h->ctx = rf;

    rf->buf_len = 0;

    if (ngx_kedge_http_start(rf->api->curl, h) != NGX_OK) {
        return NGX_ERROR;
    }

    rf->busy = 1;

    return NGX_OK;
}


/*
 * The service account token is read for every request: it rotates, and
 * a 401 is then answered by the next attempt with the new one.
 */

static ngx_int_t
ngx_kedge_k8s_read_token(ngx_kedge_k8s_reflector_t *rf, ngx_str_t *token)
{
    ssize_t    n;
    ngx_fd_t   fd;
    u_char    *p, *last;

    static u_char  buf[16384];

    ngx_str_null(token);

    if (rf->api->token_file.len == 0) {
        return NGX_OK;
    }

    fd = ngx_open_file(rf->api->token_file.data, NGX_FILE_RDONLY,
                       NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_ERR, rf->log, ngx_errno,
                      "kedge: cannot open token file \"%V\"",
                      &rf->api->token_file);
        return NGX_ERROR;
    }

    n = read(fd, buf, sizeof(buf));

    ngx_close_file(fd);

    if (n <= 0 || n == (ssize_t) sizeof(buf)) {
        ngx_log_error(NGX_LOG_ERR, rf->log, 0,
                      "kedge: token file \"%V\" is empty or too large",
                      &rf->api->token_file);
        return NGX_ERROR;
    }

    /* a token is a single line: no header injection through it */

    p = buf;
    last = buf + n;

    while (last > p && (last[-1] == '\n' || last[-1] == '\r'
                        || last[-1] == ' '))
    {
        last--;
    }

    for ( /* void */ ; p < last; p++) {
        if (*p <= ' ' || *p >= 0x7f) {
            ngx_log_error(NGX_LOG_ERR, rf->log, 0,
                          "kedge: token file \"%V\" holds invalid characters",
                          &rf->api->token_file);
            return NGX_ERROR;
        }
    }

    token->data = buf;
    token->len = last - buf;

    return NGX_OK;
}


static ngx_int_t
ngx_kedge_k8s_data(ngx_kedge_http_t *h, u_char *data, size_t len)
{
    ngx_kedge_k8s_reflector_t *rf = h->ctx;

    u_char  *nbuf;
    size_t   size;

    /*
     * a list body or an error body is capped by the transfer; watch
     * frames by the framer, which sees at most one frame and the start of
     * the next here
     */

    if (rf->buf_len + len > 2 * (rf->api->max_size + 4)) {
        return NGX_ERROR;
    }

    if (rf->buf_len + len > rf->buf_size) {
        size = ngx_max(rf->buf_size * 2, rf->buf_len + len);
        size = ngx_max(size, 16384);

        nbuf = ngx_alloc(size, rf->log);
        if (nbuf == NULL) {
            return NGX_ERROR;
        }

        if (rf->buf) {
            ngx_memcpy(nbuf, rf->buf, rf->buf_len);
            ngx_free(rf->buf);
        }

        rf->buf = nbuf;
        rf->buf_size = size;
    }

    ngx_memcpy(rf->buf + rf->buf_len, data, len);
    rf->buf_len += len;

    /* a list is decoded when complete; watch events as they come */

    if (rf->watching && h->status == 200) {
        return ngx_kedge_k8s_frames(rf);
    }

    return NGX_OK;
}


static void
ngx_kedge_k8s_done(ngx_kedge_http_t *h, ngx_int_t rc)
{
    ngx_kedge_k8s_reflector_t *rf = h->ctx;

    ngx_str_t    why;
    const char  *err;
    u_char       status[NGX_INT_T_LEN + sizeof("HTTP status ")];

    rf->busy = 0;

    if (rf->relist) {
        /* a 410 in the stream: list again, at once */
        ngx_kedge_k8s_schedule(rf, 0);
        return;
    }

    if (rc != NGX_OK) {
        ngx_kedge_k8s_fail(rf, rf->watching ? "watch" : "list", &h->error);
        return;
    }

    if (h->status == 410 && rf->watching) {
        rf->relist = 1;
        ngx_kedge_k8s_schedule(rf, 0);
        return;
    }

    if (h->status == 401 && !rf->unauthorized) {

        /* the token may have just rotated: it is read again, at once */

        ngx_log_error(NGX_LOG_WARN, rf->log, 0,
                      "kedge: %s of %V unauthorized, "
                      "trying again with the token read anew",
                      rf->watching ? "watch" : "list", &rf->what);

        rf->unauthorized = 1;
        rf->failed(rf);
        ngx_kedge_k8s_schedule(rf, 0);
        return;
    }

    if (h->status == 200) {
        rf->unauthorized = 0;
    }

    if (h->status != 200) {
        why.data = status;
        why.len = ngx_sprintf(status, "HTTP status %ui", h->status) - status;
        ngx_kedge_k8s_fail(rf, rf->watching ? "watch" : "list", &why);
        return;
    }

    if (rf->watching) {
        /* the server closed the watch (timeoutSeconds): resume it */

        if (rf->buf_len) {
            ngx_str_set(&why, "truncated watch frame");
            ngx_kedge_k8s_fail(rf, "watch", &why);
            return;
        }

        ngx_kedge_k8s_schedule(rf, 0);
        return;
    }

    err = NULL;

    if (ngx_kedge_k8s_list(rf, &err) != NGX_OK) {
        why.data = (u_char *) err;
        why.len = ngx_strlen(err);
        ngx_kedge_k8s_fail(rf, "list", &why);
        return;
    }

    ngx_kedge_k8s_publish(rf);

    rf->watching = 1;
    ngx_kedge_k8s_schedule(rf, 0);
}


static ngx_int_t
ngx_kedge_k8s_list(ngx_kedge_k8s_reflector_t *rf, const char **err)
{
    ngx_int_t                 rc;
    ngx_kedge_k8s_unknown_t  *u;

    u = ngx_kedge_k8s_unwrap(rf->buf, rf->buf_len, NULL, err);
    if (u == NULL) {
        return NGX_ERROR;
    }

    rc = rf->list(rf, u, err);

    k8s__io__apimachinery__pkg__runtime__unknown__free_unpacked(u, NULL);

    return rc;
}


/* the complete frames of the watch stream so far */

static ngx_int_t
ngx_kedge_k8s_frames(ngx_kedge_k8s_reflector_t *rf)
{
    int          rc;
    size_t       off, flen;
    ngx_str_t    why;
    ngx_uint_t   changed, ev;
    const char  *err;

    off = 0;
    changed = 0;
    err = NULL;

    for ( ;; ) {
        rc = ngx_kedge_k8s_frame(rf->buf + off, rf->buf_len - off,
                                 rf->api->max_size, &flen, &err);

        if (rc == NGX_KEDGE_K8S_AGAIN) {
            break;
        }

        if (rc == NGX_KEDGE_K8S_ERROR) {
            goto failed;
        }

        ev = ngx_kedge_k8s_event(rf, rf->buf + off + 4, flen, &err);

        off += 4 + flen;

        if (ev == NGX_KEDGE_K8S_EVENT_RELIST) {
            rf->relist = 1;
            return NGX_ERROR;
        }

        if (ev == NGX_KEDGE_K8S_EVENT_ERROR) {
            /* a bad event: list again, after the back-off */
            rf->watching = 0;
            goto failed;
        }

        changed = 1;
    }

    ngx_memmove(rf->buf, rf->buf + off, rf->buf_len - off);
    rf->buf_len -= off;

    if (changed) {
        ngx_kedge_k8s_publish(rf);
    }

    return NGX_OK;

failed:

    /* what came before the bad frame is applied; the watch starts over */

    if (changed) {
        ngx_kedge_k8s_publish(rf);
    }

    why.data = (u_char *) err;
    why.len = ngx_strlen(err);

    ngx_log_error(NGX_LOG_WARN, rf->log, 0,
                  "kedge: watch of %V: %V", &rf->what, &why);

    rf->buf_len = 0;

    return NGX_ERROR;
}


static ngx_uint_t
ngx_kedge_k8s_event(ngx_kedge_k8s_reflector_t *rf, u_char *data, size_t len,
    const char **err)
{
    ngx_uint_t                    rc, type;
    ngx_kedge_k8s_status_t       *status;
    ngx_kedge_k8s_unknown_t      *u;
    ngx_kedge_k8s_watch_event_t  *ev;

    ev = k8s__io__apimachinery__pkg__apis__meta__v1__watch_event__unpack(
             NULL, len, data);

    if (ev == NULL || ev->type == NULL || ev->object == NULL
        || !ev->object->has_raw)
    {
        *err = "malformed WatchEvent";
        rc = NGX_KEDGE_K8S_EVENT_ERROR;
        goto done;
    }

    u = ngx_kedge_k8s_unwrap(ev->object->raw.data, ev->object->raw.len, NULL,
                             err);
    if (u == NULL) {
        rc = NGX_KEDGE_K8S_EVENT_ERROR;
        goto done;
    }

    rc = NGX_KEDGE_K8S_EVENT_ERROR;

    if (ngx_strcmp(ev->type, "ERROR") == 0) {
        status = k8s__io__apimachinery__pkg__apis__meta__v1__status__unpack(
                     NULL, u->raw.len, u->raw.data);

        if (status && status->has_code && status->code == 410) {
            rc = NGX_KEDGE_K8S_EVENT_RELIST;

        } else {
            *err = "ERROR event";
        }

        if (status) {
            k8s__io__apimachinery__pkg__apis__meta__v1__status__free_unpacked(
                status, NULL);
        }

        goto unknown;
    }

    if (ngx_strcmp(ev->type, "ADDED") == 0) {
        type = NGX_KEDGE_K8S_ADDED;

    } else if (ngx_strcmp(ev->type, "MODIFIED") == 0) {
        type = NGX_KEDGE_K8S_MODIFIED;

    } else if (ngx_strcmp(ev->type, "DELETED") == 0) {
        type = NGX_KEDGE_K8S_DELETED;

    } else if (ngx_strcmp(ev->type, "BOOKMARK") == 0) {
        type = NGX_KEDGE_K8S_BOOKMARK;

    } else {
        *err = "unknown WatchEvent type";
        goto unknown;
    }

    /*
     * the resourceVersion moves only once the event is applied: a watch
     * that fails on an event starts again before it, by a new list
     */

    if (rf->event(rf, type, u, err) == NGX_OK) {
        rc = NGX_KEDGE_K8S_EVENT_OK;
    }

unknown:

    k8s__io__apimachinery__pkg__runtime__unknown__free_unpacked(u, NULL);

done:

    if (ev) {
        k8s__io__apimachinery__pkg__apis__meta__v1__watch_event__free_unpacked(
            ev, NULL);
    }

    return rc;
}


/* a resourceVersion goes into a URL: opaque, but only URL-safe bytes */

ngx_int_t
ngx_kedge_k8s_reflector_rv(ngx_kedge_k8s_reflector_t *rf, const char *rv)
{
    size_t  i, len;

    len = ngx_strlen(rv);

    if (len == 0 || len > sizeof(rf->rv)) {
        return NGX_ERROR;
    }

    for (i = 0; i < len; i++) {
        if (!((rv[i] >= '0' && rv[i] <= '9') || (rv[i] >= 'a' && rv[i] <= 'z')
              || (rv[i] >= 'A' && rv[i] <= 'Z') || rv[i] == '-'
              || rv[i] == '_' || rv[i] == '.'))
        {
            return NGX_ERROR;
        }
    }

    ngx_memcpy(rf->rv, rv, len);
    rf->rv_len = len;

    return NGX_OK;
}


/* a query parameter's value: every byte but the unreserved ones escaped */

u_char *
ngx_kedge_k8s_escape(u_char *dst, u_char *last, u_char *src, size_t len)
{
    size_t  i;

    static u_char  hex[] = "0123456789ABCDEF";

    for (i = 0; i < len && dst < last; i++) {
        if ((src[i] >= 'a' && src[i] <= 'z') || (src[i] >= 'A' && src[i] <= 'Z')
            || (src[i] >= '0' && src[i] <= '9') || src[i] == '-'
            || src[i] == '.' || src[i] == '_' || src[i] == '~')
        {
            *dst++ = src[i];
            continue;
        }

        if (last - dst < 3) {
            return last;
        }

        *dst++ = '%';
        *dst++ = hex[src[i] >> 4];
        *dst++ = hex[src[i] & 0xf];
    }

    return dst;
}


static void
ngx_kedge_k8s_publish(ngx_kedge_k8s_reflector_t *rf)
{
    if (rf->publish(rf) != NGX_OK) {
        return;
    }

    if (rf->failing) {
        ngx_log_error(NGX_LOG_NOTICE, rf->log, 0,
                      "kedge: %V in sync with the Kubernetes API again",
                      &rf->what);
        rf->failing = 0;
    }

    rf->backoff = 0;
    rf->unauthorized = 0;
}


static void
ngx_kedge_k8s_fail(ngx_kedge_k8s_reflector_t *rf, const char *what,
    ngx_str_t *why)
{
    ngx_msec_t  delay;

    if (!rf->failing) {
        ngx_log_error(NGX_LOG_WARN, rf->log, 0,
                      "kedge: %s of %V failed: %V", what, &rf->what, why);
        rf->failing = 1;
    }

    rf->failed(rf);

    if (rf->state) {
        rf->state(rf, NGX_KEDGE_STORE_WATCH_RETRYING);
    }

    delay = ngx_kedge_store_backoff(&rf->backoff);

    ngx_kedge_k8s_schedule(rf, delay);
}


static void
ngx_kedge_k8s_schedule(ngx_kedge_k8s_reflector_t *rf, ngx_msec_t delay)
{
    if (rf->timer.timer_set) {
        ngx_del_timer(&rf->timer);
    }

    ngx_add_timer(&rf->timer, delay);
}


/*
 * The EndpointSlices of a k8s= backend: every slice of the Service (label
 * kubernetes.io/service-name), joined, to the backend's place in the
 * store.  A configured backend's watch lives as long as its pool; one of
 * a discovered backend is made and destroyed as Services come and go.
 */

ngx_int_t
ngx_kedge_k8s_watch_start(ngx_kedge_k8s_watch_t *w, ngx_pool_t *pool,
    ngx_log_t *log)
{
    u_char              *p;
    ngx_pool_cleanup_t  *cln;

    if (ngx_kedge_k8s_api_init(w->api, pool, log) != NGX_OK) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(pool, ngx_kedge_k8s_watch_size(w));
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (ngx_kedge_k8s_watch_init(w, p) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the transfer, the buffers and the timer go with the configuration */

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_kedge_k8s_watch_cleanup;
    cln->data = w;

    return ngx_kedge_k8s_reflector_start(&w->reflector, log);
}


/* a watch of its own memory, started; the API's libcurl handle exists */

ngx_kedge_k8s_watch_t *
ngx_kedge_k8s_watch_create(ngx_kedge_k8s_api_t *api, ngx_kedge_store_t *store,
    ngx_uint_t index, ngx_str_t *backend, ngx_str_t *service,
    ngx_str_t *namespace, ngx_str_t *port_name, ngx_log_t *log)
{
    u_char                 *p;
    size_t                  size;
    ngx_kedge_k8s_watch_t   tmp, *w;

    ngx_memzero(&tmp, sizeof(ngx_kedge_k8s_watch_t));

    tmp.backend = *backend;
    tmp.service = *service;
    tmp.namespace = *namespace;
    tmp.port_name = *port_name;

    size = sizeof(ngx_kedge_k8s_watch_t) + backend->len + service->len
           + namespace->len + port_name->len + 1
           + ngx_kedge_k8s_watch_size(&tmp);

    w = ngx_alloc(size, log);
    if (w == NULL) {
        return NULL;
    }

    ngx_memzero(w, sizeof(ngx_kedge_k8s_watch_t));

    p = (u_char *) (w + 1);

    w->backend.data = p;
    w->backend.len = backend->len;
    p = ngx_cpymem(p, backend->data, backend->len);

    w->service.data = p;
    w->service.len = service->len;
    p = ngx_cpymem(p, service->data, service->len);

    w->namespace.data = p;
    w->namespace.len = namespace->len;
    p = ngx_cpymem(p, namespace->data, namespace->len);

    /* the port name is NUL-terminated for the decoder */

    w->port_name.data = p;
    w->port_name.len = port_name->len;
    p = ngx_cpymem(p, port_name->data, port_name->len);
    *p++ = '\0';

    w->api = api;
    w->store = store;
    w->index = index;
    w->allocated = 1;

    if (ngx_kedge_k8s_watch_init(w, p) != NGX_OK
        || ngx_kedge_k8s_reflector_start(&w->reflector, log) != NGX_OK)
    {
        ngx_free(w);
        return NULL;
    }

    return w;
}


void
ngx_kedge_k8s_watch_destroy(ngx_kedge_k8s_watch_t *w)
{
    ngx_kedge_k8s_reflector_stop(&w->reflector);

    ngx_kedge_k8s_free_slices(w->slices);
    w->slices = NULL;

    if (w->allocated) {
        ngx_free(w);
    }
}


static void
ngx_kedge_k8s_watch_cleanup(void *data)
{
    ngx_kedge_k8s_watch_t *w = data;

    ngx_kedge_k8s_watch_destroy(w);
}


static size_t
ngx_kedge_k8s_watch_size(ngx_kedge_k8s_watch_t *w)
{
    return sizeof("/apis/discovery.k8s.io/v1/namespaces//endpointslices")
           - 1 + w->namespace.len
           + sizeof("kubernetes.io%2Fservice-name%3D") - 1 + w->service.len
           + sizeof("backend \"\"") - 1 + w->backend.len;
}


/* the strings of the reflector, at p (ngx_kedge_k8s_watch_size() bytes) */

static ngx_int_t
ngx_kedge_k8s_watch_init(ngx_kedge_k8s_watch_t *w, u_char *p)
{
    ngx_kedge_k8s_reflector_t  *rf;

    rf = &w->reflector;

    rf->path.data = p;
    p = ngx_sprintf(p, "/apis/discovery.k8s.io/v1/namespaces/%V"
                    "/endpointslices", &w->namespace);
    rf->path.len = p - rf->path.data;

    rf->selector.data = p;
    p = ngx_sprintf(p, "kubernetes.io%%2Fservice-name%%3D%V", &w->service);
    rf->selector.len = p - rf->selector.data;

    rf->what.data = p;
    p = ngx_sprintf(p, "backend \"%V\"", &w->backend);
    rf->what.len = p - rf->what.data;

    rf->api = w->api;
    rf->list = ngx_kedge_k8s_slices_list;
    rf->event = ngx_kedge_k8s_slices_event;
    rf->publish = ngx_kedge_k8s_slices_publish;
    rf->failed = ngx_kedge_k8s_slices_failed;
    rf->state = ngx_kedge_k8s_slices_state;
    rf->data = w;

    return NGX_OK;
}


static ngx_int_t
ngx_kedge_k8s_slices_list(ngx_kedge_k8s_reflector_t *rf,
    ngx_kedge_k8s_unknown_t *u, const char **err)
{
    ngx_kedge_k8s_watch_t *w = rf->data;

    ngx_int_t                     rc;
    ngx_uint_t                    i;
    ngx_kedge_k8s_slice_list_t   *list;
    ngx_kedge_k8s_slice_entry_t  *entry, *slices;

    list = k8s__io__api__discovery__v1__endpoint_slice_list__unpack(NULL,
                                                          u->raw.len,
                                                          u->raw.data);
    if (list == NULL) {
        *err = "malformed EndpointSliceList";
        return NGX_ERROR;
    }

    rc = NGX_ERROR;
    slices = NULL;

    if (list->metadata == NULL || list->metadata->resourceversion == NULL
        || ngx_kedge_k8s_reflector_rv(rf, list->metadata->resourceversion)
           != NGX_OK)
    {
        *err = "EndpointSliceList without a valid resourceVersion";
        goto done;
    }

    for (i = 0; i < list->n_items; i++) {
        entry = ngx_kedge_k8s_entry(w, list->items[i], err);
        if (entry == NULL) {
            goto done;
        }

        entry->next = slices;
        slices = entry;
    }

    /* the list replaces everything known before */

    ngx_kedge_k8s_free_slices(w->slices);
    w->slices = slices;
    slices = NULL;

    rc = NGX_OK;

done:

    ngx_kedge_k8s_free_slices(slices);
    k8s__io__api__discovery__v1__endpoint_slice_list__free_unpacked(list,
                                                                    NULL);

    return rc;
}


static ngx_int_t
ngx_kedge_k8s_slices_event(ngx_kedge_k8s_reflector_t *rf, ngx_uint_t type,
    ngx_kedge_k8s_unknown_t *u, const char **err)
{
    ngx_kedge_k8s_watch_t *w = rf->data;

    ngx_int_t                     rc;
    ngx_kedge_k8s_slice_t        *slice;
    ngx_kedge_k8s_slice_entry_t  *entry;

    slice = k8s__io__api__discovery__v1__endpoint_slice__unpack(NULL,
                                                                u->raw.len,
                                                                u->raw.data);

    if (slice == NULL || slice->metadata == NULL
        || slice->metadata->resourceversion == NULL)
    {
        *err = "malformed EndpointSlice in a WatchEvent";
        rc = NGX_ERROR;
        goto done;
    }

    rc = NGX_ERROR;

    if (type != NGX_KEDGE_K8S_BOOKMARK) {

        if (slice->metadata->name == NULL) {
            *err = "EndpointSlice without a name";
            goto done;
        }

        if (type == NGX_KEDGE_K8S_DELETED) {
            ngx_kedge_k8s_replace(w, NULL, (u_char *) slice->metadata->name,
                                  ngx_strlen(slice->metadata->name));

        } else {
            entry = ngx_kedge_k8s_entry(w, slice, err);
            if (entry == NULL) {
                goto done;
            }

            ngx_kedge_k8s_replace(w, entry, entry->name, entry->name_len);
        }
    }

    if (ngx_kedge_k8s_reflector_rv(rf, slice->metadata->resourceversion)
        != NGX_OK)
    {
        *err = "invalid resourceVersion in a WatchEvent";
        goto done;
    }

    rc = NGX_OK;

done:

    if (slice) {
        k8s__io__api__discovery__v1__endpoint_slice__free_unpacked(slice,
                                                                   NULL);
    }

    return rc;
}


/* one slice as the backend uses it: its name and its usable endpoints */

static ngx_kedge_k8s_slice_entry_t *
ngx_kedge_k8s_entry(ngx_kedge_k8s_watch_t *w,
    const ngx_kedge_k8s_slice_t *slice, const char **err)
{
    size_t                        i, n, name_len;
    const char                   *name;
    ngx_kedge_k8s_slice_entry_t  *entry;

    name = (slice->metadata && slice->metadata->name) ? slice->metadata->name
                                                      : "";
    name_len = ngx_strlen(name);

    n = 0;

    for (i = 0; i < slice->n_endpoints; i++) {
        n += slice->endpoints[i]->n_addresses;
    }

    if (n > NGX_KEDGE_K8S_MAX_ENDPOINTS) {
        *err = "EndpointSlice with too many endpoints";
        return NULL;
    }

    entry = ngx_alloc(sizeof(ngx_kedge_k8s_slice_entry_t) + name_len
                      + (n ? n : 1) * sizeof(ngx_kedge_k8s_endpoint_t),
                      w->reflector.log);
    if (entry == NULL) {
        *err = "out of memory";
        return NULL;
    }

    entry->next = NULL;
    entry->endpoints = (ngx_kedge_k8s_endpoint_t *) (entry + 1);
    entry->name = (u_char *) (entry->endpoints + (n ? n : 1));
    entry->name_len = name_len;
    ngx_memcpy(entry->name, name, name_len);

    if (ngx_kedge_k8s_slice_endpoints(slice,
                                      w->port_name.len
                                      ? (char *) w->port_name.data : NULL,
                                      w->port_number, entry->endpoints, n,
                                      &entry->nendpoints, err)
        != NGX_KEDGE_K8S_OK)
    {
        ngx_free(entry);
        return NULL;
    }

    return entry;
}


/* the slice of that name replaced by "entry", or removed if NULL */

static void
ngx_kedge_k8s_replace(ngx_kedge_k8s_watch_t *w,
    ngx_kedge_k8s_slice_entry_t *entry, u_char *name, size_t name_len)
{
    ngx_kedge_k8s_slice_entry_t  **sp, *s;

    for (sp = &w->slices; *sp; sp = &(*sp)->next) {
        s = *sp;

        if (s->name_len == name_len
            && ngx_strncmp(s->name, name, name_len) == 0)
        {
            *sp = s->next;
            ngx_free(s);
            break;
        }
    }

    if (entry) {
        entry->next = w->slices;
        w->slices = entry;
    }
}


static void
ngx_kedge_k8s_free_slices(ngx_kedge_k8s_slice_entry_t *s)
{
    ngx_kedge_k8s_slice_entry_t  *next;

    while (s) {
        next = s->next;
        ngx_free(s);
        s = next;
    }
}


/* every slice's endpoints, joined, to the store (which de-duplicates) */

static ngx_int_t
ngx_kedge_k8s_slices_publish(ngx_kedge_k8s_reflector_t *rf)
{
    ngx_kedge_k8s_watch_t *w = rf->data;

    size_t                        i;
    ngx_int_t                     rc;
    ngx_str_t                     text;
    ngx_pool_t                   *pool;
    ngx_addr_t                   *addr;
    ngx_array_t                   addrs;
    ngx_kedge_k8s_slice_entry_t  *s;

    pool = ngx_create_pool(4096, rf->log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_ERROR;

    if (ngx_array_init(&addrs, pool, 16, sizeof(ngx_addr_t)) != NGX_OK) {
        goto done;
    }

    for (s = w->slices; s; s = s->next) {
        for (i = 0; i < s->nendpoints; i++) {
            addr = ngx_array_push(&addrs);
            if (addr == NULL) {
                goto done;
            }

            text.data = (u_char *) s->endpoints[i].addr;
            text.len = ngx_strlen(s->endpoints[i].addr);

            if (ngx_parse_addr(pool, addr, text.data, text.len) != NGX_OK) {
                ngx_log_error(NGX_LOG_ERR, rf->log, 0,
                              "kedge: backend \"%V\": cannot use address "
                              "\"%V\"", &w->backend, &text);
                ngx_kedge_store_failed(w->store, w->index, rf->log);
                goto done;
            }

            ngx_inet_set_port(addr->sockaddr, s->endpoints[i].port);
        }
    }

    rc = NGX_OK;

    (void) ngx_kedge_store_update(w->store, w->index, addrs.elts, addrs.nelts,
                                  rf->log);

done:

    ngx_destroy_pool(pool);

    return rc;
}


static void
ngx_kedge_k8s_slices_failed(ngx_kedge_k8s_reflector_t *rf)
{
    ngx_kedge_k8s_watch_t *w = rf->data;

    ngx_kedge_store_failed(w->store, w->index, rf->log);
}


static void
ngx_kedge_k8s_slices_state(ngx_kedge_k8s_reflector_t *rf, ngx_uint_t state)
{
    ngx_kedge_k8s_watch_t *w = rf->data;

    ngx_kedge_store_watch(w->store, w->index, state);
}
