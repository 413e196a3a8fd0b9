#!/usr/bin/python3
"""Test vectors for t/unit/k8s_test.c, encoded by Google's protobuf
(python3-protobuf), an implementation independent of the module's
protobuf-c code: usage make_vectors.py PY_OUT_DIR VECTOR_DIR."""

import importlib
import os
import struct
import sys

sys.path.insert(0, sys.argv[1])
out = sys.argv[2]

meta = importlib.import_module("k8s.io.apimachinery.pkg.apis.meta.v1.generated_pb2")
runtime = importlib.import_module("k8s.io.apimachinery.pkg.runtime.generated_pb2")
disc = importlib.import_module("k8s.io.api.discovery.v1.generated_pb2")


def envelope(obj, kind, encoding=None, raw=True):
    u = runtime.Unknown()
    u.typeMeta.apiVersion = "discovery.k8s.io/v1"
    u.typeMeta.kind = kind
    if raw:
        u.raw = obj.SerializeToString()
    u.contentType = "application/vnd.kubernetes.protobuf"
    if encoding:
        u.contentEncoding = encoding
    return b"k8s\x00" + u.SerializeToString()


def slice_(name, addr_type, endpoints, ports):
    s = disc.EndpointSlice()
    s.metadata.name = name
    s.metadata.namespace = "default"
    s.metadata.resourceVersion = "42"
    s.addressType = addr_type
    for addrs, ready in endpoints:
        e = s.endpoints.add()
        e.addresses.extend(addrs)
        if ready is not None:
            e.conditions.ready = ready
            e.conditions.serving = True
            e.conditions.terminating = not ready
    for name_, port in ports:
        p = s.ports.add()
        if name_:
            p.name = name_
        p.port = port
        p.protocol = "TCP"
    return s


def write(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


ports = [("http", 8080), ("grpc", 9090)]
a = slice_("web-a", "IPv4", [(["10.0.0.1"], True), (["10.0.0.2"], False),
                              (["10.0.0.3"], None)], ports)
b = slice_("web-b", "FQDN", [(["web.example.com"], True)], ports)
c = slice_("web-c", "IPv6", [(["fd00::1"], True)], [("http", 8080)])

lst = disc.EndpointSliceList()
lst.metadata.resourceVersion = "1234"
lst.items.extend([a, b, c])
write("list.bin", envelope(lst, "EndpointSliceList"))


def frame(event_type, obj, kind):
    ev = meta.WatchEvent()
    ev.type = event_type
    ev.object.raw = envelope(obj, kind)
    data = ev.SerializeToString()
    return struct.pack(">I", len(data)) + data


status = meta.Status()
status.status = "Failure"
status.reason = "Expired"
status.code = 410
bookmark = disc.EndpointSlice()
bookmark.metadata.resourceVersion = "1300"
write("watch.bin", frame("ADDED", a, "EndpointSlice")
      + frame("BOOKMARK", bookmark, "EndpointSlice")
      + frame("ERROR", status, "Status"))

# hostile input
write("nomagic.bin", envelope(lst, "EndpointSliceList")[4:])
write("truncated.bin", envelope(lst, "EndpointSliceList")[:-7])
write("noraw.bin", envelope(lst, "EndpointSliceList", raw=False))
write("gzip.bin", envelope(lst, "EndpointSliceList", encoding="gzip"))
bad = slice_("bad", "IPv4", [(["10.0.0.999"], True)], ports)
lst2 = disc.EndpointSliceList()
lst2.items.extend([bad])
write("badaddr.bin", envelope(lst2, "EndpointSliceList"))
write("bigframe.bin", struct.pack(">I", 64 * 1024 * 1024) + b"x" * 16)

# Services, for kedge's dynamic routing discovery
core = importlib.import_module("k8s.io.api.core.v1.generated_pb2")


def service(ns, name, ports, labels=None, annotations=None):
    s = core.Service()
    s.metadata.name = name
    s.metadata.namespace = ns
    s.metadata.resourceVersion = "7"
    for k, v in (labels or {}).items():
        s.metadata.labels[k] = v
    for k, v in (annotations or {}).items():
        s.metadata.annotations[k] = v
    s.spec.type = "ClusterIP"
    for pname, port, target, proto in ports:
        p = s.spec.ports.add()
        if pname is not None:
            p.name = pname
        p.port = port
        if proto is not None:
            p.protocol = proto
        # IntOrString: type 0 + intVal, or type 1 + strVal, as gogo writes
        if isinstance(target, str):
            p.targetPort.type, p.targetPort.strVal = 1, target
            p.targetPort.intVal = 0
        elif target is not None:
            p.targetPort.type, p.targetPort.intVal = 0, target
            p.targetPort.strVal = ""
    return s


EXPOSED = {"kedge.com/kedge-exposed": "true"}

services = core.ServiceList()
services.metadata.resourceVersion = "99"
services.items.extend([
    service("default", "web", [
        ("http", 80, 8080, "TCP"),
        ("grpc-api", 81, "grpc-port", "TCP"),
        ("httptls-admin", 443, None, None),
        ("grpctls", 9443, 9443, "TCP"),
        ("metrics", 9100, 9100, "TCP"),
        ("http-udp", 53, 53, "UDP"),
        (None, 82, 82, "TCP"),
    ], labels=dict(EXPOSED, app="web")),
    service("default", "plain", [("http", 80, 8080, "TCP")]),
    service("default", "false", [("http", 80, 8080, "TCP")],
            labels={"kedge.com/kedge-exposed": "false"}),
    service("my-team", "my-svc", [("http-web", 8081, 8080, "TCP")],
            labels=EXPOSED,
            annotations={"kedge.com/host-matcher": "Web.Example.COM",
                         "kedge.com/service-name-matcher": "com.example.*"}),
    service("default", "badhost", [("http", 80, 8080, "TCP")],
            labels=EXPOSED,
            annotations={"kedge.com/host-matcher": "bad host"}),
    service("default", "a" * 40, [("http", 80, "b" * 30, "TCP")],
            labels=EXPOSED),
    service("default", "other", [("http", 80, 8080, "TCP")],
            labels={"example.org/kedge-exposed": "true"}),
])
u = runtime.Unknown()
u.typeMeta.apiVersion = "v1"
u.typeMeta.kind = "ServiceList"
u.raw = services.SerializeToString()
u.contentType = ""
u.contentEncoding = ""
write("services.bin", b"k8s\x00" + u.SerializeToString())
