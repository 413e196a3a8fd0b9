# kedge_metrics: Prometheus text that a real Prometheus parser accepts
# (promtool check metrics, Debian's prometheus package), counters that
# move by exactly the requests made, summed over two workers, kept across
# a reload, gRPC calls by grpc-status (a real gRPC client and backends),
# the state of a Kubernetes fetcher as it fails and recovers (the API
# server fixture of t/fixtures/k8s), and the series of backends that
# discovery makes: their own, following their endpoints, never carrying
# the counts of a backend that had their slot before.

use Test::Nginx::Socket 'no_plan';
use Test::Kedge::Exec;
use Test::Kedge::Peers;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
$ENV{TEST_NGINX_WEB_PORT} ||= $port + 200;
$ENV{TEST_NGINX_G1} ||= $port + 201;
$ENV{TEST_NGINX_H2C_PORT} ||= $port + 202;
$ENV{TEST_NGINX_B_PORT} ||= $port + 203;
$ENV{TEST_NGINX_G2} ||= $port + 204;
$ENV{TEST_NGINX_H2C_NT_PORT} ||= $port + 205;
$ENV{TEST_NGINX_CTL} = repo_root() . "/t/fixtures/k8s/ctl";
$ENV{TEST_NGINX_CLIENT} = repo_root() . "/t/peers/grpc_client.py";

test_certs();
k8s_apiserver();
grpc_server("--listen", "127.0.0.1:$ENV{TEST_NGINX_G1}=grpc-a");
grpc_server("--listen", "127.0.0.1:$ENV{TEST_NGINX_G2}=grpc-f",
            "--fail-code", "PERMISSION_DENIED");

our $Common = <<'_EOC_';
    kedge_kubernetes https://127.0.0.1:$TEST_NGINX_K8S_PORT
                     token_file=$TEST_NGINX_K8S_TOKEN
                     ca_file=$TEST_NGINX_CERT_DIR/ca.crt;

    kedge_backend web endpoints=127.0.0.1:$TEST_NGINX_WEB_PORT protocol=http;
    kedge_backend ga endpoints=127.0.0.1:$TEST_NGINX_G1 protocol=grpc;
    kedge_backend gf endpoints=127.0.0.1:$TEST_NGINX_G2 protocol=grpc;
    kedge_backend dead endpoints=127.0.0.1:1;

    kedge_http_route backend=web host=web.test;
    kedge_http_route backend=dead host=dead.test;
    kedge_grpc_route backend=ga authority=echo.test;
    kedge_grpc_route backend=gf authority=fail.test;
    kedge_grpc_route backend=dead authority=dead.test;

    server {
        listen 127.0.0.1:$TEST_NGINX_WEB_PORT;
        location / { return 200 "web\n"; }
        location /missing { return 404; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_H2C_PORT http2;
        location / { kedge_pass; }
    }

    server {
        listen 127.0.0.2:$TEST_NGINX_B_PORT;
        return 200 "kube\n";
    }
_EOC_

our $Config = <<'_EOC_';
    location / { kedge_pass; }
    location /secure { kedge_bearer_token secret-token; kedge_pass; }
    location = /metrics { kedge_metrics; }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $Common . ($block->http_config // ''));
    $block->set_value("config", $Config) unless defined $block->config;
    $block->set_value("timeout", 20) unless defined $block->timeout;
});

master_on();
workers(2);
no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: promtool accepts every family: static, k8s= and an issuer
--- http_config
    kedge_backend kube k8s=kube.default:http;
    kedge_http_route backend=kube host=kube.test;
    kedge_oidc_issuer http://127.0.0.1:1/realm;
--- exec
$TEST_NGINX_CTL POST /reset
$TEST_NGINX_CTL PUT /endpointslices/default/kube-a '{"service": "kube", "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": [{"name": "http", "port": '$TEST_NGINX_B_PORT'}]}'
m=http://127.0.0.1:$TEST_NGINX_SERVER_PORT/metrics
for i in $(seq 1 100); do
    curl -s $m | grep -q 'kedge_backend_endpoints{backend_name="kube",protocol="any"} 1' \
        && curl -s $m | grep -q 'kedge_backend_watch_state{backend_name="kube",protocol="any",state="watching"} 1' \
        && break
    sleep 0.1
