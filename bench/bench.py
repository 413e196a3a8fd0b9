#!/usr/bin/python3
"""The benchmark of ngx_kedge_module against plain NGINX, an ingress-nginx
style Lua balancer and HAProxy.  Run it through bench/run.sh, which
installs and builds what it needs first.

    bench/run.sh [--quick] [--groups G,...] [--rounds N] [--duration S]

Every contender runs on loopback side by side with the others, one worker
(or thread) pinned to the proxy core; the load generator, the backends and
the Kubernetes API fixture share the other core.  Within a group of
scenarios the rounds are interleaved (each round runs every measurement of
the group once, in a shuffled order) and the medians are reported.  The
results, ratios against the baseline measured in the same run, raw figures,
the machine and the date go to bench/RESULTS.md.  See bench/README.md.
"""

import argparse
import datetime
import json
import os
import platform
import random
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
WORK = os.path.join(REPO, "build", "bench")
CERTS = os.path.join(REPO, "build", "certs")

CPU_PROXY = "0"       # the proxy under test
CPU_LOAD = "1"        # load generator, backends, API fixture

CONTENDERS = ["nginx", "lua", "haproxy", "kedge"]
BASELINE = "nginx"
LABEL = {
    "nginx": "plain NGINX (baseline)",
    "lua": "NGINX + balancer_by_lua",
    "haproxy": "HAProxy",
    "kedge": "ngx_kedge_module",
}

# ports (all 127.0.0.0/8): contenders 18000-18399, backends 18400-18699,
# the Kubernetes API fixture 18900-18901, the DNS server 18902 (UDP, TCP)
STUB_PORT = 18400
HTTP_EPS = [("127.0.0.1", p) for p in range(18401, 18411)]
GRPC_EPS = [("127.0.0.1", p) for p in range(18411, 18421)]
MANY_PORTS = range(18500, 18600)            # x 127.0.1.1-100: 10 000
PROP_EPS = [("127.0.2.%d" % i, 18600) for i in range(1, 21)]
K8S_PORT, K8S_CONTROL = 18900, 18901
DNS_PORT = 18902

HOST = "bench.demo.local"
COLD_RATE = 25000          # the most cold JWT verifications a second we expect
GRPC_PATH = "/kedge.test.Echo/Unary"

# the route kinds of ngx_kedge_module (scenario "routekinds", callgrind's
# "discovered route" and "adhoc route"): the same 10 endpoints
# (127.0.1.1-10:18500) behind a configured route, a route discovered from
# a labelled Service, and an adhoc rule whose name resolves to them
KIND_EPS = [("127.0.1.%d" % a, 18500) for a in range(1, 11)]
DISC_SUFFIX = "bench.local"
DISC_SERVICE = "disc"                       # in namespace "default"
DISC_HOST = "%s.default.svc.%s" % (DISC_SERVICE, DISC_SUFFIX)
DISC_BACKEND = "%s_default_http" % DISC_SERVICE
DISC_ROUTE = "http:default/%s:http" % DISC_SERVICE
ADHOC_NAME = "web.adhoc.bench.local"
ADHOC_HOST = "%s:%d" % (ADHOC_NAME, KIND_EPS[0][1])
ADHOC_ROUTE = "http-adhoc:1"
# discovery on, nginx's resolver on the DNS server (answers cached 600 s
# whatever their TTL of 1 s), one adhoc rule
DISCOVERY_HTTP = "    kedge_discovery domain_suffix=%s;" % DISC_SUFFIX
ADHOC_HTTP = ("    resolver 127.0.0.1:%d valid=600s ipv6=off;\n"
              "    kedge_http_adhoc *.adhoc.bench.local ports=%d;"
              % (DNS_PORT, KIND_EPS[0][1]))

# --------------------------------------------------------------------------
# the scenario list.  "group": scenarios measured in interleaved rounds on
# instances started together; "pending": listed in RESULTS.md, not run.

SCENARIOS = [
    # group "proxy": one instance per contender, 10 static endpoints
    {"name": "http1", "group": "proxy", "title": "HTTP/1.1 keepalive (wrk), routed by host, no auth"},
    {"name": "h2", "group": "proxy", "title": "HTTP/2 h2c (h2load) to HTTP/1.1 backends"},
    {"name": "grpc", "group": "proxy", "title": "gRPC unary h2c (h2load) to gRPC backends"},
    {"name": "mtls", "group": "proxy", "title": "HTTP/1.1 over TLS with client certificates, keepalive (wrk)"},
    # group "routes": ngx_kedge_module only, against its own 1-route figure
    {"name": "routes", "group": "routes", "title": "1 / 100 / 1000 routes, match first, last, none"},
    {"name": "routekinds", "group": "routes", "title": "configured vs discovered (kedge_discovery) vs adhoc route, HTTP/1.1 keepalive"},
    # group "endpoints": every contender, 10 / 1000 / 10 000 endpoints
    {"name": "endpoints", "group": "endpoints", "title": "10 / 1000 / 10 000 endpoints (kedge: k8s= EndpointSlices)"},
    {"name": "churn", "group": "endpoints", "title": "endpoint churn 1/s and 10/s on 10 000 endpoints"},
    {"name": "propagation", "group": "propagation", "title": "API change to first request served by the new endpoint"},
    {"name": "callgrind", "group": "callgrind", "title": "instructions per request (callgrind)"},
    # group "jwt": ngx_kedge_module only, against its own no-auth figure
    {"name": "jwt", "group": "jwt", "title": "JWT auth (OIDC, ES256): warm cache, cold verify, invalid tokens"},
]

GROUPS = ["proxy", "routes", "endpoints", "propagation", "jwt", "callgrind"]


def log(*args):
    print("bench:", *args, file=sys.stderr, flush=True)


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def http_get(url, timeout=5, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read()


def wait_port(port, host="127.0.0.1", timeout=30):
    import socket
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on %s:%d" % (host, port))


def fill(template, **values):
    text = open(os.path.join(BENCH, "conf", template)).read()
    for k, v in values.items():
        text = text.replace("@%s@" % k, str(v))
    left = re.findall(r"@[A-Z0-9_]+@", text)
    if left:
        raise RuntimeError("%s: unfilled %s" % (template, left))
    return text


def openssl_verify_us():
    """One ECDSA P-256 verification alone, on the proxy's core, in µs, as
    `openssl speed` measures it (its verify/s column)."""
    out = subprocess.run(["taskset", "-c", CPU_PROXY, "openssl", "speed",
                          "-seconds", "2", "ecdsap256"],
                         capture_output=True, text=True).stdout
    m = re.search(r"256 bits ecdsa \(nistp256\)\s+\S+s\s+\S+s\s+[\d.]+\s+([\d.]+)",
                  out)
    return 1e6 / float(m.group(1)) if m else None


def many_endpoints(n):
    """n endpoints of the many-endpoint set: 127.0.1.1-100 x 18500-18599,
    port by port (an EndpointSlice carries one port)."""
    eps = []
    for port in MANY_PORTS:
        for a in range(1, 101):
            eps.append(("127.0.1.%d" % a, port))
            if len(eps) == n:
                return eps
    return eps


# --------------------------------------------------------------------------
# processes

class Proc:
    """A server pinned to a core: nginx (master + 1 worker) or HAProxy."""

    def __init__(self, name, kind, conf, cpu=CPU_PROXY, ports=None):
        self.name, self.kind, self.cpu = name, kind, cpu
        self.prefix = os.path.join(WORK, "run", name)
        self.ports = ports or {}
        os.makedirs(os.path.join(self.prefix, "logs"), exist_ok=True)
        os.makedirs(os.path.join(self.prefix, "conf"), exist_ok=True)
        self.conf = os.path.join(self.prefix, "conf",
                                 "haproxy.cfg" if kind == "haproxy" else "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        self.pidfile = os.path.join(self.prefix, "logs",
                                    "haproxy.pid" if kind == "haproxy" else "nginx.pid")

    def start(self):
        self._workers = None
        if os.path.exists(self.pidfile):
            os.unlink(self.pidfile)
        if self.kind == "haproxy":
            cmd = ["haproxy", "-D", "-f", self.conf, "-p", self.pidfile]
        else:
            cmd = ["/usr/sbin/nginx", "-p", self.prefix + "/", "-c", self.conf,
                   "-e", os.path.join(self.prefix, "logs", "error.log")]
        r = subprocess.run(["taskset", "-c", self.cpu] + cmd,
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("%s failed to start: %s%s" % (self.name, r.stdout, r.stderr))
        for _ in range(100):
            if os.path.exists(self.pidfile) and open(self.pidfile).read().strip():
                break
            time.sleep(0.05)
        self.pid = int(open(self.pidfile).read().split()[0])
        for p in self.ports.values():
            wait_port(p)

    def workers(self):
        """The pids doing the work: nginx's workers, HAProxy itself."""
        if self.kind == "haproxy":
            return [self.pid]
        if not getattr(self, "_workers", None):
            out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.pid)],
                                 capture_output=True, text=True).stdout
            self._workers = [int(x) for x in out.split()]
        return self._workers

    def cpu_ticks(self):
        return sum(self.cpu_split())

    def cpu_split(self):
        """The workers' user and system CPU, in clock ticks."""
        user = system = 0
        for pid in self.workers():
            try:
                f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
                user += int(f[11])
                system += int(f[12])
            except OSError:
                pass
        return user, system

    def stop(self):
        try:
            os.kill(self.pid, signal.SIGTERM if self.kind == "haproxy" else signal.SIGQUIT)
        except (OSError, AttributeError):
            return
        for _ in range(200):
            try:
                os.kill(self.pid, 0)
            except OSError:
                return
            time.sleep(0.05)
        os.kill(self.pid, signal.SIGKILL)

    def error_log(self):
        p = os.path.join(self.prefix, "logs", "error.log")
        return open(p).read() if os.path.exists(p) else ""


# --------------------------------------------------------------------------
# configurations

COMMON_MAIN = """worker_processes 1;
error_log logs/error.log notice;
pid logs/nginx.pid;

events {
    worker_connections 19000;
}"""

# the JWT group's reference: plain NGINX spending a given time on every
# request in a loop that touches no memory ("?n=" iterations of LuaJIT
# arithmetic), to see what the kernel costs a proxy that serves at the
# cold verification's rate, without a verification
LUA_MODULES = """load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
"""

BUSY_LOOP = """            access_by_lua_block {
                local x = 0
                for i = 1, tonumber(ngx.var.arg_n) or 0 do
                    x = x + i % 7
                end
                ngx.ctx.x = x
            }"""

# plain NGINX writing the headers kedge's behaviour has (SPEC section 6,
# the README's kedge_request_id): the client's Host (and :authority) to
# the backend, X-Kedge-Request-ID to the backend and back (the client's,
# CLIENT_ID, passed on), x-kedge-backend-name, the proxy credentials and
# Proxy-Connection dropped; kedge's instructions beyond these are its own
# machinery: routing, the balancer and its keepalive, the context, the
# counters (the callgrind group; bench/tools/proxy_callgrind.py --headers)
KEDGE_HEADERS = {
    "proxy": """            proxy_set_header Host $http_host;
            proxy_set_header Proxy-Connection "";
            proxy_set_header Proxy-Authorization "";
            proxy_set_header X-Kedge-Request-ID $http_x_kedge_request_id;
            add_header X-Kedge-Request-ID $http_x_kedge_request_id always;
            add_header x-kedge-backend-name web always;""",
    "grpc": """            grpc_set_header Host $http_host;
            grpc_set_header Proxy-Authorization "";
            grpc_set_header X-Kedge-Request-ID $http_x_kedge_request_id;
            add_header X-Kedge-Request-ID $http_x_kedge_request_id always;
            add_header x-kedge-backend-name echo always;""",
}

# a well-formed request id a client sends, which kedge keeps
CLIENT_ID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"

COMMON_HTTP = """    access_log off;
    server_tokens off;
    keepalive_requests 100000000;
    keepalive_timeout 600s;"""


def listens(p):
    return "\n".join([
        "        listen 127.0.0.1:%d;" % p["h1"],
        "        listen 127.0.0.1:%d http2;" % p["h2c"],
        "        listen 127.0.0.1:%d ssl;" % p["tls"],
        "        ssl_certificate %s/server.crt;" % CERTS,
        "        ssl_certificate_key %s/server.key;" % CERTS,
        "        ssl_client_certificate %s/clients-ca.crt;" % CERTS,
        "        ssl_verify_client on;",
        "        ssl_verify_depth 2;",
    ])


def ports_at(base):
    return {"h1": base, "h2c": base + 1, "tls": base + 2, "grpc": base + 3,
            "ops": base + 4}


def addr(ep):
    return "%s:%d" % ep


def kedge_upstream(keepalive, nginx_keepalive=False):
    """The kedge upstream's connection cache: the balancer's own
    (kedge_balancer keepalive=), or nginx's "keepalive" wrapping it."""
    if nginx_keepalive:
        return ("        kedge_balancer;\n"
                "        keepalive %d;\n"
                "        keepalive_requests 100000000;\n"
                "        keepalive_timeout 600s;" % keepalive)
    return ("        kedge_balancer keepalive=%d keepalive_requests=100000000\n"
            "                       keepalive_timeout=600s;" % keepalive)


