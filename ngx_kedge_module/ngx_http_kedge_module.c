
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 *
 * The module definition: directives, configuration structures and the
 * hooks that tie the router, kedge_pass and the balancer together.
 */


#include "ngx_http_kedge_module.h"


static ngx_int_t ngx_http_kedge_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_kedge_postconfiguration(ngx_conf_t *cf);
static void *ngx_http_kedge_create_main_conf(ngx_conf_t *cf);
static ngx_int_t ngx_http_kedge_init_process(ngx_cycle_t *cycle);
static void ngx_http_kedge_exit_process(ngx_cycle_t *cycle);
static void *ngx_http_kedge_create_srv_conf(ngx_conf_t *cf);
static void *ngx_http_kedge_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_kedge_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);


ngx_str_t  ngx_http_kedge_error_types[] = {
    ngx_null_string,
    ngx_string("unauthorized"),
    ngx_string("no-route"),
    ngx_string("unknown-route-error"),
    ngx_string("no-backend"),
    ngx_string("backend-transport-closed"),
    ngx_string("no-connection-to-all-resolved-addresses"),
    ngx_string("no-resolution-available"),
    ngx_string("transport-unknown-error"),
    ngx_string("resolver-watcher-irrecoverable")
};


static ngx_conf_enum_t  ngx_http_kedge_log_levels[] = {
    { ngx_string("info"), NGX_LOG_INFO },
    { ngx_string("notice"), NGX_LOG_NOTICE },
    { ngx_string("warn"), NGX_LOG_WARN },
    { ngx_string("error"), NGX_LOG_ERR },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_kedge_commands[] = {

    { ngx_string("kedge_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_kedge_zone_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kedge_kubernetes"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_ANY,
      ngx_http_kedge_kubernetes_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kedge_backend"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_kedge_backend_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kedge_http_route"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_kedge_http_route_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kedge_grpc_route"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_kedge_grpc_route_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kedge_discovery"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_kedge_discovery_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kedge_http_adhoc"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_kedge_http_adhoc_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kedge_grpc_adhoc"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_kedge_grpc_adhoc_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kedge_config"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_kedge_config_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kedge_pass"),
      NGX_HTTP_LOC_CONF|NGX_CONF_ANY,
      ngx_http_kedge_pass_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kedge_health"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kedge_health_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kedge_ready"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kedge_health_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kedge_version"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kedge_health_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kedge_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kedge_metrics_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kedge_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kedge_status_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kedge_request_id"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kedge_loc_conf_t, request_id),
      NULL },

    { ngx_string("kedge_info_logs"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kedge_loc_conf_t, info_logs),
      NULL },

    { ngx_string("kedge_auth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_kedge_auth_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kedge_oidc_issuer"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_kedge_oidc_issuer_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kedge_oidc"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_kedge_oidc_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kedge_bearer_token"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_kedge_bearer_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kedge_client_cert"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_kedge_client_cert_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kedge_auth_log"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kedge_loc_conf_t, auth_log),
      &ngx_http_kedge_log_levels },

    { ngx_string("kedge_balancer"),
      NGX_HTTP_UPS_CONF|NGX_CONF_ANY,
      ngx_http_kedge_balancer_directive,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_kedge_module_ctx = {
    ngx_http_kedge_preconfiguration,       /* preconfiguration */
    ngx_http_kedge_postconfiguration,      /* postconfiguration */

    ngx_http_kedge_create_main_conf,       /* create main configuration */
    NULL,                                  /* init main configuration */

    ngx_http_kedge_create_srv_conf,        /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_kedge_create_loc_conf,        /* create location configuration */
    ngx_http_kedge_merge_loc_conf          /* merge location configuration */
};


ngx_module_t  ngx_http_kedge_module = {
    NGX_MODULE_V1,
    &ngx_http_kedge_module_ctx,            /* module context */
    ngx_http_kedge_commands,               /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_kedge_init_process,           /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_kedge_exit_process,           /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_kedge_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_kedge_main_conf_t  *kmcf;

    kmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kedge_main_conf_t));
    if (kmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&kmcf->backends, cf->pool, 8,
                       sizeof(ngx_http_kedge_backend_t))
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&kmcf->passes, cf->pool, 2,
                       sizeof(ngx_http_kedge_pass_ref_t))
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&kmcf->http.routes, cf->pool, 8,
                       sizeof(ngx_http_kedge_route_t))
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&kmcf->grpc.routes, cf->pool, 8,
                       sizeof(ngx_http_kedge_route_t))
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&kmcf->issuers, cf->pool, 1,
                       sizeof(ngx_kedge_oidc_issuer_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return kmcf;
}


