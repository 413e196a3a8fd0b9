# kedge's dynamic routing discovery: Services labelled
# kedge.com/kedge-exposed=true, served by the API server fixture in the
# real protobuf wire format, become routes and backends (kedge's naming
# rules, its annotations), merged after the configured ones, and follow
# the Services without a reload.  Real traffic through real nginx: curl
# for HTTP, t/peers/grpc_client.py for gRPC, nginx and
# t/peers/grpc_server.py as the backends, plain and TLS.

use Test::Nginx::Socket 'no_plan';
use Test::Kedge::Exec;
use Test::Kedge::Peers;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
$ENV{TEST_NGINX_H2_PORT} ||= $port + 180;    # h2c listener, for gRPC
$ENV{TEST_NGINX_B_PORT} ||= $port + 181;     # HTTP backends
$ENV{TEST_NGINX_BT_PORT} ||= $port + 182;    # HTTPS backend
$ENV{TEST_NGINX_G_PORT} ||= $port + 183;     # gRPC backend
$ENV{TEST_NGINX_GT_PORT} ||= $port + 184;    # gRPC backend over TLS
$ENV{TEST_NGINX_CTL} = repo_root() . "/t/fixtures/k8s/ctl";
$ENV{TEST_NGINX_GRPC_CLIENT} = repo_root() . "/t/peers/grpc_client.py";

my $certs = test_certs();
k8s_apiserver();
grpc_server("--listen", "127.0.0.2:$ENV{TEST_NGINX_G_PORT}=g-plain");
{
    # grpc-core would log each SNI its certificate does not name
    local $ENV{GRPC_VERBOSITY} = "NONE";
    grpc_server("--listen", "127.0.0.2:$ENV{TEST_NGINX_GT_PORT}=g-tls",
                "--tls", "$certs/server.crt", "$certs/server.key");
}

our $Api = <<'_EOC_';
    kedge_kubernetes https://127.0.0.1:$TEST_NGINX_K8S_PORT
                     token_file=$TEST_NGINX_K8S_TOKEN
                     ca_file=$TEST_NGINX_CERT_DIR/ca.crt;
_EOC_

our $Common = <<'_EOC_';

    upstream kedge {
        kedge_balancer;
        keepalive 8;
    }

    # gRPC comes in here, h2c
    server {
        listen 127.0.0.1:$TEST_NGINX_H2_PORT http2;
        location / { kedge_pass; }
    }

    server {
        listen 127.0.0.2:$TEST_NGINX_B_PORT;
        listen 127.0.0.3:$TEST_NGINX_B_PORT;
        return 200 "$server_addr:$server_port $http_host\n";
    }

    server {
        listen 127.0.0.2:$TEST_NGINX_BT_PORT ssl;
        ssl_certificate $TEST_NGINX_CERT_DIR/server.crt;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/server.key;
        return 200 "tls $server_addr:$server_port sni=$ssl_server_name\n";
    }
_EOC_

# shell helpers for every exec block
our $Sh = <<'_EOS_';
ctl() { $TEST_NGINX_CTL "$@"; }
svc() { ctl PUT /services/$1 "$2"; }
slice() { ctl PUT /endpointslices/$1 "$2"; }
get() { curl -s -H "Host: $1" "http://127.0.0.1:$TEST_NGINX_SERVER_PORT${2:-/}"; }
errtype() { curl -s -o /dev/null -D - -H "Host: $1" "http://127.0.0.1:$TEST_NGINX_SERVER_PORT${2:-/}" | tr -d '\r' | grep -i '^x-kedge-error-type' || echo "no error"; }
grpc() { /usr/bin/python3 $TEST_NGINX_GRPC_CLIENT --target 127.0.0.1:$TEST_NGINX_H2_PORT --timeout 3 --authority "$@" | sed 's/ meta=.*//; s/ conn=[0-9]*//'; }
# until "get HOST [PATH]" prints a line matching the glob, 10 s at most
until_get() {
    for i in $(seq 1 200); do
        out=$(get "$1" "$3")
        case "$out" in $2) echo "$out"; return;; esac
        sleep 0.05
    done
    echo "timeout: $out"
}
until_err() {
    for i in $(seq 1 200); do
        out=$(errtype "$1" "$3")
        case "$out" in *"$2") echo "$out"; return;; esac
        sleep 0.05
    done
    echo "timeout: $out"
}
ctl POST /reset
_EOS_