def make_contender(kind, name, base, web_eps, grpc_eps, keepalive=256,
                   kedge_backends=None, kedge_routes=None, k8s=False,
                   callgrind=False, kedge_http="", kedge_locations="",
                   nginx_keepalive=False, busy_loop=False, kedge_headers=False):
    p = ports_at(base)
    common_main = COMMON_MAIN
    if callgrind:
        common_main = "master_process off;\ndaemon off;\n" + COMMON_MAIN
    if kind == "haproxy":
        conf = fill("haproxy.cfg", H1_PORT=p["h1"], H2C_PORT=p["h2c"],
                    TLS_PORT=p["tls"], GRPC_PORT=p["grpc"], WORK=WORK,
                    CERTS=CERTS,
                    WEB_SERVERS="\n".join("    server w%d %s" % (i, addr(e))
                                          for i, e in enumerate(web_eps)),
                    GRPC_SERVERS="\n".join("    server g%d %s proto h2" % (i, addr(e))
                                           for i, e in enumerate(grpc_eps)))
        ports = {k: v for k, v in p.items() if k != "ops"}
        return Proc(name, "haproxy", conf, ports=ports)

    if kind == "nginx":
        extra = {"proxy": "", "grpc": ""}
        if kedge_headers:
            extra = dict(KEDGE_HEADERS)
        if busy_loop:
            common_main = LUA_MODULES + common_main
            extra["proxy"] += "\n" + BUSY_LOOP
        conf = fill("nginx-plain.conf", COMMON_MAIN=common_main,
                    COMMON_HTTP=COMMON_HTTP, LISTENS=listens(p),
                    GRPC_PORT=p["grpc"], KEEPALIVE=keepalive,
                    PROXY_EXTRA=extra["proxy"], GRPC_EXTRA=extra["grpc"],
                    WEB_SERVERS="\n".join("        server %s;" % addr(e) for e in web_eps),
                    GRPC_SERVERS="\n".join("        server %s;" % addr(e) for e in grpc_eps))
        ports = {k: v for k, v in p.items() if k != "ops"}

    elif kind == "lua":
        files = {}
        for what, eps in (("web", web_eps), ("echo", grpc_eps)):
            files[what] = os.path.join(WORK, "run", "%s-%s.endpoints" % (name, what))
            os.makedirs(os.path.dirname(files[what]), exist_ok=True)
            with open(files[what], "w") as f:
                f.write("".join(addr(e) + "\n" for e in eps))
        conf = fill("nginx-lua.conf", COMMON_MAIN=common_main,
                    COMMON_HTTP=COMMON_HTTP, LISTENS=listens(p),
                    GRPC_PORT=p["grpc"], KEEPALIVE=keepalive, BENCH=BENCH,
                    WEB_FILE=files["web"], GRPC_FILE=files["echo"])
        ports = {k: v for k, v in p.items() if k != "ops"}

    else:
        p["grpc"] = p["h2c"]        # one listener for HTTP/2 and gRPC
        if kedge_backends is None:
            kedge_backends = [
                "kedge_backend web endpoints=%s protocol=http;"
                % ",".join(addr(e) for e in web_eps),
                "kedge_backend echo endpoints=%s protocol=grpc;"
                % ",".join(addr(e) for e in grpc_eps)]
        if kedge_routes is None:
            kedge_routes = [
                "kedge_http_route backend=web host=%s;" % HOST,
                "kedge_grpc_route backend=echo service=kedge.test.Echo/*;"]
        kube = ""
        if k8s:
            kube = ("    kedge_kubernetes https://127.0.0.1:%d token_file=%s/token "
                    "ca_file=%s/ca.crt max_size=64m;" % (K8S_PORT, WORK, CERTS))
        conf = fill("nginx-kedge.conf", MODULE=MODULE, COMMON_MAIN=common_main,
                    COMMON_HTTP=COMMON_HTTP, LISTENS=listens(p),
                    OPS_PORT=p["ops"], KUBERNETES=kube,
                    UPSTREAM=kedge_upstream(keepalive, nginx_keepalive),
                    EXTRA_HTTP=kedge_http, EXTRA_LOCATIONS=kedge_locations,
                    BACKENDS="\n".join("    " + b for b in kedge_backends),
                    ROUTES="\n".join("    " + r for r in kedge_routes))
        ports = p

    proc = Proc(name, "nginx", conf, ports=ports)
    proc.p = p
    return proc


MANY_SPLIT = 4
MANY_STUB_PORTS = [18421 + i for i in range(MANY_SPLIT)]


def make_backends():
    """The backends: one nginx for the 10 endpoints of most scenarios, gRPC
    and propagation, and four for the 10 000 of the endpoint scenarios (a
    process has at most as many descriptors as the hard limit allows, and
    every contender keeps a connection warm to each endpoint)."""
    def listen_lines(eps, extra=""):
        return "\n".join("        listen %s%s;" % (addr(e), extra) for e in eps)

    procs = [Proc("backends", "nginx",
                  fill("backends.conf", STUB_PORT=STUB_PORT,
                       HTTP_LISTENS=listen_lines(HTTP_EPS),
                       PROP_LISTENS=listen_lines(PROP_EPS),
                       GRPC_LISTENS=listen_lines(GRPC_EPS, " http2")),
                  cpu=CPU_LOAD, ports={"stub": STUB_PORT})]
    many = many_endpoints(10000)
    per = 100 // MANY_SPLIT
    for i in range(MANY_SPLIT):
        eps = [e for e in many if (int(e[0].rsplit(".", 1)[1]) - 1) // per == i]
        procs.append(Proc("backends-many-%d" % i, "nginx",
                          fill("backends-many.conf", STUB_PORT=MANY_STUB_PORTS[i],
                               HTTP_LISTENS=listen_lines(eps)),
                          cpu=CPU_LOAD, ports={"stub": MANY_STUB_PORTS[i]}))
    return procs


def stub():
    """accepted connections and requests, summed over every backend"""
    accepts = requests = 0
    for port in [STUB_PORT] + MANY_STUB_PORTS:
        _, body = http_get("http://127.0.0.1:%d/stub" % port)
        m = re.search(rb"\s(\d+)\s+(\d+)\s+(\d+)\s", body)
        accepts += int(m.group(1))
        requests += int(m.group(3))
    return accepts, requests


# --------------------------------------------------------------------------
# load generators (pinned to the load core)

def cpu_times():
    """busy and total jiffies of each core"""
    out = {}
    for line in open("/proc/stat"):
        if line.startswith("cpu") and line[3].isdigit():
            f = line.split()
            v = [int(x) for x in f[1:]]
            idle = v[3] + v[4]
            out[f[0][3:]] = (sum(v) - idle, sum(v))
    return out


def parse_dur(s):
    m = re.match(r"([\d.]+)(us|ms|s|m)", s)
    v = float(m.group(1))
    return v * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[m.group(2)]


def wrk(url, duration, conns, host=HOST, env=None, threads=1, expect=200,
        headers=(), script=None):
    cmd = ["taskset", "-c", CPU_LOAD, "wrk", "-t%d" % threads, "-c%d" % conns,
           "-d%ds" % duration, "--latency", "--timeout", "5s",
           "-H", "Host: %s" % host]
    for h in headers:
        cmd += ["-H", h]
    if script:
        cmd += ["-s", script]
    cmd.append(url)
    out = subprocess.run(cmd, capture_output=True, text=True, env=env).stdout
    r = {"tool": "wrk"}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m:
        raise RuntimeError("wrk said: " + out)
    r["rps"] = float(m.group(1))
    r["requests"] = int(re.search(r"(\d+) requests in", out).group(1))
    for pct in ("50", "99"):
        m = re.search(r"\s%s%%\s+([\d.]+\w+)" % pct, out)
        r["p" + pct] = parse_dur(m.group(1)) if m else None
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    non2xx = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    sock = sum(int(x) for x in m.groups()) if m else 0
    r["non2xx"] = non2xx
    if expect == 200:
        r["errors"] = non2xx + sock
        r["ok"] = r["requests"] - non2xx
    else:
        # kedge's own answer (no route: 502) is the expected one here
        r["errors"] = sock + (r["requests"] - non2xx)
        r["ok"] = non2xx
    r["concurrency"] = conns
    return r


def h2load(url, duration, clients, streams, host=HOST, grpc=False):
    cmd = ["taskset", "-c", CPU_LOAD, "h2load", "-t1", "-c%d" % clients,
           "-m%d" % streams, "-D%d" % duration, "-H", ":authority: %s" % host]
    if grpc:
        cmd += ["-d", os.path.join(WORK, "grpc-request.bin"),
                "-H", "content-type: application/grpc", "-H", "te: trailers"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True).stdout
    r = {"tool": "h2load"}
    m = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
    if not m:
        raise RuntimeError("h2load said: " + out)
    r["rps"] = float(m.group(1))
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored, (\d+) timeout", out)
    total, started, done, ok, failed, errored, tmo = (int(x) for x in m.groups())
    r["requests"] = done
    r["ok"] = ok
    r["errors"] = failed + errored + tmo
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    r["non2xx"] = sum(int(x) for x in m.groups()[1:])
    m = re.search(r"time for request:\s+(\S+)\s+(\S+)\s+(\S+)", out)
    r["mean"] = parse_dur(m.group(3)) if m else None
    r["p50"] = r["p99"] = None
    r["concurrency"] = clients * streams
    return r


OURS = []          # every server we started (Proc or Popen), for ours_ticks()


def ours_ticks():
    """CPU ticks of everything this run started, finished children included"""
    t = 0
    for p in OURS:
        pids = p.workers() + [p.pid] if isinstance(p, Proc) else [p.pid]
        for pid in set(pids):
            try:
                f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
                t += int(f[11]) + int(f[12])
            except OSError:
                pass
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return t + (ru.ru_utime + ru.ru_stime) * os.sysconf("SC_CLK_TCK")


def wait_quiet(limit=30):
    """Wait (up to limit s) until neither core is busier than 10 % with
    anything: another job on the machine skews every figure."""
    end = time.time() + limit
    while True:
        c0 = cpu_times()
        time.sleep(0.2)
        c1 = cpu_times()
        busy = max((c1[k][0] - c0[k][0]) / max(1, c1[k][1] - c0[k][1]) for k in c1)
        if busy < 0.10:
            return True
        if time.time() > end:
            return False


def measure(proc, fn, *args, **kw):
    """One measurement: the load, and around it what the backends accepted
    and served, what the proxy and the two cores spent, and how much CPU
    went to processes that are not ours (another job on the machine)."""
    quiet = wait_quiet()
    a0, q0 = stub()
    (u0, s0), c0, w0, o0 = proc.cpu_split(), cpu_times(), time.time(), ours_ticks()
    r = fn(*args, **kw)
    (u1, s1), c1, w1, o1 = proc.cpu_split(), cpu_times(), time.time(), ours_ticks()
    t0, t1 = u0 + s0, u1 + s1
    a1, q1 = stub()
    hz = os.sysconf("SC_CLK_TCK")
    all_busy = sum(c1[k][0] - c0[k][0] for k in c1)
    all_total = sum(c1[k][1] - c0[k][1] for k in c1)
    r["foreign_cpu"] = max(0.0, (all_busy - (o1 - o0)) / all_total) if all_total else 0
    r["quiet_start"] = quiet
    nstub = 1 + MANY_SPLIT                  # the second stub calls' own
    r["new_conns"] = a1 - a0 - nstub
    r["backend_requests"] = q1 - q0 - nstub
    r["proxy_cpu"] = (t1 - t0) / hz / (w1 - w0)
    r["cpu_us_per_req"] = ((t1 - t0) / hz * 1e6 / r["ok"]) if r["ok"] else None
    r["user_us_per_req"] = ((u1 - u0) / hz * 1e6 / r["ok"]) if r["ok"] else None
    r["sys_us_per_req"] = ((s1 - s0) / hz * 1e6 / r["ok"]) if r["ok"] else None
    for core in (CPU_PROXY, CPU_LOAD):
        busy = c1[core][0] - c0[core][0]
        total = c1[core][1] - c0[core][1]
        r["core%s_busy" % core] = busy / total if total else None
    return r


# --------------------------------------------------------------------------
# the Kubernetes API fixture

class Fixture:
    def __init__(self):
        self.proc = None

    def start(self):
        with open(os.path.join(WORK, "token"), "w") as f:
            f.write("bench-token\n")
        cmd = ["taskset", "-c", CPU_LOAD, "/usr/bin/python3",
               os.path.join(REPO, "t/fixtures/k8s/apiserver.py"),
               "--listen", "127.0.0.1:%d" % K8S_PORT,
               "--control", "127.0.0.1:%d" % K8S_CONTROL,
               "--cert", CERTS + "/server.crt", "--key", CERTS + "/server.key",
               "--token-file", os.path.join(WORK, "token"),
               "--proto-cache", os.path.join(WORK, "proto-cache")]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("READY"):
            raise RuntimeError("API fixture: " + line)

    def call(self, method, path, body=None):
        data = json.dumps(body or {}).encode()
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (K8S_CONTROL, path),
                                     data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def put_slice(self, name, service, addresses, port, ready=None):
        eps = []
        for i, a in enumerate(addresses):
            e = {"addresses": [a]}
            if ready is not None:
                e["conditions"] = {"ready": bool(ready[i])}
            eps.append(e)
        return self.call("PUT", "/endpointslices/default/%s" % name,
                         {"service": service, "endpoints": eps,
                          "ports": [{"name": "http", "port": port}]})

    def put_service(self, service, n):
        """n endpoints of the many-endpoint set, one slice per port (100
        addresses each, Kubernetes' default slice size)"""
        eps = many_endpoints(n)
        by_port = {}
        for a, p in eps:
            by_port.setdefault(p, []).append(a)
        for p, addrs in by_port.items():
            self.put_slice("%s-p%d" % (service, p), service, addrs, p)
        return by_port

    def put_discovered(self):
        """The Service that kedge_discovery turns into the route
        DISC_HOST (port 80) and the backend DISC_BACKEND: labelled, one
        port named http (target port named http too), its EndpointSlice
        the 10 endpoints KIND_EPS."""
        addrs = [a for a, _ in KIND_EPS]
        self.put_slice("%s-a" % DISC_SERVICE, DISC_SERVICE, addrs, KIND_EPS[0][1])
        self.call("PUT", "/services/default/%s" % DISC_SERVICE,
                  {"labels": {"kedge.com/kedge-exposed": "true"},
                   "ports": [{"name": "http", "port": 80, "targetPort": "http"}]})

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=10)