done
curl -s -H 'Host: kube.test' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
out=$TEST_NGINX_SERVER_ROOT/html
curl -s -D $out/headers -o $out/metrics.txt $m
grep -i '^content-type' $out/headers | tr -d '\r'
promtool check metrics < $out/metrics.txt && echo "promtool: ok"
grep -E '^kedge_(backend_(endpoints|state|watch_state|info)|info|oidc_key_set_state|oidc_keys)\{' $out/metrics.txt
grep -c '^kedge_proxy_errors_total{' $out/metrics.txt
grep -E '^kedge_backend_(sync_age_seconds|syncs_total)\{' $out/metrics.txt | sed -E 's/ [0-9]+$/ N/'
--- response_body
kube
Content-Type: text/plain; version=0.0.4; charset=utf-8
promtool: ok
kedge_info{version="0.1.0",nginx="1.22.1"} 1
kedge_backend_info{backend_name="web",protocol="http",source="static",tls="off"} 1
kedge_backend_info{backend_name="ga",protocol="grpc",source="static",tls="off"} 1
kedge_backend_info{backend_name="gf",protocol="grpc",source="static",tls="off"} 1
kedge_backend_info{backend_name="dead",protocol="any",source="static",tls="off"} 1
kedge_backend_info{backend_name="kube",protocol="any",source="k8s",tls="off"} 1
kedge_backend_endpoints{backend_name="web",protocol="http"} 1
kedge_backend_endpoints{backend_name="ga",protocol="grpc"} 1
kedge_backend_endpoints{backend_name="gf",protocol="grpc"} 1
kedge_backend_endpoints{backend_name="dead",protocol="any"} 1
kedge_backend_endpoints{backend_name="kube",protocol="any"} 1
kedge_backend_state{backend_name="kube",protocol="any",state="never"} 0
kedge_backend_state{backend_name="kube",protocol="any",state="fresh"} 1
kedge_backend_state{backend_name="kube",protocol="any",state="stale"} 0
kedge_backend_watch_state{backend_name="kube",protocol="any",state="listing"} 0
kedge_backend_watch_state{backend_name="kube",protocol="any",state="watching"} 1
kedge_backend_watch_state{backend_name="kube",protocol="any",state="retrying"} 0
kedge_oidc_key_set_state{issuer="http://127.0.0.1:1/realm",state="never"} 1
kedge_oidc_key_set_state{issuer="http://127.0.0.1:1/realm",state="fresh"} 0
kedge_oidc_key_set_state{issuer="http://127.0.0.1:1/realm",state="stale"} 0
kedge_oidc_keys{issuer="http://127.0.0.1:1/realm"} 0
0
kedge_backend_sync_age_seconds{backend_name="kube",protocol="any"} N
kedge_backend_syncs_total{backend_name="kube",protocol="any",result="ok"} N
kedge_backend_syncs_total{backend_name="kube",protocol="any",result="error"} N



=== TEST 2: counters move by exactly the requests made, over two workers
--- exec
u=http://127.0.0.1:$TEST_NGINX_SERVER_PORT
for i in 1 2 3 4 5; do curl -s -o /dev/null -H 'Host: web.test' $u/; done
curl -s -o /dev/null -H 'Host: web.test' $u/missing
for i in 1 2 3; do curl -s -o /dev/null -H 'Host: nowhere.test' $u/; done
for i in 1 2; do curl -s -o /dev/null -H 'Host: web.test' $u/secure; done
curl -s -o /dev/null -H 'Host: web.test' -H 'Proxy-Authorization: Bearer secret-token' $u/secure
curl -s -o /dev/null -H 'Host: dead.test' $u/
curl -s $u/metrics | grep -E '^kedge_(requests|proxy_errors)_total\{' | grep -v ' 0$'
--- response_body
kedge_requests_total{backend_name="web",protocol="http",code="2xx"} 6
kedge_requests_total{backend_name="web",protocol="http",code="4xx"} 1
kedge_requests_total{backend_name="dead",protocol="http",code="5xx"} 1
kedge_requests_total{backend_name="",protocol="http",code="4xx"} 2
kedge_requests_total{backend_name="",protocol="http",code="5xx"} 3
kedge_proxy_errors_total{backend_name="dead",protocol="http",type="no-connection-to-all-resolved-addresses"} 1
kedge_proxy_errors_total{backend_name="",protocol="http",type="unauthorized"} 2
kedge_proxy_errors_total{backend_name="",protocol="http",type="no-route"} 3



