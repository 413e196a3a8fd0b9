
/*
 * Unit tests of ngx_kedge_k8s.c against vectors encoded by Google's
 * protobuf (t/unit/make_vectors.py): k8s_test VECTOR_DIR.  TAP output.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ngx_kedge_k8s.h"


static int  tests, failures;


static void
ok(int cond, const char *name)
{
    tests++;

    if (!cond) {
        failures++;
    }

    printf("%sok %d - %s\n", cond ? "" : "not ", tests, name);
}


static uint8_t *
slurp(const char *dir, const char *name, size_t *len)
{
    FILE     *f;
    char      path[4096];
    uint8_t  *data;
    long      n;

    snprintf(path, sizeof(path), "%s/%s", dir, name);

    f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        exit(2);
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);

    data = malloc(n ? n : 1);
    if (data == NULL || fread(data, 1, n, f) != (size_t) n) {
        exit(2);
    }

    fclose(f);
    *len = n;

    return data;
}


static ngx_kedge_k8s_slice_list_t *
list_of(ngx_kedge_k8s_unknown_t *u)
{
    return k8s__io__api__discovery__v1__endpoint_slice_list__unpack(NULL,
                                                          u->raw.len,
                                                          u->raw.data);
}


static void
test_list(const char *dir)
{
    size_t                       len, n, total, i;
    uint8_t                     *data;
    const char                  *err;
    ngx_kedge_k8s_unknown_t     *u;
    ngx_kedge_k8s_endpoint_t     eps[16];
    ngx_kedge_k8s_slice_list_t  *list;

    data = slurp(dir, "list.bin", &len);
    err = NULL;

    u = ngx_kedge_k8s_unwrap(data, len, NULL, &err);
    ok(u != NULL, "list: envelope unwrapped");

    if (u == NULL) {
        return;
    }

    ok(u->typemeta && strcmp(u->typemeta->kind, "EndpointSliceList") == 0,
       "list: kind EndpointSliceList");

    list = list_of(u);
    ok(list != NULL && list->n_items == 3, "list: three slices");
    ok(list && list->metadata
       && strcmp(list->metadata->resourceversion, "1234") == 0,
       "list: resourceVersion of the list");

    if (list == NULL) {
        return;
    }

    total = 0;

    for (i = 0; i < list->n_items; i++) {
        ok(ngx_kedge_k8s_slice_endpoints(list->items[i], "http", 0,
                                         eps + total, 16 - total, &n, &err)
           == NGX_KEDGE_K8S_OK, "list: slice decoded");
        total += n;
    }

    ok(total == 3, "list: ready and unset-ready endpoints, no FQDN slice");
    ok(total == 3 && strcmp(eps[0].addr, "10.0.0.1") == 0
       && eps[0].port == 8080, "list: 10.0.0.1 on the named port 8080");
    ok(total == 3 && strcmp(eps[1].addr, "10.0.0.3") == 0,
       "list: not-ready 10.0.0.2 left out, unset-ready 10.0.0.3 kept");
    ok(total == 3 && strcmp(eps[2].addr, "fd00::1") == 0
       && eps[2].family == AF_INET6, "list: IPv6 slice");

    ok(ngx_kedge_k8s_slice_endpoints(list->items[0], "grpc", 0, eps, 16, &n,
                                     &err) == NGX_KEDGE_K8S_OK
       && n == 2 && eps[0].port == 9090, "list: port picked by name");

    ok(ngx_kedge_k8s_slice_endpoints(list->items[0], NULL, 7000, eps, 16, &n,
                                     &err) == NGX_KEDGE_K8S_OK
       && n == 2 && eps[0].port == 7000, "list: port given by number");

    ok(ngx_kedge_k8s_slice_endpoints(list->items[2], "grpc", 0, eps, 16, &n,
                                     &err) == NGX_KEDGE_K8S_OK
       && n == 0, "list: a slice without that port gives nothing");

    ok(ngx_kedge_k8s_slice_endpoints(list->items[0], "http", 0, eps, 1, &n,
                                     &err) == NGX_KEDGE_K8S_ERROR,
       "list: more endpoints than room is an error");

    k8s__io__api__discovery__v1__endpoint_slice_list__free_unpacked(list,
                                                                    NULL);
    k8s__io__apimachinery__pkg__runtime__unknown__free_unpacked(u, NULL);
    free(data);
}


static void
test_watch(const char *dir)
{
    int                           rc;
    size_t                        len, flen, off;
    uint8_t                      *data;
    const char                   *err, *types[3];
    ngx_kedge_k8s_unknown_t      *u;
    ngx_kedge_k8s_status_t       *st;
    ngx_kedge_k8s_watch_event_t  *ev;
    int                           nev;

    data = slurp(dir, "watch.bin", &len);
    off = 0;
    nev = 0;
    err = NULL;

    ok(ngx_kedge_k8s_frame(data, 3, 1 << 20, &flen, &err)
       == NGX_KEDGE_K8S_AGAIN, "watch: a partial length waits");
    ok(ngx_kedge_k8s_frame(data, 10, 1 << 20, &flen, &err)
       == NGX_KEDGE_K8S_AGAIN, "watch: a partial frame waits");

    while (off < len) {
        rc = ngx_kedge_k8s_frame(data + off, len - off, 1 << 20, &flen, &err);
        if (rc != NGX_KEDGE_K8S_OK) {
            break;
        }

        ev = k8s__io__apimachinery__pkg__apis__meta__v1__watch_event__unpack(
                 NULL, flen, data + off + 4);
        if (ev == NULL || nev == 3) {
            break;
        }

        types[nev++] = strdup(ev->type);

        if (strcmp(ev->type, "ERROR") == 0 && ev->object) {
            u = ngx_kedge_k8s_unwrap(ev->object->raw.data,
                                     ev->object->raw.len, NULL, &err);
            st = u ? k8s__io__apimachinery__pkg__apis__meta__v1__status__unpack(
                         NULL, u->raw.len, u->raw.data)
                   : NULL;
            ok(st != NULL && st->code == 410, "watch: ERROR carries 410");

            if (st) {
                k8s__io__apimachinery__pkg__apis__meta__v1__status__free_unpacked(
                    st, NULL);
            }

            if (u) {
                k8s__io__apimachinery__pkg__runtime__unknown__free_unpacked(
                    u, NULL);
            }
        }

        k8s__io__apimachinery__pkg__apis__meta__v1__watch_event__free_unpacked(
            ev, NULL);

        off += 4 + flen;
    }

    ok(nev == 3 && off == len, "watch: three frames, all consumed");
    ok(nev == 3 && strcmp(types[0], "ADDED") == 0
       && strcmp(types[1], "BOOKMARK") == 0
       && strcmp(types[2], "ERROR") == 0, "watch: event types in order");

    while (nev) {
        free((void *) types[--nev]);
    }

    free(data);
}


static void
test_hostile(const char *dir)
{
    size_t                       len, n, flen;
    uint8_t                     *data;
    const char                  *err;
    ngx_kedge_k8s_unknown_t     *u;
    ngx_kedge_k8s_endpoint_t     eps[4];
    ngx_kedge_k8s_slice_list_t  *list;

    static const char  *refused[] = {
        "nomagic.bin", "truncated.bin", "noraw.bin", "gzip.bin"
    };

    for (n = 0; n < sizeof(refused) / sizeof(refused[0]); n++) {
        data = slurp(dir, refused[n], &len);
        err = NULL;
        u = ngx_kedge_k8s_unwrap(data, len, NULL, &err);

        /* a truncated envelope may still parse: then its list must not */

        if (u) {
            list = list_of(u);
            ok(list == NULL, refused[n]);

            if (list) {
                k8s__io__api__discovery__v1__endpoint_slice_list__free_unpacked(
                    list, NULL);
            }

            k8s__io__apimachinery__pkg__runtime__unknown__free_unpacked(u,
                                                                       NULL);

        } else {
            ok(err != NULL, refused[n]);
        }

        free(data);
    }

    data = slurp(dir, "badaddr.bin", &len);
    u = ngx_kedge_k8s_unwrap(data, len, NULL, &err);
    list = u ? list_of(u) : NULL;
    ok(list != NULL
       && ngx_kedge_k8s_slice_endpoints(list->items[0], "http", 0, eps, 4,
                                        &n, &err) == NGX_KEDGE_K8S_ERROR,
       "an invalid address refuses the slice");

    if (list) {
        k8s__io__api__discovery__v1__endpoint_slice_list__free_unpacked(list,
                                                                        NULL);
    }

    if (u) {
        k8s__io__apimachinery__pkg__runtime__unknown__free_unpacked(u, NULL);
    }

    free(data);

    data = slurp(dir, "bigframe.bin", &len);
    ok(ngx_kedge_k8s_frame(data, len, 1 << 20, &flen, &err)
       == NGX_KEDGE_K8S_ERROR, "an oversize frame is refused");
    free(data);
}


