#!/usr/bin/env python3
"""Instructions per request of the proxy paths under callgrind, plain
NGINX (bench/conf/nginx-plain.conf: proxy_pass, grpc_pass) against
ngx_kedge_module (bench/conf/nginx-kedge.conf: kedge_pass), for
HTTP/1.1, HTTP/2 (h2c to HTTP/1.1 backends) and gRPC unary (h2c to h2c
backends): the configurations of bench.py's proxy group, with the
module's functions and every function whose cost differs listed.  A
count, not a timing: other load on the machine does not move it, so it
needs no quiet machine and no fixed ports.

    bench/tools/proxy_callgrind.py [--port 18980] [--requests 2000]
                                   [--only plain-h1,kedge-h1,plain-h2,
                                           kedge-h2,plain-grpc,kedge-grpc]
                                   [--module SO] [--repeat 3] [--scale] [--diff]
                                   [--http 'request_pool_size 8k']
                                   [--kedge-http 'kedge_request_id off']
                                   [--headers [--client-id]] [--keep DIR]

One nginx process (master_process off) under callgrind at a time on
ports PORT to PORT+3; the backends (one nginx outside valgrind, with
Debian's Lua module for the gRPC answers, as bench/conf/backends.conf)
listen on 127.0.7.1-10 at PORT+5 (HTTP/1.1) and PORT+6 (gRPC).  Warm-up
(200 requests: upstream connections, caches), callgrind_control -z, N
requests, a dump; the count is the dump's "summary:" line divided by N
("totals:" is not the program's total in a dump taken after a zero:
--scale runs N and 2N requests and shows which of the two scales).
"""

import argparse
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import callgrind_common
from callgrind_common import counts, sh, wait_port

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench import (CLIENT_ID, COMMON_HTTP, GRPC_PATH, HOST,  # noqa: E402
                   KEDGE_HEADERS, check_kedge_headers, kedge_upstream)

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
REPO = os.path.dirname(BENCH)
MODULE = os.path.join(REPO, "build", "nginx", "objs", "ngx_http_kedge_module.so")
ENDPOINTS = 10

COMMON_MAIN = """master_process off;
daemon off;
worker_processes 1;
error_log logs/error.log notice;
pid logs/nginx.pid;

events {
    worker_connections 1024;
}"""


BACKEND_CONF = """load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
worker_processes 1;
daemon off;
error_log logs/error.log warn;
pid logs/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 3600s;
    server_tokens off;
    server {
%(http)s
        location / {
            default_type text/plain;
            return 200 "backend $server_addr:$server_port 0123456789abcdef0123456789\\n";
        }
    }
    server {
%(grpc)s
        lua_need_request_body on;
        location / {
            default_type application/grpc;
            add_trailer grpc-status 0;
            add_trailer grpc-message "";
            content_by_lua_block {
                ngx.print("\\0\\0\\0\\0\\14\\10\\5hello\\18\\5bench")
            }
        }
    }
}
"""


def fill(template, **values):
    text = open(os.path.join(BENCH, "conf", template)).read()
    for k, v in values.items():
        text = text.replace("@%s@" % k, str(v))
    left = re.findall(r"@[A-Z0-9_]+@", text)
    if left:
        raise RuntimeError("%s: unfilled %s" % (template, left))
    return text


def endpoints(port):
    return ["127.0.7.%d:%d" % (i + 1, port) for i in range(ENDPOINTS)]


# "headers": plain NGINX writing kedge's headers (bench.py's
# KEDGE_HEADERS) with the client's id (--client-id) or nginx's
# $request_id (kedge makes its own)


def conf(args, contender):
    p = args.port
    common_http = COMMON_HTTP + "".join("\n    %s;" % d for d in args.http if d)
    listens = ("        listen 127.0.0.1:%d;\n"
               "        listen 127.0.0.1:%d http2;" % (p, p + 1))
    web, grpc = endpoints(p + 5), endpoints(p + 6)
    if contender in ("plain", "headers"):
        extra = {"proxy": "", "grpc": ""}
        if contender == "headers":
            rid = "$http_x_kedge_request_id" if args.client_id else "$request_id"
            extra = {k: v.replace("$http_x_kedge_request_id", rid)
                     for k, v in KEDGE_HEADERS.items()}
        return fill("nginx-plain.conf", COMMON_MAIN=COMMON_MAIN, COMMON_HTTP=common_http,
                    LISTENS=listens, GRPC_PORT=p + 2, KEEPALIVE=256,
                    PROXY_EXTRA=extra["proxy"], GRPC_EXTRA=extra["grpc"],
                    WEB_SERVERS="\n".join("        server %s;" % e for e in web),
                    GRPC_SERVERS="\n".join("        server %s;" % e for e in grpc))
    return fill("nginx-kedge.conf", MODULE=args.module, COMMON_MAIN=COMMON_MAIN,
                COMMON_HTTP=common_http, LISTENS=listens, OPS_PORT=p + 3,
                UPSTREAM=kedge_upstream(256), KUBERNETES="",
                EXTRA_HTTP="".join("    %s;\n" % d for d in args.kedge_http if d),
                EXTRA_LOCATIONS="",
                BACKENDS="\n".join([
                    "    kedge_backend web endpoints=%s protocol=http;" % ",".join(web),
                    "    kedge_backend echo endpoints=%s protocol=grpc;" % ",".join(grpc)]),
                ROUTES="\n".join([
                    "    kedge_http_route backend=web host=%s;" % HOST,
                    "    kedge_grpc_route backend=echo service=kedge.test.Echo/*;"]))