=== TEST 3: gRPC calls by grpc-status: answered (trailers), failed by the backend (Trailers-Only), refused by kedge, given up by the client
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_H2C_NT_PORT http2;
        location / {
            # no deadline for the backend: only the client gives up
            grpc_set_header grpc-timeout "";
            kedge_pass;
        }
    }
--- exec
c="$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT"
$c --authority echo.test --method Unary --repeat 2 | cut -d' ' -f1
$c --authority echo.test --method ServerStream --count 2 | cut -d' ' -f1
$c --authority fail.test --method Unary | cut -d' ' -f1,2
$c --authority nowhere.test --method Unary | cut -d' ' -f1,2
$c --authority dead.test --method Unary | cut -d' ' -f1,2
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_NT_PORT --authority echo.test --method Unary --delay 3000 --timeout 0.5 | cut -d' ' -f1,2
m=http://127.0.0.1:$TEST_NGINX_SERVER_PORT/metrics
out=$TEST_NGINX_SERVER_ROOT/html/metrics.txt
# the call given up on is counted once nginx has read the client's reset
for i in $(seq 1 100); do
    curl -s $m > $out
    grep -q 'grpc_code="none"' $out && break
    sleep 0.1
done
promtool check metrics < $out && echo "promtool: ok"
grep -E '^kedge_(requests|proxy_errors|grpc_handled)_total\{' $out | grep -v ' 0$'
--- response_body
status=OK
status=OK
status=OK
status=OK
status=PERMISSION_DENIED code=7
status=UNIMPLEMENTED code=12
status=UNAVAILABLE code=14
status=DEADLINE_EXCEEDED code=4
promtool: ok
kedge_requests_total{backend_name="ga",protocol="grpc",code="2xx"} 3
kedge_requests_total{backend_name="ga",protocol="grpc",code="4xx"} 1
kedge_requests_total{backend_name="gf",protocol="grpc",code="2xx"} 1
kedge_requests_total{backend_name="dead",protocol="grpc",code="5xx"} 1
kedge_requests_total{backend_name="",protocol="grpc",code="2xx"} 1
kedge_proxy_errors_total{backend_name="dead",protocol="grpc",type="no-connection-to-all-resolved-addresses"} 1
kedge_proxy_errors_total{backend_name="",protocol="grpc",type="no-route"} 1
kedge_grpc_handled_total{backend_name="ga",protocol="grpc",grpc_code="OK"} 3
kedge_grpc_handled_total{backend_name="ga",protocol="grpc",grpc_code="none"} 1
kedge_grpc_handled_total{backend_name="gf",protocol="grpc",grpc_code="PermissionDenied"} 1
kedge_grpc_handled_total{backend_name="dead",protocol="grpc",grpc_code="Unavailable"} 1
kedge_grpc_handled_total{backend_name="",protocol="grpc",grpc_code="Unimplemented"} 1



=== TEST 4: a reload keeps the counters of the backends it keeps
--- exec
u=http://127.0.0.1:$TEST_NGINX_SERVER_PORT
for i in 1 2 3; do curl -s -o /dev/null -H 'Host: web.test' $u/; done
curl -s -o /dev/null -H 'Host: nowhere.test' $u/
# a request is counted in the log phase, just after its response is
# sent: the reload copies the counters, so wait until all four are in
for i in $(seq 1 50); do
    curl -s $u/metrics | grep -q 'code="2xx"} 3$' \
        && curl -s $u/metrics | grep -q 'type="no-route"} 1$' && break
    sleep 0.1
done
old=$(pgrep -P $(cat $TEST_NGINX_SERVER_ROOT/logs/nginx.pid) | sort)
kill -HUP $(cat $TEST_NGINX_SERVER_ROOT/logs/nginx.pid)
# then until the old workers are gone: the new ones serve and count
for i in $(seq 1 100); do
    left=$(for p in $old; do [ -d /proc/$p ] && echo $p; done)
    [ -z "$left" ] && break
    sleep 0.1
