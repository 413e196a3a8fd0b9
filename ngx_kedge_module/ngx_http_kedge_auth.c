
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 *
 * The authorizer: an access phase handler that lets a request through
 * when it shows what its location (kedge_auth) and then its route
 * (auth=) ask for: a client certificate nginx verified, with an identity
 * the rules allow; a token in Proxy-Authorization, either an OIDC ID
 * token (ngx_kedge_oidc.c) or the static bearer token; either; or both.
 *
 * A refusal is kedge's: 401 "Unauthorized" with the X-Kedge-Error
 * headers, or gRPC status 16, and one log line with the reason, never
 * the token.  Proxy-Authorization never reaches a backend.
 */


#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "ngx_http_kedge_module.h"


#define NGX_HTTP_KEDGE_AUTH_WAIT_TICK     50       /* ms */

#define NGX_HTTP_KEDGE_METHOD_CERT        0x01
#define NGX_HTTP_KEDGE_METHOD_TOKEN       0x02


static ngx_int_t ngx_http_kedge_auth_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_kedge_auth_check(ngx_http_request_t *r,
    ngx_http_kedge_ctx_t *ctx, ngx_http_kedge_loc_conf_t *klcf,
    ngx_uint_t policy, ngx_array_t *rules);
static ngx_int_t ngx_http_kedge_auth_cert(ngx_http_request_t *r,
    ngx_http_kedge_ctx_t *ctx, ngx_array_t *rules);
static ngx_int_t ngx_http_kedge_auth_token(ngx_http_request_t *r,
    ngx_http_kedge_ctx_t *ctx, ngx_http_kedge_loc_conf_t *klcf);
static ngx_int_t ngx_http_kedge_auth_bearer(ngx_http_request_t *r,
    ngx_str_t *token, const char **reason);
static ngx_int_t ngx_http_kedge_auth_wait(ngx_http_request_t *r,
    ngx_http_kedge_ctx_t *ctx, ngx_http_kedge_loc_conf_t *klcf);
static void ngx_http_kedge_auth_wake(ngx_http_request_t *r);
static void ngx_http_kedge_auth_strip(ngx_http_request_t *r);
static ngx_uint_t ngx_http_kedge_auth_header(ngx_http_request_t *r,
    ngx_table_elt_t **found);
static ngx_str_t *ngx_http_kedge_auth_saved(ngx_http_request_t *r,
    ngx_uint_t create);
static void ngx_http_kedge_auth_saved_cleanup(void *data);
static ngx_int_t ngx_http_kedge_auth_refuse(ngx_http_request_t *r,
    ngx_http_kedge_ctx_t *ctx, ngx_http_kedge_loc_conf_t *klcf);
#if (NGX_HTTP_SSL)
static X509 *ngx_http_kedge_auth_peer(ngx_http_request_t *r,
    const char **reason);
static ngx_uint_t ngx_http_kedge_cert_match(X509 *cert, ngx_array_t *rules);
static ngx_uint_t ngx_http_kedge_cert_rule_match(
    ngx_http_kedge_cert_rule_t *rule, u_char *s, size_t len);
#endif
static char *ngx_http_kedge_cert_rule(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_array_t **rules, ngx_str_t *arg, ngx_uint_t route);
static ngx_int_t ngx_http_kedge_auth_policy(ngx_str_t *value);
static ngx_int_t ngx_http_kedge_sha256(u_char *data, size_t len,
    u_char *digest);
static ngx_kedge_oidc_issuer_t *ngx_http_kedge_issuer(ngx_conf_t *cf,
    ngx_str_t *url);
static ngx_int_t ngx_http_kedge_token_chars(ngx_str_t *token);
static ngx_int_t ngx_http_kedge_auth_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_str_t  ngx_http_kedge_auth_policies[] = {
    ngx_string("off"),
    ngx_string("cert"),
    ngx_string("token"),
    ngx_string("either"),
    ngx_string("both"),
    ngx_null_string
};


#define NGX_HTTP_KEDGE_VAR_METHOD         0
#define NGX_HTTP_KEDGE_VAR_SUBJECT        1
#define NGX_HTTP_KEDGE_VAR_CERT_CN        2
#define NGX_HTTP_KEDGE_VAR_CERT_DNS       3
#define NGX_HTTP_KEDGE_VAR_CERT_URI       4


static ngx_http_variable_t  ngx_http_kedge_auth_vars[] = {

    { ngx_string("kedge_auth_method"), NULL, ngx_http_kedge_auth_variable,
      NGX_HTTP_KEDGE_VAR_METHOD, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("kedge_auth_subject"), NULL, ngx_http_kedge_auth_variable,
      NGX_HTTP_KEDGE_VAR_SUBJECT, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("kedge_client_cn"), NULL, ngx_http_kedge_auth_variable,
      NGX_HTTP_KEDGE_VAR_CERT_CN, 0, 0 },

    { ngx_string("kedge_client_dns"), NULL, ngx_http_kedge_auth_variable,
      NGX_HTTP_KEDGE_VAR_CERT_DNS, 0, 0 },

    { ngx_string("kedge_client_uri"), NULL, ngx_http_kedge_auth_variable,
      NGX_HTTP_KEDGE_VAR_CERT_URI, 0, 0 },

      ngx_http_null_variable
};


/* kedge_auth off | cert | token | either | both; */

