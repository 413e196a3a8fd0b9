
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 *
 * OIDC issuers' keys and the tokens they sign.
 *
 * The fetcher (worker 0) reads the issuer's discovery document, whose
 * "issuer" must be the configured one exactly, then its "jwks_uri", and
 * stores the keys it can use safely (ngx_kedge_jose.c) in the zone.  It
 * fetches again when Cache-Control says (bounded by refresh_min and
 * refresh_max; "refresh" without one), when a worker met an unknown kid
 * (at most once per cool-down), and after a failure with a back-off; a
 * failure keeps the last known keys.
 *
 * A worker verifies a token against its own parsed copy of the stored
 * keys, taken when their generation moved; a verified token goes to the
 * zone's cache until it expires, so the next request with it, in any
 * worker, costs a digest and a tree lookup.  Nothing here waits on the
 * network: a request that met an unknown kid may wait (the caller's
 * timer) for the fetcher's next attempt to end.
 */


#include <openssl/evp.h>
#include <jansson.h>

#include "ngx_kedge_oidc.h"


#define NGX_KEDGE_OIDC_POLL           100       /* ms, refetch wishes */
#define NGX_KEDGE_OIDC_SKIPPED_LEN    512


static void ngx_kedge_oidc_timer(ngx_event_t *ev);
static void ngx_kedge_oidc_poll(ngx_event_t *ev);
static void ngx_kedge_oidc_fetch(ngx_kedge_oidc_issuer_t *is,
    ngx_uint_t discovery);
static ngx_int_t ngx_kedge_oidc_data(ngx_kedge_http_t *h, u_char *data,
    size_t len);
static void ngx_kedge_oidc_done(ngx_kedge_http_t *h, ngx_int_t rc);
static const char *ngx_kedge_oidc_discovery(ngx_kedge_oidc_issuer_t *is);
static const char *ngx_kedge_oidc_keys(ngx_kedge_oidc_issuer_t *is);
static void ngx_kedge_oidc_skipped(void *data, const char *kid,
    const char *why);
static void ngx_kedge_oidc_failed(ngx_kedge_oidc_issuer_t *is,
    const char *what, ngx_str_t *detail);
static void ngx_kedge_oidc_schedule(ngx_kedge_oidc_issuer_t *is,
    ngx_msec_t delay);
static void ngx_kedge_oidc_local_keys(ngx_kedge_oidc_issuer_t *is,
    ngx_log_t *log);


/* what the fetcher left out of the last key set, for one log line */
static u_char      ngx_kedge_oidc_skipped_buf[NGX_KEDGE_OIDC_SKIPPED_LEN];
static u_char     *ngx_kedge_oidc_skipped_last;

/* the worker's digest context and SHA-256, made and fetched once */
static EVP_MD_CTX  *ngx_kedge_oidc_md;
static EVP_MD      *ngx_kedge_oidc_sha256;


/*
 * Tokens this worker refused for a bad signature lately, by the digest of
 * policy and token: the same forged token again costs a lookup, not a
 * verification, while the issuer's keys stay the same (at most a minute).
 */

#define NGX_KEDGE_OIDC_REFUSED        64

typedef struct {
    u_char                    digest[NGX_KEDGE_OIDC_DIGEST_LEN];
    ngx_kedge_oidc_issuer_t  *issuer;
    ngx_uint_t                generation;
    time_t                    until;
} ngx_kedge_oidc_refused_t;

static ngx_kedge_oidc_refused_t  ngx_kedge_oidc_refused[NGX_KEDGE_OIDC_REFUSED];
static ngx_uint_t                ngx_kedge_oidc_refused_next;