done
curl -s -o /dev/null -H 'Host: web.test' $u/
curl -s $u/metrics | grep -E '^kedge_(requests|proxy_errors)_total\{' | grep -v ' 0$'
--- response_body
kedge_requests_total{backend_name="web",protocol="http",code="2xx"} 4
kedge_requests_total{backend_name="",protocol="http",code="5xx"} 1
kedge_proxy_errors_total{backend_name="",protocol="http",type="no-route"} 1



=== TEST 5: the fetcher's state: stale and retrying while the API server fails, fresh again at its next event
--- http_config
    kedge_backend kube k8s=kube.default:http;
    kedge_http_route backend=kube host=kube.test;
--- exec
$TEST_NGINX_CTL POST /reset
$TEST_NGINX_CTL PUT /endpointslices/default/kube-a '{"service": "kube", "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": [{"name": "http", "port": '$TEST_NGINX_B_PORT'}]}'
m=http://127.0.0.1:$TEST_NGINX_SERVER_PORT/metrics
until_line() {
    for i in $(seq 1 150); do
        curl -s $m | grep -qF "$1" && { echo "$1"; return; }
        sleep 0.1
    done
    echo "timeout: $1"
}
until_line 'kedge_backend_state{backend_name="kube",protocol="any",state="fresh"} 1'
$TEST_NGINX_CTL POST /faults '{"type": "status", "code": 500}'
$TEST_NGINX_CTL POST /drop_watch
until_line 'kedge_backend_state{backend_name="kube",protocol="any",state="stale"} 1'
until_line 'kedge_backend_watch_state{backend_name="kube",protocol="any",state="retrying"} 1'
curl -s $m | grep -E '^kedge_backend_(endpoints|syncs_total)\{backend_name="kube"' | sed -E 's/(result="(ok|error)"\}) [1-9][0-9]*$/\1 N/'
$TEST_NGINX_CTL DELETE /faults
$TEST_NGINX_CTL PUT /endpointslices/default/kube-a '{"service": "kube", "endpoints": [{"addresses": ["127.0.0.2"]}, {"addresses": ["127.0.0.3"]}], "ports": [{"name": "http", "port": '$TEST_NGINX_B_PORT'}]}'
until_line 'kedge_backend_state{backend_name="kube",protocol="any",state="fresh"} 1'
until_line 'kedge_backend_watch_state{backend_name="kube",protocol="any",state="watching"} 1'
until_line 'kedge_backend_endpoints{backend_name="kube",protocol="any"} 2'
--- response_body
kedge_backend_state{backend_name="kube",protocol="any",state="fresh"} 1
kedge_backend_state{backend_name="kube",protocol="any",state="stale"} 1
kedge_backend_watch_state{backend_name="kube",protocol="any",state="retrying"} 1
kedge_backend_endpoints{backend_name="kube",protocol="any"} 1
kedge_backend_syncs_total{backend_name="kube",protocol="any",result="ok"} N
kedge_backend_syncs_total{backend_name="kube",protocol="any",result="error"} N
kedge_backend_state{backend_name="kube",protocol="any",state="fresh"} 1
kedge_backend_watch_state{backend_name="kube",protocol="any",state="watching"} 1
kedge_backend_endpoints{backend_name="kube",protocol="any"} 2
--- error_log
is stale, keeping its 1 last known endpoints



=== TEST 6: GET and HEAD only; never cached
--- exec
u=http://127.0.0.1:$TEST_NGINX_SERVER_PORT/metrics
curl -s -o /dev/null -w '%{http_code}\n' -X POST $u
curl -s -I $u | tr -d '\r' | grep -iE '^(HTTP|cache-control)'
--- response_body
405
HTTP/1.1 200 OK
Cache-Control: no-store



=== TEST 7: adhoc requests count under their rule (named as $kedge_route), never under the name asked for
--- http_config
    resolver 127.0.0.1:1;
    kedge_http_adhoc *.pod.test ports=8080;
    kedge_grpc_adhoc *.pod.test ports=9090;
