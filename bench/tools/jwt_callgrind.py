#!/usr/bin/env python3
"""Instructions per request of the JWT paths, under callgrind: no auth,
a warm cache (one token again and again), a cold verify (a token never
seen before on every request) with ES256 and with RS256, and the two
invalid kinds; then the raw cost of one signature verification in
OpenSSL (bench/tools/verify_cost.c, what `openssl speed` times).  A count,
not a timing: other load on the machine does not move it.  Under
valgrind, OpenSSL runs without SHA-NI and ADX (valgrind hides them), so
its digests and P-256 cost more instructions than on the bare CPU, where
`openssl speed` and the wall-clock jwt group run.

    bench/tools/jwt_callgrind.py [--port 18990] [--requests 400]
                                 [--only noauth,warm,cold-es256,cold-rs256,
                                         expired,badsig,raw]
                                 [--keep DIR] [--module SO]

Needs the module built (make module), node (the OIDC fixture) and
valgrind.  One nginx process (master_process off) under callgrind; the
backend and the static issuer run outside it.  Ports: PORT (nginx),
PORT+1 (backend), PORT+2 and PORT+3 (issuer and its control port).
"""

import argparse
import http.client
import os
import shutil
import signal
import subprocess
import sys
import time

from callgrind_common import annotate, counts, sh, wait_port

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FX = os.path.join(REPO, "t", "fixtures", "oidc")
MODULE = os.path.join(REPO, "build", "nginx", "objs", "ngx_http_kedge_module.so")
CERTS = os.path.join(REPO, "build", "certs")
HOST = "bench.demo.local"

NGINX_CONF = """load_module %(module)s;
master_process off;
daemon off;
worker_processes 1;
error_log logs/error.log notice;
pid logs/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    server_tokens off;
    keepalive_requests 100000000;
    keepalive_timeout 600s;
    kedge_zone bench 64m;
    kedge_oidc_issuer %(iss)s ca_file=%(certs)s/ca.crt;
    kedge_backend web endpoints=127.0.0.1:%(backend)d protocol=http;
    kedge_http_route backend=web host=%(host)s;
    upstream kedge {
        kedge_balancer;
        keepalive 16;
        keepalive_requests 100000000;
        keepalive_timeout 600s;
    }
    server {
        listen 127.0.0.1:%(port)d;
        server_name %(host)s;
        location / {
            kedge_pass;
        }
        location /jwt/ {
            kedge_oidc issuer=%(iss)s client_id=kedge allow=bench;
            kedge_pass;
        }
    }
}
"""

BACKEND_CONF = """worker_processes 1;
daemon off;
error_log logs/error.log warn;
pid logs/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 3600s;
    server {
        listen 127.0.0.1:%(backend)d;
        location / {
            default_type text/plain;
            return 200 "backend 0123456789abcdef0123456789\\n";
        }
    }
}
"""


def tokens(work, keys, key, iss, n, name, extra=()):
    out = os.path.join(work, "tokens-" + name)
    sh(["node", os.path.join(REPO, "t", "fixtures", "oidc", "tokens.mjs"), keys, key, iss,
        str(n), out] + list(extra))
    with open(out) as f:
        return [line.strip() for line in f if line.strip()]


def measure(args, work, variant, path, toks, warm, n, expect):
    prefix = os.path.join(work, variant)
    shutil.rmtree(prefix, ignore_errors=True)
    os.makedirs(os.path.join(prefix, "logs"))
    conf = os.path.join(prefix, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF % dict(module=args.module, iss=args.iss, certs=CERTS,
                                  backend=args.port + 1, host=HOST, port=args.port))
    cg = os.path.join(prefix, "callgrind.out")
    vg = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + cg,
                           "/usr/sbin/nginx", "-p", prefix + "/", "-c", conf],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(args.port)
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=120)
        it = iter(toks) if toks else None

        def request():
            h = {"Host": HOST}
            if it:
                h["Proxy-Authorization"] = "Bearer " + next(it)
            conn.request("GET", path, headers=h)
            resp = conn.getresponse()
            resp.read()
            if resp.status != expect:
                raise RuntimeError("%s: %d, not %d" % (variant, resp.status, expect))

        # the first request may wait for the issuer's keys (503/401 until then)
        end = time.time() + 60
        while True:
            try:
                request()
                break
            except RuntimeError:
                if time.time() > end:
                    raise
                time.sleep(0.5)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=120)
                it = iter(toks) if toks else None
                if toks:
                    next(it)
        for _ in range(warm):
            request()
        sh(["callgrind_control", "-z", str(vg.pid)], stdout=subprocess.DEVNULL)
        for _ in range(n):
            request()
        sh(["callgrind_control", "-d", "measured", str(vg.pid)], stdout=subprocess.DEVNULL)
        conn.close()
    finally:
        vg.send_signal(signal.SIGTERM)
        vg.wait(timeout=120)
    dumps = [os.path.join(prefix, x) for x in os.listdir(prefix)
             if x.startswith("callgrind.out")
             and "measured" in open(os.path.join(prefix, x), errors="replace").read(4000)]
    dump = sorted(dumps)[-1]
    return counts(dump)["summary"] / n, dump


