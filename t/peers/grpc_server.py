#!/usr/bin/python3
"""gRPC test backend for ngx_kedge_module: serves echo.proto (see README.md).

usage: grpc_server.py --listen HOST:PORT[=NAME] [--listen ...] [--name NAME]
                      [--tls CERT KEY [--client-ca CA]] [--fail-code CODE]
                      [--gen-dir DIR]

Every --listen address (the flag repeats and takes comma-separated lists) is
a separate backend named NAME, else --name, with its own counters. Port 0
picks a free port. Once all serve, prints one line "READY <port> [<port>...]"
(bound ports, in --listen order) to stdout; exits 0 on SIGTERM or SIGINT.

Connections are counted as distinct peers: grpcio does not report accepts,
but context.peer() is "ipv4:127.0.0.1:<client port>", which tells the client
TCP connections apart (the kernel does not soon give a client the same
ephemeral port for the same server again), so the set of peers that made
calls is the set of connections that carried one; connections that never
carry a call are not seen.
"""
import argparse
import base64
import signal
import sys
import threading
import time
from concurrent import futures

import grpc

import echo_proto


def status_code(text):
    """argparse type: a grpc status code, by name or number, other than OK."""
    for code in grpc.StatusCode:
        if text.upper() == code.name or text == str(code.value[0]):
            if code is grpc.StatusCode.OK:
                break
            return code
    raise argparse.ArgumentTypeError("not a grpc error status: %s" % text)


def authority(context):
    """The :authority of the call. grpcio has no public API for it, but the
    core's call details, private to the context, carry it as "host"."""
    return context._rpc_event.call_details.host.decode()


def render_metadata(metadata):
    return ["%s=%s" % (k, base64.b64encode(v).decode() if k.endswith("-bin") else v)
            for k, v in metadata]


def pause(request):
    if request.delay_ms > 0:
        time.sleep(request.delay_ms / 1000)


class Backend:
    """Implements echo.proto's services for one listening address."""

    def __init__(self, pb, name, fail_code):
        self.pb = pb
        self.name = name
        self.fail_code = fail_code
        self.lock = threading.Lock()
        self.peers = set()
        self.calls = 0

    def begin(self, context):
        """Counts the call and its connection; fails it if so configured."""
        with self.lock:
            self.calls += 1
            self.peers.add(context.peer())
        if self.fail_code:
            context.abort(self.fail_code, "%s: failing on purpose" % self.name)

    def reply(self, context, message, seq):
        return self.pb.EchoReply(
            message=message, backend=self.name, authority=authority(context),
            metadata=render_metadata(context.invocation_metadata()),
            seq=seq, peer=context.peer())

    def unary(self, request, context):
        self.begin(context)
        pause(request)
        return self.reply(context, request.message, 0)

    def server_stream(self, request, context):
        self.begin(context)
        for seq in range(request.count):
            pause(request)
            yield self.reply(context, request.message, seq)

    def client_stream(self, requests, context):
        self.begin(context)
        messages = []
        for request in requests:
            messages.append(request.message)
        if messages:
            pause(request)  # the last request's delay
        return self.reply(context, ",".join(messages), len(messages))

    def bidi(self, requests, context):
        self.begin(context)
        for seq, request in enumerate(requests):
            pause(request)
            yield self.reply(context, request.message, seq)

    def stats(self, request, context):
        with self.lock:
            reply = self.pb.StatsReply(backend=self.name, connections=len(self.peers),
                                       calls=self.calls)
            if request.reset:
                self.peers.clear()
                self.calls = 0
        return reply

    def handlers(self):
        """Generic handlers for every method in echo_proto.methods()."""
        kinds = {  # (client streams, server streams) -> handler factory
            (False, False): grpc.unary_unary_rpc_method_handler,
            (False, True): grpc.unary_stream_rpc_method_handler,
            (True, False): grpc.stream_unary_rpc_method_handler,
            (True, True): grpc.stream_stream_rpc_method_handler,
        }
        impls = {"Unary": self.unary, "ServerStream": self.server_stream,
                 "ClientStream": self.client_stream, "Bidi": self.bidi,
                 "Stats": self.stats, "OtherPing": self.unary}
        services = {}
        for short, m in echo_proto.methods(self.pb).items():
            service, method = m.path[1:].split("/")
            services.setdefault(service, {})[method] = kinds[
                m.client_streaming, m.server_streaming](
                    impls[short], request_deserializer=m.request.FromString,
                    response_serializer=m.reply.SerializeToString)
        return [grpc.method_handlers_generic_handler(s, h) for s, h in services.items()]


def parse_args():
    p = argparse.ArgumentParser(description="gRPC echo backend for tests")
    p.add_argument("--listen", action="append", required=True, metavar="HOST:PORT[=NAME]",
                   help="address to serve; repeatable, or comma-separated")
    p.add_argument("--name", default="backend", help="backend name (default: backend)")
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve TLS")
    p.add_argument("--client-ca", metavar="CA", help="with --tls: require client certs from CA")
    p.add_argument("--fail-code", type=status_code, metavar="CODE",
                   help="fail every call (Stats excepted) with this status, name or number")
    p.add_argument("--gen-dir", default=echo_proto.DEFAULT_GEN_DIR,
                   help="where to generate echo_pb2.py (default: %(default)s)")
    args = p.parse_args()
    if args.client_ca and not args.tls:
        p.error("--client-ca needs --tls")
    return args


def read(path):
    with open(path, "rb") as f:
        return f.read()


def main():
    args = parse_args()
    pb = echo_proto.load(args.gen_dir)
    credentials = None
    if args.tls:
        credentials = grpc.ssl_server_credentials(
            [(read(args.tls[1]), read(args.tls[0]))],
            root_certificates=read(args.client_ca) if args.client_ca else None,
            require_client_auth=bool(args.client_ca))

    servers, ports = [], []
    for spec in (s for value in args.listen for s in value.split(",")):
        address, _, name = spec.partition("=")
        # grpcio sets SO_REUSEPORT by default, which would let two test
        # servers share a port silently; turn it off so binding fails.
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=64),
                             options=[("grpc.so_reuseport", 0)])
        server.add_generic_rpc_handlers(Backend(pb, name or args.name, args.fail_code).handlers())
        try:
            if credentials:
                port = server.add_secure_port(address, credentials)
            else:
                port = server.add_insecure_port(address)
        except RuntimeError as e:  # grpcio raises on bind failures
            sys.exit("grpc_server.py: cannot listen on %s: %s" % (address, e))
        servers.append(server)
        ports.append(str(port))

    # Start only once all are bound, so that a bind failure exits at once.
    for server in servers:
        server.start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print("READY", " ".join(ports), flush=True)
    stop.wait()
    for event in [s.stop(grace=1) for s in servers]:
        event.wait()


if __name__ == "__main__":
    main()