--- exec
u=http://127.0.0.1:$TEST_NGINX_SERVER_PORT
curl -s -o /dev/null -w '%{http_code}\n' -H 'Host: a.pod.test:81' $u/
curl -s -o /dev/null -w '%{http_code}\n' -H 'Host: b.pod.test:82' $u/
curl -s $u/metrics > $TEST_NGINX_SERVER_ROOT/html/metrics.txt
promtool check metrics < $TEST_NGINX_SERVER_ROOT/html/metrics.txt && echo "promtool: ok"
grep -E '^kedge_(requests|proxy_errors)_total\{' $TEST_NGINX_SERVER_ROOT/html/metrics.txt | grep -v ' 0$'
grep -c 'pod.test' $TEST_NGINX_SERVER_ROOT/html/metrics.txt
grep -c 'backend_name="grpc-adhoc:1",protocol="grpc"' $TEST_NGINX_SERVER_ROOT/html/metrics.txt
--- response_body
400
400
promtool: ok
kedge_requests_total{backend_name="http-adhoc:1",protocol="http",code="4xx"} 2
kedge_proxy_errors_total{backend_name="http-adhoc:1",protocol="http",type="unknown-route-error"} 2
0
6



=== TEST 8: a discovered backend has series of its own: its requests, its endpoints as they change, its fetcher
--- http_config
    kedge_zone kedge 1m;
    kedge_discovery domain_suffix=ext.example.com;
--- exec
ctl=$TEST_NGINX_CTL
m=http://127.0.0.1:$TEST_NGINX_SERVER_PORT/metrics
out=$TEST_NGINX_SERVER_ROOT/html/metrics.txt
until_line() {
    for i in $(seq 1 150); do
        curl -s $m | grep -qF "$1" && { echo "$1"; return; }
        sleep 0.1
    done
    echo "timeout: $1"
}
b=dweb_default_$TEST_NGINX_B_PORT
$ctl POST /reset
$ctl PUT /endpointslices/default/dweb-a '{"service": "dweb", "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": [{"name": "http", "port": '$TEST_NGINX_B_PORT'}]}'
$ctl PUT /services/default/dweb '{"labels": {"kedge.com/kedge-exposed": "true"}, "ports": [{"name": "http", "port": '$TEST_NGINX_SERVER_PORT', "targetPort": '$TEST_NGINX_B_PORT'}]}'
until_line "kedge_backend_endpoints{backend_name=\"$b\",protocol=\"http\"} 1" | sed "s/$b/B/"
for i in 1 2 3; do
    curl -s -H "Host: dweb.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
done
$ctl PUT /endpointslices/default/dweb-a '{"service": "dweb", "endpoints": [{"addresses": ["127.0.0.2"]}, {"addresses": ["127.0.0.3"]}], "ports": [{"name": "http", "port": '$TEST_NGINX_B_PORT'}]}'
until_line "kedge_backend_endpoints{backend_name=\"$b\",protocol=\"http\"} 2" | sed "s/$b/B/"
curl -s $m > $out
promtool check metrics < $out && echo "promtool: ok"
# their own series, none left under backend_name=""
grep -E '^kedge_(requests|proxy_errors|grpc_handled)_total\{' $out | grep -v ' 0$'
grep -E "^kedge_backend_(info|endpoints|state|watch_state)\{backend_name=\"$b\"" $out
grep -E "^kedge_backend_(sync_age_seconds|syncs_total)\{backend_name=\"$b\"" $out | sed -E 's/ [0-9]+$/ N/'
--- response_body eval
my $b = "dweb_default_$ENV{TEST_NGINX_B_PORT}";
"kedge_backend_endpoints{backend_name=\"B\",protocol=\"http\"} 1\n"
. "kube\n" x 3
. "kedge_backend_endpoints{backend_name=\"B\",protocol=\"http\"} 2\n"
. "promtool: ok\n"
. "kedge_requests_total{backend_name=\"$b\",protocol=\"http\",code=\"2xx\"} 3\n"
. "kedge_backend_info{backend_name=\"$b\",protocol=\"http\",source=\"k8s\",tls=\"off\"} 1\n"
. "kedge_backend_endpoints{backend_name=\"$b\",protocol=\"http\"} 2\n"
. "kedge_backend_state{backend_name=\"$b\",protocol=\"http\",state=\"never\"} 0\n"
. "kedge_backend_state{backend_name=\"$b\",protocol=\"http\",state=\"fresh\"} 1\n"
. "kedge_backend_state{backend_name=\"$b\",protocol=\"http\",state=\"stale\"} 0\n"
. "kedge_backend_watch_state{backend_name=\"$b\",protocol=\"http\",state=\"listing\"} 0\n"
. "kedge_backend_watch_state{backend_name=\"$b\",protocol=\"http\",state=\"watching\"} 1\n"
. "kedge_backend_watch_state{backend_name=\"$b\",protocol=\"http\",state=\"retrying\"} 0\n"
. "kedge_backend_sync_age_seconds{backend_name=\"$b\",protocol=\"http\"} N\n"
. "kedge_backend_syncs_total{backend_name=\"$b\",protocol=\"http\",result=\"ok\"} N\n"
. "kedge_backend_syncs_total{backend_name=\"$b\",protocol=\"http\",result=\"error\"} N\n"



