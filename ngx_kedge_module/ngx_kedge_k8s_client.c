
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 *
 * The Kubernetes client of a k8s= backend, as client-go's reflector
 * does it: list the Service's EndpointSlices (label
 * kubernetes.io/service-name), then watch from the list's
 * resourceVersion with bookmarks; a 410 Gone, as a status or as an
 * ERROR event, means list again; any other failure keeps the last known
 * endpoints, and the watch resumes from the last resourceVersion after a
 * back-off.  Protobuf only; runs in the fetcher's process, on libcurl
 * driven by nginx events (ngx_kedge_curl.c).
 */


#include "ngx_kedge_k8s_client.h"
#include "ngx_kedge_k8s.h"


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


static void ngx_kedge_k8s_stop(void *data);
static void ngx_kedge_k8s_timer(ngx_event_t *ev);
static ngx_int_t ngx_kedge_k8s_request(ngx_kedge_k8s_watch_t *w);
static ngx_int_t ngx_kedge_k8s_read_token(ngx_kedge_k8s_watch_t *w,
    ngx_str_t *token);
static ngx_int_t ngx_kedge_k8s_data(ngx_kedge_http_t *h, u_char *data,
    size_t len);
static void ngx_kedge_k8s_done(ngx_kedge_http_t *h, ngx_int_t rc);
static ngx_int_t ngx_kedge_k8s_list(ngx_kedge_k8s_watch_t *w,
    const char **err);
static ngx_int_t ngx_kedge_k8s_frames(ngx_kedge_k8s_watch_t *w);
static ngx_uint_t ngx_kedge_k8s_event(ngx_kedge_k8s_watch_t *w, u_char *data,
    size_t len, const char **err);
static ngx_kedge_k8s_slice_entry_t *ngx_kedge_k8s_entry(
    ngx_kedge_k8s_watch_t *w, const ngx_kedge_k8s_slice_t *slice,
    const char **err);
static void ngx_kedge_k8s_replace(ngx_kedge_k8s_watch_t *w,
    ngx_kedge_k8s_slice_entry_t *entry, u_char *name, size_t name_len);
static void ngx_kedge_k8s_free_slices(ngx_kedge_k8s_slice_entry_t *s);
static ngx_int_t ngx_kedge_k8s_set_rv(ngx_kedge_k8s_watch_t *w,
    const char *rv);
static void ngx_kedge_k8s_publish(ngx_kedge_k8s_watch_t *w);
static void ngx_kedge_k8s_fail(ngx_kedge_k8s_watch_t *w, const char *what,
    ngx_str_t *why);
static void ngx_kedge_k8s_schedule(ngx_kedge_k8s_watch_t *w,
    ngx_msec_t delay);


ngx_int_t
ngx_kedge_k8s_watch_start(ngx_kedge_k8s_watch_t *w, ngx_pool_t *pool,
    ngx_log_t *log)
{
    ngx_pool_cleanup_t  *cln;

    if (w->api->curl == NULL) {
        w->api->curl = ngx_kedge_curl_create(pool, log);
        if (w->api->curl == NULL) {
            return NGX_ERROR;
        }
    }

    /* the transfer, the buffers and the timer go with the configuration */

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_kedge_k8s_stop;
    cln->data = w;

    w->log = log;
    w->timer.handler = ngx_kedge_k8s_timer;
    w->timer.data = w;
    w->timer.log = log;
    w->timer.cancelable = 1;

    ngx_kedge_k8s_schedule(w, 0);

    return NGX_OK;
}


static void
ngx_kedge_k8s_stop(void *data)
{
    ngx_kedge_k8s_watch_t *w = data;

    if (w->busy) {
        ngx_kedge_http_cancel(&w->http);
        w->busy = 0;
    }

    if (w->timer.timer_set) {
        ngx_del_timer(&w->timer);
    }

    ngx_kedge_k8s_free_slices(w->slices);
    w->slices = NULL;

    if (w->buf) {
        ngx_free(w->buf);
        w->buf = NULL;
    }
}