add_block_preprocessor(sub {
    my $block = shift;
    my $own = $block->http_config // '';

    if (!defined $block->must_die) {
        $block->set_value("http_config",
            ($own =~ /kedge_kubernetes/ ? '' : $Api)
            . ($own =~ /kedge_zone/ ? '' : "    kedge_zone kedge 1m;\n")
            . ($own =~ /kedge_discovery/ ? ''
               : "    kedge_discovery domain_suffix=ext.example.com;\n")
            . $Common . $own);
    }

    $block->set_value("config", "location / { kedge_pass; "
                      . "add_header X-Route \$kedge_route always; }")
        unless defined $block->config;
    $block->set_value("exec", $Sh . $block->exec) if defined $block->exec;
    $block->set_value("timeout", 30) unless defined $block->timeout;
});

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: a labelled Service appears as routes within moments
--- exec
slice default/web-a '{"service": "web", "endpoints": [{"addresses": ["127.0.0.2"]}, {"addresses": ["127.0.0.3"]}], "ports": [{"name": "http", "port": $TEST_NGINX_B_PORT}]}'
start=$(date +%s%N)
svc default/web '{"labels": {"kedge.com/kedge-exposed": "true"}, "ports": [{"name": "http", "port": $TEST_NGINX_SERVER_PORT, "targetPort": $TEST_NGINX_B_PORT}]}'
until_get web.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT '127.0.0.*' > /dev/null
echo "note: Service to traffic: $(( ($(date +%s%N) - start) / 1000000 )) ms (polling every 50 ms)" >&2
for i in 1 2 3 4; do get web.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT; done | sort | uniq -c | sed 's/^ *//'
curl -s -o /dev/null -D - -H "Host: web.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ | tr -d '\r' | grep -i '^x-kedge-backend-name\|^x-route' | sort
--- response_body eval
"2 127.0.0.2:$ENV{TEST_NGINX_B_PORT} web.default.svc.ext.example.com:$ENV{TEST_NGINX_SERVER_PORT}\n"
. "2 127.0.0.3:$ENV{TEST_NGINX_B_PORT} web.default.svc.ext.example.com:$ENV{TEST_NGINX_SERVER_PORT}\n"
. "X-Route: http:default/web:http\n"
. "x-kedge-backend-name: web_default_$ENV{TEST_NGINX_B_PORT}\n"
--- error_log
kedge: discovery: 1 Services, 1 routes, 1 backends
--- no_error_log
[warn]



=== TEST 2: port names pick the protocol: http, grpc; other names ignored
--- exec
slice default/web-a '{"service": "web", "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": [{"name": "http-web", "port": $TEST_NGINX_B_PORT}, {"name": "grpc", "port": $TEST_NGINX_G_PORT}, {"name": "metrics", "port": $TEST_NGINX_B_PORT}]}'
svc default/web '{"labels": {"kedge.com/kedge-exposed": "true"}, "ports": [{"name": "http-web", "port": $TEST_NGINX_SERVER_PORT, "targetPort": $TEST_NGINX_B_PORT}, {"name": "grpc", "port": $TEST_NGINX_H2_PORT, "targetPort": "grpc-port"}, {"name": "metrics", "port": 9100, "targetPort": $TEST_NGINX_B_PORT}]}'
until_get web.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT '127.0.0.2:*'
# the HTTP route does not take gRPC, nor the gRPC route HTTP
grpc web.default.svc.ext.example.com:$TEST_NGINX_H2_PORT --method Unary
grpc web.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT --method Unary
errtype web.default.svc.ext.example.com:$TEST_NGINX_H2_PORT
errtype web.default.svc.ext.example.com:9100
--- response_body eval
"127.0.0.2:$ENV{TEST_NGINX_B_PORT} web.default.svc.ext.example.com:$ENV{TEST_NGINX_SERVER_PORT}\n"
. "status=OK backend=g-plain authority=web.default.svc.ext.example.com:$ENV{TEST_NGINX_H2_PORT} seq=0 message=hello\n"
. "status=UNIMPLEMENTED code=12 message=unknown route to service\n"
. "X-Kedge-Error-Type: no-route\n"
. "X-Kedge-Error-Type: no-route\n"
--- error_log
kedge: discovery: 1 Services, 2 routes, 2 backends
--- timeout: 40



=== TEST 3: httptls and grpctls: TLS to the backend, not verified
--- exec
slice default/sec-a '{"service": "sec", "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": [{"name": "httptls", "port": $TEST_NGINX_BT_PORT}, {"name": "grpctls-api", "port": $TEST_NGINX_GT_PORT}]}'
svc default/sec '{"labels": {"kedge.com/kedge-exposed": "true"}, "ports": [{"name": "httptls", "port": $TEST_NGINX_SERVER_PORT, "targetPort": $TEST_NGINX_BT_PORT}, {"name": "grpctls-api", "port": $TEST_NGINX_H2_PORT, "targetPort": $TEST_NGINX_GT_PORT}]}'
until_get sec.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT 'tls *'
grpc sec.default.svc.ext.example.com:$TEST_NGINX_H2_PORT --method Unary
--- response_body eval
"tls 127.0.0.2:$ENV{TEST_NGINX_BT_PORT} sni=sec.default.svc\n"
. "status=OK backend=g-tls authority=sec.default.svc.ext.example.com:$ENV{TEST_NGINX_H2_PORT} seq=0 message=hello\n"
--- timeout: 40



