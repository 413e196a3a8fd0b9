
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 *
 * The Kubernetes protobuf wire format (apimachinery's
 * pkg/runtime/serializer/protobuf):
 *
 *   - an object, a list: the 4 bytes "k8s\0", then a runtime.Unknown
 *     whose "raw" holds the object's own message;
 *   - a watch stream: frames of a 4-byte big-endian length and a
 *     WatchEvent, not enveloped; the event's object.raw is an enveloped
 *     object as above.
 *
 * Everything here is hostile input: lengths are checked before use,
 * protobuf-c refuses malformed messages, addresses must be IP literals.
 */


#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "ngx_kedge_k8s.h"


static const uint8_t  ngx_kedge_k8s_magic[4] = { 'k', '8', 's', 0 };


ngx_kedge_k8s_unknown_t *
ngx_kedge_k8s_unwrap(const uint8_t *data, size_t len,
    ProtobufCAllocator *allocator, const char **err)
{
    ngx_kedge_k8s_unknown_t  *unknown;

    if (len < sizeof(ngx_kedge_k8s_magic)
        || memcmp(data, ngx_kedge_k8s_magic, sizeof(ngx_kedge_k8s_magic))
           != 0)
    {
        *err = "no \"k8s\\0\" protobuf envelope";
        return NULL;
    }

    unknown = k8s__io__apimachinery__pkg__runtime__unknown__unpack(
                  allocator, len - sizeof(ngx_kedge_k8s_magic),
                  data + sizeof(ngx_kedge_k8s_magic));

    if (unknown == NULL) {
        *err = "malformed runtime.Unknown";
        return NULL;
    }

    if (!unknown->has_raw) {
        k8s__io__apimachinery__pkg__runtime__unknown__free_unpacked(unknown,
                                                                   allocator);
        *err = "runtime.Unknown without raw object";
        return NULL;
    }

    if (unknown->contentencoding && unknown->contentencoding[0] != '\0') {
        k8s__io__apimachinery__pkg__runtime__unknown__free_unpacked(unknown,
                                                                   allocator);
        *err = "unsupported content encoding";
        return NULL;
    }

    return unknown;
}


/*
 * The next frame of a watch stream: NGX_KEDGE_K8S_AGAIN until it is all
 * there; the event is the frame_len bytes after the 4-byte length.
 */

int
ngx_kedge_k8s_frame(const uint8_t *data, size_t len, size_t max,
    size_t *frame_len, const char **err)
{
    uint32_t  n;

    if (len < 4) {
        return NGX_KEDGE_K8S_AGAIN;
    }

    n = ((uint32_t) data[0] << 24) | ((uint32_t) data[1] << 16)
        | ((uint32_t) data[2] << 8) | (uint32_t) data[3];

    if (n > max) {
        *err = "watch frame larger than allowed";
        return NGX_KEDGE_K8S_ERROR;
    }

    if (len - 4 < n) {
        return NGX_KEDGE_K8S_AGAIN;
    }

    *frame_len = n;

    return NGX_KEDGE_K8S_OK;
}


/*
 * The endpoints of one slice that may receive new requests: ready ones
 * (an unset "ready" means ready, the API's rule), on the port picked by
 * name or number.  Serving-but-terminating endpoints are not ready, so
 * they finish what they have and get nothing new.  Slices of FQDN
 * addresses are skipped: kedge dials addresses.
 */

int
ngx_kedge_k8s_slice_endpoints(const ngx_kedge_k8s_slice_t *slice,
    const char *port_name, uint16_t port_number,
    ngx_kedge_k8s_endpoint_t *out, size_t max, size_t *n, const char **err)
{
    int                                          family;
    size_t                                       i, j;
    uint8_t                                      buf[16];
    int32_t                                      port;
    const char                                  *a;
    K8s__Io__Api__Discovery__V1__Endpoint       *ep;
    K8s__Io__Api__Discovery__V1__EndpointPort   *p;

    *n = 0;

    if (slice->addresstype == NULL) {
        *err = "EndpointSlice without addressType";
        return NGX_KEDGE_K8S_ERROR;
    }

    if (strcmp(slice->addresstype, "IPv4") == 0) {
        family = AF_INET;

    } else if (strcmp(slice->addresstype, "IPv6") == 0) {
        family = AF_INET6;

    } else {
        return NGX_KEDGE_K8S_OK;
    }

    port = port_number;

    if (port_name) {
        port = 0;

        for (i = 0; i < slice->n_ports; i++) {
            p = slice->ports[i];

            if (p->name && strcmp(p->name, port_name) == 0 && p->has_port) {
                port = p->port;
                break;
            }
        }
    }

    if (port < 1 || port > 65535) {
        /* this slice does not carry the port: nothing to dial here */
        return NGX_KEDGE_K8S_OK;
    }

    for (i = 0; i < slice->n_endpoints; i++) {
        ep = slice->endpoints[i];

        if (ep->conditions && ep->conditions->has_ready
            && !ep->conditions->ready)
        {
            continue;
        }

        for (j = 0; j < ep->n_addresses; j++) {
            a = ep->addresses[j];

            if (strlen(a) >= NGX_KEDGE_K8S_ADDR_LEN
                || inet_pton(family, a, buf) != 1)
            {
                *err = "EndpointSlice with an invalid address";
                return NGX_KEDGE_K8S_ERROR;
            }

            if (*n == max) {
                *err = "too many endpoints";
                return NGX_KEDGE_K8S_ERROR;
            }

            strcpy(out[*n].addr, a);
            out[*n].family = family;
            out[*n].port = (uint16_t) port;
            (*n)++;
        }
    }

    return NGX_KEDGE_K8S_OK;
}