static void
ngx_kedge_k8s_timer(ngx_event_t *ev)
{
    ngx_kedge_k8s_watch_t *w = ev->data;

    ngx_str_t  why;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    if (ngx_kedge_k8s_request(w) != NGX_OK) {
        ngx_str_set(&why, "the request could not be started");
        ngx_kedge_k8s_fail(w, w->watching ? "watch" : "list", &why);
    }
}


static ngx_int_t
ngx_kedge_k8s_request(ngx_kedge_k8s_watch_t *w)
{
    u_char            *p, *last;
    ngx_str_t          token;
    ngx_kedge_http_t  *h;

    static u_char  url[2048];

    if (w->relist) {
        w->relist = 0;
        w->watching = 0;
    }

    p = url;
    last = url + sizeof(url) - 1;

    p = ngx_slprintf(p, last,
                     "%V/apis/discovery.k8s.io/v1/namespaces/%V/endpointslices"
                     "?labelSelector=kubernetes.io%%2Fservice-name%%3D%V",
                     &w->api->url, &w->namespace, &w->service);

    if (w->watching) {
        p = ngx_slprintf(p, last,
                         "&watch=1&allowWatchBookmarks=true"
                         "&timeoutSeconds=%d&resourceVersion=%*s",
                         NGX_KEDGE_K8S_WATCH_SECONDS, w->rv_len, w->rv);
    }

    if (p == last) {
        return NGX_ERROR;
    }

    *p = '\0';

    if (ngx_kedge_k8s_read_token(w, &token) != NGX_OK) {
        return NGX_ERROR;
    }

    h = &w->http;
    ngx_memzero(h, sizeof(ngx_kedge_http_t));

    ngx_kedge_store_watch(w->store, w->index,
                          w->watching ? NGX_KEDGE_STORE_WATCH_WATCHING
                                      : NGX_KEDGE_STORE_WATCH_LISTING);

    h->url.data = url;
    h->url.len = p - url;
    h->bearer = token;
    ngx_str_set(&h->accept, "application/vnd.kubernetes.protobuf");
    h->ca_file = w->api->ca_file;
    h->connect_timeout = 5000;

    if (w->watching) {
        /* the server ends a watch after timeoutSeconds: a hang guard */
        h->timeout = (NGX_KEDGE_K8S_WATCH_SECONDS + 30) * 1000;
        h->max_size = 0;

    } else {
        h->timeout = 60000;
        h->low_speed_time = 20;
        h->max_size = w->api->max_size;
    }

    h->data = ngx_kedge_k8s_data;
    h->done = ngx_kedge_k8s_done;
    h->ctx = w;

    w->buf_len = 0;

    if (ngx_kedge_http_start(w->api->curl, h) != NGX_OK) {
        return NGX_ERROR;
    }

    w->busy = 1;

    return NGX_OK;
}


/*
 * The service account token is read for every request: it rotates, and
 * a 401 is then answered by the next attempt with the new one.
 */

static ngx_int_t
ngx_kedge_k8s_read_token(ngx_kedge_k8s_watch_t *w, ngx_str_t *token)
{
    ssize_t    n;
    ngx_fd_t   fd;
    u_char    *p, *last;

    static u_char  buf[16384];

    ngx_str_null(token);

    if (w->api->token_file.len == 0) {
        return NGX_OK;
    }

    fd = ngx_open_file(w->api->token_file.data, NGX_FILE_RDONLY,
                       NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_ERR, w->log, ngx_errno,
                      "kedge: cannot open token file \"%V\"",
                      &w->api->token_file);
        return NGX_ERROR;
    }

    n = read(fd, buf, sizeof(buf));

    ngx_close_file(fd);

    if (n <= 0 || n == (ssize_t) sizeof(buf)) {
        ngx_log_error(NGX_LOG_ERR, w->log, 0,
                      "kedge: token file \"%V\" is empty or too large",
                      &w->api->token_file);
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
            ngx_log_error(NGX_LOG_ERR, w->log, 0,
                          "kedge: token file \"%V\" holds invalid characters",
                          &w->api->token_file);
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
    ngx_kedge_k8s_watch_t *w = h->ctx;

    u_char  *nbuf;
    size_t   size;

    /*
     * a list body or an error body is capped by the transfer; watch
     * frames by the framer, which sees at most one frame and the start of
     * the next here
     */

    if (w->buf_len + len > 2 * (w->api->max_size + 4)) {
        return NGX_ERROR;
    }

    if (w->buf_len + len > w->buf_size) {
        size = ngx_max(w->buf_size * 2, w->buf_len + len);
        size = ngx_max(size, 16384);

        nbuf = ngx_alloc(size, w->log);
        if (nbuf == NULL) {
            return NGX_ERROR;
        }

        if (w->buf) {
            ngx_memcpy(nbuf, w->buf, w->buf_len);
            ngx_free(w->buf);
        }

        w->buf = nbuf;
        w->buf_size = size;
    }

    ngx_memcpy(w->buf + w->buf_len, data, len);
    w->buf_len += len;

    /* a list is decoded when complete; watch events as they come */

    if (w->watching && h->status == 200) {
        return ngx_kedge_k8s_frames(w);
    }

    return NGX_OK;
}