ngx_int_t
ngx_kedge_oidc_start(ngx_kedge_oidc_issuer_t *is, ngx_kedge_curl_t *curl,
    ngx_pool_t *pool, ngx_log_t *log)
{
    is->log = log;
    is->curl = curl;

    is->timer.handler = ngx_kedge_oidc_timer;
    is->timer.data = is;
    is->timer.log = log;
    is->timer.cancelable = 1;

    is->poll.handler = ngx_kedge_oidc_poll;
    is->poll.data = is;
    is->poll.log = log;
    is->poll.cancelable = 1;

    ngx_add_timer(&is->timer, 0);
    ngx_add_timer(&is->poll, NGX_KEDGE_OIDC_POLL);

    return NGX_OK;
}


/* with the configuration: the fetcher's transfer, timers and buffers */

void
ngx_kedge_oidc_cleanup(void *data)
{
    ngx_kedge_oidc_issuer_t *is = data;

    if (is->busy) {
        ngx_kedge_http_cancel(&is->http);
        is->busy = 0;
    }

    if (is->timer.timer_set) {
        ngx_del_timer(&is->timer);
    }

    if (is->poll.timer_set) {
        ngx_del_timer(&is->poll);
    }

    if (is->buf) {
        ngx_free(is->buf);
        is->buf = NULL;
    }

    if (is->jwks_uri) {
        ngx_free(is->jwks_uri);
        is->jwks_uri = NULL;
    }

    ngx_kedge_jwks_free(is->keys);
    is->keys = NULL;
}


static void
ngx_kedge_oidc_timer(ngx_event_t *ev)
{
    ngx_kedge_oidc_issuer_t *is = ev->data;

    if (!is->busy) {
        ngx_kedge_oidc_fetch(is, 1);
    }
}


/* a worker met an unknown kid: the keys now, without discovery */

static void
ngx_kedge_oidc_poll(ngx_event_t *ev)
{
    ngx_kedge_oidc_issuer_t *is = ev->data;

    if (!is->store->retired
        && is->store->sh->issuers[is->index].refetch
        && !is->busy)
    {
        if (is->timer.timer_set) {
            ngx_del_timer(&is->timer);
        }

        ngx_log_error(NGX_LOG_INFO, is->log, 0,
                      "kedge: issuer \"%V\": an unknown kid, fetching "
                      "its keys", &is->url);

        ngx_kedge_oidc_fetch(is, is->jwks_uri == NULL);
    }

    ngx_add_timer(ev, NGX_KEDGE_OIDC_POLL);
}


static void
ngx_kedge_oidc_fetch(ngx_kedge_oidc_issuer_t *is, ngx_uint_t discovery)
{
    size_t             len;
    ngx_kedge_http_t  *h;

    h = &is->http;

    ngx_memzero(h, sizeof(ngx_kedge_http_t));

    if (discovery) {
        len = is->url.len;

        if (len && is->url.data[len - 1] == '/') {
            len--;
        }

        h->url.len = len + sizeof("/.well-known/openid-configuration") - 1;
        h->url.data = ngx_alloc(h->url.len, is->log);
        if (h->url.data == NULL) {
            ngx_kedge_oidc_schedule(is, 1000);
            return;
        }

        ngx_memcpy(ngx_cpymem(h->url.data, is->url.data, len),
                   "/.well-known/openid-configuration",
                   sizeof("/.well-known/openid-configuration") - 1);

    } else {
        h->url.data = is->jwks_uri;
        h->url.len = ngx_strlen(is->jwks_uri);
    }

    ngx_str_set(&h->accept, "application/json");
    h->ca_file = is->ca_file;
    h->connect_timeout = 5000;
    h->timeout = 10000;
    h->max_size = is->max_size;
    h->data = ngx_kedge_oidc_data;
    h->done = ngx_kedge_oidc_done;
    h->ctx = is;

    is->discovering = discovery;
    is->buf_len = 0;

    if (ngx_kedge_http_start(is->curl, h) != NGX_OK) {
        if (discovery) {
            ngx_free(h->url.data);
        }

        ngx_kedge_oidc_failed(is, "cannot start a request", &h->error);
        return;
    }

    /* the strings were copied */

    if (discovery) {
        ngx_free(h->url.data);
    }

    is->busy = 1;
}