def raw_verify(work, n):
    exe = os.path.join(work, "verify_cost")
    sh(["gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", exe,
        os.path.join(HERE, "verify_cost.c"), "-lcrypto"])
    out = {}
    for alg in ("ES256", "RS256"):
        for what in ("speed", "jwt"):
            cg = os.path.join(work, "cg-verify-%s-%s" % (alg, what))
            sh(["valgrind", "--tool=callgrind", "--toggle-collect=verify_loop",
                "--callgrind-out-file=" + cg, exe, alg, what, str(n)],
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            out[(alg, what)] = counts(cg)["summary"] / n
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=18990)
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--only", default="")
    ap.add_argument("--keep", default=os.path.join(REPO, "build", "jwt-callgrind"))
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--module", default=MODULE)
    args = ap.parse_args()
    args.iss = "https://127.0.0.1:%d" % (args.port + 2)
    work = args.keep
    os.makedirs(work, exist_ok=True)
    keys = os.path.join(work, "keys")
    sh([os.path.join(FX, "install.sh")])
    sh([os.path.join(REPO, "scripts", "make-certs.sh"), CERTS], stdout=subprocess.DEVNULL)
    sh(["node", os.path.join(FX, "mint.mjs"), "keys", keys])
    n = args.requests
    warm = 50
    # (name, path, tokens, requests counted, status): the cheap ones
    # 2000 requests, the cold ones "--requests" (each a new token)
    many = 2000
    variants = [
        ("noauth", "/", None, many, 200),
        ("warm", "/jwt/x", tokens(work, keys, "ec1", args.iss, 1, "warm") * (many + warm + 1),
         many, 200),
        ("cold-es256", "/jwt/x", tokens(work, keys, "ec1", args.iss, n + warm + 1, "es"),
         n, 200),
        ("cold-rs256", "/jwt/x", tokens(work, keys, "rsa1", args.iss, n + warm + 1, "rs"),
         n, 200),
        ("expired", "/jwt/x", tokens(work, keys, "ec1", args.iss, 1, "exp",
                                     ["--exp-in", "-3600"]) * (many + warm + 1), many, 401),
        ("badsig", "/jwt/x", tokens(work, keys, "ec1", args.iss, 1, "bad",
                                    ["--bad-sig"]) * (many + warm + 1), many, 401),
    ]
    only = [x for x in args.only.split(",") if x]

    bprefix = os.path.join(work, "backend")
    os.makedirs(os.path.join(bprefix, "logs"), exist_ok=True)
    with open(os.path.join(bprefix, "nginx.conf"), "w") as f:
        f.write(BACKEND_CONF % dict(backend=args.port + 1))
    procs = [subprocess.Popen(["/usr/sbin/nginx", "-p", bprefix + "/", "-c",
                               os.path.join(bprefix, "nginx.conf")])]
    procs.append(subprocess.Popen(
        ["node", os.path.join(FX, "static-issuer.mjs"),
         "--listen", "127.0.0.1:%d" % (args.port + 2),
         "--control", "127.0.0.1:%d" % (args.port + 3),
         "--cert", CERTS + "/server.crt", "--key", CERTS + "/server.key",
         "--jwks", keys + "/jwks.json"], stdout=subprocess.PIPE, text=True))
    results = {}
    try:
        if not procs[1].stdout.readline().startswith("READY"):
            raise RuntimeError("static issuer did not start")
        wait_port(args.port + 1)
        for variant, path, toks, count, expect in variants:
            if only and variant not in only:
                continue
            ir, dump = measure(args, work, variant, path, toks, warm, count, expect)
            results[variant] = ir
            print("%-12s %10.0f instructions/request  (%s)" % (variant, ir, dump))
            # inclusive only: after a zero (-z) mid-stack, callgrind_annotate
            # charges odd self costs to main() and "(below main)"
            for v, fn, fl in annotate(dump, count, "yes")[:args.top]:
                print("    %10.0f  %s  [%s]" % (v, fn, fl))
            sys.stdout.flush()
    finally:
        for p in procs:
            p.terminate()
            p.wait()
    if not only or "raw" in only:
        raw = raw_verify(work, 200)
        for (alg, what), v in sorted(raw.items()):
            print("raw %s %-5s %10.0f instructions/verification" % (alg, what, v))
        if "noauth" in results:
            for alg in ("ES256", "RS256"):
                cold = results.get("cold-" + alg.lower())
                if cold:
                    print("%s: extra %.0f = %.3f x raw verify (speed)"
                          % (alg, cold - results["noauth"],
                             (cold - results["noauth"]) / raw[(alg, "speed")]))
            if "warm" in results:
                # user space only, and OpenSSL without SHA-NI under
                # valgrind: not the wall-clock target's ratio
                print("warm: extra %.0f instructions over no auth"
                      % (results["warm"] - results["noauth"]))


if __name__ == "__main__":
    main()
