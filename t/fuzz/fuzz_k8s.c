
/*
 * libFuzzer target for ngx_kedge_module/ngx_kedge_k8s.c: the calls that
 * ngx_kedge_k8s_client.c makes on what the Kubernetes API sends, made on
 * hostile bytes (t/fuzz/README.md, scripts/fuzz.sh).
 *
 *   - input starting with "k8s\0": a list body, as ngx_kedge_k8s_list()
 *     takes it: unwrap, EndpointSliceList, the endpoints of every item
 *     (ngx_kedge_k8s_entry()) by port name and by port number;
 *
 *   - any other input: a watch stream, as ngx_kedge_k8s_frames() takes it:
 *     frames, WatchEvent, unwrap of object.raw, Status for "ERROR" and
 *     EndpointSlice otherwise, and the slice's endpoints as above.
 *
 * The same bytes are taken for Services too, as ngx_kedge_discovery.c
 * takes them: a ServiceList (its items) or a Service (a watch event's
 * object), each exposed by kedge's naming rules
 * (ngx_kedge_k8s_service_expose()) under two label prefixes and two
 * domain suffixes, into room for exactly as many ports as allowed.
 *
 * Every buffer handed to the decoder is a heap copy of exactly the bytes
 * it may read (each frame, each endpoint array), so that ASan catches a
 * read or write one byte past a length; everything unpacked is freed, so
 * that LeakSanitizer catches what the decoder's own error paths leak.
 * Results are checked against the decoder's contract: a violation aborts.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "ngx_kedge_k8s.h"


/* the client's limits: api->max_size default, NGX_KEDGE_K8S_MAX_ENDPOINTS */
#define FUZZ_MAX_FRAME      (16 * 1024 * 1024)
#define FUZZ_MAX_ENDPOINTS  65536

/* NGX_KEDGE_DISCOVERY_PORTS, and less room to reach "more than allowed" */
#define FUZZ_PORTS          16


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static void
fuzz_fail(const char *what)
{
    fprintf(stderr, "fuzz_k8s: contract violated: %s\n", what);
    abort();
}


static uint8_t *
fuzz_copy(const uint8_t *data, size_t len)
{
    uint8_t  *p;

    /* malloc(0) may return NULL: one byte more is still caught by ASan */
    p = malloc(len ? len : 1);
    if (p == NULL) {
        abort();
    }

    if (len) {
        memcpy(p, data, len);
    }

    return p;
}


static void
fuzz_endpoints_call(const ngx_kedge_k8s_slice_t *slice, const char *name,
    uint16_t number, size_t max)
{
    int                        rc, family;
    size_t                     i, n;
    uint8_t                    buf[16];
    const char                *err;
    ngx_kedge_k8s_endpoint_t  *out;

    /* exactly "max" entries, as ngx_kedge_k8s_entry() allocates them */

    out = malloc((max ? max : 1) * sizeof(ngx_kedge_k8s_endpoint_t));
    if (out == NULL) {
        abort();
    }

    err = NULL;
    n = (size_t) -1;

    rc = ngx_kedge_k8s_slice_endpoints(slice, name, number, out, max, &n,
                                       &err);

    if (rc == NGX_KEDGE_K8S_ERROR) {
        if (err == NULL) {
            fuzz_fail("slice_endpoints: an error without a reason");
        }

    } else if (rc == NGX_KEDGE_K8S_OK) {
        if (n > max) {
            fuzz_fail("slice_endpoints: more endpoints than room");
        }

        for (i = 0; i < n; i++) {
            family = out[i].family;

            if (family != AF_INET && family != AF_INET6) {
                fuzz_fail("slice_endpoints: bad family");
            }

            if (memchr(out[i].addr, '\0', NGX_KEDGE_K8S_ADDR_LEN) == NULL) {
                fuzz_fail("slice_endpoints: address not terminated");
            }

            if (inet_pton(family, out[i].addr, buf) != 1) {
                fuzz_fail("slice_endpoints: not an IP literal");
            }

            if (out[i].port == 0) {
                fuzz_fail("slice_endpoints: port 0");
            }

            if (name == NULL && out[i].port != number) {
                fuzz_fail("slice_endpoints: not the port asked for");
            }
        }

    } else {
        fuzz_fail("slice_endpoints: unknown return code");
    }

    free(out);
}