static ngx_int_t
ngx_kedge_oidc_data(ngx_kedge_http_t *h, u_char *data, size_t len)
{
    ngx_kedge_oidc_issuer_t *is = h->ctx;

    u_char  *p;
    size_t   size;

    if (is->buf_len + len > is->buf_size) {
        size = ngx_max(is->buf_size * 2, is->buf_len + len);
        size = ngx_max(size, 4096);

        p = ngx_alloc(size, is->log);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (is->buf) {
            ngx_memcpy(p, is->buf, is->buf_len);
            ngx_free(is->buf);
        }

        is->buf = p;
        is->buf_size = size;
    }

    ngx_memcpy(is->buf + is->buf_len, data, len);
    is->buf_len += len;

    return NGX_OK;
}


static void
ngx_kedge_oidc_done(ngx_kedge_http_t *h, ngx_int_t rc)
{
    ngx_kedge_oidc_issuer_t *is = h->ctx;

    u_char       buf[32];
    ngx_str_t    detail;
    ngx_msec_t   next;
    const char  *what, *err;

    is->busy = 0;

    what = is->discovering ? "discovery document" : "key set";

    if (rc != NGX_OK) {
        ngx_kedge_oidc_failed(is, what, &h->error);
        return;
    }

    if (h->status != 200) {
        detail.data = buf;
        detail.len = ngx_sprintf(buf, "HTTP status %ui", h->status) - buf;
        ngx_kedge_oidc_failed(is, what, &detail);
        return;
    }

    if (is->discovering) {
        err = ngx_kedge_oidc_discovery(is);

        if (err) {
            detail.data = (u_char *) err;
            detail.len = ngx_strlen(err);
            ngx_kedge_oidc_failed(is, what, &detail);
            return;
        }

        ngx_kedge_oidc_fetch(is, 0);
        return;
    }

    err = ngx_kedge_oidc_keys(is);

    if (err) {
        detail.data = (u_char *) err;
        detail.len = ngx_strlen(err);
        ngx_kedge_oidc_failed(is, what, &detail);
        return;
    }

    is->failing = 0;
    is->backoff = 0;

    if (h->max_age >= 0) {
        next = (ngx_msec_t) ngx_min(h->max_age, 86400 * 365) * 1000;
        next = ngx_max(next, is->refresh_min);
        next = ngx_min(next, is->refresh_max);

    } else {
        next = is->refresh;
    }

    ngx_kedge_oidc_schedule(is, next);
}


/* the discovery document: the configured issuer, and its jwks_uri */

static const char *
ngx_kedge_oidc_discovery(ngx_kedge_oidc_issuer_t *is)
{
    size_t        len;
    json_t       *doc, *v;
    const char   *uri;
    json_error_t  jerr;

    doc = json_loadb((char *) is->buf, is->buf_len, JSON_REJECT_DUPLICATES,
                     &jerr);

    if (doc == NULL || !json_is_object(doc)) {
        if (doc) {
            json_decref(doc);
        }

        return "not a JSON object, or a member twice";
    }

    v = json_object_get(doc, "issuer");

    if (!json_is_string(v)
        || json_string_length(v) != is->url.len
        || ngx_strncmp(json_string_value(v), is->url.data, is->url.len) != 0)
    {
        json_decref(doc);
        return "its \"issuer\" is not the configured issuer";
    }

    v = json_object_get(doc, "jwks_uri");

    if (!json_is_string(v)) {
        json_decref(doc);
        return "no \"jwks_uri\"";
    }

    uri = json_string_value(v);
    len = json_string_length(v);

    /* as safe as the issuer itself: https, unless the issuer is http */

    if (len > 2048
        || !(ngx_strncmp(uri, "https://", 8) == 0
             || (ngx_strncmp(uri, "http://", 7) == 0
                 && ngx_strncmp(is->url.data, "http://", 7) == 0)))
    {
        json_decref(doc);
        return "its \"jwks_uri\" is not an https URL";
    }

    if (is->jwks_uri) {
        ngx_free(is->jwks_uri);
    }

    is->jwks_uri = ngx_alloc(len + 1, is->log);
    if (is->jwks_uri == NULL) {
        json_decref(doc);
        return "out of memory";
    }

    ngx_memcpy(is->jwks_uri, uri, len + 1);

    json_decref(doc);

    return NULL;
}