/*
 * kedge's dynamic routing discovery (its pkg/discovery): what a Service
 * labelled "<prefix>kedge-exposed: true" exposes.  For every port named
 * http, grpc, httptls or grpctls, or one of these and "-anything":
 *
 *   - a backend "<service>_<namespace>_<target port>", dashes made
 *     underscores (kedge's names are ^[a-z_0-9.]{2,64}$), the target port
 *     a name or a number, the Service port's own when unset;
 *   - a route on the host "<service>.<namespace>.svc.<domain suffix>",
 *     or the "<prefix>host-matcher" annotation, on the Service port; gRPC
 *     routes take the "<prefix>service-name-matcher" annotation as their
 *     service glob (default: any).
 *
 * Other ports are ignored, as in kedge.  What cannot be used is refused
 * with a reason: a Service as a whole (its name, namespace or
 * annotations), or a port (counted and the first one named).
 */


static int ngx_kedge_k8s_dns_label(const char *s);
static int ngx_kedge_k8s_glob_valid(const char *s);
static const char *ngx_kedge_k8s_label(
    const K8s__Io__Apimachinery__Pkg__Apis__Meta__V1__ObjectMeta *meta,
    const char *prefix, const char *name);
static const char *ngx_kedge_k8s_annotation(
    const K8s__Io__Apimachinery__Pkg__Apis__Meta__V1__ObjectMeta *meta,
    const char *prefix, const char *name);
static const char *ngx_kedge_k8s_expose_port(
    const K8s__Io__Api__Core__V1__ServicePort *sp,
    const ngx_kedge_k8s_exposed_t *out, ngx_kedge_k8s_exposed_port_t *port);


/* [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63: Services, namespaces */

static int
ngx_kedge_k8s_dns_label(const char *s)
{
    size_t  i, len;

    len = strlen(s);

    if (len == 0 || len > NGX_KEDGE_K8S_LABEL_LEN
        || s[0] == '-' || s[len - 1] == '-')
    {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')
              || s[i] == '-'))
        {
            return 0;
        }
    }

    return 1;
}


/*
 * A label key prefix: empty, a DNS subdomain and "/" ("kedge.com/"), or
 * a start of the key's name ("kedge-"): the keys it makes, up to
 * "<prefix>service-name-matcher", must be valid label keys.
 */

int
ngx_kedge_k8s_label_prefix_valid(const char *prefix)
{
    size_t       i, len;
    const char  *slash;

    len = strlen(prefix);
    slash = strchr(prefix, '/');

    if (slash) {
        if (slash != prefix + len - 1 || len == 1
            || len - 1 > NGX_KEDGE_K8S_PREFIX_LEN
            || prefix[0] == '.' || prefix[len - 2] == '.'
            || prefix[0] == '-' || prefix[len - 2] == '-')
        {
            return 0;
        }

        for (i = 0; i < len - 1; i++) {
            if (!((prefix[i] >= 'a' && prefix[i] <= 'z')
                  || (prefix[i] >= '0' && prefix[i] <= '9')
                  || prefix[i] == '-' || prefix[i] == '.'))
            {
                return 0;
            }
        }

        return 1;
    }

    if (len + sizeof("service-name-matcher") - 1 > 63
        || (len && !((prefix[0] >= 'a' && prefix[0] <= 'z')
                     || (prefix[0] >= 'A' && prefix[0] <= 'Z')
                     || (prefix[0] >= '0' && prefix[0] <= '9'))))
    {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((prefix[i] >= 'a' && prefix[i] <= 'z')
              || (prefix[i] >= 'A' && prefix[i] <= 'Z')
              || (prefix[i] >= '0' && prefix[i] <= '9')
              || prefix[i] == '-' || prefix[i] == '_' || prefix[i] == '.'))
        {
            return 0;
        }
    }

    return 1;
}