/* ngx_kedge_k8s_entry(), and a few more ways of asking */

static void
fuzz_endpoints(const ngx_kedge_k8s_slice_t *slice)
{
    size_t       i, n;
    const char  *name;
    uint16_t     number;

    n = 0;

    for (i = 0; i < slice->n_endpoints; i++) {
        n += slice->endpoints[i]->n_addresses;
    }

    if (n > FUZZ_MAX_ENDPOINTS) {
        return;
    }

    /* the client's two configurations: "svc:http" and "svc:8080" */

    fuzz_endpoints_call(slice, "http", 0, n);
    fuzz_endpoints_call(slice, NULL, 8080, n);

    /* a name and a number the input carries, so that they match often */

    name = NULL;
    number = 1;

    if (slice->n_ports) {
        name = slice->ports[0]->name;
        number = (uint16_t) slice->ports[0]->port;
    }

    if (name) {
        fuzz_endpoints_call(slice, name, 0, n);
    }

    if (number) {
        fuzz_endpoints_call(slice, NULL, number, n);
    }

    /* less room than addresses: the "too many endpoints" path */

    if (n) {
        fuzz_endpoints_call(slice, NULL, 8080, n / 2);
        fuzz_endpoints_call(slice, name ? name : "http", 0, n - 1);
    }
}


/* kedge's backend names: ^[a-z_0-9.]{2,64}$ */

static int
fuzz_backend_name(const char *s, size_t room)
{
    size_t  i, len;

    if (memchr(s, '\0', room) == NULL) {
        return 0;
    }

    len = strlen(s);

    if (len < 2 || len > 64) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')
              || s[i] == '_' || s[i] == '.'))
        {
            return 0;
        }
    }

    return 1;
}


static void
fuzz_expose_call(const ngx_kedge_k8s_service_t *svc, const char *prefix,
    const char *suffix, size_t max)
{
    int                            rc;
    size_t                         i;
    const char                    *err, *name;
    ngx_kedge_k8s_exposed_t        e;
    ngx_kedge_k8s_exposed_port_t  *ports, *p;

    /* exactly "max" ports of room, as ngx_kedge_discovery_svc() has */

    ports = malloc((max ? max : 1) * sizeof(ngx_kedge_k8s_exposed_port_t));
    if (ports == NULL) {
        abort();
    }

    err = NULL;

    rc = ngx_kedge_k8s_service_expose(svc, prefix, suffix, &e, ports, max,
                                      &err);

    if (rc == NGX_KEDGE_K8S_ERROR) {
        if (err == NULL) {
            fuzz_fail("expose: an error without a reason");
        }

        if (memchr(e.name, '\0', sizeof(e.name)) == NULL
            || memchr(e.namespace, '\0', sizeof(e.namespace)) == NULL)
        {
            fuzz_fail("expose: names not terminated");
        }

    } else if (rc == NGX_KEDGE_K8S_OK) {
        if (e.nports > max || e.ports != ports) {
            fuzz_fail("expose: more ports than room");
        }

        if (memchr(e.host, '\0', sizeof(e.host)) == NULL
            || !ngx_kedge_k8s_host_valid(e.host))
        {
            fuzz_fail("expose: an invalid host");
        }

        if (memchr(e.service, '\0', sizeof(e.service)) == NULL
            || e.service[0] == '/'
            || (strchr(e.service, '*')
                && strchr(e.service, '*') != e.service + strlen(e.service)
                                             - 1))
        {
            fuzz_fail("expose: an invalid service glob");
        }

        if (e.name[0] == '\0' || e.namespace[0] == '\0') {
            fuzz_fail("expose: no name or namespace");
        }

        if (e.skipped && e.skipped_reason == NULL) {
            fuzz_fail("expose: a port left out without a reason");
        }

        for (i = 0; i < e.nports; i++) {
            p = &ports[i];

            if ((p->protocol != NGX_KEDGE_K8S_HTTP
                 && p->protocol != NGX_KEDGE_K8S_GRPC)
                || (p->tls != 0 && p->tls != 1) || p->port == 0)
            {
                fuzz_fail("expose: a bad port");
            }

            if (!fuzz_backend_name(p->backend, sizeof(p->backend))) {
                fuzz_fail("expose: a backend name kedge refuses");
            }

            if (memchr(p->name, '\0', sizeof(p->name)) == NULL) {
                fuzz_fail("expose: port name not terminated");
            }

            name = p->name;

            if (strncmp(name, p->tls ? (p->protocol == NGX_KEDGE_K8S_HTTP
                                        ? "httptls" : "grpctls")
                                     : (p->protocol == NGX_KEDGE_K8S_HTTP
                                        ? "http" : "grpc"),
                        p->tls ? 7 : 4) != 0)
            {
                fuzz_fail("expose: a port of another name");
            }
        }

    } else if (rc != NGX_KEDGE_K8S_DECLINED) {
        fuzz_fail("expose: unknown return code");
    }

    free(ports);
}