char *
ngx_http_kedge_auth_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kedge_loc_conf_t *klcf = conf;

    ngx_int_t   policy;
    ngx_str_t  *value;

    if (klcf->auth != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    policy = ngx_http_kedge_auth_policy(&value[1]);

    if (policy == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive, it "
                           "must be \"off\", \"cert\", \"token\", \"either\" "
                           "or \"both\"", &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    klcf->auth = policy;
    klcf->auth_file = cf->conf_file->file.name.data;
    klcf->auth_line = cf->conf_file->line;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_kedge_auth_policy(ngx_str_t *value)
{
    ngx_uint_t  i;

    for (i = 0; ngx_http_kedge_auth_policies[i].len; i++) {
        if (ngx_http_kedge_auth_policies[i].len == value->len
            && ngx_strncmp(ngx_http_kedge_auth_policies[i].data, value->data,
                           value->len)
               == 0)
        {
            return i;
        }
    }

    return NGX_ERROR;
}


/*
 * kedge_oidc_issuer URL [ca_file=PATH] [refresh=10m] [refresh_min=30s]
 *     [refresh_max=24h] [cooldown=30s] [kid_wait=2s] [max_size=256k];
 */

char *
ngx_http_kedge_oidc_issuer_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ssize_t                   size;
    ngx_int_t                 t;
    ngx_str_t                *value, arg;
    ngx_uint_t                i;
    ngx_file_info_t           fi;
    ngx_kedge_oidc_issuer_t  *is;

    value = cf->args->elts;

    is = ngx_http_kedge_issuer(cf, &value[1]);
    if (is == NULL) {
        return NGX_CONF_ERROR;
    }

    if (is->declared) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate issuer \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    is->declared = 1;

    for (i = 2; i < cf->args->nelts; i++) {
        arg = value[i];

        if (ngx_strncmp(arg.data, "ca_file=", 8) == 0 && arg.len > 8) {
            is->ca_file.data = arg.data + 8;
            is->ca_file.len = arg.len - 8;

            if (ngx_conf_full_name(cf->cycle, &is->ca_file, 1) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            if (ngx_file_info(is->ca_file.data, &fi)
                == NGX_FILE_ERROR)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                                   "cannot read \"%V\" of \"%V\"",
                                   &is->ca_file, &cmd->name);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(arg.data, "max_size=", 9) == 0) {
            arg.data += 9;
            arg.len -= 9;

            size = ngx_parse_size(&arg);

            if (size < 1024) {
                goto invalid;
            }

            is->max_size = size;
            continue;
        }

        t = NGX_ERROR;

        if (ngx_strncmp(arg.data, "refresh=", 8) == 0) {
            arg.data += 8;
            arg.len -= 8;
            t = ngx_parse_time(&arg, 0);
            is->refresh = t;

        } else if (ngx_strncmp(arg.data, "refresh_min=", 12) == 0) {
            arg.data += 12;
            arg.len -= 12;
            t = ngx_parse_time(&arg, 0);
            is->refresh_min = t;

        } else if (ngx_strncmp(arg.data, "refresh_max=", 12) == 0) {
            arg.data += 12;
            arg.len -= 12;
            t = ngx_parse_time(&arg, 0);
            is->refresh_max = t;

        } else if (ngx_strncmp(arg.data, "cooldown=", 9) == 0) {
            arg.data += 9;
            arg.len -= 9;
            t = ngx_parse_time(&arg, 1);
            is->cooldown = t;

        } else if (ngx_strncmp(arg.data, "kid_wait=", 9) == 0) {
            arg.data += 9;
            arg.len -= 9;
            t = ngx_parse_time(&arg, 0);
            is->kid_wait = t;
        }

        if (t == NGX_ERROR || t == 0) {
            goto invalid;
        }
    }

    if (is->refresh_min > is->refresh_max) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"refresh_min\" is above \"refresh_max\" in "
                           "\"%V\" directive", &cmd->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"%V\" directive",
                       &value[i], &cmd->name);
    return NGX_CONF_ERROR;
}


/* an issuer by its URL, made with the defaults when first named */

static ngx_kedge_oidc_issuer_t *
ngx_http_kedge_issuer(ngx_conf_t *cf, ngx_str_t *url)
{
    u_char                       *p;
    ngx_uint_t                    i;
    ngx_kedge_oidc_issuer_t     **isp, *is;
    ngx_http_kedge_main_conf_t   *kmcf;

    if (!((url->len > 8 && ngx_strncmp(url->data, "https://", 8) == 0)
          || (url->len > 7 && ngx_strncmp(url->data, "http://", 7) == 0))
        || url->len > NGX_KEDGE_STORE_URL_LEN)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid issuer \"%V\", it must be an https:// "
                           "(or http://) URL of at most %d bytes", url,
                           NGX_KEDGE_STORE_URL_LEN);
        return NULL;
    }

    for (p = url->data; p < url->data + url->len; p++) {
        if (*p <= ' ' || *p >= 0x7f) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid issuer \"%V\"", url);
            return NULL;
        }
    }

    kmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_kedge_module);

    isp = kmcf->issuers.elts;

    for (i = 0; i < kmcf->issuers.nelts; i++) {
        if (isp[i]->url.len == url->len
            && ngx_strncmp(isp[i]->url.data, url->data, url->len) == 0)
        {
            return isp[i];
        }
    }

    is = ngx_pcalloc(cf->pool, sizeof(ngx_kedge_oidc_issuer_t));
    if (is == NULL) {
        return NULL;
    }

    is->url.data = ngx_pnalloc(cf->pool, url->len + 1);
    if (is->url.data == NULL) {
        return NULL;
    }

    ngx_memcpy(is->url.data, url->data, url->len);
    is->url.data[url->len] = '\0';
    is->url.len = url->len;

    is->refresh = 600000;
    is->refresh_min = 30000;
    is->refresh_max = 86400000;
    is->cooldown = 30;
    is->kid_wait = 2000;
    is->max_size = 256 * 1024;

    isp = ngx_array_push(&kmcf->issuers);
    if (isp == NULL) {
        return NULL;
    }

    *isp = is;

    return is;
}


/*
 * kedge_oidc issuer=URL client_id=ID allow=PERM[,PERM...]
 *     [perms_claim=perms] [algs=ALG[,ALG...]] [leeway=60s]
 *     [max_token=8k] | off;
 */