/* a route's host, as kedge_http_route takes it: lower case, no port */

int
ngx_kedge_k8s_host_valid(const char *host)
{
    size_t  i, len;

    len = strlen(host);

    if (len == 0 || len > NGX_KEDGE_K8S_HOST_LEN
        || host[0] == '.' || host[len - 1] == '.')
    {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((host[i] >= 'a' && host[i] <= 'z')
              || (host[i] >= '0' && host[i] <= '9')
              || host[i] == '.' || host[i] == '-' || host[i] == '_'))
        {
            return 0;
        }
    }

    return 1;
}


/* a service glob, as kedge_grpc_route takes it: "*" only at the end */

static int
ngx_kedge_k8s_glob_valid(const char *s)
{
    size_t  i, len;

    len = strlen(s);

    if (len > NGX_KEDGE_K8S_HOST_LEN || (len && s[0] == '/')) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (s[i] <= ' ' || s[i] >= 0x7f || (s[i] == '*' && i != len - 1)) {
            return 0;
        }
    }

    return 1;
}


/* a map is repeated entries on the wire: the last of a key wins */

static const char *
ngx_kedge_k8s_label(
    const K8s__Io__Apimachinery__Pkg__Apis__Meta__V1__ObjectMeta *meta,
    const char *prefix, const char *name)
{
    size_t       i, len;
    const char  *value;

    len = strlen(prefix);
    value = NULL;

    for (i = 0; i < meta->n_labels; i++) {
        if (meta->labels[i]->key && meta->labels[i]->value
            && strncmp(meta->labels[i]->key, prefix, len) == 0
            && strcmp(meta->labels[i]->key + len, name) == 0)
        {
            value = meta->labels[i]->value;
        }
    }

    return value;
}


static const char *
ngx_kedge_k8s_annotation(
    const K8s__Io__Apimachinery__Pkg__Apis__Meta__V1__ObjectMeta *meta,
    const char *prefix, const char *name)
{
    size_t       i, len;
    const char  *value;

    len = strlen(prefix);
    value = NULL;

    for (i = 0; i < meta->n_annotations; i++) {
        if (meta->annotations[i]->key && meta->annotations[i]->value
            && strncmp(meta->annotations[i]->key, prefix, len) == 0
            && strcmp(meta->annotations[i]->key + len, name) == 0)
        {
            value = meta->annotations[i]->value;
        }
    }

    return value;
}


int
ngx_kedge_k8s_service_expose(const ngx_kedge_k8s_service_t *svc,
    const char *prefix, const char *domain_suffix,
    ngx_kedge_k8s_exposed_t *out, ngx_kedge_k8s_exposed_port_t *ports,
    size_t max, const char **err)
{
    int                                                            n;
    size_t                                                         i;
    const char                                                    *value;
    const char                                                    *why;
    ngx_kedge_k8s_exposed_port_t                                   port;
    const K8s__Io__Api__Core__V1__ServicePort                     *sp;
    const K8s__Io__Apimachinery__Pkg__Apis__Meta__V1__ObjectMeta  *meta;

    memset(out, 0, sizeof(ngx_kedge_k8s_exposed_t));
    out->ports = ports;

    meta = svc->metadata;

    if (meta == NULL) {
        *err = "a Service without metadata";
        return NGX_KEDGE_K8S_ERROR;
    }

    value = ngx_kedge_k8s_label(meta, prefix, "kedge-exposed");

    if (value == NULL || strcmp(value, "true") != 0) {
        return NGX_KEDGE_K8S_DECLINED;
    }

    /* both go into URLs and names: DNS labels, as Kubernetes makes them */

    if (meta->name == NULL || meta->namespace_ == NULL
        || !ngx_kedge_k8s_dns_label(meta->name)
        || !ngx_kedge_k8s_dns_label(meta->namespace_))
    {
        *err = "invalid name or namespace";
        return NGX_KEDGE_K8S_ERROR;
    }

    strcpy(out->name, meta->name);
    strcpy(out->namespace, meta->namespace_);

    value = ngx_kedge_k8s_annotation(meta, prefix, "host-matcher");

    if (value && value[0] != '\0') {
        if (strlen(value) > NGX_KEDGE_K8S_HOST_LEN) {
            *err = "invalid host-matcher annotation";
            return NGX_KEDGE_K8S_ERROR;
        }

        for (i = 0; value[i]; i++) {
            out->host[i] = (value[i] >= 'A' && value[i] <= 'Z')
                           ? (char) (value[i] | 0x20) : value[i];
        }

        out->host[i] = '\0';

        if (!ngx_kedge_k8s_host_valid(out->host)) {
            *err = "invalid host-matcher annotation";
            return NGX_KEDGE_K8S_ERROR;
        }

    } else {
        n = snprintf(out->host, sizeof(out->host), "%s.%s.svc.%s",
                     out->name, out->namespace, domain_suffix);

        if (n < 0 || (size_t) n >= sizeof(out->host)
            || !ngx_kedge_k8s_host_valid(out->host))
        {
            *err = "the host it makes is longer than 253";
            return NGX_KEDGE_K8S_ERROR;
        }
    }

    value = ngx_kedge_k8s_annotation(meta, prefix, "service-name-matcher");

    if (value && !(value[0] == '*' && value[1] == '\0')) {
        if (!ngx_kedge_k8s_glob_valid(value)) {
            *err = "invalid service-name-matcher annotation";
            return NGX_KEDGE_K8S_ERROR;
        }

        strcpy(out->service, value);
    }

    for (i = 0; svc->spec && i < svc->spec->n_ports; i++) {
        sp = svc->spec->ports[i];

        why = ngx_kedge_k8s_expose_port(sp, out, &port);

        if (why == NULL && out->nports == max) {
            why = "more kedge ports than allowed";
        }

        if (why == NULL) {
            ports[out->nports++] = port;
            continue;
        }

        if (why[0] == '\0') {
            /* not a port of kedge's names: ignored, as kedge does */
            continue;
        }

        if (out->skipped++ == 0) {
            out->skipped_reason = why;

            if (sp->name && strlen(sp->name) <= NGX_KEDGE_K8S_PORT_LEN) {
                strcpy(out->skipped_port, sp->name);
            }
        }
    }

    return NGX_KEDGE_K8S_OK;
}