/* ngx_kedge_discovery_svc(), and a few more ways of asking */

static void
fuzz_expose(const ngx_kedge_k8s_service_t *svc)
{
    fuzz_expose_call(svc, "kedge.com/", "ext.example.com", FUZZ_PORTS);
    fuzz_expose_call(svc, "", "a", FUZZ_PORTS);
    fuzz_expose_call(svc, "kedge.com/", "ext.example.com", 1);
    fuzz_expose_call(svc, "kedge-", "x.y", 0);

    /* a suffix that leaves no room for long names in the host */

    fuzz_expose_call(svc, "kedge.com/",
                     "a.long.domain.suffix.that.takes.most.of.the.room."
                     "a.long.domain.suffix.that.takes.most.of.the.room."
                     "a.long.domain.suffix.that.takes.most.of.the.room."
                     "a.long.domain.example", FUZZ_PORTS);
}


static ngx_kedge_k8s_unknown_t *
fuzz_unwrap(const uint8_t *data, size_t len)
{
    const char               *err;
    ngx_kedge_k8s_unknown_t  *u;

    err = NULL;

    u = ngx_kedge_k8s_unwrap(data, len, NULL, &err);

    if (u == NULL) {
        if (err == NULL) {
            fuzz_fail("unwrap: an error without a reason");
        }

        return NULL;
    }

    if (!u->has_raw) {
        fuzz_fail("unwrap: no raw object");
    }

    if (u->raw.len && u->raw.data == NULL) {
        fuzz_fail("unwrap: raw without data");
    }

    return u;
}


/* ngx_kedge_k8s_slices_list(), ngx_kedge_discovery_list() */

static void
fuzz_list(const uint8_t *data, size_t len)
{
    size_t                         i;
    ngx_kedge_k8s_unknown_t       *u;
    ngx_kedge_k8s_slice_list_t    *list;
    ngx_kedge_k8s_service_list_t  *services;

    u = fuzz_unwrap(data, len);
    if (u == NULL) {
        return;
    }

    list = k8s__io__api__discovery__v1__endpoint_slice_list__unpack(NULL,
                                                          u->raw.len,
                                                          u->raw.data);

    services = k8s__io__api__core__v1__service_list__unpack(NULL, u->raw.len,
                                                            u->raw.data);

    k8s__io__apimachinery__pkg__runtime__unknown__free_unpacked(u, NULL);

    if (list) {
        for (i = 0; i < list->n_items; i++) {
            fuzz_endpoints(list->items[i]);
        }

        k8s__io__api__discovery__v1__endpoint_slice_list__free_unpacked(list,
                                                                        NULL);
    }

    if (services) {
        for (i = 0; i < services->n_items; i++) {
            fuzz_expose(services->items[i]);
        }

        k8s__io__api__core__v1__service_list__free_unpacked(services, NULL);
    }
}