def expect_id(args, contender):
    """whether the responses carry X-Kedge-Request-ID"""
    return contender == "headers" or not any(
        "kedge_request_id off" in d for d in args.kedge_http)


def requests(args, work, contender, proto, count):
    p = args.port
    if proto == "h1":
        headers = {"Host": HOST}
        if args.client_id:
            headers["X-Kedge-Request-ID"] = CLIENT_ID
        conn = http.client.HTTPConnection("127.0.0.1", p, timeout=120)
        for _ in range(count):
            conn.request("GET", "/", headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200 or not body.startswith(b"backend "):
                raise RuntimeError("%s-%s: %d %r" % (contender, proto, resp.status, body))
        conn.close()
        return
    # one HTTP/2 connection, one stream at a time
    cmd = ["h2load", "-n%d" % count, "-c1", "-m1", "-H", ":authority: %s" % HOST]
    if args.client_id:
        cmd += ["-H", "x-kedge-request-id: %s" % CLIENT_ID]
    if proto == "grpc":
        cmd += ["-d", os.path.join(work, "grpc-request.bin"),
                "-H", "content-type: application/grpc", "-H", "te: trailers"]
        port = p + 1 if contender == "kedge" else p + 2
        url = "http://127.0.0.1:%d%s" % (port, GRPC_PATH)
    else:
        url = "http://127.0.0.1:%d/" % (p + 1)
    o = subprocess.run(cmd + [url], capture_output=True, text=True).stdout
    if not re.search(r"%d succeeded, 0 failed" % count, o):
        raise RuntimeError("%s-%s: %s" % (contender, proto, o))


def measure(args, work, contender, proto, n, run=0):
    name = "%s-%s-%d-%d" % (contender, proto, n, run)
    prefix = os.path.join(work, name)
    shutil.rmtree(prefix, ignore_errors=True)
    os.makedirs(os.path.join(prefix, "logs"))
    path = os.path.join(prefix, "nginx.conf")
    with open(path, "w") as f:
        f.write(conf(args, contender))
    cg = os.path.join(prefix, "callgrind.out")
    vg = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + cg,
                           "/usr/sbin/nginx", "-p", prefix + "/", "-c", path],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(args.port)
        requests(args, work, contender, proto, 200)     # warm
        if contender != "plain":
            p = args.port
            check_kedge_headers("%s-%s" % (contender, proto),
                                {"h1": p, "h2c": p + 1,
                                 "grpc": p + 1 if contender == "kedge" else p + 2},
                                proto, args.client_id, expect_id(args, contender),
                                os.path.join(work, "grpc-request.bin"))
        # a dump zeroes every count: "-z" leaves the costs of start-up in
        # the functions' own counts (not in "summary:", the program's)
        sh(["callgrind_control", "-d", "warm", str(vg.pid)], stdout=subprocess.DEVNULL)
        requests(args, work, contender, proto, n)
        sh(["callgrind_control", "-d", "measured", str(vg.pid)], stdout=subprocess.DEVNULL)
    finally:
        vg.send_signal(signal.SIGTERM)
        try:
            vg.wait(timeout=120)
        except subprocess.TimeoutExpired:
            vg.kill()
            vg.wait()
    dumps = [os.path.join(prefix, x) for x in os.listdir(prefix)
             if x.startswith("callgrind.out")
             and "measured" in open(os.path.join(prefix, x), errors="replace").read(4000)]
    if not dumps:
        raise RuntimeError("%s: no dump" % name)
    dump = sorted(dumps)[-1]
    return counts(dump), dump