static void
ngx_kedge_k8s_done(ngx_kedge_http_t *h, ngx_int_t rc)
{
    ngx_kedge_k8s_watch_t *w = h->ctx;

    ngx_str_t    why;
    const char  *err;
    u_char       status[NGX_INT_T_LEN + sizeof("HTTP status ")];

    w->busy = 0;

    if (w->relist) {
        /* a 410 in the stream: list again, at once */
        ngx_kedge_k8s_schedule(w, 0);
        return;
    }

    if (rc != NGX_OK) {
        ngx_kedge_k8s_fail(w, w->watching ? "watch" : "list", &h->error);
        return;
    }

    if (h->status == 410 && w->watching) {
        w->relist = 1;
        ngx_kedge_k8s_schedule(w, 0);
        return;
    }

    if (h->status == 401 && !w->unauthorized) {

        /* the token may have just rotated: it is read again, at once */

        ngx_log_error(NGX_LOG_WARN, w->log, 0,
                      "kedge: %s of backend \"%V\" unauthorized, "
                      "trying again with the token read anew",
                      w->watching ? "watch" : "list", &w->backend);

        w->unauthorized = 1;
        ngx_kedge_store_failed(w->store, w->index, w->log);
        ngx_kedge_k8s_schedule(w, 0);
        return;
    }

    if (h->status == 200) {
        w->unauthorized = 0;
    }

    if (h->status != 200) {
        why.data = status;
        why.len = ngx_sprintf(status, "HTTP status %ui", h->status) - status;
        ngx_kedge_k8s_fail(w, w->watching ? "watch" : "list", &why);
        return;
    }

    if (w->watching) {
        /* the server closed the watch (timeoutSeconds): resume it */

        if (w->buf_len) {
            ngx_str_set(&why, "truncated watch frame");
            ngx_kedge_k8s_fail(w, "watch", &why);
            return;
        }

        ngx_kedge_k8s_schedule(w, 0);
        return;
    }

    err = NULL;

    if (ngx_kedge_k8s_list(w, &err) != NGX_OK) {
        why.data = (u_char *) err;
        why.len = ngx_strlen(err);
        ngx_kedge_k8s_fail(w, "list", &why);
        return;
    }

    ngx_kedge_k8s_publish(w);

    w->watching = 1;
    ngx_kedge_k8s_schedule(w, 0);
}