char *
ngx_http_kedge_oidc_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kedge_loc_conf_t *klcf = conf;

    u_char                   *p, *q, *last, *buf;
    u_char                    digest[32];
    size_t                    len;
    ssize_t                   size;
    ngx_int_t                 t;
    ngx_str_t                *value, arg, issuer, alg;
    ngx_uint_t                i, n;
    const char              **allow;
    ngx_kedge_oidc_policy_t  *op;

    if (klcf->oidc != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    klcf->oidc_file = cf->conf_file->file.name.data;
    klcf->oidc_line = cf->conf_file->line;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        klcf->oidc = NULL;
        return NGX_CONF_OK;
    }

    op = ngx_pcalloc(cf->pool, sizeof(ngx_kedge_oidc_policy_t));
    if (op == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_str_null(&issuer);
    op->jwt.perms_claim = "perms";
    op->jwt.algs = NGX_KEDGE_JOSE_ALL_ALGS;
    op->jwt.leeway = 60;
    op->jwt.max_size = 8192;

    for (i = 1; i < cf->args->nelts; i++) {
        arg = value[i];

        if (ngx_strncmp(arg.data, "issuer=", 7) == 0) {
            issuer.data = arg.data + 7;
            issuer.len = arg.len - 7;
            continue;
        }

        if (ngx_strncmp(arg.data, "client_id=", 10) == 0 && arg.len > 10) {
            op->jwt.client_id = (char *) arg.data + 10;
            continue;
        }

        if (ngx_strncmp(arg.data, "perms_claim=", 12) == 0 && arg.len > 12) {
            op->jwt.perms_claim = (char *) arg.data + 12;
            continue;
        }

        if (ngx_strncmp(arg.data, "allow=", 6) == 0 && arg.len > 6) {

            /* a comma-separated list: each its own NUL-terminated copy */

            p = arg.data + 6;
            last = arg.data + arg.len;

            for (n = 1, q = p; q < last; q++) {
                n += (*q == ',');
            }

            allow = ngx_palloc(cf->pool, n * sizeof(char *));
            buf = ngx_pnalloc(cf->pool, last - p + 1);
            if (allow == NULL || buf == NULL) {
                return NGX_CONF_ERROR;
            }

            ngx_memcpy(buf, p, last - p + 1);

            for (n = 0, p = buf; ; p = q + 1) {
                q = (u_char *) ngx_strchr(p, ',');

                if (q) {
                    *q = '\0';
                }

                if (*p == '\0') {
                    goto invalid;
                }

                allow[n++] = (char *) p;

                if (q == NULL) {
                    break;
                }
            }

            op->jwt.allow = allow;
            op->jwt.nallow = n;
            continue;
        }

        if (ngx_strncmp(arg.data, "algs=", 5) == 0) {
            op->jwt.algs = 0;
            p = arg.data + 5;
            last = arg.data + arg.len;

            while (p < last) {
                q = ngx_strlchr(p, last, ',');

                if (q == NULL) {
                    q = last;
                }

                alg.data = p;
                alg.len = q - p;

                t = ngx_kedge_jose_alg((char *) alg.data, alg.len);

                if (t == 0) {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "unsupported algorithm \"%V\" in "
                                       "\"%V\" directive, it must be one of "
                                       "RS256, RS384, RS512, PS256, PS384, "
                                       "PS512, ES256, ES384, ES512",
                                       &alg, &cmd->name);
                    return NGX_CONF_ERROR;
                }

                op->jwt.algs |= t;
                p = q + 1;
            }

            if (op->jwt.algs == 0) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(arg.data, "leeway=", 7) == 0) {
            arg.data += 7;
            arg.len -= 7;

            t = ngx_parse_time(&arg, 1);

            if (t == NGX_ERROR || t > 3600) {
                goto invalid;
            }

            op->jwt.leeway = t;
            continue;
        }

        if (ngx_strncmp(arg.data, "max_token=", 10) == 0) {
            arg.data += 10;
            arg.len -= 10;

            size = ngx_parse_size(&arg);

            if (size < 256 || size > 1024 * 1024) {
                goto invalid;
            }

            op->jwt.max_size = size;
            continue;
        }

        goto invalid;
    }

    if (issuer.len == 0 || op->jwt.client_id == NULL || op->jwt.nallow == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" directive needs \"issuer=\", "
                           "\"client_id=\" and \"allow=\"", &cmd->name);
        return NGX_CONF_ERROR;
    }

    op->issuer = ngx_http_kedge_issuer(cf, &issuer);
    if (op->issuer == NULL) {
        return NGX_CONF_ERROR;
    }

    op->jwt.issuer = (char *) op->issuer->url.data;

    /* the policy's identity in the token cache: all that decides */

    len = issuer.len + ngx_strlen(op->jwt.client_id)
          + ngx_strlen(op->jwt.perms_claim) + NGX_INT_T_LEN * 3 + 8;

    for (n = 0; n < op->jwt.nallow; n++) {
        len += ngx_strlen(op->jwt.allow[n]) + 1;
    }

    buf = ngx_pnalloc(cf->pool, len);
    if (buf == NULL) {
        return NGX_CONF_ERROR;
    }

    p = ngx_sprintf(buf, "%V%Z%s%Z%s%Z%ui%Z%l%Z%uz%Z", &issuer,
                    op->jwt.client_id, op->jwt.perms_claim,
                    (ngx_uint_t) op->jwt.algs, op->jwt.leeway,
                    op->jwt.max_size);

    for (n = 0; n < op->jwt.nallow; n++) {
        p = ngx_sprintf(p, "%s%Z", op->jwt.allow[n]);
    }

    if (ngx_http_kedge_sha256(buf, p - buf, digest) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(op->id, digest, NGX_KEDGE_OIDC_POLICY_ID_LEN);

    klcf->oidc = op;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"%V\" directive",
                       &value[i], &cmd->name);
    return NGX_CONF_ERROR;
}


/* kedge_bearer_token TOKEN | file=PATH | off; (unsafe_bearer_token_...) */

