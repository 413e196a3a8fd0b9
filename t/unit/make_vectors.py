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
