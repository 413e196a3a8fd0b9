
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 *
 * kedge_config: kedge's own configuration files, unchanged: the director
 * (routes and adhoc rules) and the backend pool (backends), in the
 * protobuf JSON mapping of kedge's messages (proto/kedge/config).  They
 * are read with jansson when the configuration is parsed and go into the
 * very tables the kedge_backend, kedge_*_route and kedge_*_adhoc
 * directives fill, through the same helpers.
 *
 * As protobuf's JSON parser: fields by their proto name (snake_case) or
 * their JSON name (lowerCamelCase), never both; null is the field's
 * default; integers as numbers or decimal strings; enums by name or
 * number; an unknown field is an error.  Every error names the file and
 * the JSON path of the field as the file spells it, and fails nginx -t.
 */


#include <jansson.h>

#include "ngx_http_kedge_module.h"


#define NGX_HTTP_KEDGE_JSON_PATH_LEN  1024


typedef struct {
    ngx_conf_t                     *cf;
    ngx_http_kedge_main_conf_t     *kmcf;
    ngx_str_t                       file;          /* NUL-terminated */
    ngx_array_t                     tls_configs;   /* ngx_str_t */
    ngx_array_t                    *allow;         /* for adhoc rules */
    ngx_array_t                    *deny;
    ngx_uint_t                      protocol;
    const char                     *key;           /* as the file spells it */
    size_t                          len;
    u_char                          path[NGX_HTTP_KEDGE_JSON_PATH_LEN];
} ngx_http_kedge_json_t;


typedef ngx_int_t (*ngx_http_kedge_json_pt)(ngx_http_kedge_json_t *j,
    json_t *value, void *data);


typedef struct {
    char                           *name;          /* the proto name */
    char                           *json_name;     /* lowerCamelCase */
    ngx_http_kedge_json_pt          handler;
} ngx_http_kedge_json_field_t;


/* the resolver of a backend, as read, before the backend gets it */
typedef struct {
    ngx_str_t                       dns_name;
    ngx_uint_t                      port;
    const char                     *dns_name_key;
    const char                     *port_key;
} ngx_http_kedge_json_resolver_t;


typedef struct {
    ngx_uint_t                      from;
    ngx_uint_t                      to;
} ngx_http_kedge_json_range_t;


static ngx_int_t ngx_http_kedge_json_load(ngx_http_kedge_json_t *j,
    ngx_str_t *name, ngx_http_kedge_json_field_t *fields);
static ngx_int_t ngx_http_kedge_json_message(ngx_http_kedge_json_t *j,
    json_t *obj, ngx_http_kedge_json_field_t *fields, void *data);
static ngx_int_t ngx_http_kedge_json_array(ngx_http_kedge_json_t *j,
    json_t *value, ngx_http_kedge_json_pt handler, void *data);
static size_t ngx_http_kedge_json_enter(ngx_http_kedge_json_t *j,
    const char *key, ngx_int_t index);
static void ngx_cdecl ngx_http_kedge_json_error(ngx_http_kedge_json_t *j,
    ngx_uint_t level, const char *sub, const char *fmt, ...);
static ngx_int_t ngx_http_kedge_json_string(ngx_http_kedge_json_t *j,
    json_t *value, ngx_str_t *s);
static ngx_int_t ngx_http_kedge_json_uint(ngx_http_kedge_json_t *j,
    json_t *value, ngx_uint_t max, ngx_uint_t *n);
static ngx_int_t ngx_http_kedge_json_bool(ngx_http_kedge_json_t *j,
    json_t *value, ngx_flag_t *flag);
static ngx_int_t ngx_http_kedge_json_enum(ngx_http_kedge_json_t *j,
    json_t *value, char **names, ngx_uint_t *n);
static ngx_int_t ngx_http_kedge_json_port(ngx_http_kedge_json_t *j,
    json_t *value, in_port_t *port);
static ngx_int_t ngx_http_kedge_json_ignore(ngx_http_kedge_json_t *j,
    json_t *value, void *data);