class Dns:
    """dnsmasq on 127.0.0.1:DNS_PORT, pinned to the load core, for the
    adhoc rule: ADHOC_NAME has the 10 addresses of KIND_EPS, with a TTL of
    1 s (the resolver's valid= is what keeps them), other names under
    adhoc.bench.local are NXDOMAIN.  Every query is logged: queries()
    counts those of ADHOC_NAME, to show the measured requests were served
    from nginx's resolver cache."""

    def __init__(self):
        self.proc = None
        self.dir = os.path.join(WORK, "dns")

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, "hosts"), "w") as f:
            f.write("".join("%s %s\n" % (a, ADHOC_NAME) for a, _ in KIND_EPS))
        self.log = os.path.join(self.dir, "log")
        for x in ("pid", "log"):
            if os.path.exists(os.path.join(self.dir, x)):
                os.unlink(os.path.join(self.dir, x))
        self.proc = subprocess.Popen(
            ["taskset", "-c", CPU_LOAD, "/usr/sbin/dnsmasq", "--keep-in-foreground",
             "--no-resolv", "--no-hosts", "--addn-hosts=" + os.path.join(self.dir, "hosts"),
             "--port=%d" % DNS_PORT, "--listen-address=127.0.0.1", "--bind-interfaces",
             "--local-ttl=1", "--local=/adhoc.bench.local/",
             "--pid-file=" + os.path.join(self.dir, "pid"), "--log-queries",
             "--log-facility=" + self.log, "--user=root"],
            stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        for _ in range(100):
            if self.proc.poll() is not None:
                raise RuntimeError("dnsmasq exited with %d" % self.proc.returncode)
            if self.answers():
                return
            time.sleep(0.1)
        raise RuntimeError("dnsmasq does not answer on 127.0.0.1:%d" % DNS_PORT)

    def answers(self):
        """the A records of ADHOC_NAME, asked over UDP"""
        import socket
        q = (b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
             + b"".join(bytes([len(x)]) + x.encode() for x in ADHOC_NAME.split("."))
             + b"\x00\x00\x01\x00\x01")
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.5)
        try:
            s.sendto(q, ("127.0.0.1", DNS_PORT))
            a = s.recv(4096)
        except OSError:
            return 0
        finally:
            s.close()
        return int.from_bytes(a[6:8], "big") if a[:2] == q[:2] else 0

    def queries(self):
        if not os.path.exists(self.log):
            return 0
        return sum(1 for line in open(self.log, errors="replace")
                   if "query[" in line and ADHOC_NAME in line)

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def wait_kedge(proc, backends, timeout=60):
    """kedge_ready, and each k8s backend with the endpoints expected"""
    end = time.time() + timeout
    while time.time() < end:
        try:
            st, _ = http_get("http://127.0.0.1:%d/_ready" % proc.p["ops"])
        except Exception:
            st = 0
        log_text = proc.error_log()
        if st == 200 and all(
                re.search(r'backend "%s" has %d endpoints' % (b, n), log_text)
                for b, n in backends.items()):
            return
        time.sleep(0.2)
    raise RuntimeError("%s: backends %s not synced:\n%s"
                       % (proc.name, backends, proc.error_log()[-2000:]))


# --------------------------------------------------------------------------
# checks before measuring: every contender answers right

def check_http(proc, port_key="h1", host=HOST, path="/", expect=200):
    url = "http://127.0.0.1:%d%s" % (proc.ports[port_key], path)
    try:
        st, body = http_get(url, headers={"Host": host})
    except urllib.error.HTTPError as e:
        st, body = e.code, e.read()
    if st != expect or (expect == 200 and not body.startswith(b"backend ")):
        raise RuntimeError("%s: %s answered %d %r" % (proc.name, url, st, body[:100]))


def check_kedge_headers(name, ports, proto, client_id=True, with_id=True,
                        grpc_body=None):
    """One request over HTTP/1.1 ("h1", "10 endpoints"), HTTP/2 or gRPC
    to ports h1, h2c or grpc: the backend's name comes back and, with_id,
    an X-Kedge-Request-ID, the client's (CLIENT_ID, sent) with client_id."""
    cmd = ["curl", "-s", "-o", "/dev/null", "-D", "-", "-H", "Host: " + HOST]
    if client_id:
        cmd += ["-H", "X-Kedge-Request-ID: " + CLIENT_ID]
    if proto in ("h1", "10 endpoints"):
        url = "http://127.0.0.1:%d/" % ports["h1"]
        backend = "web"
    elif proto == "h2":
        cmd.append("--http2-prior-knowledge")
        url = "http://127.0.0.1:%d/" % ports["h2c"]
        backend = "web"
    else:
        cmd += ["--http2-prior-knowledge", "--data-binary",
                "@" + (grpc_body or os.path.join(WORK, "grpc-request.bin")),
                "-H", "content-type: application/grpc", "-H", "te: trailers"]
        url = "http://127.0.0.1:%d%s" % (ports["grpc"], GRPC_PATH)
        backend = "echo"
    out = subprocess.run(cmd + [url], capture_output=True, text=True).stdout.lower()
    lines = [x.strip() for x in out.splitlines()]
    ids = [x for x in lines if x.startswith("x-kedge-request-id: ")]
    if ("x-kedge-backend-name: %s" % backend not in lines
            or (with_id and not ids)
            or (with_id and client_id and ids != ["x-kedge-request-id: " + CLIENT_ID])):
        raise RuntimeError("%s: not kedge's headers (%s): %s" % (name, proto, out))


def check_h2(proc):
    out = subprocess.run(["curl", "-s", "--http2-prior-knowledge", "-H", "Host: " + HOST,
                          "-w", " %{http_version}",
                          "http://127.0.0.1:%d/" % proc.ports["h2c"]],
                         capture_output=True, text=True).stdout
    if not (out.startswith("backend ") and out.endswith(" 2")):
        raise RuntimeError("%s: HTTP/2 check: %r" % (proc.name, out))


def check_grpc(proc):
    out = subprocess.run(
        ["/usr/bin/python3", os.path.join(REPO, "t/peers/grpc_client.py"),
         "--target", "127.0.0.1:%d" % proc.ports["grpc"], "--authority", HOST,
         "--method", "Unary", "--message", "hello"],
        capture_output=True, text=True).stdout
    if not out.startswith("status=OK backend=bench"):
        raise RuntimeError("%s: gRPC check: %s" % (proc.name, out))


def check_mtls(proc):
    base = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
            "--cacert", CERTS + "/ca.crt", "--resolve",
            "%s:%d:127.0.0.1" % (HOST, proc.ports["tls"]),
            "https://%s:%d/" % (HOST, proc.ports["tls"])]
    good = subprocess.run(base + ["--cert", CERTS + "/client-chain.crt",
                                  "--key", CERTS + "/client.key"],
                          capture_output=True, text=True).stdout
    bad = subprocess.run(base, capture_output=True, text=True).stdout
    if good != "200" or bad == "200":
        raise RuntimeError("%s: client certificates: with %s, without %s"
                           % (proc.name, good, bad))


# the kinds of route: (variant, Host, $kedge_route, x-kedge-backend-name)
ROUTE_KINDS = [
    ("configured route", HOST, "http:1", "web"),
    ("discovered route", DISC_HOST, DISC_ROUTE, DISC_BACKEND),
    ("adhoc route", ADHOC_HOST, ADHOC_ROUTE, None),    # adhoc: no backend name
]


def check_response(what, status, headers, body, backend, eps=KIND_EPS):
    """A response of the route kind expected: 200, from one of eps, with
    x-kedge-backend-name the backend's (absent for an adhoc rule)"""
    got = headers.get("x-kedge-backend-name")
    m = re.match(rb"backend ([\d.]+):(\d+) ", body)
    if (status != 200 or got != backend or not m
            or (m.group(1).decode(), int(m.group(2))) not in eps):
        raise RuntimeError("%s: %d, x-kedge-backend-name %s (want %s), %r"
                           % (what, status, got, backend, body[:80]))


def check_route_kind(proc, variant, host, route, backend, timeout=30):
    """Before measuring: a request for host takes the route kind it names.
    The listener measured: a 200 from one of the 10 endpoints, with the
    backend's x-kedge-backend-name (a discovered backend's name; none for
    an adhoc rule); the ops listener (another server{}, so that the one
    measured has no add_header): $kedge_route for the same request is the
    route expected (http:N, http:NAMESPACE/SERVICE:PORT, http-adhoc:N).
    Tried for timeout s: a discovered route exists once the Service is
    listed, its endpoints one EndpointSlice list later."""
    import http.client
    end = time.time() + timeout
    while True:
        try:
            for port, key in ((proc.ports["h1"], None), (proc.p["ops"], "x-kedge-route")):
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                c.request("GET", "/", headers={"Host": host})
                r = c.getresponse()
                body = r.read()
                c.close()
                h = {k.lower(): v for k, v in r.getheaders()}
                check_response("%s: %s, Host %s, port %d" % (proc.name, variant, host, port),
                               r.status, h, body, backend)
                if key and h.get(key) != route:
                    raise RuntimeError("%s: %s, Host %s: $kedge_route %s, not %s"
                                       % (proc.name, variant, host, h.get(key), route))
            return
        except (RuntimeError, OSError) as e:
            if time.time() > end:
                raise RuntimeError(str(e))
            time.sleep(0.2)


# --------------------------------------------------------------------------
# the groups