static ngx_int_t
ngx_kedge_k8s_list(ngx_kedge_k8s_watch_t *w, const char **err)
{
    ngx_int_t                     rc;
    ngx_uint_t                    i;
    ngx_kedge_k8s_unknown_t      *u;
    ngx_kedge_k8s_slice_list_t   *list;
    ngx_kedge_k8s_slice_entry_t  *entry, *slices;

    u = ngx_kedge_k8s_unwrap(w->buf, w->buf_len, NULL, err);
    if (u == NULL) {
        return NGX_ERROR;
    }

    list = k8s__io__api__discovery__v1__endpoint_slice_list__unpack(NULL,
                                                          u->raw.len,
                                                          u->raw.data);

    k8s__io__apimachinery__pkg__runtime__unknown__free_unpacked(u, NULL);

    if (list == NULL) {
        *err = "malformed EndpointSliceList";
        return NGX_ERROR;
    }

    rc = NGX_ERROR;
    slices = NULL;

    if (list->metadata == NULL || list->metadata->resourceversion == NULL
        || ngx_kedge_k8s_set_rv(w, list->metadata->resourceversion)
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


/* the complete frames of the watch stream so far */

static ngx_int_t
ngx_kedge_k8s_frames(ngx_kedge_k8s_watch_t *w)
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
        rc = ngx_kedge_k8s_frame(w->buf + off, w->buf_len - off,
                                 w->api->max_size, &flen, &err);

        if (rc == NGX_KEDGE_K8S_AGAIN) {
            break;
        }

        if (rc == NGX_KEDGE_K8S_ERROR) {
            goto failed;
        }

        ev = ngx_kedge_k8s_event(w, w->buf + off + 4, flen, &err);

        off += 4 + flen;

        if (ev == NGX_KEDGE_K8S_EVENT_RELIST) {
            w->relist = 1;
            return NGX_ERROR;
        }

        if (ev == NGX_KEDGE_K8S_EVENT_ERROR) {
            /* a bad event: list again, after the back-off */
            w->watching = 0;
            goto failed;
        }

        changed = 1;
    }

    ngx_memmove(w->buf, w->buf + off, w->buf_len - off);
    w->buf_len -= off;

    if (changed) {
        ngx_kedge_k8s_publish(w);
    }

    return NGX_OK;

failed:

    /* what came before the bad frame is applied; the watch starts over */

    if (changed) {
        ngx_kedge_k8s_publish(w);
    }

    why.data = (u_char *) err;
    why.len = ngx_strlen(err);

    ngx_log_error(NGX_LOG_WARN, w->log, 0,
                  "kedge: watch of backend \"%V\": %V", &w->backend, &why);

    w->buf_len = 0;

    return NGX_ERROR;
}