static void
test_services(const char *dir)
{
    int                            rc;
    size_t                         len;
    uint8_t                       *data;
    const char                    *err;
    ngx_kedge_k8s_unknown_t       *u;
    ngx_kedge_k8s_exposed_t        e;
    ngx_kedge_k8s_service_list_t  *list;
    ngx_kedge_k8s_exposed_port_t   ports[8];

    data = slurp(dir, "services.bin", &len);
    err = NULL;

    u = ngx_kedge_k8s_unwrap(data, len, NULL, &err);
    ok(u != NULL && u->typemeta
       && strcmp(u->typemeta->kind, "ServiceList") == 0,
       "services: a ServiceList");

    if (u == NULL) {
        return;
    }

    list = k8s__io__api__core__v1__service_list__unpack(NULL, u->raw.len,
                                                        u->raw.data);
    ok(list != NULL && list->n_items == 7
       && strcmp(list->metadata->resourceversion, "99") == 0,
       "services: seven items, the list's resourceVersion");

    if (list == NULL || list->n_items != 7) {
        return;
    }

    /* web: every kind of port */

    rc = ngx_kedge_k8s_service_expose(list->items[0], "kedge.com/",
                                      "ext.example.com", &e, ports, 8, &err);
    ok(rc == NGX_KEDGE_K8S_OK && e.nports == 4,
       "expose: http, grpc-api, httptls-admin, grpctls; metrics ignored");
    ok(strcmp(e.host, "web.default.svc.ext.example.com") == 0
       && e.service[0] == '\0', "expose: kedge's host, any service");
    ok(e.nports == 4 && ports[0].protocol == NGX_KEDGE_K8S_HTTP
       && !ports[0].tls && ports[0].port == 80
       && strcmp(ports[0].name, "http") == 0
       && strcmp(ports[0].backend, "web_default_8080") == 0,
       "expose: http port 80 to backend web_default_8080");
    ok(e.nports == 4 && ports[1].protocol == NGX_KEDGE_K8S_GRPC
       && !ports[1].tls && ports[1].port == 81
       && strcmp(ports[1].backend, "web_default_grpc_port") == 0,
       "expose: grpc-api to a named target port, dashes made underscores");
    ok(e.nports == 4 && ports[2].protocol == NGX_KEDGE_K8S_HTTP
       && ports[2].tls && ports[2].port == 443
       && strcmp(ports[2].backend, "web_default_443") == 0,
       "expose: httptls-admin is TLS, an unset targetPort is the port");
    ok(e.nports == 4 && ports[3].protocol == NGX_KEDGE_K8S_GRPC
       && ports[3].tls && strcmp(ports[3].name, "grpctls") == 0,
       "expose: grpctls is gRPC over TLS");
    ok(e.skipped == 1 && strcmp(e.skipped_port, "http-udp") == 0
       && strcmp(e.skipped_reason, "not a TCP port") == 0,
       "expose: a UDP port named http is left out, with a reason");

    rc = ngx_kedge_k8s_service_expose(list->items[0], "kedge.com/",
                                      "ext.example.com", &e, ports, 2, &err);
    ok(rc == NGX_KEDGE_K8S_OK && e.nports == 2 && e.skipped == 3,
       "expose: no more ports than room");

    ok(ngx_kedge_k8s_service_expose(list->items[1], "kedge.com/", "x", &e,
                                    ports, 8, &err)
       == NGX_KEDGE_K8S_DECLINED, "expose: an unlabelled Service");
    ok(ngx_kedge_k8s_service_expose(list->items[2], "kedge.com/", "x", &e,
                                    ports, 8, &err)
       == NGX_KEDGE_K8S_DECLINED, "expose: labelled \"false\"");
    ok(ngx_kedge_k8s_service_expose(list->items[6], "kedge.com/", "x", &e,
                                    ports, 8, &err)
       == NGX_KEDGE_K8S_DECLINED
       && ngx_kedge_k8s_service_expose(list->items[6], "example.org/", "x",
                                       &e, ports, 8, &err)
          == NGX_KEDGE_K8S_OK && e.nports == 1,
       "expose: the label prefix is the one configured");

    rc = ngx_kedge_k8s_service_expose(list->items[3], "kedge.com/",
                                      "ext.example.com", &e, ports, 8, &err);
    ok(rc == NGX_KEDGE_K8S_OK && strcmp(e.host, "web.example.com") == 0
       && strcmp(e.service, "com.example.*") == 0,
       "expose: annotations override host (lower-cased) and service");
    ok(e.nports == 1 && strcmp(ports[0].backend, "my_svc_my_team_8080") == 0
       && ports[0].port == 8081, "expose: http-web, names with dashes");

    err = NULL;
    ok(ngx_kedge_k8s_service_expose(list->items[4], "kedge.com/", "x", &e,
                                    ports, 8, &err)
       == NGX_KEDGE_K8S_ERROR && err
       && strcmp(err, "invalid host-matcher annotation") == 0,
       "expose: an invalid host-matcher refuses the Service");

    rc = ngx_kedge_k8s_service_expose(list->items[5], "kedge.com/", "x", &e,
                                      ports, 8, &err);
    ok(rc == NGX_KEDGE_K8S_OK && e.nports == 0 && e.skipped == 1
       && strstr(e.skipped_reason, "longer than 64") != NULL,
       "expose: a backend name over 64 leaves the port out");

    err = NULL;
    ok(ngx_kedge_k8s_service_expose(list->items[0], "kedge.com/",
                                    "a.very.long.suffix.that.goes.on."
                                    "and.on.and.on.and.on.and.on.and.on."
                                    "and.on.and.on.and.on.and.on.and.on."
                                    "and.on.and.on.and.on.and.on.and.on."
                                    "and.on.and.on.and.on.and.on.and.on."
                                    "and.on.and.on.and.on.and.on.and.on."
                                    "and.on.and.on.and.on.and.on.example",
                                    &e, ports, 8, &err)
       == NGX_KEDGE_K8S_ERROR && err != NULL,
       "expose: a host over 253 refuses the Service");

    ok(ngx_kedge_k8s_label_prefix_valid("kedge.com/")
       && ngx_kedge_k8s_label_prefix_valid("")
       && ngx_kedge_k8s_label_prefix_valid("kedge-")
       && !ngx_kedge_k8s_label_prefix_valid("/")
       && !ngx_kedge_k8s_label_prefix_valid("a/b/")
       && !ngx_kedge_k8s_label_prefix_valid("Kedge.com/")
       && !ngx_kedge_k8s_label_prefix_valid("kedge.com/x"),
       "label prefixes");

    ok(ngx_kedge_k8s_host_valid("a.b_c-d.example")
       && !ngx_kedge_k8s_host_valid("")
       && !ngx_kedge_k8s_host_valid(".a")
       && !ngx_kedge_k8s_host_valid("a.")
       && !ngx_kedge_k8s_host_valid("A.b")
       && !ngx_kedge_k8s_host_valid("a:80"), "hosts");

    k8s__io__api__core__v1__service_list__free_unpacked(list, NULL);
    k8s__io__apimachinery__pkg__runtime__unknown__free_unpacked(u, NULL);
    free(data);
}


int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: k8s_test VECTOR_DIR\n");
        return 2;
    }

    test_list(argv[1]);
    test_watch(argv[1]);
    test_hostile(argv[1]);
    test_services(argv[1]);

    printf("1..%d\n", tests);

    return failures ? 1 : 0;
}
