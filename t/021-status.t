# kedge_status: the live routes, backends and endpoints as JSON, parsed
# by python3's json module: the configured routes in the order they are
# tried, every kind of backend, an endpoint change of a k8s= backend
# (the API server fixture of t/fixtures/k8s) seen without a reload, and
# the endpoints set aside after a failed connect.

use Test::Nginx::Socket 'no_plan';
use Test::Kedge::Exec;
use Test::Kedge::Peers;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
$ENV{TEST_NGINX_WEB_PORT} ||= $port + 210;
$ENV{TEST_NGINX_B_PORT} ||= $port + 211;
$ENV{TEST_NGINX_CTL} = repo_root() . "/t/fixtures/k8s/ctl";

test_certs();
k8s_apiserver();

# one line per value asked for, from the status JSON on stdin
$ENV{TEST_NGINX_JQ} = repo_root() . "/t/021-status.py";

our $Common = <<'_EOC_';
    kedge_kubernetes https://127.0.0.1:$TEST_NGINX_K8S_PORT
                     token_file=$TEST_NGINX_K8S_TOKEN
                     ca_file=$TEST_NGINX_CERT_DIR/ca.crt;

    server {
        listen 127.0.0.1:$TEST_NGINX_WEB_PORT;
        listen 127.0.0.2:$TEST_NGINX_B_PORT;
        listen 127.0.0.3:$TEST_NGINX_B_PORT;
        return 200 "$server_addr\n";
    }
_EOC_