def annotate(dump, n, inclusive):
    """function -> (instructions per request, file)"""
    return {fn: (ir, fl) for ir, fn, fl in callgrind_common.annotate(dump, n, inclusive)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=18980)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--only", default="")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs of each variant, the median shown (gRPC moves by "
                         "1-3 %% from run to run: how the frames arrive)")
    ap.add_argument("--module", default=MODULE)
    ap.add_argument("--keep", default=os.path.join(REPO, "build", "proxy-callgrind"))
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--scale", action="store_true",
                    help="N and 2N requests: which of summary/totals scales")
    ap.add_argument("--http", action="append", default=[],
                    help="a directive for both http{} blocks (request_pool_size 8k)")
    ap.add_argument("--kedge-http", action="append", default=[],
                    help="a directive for kedge's http{} block (kedge_request_id off)")
    ap.add_argument("--diff", action="store_true",
                    help="self cost per request of every function, kedge - plain")
    ap.add_argument("--headers", action="store_true",
                    help="also plain NGINX writing kedge's headers "
                         "(bench.py's KEDGE_HEADERS)")
    ap.add_argument("--client-id", action="store_true",
                    help="every request carries a well-formed X-Kedge-Request-ID, "
                         "which kedge keeps")
    args = ap.parse_args()
    args.module = os.path.abspath(args.module)
    work = args.keep
    os.makedirs(work, exist_ok=True)
    with open(os.path.join(work, "grpc-request.bin"), "wb") as f:
        msg = b"\x0a\x05hello"                  # EchoRequest{message: "hello"}
        f.write(b"\x00" + len(msg).to_bytes(4, "big") + msg)

    bprefix = os.path.join(work, "backends")
    os.makedirs(os.path.join(bprefix, "logs"), exist_ok=True)
    with open(os.path.join(bprefix, "nginx.conf"), "w") as f:
        f.write(BACKEND_CONF % dict(
            http="\n".join("        listen %s;" % e for e in endpoints(args.port + 5)),
            grpc="\n".join("        listen %s http2;" % e for e in endpoints(args.port + 6))))
    backend = subprocess.Popen(["/usr/sbin/nginx", "-p", bprefix + "/", "-c",
                                os.path.join(bprefix, "nginx.conf")])
    only = [x for x in args.only.split(",") if x]
    n = args.requests
    results = {}
    try:
        time.sleep(0.5)
        if backend.poll() is not None:
            raise RuntimeError("the backends did not start: %s/logs/error.log" % bprefix)
        for proto in ("h1", "h2", "grpc"):
            for contender in ("plain", "headers", "kedge"):
                variant = "%s-%s" % (contender, proto)
                if only and variant not in only:
                    continue
                if not only and contender == "headers" and not args.headers:
                    continue
                runs = []
                for i in range(args.repeat):
                    c, dump = measure(args, work, contender, proto, n, i)
                    runs.append((c["summary"] / n, c, dump))
                runs.sort(key=lambda x: x[0])
                ir, c, dump = runs[len(runs) // 2]          # the median
                results[variant] = (ir, dump)
                line = "%-11s %8.0f instructions/request (summary)" % (variant, ir)
                if args.repeat > 1:
                    line += ", median of %d: %s" % (
                        args.repeat, " ".join("%.0f" % x[0] for x in runs))
                if args.scale:
                    c2, _ = measure(args, work, contender, proto, 2 * n)
                    line += ("; %d and %d requests: summary %d -> %d (x%.3f), "
                             "totals %d -> %d (x%.3f)"
                             % (n, 2 * n, c["summary"], c2["summary"],
                                c2["summary"] / c["summary"], c.get("totals", 0),
                                c2.get("totals", 0),
                                c2.get("totals", 0) / max(c.get("totals", 1), 1)))
                print(line + "  (%s)" % dump)
                rows = annotate(dump, n, "yes")
                # the module's functions, inclusive
                for fn, (v, fl) in sorted(rows.items(), key=lambda x: -x[1][0]):
                    if "kedge" in fl and v >= 5:
                        print("    %8.0f  %s  [%s]" % (v, fn, fl))
                sys.stdout.flush()
    finally:
        backend.terminate()
        backend.wait()

    print()
    for proto in ("h1", "h2", "grpc"):
        a, b = results.get("plain-" + proto), results.get("kedge-" + proto)
        if not (a and b):
            continue
        print("%-4s plain %8.0f  kedge %8.0f  +%6.0f  plain/kedge %.3f"
              % (proto, a[0], b[0], b[0] - a[0], a[0] / b[0]))
        h = results.get("headers-" + proto)
        if h:
            print("%-4s plain with kedge's headers %8.0f (+%.0f on plain)  "
                  "headers/kedge %.3f" % (proto, h[0], h[0] - a[0], h[0] / b[0]))
        if args.diff:
            # self costs; main() and "(below main)" are odd after a zero
            sa, sb = annotate(a[1], n, "no"), annotate(b[1], n, "no")
            diff = []
            for fn in set(sa) | set(sb):
                if sb.get(fn, (0, ""))[0] > 0.9 * b[0]:
                    continue        # main() and the like: the whole program
                d = sb.get(fn, (0, ""))[0] - sa.get(fn, (0, ""))[0]
                if abs(d) >= 10:
                    diff.append((d, fn, (sb.get(fn) or sa.get(fn))[1]))
            diff.sort(reverse=True)
            shown = diff[:args.top] + [x for x in diff[args.top:] if x[0] < 0][-8:]
            for i, (d, fn, fl) in enumerate(shown):
                if i == args.top:
                    print("    ...")
                print("    %+8.0f  %s  [%s]" % (d, fn, fl))


if __name__ == "__main__":
    main()
