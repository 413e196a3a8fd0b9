#!/usr/bin/python3
"""The crafted inputs of the regression corpus t/fuzz/corpus/ (edge cases of
ngx_kedge_module/ngx_kedge_k8s.c that random mutation reaches late or
never): usage make_corpus.py PY_OUT_DIR CORPUS_DIR, with PY_OUT_DIR the
protoc --python_out of proto/ (scripts/fuzz.sh makes it in build/fuzz/py).
The files are checked in; rerun this only to change them.  Inputs found by
the fuzzer are added to the corpus by hand, beside these."""

import importlib
import os
import struct
import sys

sys.path.insert(0, sys.argv[1])
out = sys.argv[2]

meta = importlib.import_module(
    "k8s.io.apimachinery.pkg.apis.meta.v1.generated_pb2")
runtime = importlib.import_module(
    "k8s.io.apimachinery.pkg.runtime.generated_pb2")
disc = importlib.import_module("k8s.io.api.discovery.v1.generated_pb2")
core = importlib.import_module("k8s.io.api.core.v1.generated_pb2")


def envelope(obj, encoding=None, raw=True):
    u = runtime.Unknown()
    if raw:
        u.raw = obj.SerializeToString()
    if encoding is not None:
        u.contentEncoding = encoding
    return b"k8s\x00" + u.SerializeToString()


def slice_(addr_type, addrs, ports=(("http", 8080),), ready=None, rv="1"):
    s = disc.EndpointSlice()
    s.metadata.name = "s"
    s.metadata.resourceVersion = rv
    if addr_type is not None:
        s.addressType = addr_type
    if addrs is not None:
        e = s.endpoints.add()
        e.addresses.extend(addrs)
        if ready is not None:
            e.conditions.ready = ready
    for name, port in ports:
        p = s.ports.add()
        if name is not None:
            p.name = name
        if port is not None:
            p.port = port
    return s


def list_(*slices):
    lst = disc.EndpointSliceList()
    lst.metadata.resourceVersion = "1"
    lst.items.extend(slices)
    return envelope(lst)


def frame(data):
    return struct.pack(">I", len(data)) + data


def event(event_type, raw=None):
    ev = meta.WatchEvent()
    if event_type is not None:
        ev.type = event_type
    if raw is not None:
        ev.object.raw = raw
    else:
        ev.object.SetInParent()
    return frame(ev.SerializeToString())


def status(code):
    st = meta.Status()
    st.status = "Failure"
    st.code = code
    return envelope(st)