=== TEST 4: annotations override the host and the gRPC service matchers
--- exec
slice team-a/api-a '{"service": "api", "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": [{"name": "http", "port": $TEST_NGINX_B_PORT}, {"name": "grpc", "port": $TEST_NGINX_G_PORT}]}'
svc team-a/api '{"labels": {"kedge.com/kedge-exposed": "true"}, "annotations": {"kedge.com/host-matcher": "API.example.org", "kedge.com/service-name-matcher": "kedge.test.Echo/*"}, "ports": [{"name": "http", "port": $TEST_NGINX_SERVER_PORT, "targetPort": $TEST_NGINX_B_PORT}, {"name": "grpc", "port": $TEST_NGINX_H2_PORT, "targetPort": $TEST_NGINX_G_PORT}]}'
until_get api.example.org:$TEST_NGINX_SERVER_PORT '127.0.0.2:*'
errtype api.team-a.svc.ext.example.com:$TEST_NGINX_SERVER_PORT
grpc api.example.org:$TEST_NGINX_H2_PORT --method Unary
grpc api.example.org:$TEST_NGINX_H2_PORT --method OtherPing
grpc api.team-a.svc.ext.example.com:$TEST_NGINX_H2_PORT --method Unary
--- response_body eval
"127.0.0.2:$ENV{TEST_NGINX_B_PORT} api.example.org:$ENV{TEST_NGINX_SERVER_PORT}\n"
. "X-Kedge-Error-Type: no-route\n"
. "status=OK backend=g-plain authority=api.example.org:$ENV{TEST_NGINX_H2_PORT} seq=0 message=hello\n"
. "status=UNIMPLEMENTED code=12 message=unknown route to service\n"
. "status=UNIMPLEMENTED code=12 message=unknown route to service\n"
--- timeout: 40



=== TEST 5: only Services labelled kedge.com/kedge-exposed=true; a label added, then taken away
--- exec
slice default/web-a '{"service": "web", "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": [{"name": "http", "port": $TEST_NGINX_B_PORT}]}'
ports='"ports": [{"name": "http", "port": $TEST_NGINX_SERVER_PORT, "targetPort": $TEST_NGINX_B_PORT}]'
svc default/web "{$ports}"
svc default/no '{"labels": {"kedge.com/kedge-exposed": "false"}, '"$ports"'}'
svc default/other '{"labels": {"example.org/kedge-exposed": "true"}, '"$ports"'}'
sleep 0.5
errtype web.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT
errtype no.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT
errtype other.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT
svc default/web '{"labels": {"kedge.com/kedge-exposed": "true"}, '"$ports"'}'
until_get web.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT '127.0.0.2:*'
svc default/web "{$ports}"
until_err web.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT no-route
--- response_body eval
"X-Kedge-Error-Type: no-route\n" x 3
. "127.0.0.2:$ENV{TEST_NGINX_B_PORT} web.default.svc.ext.example.com:$ENV{TEST_NGINX_SERVER_PORT}\n"
. "X-Kedge-Error-Type: no-route\n"



=== TEST 6: ports change and Services go: routes and watches follow, kedge's no-route after
--- exec
slice default/web-a '{"service": "web", "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": [{"name": "http", "port": $TEST_NGINX_B_PORT}]}'
svc default/web '{"labels": {"kedge.com/kedge-exposed": "true"}, "ports": [{"name": "http", "port": $TEST_NGINX_SERVER_PORT, "targetPort": $TEST_NGINX_B_PORT}]}'
until_get web.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT '127.0.0.2:*'
# the Service port moves: the route follows
svc default/web '{"labels": {"kedge.com/kedge-exposed": "true"}, "ports": [{"name": "http", "port": 8080, "targetPort": $TEST_NGINX_B_PORT}]}'
until_err web.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT no-route
curl -s -H "Host: web.default.svc.ext.example.com:8080" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
echo "slice watches: $(ctl stat 'open_watches["endpointslices"]')"
# the Service goes: its routes, its backend and its watch go
ctl DELETE /services/default/web
until_err web.default.svc.ext.example.com:8080 no-route
curl -s -i -H "Host: web.default.svc.ext.example.com:8080" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ | tr -d '\r' | grep -i '^HTTP\|^x-kedge-error:\|^unknown'
sleep 0.5
echo "slice watches: $(ctl stat 'open_watches["endpointslices"]')"
--- response_body eval
"127.0.0.2:$ENV{TEST_NGINX_B_PORT} web.default.svc.ext.example.com:$ENV{TEST_NGINX_SERVER_PORT}\n"
. "X-Kedge-Error-Type: no-route\n"
. "127.0.0.2:$ENV{TEST_NGINX_B_PORT} web.default.svc.ext.example.com:8080\n"
. "slice watches: 1\n"
. "X-Kedge-Error-Type: no-route\n"
. "HTTP/1.1 502 Bad Gateway\n"
. "X-Kedge-Error: unknown route to service\n"
. "unknown route to service\n"
. "slice watches: 0\n"