char *
ngx_http_kedge_bearer_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_kedge_loc_conf_t *klcf = conf;

    u_char                   *p;
    size_t                    len;
    ssize_t                   n;
    ngx_str_t                *value, token, name;
    ngx_file_t                file;
    ngx_file_info_t           fi;
    ngx_http_kedge_bearer_t  *b;

    if (klcf->bearer != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        klcf->bearer = NULL;
        return NGX_CONF_OK;
    }

    token = value[1];

    if (ngx_strncmp(token.data, "file=", 5) == 0) {
        name.data = token.data + 5;
        name.len = token.len - 5;

        if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&file, sizeof(ngx_file_t));
        file.name = name;
        file.log = cf->log;

        file.fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

        if (file.fd == NGX_INVALID_FILE) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               "cannot open \"%V\" of \"%V\"", &name,
                               &cmd->name);
            return NGX_CONF_ERROR;
        }

        if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR
            || ngx_file_size(&fi) > 4096)
        {
            ngx_close_file(file.fd);
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\" of \"%V\" is not a file of at most "
                               "4096 bytes", &name, &cmd->name);
            return NGX_CONF_ERROR;
        }

        len = (size_t) ngx_file_size(&fi);

        p = ngx_pnalloc(cf->pool, len + 1);
        if (p == NULL) {
            ngx_close_file(file.fd);
            return NGX_CONF_ERROR;
        }

        n = ngx_read_file(&file, p, len, 0);
        ngx_close_file(file.fd);

        if (n != (ssize_t) len) {
            return NGX_CONF_ERROR;
        }

        /* a trailing newline is the file's, not the token's */

        while (len && (p[len - 1] == '\n' || p[len - 1] == '\r')) {
            len--;
        }

        token.data = p;
        token.len = len;
    }

    if (token.len == 0 || ngx_http_kedge_token_chars(&token) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid token in \"%V\" directive: it must be "
                           "made of the characters of RFC 7235's token68",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    b = ngx_pcalloc(cf->pool, sizeof(ngx_http_kedge_bearer_t));
    if (b == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_kedge_sha256(token.data, token.len, b->digest) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    b->file = cf->conf_file->file.name.data;
    b->line = cf->conf_file->line;

    klcf->bearer = b;

    return NGX_CONF_OK;
}


/* kedge_client_cert [dns=NAME] [uri=URI] [cn=NAME] ...; */

char *
ngx_http_kedge_client_cert_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_kedge_loc_conf_t *klcf = conf;

    char        *rv;
    ngx_str_t   *value;
    ngx_uint_t   i;

    value = cf->args->elts;

    if (klcf->cert_rules == NGX_CONF_UNSET_PTR) {
        klcf->cert_rules = NULL;
    }

    for (i = 1; i < cf->args->nelts; i++) {
        rv = ngx_http_kedge_cert_rule(cf, cmd, &klcf->cert_rules, &value[i],
                                      0);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    return NGX_CONF_OK;
}


/* a route's own rules: auth=, cert_dns=, cert_uri=, cert_cn= */

ngx_int_t
ngx_http_kedge_auth_route_param(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_http_kedge_route_t *route, ngx_str_t *value)
{
    ngx_int_t  policy;
    ngx_str_t  arg;

    if (ngx_strncmp(value->data, "auth=", 5) == 0) {
        arg.data = value->data + 5;
        arg.len = value->len - 5;

        policy = ngx_http_kedge_auth_policy(&arg);

        if (policy == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"%V\" in \"%V\" directive, it must "
                               "be \"off\", \"cert\", \"token\", \"either\" "
                               "or \"both\"", value, &cmd->name);
            return NGX_ERROR;
        }

        if (route->auth_set) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate \"auth=\" in \"%V\" directive",
                               &cmd->name);
            return NGX_ERROR;
        }

        route->auth = policy;
        route->auth_set = 1;
        return NGX_OK;
    }

    if (ngx_strncmp(value->data, "cert_", 5) != 0) {
        return NGX_DECLINED;
    }

    arg.data = value->data + 5;
    arg.len = value->len - 5;

    if (ngx_http_kedge_cert_rule(cf, cmd, &route->cert_rules, &arg, 1)
        != NGX_CONF_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Once a route's parameters are all read, in whatever order: rules alone
 * ask for a certificate; rules with a policy that never looks at one are
 * a mistake.
 */

ngx_int_t
ngx_http_kedge_auth_route_check(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_http_kedge_route_t *route)
{
    if (route->cert_rules == NULL) {
        return NGX_OK;
    }

    if (!route->auth_set) {
        route->auth = NGX_HTTP_KEDGE_AUTH_CERT;
        return NGX_OK;
    }

    if (route->auth == NGX_HTTP_KEDGE_AUTH_OFF
        || route->auth == NGX_HTTP_KEDGE_AUTH_TOKEN)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cert_*=\" rules with \"auth=%V\" in \"%V\" "
                           "directive: the certificate would not be looked "
                           "at; use \"auth=cert\", \"either\" or \"both\"",
                           &ngx_http_kedge_auth_policies[route->auth],
                           &cmd->name);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * dns=NAME, "*.example.com" for one label; uri=URI and cn=NAME, with a
 * trailing "*" for a prefix.
 */

static char *
ngx_http_kedge_cert_rule(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_array_t **rules, ngx_str_t *arg, ngx_uint_t route)
{
    u_char                      *p, *last;
    ngx_str_t                    pattern;
    ngx_http_kedge_cert_rule_t  *rule;

    if (*rules == NULL) {
        *rules = ngx_array_create(cf->pool, 2,
                                  sizeof(ngx_http_kedge_cert_rule_t));
        if (*rules == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    rule = ngx_array_push(*rules);
    if (rule == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(rule, sizeof(ngx_http_kedge_cert_rule_t));

    if (ngx_strncmp(arg->data, "dns=", 4) == 0) {
        rule->type = NGX_HTTP_KEDGE_CERT_DNS;
        pattern.data = arg->data + 4;

    } else if (ngx_strncmp(arg->data, "uri=", 4) == 0) {
        rule->type = NGX_HTTP_KEDGE_CERT_URI;
        pattern.data = arg->data + 4;

    } else if (ngx_strncmp(arg->data, "cn=", 3) == 0) {
        rule->type = NGX_HTTP_KEDGE_CERT_CN;
        pattern.data = arg->data + 3;

    } else {
        goto invalid;
    }

    pattern.len = arg->len - (pattern.data - arg->data);

    if (pattern.len == 0) {
        goto invalid;
    }

    last = pattern.data + pattern.len;

    for (p = pattern.data; p < last; p++) {
        if (*p < 0x20 || *p >= 0x7f) {
            goto invalid;
        }

        /* "*" only where it has a meaning */

        if (*p == '*') {
            if (rule->type == NGX_HTTP_KEDGE_CERT_DNS) {
                if (p != pattern.data || pattern.len < 3 || p[1] != '.') {
                    goto invalid;
                }

                rule->label = 1;

            } else {
                if (p != last - 1) {
                    goto invalid;
                }

                rule->prefix = 1;
            }
        }
    }

    if (rule->label) {
        pattern.data++;
        pattern.len--;
    }

    if (rule->prefix) {
        pattern.len--;
    }

    if (rule->type == NGX_HTTP_KEDGE_CERT_DNS) {
        p = ngx_pnalloc(cf->pool, pattern.len);
        if (p == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_strlow(p, pattern.data, pattern.len);
        pattern.data = p;
    }

    rule->pattern = pattern;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid client certificate rule \"%s%V\" in \"%V\" "
                       "directive: \"dns=NAME\" (\"*.\" for one label), "
                       "\"uri=URI\" or \"cn=NAME\" (a trailing \"*\" for a "
                       "prefix)", route ? "cert_" : "", arg, &cmd->name);
    return NGX_CONF_ERROR;
}


void
ngx_http_kedge_auth_create_conf(ngx_http_kedge_loc_conf_t *klcf)
{
    klcf->auth = NGX_CONF_UNSET_UINT;
    klcf->policy = NGX_CONF_UNSET_UINT;
    klcf->cert_rules = NGX_CONF_UNSET_PTR;
    klcf->oidc = NGX_CONF_UNSET_PTR;
    klcf->bearer = NGX_CONF_UNSET_PTR;
    klcf->auth_log = NGX_CONF_UNSET_UINT;
}


char *
ngx_http_kedge_auth_merge(ngx_conf_t *cf, ngx_http_kedge_loc_conf_t *prev,
    ngx_http_kedge_loc_conf_t *conf)
{
    ngx_uint_t  token;

    ngx_conf_merge_ptr_value(conf->cert_rules, prev->cert_rules, NULL);
    ngx_conf_merge_uint_value(conf->auth_log, prev->auth_log, NGX_LOG_INFO);

    if (conf->oidc == NGX_CONF_UNSET_PTR) {
        conf->oidc = (prev->oidc == NGX_CONF_UNSET_PTR) ? NULL : prev->oidc;
        conf->oidc_file = prev->oidc_file;
        conf->oidc_line = prev->oidc_line;
    }

    ngx_conf_merge_ptr_value(conf->bearer, prev->bearer, NULL);

    /* kedge_auth as written is inherited; what is in effect follows it */

    if (conf->auth == NGX_CONF_UNSET_UINT) {
        conf->auth = prev->auth;
        conf->auth_file = prev->auth_file;
        conf->auth_line = prev->auth_line;
    }

    if (conf->oidc && conf->bearer) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"kedge_oidc\" in %s:%ui and \"kedge_bearer_token\" "
                      "in %s:%ui cannot be combined in one server or "
                      "location", conf->oidc_file, conf->oidc_line,
                      conf->bearer->file, conf->bearer->line);
        return NGX_CONF_ERROR;
    }

    token = (conf->oidc || conf->bearer);

    if (conf->auth != NGX_CONF_UNSET_UINT) {
        conf->policy = conf->auth;

    } else if (token && conf->cert_rules) {

        /*
         * certificate rules and a token, perhaps from different levels:
         * whether one is enough is not for the module to guess
         */

        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"kedge_client_cert\" and \"%s\" in %s:%ui are both "
                      "in effect: say with \"kedge_auth\" whether a request "
                      "needs \"either\" or \"both\"",
                      conf->oidc ? "kedge_oidc" : "kedge_bearer_token",
                      conf->oidc ? conf->oidc_file : conf->bearer->file,
                      conf->oidc ? conf->oidc_line : conf->bearer->line);
        return NGX_CONF_ERROR;

    } else if (token) {
        conf->policy = NGX_HTTP_KEDGE_AUTH_TOKEN;

    } else {
        conf->policy = conf->cert_rules ? NGX_HTTP_KEDGE_AUTH_CERT
                                        : NGX_HTTP_KEDGE_AUTH_OFF;
    }

    if (!token
        && conf->auth != NGX_CONF_UNSET_UINT
        && conf->auth >= NGX_HTTP_KEDGE_AUTH_TOKEN)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"kedge_auth %V\" in %s:%ui needs \"kedge_oidc\" or "
                      "\"kedge_bearer_token\"",
                      &ngx_http_kedge_auth_policies[conf->auth],
                      conf->auth_file, conf->auth_line);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_kedge_auth_init(ngx_conf_t *cf, ngx_http_kedge_main_conf_t *kmcf)
{
    ngx_int_t                    index;
    ngx_uint_t                   i;
    ngx_pool_cleanup_t          *cln;
    ngx_http_handler_pt         *h;
    ngx_kedge_oidc_issuer_t    **isp;
    ngx_http_core_main_conf_t   *cmcf;

    isp = kmcf->issuers.elts;

    for (i = 0; i < kmcf->issuers.nelts; i++) {
        index = ngx_kedge_store_register_issuer(kmcf->store, &isp[i]->url);
        if (index == NGX_ERROR) {
            return NGX_ERROR;
        }

        isp[i]->store = kmcf->store;
        isp[i]->index = index;

        /* the worker's keys, the fetcher's state: with the configuration */

        cln = ngx_pool_cleanup_add(cf->pool, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }

        cln->handler = ngx_kedge_oidc_cleanup;
        cln->data = isp[i];
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_kedge_auth_handler;

    return NGX_OK;
}


/* in the fetcher's process */

ngx_int_t
ngx_http_kedge_auth_start(ngx_cycle_t *cycle,
    ngx_http_kedge_main_conf_t *kmcf)
{
    ngx_uint_t                 i;
    ngx_kedge_curl_t          *curl;
    ngx_kedge_oidc_issuer_t  **isp;

    if (kmcf->issuers.nelts == 0) {
        return NGX_OK;
    }

    curl = ngx_kedge_curl_create(cycle->pool, cycle->log);
    if (curl == NULL) {
        return NGX_ERROR;
    }

    isp = kmcf->issuers.elts;

    for (i = 0; i < kmcf->issuers.nelts; i++) {
        if (ngx_kedge_oidc_start(isp[i], curl, cycle->pool, cycle->log)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_kedge_auth_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_uint_t                  checked;
    ngx_http_kedge_ctx_t       *ctx;
    ngx_http_kedge_loc_conf_t  *klcf;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kedge_module);

    if (klcf->policy == NGX_HTTP_KEDGE_AUTH_OFF && !klcf->pass) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_kedge_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->auth.done) {
        return NGX_DECLINED;
    }

    checked = (klcf->policy != NGX_HTTP_KEDGE_AUTH_OFF);

    rc = ngx_http_kedge_auth_check(r, ctx, klcf, klcf->policy,
                                   klcf->cert_rules);

    if (rc == NGX_OK && klcf->pass) {
        if (ngx_http_kedge_route(r) == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ctx->route && ctx->route->auth != NGX_HTTP_KEDGE_AUTH_OFF) {
            checked = 1;
            rc = ngx_http_kedge_auth_check(r, ctx, klcf, ctx->route->auth,
                                           ctx->route->cert_rules);
        }
    }

    switch (rc) {

    case NGX_OK:
        ctx->auth.done = 1;
        ngx_http_kedge_auth_strip(r);

        ngx_http_kedge_info(r, "kedge: authorized: %s",
                            !checked ? "nothing asked for"
                            : ctx->auth.method == (NGX_HTTP_KEDGE_METHOD_CERT
                                                  |NGX_HTTP_KEDGE_METHOD_TOKEN)
                            ? "client certificate and token"
                            : ctx->auth.method == NGX_HTTP_KEDGE_METHOD_CERT
                            ? "client certificate" : "token");

        /*
         * NGX_OK grants access under "satisfy any": only when something
         * was checked, else the other access modules decide
         */

        return checked ? NGX_OK : NGX_DECLINED;

    case NGX_AGAIN:
        return ngx_http_kedge_auth_wait(r, ctx, klcf);

    case NGX_DECLINED:
        return ngx_http_kedge_auth_refuse(r, ctx, klcf);

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}


static ngx_int_t
ngx_http_kedge_auth_check(ngx_http_request_t *r, ngx_http_kedge_ctx_t *ctx,
    ngx_http_kedge_loc_conf_t *klcf, ngx_uint_t policy, ngx_array_t *rules)
{
    ngx_int_t  rc;

    switch (policy) {

    case NGX_HTTP_KEDGE_AUTH_OFF:
        return NGX_OK;

    case NGX_HTTP_KEDGE_AUTH_CERT:
        return ngx_http_kedge_auth_cert(r, ctx, rules);

    case NGX_HTTP_KEDGE_AUTH_TOKEN:
        return ngx_http_kedge_auth_token(r, ctx, klcf);

    case NGX_HTTP_KEDGE_AUTH_EITHER:
        rc = ngx_http_kedge_auth_cert(r, ctx, rules);

        if (rc == NGX_OK) {
            return NGX_OK;
        }

        return ngx_http_kedge_auth_token(r, ctx, klcf);

    default: /* NGX_HTTP_KEDGE_AUTH_BOTH */
        rc = ngx_http_kedge_auth_cert(r, ctx, rules);

        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_kedge_auth_token(r, ctx, klcf);
    }
}


/* a certificate nginx verified (exactly SUCCESS), matching the rules */

static ngx_int_t
ngx_http_kedge_auth_cert(ngx_http_request_t *r, ngx_http_kedge_ctx_t *ctx,
    ngx_array_t *rules)
{
#if (NGX_HTTP_SSL)
    X509        *cert;
    ngx_uint_t   match;

    cert = ngx_http_kedge_auth_peer(r, &ctx->auth.cert_reason);
    if (cert == NULL) {
        return NGX_DECLINED;
    }

    match = (rules == NULL || ngx_http_kedge_cert_match(cert, rules));

    X509_free(cert);

    if (!match) {
        ctx->auth.cert_reason = "the client certificate matches no rule";
        return NGX_DECLINED;
    }

    ctx->auth.method |= NGX_HTTP_KEDGE_METHOD_CERT;

    return NGX_OK;

#else
    ctx->auth.cert_reason = "no TLS in this nginx";
    return NGX_DECLINED;
#endif
}


#if (NGX_HTTP_SSL)

/* the client's certificate, when nginx verified it; the caller frees it */

static X509 *
ngx_http_kedge_auth_peer(ngx_http_request_t *r, const char **reason)
{
    X509                    *cert;
    ngx_connection_t        *c;
    ngx_http_ssl_srv_conf_t  *sscf;

    c = r->connection;

    if (c->ssl == NULL) {
        *reason = "not a TLS connection";
        return NULL;
    }

    cert = SSL_get_peer_certificate(c->ssl->connection);

    if (cert == NULL) {
        *reason = "no client certificate";
        return NULL;
    }

    /* "optional_no_ca" lets unverified certificates through: not here */

    if (SSL_get_verify_result(c->ssl->connection) != X509_V_OK) {
        X509_free(cert);
        *reason = "the client certificate did not verify";
        return NULL;
    }

    /*
     * verified by the CAs of the server the handshake chose (SNI, else
     * the default one): a Host of another server does not inherit it
     */

    sscf = ngx_http_get_module_srv_conf(r, ngx_http_ssl_module);

    if (sscf == NULL || sscf->ssl.ctx == NULL
        || SSL_get_SSL_CTX(c->ssl->connection) != sscf->ssl.ctx)
    {
        X509_free(cert);
        *reason = "the client certificate was verified for another server";
        return NULL;
    }

    return cert;
}


static ngx_uint_t
ngx_http_kedge_cert_match(X509 *cert, ngx_array_t *rules)
{
    int                          i, n, idx;
    u_char                      *utf8;
    ngx_uint_t                   j, match;
    X509_NAME                   *subject;
    GENERAL_NAME                *gn;
    GENERAL_NAMES               *names;
    ASN1_STRING                 *s;
    X509_NAME_ENTRY             *entry;
    ngx_http_kedge_cert_rule_t  *rule;

    names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    n = names ? sk_GENERAL_NAME_num(names) : 0;

    rule = rules->elts;
    match = 0;

    for (j = 0; !match && j < rules->nelts; j++) {

        if (rule[j].type == NGX_HTTP_KEDGE_CERT_CN) {
            subject = X509_get_subject_name(cert);
            idx = -1;

            for ( ;; ) {
                idx = X509_NAME_get_index_by_NID(subject, NID_commonName, idx);
                if (idx < 0) {
                    break;
                }

                entry = X509_NAME_get_entry(subject, idx);
                i = ASN1_STRING_to_UTF8(&utf8,
                                        X509_NAME_ENTRY_get_data(entry));
                if (i < 0) {
                    continue;
                }

                match = ngx_http_kedge_cert_rule_match(&rule[j], utf8, i);
                OPENSSL_free(utf8);

                if (match) {
                    break;
                }
            }

            continue;
        }

        for (i = 0; i < n; i++) {
            gn = sk_GENERAL_NAME_value(names, i);

            if (rule[j].type == NGX_HTTP_KEDGE_CERT_DNS
                && gn->type == GEN_DNS)
            {
                s = gn->d.dNSName;

            } else if (rule[j].type == NGX_HTTP_KEDGE_CERT_URI
                       && gn->type == GEN_URI)
            {
                s = gn->d.uniformResourceIdentifier;

            } else {
                continue;
            }

            if (ngx_http_kedge_cert_rule_match(&rule[j],
                                       (u_char *) ASN1_STRING_get0_data(s),
                                       ASN1_STRING_length(s)))
            {
                match = 1;
                break;
            }
        }
    }

    if (names) {
        GENERAL_NAMES_free(names);
    }

    return match;
}


static ngx_uint_t
ngx_http_kedge_cert_rule_match(ngx_http_kedge_cert_rule_t *rule, u_char *s,
    size_t len)
{
    size_t  i;

    /* a name with control bytes (an embedded NUL...) matches nothing */

    for (i = 0; i < len; i++) {
        if (s[i] < 0x20 || s[i] >= 0x7f) {
            return 0;
        }
    }

    if (rule->type == NGX_HTTP_KEDGE_CERT_DNS) {

        if (rule->label) {
            /* "*.example.com": one more label, never "example.com" */

            if (len <= rule->pattern.len
                || ngx_strncasecmp(s + len - rule->pattern.len,
                                   rule->pattern.data, rule->pattern.len)
                   != 0)
            {
                return 0;
            }

            for (i = 0; i < len - rule->pattern.len; i++) {
                if (s[i] == '.' || s[i] == '*') {
                    return 0;
                }
            }

            return 1;
        }

        return len == rule->pattern.len
               && ngx_strncasecmp(s, rule->pattern.data, len) == 0;
    }

    if (rule->prefix) {
        return len >= rule->pattern.len
               && ngx_memcmp(s, rule->pattern.data, rule->pattern.len) == 0;
    }

    return len == rule->pattern.len
           && ngx_memcmp(s, rule->pattern.data, len) == 0;
}

#endif


/*
 * The token in Proxy-Authorization, checked once per request: the
 * static bearer token, or an OIDC ID token.
 */

static ngx_int_t
ngx_http_kedge_auth_token(ngx_http_request_t *r, ngx_http_kedge_ctx_t *ctx,
    ngx_http_kedge_loc_conf_t *klcf)
{
    size_t            sub_len;
    u_char           *p, sub[NGX_KEDGE_JOSE_SUB_LEN + 1];
    u_char            digest[NGX_KEDGE_OIDC_DIGEST_LEN];
    ngx_int_t         rc;
    ngx_str_t         token, *value;
    ngx_uint_t        n, attempts;
    ngx_table_elt_t  *h;

    if (ctx->auth.token_checked) {
        return ctx->auth.token;
    }

    value = NULL;
    n = ngx_http_kedge_auth_header(r, &h);

    if (n) {
        value = &h->value;
    }

    /* stripped by an earlier check, before an internal redirect */

    if (n == 0) {
        value = ngx_http_kedge_auth_saved(r, 0);
        n = value ? 1 : 0;
    }

    rc = NGX_DECLINED;

    if (n == 0) {
        ctx->auth.token_reason = "no Proxy-Authorization";
        goto done;
    }

    if (n > 1) {
        ctx->auth.token_reason = "Proxy-Authorization more than once";
        goto done;
    }

    if (value->len < sizeof("Bearer ")
        || ngx_strncasecmp(value->data, (u_char *) "Bearer ",
                           sizeof("Bearer ") - 1)
           != 0)
    {
        ctx->auth.token_reason = "Proxy-Authorization is not \"Bearer\"";
        goto done;
    }

    token.data = value->data + sizeof("Bearer ") - 1;
    token.len = value->len - (sizeof("Bearer ") - 1);

    /* a token verified before: a digest and a lookup, nothing more */

    if (klcf->oidc) {
        rc = ngx_kedge_oidc_cached(klcf->oidc, &token, digest, sub, &sub_len);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_OK) {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "kedge auth: token verified before, from the "
                           "cache");
            goto verified;
        }

        rc = NGX_DECLINED;
    }

    if (ngx_http_kedge_token_chars(&token) != NGX_OK) {
        ctx->auth.token_reason = "a malformed bearer token";
        goto done;
    }

    if (klcf->bearer) {
        rc = ngx_http_kedge_auth_bearer(r, &token, &ctx->auth.token_reason);
        goto done;
    }

    if (klcf->oidc == NULL) {
        ctx->auth.token_reason = "no kedge_oidc or kedge_bearer_token here";
        goto done;
    }

    attempts = ngx_kedge_oidc_attempts(klcf->oidc->issuer);

    rc = ngx_kedge_oidc_verify(klcf->oidc, &token, digest, !ctx->auth.waited,
                               sub, &sub_len, &ctx->auth.token_reason,
                               r->connection->log);

    if (rc == NGX_AGAIN) {
        ctx->auth.attempts = attempts;
        return NGX_AGAIN;
    }

verified:

    if (rc == NGX_OK && sub_len) {
        p = ngx_pnalloc(r->pool, sub_len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(p, sub, sub_len);
        ctx->auth.subject.data = p;
        ctx->auth.subject.len = sub_len;
    }

done:

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK) {
        ctx->auth.method |= NGX_HTTP_KEDGE_METHOD_TOKEN;
    }

    ctx->auth.token = rc;
    ctx->auth.token_checked = 1;

    return rc;
}


/* constant time: digests of equal length compared with CRYPTO_memcmp() */

static ngx_int_t
ngx_http_kedge_auth_bearer(ngx_http_request_t *r, ngx_str_t *token,
    const char **reason)
{
    u_char                      digest[32];
    ngx_http_kedge_loc_conf_t  *klcf;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kedge_module);

    if (ngx_http_kedge_sha256(token->data, token->len, digest) != NGX_OK) {
        return NGX_ERROR;
    }

    if (CRYPTO_memcmp(digest, klcf->bearer->digest, sizeof(digest)) != 0) {
        *reason = "wrong bearer token";
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* RFC 7235 token68: what a bearer token may be made of */

static ngx_int_t
ngx_http_kedge_token_chars(ngx_str_t *token)
{
    u_char  *p, *last;

    last = token->data + token->len;

    for (p = token->data; p < last; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')
            || (*p >= '0' && *p <= '9')
            || *p == '-' || *p == '.' || *p == '_' || *p == '~'
            || *p == '+' || *p == '/')
        {
            continue;
        }

        break;
    }

    /* then only "=" padding */

    if (p == token->data) {
        return NGX_ERROR;
    }

    while (p < last && *p == '=') {
        p++;
    }

    return (p == last) ? NGX_OK : NGX_ERROR;
}


/*
 * An unknown kid, a fetch asked for: the request waits, on its own
 * timer, for the fetcher's attempt to end, at most kid_wait; then the
 * phases run again and the token is checked once more, without waiting.
 */

static ngx_int_t
ngx_http_kedge_auth_wait(ngx_http_request_t *r, ngx_http_kedge_ctx_t *ctx,
    ngx_http_kedge_loc_conf_t *klcf)
{
    ctx->auth.waited = 1;
    ctx->auth.token_checked = 0;
    ctx->auth.method = 0;
    ctx->auth.wait_until = ngx_current_msec + klcf->oidc->issuer->kid_wait;

    if (r->connection->read->ready) {
        ngx_post_event(r->connection->read, &ngx_posted_events);

    } else {
        if (ngx_handle_read_event(r->connection->read, 0) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_kedge_auth_wake;

    r->connection->write->delayed = 1;
    ngx_add_timer(r->connection->write, NGX_HTTP_KEDGE_AUTH_WAIT_TICK);

    return NGX_AGAIN;
}


static void
ngx_http_kedge_auth_wake(ngx_http_request_t *r)
{
    ngx_event_t                *wev;
    ngx_http_kedge_ctx_t       *ctx;
    ngx_http_kedge_loc_conf_t  *klcf;

    wev = r->connection->write;

    if (wev->delayed) {
        if (ngx_handle_write_event(wev, 0) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        }

        return;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_kedge_module);
    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kedge_module);

    if (ctx && klcf->oidc
        && ngx_kedge_oidc_attempts(klcf->oidc->issuer) == ctx->auth.attempts
        && (ngx_msec_int_t) (ctx->auth.wait_until - ngx_current_msec) > 0)
    {
        wev->delayed = 1;
        ngx_add_timer(wev, NGX_HTTP_KEDGE_AUTH_WAIT_TICK);
        return;
    }

    if (ngx_handle_read_event(r->connection->read, 0) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_core_run_phases;

    ngx_http_core_run_phases(r);
}


static ngx_int_t
ngx_http_kedge_auth_refuse(ngx_http_request_t *r, ngx_http_kedge_ctx_t *ctx,
    ngx_http_kedge_loc_conf_t *klcf)
{
    ngx_int_t  rc;

    /* at its level, and for X-Kedge-Info-Logs whatever the error_log's */

    ngx_http_kedge_log(r, klcf->auth_log,
                       "kedge: unauthorized: client certificate: %s; "
                       "token: %s",
                       ctx->auth.cert_reason ? ctx->auth.cert_reason
                                             : "not asked for",
                       ctx->auth.token_reason ? ctx->auth.token_reason
                                              : "not asked for");

    ctx->error = NGX_HTTP_KEDGE_ERR_UNAUTHORIZED;
    ctx->auth.method = 0;
    ctx->auth.subject.len = 0;

    ngx_http_kedge_auth_strip(r);

    rc = ngx_http_kedge_error(r, ctx);

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


/*
 * kedge's credentials go no further: the header's value is emptied in
 * place (the list itself, which nginx's own header pointers index, stays
 * as it is); kedge_pass drops the header altogether, for HTTP and gRPC
 */

static void
ngx_http_kedge_auth_strip(ngx_http_request_t *r)
{
    ngx_str_t        *saved;
    ngx_table_elt_t  *h;

    while (ngx_http_kedge_auth_header(r, &h)) {
        saved = ngx_http_kedge_auth_saved(r, 1);

        if (saved) {
            *saved = h->value;
        }

        h->value.len = 0;
    }
}


/*
 * How many Proxy-Authorization headers with a value the request has; the
 * last of them in "*found".  An emptied one (stripped) does not count.
 */

static ngx_uint_t
ngx_http_kedge_auth_header(ngx_http_request_t *r, ngx_table_elt_t **found)
{
    ngx_uint_t        i, n;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    n = 0;
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].value.len
            && h[i].key.len == sizeof("Proxy-Authorization") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Proxy-Authorization",
                               sizeof("Proxy-Authorization") - 1)
               == 0)
        {
            *found = &h[i];
            n++;
        }
    }

    return n;
}