=== TEST 9: a slot given to another backend: its counts start at 0, and a call of the last holding that ends later counts for neither
--- http_config
    kedge_zone kedge 1m;
    kedge_discovery domain_suffix=ext.example.com max_backends=1;
--- exec
ctl=$TEST_NGINX_CTL
m=http://127.0.0.1:$TEST_NGINX_SERVER_PORT/metrics
out=$TEST_NGINX_SERVER_ROOT/html/metrics.txt
late=$TEST_NGINX_SERVER_ROOT/html/late.txt
until_line() {
    for i in $(seq 1 150); do
        curl -s $m | grep -qF "$1" && { echo "$1"; return; }
        sleep 0.1
    done
    echo "timeout: $1"
}
call() {
    n=$1; shift
    $TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority $n.default.svc.ext.example.com:$TEST_NGINX_H2C_PORT "$@" | cut -d' ' -f1,2
}
calls() { $TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_G1 --method Stats | sed 's/.* calls=//'; }
expose() {
    $ctl PUT /endpointslices/default/$1-a '{"service": "'$1'", "endpoints": [{"addresses": ["127.0.0.1"]}], "ports": [{"name": "grpc", "port": '$TEST_NGINX_G1'}]}' > /dev/null
    $ctl PUT /services/default/$1 '{"labels": {"kedge.com/kedge-exposed": "true"}, "ports": [{"name": "grpc", "port": '$TEST_NGINX_H2C_PORT', "targetPort": '$TEST_NGINX_G1'}]}' > /dev/null
}
series() {
    curl -s $m > $out
    promtool check metrics < $out && echo "promtool: ok"
    grep -E '^kedge_(requests|grpc_handled)_total\{' $out | grep -v ' 0$' | sed "s/_default_$TEST_NGINX_G1/_default_G/"
}
$ctl POST /reset > /dev/null
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_G1 --method Stats --reset > /dev/null
expose one
until_line "kedge_backend_endpoints{backend_name=\"one_default_$TEST_NGINX_G1\",protocol=\"grpc\"} 1" | sed "s/_$TEST_NGINX_G1/_G/"
call one --repeat 2
call one --method Unary --message bad --delay 5000 > $late &
# the slow call is in the backend
for i in $(seq 1 100); do [ "$(calls)" = 3 ] && break; sleep 0.1; done
echo "backend calls: $(calls)"
series
$ctl DELETE /services/default/one > /dev/null
expose two
until_line "kedge_backend_info{backend_name=\"two_default_$TEST_NGINX_G1\",protocol=\"grpc\",source=\"k8s\",tls=\"off\"} 1" | sed "s/_$TEST_NGINX_G1/_G/"
[ -s $late ] && echo "the slow call ended before two took the slot" || echo "the slow call still runs"
series
wait
cat $late
call two
series
--- response_body
kedge_backend_endpoints{backend_name="one_default_G",protocol="grpc"} 1
status=OK backend=grpc-a
status=OK backend=grpc-a
backend calls: 3
promtool: ok
kedge_requests_total{backend_name="one_default_G",protocol="grpc",code="2xx"} 2
kedge_grpc_handled_total{backend_name="one_default_G",protocol="grpc",grpc_code="OK"} 2
kedge_backend_info{backend_name="two_default_G",protocol="grpc",source="k8s",tls="off"} 1
the slow call still runs
promtool: ok
status=OK backend=grpc-a
status=OK backend=grpc-a
promtool: ok
kedge_requests_total{backend_name="two_default_G",protocol="grpc",code="2xx"} 1
kedge_grpc_handled_total{backend_name="two_default_G",protocol="grpc",grpc_code="OK"} 1
--- timeout: 40