static ngx_uint_t
ngx_kedge_k8s_event(ngx_kedge_k8s_watch_t *w, u_char *data, size_t len,
    const char **err)
{
    ngx_uint_t                    rc;
    ngx_kedge_k8s_slice_t        *slice;
    ngx_kedge_k8s_status_t       *status;
    ngx_kedge_k8s_unknown_t      *u;
    ngx_kedge_k8s_watch_event_t  *ev;
    ngx_kedge_k8s_slice_entry_t  *entry;

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
    slice = NULL;
    status = NULL;

    if (ngx_strcmp(ev->type, "ERROR") == 0) {
        status = k8s__io__apimachinery__pkg__apis__meta__v1__status__unpack(
                     NULL, u->raw.len, u->raw.data);

        if (status && status->has_code && status->code == 410) {
            rc = NGX_KEDGE_K8S_EVENT_RELIST;

        } else {
            *err = "ERROR event";
        }

        goto unknown;
    }

    slice = k8s__io__api__discovery__v1__endpoint_slice__unpack(NULL,
                                                                u->raw.len,
                                                                u->raw.data);

    if (slice == NULL || slice->metadata == NULL
        || slice->metadata->resourceversion == NULL)
    {
        *err = "malformed EndpointSlice in a WatchEvent";
        goto unknown;
    }

    /*
     * the resourceVersion moves only once the event is applied: a watch
     * that fails on an event starts again before it, by a new list
     */

    if (ngx_strcmp(ev->type, "BOOKMARK") == 0) {
        rc = NGX_KEDGE_K8S_EVENT_OK;
        goto applied;
    }

    if (slice->metadata->name == NULL) {
        *err = "EndpointSlice without a name";
        goto unknown;
    }

    if (ngx_strcmp(ev->type, "DELETED") == 0) {
        ngx_kedge_k8s_replace(w, NULL, (u_char *) slice->metadata->name,
                              ngx_strlen(slice->metadata->name));
        rc = NGX_KEDGE_K8S_EVENT_OK;
        goto applied;
    }

    if (ngx_strcmp(ev->type, "ADDED") != 0
        && ngx_strcmp(ev->type, "MODIFIED") != 0)
    {
        *err = "unknown WatchEvent type";
        goto unknown;
    }

    entry = ngx_kedge_k8s_entry(w, slice, err);
    if (entry == NULL) {
        goto unknown;
    }

    ngx_kedge_k8s_replace(w, entry, entry->name, entry->name_len);
    rc = NGX_KEDGE_K8S_EVENT_OK;

applied:

    if (ngx_kedge_k8s_set_rv(w, slice->metadata->resourceversion)
        != NGX_OK)
    {
        *err = "invalid resourceVersion in a WatchEvent";
        rc = NGX_KEDGE_K8S_EVENT_ERROR;
    }

unknown:

    if (slice) {
        k8s__io__api__discovery__v1__endpoint_slice__free_unpacked(slice,
                                                                   NULL);
    }

    if (status) {
        k8s__io__apimachinery__pkg__apis__meta__v1__status__free_unpacked(
            status, NULL);
    }

    k8s__io__apimachinery__pkg__runtime__unknown__free_unpacked(u, NULL);

done:

    if (ev) {
        k8s__io__apimachinery__pkg__apis__meta__v1__watch_event__free_unpacked(
            ev, NULL);
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
                      w->log);
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


/* a resourceVersion goes into a URL: opaque, but only URL-safe bytes */

static ngx_int_t
ngx_kedge_k8s_set_rv(ngx_kedge_k8s_watch_t *w, const char *rv)
{
    size_t  i, len;

    len = ngx_strlen(rv);

    if (len == 0 || len > sizeof(w->rv)) {
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

    ngx_memcpy(w->rv, rv, len);
    w->rv_len = len;

    return NGX_OK;
}


/* every slice's endpoints, joined, to the store (which de-duplicates) */

static void
ngx_kedge_k8s_publish(ngx_kedge_k8s_watch_t *w)
{
    size_t                        i;
    ngx_str_t                     text;
    ngx_pool_t                   *pool;
    ngx_addr_t                   *addr;
    ngx_array_t                   addrs;
    ngx_kedge_k8s_slice_entry_t  *s;

    pool = ngx_create_pool(4096, w->log);
    if (pool == NULL) {
        return;
    }

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
                ngx_log_error(NGX_LOG_ERR, w->log, 0,
                              "kedge: backend \"%V\": cannot use address "
                              "\"%V\"", &w->backend, &text);
                ngx_kedge_store_failed(w->store, w->index, w->log);
                goto done;
            }

            ngx_inet_set_port(addr->sockaddr, s->endpoints[i].port);
        }
    }

    if (w->failing) {
        ngx_log_error(NGX_LOG_NOTICE, w->log, 0,
                      "kedge: backend \"%V\" in sync with the Kubernetes API "
                      "again", &w->backend);
        w->failing = 0;
    }

    w->backoff = 0;
    w->unauthorized = 0;

    (void) ngx_kedge_store_update(w->store, w->index, addrs.elts, addrs.nelts,
                                  w->log);

done:

    ngx_destroy_pool(pool);
}


static void
ngx_kedge_k8s_fail(ngx_kedge_k8s_watch_t *w, const char *what,
    ngx_str_t *why)
{
    ngx_msec_t  delay;

    if (!w->failing) {
        ngx_log_error(NGX_LOG_WARN, w->log, 0,
                      "kedge: %s of backend \"%V\" failed: %V",
                      what, &w->backend, why);
        w->failing = 1;
    }

    ngx_kedge_store_failed(w->store, w->index, w->log);
    ngx_kedge_store_watch(w->store, w->index, NGX_KEDGE_STORE_WATCH_RETRYING);

    delay = ngx_kedge_store_backoff(&w->backoff);

    ngx_kedge_k8s_schedule(w, delay);
}


static void
ngx_kedge_k8s_schedule(ngx_kedge_k8s_watch_t *w, ngx_msec_t delay)
{
    if (w->timer.timer_set) {
        ngx_del_timer(&w->timer);
    }

    ngx_add_timer(&w->timer, delay);
}