class Run:
    def __init__(self, args):
        self.args = args
        self.results = []       # one dict per measured run
        self.extra = {}         # propagation, callgrind
        self.group_times = {}   # group -> [start, end] (UTC)
        self.merged = []        # groups kept from an earlier run (--merge)
        self.failed = {}        # group -> why it did not complete
        self.machine = None     # machine() when measured
        self.commits = {}       # group -> the module's commit it measured
        self.procs = []
        self.dns = None         # the DNS server of the adhoc rule

    def record(self, group, scenario, variant, contender, rnd, r):
        r.update(group=group, scenario=scenario, variant=variant,
                 contender=contender, round=rnd)
        self.results.append(r)
        flag = ""
        if r["new_conns"] > 2 * r["concurrency"] + 10:
            flag += " NEW-UPSTREAM-CONNS"
        if r["errors"]:
            flag += " ERRORS"
        if r["foreign_cpu"] > 0.05:
            flag += " FOREIGN-CPU-%.0f%%" % (100 * r["foreign_cpu"])
        log("  r%d %-9s %-22s %-8s %9.0f req/s  cpu %3.0f%%/%3.0f%%  new conns %d%s"
            % (rnd, scenario, variant, contender, r["rps"],
               100 * (r["core0_busy"] or 0), 100 * (r["core1_busy"] or 0),
               r["new_conns"], flag))

    def start(self, *procs):
        for p in procs:
            p.start()
            self.procs.append(p)
            OURS.append(p)

    def stop_all(self):
        for p in self.procs:
            p.stop()
            OURS.remove(p)
        self.procs = []

    def rounds(self, group, specs):
        """specs: (scenario, variant, contender, proc, fn) with fn() doing
        one measurement; a warm-up, then interleaved rounds."""
        d = self.args.duration
        log("%s: warm-up" % group)
        for s in specs:
            s[4](1 if self.args.quick else 2, warm=True)
        for rnd in range(1, self.args.rounds + 1):
            order = list(specs)
            random.Random(rnd).shuffle(order)
            for scenario, variant, contender, proc, fn in order:
                # a measurement disturbed by another job on the machine
                # (more than 10 % of the cores) is taken again, twice at most
                for attempt in range(1 + self.args.retries):
                    r = fn(d)
                    if r["foreign_cpu"] <= 0.10:
                        break
                    if attempt < self.args.retries:
                        log("  r%d %s %s %s: %.0f%% foreign CPU, again"
                            % (rnd, scenario, variant, contender, 100 * r["foreign_cpu"]))
                r["attempts"] = attempt + 1
                self.record(group, scenario, variant, contender, rnd, r)

    # --- group "proxy": http1, h2, grpc, mtls ------------------------------

    def group_proxy(self):
        procs = {}
        for i, c in enumerate(CONTENDERS):
            procs[c] = make_contender(c, "proxy-" + c, 18000 + 10 * i,
                                      HTTP_EPS, GRPC_EPS, keepalive=512)
        self.start(*procs.values())
        for c, p in procs.items():
            check_http(p)
            check_h2(p)
            check_grpc(p)
            check_mtls(p)

        env = dict(os.environ, LD_PRELOAD=os.path.join(WORK, "clientcert.so"),
                   BENCH_CLIENT_CERT=CERTS + "/client-chain.crt",
                   BENCH_CLIENT_KEY=CERTS + "/client.key")
        specs = []
        for c, p in procs.items():
            def http1(d, warm=False, p=p):
                return measure(p, wrk, "http://127.0.0.1:%d/" % p.ports["h1"], d, 64)

            def h2(d, warm=False, p=p):
                return measure(p, h2load, "http://127.0.0.1:%d/" % p.ports["h2c"],
                               d, 8, 16)

            def grpc(d, warm=False, p=p):
                return measure(p, h2load, "http://127.0.0.1:%d%s"
                               % (p.ports["grpc"], GRPC_PATH), d, 8, 16, grpc=True)

            def mtls(d, warm=False, p=p):
                return measure(p, wrk, "https://127.0.0.1:%d/" % p.ports["tls"],
                               d, 64, env=env)

            specs += [("http1", "10 endpoints", c, p, http1),
                      ("h2", "10 endpoints", c, p, h2),
                      ("grpc", "10 endpoints", c, p, grpc),
                      ("mtls", "10 endpoints", c, p, mtls)]
        self.rounds("proxy", specs)
        self.stop_all()

    # --- group "routes" -----------------------------------------------------

    def group_routes(self, fixture):
        wanted = self.args.variants.split(";") if self.args.variants else None
        layouts = [("1 route", 1, "hosts")]
        for n in ((1000,) if self.args.quick else (100, 1000)):
            layouts += [("%d routes by host" % n, n, "hosts"),
                        ("%d routes by path" % n, n, "paths")]
        specs = []
        base = 18050
        procs = []
        for title, n, layout in layouts:
            cases = [("first", 0), ("last", n - 1), ("none", None)]
            if self.args.quick:
                cases = [("last", n - 1)] + ([("none", None)] if layout == "paths" else [])
            if n == 1:
                cases = [("match", 0), ("none", None)]
            if wanted:
                cases = [x for x in cases if "%s, %s" % (title, x[0]) in wanted]
            if not cases:
                base += 10
                continue
            routes = []
            for i in range(n):
                if layout == "hosts":
                    routes.append("kedge_http_route backend=web host=r%04d.%s;" % (i, HOST))
                else:
                    routes.append("kedge_http_route backend=web host=%s path=/r%04d/*;"
                                  % (HOST, i))
            routes.append("kedge_grpc_route backend=echo service=kedge.test.Echo/*;")
            p = make_contender("kedge", "routes-%d-%s" % (n, layout), base,
                               HTTP_EPS, GRPC_EPS, kedge_routes=routes)
            base += 10
            procs.append(p)
            for case, i in cases:
                if layout == "hosts":
                    host = ("r%04d.%s" % (i, HOST)) if i is not None else "none." + HOST
                    path = "/"
                else:
                    host = HOST
                    path = ("/r%04d/x" % i) if i is not None else "/none/x"

                def fn(d, warm=False, p=p, host=host, path=path, case=case):
                    return measure(p, wrk, "http://127.0.0.1:%d%s" % (p.ports["h1"], path),
                                   d, 64, host=host, expect=502 if case == "none" else 200)
                specs.append((p, host, path, case, fn, "%s, %s" % (title, case)))

        # the kinds of route, on one instance: a configured route, a route
        # discovered from a labelled Service, an adhoc rule (a name that
        # nginx's resolver resolves, cached for valid=), all to the same
        # 10 endpoints
        kinds = [k for k in ROUTE_KINDS if not wanted or k[0] in wanted]
        kp = None
        if kinds:
            fixture.put_discovered()
            kp = make_contender("kedge", "routekinds", 18095, KIND_EPS, GRPC_EPS, k8s=True,
                                kedge_http=DISCOVERY_HTTP + "\n" + ADHOC_HTTP)
            procs.append(kp)

        self.start(*procs)
        for p, host, path, case, fn, v in specs:
            check_http(p, host=host, path=path, expect=502 if case == "none" else 200)
        todo = [("routes", v, "kedge", p, fn) for p, host, path, case, fn, v in specs]
        failed = {}
        if kp:
            wait_kedge(kp, {DISC_BACKEND: len(KIND_EPS)})
        for variant, host, route, backend in kinds:
            # a variant that does not take the path it names is not measured
            try:
                check_route_kind(kp, variant, host, route, backend)
            except RuntimeError as e:
                log("routekinds: %s FAILED: %s" % (variant, e))
                failed[variant] = str(e)
                continue

            def fn(d, warm=False, host=host):
                return measure(kp, wrk, "http://127.0.0.1:%d/" % kp.ports["h1"], d, 64,
                               host=host)
            todo.append(("routekinds", variant, "kedge", kp, fn))
        adhoc = any(t[:2] == ("routekinds", "adhoc route") for t in todo)
        q0 = self.dns.queries() if adhoc else 0
        self.rounds("routes", todo)
        if kinds:
            self.extra["routes"] = {"failed": failed}
        if adhoc:
            # nginx's resolver asked again only once valid= (600 s) ran out
            self.extra["routes"]["dns_queries"] = self.dns.queries() - q0
        self.stop_all()

    # --- group "endpoints" (+ churn) ---------------------------------------

    def group_endpoints(self, fixture):
        sizes = [10, 10000] if self.args.quick else [10, 1000, 10000]
        procs, specs = [], []
        base = 18100
        slices = {}
        for n in sizes:
            slices[n] = fixture.put_service("eps%d" % n, n)
        kedge10k = None
        for n in sizes:
            eps = many_endpoints(n)
            keepalive = max(256, 2 * n)
            for c in CONTENDERS:
                if c == "kedge":
                    p = make_contender(c, "eps%d-%s" % (n, c), base, eps, GRPC_EPS,
                                       keepalive=keepalive, k8s=True,
                                       kedge_backends=[
                                           "kedge_backend web k8s=eps%d.default:http protocol=http;" % n,
                                           "kedge_backend echo endpoints=%s protocol=grpc;"
                                           % ",".join(addr(e) for e in GRPC_EPS)])
                    if n == 10000:
                        kedge10k = p
                else:
                    p = make_contender(c, "eps%d-%s" % (n, c), base, eps, GRPC_EPS,
                                       keepalive=keepalive)
                base += 10
                procs.append(p)

                def fn(d, warm=False, p=p):
                    return measure(p, wrk, "http://127.0.0.1:%d/" % p.ports["h1"], d, 64)
                specs.append(("endpoints", "%d endpoints" % n, c, p, fn))
        self.start(*procs)
        for p in procs:
            if p.name.endswith("kedge"):
                n = int(p.name[3:].split("-")[0])
                wait_kedge(p, {"web": n})
            check_http(p)

        # churn: one endpoint of one slice made not ready, the previous one
        # ready again, slice after slice, at 1/s or 10/s
        state = {"k": 0}
        ports = sorted(slices[10000])

        def churner(rate, stop):
            ready = {p: [True] * len(slices[10000][p]) for p in ports}
            while not stop.wait(1.0 / rate):
                k = state["k"]
                state["k"] += 1
                port = ports[k % len(ports)]
                r = ready[port]
                r[:] = [True] * len(r)
                r[(k // len(ports)) % len(r)] = False
                fixture.put_slice("eps10000-p%d" % port, "eps10000",
                                  slices[10000][port], port, ready=r)
                state["events"] = state.get("events", 0) + 1
            for port in ports:     # everything ready again
                if not all(ready[port]):
                    fixture.put_slice("eps10000-p%d" % port, "eps10000",
                                      slices[10000][port], port)

        for rate in ((10,) if self.args.quick else (1, 10)):
            def fn(d, warm=False, rate=rate, p=kedge10k):
                stop = threading.Event()
                state["events"] = 0
                t = threading.Thread(target=churner, args=(rate, stop))
                t.start()
                try:
                    r = measure(p, wrk, "http://127.0.0.1:%d/" % p.ports["h1"], d, 64)
                finally:
                    stop.set()
                    t.join()
                r["churn_events"] = state["events"]
                return r
            specs.append(("churn", "10000 endpoints, churn %d/s" % rate, "kedge",
                          kedge10k, fn))
        self.rounds("endpoints", specs)
        self.stop_all()

    # --- group "propagation" ------------------------------------------------

    def group_propagation(self, fixture):
        p = make_contender("kedge", "propagation", 18250, HTTP_EPS, GRPC_EPS,
                           k8s=True, kedge_backends=[
                               "kedge_backend web k8s=prop.default:http protocol=http;",
                               "kedge_backend echo endpoints=%s protocol=grpc;"
                               % ",".join(addr(e) for e in GRPC_EPS)],
                           kedge_routes=["kedge_http_route backend=web host=%s;" % HOST])
        fixture.put_slice("prop-a", "prop", [PROP_EPS[0][0]], PROP_EPS[0][1])
        self.start(p)
        wait_kedge(p, {"web": 1})
        check_http(p)
        plog = os.path.join(WORK, "run", "backends", "logs", "propagation.log")
        samples = []
        n = self.args.prop_samples
        wrk_proc = subprocess.Popen(
            ["taskset", "-c", CPU_LOAD, "wrk", "-t1", "-c16", "-d%ds" % (30 + n),
             "-H", "Host: %s" % HOST, "http://127.0.0.1:%d/" % p.ports["h1"]],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(1)
            f = open(plog)
            f.seek(0, 2)
            rng = random.Random(42)
            for k in range(1, n + 1):
                a, port = PROP_EPS[k % len(PROP_EPS)]
                want = "%s:%d" % (a, port)
                t0 = time.time()
                fixture.put_slice("prop-a", "prop", [a], port)
                first = None
                buf = ""
                while first is None and time.time() < t0 + 5:
                    chunk = f.read()
                    if not chunk:
                        time.sleep(0.0005)
                        continue
                    buf += chunk
                    lines = buf.split("\n")
                    buf = lines.pop()
                    for line in lines:
                        ts, who = line.split()
                        if who == want and float(ts) >= t0 - 0.001:
                            first = float(ts)
                            break
                if first is None:
                    raise RuntimeError("propagation: %s never got traffic" % want)
                samples.append(max(0.0, (first - t0) * 1000))
                time.sleep(rng.uniform(0.1, 0.3))
                f.seek(0, 2)
        finally:
            wrk_proc.terminate()
            wrk_proc.wait()
        samples.sort()
        self.extra["propagation"] = {
            "samples": len(samples), "p50": percentile(samples, 50),
            "p99": percentile(samples, 99), "max": samples[-1], "min": samples[0]}
        log("propagation: p50 %.1f ms p99 %.1f ms (%d samples)"
            % (self.extra["propagation"]["p50"], self.extra["propagation"]["p99"], len(samples)))
        self.stop_all()

    # --- group "jwt": OIDC ID tokens (ES256) ---------------------------------

    def group_jwt(self):
        """ngx_kedge_module with kedge_oidc against itself without auth: one
        token again and again (the zone's cache), a new token on every
        request (a full verification each: strict checks, OpenSSL's ECDSA
        P-256), and two kinds of invalid token (expired: refused on its
        claims; a bad signature under a known kid: refused after the
        verification)."""
        keys = os.path.join(WORK, "oidc-keys")
        fx = os.path.join(REPO, "t", "fixtures", "oidc")
        sh([os.path.join(fx, "install.sh")])
        sh(["node", os.path.join(fx, "mint.mjs"), "keys", keys])
        issuer_port, control_port = 18950, 18951
        iss = "https://127.0.0.1:%d" % issuer_port
        issuer = subprocess.Popen(
            ["taskset", "-c", CPU_LOAD, "node", os.path.join(fx, "static-issuer.mjs"),
             "--listen", "127.0.0.1:%d" % issuer_port,
             "--control", "127.0.0.1:%d" % control_port,
             "--cert", CERTS + "/server.crt", "--key", CERTS + "/server.key",
             "--jwks", keys + "/jwks.json"],
            stdout=subprocess.PIPE, text=True)
        try:
            line = issuer.stdout.readline()
            if not line.startswith("READY"):
                raise RuntimeError("static issuer: %r" % line)
            self._group_jwt(keys, iss)
        finally:
            issuer.terminate()
            issuer.wait()

    def _group_jwt(self, keys, iss):
        tok = os.path.join(WORK, "tokens")
        os.makedirs(tok, exist_ok=True)
        gen = os.path.join(REPO, "t", "fixtures", "oidc", "tokens.mjs")
        # enough fresh tokens for every cold request of the run: each
        # measurement may take COLD_RATE a second (ES256 verification runs
        # at 15k/s on one core here); the warm-up and up to one retake per
        # round (a disturbed measurement) come on top
        ncold = int(COLD_RATE * self.args.duration) * (2 * self.args.rounds + 1)
        for name, n, extra in (("warm", 1, []), ("cold", ncold, []),
                               ("expired", 1, ["--exp-in", "-3600"]),
                               ("badsig", 1, ["--bad-sig"])):
            sh(["node", gen, keys, "ec1", iss, str(n), os.path.join(tok, name)] + extra)

        def first(name):
            with open(os.path.join(tok, name)) as f:
                return f.readline().strip()

        http = ("    kedge_oidc_issuer %s ca_file=%s/ca.crt;" % (iss, CERTS))
        locs = ("        location /jwt/ {\n"
                "            kedge_oidc issuer=%s client_id=kedge allow=bench;\n"
                "            kedge_pass;\n"
                "        }" % iss)
        p = make_contender("kedge", "jwt", 18280, HTTP_EPS, GRPC_EPS,
                           kedge_http=http, kedge_locations=locs)
        busy = make_contender("nginx", "jwt-busy-loop", 18290, HTTP_EPS, GRPC_EPS,
                              busy_loop=True)
        # first, on an idle machine: the verification's cost alone, which
        # the busy loop is made to last
        ossl = self.extra["openssl_verify_us"] = openssl_verify_us()
        self.start(p, busy)
        check_http(p)
        check_http(busy)
        url = "http://127.0.0.1:%d" % p.ports["h1"]
        for name, expect in (("warm", "200"), ("expired", "401"), ("badsig", "401")):
            code = subprocess.run(
                ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: " + HOST,
                 "-H", "Proxy-Authorization: Bearer " + first(name), url + "/jwt/x"],
                capture_output=True, text=True).stdout
            if code != expect:
                raise RuntimeError("jwt: %s token answered %s, not %s" % (name, code, expect))

        script = os.path.join(BENCH, "lua", "tokens.lua")
        cold_env = dict(os.environ, BENCH_TOKENS=os.path.join(tok, "cold"))

        def noauth(d, warm=False):
            return measure(p, wrk, url + "/", d, 64)

        def jwt_warm(d, warm=False):
            return measure(p, wrk, url + "/jwt/x", d, 64,
                           headers=["Proxy-Authorization: Bearer " + first("warm")])

        cursor = [0]

        def jwt_cold(d, warm=False):
            # every run starts past the tokens the earlier ones used
            env = dict(cold_env, BENCH_TOKENS_FROM=str(cursor[0]),
                       BENCH_TOKENS_COUNT=str(int(COLD_RATE * d)))
            r = measure(p, wrk, url + "/jwt/x", d, 64, env=env, script=script)
            cursor[0] += r["requests"] + 64
            if r["requests"] + 64 > COLD_RATE * d or cursor[0] > ncold:
                raise RuntimeError("jwt: more cold requests than fresh tokens "
                                   "(%d in %s s)" % (r["requests"], d))
            return r

        def jwt_expired(d, warm=False):
            return measure(p, wrk, url + "/jwt/x", d, 64, expect=401,
                           headers=["Proxy-Authorization: Bearer " + first("expired")])

        def jwt_badsig(d, warm=False):
            return measure(p, wrk, url + "/jwt/x", d, 64, expect=401,
                           headers=["Proxy-Authorization: Bearer " + first("badsig")])

        # the loop's iterations for one verification's time: its user CPU
        # a request at 0 and at 40 000 iterations
        burl = "http://127.0.0.1:%d/?n=" % busy.ports["h1"]
        cal = [measure(busy, wrk, burl + str(n), 2, 64)["user_us_per_req"]
               for n in (0, 40000)]
        iters = int(40000 * ossl / (cal[1] - cal[0]))
        self.extra["busy_loop"] = {"iterations": iters, "calibration_user_us": cal}
        log("jwt: busy loop of %d iterations for %.1f µs" % (iters, ossl))

        def busy_none(d, warm=False):
            return measure(busy, wrk, burl + "0", d, 64)

        def busy_verify(d, warm=False):
            return measure(busy, wrk, burl + str(iters), d, 64)

        self.rounds("jwt", [("jwt", "no auth", "kedge", p, noauth),
                            ("jwt", "warm cache", "kedge", p, jwt_warm),
                            ("jwt", "cold verify", "kedge", p, jwt_cold),
                            ("jwt", "invalid: expired", "kedge", p, jwt_expired),
                            ("jwt", "invalid: bad signature", "kedge", p, jwt_badsig),
                            ("jwt", "busy loop: none", "nginx", busy, busy_none),
                            ("jwt", "busy loop: a verification's time", "nginx", busy,
                             busy_verify)])
        self.stop_all()

    # --- group "callgrind" --------------------------------------------------

    def group_callgrind(self, fixture):
        """Instructions per request, single process under callgrind: a
        count, not a timing, so other load on the machine does not move it.
        Variants: the proxy scenario (10 endpoints), 1 and 1000 routes by
        host (rNNNN.HOST, so that the host names are as long) and by path
        (/rNNNN/*, all on one host) matching the first, the last or no
        route (kedge's 502), a discovered route and an adhoc rule (10
        endpoints each), and 10 000 endpoints (every one warm first).  A
        variant that fails (one whose requests do not take the path it
        names, among others) is reported as failed; the others still run."""
        out = {}
        variants = [("nginx", "10 endpoints"), ("kedge", "10 endpoints"),
                    ("nginx", "h2"), ("kedge", "h2"), ("nginx", "grpc"), ("kedge", "grpc")]
        # every request with the client's id: plain NGINX, plain NGINX
        # writing kedge's headers, kedge
        for proto in ("10 endpoints", "h2", "grpc"):
            variants += [("nginx", "%s, the client's id" % proto),
                         ("nginx", "%s, the client's id, kedge's headers" % proto),
                         ("kedge", "%s, the client's id" % proto)]
        for layout in ("host", "path"):
            variants += [("kedge", "1 route by %s" % layout),
                         ("kedge", "1 route by %s, none" % layout)]
            variants += [("kedge", "1000 routes by %s, %s" % (layout, case))
                         for case in ("first", "last", "none")]
        variants += [("kedge", "10 endpoints, nginx's keepalive")]
        variants += [("kedge", "discovered route"), ("kedge", "adhoc route")]
        if not self.args.quick:
            variants += [("nginx", "10000 endpoints"), ("kedge", "10000 endpoints"),
                         ("kedge", "10000 endpoints, nginx's keepalive")]
        if self.args.variants:
            # these only; "N routes by host|path[, first|last|none]" of
            # ngx_kedge_module for any N too
            wanted = self.args.variants.split(";")
            known = [v for c, v in variants]
            variants = [(c, v) for c, v in variants if v in wanted]
            variants += [("kedge", v) for v in wanted if v not in known]
        # five ports a variant from 18000: the callgrind group runs alone,
        # and 18400 up are the backends' (31 variants: up to 18155)
        base = 18000
        if base + 5 * len(variants) > 18400:
            raise RuntimeError("callgrind: more variants than ports below 18400")
        for c, variant in variants:
            key = "%s|%s" % (c, variant)
            try:
                out[key] = self._callgrind_one(fixture, c, variant, base)
            except Exception as e:
                log("callgrind %s, %s: FAILED: %s" % (c, variant, e))
                out[key] = {"contender": c, "variant": variant,
                            "failed": "%s: %s" % (type(e).__name__, e)}
            base += 5
        self.extra["callgrind"] = out

    def _callgrind_one(self, fixture, c, variant, base):
        import http.client
        n = self.args.callgrind_requests
        path = "/"
        host = HOST
        kw = {}
        eps = HTTP_EPS
        warm = 200
        sync = {}                   # backends to wait for: name -> endpoints
        kind = None                 # a route kind: its check
        proto = variant.split(",")[0]
        client_id = ", the client's id" in variant
        if variant.endswith(", kedge's headers"):
            kw["kedge_headers"] = True
        if variant.endswith("nginx's keepalive"):
            kw["nginx_keepalive"] = True
        m = re.match(r"(\d{1,4}) routes? by (host|path)(?:, (first|last|none))?$", variant)
        if m:
            count, layout, case = int(m.group(1)), m.group(2), m.group(3) or "first"
            i = {"first": 0, "last": count - 1, "none": 9999}[case]
            if layout == "host":
                kw["kedge_routes"] = ["kedge_http_route backend=web host=r%04d.%s;"
                                      % (j, HOST) for j in range(count)]
                host = "r%04d.%s" % (i, HOST)
            else:
                kw["kedge_routes"] = ["kedge_http_route backend=web host=%s path=/r%04d/*;"
                                      % (HOST, j) for j in range(count)]
                path = "/r%04d/x" % i
        elif variant.startswith("10000 endpoints"):
            eps = many_endpoints(10000)
            kw["keepalive"] = 20000
            warm = 10000 + 200             # every endpoint's connection warm
            if c == "kedge":
                fixture.put_service("eps10000", 10000)
                kw["k8s"] = True
                kw["kedge_backends"] = [
                    "kedge_backend web k8s=eps10000.default:http protocol=http;",
                    "kedge_backend echo endpoints=%s protocol=grpc;"
                    % ",".join(addr(e) for e in GRPC_EPS)]
                sync = {"web": 10000}
        elif variant in ("discovered route", "adhoc route"):
            # kedge's "10 endpoints" instance (its configured route to
            # HTTP_EPS untouched), plus discovery or an adhoc rule; the
            # request is for the discovered host or the adhoc name
            kind = [k for k in ROUTE_KINDS if k[0] == variant][0]
            host = kind[1]
            if variant == "discovered route":
                fixture.put_discovered()
                kw["k8s"] = True
                kw["kedge_http"] = DISCOVERY_HTTP
                sync = {DISC_BACKEND: len(KIND_EPS)}
            else:
                kw["kedge_http"] = ADHOC_HTTP
        name = "callgrind-%s-%s" % (c, re.sub(r"[^a-z0-9]+", "-", variant))
        p = make_contender(c, name, base, eps, GRPC_EPS, callgrind=True, **kw)
        cg = os.path.join(p.prefix, "callgrind.out")
        for old in os.listdir(p.prefix):
            if old.startswith("callgrind.out"):
                os.unlink(os.path.join(p.prefix, old))
        vg = subprocess.Popen(
            ["taskset", "-c", CPU_PROXY, "valgrind", "--tool=callgrind",
             "--callgrind-out-file=" + cg, "/usr/sbin/nginx", "-p", p.prefix + "/",
             "-c", p.conf], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        dns_queries = None
        try:
            wait_port(p.ports["h1"], timeout=120)
            if sync:
                wait_kedge(p, sync, timeout=300)
            if kind:
                # the path it names, or the variant fails
                check_route_kind(p, variant, kind[1], kind[2], kind[3], timeout=120)

            def requests(count):
                if proto in ("h2", "grpc"):
                    # one HTTP/2 connection, one stream at a time
                    grpc = proto == "grpc"
                    cmd = ["h2load", "-n%d" % count, "-c1", "-m1",
                           "-H", ":authority: %s" % HOST]
                    if client_id:
                        cmd += ["-H", "x-kedge-request-id: %s" % CLIENT_ID]
                    if grpc:
                        cmd += ["-d", os.path.join(WORK, "grpc-request.bin"),
                                "-H", "content-type: application/grpc",
                                "-H", "te: trailers"]
                    url = "http://127.0.0.1:%d%s" % (
                        p.ports["grpc" if grpc else "h2c"], GRPC_PATH if grpc else "/")
                    o = subprocess.run(cmd + [url], capture_output=True, text=True).stdout
                    if not re.search(r"%d succeeded, 0 failed" % count, o):
                        raise RuntimeError("callgrind %s %s: %s" % (c, variant, o))
                    return
                conn = http.client.HTTPConnection("127.0.0.1", p.ports["h1"], timeout=60)
                status, start = ((502, b"unknown route to service") if variant.endswith("none")
                                 else (200, b"backend "))
                headers = {"Host": host}
                if client_id:
                    headers["X-Kedge-Request-ID"] = CLIENT_ID
                for _ in range(count):
                    conn.request("GET", path, headers=headers)
                    resp = conn.getresponse()
                    body = resp.read()
                    if kind:
                        # every request: the backend's name (a discovered
                        # one's; none for adhoc), one of the 10 endpoints
                        check_response("callgrind %s" % variant, resp.status,
                                       {k.lower(): v for k, v in resp.getheaders()},
                                       body, kind[3])
                    elif resp.status != status or not body.startswith(start):
                        raise RuntimeError("callgrind %s: %d %r" % (c, resp.status, body))
                conn.close()
            a0, _ = stub()
            requests(warm)                  # warm: upstream connections, caches
            if client_id and (c == "kedge" or kw.get("kedge_headers")):
                check_kedge_headers(p.name, p.ports, proto)
            if variant == "adhoc route":
                time.sleep(0.5)             # dnsmasq's log of the warm-up's query
                q0 = self.dns.queries()
            # a dump zeroes every count; "-z" would leave the costs of
            # start-up in the functions' own counts and in "totals:"
            sh(["callgrind_control", "-d", "warm", str(vg.pid)],
               stdout=subprocess.DEVNULL)
            a1, _ = stub()
            requests(n)
            a2, _ = stub()
            sh(["callgrind_control", "-d", "measured", str(vg.pid)],
               stdout=subprocess.DEVNULL)
            if variant == "adhoc route":
                time.sleep(0.5)
                dns_queries = self.dns.queries() - q0
                if dns_queries:
                    # the resolver's cache (valid=600s) should have served
                    # every measured request
                    raise RuntimeError("adhoc route: %d DNS queries during the %d "
                                       "requests counted" % (dns_queries, n))
        finally:
            vg.terminate()
            try:
                vg.wait(timeout=120)
            except subprocess.TimeoutExpired:
                # the "measured" dump is written: a slow exit (a busy
                # core) costs nothing but the time
                vg.kill()
                vg.wait()
        dumps = [x for x in os.listdir(p.prefix) if x.startswith("callgrind.out")
                 and "measured" in open(os.path.join(p.prefix, x), errors="replace").read(4000)]
        if not dumps:
            raise RuntimeError("callgrind: no dump for %s" % c)
        dump = os.path.join(p.prefix, sorted(dumps)[-1])
        # "summary:" is what callgrind counted since the counters were
        # zeroed; "totals:", the sum of the dump's cost lines, also holds
        # costs of code first run before the zeroing (OpenSSL's random
        # number generator, behind $request_id: some 7 million
        # instructions whatever the number of requests counted), as
        # tools/jwt_callgrind.py found
        summary = totals = None
        for line in open(dump, errors="replace"):
            if line.startswith("summary:"):
                summary = int(line.split()[1])
            elif line.startswith("totals:"):
                totals = int(line.split()[1])
        total = summary if summary is not None else totals
        ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100",
                              dump], capture_output=True, text=True).stdout

        def tops(text):
            funcs, seen = [], set()
            for line in text.splitlines():
                m = re.match(r"\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(\S+):(\S+)", line)
                if m and m.group(3) not in seen:
                    seen.add(m.group(3))
                    funcs.append((int(m.group(1).replace(",", "")) / n, m.group(3)))
            return funcs
        funcs = tops(ann)
        self_funcs = tops(subprocess.run(["callgrind_annotate", "--inclusive=no",
                                          "--threshold=100", dump],
                                         capture_output=True, text=True).stdout)
        log("callgrind %s, %s: %.0f instructions per request (new upstream conns %d)"
            % (c, variant, total / n, a2 - a1 - (1 + MANY_SPLIT)))
        r = {"contender": c, "variant": variant, "ir_per_request": total / n,
             "totals_per_request": totals / n if totals is not None else None,
             "requests": n, "warm": warm, "dump": dump, "top": funcs[:60],
             "self": self_funcs[:15],
             "new_conns": a2 - a1 - (1 + MANY_SPLIT)}
        if dns_queries is not None:
            r["dns_queries"] = dns_queries
        if c == "kedge" and (kind or variant == "10 endpoints"):
            # every function's exclusive count: where a route kind's
            # difference to the configured route goes
            r["self_all"] = dict((f, ir) for ir, f in self_funcs)
        return r


def percentile(sorted_values, pct):
    if not sorted_values:
        return None
    k = (len(sorted_values) - 1) * pct / 100.0
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


# --------------------------------------------------------------------------
# the report

def med(rs, key):
    v = [r[key] for r in rs if r.get(key) is not None]
    return statistics.median(v) if v else None


def machine():
    cpu = ""
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break

    def ver(cmd, pat=None):
        try:
            o = subprocess.run(cmd, capture_output=True, text=True)
            o = (o.stdout + o.stderr).strip().splitlines()[0]
            return o
        except Exception:
            return "?"

    def pkg(name):
        return subprocess.run(["dpkg-query", "-W", "-f=${Version}", name],
                              capture_output=True, text=True).stdout or "?"
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--",
                            "ngx_kedge_module", "config"],
                           capture_output=True, text=True).stdout.strip()
    return {
        "cpu": "%s, %d cores (%s)" % (cpu, os.cpu_count(),
                                      "virtual machine" if "hypervisor" in open("/proc/cpuinfo").read() else "bare metal"),
        "kernel": platform.release(),
        "os": open("/etc/debian_version").read().strip(),
        "nginx": pkg("nginx"), "haproxy": pkg("haproxy"),
        "lua": pkg("libnginx-mod-http-lua"), "wrk": pkg("wrk"),
        "h2load": pkg("nghttp2-client"), "valgrind": pkg("valgrind"),
        "commit": commit + (" (module sources modified)" if dirty else ""),
    }