/* the key set: what can be used safely goes to the store */

static const char *
ngx_kedge_oidc_keys(ngx_kedge_oidc_issuer_t *is)
{
    char              *json;
    size_t             i, n;
    ngx_int_t          rc;
    ngx_uint_t         removed;
    const char        *err;
    ngx_kedge_jwks_t  *keys;

    ngx_kedge_oidc_skipped_last = ngx_kedge_oidc_skipped_buf;

    keys = ngx_kedge_jwks_parse((char *) is->buf, is->buf_len,
                                NGX_KEDGE_JOSE_ALL_ALGS,
                                ngx_kedge_oidc_skipped, is, &json, &err);
    if (keys == NULL) {
        return err;
    }

    n = ngx_kedge_jwks_count(keys);

    if (n == 0) {
        ngx_kedge_jwks_free(keys);
        free(json);

        if (ngx_kedge_oidc_skipped_last != ngx_kedge_oidc_skipped_buf) {
            ngx_log_error(NGX_LOG_WARN, is->log, 0,
                          "kedge: issuer \"%V\" keys left out:%*s",
                          &is->url,
                          ngx_kedge_oidc_skipped_last
                          - ngx_kedge_oidc_skipped_buf,
                          ngx_kedge_oidc_skipped_buf);
        }

        return "no usable key in the set";
    }

    /*
     * a key gone (or changed under its kid): the tokens it verified are
     * trusted no more; compared with the set in the zone, which outlives
     * this process
     */

    ngx_kedge_oidc_local_keys(is, is->log);

    removed = 0;

    for (i = 0; is->keys && i < ngx_kedge_jwks_count(is->keys); i++) {
        if (!ngx_kedge_jwks_contains(keys, is->keys, i)) {
            removed = 1;
        }
    }

    rc = ngx_kedge_store_keys_update(is->store, is->index, (u_char *) json,
                                     ngx_strlen(json), n, removed, is->log);
    free(json);

    if (rc == NGX_ERROR) {
        ngx_kedge_jwks_free(keys);
        return "the zone is full";
    }

    if (rc == NGX_OK
        && ngx_kedge_oidc_skipped_last != ngx_kedge_oidc_skipped_buf)
    {
        ngx_log_error(NGX_LOG_WARN, is->log, 0,
                      "kedge: issuer \"%V\" keys left out:%*s", &is->url,
                      ngx_kedge_oidc_skipped_last - ngx_kedge_oidc_skipped_buf,
                      ngx_kedge_oidc_skipped_buf);
    }

    ngx_kedge_jwks_free(keys);

    return NULL;
}


static void
ngx_kedge_oidc_skipped(void *data, const char *kid, const char *why)
{
    u_char  *last;

    last = ngx_kedge_oidc_skipped_buf + NGX_KEDGE_OIDC_SKIPPED_LEN;

    ngx_kedge_oidc_skipped_last = ngx_slprintf(ngx_kedge_oidc_skipped_last,
                                               last, " \"%s\": %s;",
                                               kid, why);
}


static void
ngx_kedge_oidc_failed(ngx_kedge_oidc_issuer_t *is, const char *what,
    ngx_str_t *detail)
{
    ngx_uint_t  level;

    ngx_kedge_store_keys_failed(is->store, is->index, is->log);

    /* a state change is worth a warning, the retries are not */

    level = is->failing ? NGX_LOG_INFO : NGX_LOG_WARN;

    ngx_log_error(level, is->log, 0,
                  "kedge: issuer \"%V\": %s: %V; known keys kept, "
                  "trying again", &is->url, what, detail);

    is->failing = 1;

    ngx_kedge_oidc_schedule(is, ngx_kedge_store_backoff(&is->backoff));
}