our $Config = <<'_EOC_';
    location / { kedge_pass; }
    location /debug/kedge { kedge_status; }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $Common . ($block->http_config // ''));
    $block->set_value("config", $Config) unless defined $block->config;
    $block->set_value("timeout", 20) unless defined $block->timeout;
});

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: the configured routes, in order, and every kind of backend
--- http_config
    resolver 127.0.0.1:1 valid=1s;
    resolver_timeout 1s;

    kedge_backend web endpoints=127.0.0.1:$TEST_NGINX_WEB_PORT,[::1]:$TEST_NGINX_WEB_PORT protocol=http;
    kedge_backend echo endpoints=127.0.0.1:9 protocol=grpc tls=on tls_name=echo.internal;
    kedge_backend kube k8s=kube.default:http;
    kedge_backend named host=named.test:8080 tls=insecure;
    kedge_backend srv srv=_grpc._tcp.svc.test port_override=9000;

    kedge_http_route backend=web host=web.test port=8080 path=/api/* path=/exact header=X-Env:prod proxy_mode=reverse_proxy;
    kedge_http_route backend=kube;
    kedge_grpc_route backend=echo authority=echo.test service=com.example.* metadata=tenant:a;
    kedge_grpc_route backend=srv;
    kedge_http_adhoc *.pod.test ports=80,8000-8100 replace=pod.test:pod.cluster.local;
    kedge_grpc_adhoc db.test port=9090 ports=9090 tls=insecure;
--- exec
$TEST_NGINX_CTL POST /reset
for i in $(seq 1 100); do
    curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/debug/kedge | $TEST_NGINX_JQ kube | grep -q '^kube fresh' && break
    sleep 0.1
done
curl -s -D $TEST_NGINX_SERVER_ROOT/html/headers http://127.0.0.1:$TEST_NGINX_SERVER_PORT/debug/kedge > $TEST_NGINX_SERVER_ROOT/html/status.json
grep -iE '^(content-type|cache-control)' $TEST_NGINX_SERVER_ROOT/html/headers | tr -d '\r'
$TEST_NGINX_JQ routes adhoc backends < $TEST_NGINX_SERVER_ROOT/html/status.json
--- response_body
Content-Type: application/json
Cache-Control: no-store
route {"auth": "off", "backend": "web", "headers": [{"name": "x-env", "value": "prod"}], "host": "web.test", "id": "http:1", "paths": ["/api/*", "/exact"], "port": 8080, "protocol": "http", "proxy_mode": "REVERSE_PROXY", "source": "config"}
route {"auth": "off", "backend": "kube", "headers": [], "id": "http:2", "paths": [], "port": 0, "protocol": "http", "proxy_mode": "ANY", "source": "config"}
route {"auth": "off", "authority": "echo.test", "backend": "echo", "id": "grpc:1", "metadata": [{"name": "tenant", "value": "a"}], "port": 0, "protocol": "grpc", "service": "com.example.*", "source": "config"}
route {"auth": "off", "backend": "srv", "id": "grpc:2", "metadata": [], "port": 0, "protocol": "grpc", "service": "*", "source": "config"}
adhoc {"default_port": 80, "id": "http-adhoc:1", "matcher": "*.pod.test", "ports": ["80-80", "8000-8100"], "protocol": "http", "replace": "pod.test", "source": "config", "substitution": "pod.cluster.local", "tls": "off"}
adhoc {"default_port": 9090, "id": "grpc-adhoc:1", "matcher": "db.test", "ports": ["9090-9090"], "protocol": "grpc", "source": "config", "tls": "insecure"}
backend web http static target=None tls=off state=static endpoints=['127.0.0.1:$TEST_NGINX_WEB_PORT', '[::1]:$TEST_NGINX_WEB_PORT']
backend echo grpc static target=None tls=on state=static endpoints=['127.0.0.1:9']
backend kube any k8s target=kube.default:http tls=off state=fresh endpoints=[]
backend named any host target=named.test:8080 tls=insecure state=never endpoints=[]
backend srv any srv target=_grpc._tcp.svc.test tls=off state=never endpoints=[]



=== TEST 2: an endpoint change of a k8s= backend shows at once, without a reload
--- http_config
    kedge_backend kube k8s=kube.default:http;
    kedge_http_route backend=kube;
--- exec
$TEST_NGINX_CTL POST /reset
slice() { $TEST_NGINX_CTL PUT /endpointslices/default/kube-a '{"service": "kube", "endpoints": ['"$1"'], "ports": [{"name": "http", "port": '$TEST_NGINX_B_PORT'}]}'; }
until_status() {
    for i in $(seq 1 100); do
        out=$(curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/debug/kedge | $TEST_NGINX_JQ kube)
        [ "$out" = "$1" ] && { echo "$out"; return; }
        sleep 0.1
    done
    echo "timeout: $out"
}
slice '{"addresses": ["127.0.0.2"]}'
until_status "kube fresh watching ['127.0.0.2:$TEST_NGINX_B_PORT']"
slice '{"addresses": ["127.0.0.3"]}, {"addresses": ["127.0.0.2"]}, {"addresses": ["127.0.0.4"], "conditions": {"ready": false}}'
until_status "kube fresh watching ['127.0.0.2:$TEST_NGINX_B_PORT', '127.0.0.3:$TEST_NGINX_B_PORT']"
$TEST_NGINX_CTL DELETE /endpointslices/default/kube-a
until_status "kube fresh watching []"
curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/debug/kedge | $TEST_NGINX_JQ sync
--- response_body eval
"kube fresh watching ['127.0.0.2:$ENV{TEST_NGINX_B_PORT}']
kube fresh watching ['127.0.0.2:$ENV{TEST_NGINX_B_PORT}', '127.0.0.3:$ENV{TEST_NGINX_B_PORT}']
kube fresh watching []
kube generation>=3 syncs>=3 failures=0 seconds_since_sync<5
"



=== TEST 3: endpoints set aside after a failed connect
--- http_config
    kedge_backend dead endpoints=127.0.0.1:1;
    kedge_http_route backend=dead;
--- exec
curl -s -o /dev/null -w '%{http_code}\n' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/debug/kedge | $TEST_NGINX_JQ set_aside
--- response_body
502
set aside 127.0.0.1:1 for 0 < ms <= 2000
--- error_log
set aside for 2000 ms



=== TEST 4: GET and HEAD only
--- http_config
    kedge_backend web endpoints=127.0.0.1:$TEST_NGINX_WEB_PORT;
--- exec
u=http://127.0.0.1:$TEST_NGINX_SERVER_PORT/debug/kedge
curl -s -o /dev/null -w '%{http_code}\n' -X DELETE $u
curl -s -I $u | tr -d '\r' | grep -iE '^(HTTP|content-type)'
--- response_body
405
HTTP/1.1 200 OK
Content-Type: application/json