static ngx_int_t ngx_http_kedge_json_pool_grpc(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_pool_http(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_tls_configs(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_tls_config(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_tls_config_name(
    ngx_http_kedge_json_t *j, json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_backends(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_backend(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_backend_name(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_balancer(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_security(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_insecure(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_config_name(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_interceptor(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_srv(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_k8s(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_host(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_resolver_name(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_resolver_port(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_resolver_one(ngx_http_kedge_json_t *j,
    ngx_http_kedge_backend_t *backend);

static ngx_int_t ngx_http_kedge_json_director_grpc(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_director_http(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_routes(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_route(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_backend_ref(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_path_rules(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_path_rule(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_service(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_host_matcher(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_port_matcher(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_headers(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_proxy_mode(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_adhoc_rules(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_adhoc(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_adhoc_matcher(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_adhoc_port(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_port_default(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_port_allowed(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_allowed_port(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_port_ranges(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_port_range(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_range_from(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_range_to(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_replace(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_pattern(ngx_http_kedge_json_t *j,
    json_t *value, void *data);
static ngx_int_t ngx_http_kedge_json_substitution(ngx_http_kedge_json_t *j,
    json_t *value, void *data);


/* kedge.config.BackendPoolConfig, proto/kedge/config/backendpool.proto */

static ngx_http_kedge_json_field_t  ngx_http_kedge_json_backendpool[] = {
    /* first: backends name them in security.config_name */
    { "tls_server_configs", "tlsServerConfigs",
      ngx_http_kedge_json_tls_configs },
    { "grpc", "grpc", ngx_http_kedge_json_pool_grpc },
    { "http", "http", ngx_http_kedge_json_pool_http },
    { NULL, NULL, NULL }
};


static ngx_http_kedge_json_field_t  ngx_http_kedge_json_pool_protocol[] = {
    { "backends", "backends", ngx_http_kedge_json_backends },
    { NULL, NULL, NULL }
};


static ngx_http_kedge_json_field_t  ngx_http_kedge_json_tls_config_fields[] = {
    { "name", "name", ngx_http_kedge_json_tls_config_name },
    { NULL, NULL, NULL }
};


/* kedge.config.grpc.backends.Backend and kedge.config.http.backends.Backend */

static ngx_http_kedge_json_field_t  ngx_http_kedge_json_grpc_backend[] = {
    /* first: the resolvers' logs name the backend */
    { "name", "name", ngx_http_kedge_json_backend_name },
    { "balancer", "balancer", ngx_http_kedge_json_balancer },
    { "disable_conntracking", "disableConntracking",
      ngx_http_kedge_json_ignore },
    { "security", "security", ngx_http_kedge_json_security },
    { "interceptors", "interceptors", ngx_http_kedge_json_interceptor },
    { "srv", "srv", ngx_http_kedge_json_srv },
    { "k8s", "k8s", ngx_http_kedge_json_k8s },
    { "host", "host", ngx_http_kedge_json_host },
    { "autogenerated", "autogenerated", ngx_http_kedge_json_ignore },
    { NULL, NULL, NULL }
};


static ngx_http_kedge_json_field_t  ngx_http_kedge_json_http_backend[] = {
    { "name", "name", ngx_http_kedge_json_backend_name },
    { "balancer", "balancer", ngx_http_kedge_json_balancer },
    { "disable_conntracking", "disableConntracking",
      ngx_http_kedge_json_ignore },
    { "security", "security", ngx_http_kedge_json_security },
    { "srv", "srv", ngx_http_kedge_json_srv },
    { "k8s", "k8s", ngx_http_kedge_json_k8s },
    { "host", "host", ngx_http_kedge_json_host },
    { "autogenerated", "autogenerated", ngx_http_kedge_json_ignore },
    { NULL, NULL, NULL }
};


static ngx_http_kedge_json_field_t  ngx_http_kedge_json_security_fields[] = {
    { "insecure_skip_verify", "insecureSkipVerify",
      ngx_http_kedge_json_insecure },
    { "config_name", "configName", ngx_http_kedge_json_config_name },
    { NULL, NULL, NULL }
};


static ngx_http_kedge_json_field_t  ngx_http_kedge_json_interceptor_fields[] =
{
    { "prometheus", "prometheus", ngx_http_kedge_json_ignore },
    { NULL, NULL, NULL }
};


/* kedge.config.common.resolvers: SrvResolver, K8sResolver, HostResolver */

static ngx_http_kedge_json_field_t  ngx_http_kedge_json_srv_fields[] = {
    { "dns_name", "dnsName", ngx_http_kedge_json_resolver_name },
    { "port_override", "portOverride", ngx_http_kedge_json_resolver_port },
    { NULL, NULL, NULL }
};


static ngx_http_kedge_json_field_t  ngx_http_kedge_json_k8s_fields[] = {
    { "dns_port_name", "dnsPortName", ngx_http_kedge_json_resolver_name },
    { NULL, NULL, NULL }
};


static ngx_http_kedge_json_field_t  ngx_http_kedge_json_host_fields[] = {
    { "dns_name", "dnsName", ngx_http_kedge_json_resolver_name },
    { "port", "port", ngx_http_kedge_json_resolver_port },
    { NULL, NULL, NULL }
};


/* kedge.config.DirectorConfig, proto/kedge/config/director.proto */

static ngx_http_kedge_json_field_t  ngx_http_kedge_json_director[] = {
    { "grpc", "grpc", ngx_http_kedge_json_director_grpc },
    { "http", "http", ngx_http_kedge_json_director_http },
    { NULL, NULL, NULL }
};


static ngx_http_kedge_json_field_t  ngx_http_kedge_json_director_protocol[] =
{
    { "routes", "routes", ngx_http_kedge_json_routes },
    { "adhoc_rules", "adhocRules", ngx_http_kedge_json_adhoc_rules },
    { NULL, NULL, NULL }
};


/* kedge.config.grpc.routes.Route */

static ngx_http_kedge_json_field_t  ngx_http_kedge_json_grpc_route[] = {
    { "backend_name", "backendName", ngx_http_kedge_json_backend_ref },
    { "service_name_matcher", "serviceNameMatcher",
      ngx_http_kedge_json_service },
    { "authority_host_matcher", "authorityHostMatcher",
      ngx_http_kedge_json_host_matcher },
    { "metadata_matcher", "metadataMatcher", ngx_http_kedge_json_headers },
    { "authority_port_matcher", "authorityPortMatcher",
      ngx_http_kedge_json_port_matcher },
    { "autogenerated", "autogenerated", ngx_http_kedge_json_ignore },
    { NULL, NULL, NULL }
};


/* kedge.config.http.routes.Route */

static ngx_http_kedge_json_field_t  ngx_http_kedge_json_http_route[] = {
    { "backend_name", "backendName", ngx_http_kedge_json_backend_ref },
    { "path_rules", "pathRules", ngx_http_kedge_json_path_rules },
    { "host_matcher", "hostMatcher", ngx_http_kedge_json_host_matcher },
    { "header_matcher", "headerMatcher", ngx_http_kedge_json_headers },
    { "proxy_mode", "proxyMode", ngx_http_kedge_json_proxy_mode },
    { "port_matcher", "portMatcher", ngx_http_kedge_json_port_matcher },
    { "autogenerated", "autogenerated", ngx_http_kedge_json_ignore },
    { NULL, NULL, NULL }
};


/* kedge.config.common.Adhoc, with its Port, Port.Range and Replace */

static ngx_http_kedge_json_field_t  ngx_http_kedge_json_adhoc_fields[] = {
    { "dns_name_matcher", "dnsNameMatcher",
      ngx_http_kedge_json_adhoc_matcher },
    { "port", "port", ngx_http_kedge_json_adhoc_port },
    { "dns_name_replace", "dnsNameReplace", ngx_http_kedge_json_replace },
    { NULL, NULL, NULL }
};


static ngx_http_kedge_json_field_t  ngx_http_kedge_json_port_fields[] = {
    { "default", "default", ngx_http_kedge_json_port_default },
    { "allowed", "allowed", ngx_http_kedge_json_port_allowed },
    { "allowed_ranges", "allowedRanges", ngx_http_kedge_json_port_ranges },
    { NULL, NULL, NULL }
};


static ngx_http_kedge_json_field_t  ngx_http_kedge_json_range_fields[] = {
    { "from", "from", ngx_http_kedge_json_range_from },
    { "to", "to", ngx_http_kedge_json_range_to },
    { NULL, NULL, NULL }
};


static ngx_http_kedge_json_field_t  ngx_http_kedge_json_replace_fields[] = {
    { "pattern", "pattern", ngx_http_kedge_json_pattern },
    { "substitution", "substitution", ngx_http_kedge_json_substitution },
    { NULL, NULL, NULL }
};


static char  *ngx_http_kedge_json_balancers[] = { "ROUND_ROBIN", NULL };

static char  *ngx_http_kedge_json_proxy_modes[] = {
    "ANY", "REVERSE_PROXY", "FORWARD_PROXY", NULL
};


/*
 * kedge_config DIRECTOR.json BACKENDPOOL.json;
 * kedge_config [director=FILE] [backendpool=FILE] [adhoc_allow=CIDR,...]
 *              [adhoc_deny=CIDR,...];
 */

char *
ngx_http_kedge_config_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_kedge_main_conf_t *kmcf = conf;

    ngx_int_t               rc;
    ngx_str_t              *value, director, pool, s;
    ngx_uint_t              i, positional;
    ngx_http_kedge_json_t  *j;

    j = ngx_pcalloc(cf->pool, sizeof(ngx_http_kedge_json_t));
    if (j == NULL) {
        return NGX_CONF_ERROR;
    }

    j->cf = cf;
    j->kmcf = kmcf;

    if (ngx_array_init(&j->tls_configs, cf->pool, 2, sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    ngx_str_null(&director);
    ngx_str_null(&pool);
    positional = 0;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "director=", 9) == 0
            && value[i].len > 9 && director.len == 0)
        {
            director.data = value[i].data + 9;
            director.len = value[i].len - 9;
            continue;
        }

        if (ngx_strncmp(value[i].data, "backendpool=", 12) == 0
            && value[i].len > 12 && pool.len == 0)
        {
            pool.data = value[i].data + 12;
            pool.len = value[i].len - 12;
            continue;
        }

        if (ngx_strncmp(value[i].data, "adhoc_allow=", 12) == 0
            || ngx_strncmp(value[i].data, "adhoc_deny=", 11) == 0)
        {
            s.data = ngx_strlchr(value[i].data,
                                 value[i].data + value[i].len, '=') + 1;
            s.len = value[i].data + value[i].len - s.data;

            rc = ngx_http_kedge_adhoc_cidrs(cf, value[i].data[6] == 'a'
                                                ? &j->allow : &j->deny,
                                            &s);
            if (rc == NGX_DECLINED) {
                goto invalid;
            }

            if (rc != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        /* DIRECTOR BACKENDPOOL, as kedge's two flags name them */

        if (i == positional + 1 && positional < 2 && value[i].len
            && ngx_strlchr(value[i].data, value[i].data + value[i].len, '=')
               == NULL)
        {
            if (positional++ == 0) {
                director = value[i];

            } else {
                pool = value[i];
            }

            continue;
        }

        goto invalid;
    }

    if (director.len == 0 && pool.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" needs a director or a backend pool file",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (pool.len
        && ngx_http_kedge_json_load(j, &pool, ngx_http_kedge_json_backendpool)
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (director.len
        && ngx_http_kedge_json_load(j, &director, ngx_http_kedge_json_director)
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"%V\" directive",
                       &value[i], &cmd->name);
    return NGX_CONF_ERROR;
}


static ngx_int_t
ngx_http_kedge_json_load(ngx_http_kedge_json_t *j, ngx_str_t *name,
    ngx_http_kedge_json_field_t *fields)
{
    json_t        *root;
    ngx_int_t      rc;
    json_error_t   err;

    j->file = *name;

    if (ngx_conf_full_name(j->cf->cycle, &j->file, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    j->len = 0;
    j->path[0] = '\0';

    /* as protobuf's parser: a member twice is an error */

    root = json_load_file((char *) j->file.data, JSON_REJECT_DUPLICATES,
                          &err);
    if (root == NULL) {
        if (err.line > 0) {
            ngx_http_kedge_json_error(j, NGX_LOG_EMERG, NULL,
                                      "line %d, column %d: %s",
                                      err.line, err.column, err.text);

        } else {
            ngx_http_kedge_json_error(j, NGX_LOG_EMERG, NULL, "%s",
                                      err.text);
        }

        return NGX_ERROR;
    }

    rc = ngx_http_kedge_json_message(j, root, fields, j);

    json_decref(root);

    return rc;
}


/*
 * A message: every member a field of it, by one of its two names; the
 * fields' handlers then run in the order of "fields", not of the file.
 */

static ngx_int_t
ngx_http_kedge_json_message(ngx_http_kedge_json_t *j, json_t *obj,
    ngx_http_kedge_json_field_t *fields, void *data)
{
    size_t                        len;
    json_t                       *value, *camel;
    ngx_int_t                     rc;
    const char                   *key;
    ngx_http_kedge_json_field_t  *f;

    if (!json_is_object(obj)) {
        ngx_http_kedge_json_error(j, NGX_LOG_EMERG, NULL,
                                  "an object is expected");
        return NGX_ERROR;
    }

    json_object_foreach(obj, key, value) {

        for (f = fields; f->name; f++) {
            if (ngx_strcmp(key, f->name) == 0
                || ngx_strcmp(key, f->json_name) == 0)
            {
                break;
            }
        }

        if (f->name == NULL) {
            ngx_http_kedge_json_error(j, NGX_LOG_EMERG, key,
                                      "unknown field");
            return NGX_ERROR;
        }
    }

    for (f = fields; f->name; f++) {

        key = f->name;
        value = json_object_get(obj, f->name);

        if (ngx_strcmp(f->name, f->json_name) != 0) {
            camel = json_object_get(obj, f->json_name);

            if (camel && value) {
                ngx_http_kedge_json_error(j, NGX_LOG_EMERG, f->json_name,
                                          "the field \"%s\" is given twice",
                                          f->name);
                return NGX_ERROR;
            }

            if (camel) {
                key = f->json_name;
                value = camel;
            }
        }

        /* null is the default value, as if the field were not there */

        if (value == NULL || json_is_null(value)) {
            continue;
        }

        len = ngx_http_kedge_json_enter(j, key, -1);
        j->key = key;

        rc = f->handler(j, value, data);

        j->len = len;
        j->path[len] = '\0';

        if (rc != NGX_OK) {
            return rc;
        }
    }

    return NGX_OK;
}


/* a repeated field: each element to the handler, as "name[i]" */

static ngx_int_t
ngx_http_kedge_json_array(ngx_http_kedge_json_t *j, json_t *value,
    ngx_http_kedge_json_pt handler, void *data)
{
    size_t      len, i;
    json_t     *elt;
    ngx_int_t   rc;

    if (!json_is_array(value)) {
        ngx_http_kedge_json_error(j, NGX_LOG_EMERG, NULL,
                                  "an array is expected");
        return NGX_ERROR;
    }

    json_array_foreach(value, i, elt) {

        len = ngx_http_kedge_json_enter(j, NULL, i);

        if (json_is_null(elt)) {
            ngx_http_kedge_json_error(j, NGX_LOG_EMERG, NULL,
                                      "null in a repeated field");
            return NGX_ERROR;
        }

        rc = handler(j, elt, data);

        j->len = len;
        j->path[len] = '\0';

        if (rc != NGX_OK) {
            return rc;
        }
    }

    return NGX_OK;
}


/* the path grows by ".key" or "[index]"; returns its length before */

static size_t
ngx_http_kedge_json_enter(ngx_http_kedge_json_t *j, const char *key,
    ngx_int_t index)
{
    size_t   len;
    u_char  *p, *last;

    len = j->len;
    p = j->path + len;
    last = j->path + NGX_HTTP_KEDGE_JSON_PATH_LEN - 1;

    if (key) {
        p = ngx_slprintf(p, last, "%s%s", len ? "." : "", key);

    } else {
        p = ngx_slprintf(p, last, "[%i]", index);
    }

    *p = '\0';
    j->len = p - j->path;

    return len;
}


/* "kedge_config: FILE: PATH: message in nginx.conf:LINE" */

static void ngx_cdecl
ngx_http_kedge_json_error(ngx_http_kedge_json_t *j, ngx_uint_t level,
    const char *sub, const char *fmt, ...)
{
    u_char   msg[NGX_MAX_CONF_ERRSTR], *p, *last;
    va_list  args;

    last = msg + sizeof(msg);

    p = ngx_slprintf(msg, last, "%s", j->path);

    if (sub) {
        p = ngx_slprintf(p, last, "%s%s", j->len ? "." : "", sub);
    }

    if (p > msg) {
        p = ngx_slprintf(p, last, ": ");
    }

    va_start(args, fmt);
    p = ngx_vslprintf(p, last, fmt, args);
    va_end(args);

    ngx_conf_log_error(level, j->cf, 0, "kedge_config: %V: %*s",
                       &j->file, p - msg, msg);
}


/* a string, copied to the configuration's pool and NUL-terminated */

static ngx_int_t
ngx_http_kedge_json_string(ngx_http_kedge_json_t *j, json_t *value,
    ngx_str_t *s)
{
    if (!json_is_string(value)) {
        ngx_http_kedge_json_error(j, NGX_LOG_EMERG, NULL,
                                  "a string is expected");
        return NGX_ERROR;
    }

    s->len = json_string_length(value);
    s->data = ngx_pnalloc(j->cf->pool, s->len + 1);
    if (s->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(s->data, json_string_value(value), s->len);
    s->data[s->len] = '\0';

    return NGX_OK;
}


/* uint32: a number, or a string of decimal digits, as protobuf reads it */

static ngx_int_t
ngx_http_kedge_json_uint(ngx_http_kedge_json_t *j, json_t *value,
    ngx_uint_t max, ngx_uint_t *n)
{
    double      d;
    ngx_int_t   i;
    json_int_t  v;

    if (json_is_integer(value)) {
        v = json_integer_value(value);

        if (v < 0 || (unsigned long long) v > max) {
            goto range;
        }

        *n = (ngx_uint_t) v;
        return NGX_OK;
    }

    if (json_is_real(value)) {
        d = json_real_value(value);

        if (!(d >= 0 && d <= (double) max) || d != (double) (ngx_uint_t) d) {
            goto range;
        }

        *n = (ngx_uint_t) d;
        return NGX_OK;
    }

    if (json_is_string(value)) {
        i = ngx_atoi((u_char *) json_string_value(value),
                     json_string_length(value));

        if (i == NGX_ERROR || (ngx_uint_t) i > max) {
            goto range;
        }

        *n = (ngx_uint_t) i;
        return NGX_OK;
    }

    ngx_http_kedge_json_error(j, NGX_LOG_EMERG, NULL,
                              "a non-negative integer is expected");
    return NGX_ERROR;

range:

    ngx_http_kedge_json_error(j, NGX_LOG_EMERG, NULL,
                              "an integer from 0 to %ui is expected", max);
    return NGX_ERROR;
}


static ngx_int_t
ngx_http_kedge_json_bool(ngx_http_kedge_json_t *j, json_t *value,
    ngx_flag_t *flag)
{
    if (!json_is_boolean(value)) {
        ngx_http_kedge_json_error(j, NGX_LOG_EMERG, NULL,
                                  "true or false is expected");
        return NGX_ERROR;
    }

    *flag = json_is_true(value);

    return NGX_OK;
}


/* an enum: by name, or by number */

static ngx_int_t
ngx_http_kedge_json_enum(ngx_http_kedge_json_t *j, json_t *value,
    char **names, ngx_uint_t *n)
{
    u_char      buf[128], *p, *last;
    ngx_uint_t  i, max;

    for (max = 0; names[max]; max++) { /* void */ }

    if (json_is_string(value)) {
        for (i = 0; names[i]; i++) {
            if (ngx_strcmp(json_string_value(value), names[i]) == 0) {
                *n = i;
                return NGX_OK;
            }
        }

    } else if (json_is_integer(value)) {
        if (json_integer_value(value) >= 0
            && json_integer_value(value) < (json_int_t) max)
        {
            *n = (ngx_uint_t) json_integer_value(value);
            return NGX_OK;
        }
    }

    p = buf;
    last = buf + sizeof(buf);

    for (i = 0; names[i]; i++) {
        p = ngx_slprintf(p, last, "%s\"%s\"", i ? ", " : "", names[i]);
    }

    ngx_http_kedge_json_error(j, NGX_LOG_EMERG, NULL,
                              "one of %*s (or 0 to %ui) is expected",
                              p - buf, buf, max - 1);
    return NGX_ERROR;
}


static ngx_int_t
ngx_http_kedge_json_port(ngx_http_kedge_json_t *j, json_t *value,
    in_port_t *port)
{
    ngx_uint_t  n;

    if (ngx_http_kedge_json_uint(j, value, 65535, &n) != NGX_OK) {
        return NGX_ERROR;
    }

    *port = (in_port_t) n;

    return NGX_OK;
}


/*
 * Fields read and checked but of no effect here: disable_conntracking,
 * autogenerated, an interceptor's prometheus (nginx has no conntrack;
 * the metrics are the module's own).
 */

static ngx_int_t
ngx_http_kedge_json_ignore(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    ngx_flag_t  flag;

    return ngx_http_kedge_json_bool(j, value, &flag);
}


static ngx_int_t
ngx_http_kedge_json_pool_grpc(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    j->protocol = NGX_HTTP_KEDGE_GRPC;

    return ngx_http_kedge_json_message(j, value,
                                       ngx_http_kedge_json_pool_protocol, j);
}


static ngx_int_t
ngx_http_kedge_json_pool_http(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    j->protocol = NGX_HTTP_KEDGE_HTTP;

    return ngx_http_kedge_json_message(j, value,
                                       ngx_http_kedge_json_pool_protocol, j);
}


static ngx_int_t
ngx_http_kedge_json_tls_configs(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    return ngx_http_kedge_json_array(j, value,
                                     ngx_http_kedge_json_tls_config, j);
}


static ngx_int_t
ngx_http_kedge_json_tls_config(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    return ngx_http_kedge_json_message(j, value,
                                       ngx_http_kedge_json_tls_config_fields,
                                       j);
}


/* a TlsServerConfig's name, ^[a-z_.]{2,64}$, that backends may name */

static ngx_int_t
ngx_http_kedge_json_tls_config_name(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    ngx_str_t   s, *name;
    ngx_uint_t  i;

    if (ngx_http_kedge_json_string(j, value, &s) != NGX_OK) {
        return NGX_ERROR;
    }

    for (i = 0; i < s.len; i++) {
        if (!((s.data[i] >= 'a' && s.data[i] <= 'z') || s.data[i] == '_'
              || s.data[i] == '.'))
        {
            break;
        }
    }

    if (s.len < 2 || s.len > 64 || i < s.len) {
        ngx_http_kedge_json_error(j, NGX_LOG_EMERG, NULL,
                                  "\"%V\" must match ^[a-z_.]{2,64}$", &s);
        return NGX_ERROR;
    }

    name = ngx_array_push(&j->tls_configs);
    if (name == NULL) {
        return NGX_ERROR;
    }

    *name = s;

    return NGX_OK;
}


static ngx_int_t
ngx_http_kedge_json_backends(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    return ngx_http_kedge_json_array(j, value, ngx_http_kedge_json_backend,
                                     j);
}


/* a backend of the pool, as kedge_backend NAME ... protocol=... makes it */

static ngx_int_t
ngx_http_kedge_json_backend(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    ngx_str_t                  name;
    ngx_uint_t                 protocol;
    ngx_http_kedge_backend_t  *backend;

    ngx_str_null(&name);

    backend = ngx_http_kedge_backend_add(j->cf, j->kmcf, &name);
    if (backend == NULL) {
        return NGX_ERROR;
    }

    backend->protocols = j->protocol;

    if (ngx_http_kedge_json_message(j, value,
                                    j->protocol == NGX_HTTP_KEDGE_GRPC
                                    ? ngx_http_kedge_json_grpc_backend
                                    : ngx_http_kedge_json_http_backend,
                                    backend)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (backend->name.len == 0) {
        ngx_http_kedge_json_error(j, NGX_LOG_EMERG, "name",
                                  "a backend needs a name");
        return NGX_ERROR;
    }

    if (backend->resolve == NULL && backend->k8s == NULL) {
        ngx_http_kedge_json_error(j, NGX_LOG_EMERG, NULL,
                                  "backend \"%V\" needs a resolver: "
                                  "\"srv\", \"k8s\" or \"host\"",
                                  &backend->name);
        return NGX_ERROR;
    }

    protocol = ngx_http_kedge_backend_done(j->cf, j->kmcf, backend);

    if (protocol == (ngx_uint_t) NGX_ERROR) {
        return NGX_ERROR;
    }

    if (protocol) {
        ngx_http_kedge_json_error(j, NGX_LOG_EMERG, "name",
                                  "duplicate %s backend \"%V\"",
                                  protocol == NGX_HTTP_KEDGE_HTTP
                                  ? "http" : "grpc", &backend->name);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_kedge_json_backend_name(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    ngx_http_kedge_backend_t *backend = data;

    if (ngx_http_kedge_json_string(j, value, &backend->name) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_kedge_backend_name_valid(&backend->name) != NGX_OK) {
        ngx_http_kedge_json_error(j, NGX_LOG_EMERG, NULL,
                                  "invalid backend name \"%V\", it must "
                                  "match ^[a-z_0-9.]{2,64}$",
                                  &backend->name);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* kedge's only policy, as the balancer's */

static ngx_int_t
ngx_http_kedge_json_balancer(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    ngx_uint_t  n;

    return ngx_http_kedge_json_enum(j, value, ngx_http_kedge_json_balancers,
                                    &n);
}


/* security present: TLS, verified unless insecure_skip_verify */

static ngx_int_t
ngx_http_kedge_json_security(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    ngx_http_kedge_backend_t *backend = data;

    backend->tls = NGX_HTTP_KEDGE_TLS_VERIFY;

    return ngx_http_kedge_json_message(j, value,
                                       ngx_http_kedge_json_security_fields,
                                       backend);
}


static ngx_int_t
ngx_http_kedge_json_insecure(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    ngx_http_kedge_backend_t *backend = data;

    ngx_flag_t  insecure;

    if (ngx_http_kedge_json_bool(j, value, &insecure) != NGX_OK) {
        return NGX_ERROR;
    }

    backend->tls = insecure ? NGX_HTTP_KEDGE_TLS_INSECURE
                            : NGX_HTTP_KEDGE_TLS_VERIFY;

    return NGX_OK;
}


/* the name of a tls_server_configs entry of the same file */

static ngx_int_t
ngx_http_kedge_json_config_name(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    ngx_str_t   s, *name;
    ngx_uint_t  i;

    if (ngx_http_kedge_json_string(j, value, &s) != NGX_OK) {
        return NGX_ERROR;
    }

    if (s.len == 0) {
        return NGX_OK;
    }

    name = j->tls_configs.elts;

    for (i = 0; i < j->tls_configs.nelts; i++) {
        if (name[i].len == s.len
            && ngx_strncmp(name[i].data, s.data, s.len) == 0)
        {
            return NGX_OK;
        }
    }

    ngx_http_kedge_json_error(j, NGX_LOG_EMERG, NULL,
                              "unknown tls_server_configs name \"%V\"", &s);
    return NGX_ERROR;
}


static ngx_int_t
ngx_http_kedge_json_interceptor(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    size_t   len, i;
    json_t  *elt;

    if (!json_is_array(value)) {
        ngx_http_kedge_json_error(j, NGX_LOG_EMERG, NULL,
                                  "an array is expected");
        return NGX_ERROR;
    }

    json_array_foreach(value, i, elt) {

        len = ngx_http_kedge_json_enter(j, NULL, i);

        if (ngx_http_kedge_json_message(j, elt,
                                        ngx_http_kedge_json_interceptor_fields,
                                        NULL)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        j->len = len;
        j->path[len] = '\0';
    }

    return NGX_OK;
}


/* the oneof "resolver": srv, k8s or host, one of them */

static ngx_int_t
ngx_http_kedge_json_resolver_one(ngx_http_kedge_json_t *j,
    ngx_http_kedge_backend_t *backend)
{
    if (backend->resolve || backend->k8s) {
        ngx_http_kedge_json_error(j, NGX_LOG_EMERG, NULL,
                                  "only one of \"srv\", \"k8s\" and "
                                  "\"host\" may be given");
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_kedge_json_srv(ngx_http_kedge_json_t *j, json_t *value, void *data)
{
    ngx_http_kedge_backend_t *backend = data;

    ngx_int_t                        rc;
    ngx_http_kedge_json_resolver_t   rs;

    if (ngx_http_kedge_json_resolver_one(j, backend) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_memzero(&rs, sizeof(ngx_http_kedge_json_resolver_t));

    if (ngx_http_kedge_json_message(j, value, ngx_http_kedge_json_srv_fields,
                                    &rs)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (rs.port > 65535) {
        ngx_http_kedge_json_error(j, NGX_LOG_EMERG, rs.port_key,
                                  "%ui is not a port", rs.port);
        return NGX_ERROR;
    }

    rc = ngx_http_kedge_backend_srv(j->cf, backend, &rs.dns_name,
                                    (in_port_t) rs.port);

    if (rc == NGX_DECLINED) {
        ngx_http_kedge_json_error(j, NGX_LOG_EMERG,
                                  rs.dns_name_key ? rs.dns_name_key
                                                  : "dns_name",
                                  "\"%V\" is not an SRV name, "
                                  "\"_SERVICE._PROTO.NAME\" is required",
                                  &rs.dns_name);
    }

    return rc == NGX_OK ? NGX_OK : NGX_ERROR;
}


static ngx_int_t
ngx_http_kedge_json_k8s(ngx_http_kedge_json_t *j, json_t *value, void *data)
{
    ngx_http_kedge_backend_t *backend = data;

    ngx_int_t                        rc;
    ngx_http_kedge_json_resolver_t   rs;

    if (ngx_http_kedge_json_resolver_one(j, backend) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_memzero(&rs, sizeof(ngx_http_kedge_json_resolver_t));

    if (ngx_http_kedge_json_message(j, value, ngx_http_kedge_json_k8s_fields,
                                    &rs)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_http_kedge_backend_k8s(j->cf, backend, &rs.dns_name);

    if (rc == NGX_DECLINED) {
        ngx_http_kedge_json_error(j, NGX_LOG_EMERG,
                                  rs.dns_name_key ? rs.dns_name_key
                                                  : "dns_port_name",
                                  "\"%V\" is not a Service, "
                                  "\"SERVICE.NAMESPACE[.SUFFIX]:PORT\" "
                                  "is required", &rs.dns_name);
    }

    return rc == NGX_OK ? NGX_OK : NGX_ERROR;
}


static ngx_int_t
ngx_http_kedge_json_host(ngx_http_kedge_json_t *j, json_t *value, void *data)
{
    ngx_http_kedge_backend_t *backend = data;

    ngx_str_t                        name;
    ngx_http_kedge_json_resolver_t   rs;

    if (ngx_http_kedge_json_resolver_one(j, backend) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_memzero(&rs, sizeof(ngx_http_kedge_json_resolver_t));

    if (ngx_http_kedge_json_message(j, value, ngx_http_kedge_json_host_fields,
                                    &rs)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    name = rs.dns_name;

    if (ngx_http_kedge_host_name(&name) != NGX_OK) {
        ngx_http_kedge_json_error(j, NGX_LOG_EMERG,
                                  rs.dns_name_key ? rs.dns_name_key
                                                  : "dns_name",
                                  "\"%V\" is not a DNS name", &rs.dns_name);
        return NGX_ERROR;
    }

    if (rs.port < 1 || rs.port > 65535) {
        ngx_http_kedge_json_error(j, NGX_LOG_EMERG,
                                  rs.port_key ? rs.port_key : "port",
                                  "a port from 1 to 65535 is required");
        return NGX_ERROR;
    }

    return ngx_http_kedge_backend_host(j->cf, backend, &rs.dns_name,
                                       (in_port_t) rs.port);
}


static ngx_int_t
ngx_http_kedge_json_resolver_name(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    ngx_http_kedge_json_resolver_t *rs = data;

    rs->dns_name_key = j->key;

    return ngx_http_kedge_json_string(j, value, &rs->dns_name);
}


static ngx_int_t
ngx_http_kedge_json_resolver_port(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    ngx_http_kedge_json_resolver_t *rs = data;

    rs->port_key = j->key;

    return ngx_http_kedge_json_uint(j, value, 0xffffffff, &rs->port);
}


static ngx_int_t
ngx_http_kedge_json_director_grpc(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    j->protocol = NGX_HTTP_KEDGE_GRPC;

    return ngx_http_kedge_json_message(j, value,
                                       ngx_http_kedge_json_director_protocol,
                                       j);
}


static ngx_int_t
ngx_http_kedge_json_director_http(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    j->protocol = NGX_HTTP_KEDGE_HTTP;

    return ngx_http_kedge_json_message(j, value,
                                       ngx_http_kedge_json_director_protocol,
                                       j);
}


static ngx_int_t
ngx_http_kedge_json_routes(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    return ngx_http_kedge_json_array(j, value, ngx_http_kedge_json_route, j);
}


/* a route, after those before it in nginx.conf and in the file */

static ngx_int_t
ngx_http_kedge_json_route(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    ngx_http_kedge_route_t  *route;

    route = ngx_http_kedge_route_add(j->cf, j->kmcf, j->protocol);
    if (route == NULL) {
        return NGX_ERROR;
    }

    /* an unknown backend is found once all is parsed: it names the path */

    route->file = j->file.data;
    route->line = 0;
    route->path.len = j->len;
    route->path.data = ngx_pnalloc(j->cf->pool, j->len);

    if (route->path.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(route->path.data, j->path, j->len);

    if (ngx_http_kedge_json_message(j, value,
                                    j->protocol == NGX_HTTP_KEDGE_GRPC
                                    ? ngx_http_kedge_json_grpc_route
                                    : ngx_http_kedge_json_http_route,
                                    route)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (route->backend_name.len == 0) {
        ngx_http_kedge_json_error(j, NGX_LOG_EMERG, "backend_name",
                                  "a route needs a backend");
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_kedge_json_backend_ref(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    ngx_http_kedge_route_t *route = data;

    if (ngx_http_kedge_json_string(j, value, &route->backend_name)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_kedge_backend_name_valid(&route->backend_name) != NGX_OK) {
        ngx_http_kedge_json_error(j, NGX_LOG_EMERG, NULL,
                                  "invalid backend name \"%V\", it must "
                                  "match ^[a-z_0-9.]{2,64}$",
                                  &route->backend_name);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_kedge_json_path_rules(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    return ngx_http_kedge_json_array(j, value,
                                     ngx_http_kedge_json_path_rule, data);
}


/*
 * As kedge: an empty rule is skipped, "*" is any path; otherwise a path
 * with an optional trailing "*".
 */

static ngx_int_t
ngx_http_kedge_json_path_rule(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    ngx_http_kedge_route_t *route = data;

    ngx_int_t  rc;
    ngx_str_t  s;

    if (ngx_http_kedge_json_string(j, value, &s) != NGX_OK) {
        return NGX_ERROR;
    }

    if (s.len == 0) {
        return NGX_OK;
    }

    if (s.len == 1 && s.data[0] == '*') {
        ngx_str_set(&s, "/*");
    }

    rc = ngx_http_kedge_route_glob(route, &s);

    if (rc == NGX_DECLINED) {
        ngx_http_kedge_json_error(j, NGX_LOG_EMERG, NULL,
                                  "invalid path rule \"%V\", it must start "
                                  "with \"/\" and may end with \"*\"", &s);
    }

    return rc == NGX_OK ? NGX_OK : NGX_ERROR;
}


static ngx_int_t
ngx_http_kedge_json_service(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    ngx_http_kedge_route_t *route = data;

    ngx_int_t  rc;
    ngx_str_t  s;

    if (ngx_http_kedge_json_string(j, value, &s) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = ngx_http_kedge_route_glob(route, &s);

    if (rc == NGX_DECLINED) {
        ngx_http_kedge_json_error(j, NGX_LOG_EMERG, NULL,
                                  "invalid service matcher \"%V\", it must "
                                  "be \"*\", a name, or a prefix ending "
                                  "with \"*\"", &s);
    }

    return rc == NGX_OK ? NGX_OK : NGX_ERROR;
}


/* host_matcher, authority_host_matcher: empty is any host, as kedge */

static ngx_int_t
ngx_http_kedge_json_host_matcher(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    ngx_http_kedge_route_t *route = data;

    ngx_str_t  s, host;

    if (ngx_http_kedge_json_string(j, value, &s) != NGX_OK) {
        return NGX_ERROR;
    }

    if (s.len == 0) {
        return NGX_OK;
    }

    host = s;

    if (ngx_http_kedge_host_name(&host) != NGX_OK) {
        ngx_http_kedge_json_error(j, NGX_LOG_EMERG, NULL,
                                  "invalid host \"%V\", a host name without "
                                  "port is required", &s);
        return NGX_ERROR;
    }

    route->host = host;

    return NGX_OK;
}


static ngx_int_t
ngx_http_kedge_json_port_matcher(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    ngx_http_kedge_route_t *route = data;

    return ngx_http_kedge_json_port(j, value, &route->port);
}


/* header_matcher, metadata_matcher: map<string, string> */

static ngx_int_t
ngx_http_kedge_json_headers(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    ngx_http_kedge_route_t *route = data;

    size_t       len, klen;
    json_t      *v;
    ngx_int_t    rc;
    ngx_str_t    name, val;
    const char  *key;

    if (!json_is_object(value)) {
        ngx_http_kedge_json_error(j, NGX_LOG_EMERG, NULL,
                                  "an object is expected");
        return NGX_ERROR;
    }

    json_object_foreach(value, key, v) {

        len = ngx_http_kedge_json_enter(j, key, -1);

        klen = ngx_strlen(key);

        name.data = ngx_pnalloc(j->cf->pool, klen + 1);
        if (name.data == NULL) {
            return NGX_ERROR;
        }

        name.len = klen;
        ngx_memcpy(name.data, key, klen + 1);

        if (ngx_http_kedge_json_string(j, v, &val) != NGX_OK) {
            return NGX_ERROR;
        }

        rc = ngx_http_kedge_route_header(route, &name, &val);

        if (rc == NGX_DECLINED) {
            ngx_http_kedge_json_error(j, NGX_LOG_EMERG, NULL,
                                      "\"%s\" is not a header name", key);
        }

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }

        j->len = len;
        j->path[len] = '\0';
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_kedge_json_proxy_mode(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    ngx_http_kedge_route_t *route = data;

    ngx_uint_t  n;

    if (ngx_http_kedge_json_enum(j, value, ngx_http_kedge_json_proxy_modes,
                                 &n)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the same values: ANY, REVERSE_PROXY, FORWARD_PROXY */

    route->proxy_mode = n;

    return NGX_OK;
}


static ngx_int_t
ngx_http_kedge_json_adhoc_rules(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    return ngx_http_kedge_json_array(j, value, ngx_http_kedge_json_adhoc, j);
}


/*
 * An adhoc rule: dialed in plain text, as kedge does, within the address
 * ranges of kedge_config's adhoc_allow= and adhoc_deny=.
 */

static ngx_int_t
ngx_http_kedge_json_adhoc(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    ngx_http_kedge_adhoc_t  *rule;

    rule = ngx_http_kedge_adhoc_add(j->cf, j->kmcf, j->protocol);
    if (rule == NULL) {
        return NGX_ERROR;
    }

    rule->file = j->file.data;
    rule->line = 0;
    rule->allow = j->allow;
    rule->deny = j->deny;

    /* no port message yet: kedge's validator requires one */
    rule->default_port = 0;

    if (ngx_http_kedge_json_message(j, value, ngx_http_kedge_json_adhoc_fields,
                                    rule)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (rule->matcher.len == 0) {
        ngx_http_kedge_json_error(j, NGX_LOG_EMERG, "dns_name_matcher",
                                  "an adhoc rule needs a name matcher");
        return NGX_ERROR;
    }

    if (rule->default_port == 0) {
        ngx_http_kedge_json_error(j, NGX_LOG_EMERG, "port",
                                  "an adhoc rule needs a port message");
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_kedge_json_adhoc_matcher(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    ngx_http_kedge_adhoc_t *rule = data;

    ngx_str_t  s, matcher;

    if (ngx_http_kedge_json_string(j, value, &s) != NGX_OK) {
        return NGX_ERROR;
    }

    matcher = s;

    if (s.len == 0 || ngx_http_kedge_adhoc_matcher(rule, &matcher) != NGX_OK)
    {
        ngx_http_kedge_json_error(j, NGX_LOG_EMERG, NULL,
                                  "invalid name matcher \"%V\", it must be "
                                  "a name, \"*.\" and a name (whole labels "
                                  "only), or \"*\"", &s);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_kedge_json_adhoc_port(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    ngx_http_kedge_adhoc_t *rule = data;

    /* "default" unset or 0: 80 */

    rule->default_port = 80;

    if (ngx_http_kedge_json_message(j, value, ngx_http_kedge_json_port_fields,
                                    rule)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* kedge refuses every request of such a rule with 400: so do we */

    if (rule->ports.nelts == 0) {
        ngx_http_kedge_json_error(j, NGX_LOG_WARN, NULL,
                                  "the adhoc rule \"%V\" allows no port: "
                                  "every request it matches is refused",
                                  &rule->matcher);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_kedge_json_port_default(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    ngx_http_kedge_adhoc_t *rule = data;

    in_port_t  port;

    if (ngx_http_kedge_json_port(j, value, &port) != NGX_OK) {
        return NGX_ERROR;
    }

    rule->default_port = port ? port : 80;

    return NGX_OK;
}


static ngx_int_t
ngx_http_kedge_json_port_allowed(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    return ngx_http_kedge_json_array(j, value,
                                     ngx_http_kedge_json_allowed_port, data);
}


static ngx_int_t
ngx_http_kedge_json_allowed_port(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    ngx_http_kedge_adhoc_t *rule = data;

    in_port_t  port;

    if (ngx_http_kedge_json_port(j, value, &port) != NGX_OK) {
        return NGX_ERROR;
    }

    if (port == 0) {
        ngx_http_kedge_json_error(j, NGX_LOG_EMERG, NULL,
                                  "0 is not a port");
        return NGX_ERROR;
    }

    return ngx_http_kedge_adhoc_port_range(rule, port, port);
}


static ngx_int_t
ngx_http_kedge_json_port_ranges(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    return ngx_http_kedge_json_array(j, value,
                                     ngx_http_kedge_json_port_range, data);
}


/* from..to, inclusive; "from": 0 (or unset) is port 1 */

static ngx_int_t
ngx_http_kedge_json_port_range(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    ngx_http_kedge_adhoc_t *rule = data;

    ngx_int_t                    rc;
    ngx_http_kedge_json_range_t  range;

    range.from = 0;
    range.to = 0;

    if (ngx_http_kedge_json_message(j, value,
                                    ngx_http_kedge_json_range_fields, &range)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_http_kedge_adhoc_port_range(rule,
                                         range.from ? range.from : 1,
                                         range.to);

    if (rc == NGX_DECLINED) {
        ngx_http_kedge_json_error(j, NGX_LOG_EMERG, NULL,
                                  "invalid range %ui..%ui, \"from\" must "
                                  "not be above \"to\", and \"to\" must be "
                                  "a port", range.from, range.to);
    }

    return rc == NGX_OK ? NGX_OK : NGX_ERROR;
}


static ngx_int_t
ngx_http_kedge_json_range_from(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    ngx_http_kedge_json_range_t *range = data;

    return ngx_http_kedge_json_uint(j, value, 65535, &range->from);
}


static ngx_int_t
ngx_http_kedge_json_range_to(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    ngx_http_kedge_json_range_t *range = data;

    return ngx_http_kedge_json_uint(j, value, 65535, &range->to);
}


static ngx_int_t
ngx_http_kedge_json_replace(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    ngx_http_kedge_adhoc_t *rule = data;

    if (ngx_http_kedge_json_message(j, value,
                                    ngx_http_kedge_json_replace_fields, rule)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_kedge_adhoc_replace_valid(rule) != NGX_OK) {
        ngx_http_kedge_json_error(j, NGX_LOG_EMERG, NULL,
                                  "invalid replacement \"%V\" -> \"%V\": "
                                  "a pattern is required, and both must be "
                                  "parts of DNS names", &rule->pattern,
                                  &rule->substitution);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_kedge_json_pattern(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    ngx_http_kedge_adhoc_t *rule = data;

    return ngx_http_kedge_json_string(j, value, &rule->pattern);
}


static ngx_int_t
ngx_http_kedge_json_substitution(ngx_http_kedge_json_t *j, json_t *value,
    void *data)
{
    ngx_http_kedge_adhoc_t *rule = data;

    return ngx_http_kedge_json_string(j, value, &rule->substitution);
}