/* NULL: exposed; "": not a port of kedge's; else why it is left out */

static const char *
ngx_kedge_k8s_expose_port(const K8s__Io__Api__Core__V1__ServicePort *sp,
    const ngx_kedge_k8s_exposed_t *out, ngx_kedge_k8s_exposed_port_t *port)
{
    int          n;
    char        *p, target[NGX_KEDGE_K8S_PORT_LEN + 1];
    size_t       i, len;
    const char  *name, *tls;

    name = sp->name ? sp->name : "";

    if (strcmp(name, "http") == 0 || strncmp(name, "http-", 5) == 0) {
        port->protocol = NGX_KEDGE_K8S_HTTP;
        tls = NULL;

    } else if (strcmp(name, "grpc") == 0 || strncmp(name, "grpc-", 5) == 0) {
        port->protocol = NGX_KEDGE_K8S_GRPC;
        tls = NULL;

    } else if (strcmp(name, "httptls") == 0
               || strncmp(name, "httptls-", 8) == 0)
    {
        port->protocol = NGX_KEDGE_K8S_HTTP;
        tls = name;

    } else if (strcmp(name, "grpctls") == 0
               || strncmp(name, "grpctls-", 8) == 0)
    {
        port->protocol = NGX_KEDGE_K8S_GRPC;
        tls = name;

    } else {
        return "";
    }

    port->tls = (tls != NULL);

    len = strlen(name);

    if (len > NGX_KEDGE_K8S_PORT_LEN || name[len - 1] == '-') {
        return "invalid port name";
    }

    for (i = 0; i < len; i++) {
        if (!((name[i] >= 'a' && name[i] <= 'z')
              || (name[i] >= '0' && name[i] <= '9') || name[i] == '-'))
        {
            return "invalid port name";
        }
    }

    strcpy(port->name, name);

    if (sp->protocol && strcmp(sp->protocol, "TCP") != 0) {
        return "not a TCP port";
    }

    if (!sp->has_port || sp->port < 1 || sp->port > 65535) {
        return "invalid port number";
    }

    port->port = (uint16_t) sp->port;

    /* the target port: a name (IntOrString type 1), else a number */

    if (sp->targetport && sp->targetport->has_type
        && sp->targetport->type == 1)
    {
        if (sp->targetport->strval == NULL
            || !ngx_kedge_k8s_dns_label(sp->targetport->strval))
        {
            return "invalid targetPort";
        }

        strcpy(target, sp->targetport->strval);

    } else if (sp->targetport && sp->targetport->has_intval
               && sp->targetport->intval != 0)
    {
        if (sp->targetport->intval < 1 || sp->targetport->intval > 65535) {
            return "invalid targetPort";
        }

        snprintf(target, sizeof(target), "%d", (int) sp->targetport->intval);

    } else {
        snprintf(target, sizeof(target), "%d", (int) sp->port);
    }

    n = snprintf(port->backend, sizeof(port->backend), "%s_%s_%s",
                 out->name, out->namespace, target);

    if (n < 0 || (size_t) n >= sizeof(port->backend)) {
        return "the backend name it makes is longer than 64";
    }

    for (p = port->backend; *p; p++) {
        if (*p == '-') {
            *p = '_';
        }
    }

    return NULL;
}