def fmt(v, spec="%.0f"):
    return "–" if v is None else spec % v


def write_results(run, args, started, finished):
    R = run.results
    # what was measured: the machine and commit of the run, not of now
    m = run.machine or machine()
    L = []
    w = L.append

    def cell(scenario, variant, contender, key="rps"):
        rs = [r for r in R if r["scenario"] == scenario and r["variant"] == variant
              and r["contender"] == contender]
        return med(rs, key), rs

    w("# Benchmark results")
    w("")
    w("Written by `bench/run.sh%s` on %s (%s to %s UTC). Medians of %d "
      "interleaved rounds of %d s per measurement; ratios are against the "
      "baseline (plain NGINX) or the reference named, **measured in this same run**."
      % (" --quick" if args.quick else "", started.strftime("%Y-%m-%d"),
         started.strftime("%H:%M"), finished.strftime("%H:%M"), args.rounds, args.duration))
    w("")
    if run.group_times:
        w("Groups measured (UTC): " + "; ".join(
            "%s %s" % (g, "–".join(t)) for g, t in run.group_times.items()) + ".")
        if run.merged:
            w("Kept from an earlier run (`--merge`): %s; ratios only ever compare "
              "figures of one group, measured together." % ", ".join(run.merged))
        w("")
    for g, why in run.failed.items():
        w("**Group `%s` failed** and is missing below: %s" % (g, why))
        w("")
    w("| machine | |")
    w("|---|---|")
    for k in ("cpu", "kernel", "os", "nginx", "haproxy", "lua", "wrk", "h2load",
              "valgrind", "commit"):
        label = {"os": "Debian", "lua": "libnginx-mod-http-lua", "commit": "ngx_kedge_module commit",
                 "nginx": "nginx (Debian)", "haproxy": "HAProxy (Debian)"}.get(k, k)
        v = m[k]
        if k == "commit" and len(set(run.commits.values())) > 1:
            # a merged run: each group's commit
            by = {}
            for g in GROUPS:
                if g in run.commits:
                    by.setdefault(run.commits[g], []).append(g)
            v = "; ".join("%s (%s)" % (c, ", ".join(gs)) for c, gs in by.items())
        w("| %s | %s |" % (label, v))
    w("")
    w("Pinning: each proxy (one nginx worker, or HAProxy with one thread) on "
      "core %s; wrk/h2load (one thread), the backends (one nginx worker) and the "
      "Kubernetes API fixture on core %s. Every contender runs in the same run, "
      "side by side; only one is under load at a time." % (CPU_PROXY, CPU_LOAD))
    w("")

    # --- ratios
    w("## Ratios against the baseline")
    w("")
    w("Throughput (requests/s, median) relative to plain NGINX in the same "
      "scenario. Higher is better.")
    w("")
    w("| scenario | " + " | ".join(LABEL[c] for c in CONTENDERS) + " |")
    w("|---|" + "---:|" * len(CONTENDERS))
    rows = [("http1", "10 endpoints", "HTTP/1.1 keepalive, 10 endpoints"),
            ("h2", "10 endpoints", "HTTP/2 (h2c → HTTP/1.1)"),
            ("grpc", "10 endpoints", "gRPC unary (h2c → h2c)"),
            ("mtls", "10 endpoints", "HTTP/1.1 over TLS, client certificates, keepalive"),
            ("endpoints", "10 endpoints", "10 endpoints"),
            ("endpoints", "1000 endpoints", "1000 endpoints"),
            ("endpoints", "10000 endpoints", "10 000 endpoints")]
    for scen, variant, title in rows:
        base, _ = cell(scen, variant, BASELINE)
        if base is None:
            continue
        cells = []
        for c in CONTENDERS:
            v, _ = cell(scen, variant, c)
            cells.append("–" if v is None else "%.2f× (%.0f/s)" % (v / base, v))
        w("| %s | %s |" % (title, " | ".join(cells)))
    w("")

    w("Proxy CPU time per successful request relative to plain NGINX (baseline "
      "µs ÷ contender µs: higher is better). With one core for the load and the "
      "backends, the load core is often as busy as the proxy's, which squeezes "
      "throughput ratios towards 1; CPU per request is what the proxy itself "
      "costs.")
    w("")
    w("| scenario | " + " | ".join(LABEL[c] for c in CONTENDERS) + " |")
    w("|---|" + "---:|" * len(CONTENDERS))
    for scen, variant, title in rows:
        base, _ = cell(scen, variant, BASELINE, "cpu_us_per_req")
        if base is None:
            continue
        cells = []
        for c in CONTENDERS:
            v, _ = cell(scen, variant, c, "cpu_us_per_req")
            cells.append("–" if v is None else "%.2f× (%.1f µs)" % (base / v, v))
        w("| %s | %s |" % (title, " | ".join(cells)))
    w("")
    noisy = [r for r in R if r["foreign_cpu"] > 0.10]
    again = sum(r.get("attempts", 1) - 1 for r in R)
    w("**Quiet machine?** Other processes took %.1f %% of the two cores at most "
      "during a kept measurement (median %.1f %%); %d of %d kept measurements saw "
      "more than 10 %%. Each measurement waits (up to 30 s) for both cores to be "
      "idle first, and one disturbed by more than 10 %% is taken again (twice at "
      "most): %d were. Throughput figures are only as good as this line; the "
      "callgrind counts below do not depend on it."
      % (100 * max([r["foreign_cpu"] for r in R] or [0]),
         100 * (med(R, "foreign_cpu") or 0), len(noisy), len(R), again))
    w("")

    # --- targets
    w("## Targets")
    w("")
    w("Throughput medians, and where callgrind measured the same thing, the "
      "ratio of instructions per request (reference ÷ ngx_kedge_module: the "
      "throughput a CPU-bound proxy would have, independent of the machine's "
      "noise). \"per round\": the median of the ratios of each round's two "
      "measurements (taken in the same round, minutes or seconds apart), the "
      "range after it; the machine's drift between rounds cancels out of it. "
      "Met or not is judged by the ratio of the medians.")
    w("")
    w("| target | measured (req/s) | met | callgrind | met |")
    w("|---|---|:---:|---|:---:|")
    cgx = run.extra.get("callgrind", {})

    def cg_ratio(ref, mine):
        a = cgx.get(ref, {}).get("ir_per_request")
        b = cgx.get(mine, {}).get("ir_per_request")
        return a / b if a and b else None

    def target(title, value, limit, fmtv="%.3f×", higher=True, cg=None):
        def judge(v):
            if v is None:
                return "–", "–"
            ok = v >= limit if higher else v <= limit
            return fmtv % v, "yes" if ok else "**no**"
        m, ok = judge(value)
        cm, cok = judge(cg)
        if isinstance(value, Ratio) and value.rounds:
            m += " (per round %.3f×, %.2f–%.2f)" % (
                statistics.median(value.rounds), min(value.rounds), max(value.rounds))
        w("| %s | %s | %s | %s | %s |" % (title, m, ok, cm, cok))

    class Ratio(float):
        """a ratio of medians, with the ratios of each round's pair"""
        rounds = ()

    def ratio(s1, v1, c1, s2, v2, c2):
        a, ra = cell(s1, v1, c1)
        b, rb = cell(s2, v2, c2)
        if a is None or not b:
            return None
        r = Ratio(a / b)
        by_round = {x["round"]: x["rps"] for x in rb if x.get("rps")}
        r.rounds = [x["rps"] / by_round[x["round"]] for x in ra
                    if x.get("rps") is not None and x.get("round") in by_round]
        return r

    target("routed HTTP/1.1 ≥ 0.95× plain proxy_pass",
           ratio("http1", "10 endpoints", "kedge", "http1", "10 endpoints", "nginx"), 0.95,
           cg=cg_ratio("nginx|10 endpoints", "kedge|10 endpoints"))
    target("routed HTTP/1.1 ≥ 1.0× the Lua balancer",
           ratio("http1", "10 endpoints", "kedge", "http1", "10 endpoints", "lua"), 1.0)
    target("HTTP/2 ≥ 0.95× plain proxy_pass",
           ratio("h2", "10 endpoints", "kedge", "h2", "10 endpoints", "nginx"), 0.95,
           cg=cg_ratio("nginx|h2", "kedge|h2"))
    target("gRPC unary ≥ 0.95× plain grpc_pass",
           ratio("grpc", "10 endpoints", "kedge", "grpc", "10 endpoints", "nginx"), 0.95,
           cg=cg_ratio("nginx|grpc", "kedge|grpc"))
    # what the headers kedge writes cost NGINX itself: see the callgrind
    # section (every request with the client's id)
    for proto, label in (("10 endpoints", "HTTP/1.1"), ("h2", "HTTP/2"), ("grpc", "gRPC")):
        a = cg_ratio("nginx|%s, the client's id" % proto,
                     "nginx|%s, the client's id, kedge's headers" % proto)
        b = cg_ratio("nginx|%s, the client's id, kedge's headers" % proto,
                     "kedge|%s, the client's id" % proto)
        if a is None or b is None:
            continue
        w("| %s with the client's id (no target): plain NGINX writing kedge's "
          "headers × plain; kedge × that NGINX | – | – | %.3f×; %.3f× | – |" % (label, a, b))
    for layout in ("host", "path"):
        for case in ("first", "last", "none"):
            one = "1 route, none" if case == "none" else "1 route, match"
            cg = cg_ratio("kedge|1 route by %s%s" % (layout, ", none" if case == "none" else ""),
                          "kedge|1000 routes by %s, %s" % (layout, case))
            target("1000 routes by %s, %s ≥ 0.97× 1 route%s"
                   % (layout, "none" if case == "none" else "match " + case,
                      ", none" if case == "none" else ""),
                   ratio("routes", "1000 routes by %s, %s" % (layout, case), "kedge",
                         "routes", one, "kedge"), 0.97, cg=cg)
    # the kinds of route: no target in the issue, the figures only;
    # reference: kedge's configured route (wall clock: the same instance;
    # callgrind: kedge's "10 endpoints")
    for v in ("discovered route", "adhoc route"):
        a = ratio("routekinds", v, "kedge", "routekinds", "configured route", "kedge")
        b = cg_ratio("kedge|10 endpoints", "kedge|" + v)
        if a is None and b is None:
            continue
        w("| %s, × kedge's configured route (no target) | %s | – | %s | – |"
          % (v, fmt(a, "%.3f×"), fmt(b, "%.3f×")))
    target("10 000 endpoints ≥ 0.97× 10 endpoints",
           ratio("endpoints", "10000 endpoints", "kedge", "endpoints", "10 endpoints", "kedge"), 0.97,
           cg=cg_ratio("kedge|10 endpoints", "kedge|10000 endpoints"))
    _, churn10 = cell("churn", "10000 endpoints, churn 10/s", "kedge")
    errs = sum(r["errors"] for r in churn10) if churn10 else None
    target("churn 10/s on 10 000 endpoints: zero errors", errs, 0, "%d errors", higher=False)
    target("churn 10/s: p99 ≤ 1.5× no churn",
           ratio("churn", "10000 endpoints, churn 10/s", "kedge", "endpoints",
                 "10000 endpoints", "kedge") and
           (cell("churn", "10000 endpoints, churn 10/s", "kedge", "p99")[0] /
            cell("endpoints", "10000 endpoints", "kedge", "p99")[0]), 1.5, higher=False)
    prop = run.extra.get("propagation")
    target("propagation p99 ≤ 100 ms", prop and prop["p99"], 100, "%.1f ms", higher=False)
    target("JWT, warm ≥ 0.92× no auth",
           ratio("jwt", "warm cache", "kedge", "jwt", "no auth", "kedge"), 0.92)
    cold_us, _ = cell("jwt", "cold verify", "kedge", "cpu_us_per_req")
    none_us, _ = cell("jwt", "no auth", "kedge", "cpu_us_per_req")
    if [r for r in R if r["scenario"] == "jwt"] and not run.extra.get("openssl_verify_us"):
        run.extra["openssl_verify_us"] = openssl_verify_us()
    ossl = run.extra.get("openssl_verify_us")
    target("JWT, cold verify: extra CPU ≤ 1.3× openssl speed's verify (ES256)",
           (cold_us - none_us) / ossl if cold_us and none_us and ossl else None,
           1.3, higher=False)
    # the kernel's extra of a proxy busy for as long, without a verification
    busy_sys, _ = cell("jwt", "busy loop: a verification's time", "nginx", "sys_us_per_req")
    busy0_sys, _ = cell("jwt", "busy loop: none", "nginx", "sys_us_per_req")
    target("JWT, cold verify: the same, less what the kernel costs plain NGINX "
           "busy for a verification's time a request (see JWT below)",
           (cold_us - none_us - (busy_sys - busy0_sys)) / ossl
           if cold_us and none_us and ossl and busy_sys is not None
           and busy0_sys is not None else None,
           1.3, higher=False)
    target("invalid token (expired) ≥ 1.5× cold verify",
           ratio("jwt", "invalid: expired", "kedge", "jwt", "cold verify", "kedge"), 1.5)
    target("invalid token (bad signature) ≥ 1.5× cold verify",
           ratio("jwt", "invalid: bad signature", "kedge", "jwt", "cold verify", "kedge"), 1.5)
    w("")

    # --- routes
    rr = [r for r in R if r["scenario"] == "routes"]
    if rr:
        w("## Routes (ngx_kedge_module)")
        w("")
        w("Routes `kedge_http_route backend=web host=rNNNN.%s` (by host) or "
          "`host=%s path=/rNNNN/*` (by path: all on one host); the request "
          "matches the first, the last or no route (no route: kedge's own 502, "
          "nothing proxied)." % (HOST, HOST))
        w("")
        w("| routes | req/s | × 1 route | p99 ms |")
        w("|---|---:|---:|---:|")
        one, _ = cell("routes", "1 route, match", "kedge")
        seen = []
        for r in rr:
            if r["variant"] not in seen:
                seen.append(r["variant"])
        seen.sort(key=lambda v: (int(v.split()[0]), v))
        for v in seen:
            x, rs = cell("routes", v, "kedge")
            w("| %s | %.0f | %s | %s |" % (v, x, "%.3f" % (x / one) if one else "–",
                                          fmt(med(rs, "p99"), "%.2f")))
        w("")

    # --- route kinds
    kr = [r for r in R if r["scenario"] == "routekinds"]
    kx = run.extra.get("routes", {})
    if kr or kx.get("failed"):
        w("## Kinds of route (ngx_kedge_module)")
        w("")
        w("One instance, HTTP/1.1 keepalive (wrk), the same 10 endpoints "
          "(%s:%d) three ways: a configured route (`kedge_http_route host=%s`), "
          "the route `kedge_discovery` made of a labelled Service (Host `%s`, "
          "backend `%s` from its EndpointSlice) and an adhoc rule "
          "(`kedge_http_adhoc *.adhoc.bench.local`, Host `%s`: the name's 10 A "
          "records from dnsmasq on loopback, cached by nginx's resolver for "
          "`valid=600s`). The reference is **kedge's configured route**, measured "
          "on the same instance in the same rounds; the issue sets no target for "
          "these. Before measuring, each request was checked to take the path "
          "it names (`x-kedge-backend-name`, `$kedge_route`)."
          % ("127.0.1.1–10", KIND_EPS[0][1], HOST, DISC_HOST, DISC_BACKEND, ADHOC_HOST))
        w("")
        w("| route | req/s | × configured route | µs CPU/req | p99 ms |")
        w("|---|---:|---:|---:|---:|")
        conf, _ = cell("routekinds", "configured route", "kedge")
        for v, _, _, _ in ROUTE_KINDS:
            if v in kx.get("failed", {}):
                w("| %s | **failed**: %s | | | |" % (v, kx["failed"][v].replace("|", "\\|")))
                continue
            x, rs = cell("routekinds", v, "kedge")
            if x is None:
                continue
            w("| %s | %.0f | %s | %s | %s |" % (v, x, "%.3f" % (x / conf) if conf else "–",
                                              fmt(med(rs, "cpu_us_per_req"), "%.1f"),
                                              fmt(med(rs, "p99"), "%.2f")))
        if "dns_queries" in kx:
            w("")
            w("DNS queries for the adhoc name during the group's rounds: %d."
              % kx["dns_queries"])
        w("")

    # --- jwt
    jr = [r for r in R if r["scenario"] == "jwt"]
    if jr:
        w("## JWT (ngx_kedge_module, `kedge_oidc`, ES256 keys of a static issuer on loopback)")
        w("")
        w("One worker; `warm cache`: one token again and again (a digest and a "
          "lookup in the zone's cache); `cold verify`: a token never seen before "
          "on every request (tokens.lua cycles through %s pre-minted ones: "
          "strict checks, OpenSSL ECDSA P-256, a cache insert); invalid tokens: "
          "refused with 401 (expired: on its claims, before any signature "
          "check; bad signature under a known kid: after the verification)."
          % "the")
        w("")
        w("| variant | req/s | × no auth | µs CPU/req | of it user | of it system | p99 ms |")
        w("|---|---:|---:|---:|---:|---:|---:|")
        base, _ = cell("jwt", "no auth", "kedge")
        for c, v in (("kedge", "no auth"), ("kedge", "warm cache"),
                     ("kedge", "cold verify"), ("kedge", "invalid: expired"),
                     ("kedge", "invalid: bad signature"),
                     ("nginx", "busy loop: none"),
                     ("nginx", "busy loop: a verification's time")):
            x, rs = cell("jwt", v, c)
            if x is None:
                continue
            label = v if c == "kedge" else "plain NGINX, " + v
            w("| %s | %.0f | %s | %s | %s | %s | %s |" % (
                label, x, "%.3f" % (x / base) if base and c == "kedge" else "–",
                fmt(med(rs, "cpu_us_per_req"), "%.1f"),
                fmt(med(rs, "user_us_per_req"), "%.1f"),
                fmt(med(rs, "sys_us_per_req"), "%.1f"),
                fmt(med(rs, "p99"), "%.2f")))
        ossl = run.extra.get("openssl_verify_us")
        if ossl:
            w("")
            w("`openssl speed ecdsap256` on the proxy's core: %.1f µs per verification." % ossl)
        bl = run.extra.get("busy_loop")
        if bl:
            w("")
            w("The busy loop (plain NGINX, `proxy_pass` as the baseline's, and "
              "`access_by_lua_block` counting %d iterations of LuaJIT "
              "arithmetic, which touch no memory: one verification's time by "
              "its user CPU, %.1f µs a request at none and %.1f at 40 000 "
              "iterations, measured first) is the reference for the kernel: "
              "a proxy that serves at the cold verification's rate pays the "
              "kernel more a request than one at full speed, verification or "
              "not (on this machine waking a load side that sleeps between "
              "requests costs the waker: see bench/README.md)."
              % (bl["iterations"], bl["calibration_user_us"][0],
                 bl["calibration_user_us"][1]))
        w("")

    # --- churn
    if churn10:
        w("## Endpoint churn (ngx_kedge_module, 10 000 endpoints from EndpointSlices)")
        w("")
        w("The API fixture changes one EndpointSlice of 100 endpoints at the rate "
          "given (one endpoint made not ready, the previous one ready again), "
          "during the load. wrk is closed-loop: its p99 is that of a saturated proxy.")
        w("")
        w("| churn | req/s | p50 ms | p99 ms | errors (all rounds) | events |")
        w("|---|---:|---:|---:|---:|---:|")
        for label, s, v in (("none", "endpoints", "10000 endpoints"),
                            ("1/s", "churn", "10000 endpoints, churn 1/s"),
                            ("10/s", "churn", "10000 endpoints, churn 10/s")):
            x, rs = cell(s, v, "kedge")
            if x is None:
                continue
            w("| %s | %.0f | %s | %s | %d | %s |" % (
                label, x, fmt(med(rs, "p50"), "%.2f"), fmt(med(rs, "p99"), "%.2f"),
                sum(r["errors"] for r in rs),
                sum(r.get("churn_events", 0) for r in rs) if s == "churn" else "–"))
        w("")

    if prop:
        w("## Propagation (ngx_kedge_module)")
        w("")
        w("From the change at the API (just before the fixture is told to replace "
          "the Service's only endpoint by another) to the first request the new "
          "endpoint serves (its access log, in ms), under wrk load: %d changes, "
          "p50 **%.1f ms**, p99 **%.1f ms** (min %.1f, max %.1f)."
          % (prop["samples"], prop["p50"], prop["p99"], prop["min"], prop["max"]))
        w("")

    cg = run.extra.get("callgrind")
    if cg:
        w("## Instructions per request (callgrind)")
        w("")
        w("HTTP/1.1 GET over one keepalive client connection to the whole nginx "
          "process (single process, `master_process off`) under callgrind, upstream "
          "connections warm (every endpoint's, for 10 000), %d requests counted. "
          "A count, not a timing: other load on the machine does not move it; "
          "it does vary by up to about 2 %% from run to run (how many events one "
          "turn of the event loop handles depends on timing). h2 and grpc: one "
          "h2load connection, one stream at a time."
          % max([v.get("requests", 0) for v in cg.values()]))
        w("")
        w("| contender | variant | instructions / request | × plain NGINX, 10 endpoints | new upstream conns |")
        w("|---|---|---:|---:|---:|")
        b0 = cg.get("nginx|10 endpoints", {}).get("ir_per_request")
        for v in cg.values():
            if v.get("failed"):
                w("| %s | %s | **failed**: %s | | |" % (
                    LABEL[v["contender"]], v["variant"], v["failed"].replace("|", "\\|")))
                continue
            w("| %s | %s | %.0f | %s | %d |" % (
                LABEL[v["contender"]], v["variant"], v["ir_per_request"],
                "%.3f" % (v["ir_per_request"] / b0) if b0 else "–", v["new_conns"]))
        w("")
        hrows = []
        for proto, label in (("10 endpoints", "HTTP/1.1"), ("h2", "HTTP/2"), ("grpc", "gRPC")):
            keys = ("nginx|%s, the client's id" % proto,
                    "nginx|%s, the client's id, kedge's headers" % proto,
                    "kedge|%s, the client's id" % proto)
            irs = [cg.get(k, {}).get("ir_per_request") for k in keys]
            if all(irs):
                hrows.append((label, irs))
        if hrows:
            w("Against plain NGINX doing the same job: every request carries a "
              "well-formed `X-Kedge-Request-ID` (`%s`), which kedge checks and "
              "keeps, so that neither makes one; plain NGINX writes what kedge "
              "writes by hand (the client's `Host`/`:authority` to the backend, "
              "the id to the backend and back, `x-kedge-backend-name`, the proxy "
              "credentials and `Proxy-Connection` dropped: `KEDGE_HEADERS` in "
              "bench.py), checked on a response of each. What kedge costs beyond "
              "that NGINX is its own machinery: routing, the balancer and its "
              "keepalive cache, the context, the counters." % CLIENT_ID)
            w("")
            w("| protocol | plain NGINX | plain NGINX writing kedge's headers | "
              "ngx_kedge_module | plain ÷ with the headers | with the headers ÷ kedge |")
            w("|---|---:|---:|---:|---:|---:|")
            for label, (a, h, k) in hrows:
                w("| %s | %.0f | %.0f | %.0f | %.3f | %.3f |" % (label, a, h, k, a / h, h / k))
            w("")
        k0 = cg.get("kedge|10 endpoints", {}).get("ir_per_request")
        kinds = [cg[k] for k in ("kedge|discovered route", "kedge|adhoc route")
                 if k in cg and not cg[k].get("failed")]
        if k0 and kinds:
            w("Kinds of route: against **kedge's configured route** (its \"10 "
              "endpoints\" variant, this run); the issue sets no target. "
              "Discovered: the same instance with `kedge_discovery` and a "
              "labelled Service whose route (Host `%s`) leads to its backend "
              "`%s`, 10 endpoints from its EndpointSlice; adhoc: with "
              "`kedge_http_adhoc *.adhoc.bench.local` and Host `%s`, the name's 10 "
              "addresses resolved by nginx's resolver once in the warm-up and "
              "cached (`valid=600s`; the DNS server saw no query during the "
              "requests counted). Every counted response was checked "
              "(`x-kedge-backend-name`: the discovered backend's, none for "
              "adhoc; one of the 10 endpoints), and `$kedge_route` before."
              % (DISC_HOST, DISC_BACKEND, ADHOC_HOST))
            w("")
            w("| route | instructions / request | × configured route | difference |")
            w("|---|---:|---:|---:|")
            w("| configured route | %.0f | 1.000 | 0 |" % k0)
            for v in kinds:
                w("| %s | %.0f | %.3f | %+.0f |" % (v["variant"], v["ir_per_request"],
                                                   v["ir_per_request"] / k0,
                                                   v["ir_per_request"] - k0))
            w("")
            s0 = cg["kedge|10 endpoints"].get("self_all")
            for v in kinds:
                s1 = v.get("self_all")
                if not s0 or not s1:
                    continue
                # (the frames live when the counters were zeroed show the
                # whole count: not functions of a request)
                live = {f for f, ir in s0.items() if ir >= 0.9 * k0}
                live |= {f for f, ir in s1.items() if ir >= 0.9 * v["ir_per_request"]}
                d = sorted(((s1.get(f, 0) - s0.get(f, 0), f)
                            for f in (set(s0) | set(s1)) - live),
                           key=lambda x: -abs(x[0]))
                w("%s: where the difference goes (exclusive instructions per request, "
                  "%s minus configured route; the largest ten):" % (v["variant"], v["variant"]))
                w("")
                w("| function | instructions / request |")
                w("|---|---:|")
                for ir, f in d[:10]:
                    w("| `%s` | %+.0f |" % (f, ir))
                w("")
        for key, title in (("kedge|10 endpoints", "10 endpoints"),
                           ("kedge|discovered route", "discovered route"),
                           ("kedge|adhoc route", "adhoc route"),
                           ("kedge|1000 routes by host, last", "1000 routes by host, last"),
                           ("kedge|1000 routes by path, last", "1000 routes by path, last"),
                           ("kedge|10000 endpoints", "10 000 endpoints"),
                           ("kedge|10000 endpoints, nginx's keepalive",
                            "10 000 endpoints, nginx's keepalive")):
            v = cg.get(key)
            if not v or v.get("failed"):
                continue
            rows = [(ir, f) for ir, f in v["top"] if "kedge" in f or "keepalive" in f
                    or (key == "kedge|adhoc route" and "resolve" in f)
                    or f in ("ngx_memn2cmp", "__memcmp_evex_movbe", "ngx_http_upstream_get_round_robin_peer")]
            if rows:
                w("ngx_kedge_module, %s: functions, inclusive instructions per request "
                  "(`callgrind_annotate --inclusive=yes`):" % title)
                w("")
                w("| function | instructions / request |")
                w("|---|---:|")
                for ir, f in rows[:10]:
                    w("| `%s` | %.0f |" % (f, ir))
                w("")
        for key in ("kedge|10000 endpoints", "kedge|10000 endpoints, nginx's keepalive",
                    "nginx|10000 endpoints"):
            v = cg.get(key)
            if not v or v.get("failed") or not v.get("self"):
                continue
            w("%s, %s: where the instructions go (exclusive, per "
              "request; `0x...` are static functions of Debian's stripped "
              "`/usr/sbin/nginx`, see bench/README.md):"
              % (LABEL[v["contender"]], v["variant"].replace("10000", "10 000")))
            w("")
            w("| function | instructions / request |")
            w("|---|---:|")
            # (the frames live when the counters were zeroed show the total)
            top = max(x[0] for x in v["self"])
            for ir, f in [x for x in v["self"] if x[0] < 0.999 * top][:5]:
                w("| `%s` | %.0f |" % (f, ir))
            w("")

    # --- pending
    w("## Pending")
    w("")
    for s in SCENARIOS:
        if s.get("pending"):
            w("- %s: waits for the authorization work (issue 4); its place is "
              "the `jwt` group of `SCENARIOS` in `bench/bench.py`." % s["title"])
    w("")

    # --- raw
    w("## Raw figures")
    w("")
    w("Medians over the rounds, then every round. `new upstream conns`: "
      "connections the backends accepted during the measurement (keepalive "
      "holds when it is 0); `backend reqs / ok`: requests the backends served "
      "over the successes the client counted (h2load counts any 200, so for gRPC "
      "this shows every success reached the backend); `proxy CPU`: the proxy's "
      "CPU time over wall time; `µs CPU/req`: proxy CPU per successful request; "
      "`load core`: how busy the load core was (near 100 % means the load side, "
      "not the proxy, may be the limit).")
    w("")
    w("| scenario | variant | contender | req/s | p50 ms | p99 ms | errors | new upstream conns | backend reqs / ok | proxy CPU | µs CPU/req | load core | foreign CPU (max) | req/s per round |")
    w("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    keys = []
    for r in R:
        k = (r["scenario"], r["variant"], r["contender"])
        if k not in keys:
            keys.append(k)
    for k in keys:
        rs = sorted([r for r in R if (r["scenario"], r["variant"], r["contender"]) == k],
                    key=lambda r: r["round"])
        ok = sum(r["ok"] for r in rs)
        br = sum(r["backend_requests"] for r in rs)
        w("| %s | %s | %s | %.0f | %s | %s | %d | %d | %s | %.0f%% | %s | %.0f%% | %s | %s |" % (
            k[0], k[1], k[2], med(rs, "rps"), fmt(med(rs, "p50"), "%.2f"),
            fmt(med(rs, "p99"), "%.2f"), sum(r["errors"] for r in rs),
            sum(r["new_conns"] for r in rs),
            "%.3f" % (br / ok) if ok else "–",
            100 * med(rs, "proxy_cpu"), fmt(med(rs, "cpu_us_per_req"), "%.1f"),
            100 * (med(rs, "core1_busy") or 0),
            "%.0f%%" % (100 * max(r["foreign_cpu"] for r in rs)),
            " ".join("%.0f" % r["rps"] for r in rs)))
    w("")
    w("Reproduce: `bench/run.sh` (about 15 minutes; `--quick`, fewer variants, about 5). "
      "Configurations: `bench/conf/`; the runner: `bench/bench.py`.")
    w("")

    with open(args.out, "w") as f:
        f.write("\n".join(L))
    log("wrote %s" % args.out)


# --------------------------------------------------------------------------

def main():
    global MODULE
    ap = argparse.ArgumentParser()
    ap.add_argument("--module", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--duration", type=int)
    ap.add_argument("--groups", default=",".join(GROUPS))
    ap.add_argument("--contenders", default=",".join(CONTENDERS),
                    help="a subset, for trying things out (the report needs all)")
    ap.add_argument("--variants",
                    help="callgrind and routes: only these variants, separated by \";\", "
                         "for trying things out (the report needs all)")
    ap.add_argument("--out", default=os.path.join(BENCH, "RESULTS.md"))
    ap.add_argument("--merge", action="store_true",
                    help="keep the last run's figures of the groups not run now")
    ap.add_argument("--report-only", action="store_true",
                    help="write RESULTS.md again from build/bench/results.json")
    args = ap.parse_args()
    MODULE = args.module
    CONTENDERS[:] = [c for c in CONTENDERS if c in args.contenders.split(",")]
    args.rounds = args.rounds or (3 if args.quick else 5)
    args.duration = args.duration or (1 if args.quick else 2)
    args.prop_samples = 20 if args.quick else 100
    args.retries = 1 if args.quick else 2
    args.callgrind_requests = 300 if args.quick else 2000
    groups = args.groups.split(",")

    if args.report_only:
        # the report again from the last run's figures (build/bench/results.json)
        saved = json.load(open(os.path.join(WORK, "results.json")))
        run = Run(args)
        run.results, run.extra = saved["results"], saved["extra"]
        run.group_times, run.merged = saved.get("group_times", {}), saved.get("merged", [])
        run.failed = saved.get("failed", {})
        run.machine = saved.get("machine")
        run.commits = saved.get("commits", {})
        if run.machine is None:
            # a run from before the machine was saved with it
            run.machine = machine()
            run.machine["commit"] = "not recorded"
        args.rounds, args.duration, args.quick = saved["rounds"], saved["duration"], saved["quick"]
        write_results(run, args, datetime.datetime.fromisoformat(saved["started"]),
                      datetime.datetime.fromisoformat(saved["finished"]))
        return

    if os.cpu_count() < 2:
        sys.exit("bench: needs two cores (one for the proxy, one for the load)")
    # every server inherits it; the sandbox may cap the hard limit (20000
    # here), which is why the many-endpoint backends are split in four
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    shutil.rmtree(os.path.join(WORK, "run"), ignore_errors=True)
    os.makedirs(WORK, exist_ok=True)
    with open(os.path.join(WORK, "grpc-request.bin"), "wb") as f:
        msg = b"\x0a\x05hello"                  # EchoRequest{message: "hello"}
        f.write(b"\x00" + len(msg).to_bytes(4, "big") + msg)
    with open(os.path.join(WORK, "server.pem"), "w") as f:
        f.write(open(CERTS + "/server.crt").read() + open(CERTS + "/server.key").read())

    run, started = measure_all(args, groups)
    finish(run, args, groups, started)


def measure_all(args, groups):
    run = Run(args)
    run.machine = machine()         # before the run: its commit
    run.commits = {g: run.machine["commit"] for g in groups}
    started = datetime.datetime.utcnow()
    backends = make_backends()
    fixture = Fixture()
    run.dns = dns = Dns()
    try:
        for b in backends:
            b.start()
            OURS.append(b)
        if {"routes", "endpoints", "propagation", "callgrind"} & set(groups):
            fixture.start()
            OURS.append(fixture.proc)
        if {"routes", "callgrind"} & set(groups):
            dns.start()
            OURS.append(dns.proc)
        for g in groups:
            log("group %s" % g)
            run.group_times[g] = [datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M")]
            try:
                run_group(run, g, fixture)
            except Exception as e:
                # the other groups still run and are reported; this one says why not
                import traceback
                traceback.print_exc()
                run.failed[g] = "%s: %s" % (type(e).__name__, e)
                run.stop_all()
            run.group_times[g].append(datetime.datetime.utcnow().strftime("%H:%M"))
    finally:
        run.stop_all()
        fixture.stop()
        dns.stop()
        for b in backends:
            b.stop()
    return run, started


def run_group(run, g, fixture):
    if g == "proxy":
        run.group_proxy()
    elif g == "routes":
        run.group_routes(fixture)
    elif g == "endpoints":
        run.group_endpoints(fixture)
    elif g == "propagation":
        run.group_propagation(fixture)
    elif g == "jwt":
        run.group_jwt()
    elif g == "callgrind":
        run.group_callgrind(fixture)
    else:
        raise RuntimeError("unknown group %s" % g)


def finish(run, args, groups, started):
    finished = datetime.datetime.utcnow()
    saved_path = os.path.join(WORK, "results.json")
    if args.merge and os.path.exists(saved_path):
        # the other groups' figures from the last run, said so in the report
        saved = json.load(open(saved_path))
        kept = [r for r in saved["results"] if r["group"] not in groups]
        run.results = kept + run.results
        for k, v in saved["extra"].items():
            if k not in groups:
                run.extra.setdefault(k, v)
        for g, t in saved.get("group_times", {}).items():
            if g not in groups:
                run.group_times[g] = t
        kept_groups = {r["group"] for r in kept} | {k for k in saved["extra"] if k not in groups}
        run.merged = [g for g in GROUPS if g in kept_groups]
        started = datetime.datetime.fromisoformat(saved["started"])
        for g in run.merged:
            run.commits[g] = saved.get("commits", {}).get(g, "not recorded")
    with open(saved_path, "w") as f:
        json.dump({"results": run.results, "extra": run.extra,
                   "started": started.isoformat(), "finished": finished.isoformat(),
                   "rounds": args.rounds, "duration": args.duration,
                   "quick": args.quick, "group_times": run.group_times,
                   "merged": run.merged, "failed": run.failed,
                   "machine": run.machine, "commits": run.commits}, f, indent=1)
    write_results(run, args, started, finished)


if __name__ == "__main__":
    main()