/* used by upstream{} blocks only: whether kedge_balancer is there */

static void *
ngx_http_kedge_create_srv_conf(ngx_conf_t *cf)
{
    return ngx_pcalloc(cf->pool, sizeof(ngx_http_kedge_srv_conf_t));
}


static void *
ngx_http_kedge_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_kedge_loc_conf_t  *klcf;

    /*
     * set by ngx_pcalloc():
     *
     *     klcf->pass = 0;
     *     klcf->flavours = { NULL };
     */

    klcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kedge_loc_conf_t));
    if (klcf == NULL) {
        return NULL;
    }

    klcf->request_id = NGX_CONF_UNSET;
    klcf->info_logs = NGX_CONF_UNSET;

    ngx_http_kedge_auth_create_conf(klcf);

    return klcf;
}


static char *
ngx_http_kedge_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_kedge_loc_conf_t *prev = parent;
    ngx_http_kedge_loc_conf_t *conf = child;

    char  *rv;

    ngx_conf_merge_value(conf->request_id, prev->request_id, 1);
    ngx_conf_merge_value(conf->info_logs, prev->info_logs, 1);

    rv = ngx_http_kedge_pass_merge(cf, parent, child);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    return ngx_http_kedge_auth_merge(cf, parent, child);
}


static ngx_int_t
ngx_http_kedge_preconfiguration(ngx_conf_t *cf)
{
    if (ngx_http_kedge_add_variables(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_kedge_trace_add_variables(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_kedge_auth_add_variables(cf);
}


static ngx_int_t
ngx_http_kedge_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_kedge_main_conf_t  *kmcf;

    kmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_kedge_module);

    if (ngx_http_kedge_discovery_init(cf, kmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_kedge_backends_init(cf, kmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_kedge_router_init(cf, kmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_kedge_adhoc_init(cf, kmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_kedge_auth_init(cf, kmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_kedge_metrics_init(cf, kmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_kedge_trace_init(cf, kmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_kedge_pass_init(cf);
}


/*
 * The fetcher runs in exactly one process: worker 0 (the cache manager
 * is numbered 0 too, hence the process type), or nginx itself without a
 * master.
 */

static ngx_int_t
ngx_http_kedge_init_process(ngx_cycle_t *cycle)
{
    ngx_http_kedge_main_conf_t  *kmcf;

    if ((ngx_process != NGX_PROCESS_WORKER
         && ngx_process != NGX_PROCESS_SINGLE)
        || ngx_worker != 0)
    {
        return NGX_OK;
    }

    kmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_kedge_module);

    if (kmcf == NULL) {
        return NGX_OK;
    }

    if (ngx_http_kedge_backends_start(cycle, kmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_kedge_discovery_start(cycle, kmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_kedge_auth_start(cycle, kmcf);
}


static void
ngx_http_kedge_exit_process(ngx_cycle_t *cycle)
{
    ngx_kedge_oidc_exit_process();
}


/* a null-terminated table of variables, as nginx's own modules add them */

ngx_int_t
ngx_http_kedge_register_variables(ngx_conf_t *cf, ngx_http_variable_t *vars)
{
    ngx_http_variable_t  *var, *v;

    for (v = vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}