/* ngx_kedge_k8s_event(), with the slices' and the Services' callbacks */

static void
fuzz_event(const uint8_t *data, size_t len)
{
    ngx_kedge_k8s_slice_t        *slice;
    ngx_kedge_k8s_service_t      *service;
    ngx_kedge_k8s_status_t       *status;
    ngx_kedge_k8s_unknown_t      *u;
    ngx_kedge_k8s_watch_event_t  *ev;

    ev = k8s__io__apimachinery__pkg__apis__meta__v1__watch_event__unpack(
             NULL, len, data);

    if (ev == NULL) {
        return;
    }

    if (ev->type == NULL || ev->object == NULL || !ev->object->has_raw) {
        goto done;
    }

    u = fuzz_unwrap(ev->object->raw.data, ev->object->raw.len);
    if (u == NULL) {
        goto done;
    }

    if (strcmp(ev->type, "ERROR") == 0) {
        status = k8s__io__apimachinery__pkg__apis__meta__v1__status__unpack(
                     NULL, u->raw.len, u->raw.data);

        if (status) {
            /* what the client reads of it */
            if (status->has_code && status->code == 410 && status->reason) {
                (void) strlen(status->reason);
            }

            k8s__io__apimachinery__pkg__apis__meta__v1__status__free_unpacked(
                status, NULL);
        }

    } else {
        /*
         * The client takes the endpoints of ADDED and MODIFIED slices with
         * a name and a valid resourceVersion only; here of any slice.
         */

        slice = k8s__io__api__discovery__v1__endpoint_slice__unpack(NULL,
                                                                u->raw.len,
                                                                u->raw.data);

        if (slice) {
            if (slice->metadata) {
                if (slice->metadata->name) {
                    (void) strlen(slice->metadata->name);
                }

                if (slice->metadata->resourceversion) {
                    (void) strlen(slice->metadata->resourceversion);
                }
            }

            fuzz_endpoints(slice);

            k8s__io__api__discovery__v1__endpoint_slice__free_unpacked(slice,
                                                                       NULL);
        }

        service = k8s__io__api__core__v1__service__unpack(NULL, u->raw.len,
                                                          u->raw.data);

        if (service) {
            fuzz_expose(service);
            k8s__io__api__core__v1__service__free_unpacked(service, NULL);
        }
    }

    k8s__io__apimachinery__pkg__runtime__unknown__free_unpacked(u, NULL);

done:

    k8s__io__apimachinery__pkg__apis__meta__v1__watch_event__free_unpacked(
        ev, NULL);
}


/* ngx_kedge_k8s_frames() */

static void
fuzz_watch(const uint8_t *data, size_t len)
{
    int          rc;
    size_t       off, flen;
    uint8_t     *frame;
    const char  *err;

    off = 0;

    for ( ;; ) {
        err = NULL;
        flen = (size_t) -1;

        rc = ngx_kedge_k8s_frame(data + off, len - off, FUZZ_MAX_FRAME,
                                 &flen, &err);

        if (rc == NGX_KEDGE_K8S_AGAIN) {
            break;
        }

        if (rc == NGX_KEDGE_K8S_ERROR) {
            if (err == NULL) {
                fuzz_fail("frame: an error without a reason");
            }

            break;
        }

        if (rc != NGX_KEDGE_K8S_OK) {
            fuzz_fail("frame: unknown return code");
        }

        if (len - off < 4 || flen > FUZZ_MAX_FRAME || flen > len - off - 4)
        {
            fuzz_fail("frame: longer than the data or the limit");
        }

        /* the frame alone, so that reading past it is caught */

        frame = fuzz_copy(data + off + 4, flen);
        fuzz_event(frame, flen);
        free(frame);

        off += 4 + flen;
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t  *copy;

    copy = fuzz_copy(data, size);

    if (size >= 4 && memcmp(copy, "k8s", 4) == 0) {
        fuzz_list(copy, size);

    } else {
        fuzz_watch(copy, size);
    }

    free(copy);

    return 0;
}