def write(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


# list bodies

write("list-port-over-65535", list_(slice_("IPv4", ["10.0.0.1"],
                                           [("http", 70000)])))
write("list-port-negative", list_(slice_("IPv4", ["10.0.0.1"],
                                         [("http", -1)])))
write("list-port-unset", list_(slice_("IPv4", ["10.0.0.1"],
                                      [("http", None), (None, 8080)])))
write("list-port-second", list_(slice_("IPv4", ["10.0.0.1"],
                                       [("grpc", 9090), ("http", 8080)])))
serving = slice_("IPv4", ["10.0.0.1"])
serving.endpoints[0].conditions.serving = True
write("list-conditions-no-ready", list_(serving))
# 45 characters: the longest IPv6 literal, its NUL fills addr[46]
write("list-addr-45", list_(slice_("IPv6", [
    "0000:0000:0000:0000:0000:ffff:255.255.255.255"])))
write("list-addr-46", list_(slice_("IPv6", [
    "0000:0000:0000:0000:0000:ffff:255.255.255.2555"])))
write("list-addr-long", list_(slice_("IPv4", ["1" * 300])))
write("list-addr-nul", list_(slice_("IPv4", ["10.0.0.1\x00junk"])))
write("list-addr-scope", list_(slice_("IPv6", ["fe80::1%eth0"])))
write("list-addr-v6-in-v4", list_(slice_("IPv4", ["::1"])))
write("list-addr-empty", list_(slice_("IPv4", [""])))
write("list-no-addresstype", list_(slice_(None, ["10.0.0.1"])))
write("list-fqdn", list_(slice_("FQDN", ["example.com"])))
write("list-not-ready", list_(slice_("IPv4", ["10.0.0.1"], ready=False),
                              slice_("IPv4", [], ready=True)))
write("list-many-addrs", list_(slice_("IPv4", ["10.0.%d.%d" % (i // 256,
                                                                i % 256)
                                               for i in range(300)])))
write("list-no-raw", envelope(disc.EndpointSliceList(), raw=False))
write("list-gzip", envelope(disc.EndpointSliceList(), encoding="gzip"))
write("list-encoding-empty", envelope(disc.EndpointSliceList(), encoding=""))
write("list-magic-only", b"k8s\x00")
write("list-empty-raw", envelope(disc.EndpointSliceList()))

# watch streams

a = envelope(slice_("IPv4", ["10.0.0.1"]))
write("watch-short-raw", event("ADDED", b"k8"))
write("watch-no-raw", event("ADDED"))
write("watch-raw-no-magic", event("ADDED", b"k8s\x01" + a[4:]))
write("watch-no-type", event(None, a))
write("watch-types", event("MODIFIED", a) + event("DELETED", a)
      + event("BOOKMARK", a) + event("FOO", a))
write("watch-error-410", event("ERROR", status(410)))
write("watch-error-500", event("ERROR", status(500)) + event("ADDED", a))
write("watch-error-garbage", event("ERROR", b"k8s\x00\x1a\x03\xff\xff\xff"))
write("watch-gzip", event("ADDED", envelope(disc.EndpointSlice(),
                                            encoding="gzip")))
write("watch-zero-frame", struct.pack(">I", 0) + b"\x00\x00\x01\x00ab")
write("watch-partial-length", event("ADDED", a) + b"\x00\x00")
write("watch-frame-one-short", event("ADDED", a) + event("ADDED", a)[:-1])
write("watch-frame-over-max", struct.pack(">I", 16 * 1024 * 1024 + 1) + b"x")
write("watch-frame-at-max", struct.pack(">I", 16 * 1024 * 1024) + b"x")
write("watch-frame-ffffffff", b"\xff\xff\xff\xff")
write("short-k8s", b"k8s")
write("empty", b"")

# Services, for kedge's discovery (ngx_kedge_k8s_service_expose())

EXPOSED = {"kedge.com/kedge-exposed": "true"}


def service(ports, name="web", ns="default", labels=EXPOSED,
            annotations=None):
    svc = core.Service()
    if name is not None:
        svc.metadata.name = name
    if ns is not None:
        svc.metadata.namespace = ns
    svc.metadata.resourceVersion = "1"
    for k, v in (labels or {}).items():
        svc.metadata.labels[k] = v
    for k, v in (annotations or {}).items():
        svc.metadata.annotations[k] = v
    for pname, port, target, proto in ports:
        p = svc.spec.ports.add()
        if pname is not None:
            p.name = pname
        if port is not None:
            p.port = port
        if proto is not None:
            p.protocol = proto
        if isinstance(target, str):
            p.targetPort.type, p.targetPort.strVal = 1, target
        elif target is not None:
            p.targetPort.type, p.targetPort.intVal = 0, target
    return svc


def services(*items):
    lst = core.ServiceList()
    lst.metadata.resourceVersion = "1"
    lst.items.extend(items)
    return envelope(lst)


write("svc-every-port", services(service([
    ("http", 80, 8080, "TCP"), ("http-a", 81, "web", None),
    ("grpc", 82, None, None), ("grpc-b", 83, 9090, "TCP"),
    ("httptls", 443, 8443, "TCP"), ("grpctls-c", 9443, "g", "TCP"),
    ("metrics", 9100, 9100, "TCP"), (None, 1, 1, None)])))
write("svc-ports-bad", services(service([
    ("http", 0, 8080, None), ("http", 70000, 8080, None),
    ("http", -1, 8080, None), ("http", None, 8080, None),
    ("http-", 80, 8080, None), ("HTTP", 80, 8080, None),
    ("http-\x00x", 80, 8080, None), ("http-" + "x" * 70, 80, 8080, None),
    ("http-Upper", 80, 8080, None), ("grpc-a_b", 80, 8080, None),
    ("grpc", 80, 70000, None), ("grpc", 80, -5, None),
    ("grpc", 80, "", None), ("grpc", 80, "Bad_Name", None),
    ("grpc", 80, "-x", None), ("http", 80, 8080, "UDP"),
    ("http", 80, 8080, "")])))
write("svc-many-ports", services(service([
    ("http-%d" % i, 1000 + i, 8080, None) for i in range(40)])))
write("svc-long-names", services(service(
    [("http", 80, "p" * 63, None)], name="n" * 63, ns="s" * 63)))
write("svc-names-bad", services(
    service([("http", 80, 80, None)], name=None),
    service([("http", 80, 80, None)], ns=None),
    service([("http", 80, 80, None)], name="Web"),
    service([("http", 80, 80, None)], name="-web"),
    service([("http", 80, 80, None)], name="w" * 64),
    service([("http", 80, 80, None)], ns="a.b")))
write("svc-labels", services(
    service([("http", 80, 80, None)], labels={}),
    service([("http", 80, 80, None)],
            labels={"kedge.com/kedge-exposed": "false"}),
    service([("http", 80, 80, None)],
            labels={"kedge.com/kedge-exposed": "True"}),
    service([("http", 80, 80, None)], labels={"kedge-exposed": "true"}),
    service([("http", 80, 80, None)],
            labels={"kedge.com/kedge-exposed": "true\x00x"})))
write("svc-annotations", services(
    service([("grpc", 80, 80, None)], annotations={
        "kedge.com/host-matcher": "A.Example.COM",
        "kedge.com/service-name-matcher": "com.example.*"}),
    service([("grpc", 80, 80, None)], annotations={
        "kedge.com/host-matcher": "h" * 253,
        "kedge.com/service-name-matcher": "s" * 253}),
    service([("grpc", 80, 80, None)], annotations={
        "kedge.com/host-matcher": "h" * 254}),
    service([("grpc", 80, 80, None)], annotations={
        "kedge.com/host-matcher": "a b"}),
    service([("grpc", 80, 80, None)], annotations={
        "kedge.com/host-matcher": ".a"}),
    service([("grpc", 80, 80, None)], annotations={
        "kedge.com/service-name-matcher": "a*b"}),
    service([("grpc", 80, 80, None)], annotations={
        "kedge.com/service-name-matcher": "/a"}),
    service([("grpc", 80, 80, None)], annotations={
        "kedge.com/service-name-matcher": "*"}),
    service([("grpc", 80, 80, None)], annotations={
        "kedge.com/host-matcher": ""})))
write("svc-host-too-long", services(service([("http", 80, 80, None)],
                                            name="n" * 63, ns="s" * 63)))
svc_list = core.ServiceList()
svc_list.metadata.resourceVersion = "1"
write("svc-list-empty", envelope(svc_list))
write("watch-svc-events", event("ADDED", envelope(service(
    [("http", 80, 8080, None)]))) + event("MODIFIED", envelope(service(
        [("grpc", 81, "g", None)], annotations={
            "kedge.com/host-matcher": "x.example"})))
    + event("DELETED", envelope(service([])))
    + event("BOOKMARK", envelope(core.Service())))
