#!/usr/bin/python3
"""gRPC test client for ngx_kedge_module: calls echo.proto (see README.md).

usage: grpc_client.py --target HOST:PORT [--authority NAME[:PORT]]
                      [--tls [--ca FILE] [--cert FILE --key FILE]]
                      [--method METHOD] [--count N] [--repeat N]
                      [-H KEY=VALUE]... [--message TEXT] [--delay MS]
                      [--reset] [--timeout SEC] [--gen-dir DIR]

METHOD is Unary (default), ServerStream, ClientStream, Bidi, OtherPing,
Stats, or a method path like /kedge.test.Echo/Unary; a path not in
echo.proto is called as a unary EchoRequest -> EchoReply call. --count is the
number of replies (ServerStream) or requests (ClientStream, Bidi). --repeat
makes N calls one after the other on one channel, i.e. one connection.

Output, one line each, in order; fields are separated by one space:

  every reply:     status=OK backend=B authority=A seq=N conn=K message=M meta=LIST
  a Stats reply:   status=OK backend=B connections=N calls=N
  a failed call:   status=NAME code=N message=DETAILS
  a call that succeeded without replies:  status=OK replies=0

conn=K numbers the backend connections that carried the replies seen by this
run, 0, 1, ... in order of first appearance (by backend and peer address), so
"conn=0" on every line means one connection served every call. meta=LIST is
the metadata the backend received: "key=value" items sorted by key (stable)
and joined with ",", "-bin" values base64-encoded; values are verbatim (the
user-agent holds spaces), which is why meta comes last, as do DETAILS.
A status=OK reply line only means the reply arrived: a call that fails after
replying prints its replies, then its status line. --repeat prints each call's
lines in turn. Exits 0 whatever the calls' statuses, 2 on usage errors.
"""
import argparse
import re

import grpc

import echo_proto


def parse_args():
    p = argparse.ArgumentParser(description="gRPC echo client for tests")
    p.add_argument("--target", required=True, metavar="HOST:PORT")
    p.add_argument("--authority", metavar="NAME[:PORT]",
                   help="the :authority to send; with --tls also the SNI and the name to verify")
    p.add_argument("--tls", action="store_true", help="connect with TLS")
    p.add_argument("--ca", help="with --tls: CA file to verify the server (default: system CAs)")
    p.add_argument("--cert", help="with --tls: client certificate file")
    p.add_argument("--key", help="with --tls: client key file")
    p.add_argument("--method", default="Unary")
    p.add_argument("--count", type=int, default=3, help="stream length (default: 3)")
    p.add_argument("--repeat", type=int, default=1, help="calls on one channel (default: 1)")
    p.add_argument("-H", dest="metadata", action="append", default=[], metavar="KEY=VALUE",
                   help="metadata to send; repeatable")
    p.add_argument("--message", default="hello")
    p.add_argument("--delay", type=int, default=0, metavar="MS",
                   help="ask the backend to sleep MS before each reply")
    p.add_argument("--reset", action="store_true", help="Stats: zero the counters after reading")
    p.add_argument("--timeout", type=float, default=10, metavar="SEC", help="per call (default: 10)")
    p.add_argument("--gen-dir", default=echo_proto.DEFAULT_GEN_DIR,
                   help="where to generate echo_pb2.py (default: %(default)s)")
    args = p.parse_args()
    if (args.ca or args.cert or args.key) and not args.tls:
        p.error("--ca, --cert and --key need --tls")
    if bool(args.cert) != bool(args.key):
        p.error("--cert and --key go together")
    if args.method not in echo_proto.NAMES and not re.fullmatch(r"/?[^/]+/[^/]+", args.method):
        p.error("--method: not a known method nor a /service/method path: " + args.method)
    try:
        args.metadata = [metadatum(kv) for kv in args.metadata]
    except ValueError as e:
        p.error(str(e))
    return args


def metadatum(text):
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError("-H: expected KEY=VALUE: " + text)
    key = key.lower()  # grpc insists on lowercase keys, as HTTP/2 does
    return key, value.encode() if key.endswith("-bin") else value


def resolve(name, methods, pb):
    """The Method for a short name or a path."""
    if name in methods:
        return methods[name]
    path = name if name.startswith("/") else "/" + name
    for m in methods.values():
        if m.path == path:
            return m
    return echo_proto.Method(path, False, False, pb.EchoRequest, pb.EchoReply)


def read(path):
    if path is None:
        return None
    with open(path, "rb") as f:
        return f.read()


def open_channel(args):
    # grpcio would honour http_proxy/https_proxy/grpc_proxy from the
    # environment; tests always mean to connect to the target itself.
    options = [("grpc.enable_http_proxy", 0)]
    # With TLS, grpcio also sends the authority's host as SNI and checks the
    # server certificate against it (grpc.ssl_target_name_override is not
    # needed, and a value differing from the authority fails every call).
    if args.authority:
        options.append(("grpc.default_authority", args.authority))
    if not args.tls:
        return grpc.insecure_channel(args.target, options)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=read(args.ca), private_key=read(args.key),
        certificate_chain=read(args.cert))
    return grpc.secure_channel(args.target, credentials, options)


class Printer:
    """Prints replies and statuses in the documented line format."""

    def __init__(self, pb):
        self.pb = pb
        self.connections = {}  # (backend, peer) -> ordinal

    def reply(self, r):
        if isinstance(r, self.pb.StatsReply):
            print("status=OK backend=%s connections=%d calls=%d"
                  % (r.backend, r.connections, r.calls))
            return
        conn = self.connections.setdefault((r.backend, r.peer), len(self.connections))
        meta = sorted(r.metadata, key=lambda kv: kv.partition("=")[0])
        print("status=OK backend=%s authority=%s seq=%d conn=%d message=%s meta=%s"
              % (r.backend, r.authority, r.seq, conn, r.message, ",".join(meta)))

    @staticmethod
    def error(e):
        code = e.code()
        print("status=%s code=%d message=%s" % (code.name, code.value[0], e.details() or ""))


def call(channel, method, request, args, printer):
    """Makes one call, printing its replies and, if it fails, its status."""
    kind = {(False, False): channel.unary_unary, (False, True): channel.unary_stream,
            (True, False): channel.stream_unary, (True, True): channel.stream_stream}
    invoke = kind[method.client_streaming, method.server_streaming](
        method.path, request_serializer=method.request.SerializeToString,
        response_deserializer=method.reply.FromString)

    if method.client_streaming:
        request = iter([request] * args.count)
    replies = 0
    try:
        result = invoke(request, timeout=args.timeout, metadata=args.metadata)
        for reply in result if method.server_streaming else [result]:
            printer.reply(reply)
            replies += 1
    except grpc.RpcError as e:
        printer.error(e)
        return
    if replies == 0:
        print("status=OK replies=0")


def main():
    args = parse_args()
    pb = echo_proto.load(args.gen_dir)
    method = resolve(args.method, echo_proto.methods(pb), pb)
    if method.request is pb.StatsRequest:
        request = pb.StatsRequest(reset=args.reset)
    else:
        request = pb.EchoRequest(message=args.message, count=args.count, delay_ms=args.delay)
    printer = Printer(pb)
    with open_channel(args) as channel:
        for _ in range(args.repeat):
            call(channel, method, request, args, printer)


if __name__ == "__main__":
    main()