/*
 * The stripped Proxy-Authorization, kept for the checks of locations an
 * internal redirect leads to (which clears the module's context, not the
 * request's pool): in a pool cleanup of its own, found by its handler.
 */

static ngx_str_t *
ngx_http_kedge_auth_saved(ngx_http_request_t *r, ngx_uint_t create)
{
    ngx_str_t           *saved;
    ngx_pool_cleanup_t  *cln;

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_kedge_auth_saved_cleanup) {
            return cln->data;
        }
    }

    if (!create) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_str_t));
    if (cln == NULL) {
        return NULL;
    }

    saved = cln->data;
    ngx_str_null(saved);

    cln->handler = ngx_http_kedge_auth_saved_cleanup;

    return saved;
}


static void
ngx_http_kedge_auth_saved_cleanup(void *data)
{
    /* the value lives in the request's buffers: nothing to free */
}


static ngx_int_t
ngx_http_kedge_sha256(u_char *data, size_t len, u_char *digest)
{
    unsigned int  n;

    if (EVP_Digest(data, len, digest, &n, EVP_sha256(), NULL) != 1) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_kedge_auth_add_variables(ngx_conf_t *cf)
{
    return ngx_http_kedge_register_variables(cf, ngx_http_kedge_auth_vars);
}


static ngx_int_t
ngx_http_kedge_auth_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t              s;
    ngx_http_kedge_ctx_t  *ctx;
#if (NGX_HTTP_SSL)
    int                    i, n, len;
    u_char                *p, *utf8;
    X509                  *cert;
    X509_NAME             *subject;
    const char            *reason;
    ngx_uint_t             type;
    ASN1_STRING           *as;
    GENERAL_NAME          *gn;
    GENERAL_NAMES         *names;
#endif

    ngx_str_null(&s);

    if (data <= NGX_HTTP_KEDGE_VAR_SUBJECT) {
        ctx = ngx_http_get_module_ctx(r->main, ngx_http_kedge_module);

        if (ctx == NULL || !ctx->auth.done) {
            v->not_found = 1;
            return NGX_OK;
        }

        if (data == NGX_HTTP_KEDGE_VAR_SUBJECT) {
            s = ctx->auth.subject;

        } else {
            switch (ctx->auth.method) {

            case NGX_HTTP_KEDGE_METHOD_CERT:
                ngx_str_set(&s, "cert");
                break;

            case NGX_HTTP_KEDGE_METHOD_TOKEN:
                ngx_str_set(&s, "token");
                break;

            case NGX_HTTP_KEDGE_METHOD_CERT|NGX_HTTP_KEDGE_METHOD_TOKEN:
                ngx_str_set(&s, "cert+token");
                break;

            default:
                ngx_str_set(&s, "none");
                break;
            }
        }

        goto found;
    }

#if (NGX_HTTP_SSL)

    /* the identity of a verified client certificate, printable names */

    cert = ngx_http_kedge_auth_peer(r, &reason);
    if (cert == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (data == NGX_HTTP_KEDGE_VAR_CERT_CN) {
        subject = X509_get_subject_name(cert);
        i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);

        if (i >= 0) {
            len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(
                                          X509_NAME_get_entry(subject, i)));

            if (len > 0) {
                for (n = 0; n < len && utf8[n] >= 0x20 && utf8[n] < 0x7f;
                     n++)
                {
                    /* void */
                }

                if (n == len) {
                    s.data = ngx_pnalloc(r->pool, len);

                    if (s.data) {
                        s.len = len;
                        ngx_memcpy(s.data, utf8, len);
                    }
                }

                OPENSSL_free(utf8);
            }
        }

        X509_free(cert);
        goto found;
    }

    type = (data == NGX_HTTP_KEDGE_VAR_CERT_DNS) ? GEN_DNS : GEN_URI;

    names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    n = names ? sk_GENERAL_NAME_num(names) : 0;

    for (len = 0, i = 0; i < n; i++) {
        gn = sk_GENERAL_NAME_value(names, i);

        if ((ngx_uint_t) gn->type == type) {
            len += ASN1_STRING_length(gn->d.ia5) + 1;
        }
    }

    if (len) {
        s.data = ngx_pnalloc(r->pool, len);
    }

    for (p = s.data, i = 0; s.data && i < n; i++) {
        gn = sk_GENERAL_NAME_value(names, i);

        if ((ngx_uint_t) gn->type != type) {
            continue;
        }

        as = gn->d.ia5;

        for (len = 0; len < ASN1_STRING_length(as); len++) {
            if (ASN1_STRING_get0_data(as)[len] <= 0x20
                || ASN1_STRING_get0_data(as)[len] >= 0x7f
                || ASN1_STRING_get0_data(as)[len] == ',')
            {
                break;
            }
        }

        if (len == 0 || len != ASN1_STRING_length(as)) {
            continue;
        }

        if (p != s.data) {
            *p++ = ',';
        }

        p = ngx_cpymem(p, ASN1_STRING_get0_data(as), len);
    }

    s.len = s.data ? (size_t) (p - s.data) : 0;

    if (names) {
        GENERAL_NAMES_free(names);
    }

    X509_free(cert);

#endif

found:

    if (s.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = s.len;
    v->data = s.data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}
