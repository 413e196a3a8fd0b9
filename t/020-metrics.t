# kedge_metrics: Prometheus text that a real Prometheus parser accepts
# (promtool check metrics, Debian's prometheus package), counters that
# move by exactly the requests made, summed over two workers, kept across
# a reload, and the state of a Kubernetes fetcher as it fails and
# recovers (the API server fixture of t/fixtures/k8s).

use Test::Nginx::Socket 'no_plan';
use Test::Kedge::Exec;
use Test::Kedge::Peers;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
$ENV{TEST_NGINX_WEB_PORT} ||= $port + 200;
$ENV{TEST_NGINX_G1} ||= $port + 201;
$ENV{TEST_NGINX_H2C_PORT} ||= $port + 202;
$ENV{TEST_NGINX_B_PORT} ||= $port + 203;
$ENV{TEST_NGINX_CTL} = repo_root() . "/t/fixtures/k8s/ctl";
$ENV{TEST_NGINX_CLIENT} = repo_root() . "/t/peers/grpc_client.py";

test_certs();
k8s_apiserver();
grpc_server("--listen", "127.0.0.1:$ENV{TEST_NGINX_G1}=grpc-a");

our $Common = <<'_EOC_';
    kedge_kubernetes https://127.0.0.1:$TEST_NGINX_K8S_PORT
                     token_file=$TEST_NGINX_K8S_TOKEN
                     ca_file=$TEST_NGINX_CERT_DIR/ca.crt;

    kedge_backend web endpoints=127.0.0.1:$TEST_NGINX_WEB_PORT protocol=http;
    kedge_backend ga endpoints=127.0.0.1:$TEST_NGINX_G1 protocol=grpc;
    kedge_backend dead endpoints=127.0.0.1:1;

    kedge_http_route backend=web host=web.test;
    kedge_http_route backend=dead host=dead.test;
    kedge_grpc_route backend=ga authority=echo.test;

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
kedge_backend_info{backend_name="dead",protocol="any",source="static",tls="off"} 1
kedge_backend_info{backend_name="kube",protocol="any",source="k8s",tls="off"} 1
kedge_backend_endpoints{backend_name="web",protocol="http"} 1
kedge_backend_endpoints{backend_name="ga",protocol="grpc"} 1
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



=== TEST 3: gRPC calls, by request protocol: answered, and refused (UNIMPLEMENTED is HTTP 200)
--- exec
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority echo.test --method Unary --repeat 2 | cut -d' ' -f1
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority nowhere.test --method Unary | cut -d' ' -f1
curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/metrics | grep -E '^kedge_(requests|proxy_errors)_total\{' | grep -v ' 0$'
--- response_body
status=OK
status=OK
status=UNIMPLEMENTED
kedge_requests_total{backend_name="ga",protocol="grpc",code="2xx"} 2
kedge_requests_total{backend_name="",protocol="grpc",code="2xx"} 1
kedge_proxy_errors_total{backend_name="",protocol="grpc",type="no-route"} 1



=== TEST 4: a reload keeps the counters of the backends it keeps
--- exec
u=http://127.0.0.1:$TEST_NGINX_SERVER_PORT
for i in 1 2 3; do curl -s -o /dev/null -H 'Host: web.test' $u/; done
curl -s -o /dev/null -H 'Host: nowhere.test' $u/
old=$(pgrep -P $(cat $TEST_NGINX_SERVER_ROOT/logs/nginx.pid) | sort | tr '\n' ' ')
kill -HUP $(cat $TEST_NGINX_SERVER_ROOT/logs/nginx.pid)
for i in $(seq 1 100); do
    new=$(pgrep -P $(cat $TEST_NGINX_SERVER_ROOT/logs/nginx.pid) | sort | tr '\n' ' ')
    [ -n "$new" ] && [ "$new" != "$old" ] && break
    sleep 0.1
done
sleep 0.5
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