=== TEST 7: clashes: configured routes first; a configured backend's name is not discovery's
--- http_config
    kedge_backend web_default_$TEST_NGINX_B_PORT endpoints=127.0.0.3:$TEST_NGINX_B_PORT;
    kedge_backend admin endpoints=127.0.0.3:$TEST_NGINX_B_PORT;
    kedge_http_route backend=admin host=web.default.svc.ext.example.com path=/admin/*;
--- exec
slice default/web-a '{"service": "web", "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": [{"name": "http", "port": $TEST_NGINX_B_PORT}]}'
svc default/web '{"labels": {"kedge.com/kedge-exposed": "true"}, "ports": [{"name": "http", "port": $TEST_NGINX_SERVER_PORT, "targetPort": $TEST_NGINX_B_PORT}]}'
slice default/two-a '{"service": "two", "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": [{"name": "http", "port": $TEST_NGINX_B_PORT}]}'
svc default/two '{"labels": {"kedge.com/kedge-exposed": "true"}, "ports": [{"name": "http", "port": $TEST_NGINX_SERVER_PORT, "targetPort": $TEST_NGINX_B_PORT}]}'
until_get two.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT '127.0.0.2:*' > /dev/null
# the discovered route goes to the configured backend of that name
curl -s -D - -H "Host: web.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ | tr -d '\r' | grep -i '^x-kedge-backend\|^x-route\|^127' | sort
# the configured route of that host comes first
curl -s -D - -H "Host: web.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/admin/x | tr -d '\r' | grep -i '^x-kedge-backend\|^x-route' | sort
echo "slice watches: $(ctl stat 'open_watches["endpointslices"]')"
--- response_body eval
"127.0.0.3:$ENV{TEST_NGINX_B_PORT} web.default.svc.ext.example.com:$ENV{TEST_NGINX_SERVER_PORT}\n"
. "X-Route: http:default/web:http\n"
. "x-kedge-backend-name: web_default_$ENV{TEST_NGINX_B_PORT}\n"
. "X-Route: http:1\n"
. "x-kedge-backend-name: admin\n"
. "slice watches: 1\n"



=== TEST 8: two Services that make one backend name: the first has it
--- exec
slice b-c/x '{"service": "a", "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": [{"name": "http", "port": $TEST_NGINX_B_PORT}]}'
slice c/x '{"service": "a-b", "endpoints": [{"addresses": ["127.0.0.3"]}], "ports": [{"name": "http", "port": $TEST_NGINX_B_PORT}]}'
svc c/a-b '{"labels": {"kedge.com/kedge-exposed": "true"}, "ports": [{"name": "http", "port": $TEST_NGINX_SERVER_PORT, "targetPort": $TEST_NGINX_B_PORT}]}'
svc b-c/a '{"labels": {"kedge.com/kedge-exposed": "true"}, "ports": [{"name": "http", "port": $TEST_NGINX_SERVER_PORT, "targetPort": $TEST_NGINX_B_PORT}]}'
until_get a.b-c.svc.ext.example.com:$TEST_NGINX_SERVER_PORT '127.0.0.2:*' | cut -d' ' -f1
errtype a-b.c.svc.ext.example.com:$TEST_NGINX_SERVER_PORT
--- response_body eval
"127.0.0.2:$ENV{TEST_NGINX_B_PORT}\n"
. "X-Kedge-Error-Type: no-route\n"
--- error_log eval
qr{kedge: discovery: Service c/a-b: backend "a_b_c_\d+" is Service b-c/a's, port "http" left out}



=== TEST 9: Services that cannot be exposed, ports left out: logged once, the rest served
--- exec
slice default/web-a '{"service": "web", "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": [{"name": "http", "port": $TEST_NGINX_B_PORT}]}'
svc default/bad '{"labels": {"kedge.com/kedge-exposed": "true"}, "annotations": {"kedge.com/host-matcher": "a b"}, "ports": [{"name": "http", "port": 80}]}'
svc default/web '{"labels": {"kedge.com/kedge-exposed": "true"}, "ports": [{"name": "http", "port": $TEST_NGINX_SERVER_PORT, "targetPort": $TEST_NGINX_B_PORT}, {"name": "http-dns", "port": 53, "protocol": "UDP"}]}'
until_get web.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT '127.0.0.2:*'
ctl POST /drop_watch '{"clean": true}'
ctl POST /compact
ctl POST /drop_watch
sleep 1
grep -c 'Service default/bad not exposed: invalid host-matcher annotation' $TEST_NGINX_SERVER_ROOT/logs/error.log
grep -c 'Service default/web: 1 port(s) left out, the first "http-dns": not a TCP port' $TEST_NGINX_SERVER_ROOT/logs/error.log
--- response_body eval
"127.0.0.2:$ENV{TEST_NGINX_B_PORT} web.default.svc.ext.example.com:$ENV{TEST_NGINX_SERVER_PORT}\n1\n1\n"



=== TEST 10: the API server down: the last known routes stay; caught up after
--- exec
slice default/web-a '{"service": "web", "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": [{"name": "http", "port": $TEST_NGINX_B_PORT}]}'
svc default/web '{"labels": {"kedge.com/kedge-exposed": "true"}, "ports": [{"name": "http", "port": $TEST_NGINX_SERVER_PORT, "targetPort": $TEST_NGINX_B_PORT}]}'
until_get web.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT '127.0.0.2:*'
ctl POST /faults '{"type": "status", "code": 500}'
ctl POST /drop_watch
# the stream closed before the change, or it could still carry it
for i in $(seq 1 50); do
    [ "$(ctl stat 'open_watches["services"]')" = 0 ] && break
    sleep 0.05
done
ctl DELETE /services/default/web
fail=0
for i in $(seq 1 20); do
    get web.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT | grep -q "^127.0.0.2:" || fail=$((fail + 1))
    sleep 0.1
done
echo "failed while down: $fail"
ctl DELETE /faults
until_err web.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT no-route
--- response_body eval
"127.0.0.2:$ENV{TEST_NGINX_B_PORT} web.default.svc.ext.example.com:$ENV{TEST_NGINX_SERVER_PORT}\n"
. "failed while down: 0\n"
. "X-Kedge-Error-Type: no-route\n"
--- error_log
watch of Services labelled kedge.com/kedge-exposed=true failed
Services labelled kedge.com/kedge-exposed=true in sync with the Kubernetes API again



=== TEST 11: 410 Gone: the Services listed again, routes kept meanwhile
--- exec
slice default/web-a '{"service": "web", "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": [{"name": "http", "port": $TEST_NGINX_B_PORT}]}'
svc default/web '{"labels": {"kedge.com/kedge-exposed": "true"}, "ports": [{"name": "http", "port": $TEST_NGINX_SERVER_PORT, "targetPort": $TEST_NGINX_B_PORT}]}'
until_get web.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT '127.0.0.2:*'
ctl POST /stats/reset
ctl POST /compact '{"mode": "event"}'
ctl POST /drop_watch
sleep 0.5
get web.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT
svc default/two '{"labels": {"kedge.com/kedge-exposed": "true"}, "ports": [{"name": "http", "port": $TEST_NGINX_SERVER_PORT, "targetPort": $TEST_NGINX_B_PORT}]}'
slice default/two-a '{"service": "two", "endpoints": [{"addresses": ["127.0.0.3"]}], "ports": [{"name": "http", "port": $TEST_NGINX_B_PORT}]}'
until_get two.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT '127.0.0.3:*'
echo "service lists: $(ctl stat 'requests["list"]["services"]')"
--- response_body eval
"127.0.0.2:$ENV{TEST_NGINX_B_PORT} web.default.svc.ext.example.com:$ENV{TEST_NGINX_SERVER_PORT}\n" x 2
. "127.0.0.3:$ENV{TEST_NGINX_B_PORT} two.default.svc.ext.example.com:$ENV{TEST_NGINX_SERVER_PORT}\n"
. "service lists: 1\n"



=== TEST 12: max_services: the first ones by namespace and name, the others when room is made
--- http_config
    kedge_discovery domain_suffix=ext.example.com max_services=2;
--- exec
slice default/web-a '{"service": "c", "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": [{"name": "http", "port": $TEST_NGINX_B_PORT}]}'
for s in c b a; do
    svc default/$s '{"labels": {"kedge.com/kedge-exposed": "true"}, "ports": [{"name": "http", "port": $TEST_NGINX_SERVER_PORT, "targetPort": $TEST_NGINX_B_PORT}]}'
done
# b seen, then c gone (once a is seen): a and b are the two
until_err b.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT no-resolution-available > /dev/null
until_err c.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT no-route
errtype a.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT
errtype b.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT
ctl DELETE /services/default/a
until_get c.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT '127.0.0.2:*' | cut -d' ' -f1
--- response_body eval
"X-Kedge-Error-Type: no-route\n"
. "X-Kedge-Error-Type: no-resolution-available\n"
. "X-Kedge-Error-Type: no-resolution-available\n"
. "127.0.0.2:$ENV{TEST_NGINX_B_PORT}\n"
--- error_log
kedge: discovery: 1 labelled Services over max_services=2 left out
kedge: discovery: every labelled Service exposed again



=== TEST 13: the zone full: the last route set stays, logged once
--- http_config
    kedge_zone small 192k;
    kedge_discovery domain_suffix=ext.example.com max_backends=32;
--- exec
slice default/web-a '{"service": "web", "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": [{"name": "http", "port": $TEST_NGINX_B_PORT}]}'
svc default/web '{"labels": {"kedge.com/kedge-exposed": "true"}, "ports": [{"name": "http", "port": $TEST_NGINX_SERVER_PORT, "targetPort": $TEST_NGINX_B_PORT}]}'
until_get web.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT '127.0.0.2:*' | cut -d' ' -f1
# 20 Services of 16 gRPC ports each, with 250-byte host and service matchers
/usr/bin/python3 -c '
import json, sys
host = ("h" * 60 + ".") * 4 + "example"
glob = "s" * 249 + "*"
for n in range(20):
    ports = [{"name": "grpc-%d" % i, "port": 1000 + i, "targetPort": 9000} for i in range(16)]
    print("big-%02d" % n, json.dumps({"labels": {"kedge.com/kedge-exposed": "true"},
        "annotations": {"kedge.com/host-matcher": "%02d%s" % (n, host[2:]),
                        "kedge.com/service-name-matcher": glob}, "ports": ports}))
' | while read name doc; do svc default/$name "$doc"; done
sleep 1
get web.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT | cut -d' ' -f1
echo "logged: $(grep -c 'is full, the discovered routes stay as they were' $TEST_NGINX_SERVER_ROOT/logs/error.log)"
--- response_body eval
"127.0.0.2:$ENV{TEST_NGINX_B_PORT}\n" x 2 . "logged: 1\n"



=== TEST 14: kedge_ready waits for the first list of the Services
--- http_config
    kedge_kubernetes https://127.0.0.1:1 token_file=$TEST_NGINX_K8S_TOKEN;
--- config
    location = /ready { kedge_ready; }
--- exec
curl -s -i http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ready | tr -d '\r' | grep '^HTTP\|^not'
--- response_body
HTTP/1.1 503 Service Temporarily Unavailable
not ready: discovery never synced



=== TEST 15: without kedge_kubernetes
--- http_config
    kedge_zone kedge 1m;
    kedge_discovery domain_suffix=ext.example.com;
--- must_die
--- error_log eval
qr/"kedge_discovery" in \S+nginx\.conf:\d+ needs "kedge_kubernetes"/
--- suppress_stderr



=== TEST 16: without kedge_zone
--- http_config
    kedge_kubernetes https://127.0.0.1:1;
    kedge_discovery domain_suffix=ext.example.com;
--- must_die
--- error_log eval
qr/"kedge_discovery" in \S+nginx\.conf:\d+ needs "kedge_zone"/
--- suppress_stderr



=== TEST 17: bad parameters
--- http_config
    kedge_discovery domain_suffix=ext.example.com max_services=0;
--- must_die
--- error_log eval
qr/invalid parameter "max_services=0" in "kedge_discovery" directive in \S+nginx\.conf:\d+/
--- suppress_stderr



=== TEST 18: a domain suffix is required, and a DNS name
--- http_config
    kedge_discovery domain_suffix=.example.com;
--- must_die
--- error_log eval
qr/invalid domain suffix ".example.com" in "kedge_discovery" directive, a DNS name is expected in \S+nginx\.conf:\d+/
--- suppress_stderr



=== TEST 19: a label prefix must make label keys
--- http_config
    kedge_discovery label_prefix=Kedge.com/ domain_suffix=example.com;
--- must_die
--- error_log eval
qr/invalid label prefix "Kedge.com\/" in "kedge_discovery" directive/
--- suppress_stderr



=== TEST 20: a zone too small for the slots of max_backends
--- http_config
    kedge_kubernetes https://127.0.0.1:1;
    kedge_zone small 128k;
    kedge_discovery domain_suffix=example.com max_backends=1000;
--- must_die
--- error_log eval
qr/"kedge_discovery" in \S+nginx\.conf:\d+ with max_backends=1000 needs a "kedge_zone" of at least \d+k/
--- suppress_stderr



=== TEST 21: another label prefix
--- http_config
    kedge_discovery label_prefix=example.org/ domain_suffix=Kube.Example.COM;
--- exec
slice default/web-a '{"service": "web", "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": [{"name": "http", "port": $TEST_NGINX_B_PORT}]}'
svc default/web '{"labels": {"kedge.com/kedge-exposed": "true"}, "ports": [{"name": "http", "port": $TEST_NGINX_SERVER_PORT, "targetPort": $TEST_NGINX_B_PORT}]}'
svc default/other '{"labels": {"example.org/kedge-exposed": "true"}, "annotations": {"kedge.com/host-matcher": "x.example.com"}, "ports": [{"name": "http", "port": $TEST_NGINX_SERVER_PORT, "targetPort": $TEST_NGINX_B_PORT}]}'
slice default/other-a '{"service": "other", "endpoints": [{"addresses": ["127.0.0.3"]}], "ports": [{"name": "http", "port": $TEST_NGINX_B_PORT}]}'
until_get other.default.svc.kube.example.com:$TEST_NGINX_SERVER_PORT '127.0.0.3:*' | cut -d' ' -f1
errtype web.default.svc.kube.example.com:$TEST_NGINX_SERVER_PORT
ctl POST /drop_watch '{"clean": true}'
sleep 0.5
echo "selector: $(ctl stat '[r["query"]["labelSelector"] for r in log if r["resource"] == "services"][-1]')"
--- response_body eval
"127.0.0.3:$ENV{TEST_NGINX_B_PORT}\n"
. "X-Kedge-Error-Type: no-route\n"
. "selector: example.org/kedge-exposed=true\n"



=== TEST 22: max_backends: a backend over it is not made, nor its routes, until room is made
--- http_config
    kedge_discovery domain_suffix=ext.example.com max_backends=1;
--- exec
slice default/a-a '{"service": "a", "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": [{"name": "http", "port": $TEST_NGINX_B_PORT}]}'
slice default/b-a '{"service": "b", "endpoints": [{"addresses": ["127.0.0.3"]}], "ports": [{"name": "http", "port": $TEST_NGINX_B_PORT}]}'
svc default/a '{"labels": {"kedge.com/kedge-exposed": "true"}, "ports": [{"name": "http", "port": $TEST_NGINX_SERVER_PORT, "targetPort": $TEST_NGINX_B_PORT}]}'
until_get a.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT '127.0.0.2:*' | cut -d' ' -f1
svc default/b '{"labels": {"kedge.com/kedge-exposed": "true"}, "ports": [{"name": "http", "port": $TEST_NGINX_SERVER_PORT, "targetPort": $TEST_NGINX_B_PORT}]}'
sleep 0.5
errtype b.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT
echo "slice watches: $(ctl stat 'open_watches["endpointslices"]')"
ctl DELETE /services/default/a
until_get b.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT '127.0.0.3:*' | cut -d' ' -f1
errtype a.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT
--- response_body eval
"127.0.0.2:$ENV{TEST_NGINX_B_PORT}\n"
. "X-Kedge-Error-Type: no-route\n"
. "slice watches: 1\n"
. "127.0.0.3:$ENV{TEST_NGINX_B_PORT}\n"
. "X-Kedge-Error-Type: no-route\n"
--- error_log
kedge: discovery: 1 backends over max_backends=1 left out, with their routes
kedge: discovery: every discovered backend made again



=== TEST 23: kedge_status: the discovered routes after the configured ones, the discovered backends with their endpoints
--- http_config
    kedge_backend conf endpoints=127.0.0.3:$TEST_NGINX_B_PORT;
    kedge_http_route backend=conf host=conf.example.com;
--- config
    location / { kedge_pass; }
    location = /status { kedge_status; }
--- exec
slice default/web-a '{"service": "web", "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": [{"name": "http", "port": $TEST_NGINX_B_PORT}, {"name": "grpctls", "port": $TEST_NGINX_GT_PORT}]}'
svc default/web '{"labels": {"kedge.com/kedge-exposed": "true"}, "annotations": {"kedge.com/service-name-matcher": "kedge.*"}, "ports": [{"name": "http", "port": $TEST_NGINX_SERVER_PORT, "targetPort": $TEST_NGINX_B_PORT}, {"name": "grpctls", "port": $TEST_NGINX_H2_PORT, "targetPort": $TEST_NGINX_GT_PORT}]}'
until_get web.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT '127.0.0.2:*' | cut -d' ' -f1
for i in $(seq 1 50); do
    curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/status | grep -q '"endpoints": \["127.0.0.2:$TEST_NGINX_GT_PORT"\]' && break
    sleep 0.1
done
curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/status | /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin)
for r in s["routes"]:
    print(r["id"], r["source"], r["backend"], r.get("host") or r.get("authority"),
          r["port"] == int(sys.argv[1]) or r["port"] == int(sys.argv[2]), r.get("service", "-"), r.get("proxy_mode", "-"))
for b in s["backends"]:
    print(b["name"].replace(sys.argv[3], "B").replace(sys.argv[4], "GT"), b["protocol"], b["source"],
          b["target"], b["tls"], b["state"], b.get("watch", "-"), len(b["endpoints"]))
' $TEST_NGINX_SERVER_PORT $TEST_NGINX_H2_PORT $TEST_NGINX_B_PORT $TEST_NGINX_GT_PORT
--- response_body eval
"127.0.0.2:$ENV{TEST_NGINX_B_PORT}\n"
. "http:1 config conf conf.example.com False - ANY\n"
. "http:default/web:http discovery web_default_$ENV{TEST_NGINX_B_PORT} web.default.svc.ext.example.com True - REVERSE_PROXY\n"
. "grpc:default/web:grpctls discovery web_default_$ENV{TEST_NGINX_GT_PORT} web.default.svc.ext.example.com True kedge.* -\n"
. "conf any static None off static - 1\n"
. "web_default_B http k8s web.default:http off fresh watching 1\n"
. "web_default_GT grpc k8s web.default:grpctls insecure fresh watching 1\n"



=== TEST 24: the adhoc rules come after the discovered routes
--- http_config
    resolver 127.0.0.1:1 ipv6=off;
    resolver_timeout 1s;
    kedge_http_adhoc *.svc.ext.example.com ports=1-65535;
--- exec
slice default/web-a '{"service": "web", "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": [{"name": "http", "port": $TEST_NGINX_B_PORT}]}'
svc default/web '{"labels": {"kedge.com/kedge-exposed": "true"}, "ports": [{"name": "http", "port": $TEST_NGINX_SERVER_PORT, "targetPort": $TEST_NGINX_B_PORT}]}'
until_get web.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT '127.0.0.2:*' | cut -d' ' -f1
curl -s -o /dev/null -D - -H "Host: web.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ | tr -d '\r' | grep -i '^x-route'
curl -s -o /dev/null -D - -H "Host: other.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ | tr -d '\r' | grep -i '^x-route'
--- response_body eval
"127.0.0.2:$ENV{TEST_NGINX_B_PORT}\n"
. "X-Route: http:default/web:http\n"
. "X-Route: http-adhoc:1\n"
--- timeout: 30



=== TEST 25: eleven gRPC routes on one host: the discovered list is indexed by service, its order kept
# discovery's order: the exact methods a2 and a9, the longer prefix b1,
# a3-a8 (one service each), then a1 "kedge.test.E*" and b2
# "com.example.*" (by name), which can match any service
--- exec
for s in a1 a2 a3 a4 a5 a6 a7 a8 a9 b1 b2; do
    slice ix/$s-x '{"service": "'$s'", "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": [{"name": "grpc", "port": $TEST_NGINX_G_PORT}]}'
done
m() {
    svc ix/$1 '{"labels": {"kedge.com/kedge-exposed": "true"}, "annotations": {"kedge.com/host-matcher": "svc.example.org", "kedge.com/service-name-matcher": "'$2'"}, "ports": [{"name": "grpc", "port": $TEST_NGINX_H2_PORT, "targetPort": "grpc"}]}'
}
m a1 'kedge.test.E*'
m a2 com.example.S2/Exact
for i in 3 4 5 6 7 8; do m a$i "com.example.S$i/*"; done
m a9 kedge.test.Echo/Unary
m b1 'kedge.test.Other/*'
m b2 'com.example.*'
call() {
    curl -s --http2-prior-knowledge -o /dev/null -H 'content-type: application/grpc' \
         -H "Host: svc.example.org:$TEST_NGINX_H2_PORT" --data-binary '' \
         -w "$1 %header{x-kedge-backend-name}%header{x-kedge-error-type}\n" \
         "http://127.0.0.1:$TEST_NGINX_H2_PORT$1"
}
for i in $(seq 1 200); do
    case "$(call /com.example.S9/Call)" in *b2_ix_grpc) break;; esac
    sleep 0.05
done
for p in /kedge.test.Echo/Unary /com.example.S2/Exact /com.example.S2/Other \
         /com.example.S5/Call /com.example.S9/Call /kedge.test.Other/Ping \
         /kedge.test.Echo/Bidi /zz.None/Call /; do
    call $p
done
--- response_body
/kedge.test.Echo/Unary a9_ix_grpc
/com.example.S2/Exact a2_ix_grpc
/com.example.S2/Other b2_ix_grpc
/com.example.S5/Call a5_ix_grpc
/com.example.S9/Call b2_ix_grpc
/kedge.test.Other/Ping b1_ix_grpc
/kedge.test.Echo/Bidi a1_ix_grpc
/zz.None/Call no-route
/ no-route
--- error_log
kedge: route index: 1 of segment "com.example.S5", 2 of any
--- timeout: 40