static void
ngx_kedge_oidc_schedule(ngx_kedge_oidc_issuer_t *is, ngx_msec_t delay)
{
    if (is->timer.timer_set) {
        ngx_del_timer(&is->timer);
    }

    ngx_add_timer(&is->timer, delay);
}


ngx_uint_t
ngx_kedge_oidc_attempts(ngx_kedge_oidc_issuer_t *is)
{
    if (is->store->retired) {
        return 0;
    }

    return is->store->sh->issuers[is->index].attempts;
}


/*
 * A token verified before under this policy and still good: NGX_OK, with
 * its subject; else NGX_DECLINED, "digest" (the cache's key, policy and
 * token) for ngx_kedge_oidc_verify().  The caller checks nothing of the
 * token before: only tokens that verified are cached, and they were
 * strict base64url, so a hit is one again.
 */

ngx_int_t
ngx_kedge_oidc_cached(ngx_kedge_oidc_policy_t *policy, ngx_str_t *token,
    u_char *digest, u_char *sub, size_t *sub_len)
{
    unsigned int  dlen;

    if (ngx_kedge_oidc_md == NULL) {
        ngx_kedge_oidc_md = EVP_MD_CTX_new();
        if (ngx_kedge_oidc_md == NULL) {
            return NGX_ERROR;
        }
    }

    /* fetched once: EVP_sha256() would be looked up on every digest */

    if (ngx_kedge_oidc_sha256 == NULL) {
        ngx_kedge_oidc_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
        if (ngx_kedge_oidc_sha256 == NULL) {
            return NGX_ERROR;
        }
    }

    /* never cached; ngx_kedge_oidc_verify() says why */

    if (token->len > policy->jwt.max_size) {
        return NGX_DECLINED;
    }

    if (EVP_DigestInit_ex2(ngx_kedge_oidc_md, ngx_kedge_oidc_sha256, NULL)
        != 1
        || EVP_DigestUpdate(ngx_kedge_oidc_md, policy->id,
                            NGX_KEDGE_OIDC_POLICY_ID_LEN) != 1
        || EVP_DigestUpdate(ngx_kedge_oidc_md, token->data, token->len) != 1
        || EVP_DigestFinal_ex(ngx_kedge_oidc_md, digest, &dlen) != 1
        || dlen != NGX_KEDGE_OIDC_DIGEST_LEN)
    {
        return NGX_ERROR;
    }

    return ngx_kedge_store_token_get(policy->issuer->store, digest, sub,
                                     sub_len);
}


/*
 * A token under a policy, after ngx_kedge_oidc_cached() declined ("digest"
 * its): NGX_OK, with its subject; NGX_DECLINED with the reason; NGX_AGAIN
 * when the fetcher was asked for the keys (an unknown kid, "may_wait"):
 * try again once its attempt ended.
 */

