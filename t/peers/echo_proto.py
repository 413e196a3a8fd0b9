"""echo.proto for the test peers: message classes and the method table.

grpc_tools is not installed, so the message module (echo_pb2) is generated
with protoc at run time into a cache directory, and the peers use grpc's
generic API (method paths plus (de)serializers) instead of service stubs.
"""
import collections
import importlib.util
import os
import subprocess
import tempfile

PROTO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "echo.proto")
DEFAULT_GEN_DIR = os.path.join(tempfile.gettempdir(), "kedge-peers-%d" % os.getuid())

# One RPC: its path, whether each side streams, and its message classes.
Method = collections.namedtuple(
    "Method", "path client_streaming server_streaming request reply")

# Short name -> path, client streams, server streams, request, reply.
_METHODS = {
    "Unary": ("/kedge.test.Echo/Unary", False, False, "EchoRequest", "EchoReply"),
    "ServerStream": ("/kedge.test.Echo/ServerStream", False, True, "EchoRequest", "EchoReply"),
    "ClientStream": ("/kedge.test.Echo/ClientStream", True, False, "EchoRequest", "EchoReply"),
    "Bidi": ("/kedge.test.Echo/Bidi", True, True, "EchoRequest", "EchoReply"),
    "Stats": ("/kedge.test.Echo/Stats", False, False, "StatsRequest", "StatsReply"),
    "OtherPing": ("/kedge.test.Other/Ping", False, False, "EchoRequest", "EchoReply"),
}
NAMES = tuple(_METHODS)


def load(gen_dir=DEFAULT_GEN_DIR):
    """Returns the echo_pb2 module, (re)generating it if stale."""
    module = os.path.join(gen_dir, "echo_pb2.py")
    if (not os.path.exists(module)
            or os.path.getmtime(module) < os.path.getmtime(PROTO)):
        os.makedirs(gen_dir, exist_ok=True)
        # Generate aside, then rename: peers may start concurrently.
        with tempfile.TemporaryDirectory(dir=gen_dir) as tmp:
            subprocess.run(["protoc", "-I", os.path.dirname(PROTO),
                            "--python_out", tmp, PROTO], check=True)
            os.replace(os.path.join(tmp, "echo_pb2.py"), module)
    spec = importlib.util.spec_from_file_location("echo_pb2", module)
    pb = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pb)
    return pb


def methods(pb):
    """Returns {short name: Method} for every RPC in echo.proto."""
    return {name: Method(path, cs, ss, getattr(pb, req), getattr(pb, rep))
            for name, (path, cs, ss, req, rep) in _METHODS.items()}
