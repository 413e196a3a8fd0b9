
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