ngx_int_t
ngx_kedge_oidc_verify(ngx_kedge_oidc_policy_t *policy, ngx_str_t *token,
    u_char *digest, ngx_uint_t may_wait, u_char *sub, size_t *sub_len,
    const char **reason, ngx_log_t *log)
{
    int                        rc;
    ngx_uint_t                 i;
    ngx_kedge_oidc_issuer_t   *is;
    ngx_kedge_jwt_result_t     res;
    ngx_kedge_oidc_refused_t  *f;

    is = policy->issuer;

    if (token->len > policy->jwt.max_size) {
        *reason = "token too large";
        return NGX_DECLINED;
    }

    ngx_kedge_oidc_local_keys(is, log);

    for (i = 0; i < NGX_KEDGE_OIDC_REFUSED; i++) {
        f = &ngx_kedge_oidc_refused[i];

        if (f->issuer == is && f->generation == is->generation
            && f->until > ngx_time()
            && ngx_memcmp(f->digest, digest, NGX_KEDGE_OIDC_DIGEST_LEN) == 0)
        {
            *reason = "bad signature (refused before)";
            return NGX_DECLINED;
        }
    }

    rc = ngx_kedge_jwt_verify((char *) token->data, token->len, is->keys,
                              &policy->jwt, ngx_time(), &res);

    if (rc == NGX_KEDGE_JOSE_DENY && res.reason
        && ngx_strcmp(res.reason, "bad signature") == 0)
    {
        f = &ngx_kedge_oidc_refused[ngx_kedge_oidc_refused_next];
        ngx_kedge_oidc_refused_next = (ngx_kedge_oidc_refused_next + 1)
                                      % NGX_KEDGE_OIDC_REFUSED;

        ngx_memcpy(f->digest, digest, NGX_KEDGE_OIDC_DIGEST_LEN);
        f->issuer = is;
        f->generation = is->generation;
        f->until = ngx_time() + 60;
    }

    switch (rc) {

    case NGX_KEDGE_JOSE_OK:
        ngx_memcpy(sub, res.sub, res.sub_len);
        *sub_len = res.sub_len;

        ngx_kedge_store_token_put(is->store, digest,
                                  (time_t) (res.exp + policy->jwt.leeway),
                                  is->index, is->epoch, sub, *sub_len);
        return NGX_OK;

    case NGX_KEDGE_JOSE_UNKNOWN_KID:
        if (may_wait
            && ngx_kedge_store_keys_want(is->store, is->index, is->cooldown))
        {
            return NGX_AGAIN;
        }

        break;

    case NGX_KEDGE_JOSE_ERROR:
        return NGX_ERROR;

    default:
        break;
    }

    /*
     * without keys, a token refused for want of its key says so; one
     * refused on its own (its header, its claims) says why, keys or not
     */

    *reason = res.reason;

    if (is->keys == NULL
        && (rc == NGX_KEDGE_JOSE_UNKNOWN_KID
            || ngx_strcmp(res.reason, "no key fits the algorithm") == 0))
    {
        *reason = "no keys from the issuer yet";
    }

    return NGX_DECLINED;
}


/* before the module is unloaded, which would lose the pointer */

void
ngx_kedge_oidc_exit_process(void)
{
    if (ngx_kedge_oidc_md) {
        EVP_MD_CTX_free(ngx_kedge_oidc_md);
        ngx_kedge_oidc_md = NULL;
    }

    if (ngx_kedge_oidc_sha256) {
        EVP_MD_free(ngx_kedge_oidc_sha256);
        ngx_kedge_oidc_sha256 = NULL;
    }
}


/*
 * The process's parsed copy of the stored keys, renewed as they move;
 * when they cannot be had, none: tokens are refused, never checked
 * against keys the issuer may have revoked.
 */

static void
ngx_kedge_oidc_local_keys(ngx_kedge_oidc_issuer_t *is, ngx_log_t *log)
{
    u_char            *p;
    size_t             len;
    ngx_int_t          rc;
    ngx_uint_t         generation, epoch;
    const char        *err;
    ngx_kedge_jwks_t  *keys;

    generation = is->generation;

    rc = ngx_kedge_store_keys_copy(is->store, is->index, &p, &len,
                                   &generation, &epoch, log);

    if (rc == NGX_DECLINED) {
        return;
    }

    keys = NULL;

    if (rc == NGX_OK && p) {
        keys = ngx_kedge_jwks_parse((char *) p, len, NGX_KEDGE_JOSE_ALL_ALGS,
                                    NULL, NULL, NULL, &err);
        ngx_free(p);

        if (keys == NULL) {
            ngx_log_error(NGX_LOG_ALERT, log, 0,
                          "kedge: issuer \"%V\": the stored keys: %s",
                          &is->url, err);
            rc = NGX_ERROR;
        }
    }

    ngx_kedge_jwks_free(is->keys);
    is->keys = keys;

    /* after a failure, the next request tries again */

    if (rc == NGX_OK) {
        is->generation = generation;
        is->epoch = epoch;
    }
}
