# k8s= backends: EndpointSlices listed and watched from a real HTTPS API
# server fixture speaking the Kubernetes protobuf wire format (encoded by
# python3-protobuf, never by the module): traffic follows endpoint
# changes without a reload, and no answer of the API server turns into
# an outage.

use Test::Nginx::Socket 'no_plan';
use Test::Kedge::Exec;
use Test::Kedge::Peers;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
$ENV{TEST_NGINX_B_PORT} ||= $port + 150;
$ENV{TEST_NGINX_B2_PORT} ||= $port + 151;
$ENV{TEST_NGINX_CTL} = repo_root() . "/t/fixtures/k8s/ctl";

test_certs();
k8s_apiserver();

# TEST 11's own token file, valid to start with
system("cp", $ENV{TEST_NGINX_K8S_TOKEN}, "$ENV{TEST_NGINX_K8S_TOKEN}.nginx") == 0
    or die "cp failed";

our $Api = <<'_EOC_';
    kedge_kubernetes https://127.0.0.1:$TEST_NGINX_K8S_PORT
                     token_file=$TEST_NGINX_K8S_TOKEN
                     ca_file=$TEST_NGINX_CERT_DIR/ca.crt
                     max_size=64k;
_EOC_

our $Common = <<'_EOC_';

    upstream kedge {
        kedge_balancer;
        keepalive 8;
    }

    server {
        listen 127.0.0.2:$TEST_NGINX_B_PORT;
        listen 127.0.0.3:$TEST_NGINX_B_PORT;
        listen 127.0.0.4:$TEST_NGINX_B_PORT;
        listen 127.0.0.2:$TEST_NGINX_B2_PORT;
        listen 127.0.0.3:$TEST_NGINX_B2_PORT;
        return 200 "$server_addr:$server_port\n";
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    my $own = $block->http_config // '';

    # a block may talk to the API server its own way
    $block->set_value("http_config",
                      ($own =~ /kedge_kubernetes/ ? '' : $Api) . $Common . $own);
    $block->set_value("config", "location / { kedge_pass; }")
        unless defined $block->config;
    $block->set_value("timeout", 30) unless defined $block->timeout;
});

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: ready endpoints of a slice, on the port named
--- http_config
    kedge_backend web k8s=web.default:http;
    kedge_http_route backend=web;
--- exec
$TEST_NGINX_CTL POST /reset
$TEST_NGINX_CTL PUT /endpointslices/default/web-a '{"service": "web", "endpoints": [{"addresses": ["127.0.0.2"], "conditions": {"ready": true}}, {"addresses": ["127.0.0.3"]}, {"addresses": ["127.0.0.4"], "conditions": {"ready": false, "serving": true, "terminating": true}}], "ports": [{"name": "http", "port": '$TEST_NGINX_B_PORT'}, {"name": "other", "port": 1}]}'
for i in $(seq 1 50); do
    curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ | grep -q '^127' && break
    sleep 0.1
done
for i in 1 2 3 4 5 6; do curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/; done | sort | uniq -c | sed 's/^ *//'
--- response_body eval
"3 127.0.0.2:$ENV{TEST_NGINX_B_PORT}\n3 127.0.0.3:$ENV{TEST_NGINX_B_PORT}\n"



=== TEST 2: several slices joined and de-duplicated, a numbered port, a name with dashes
--- http_config
    kedge_backend web k8s=web-app.my-team.svc.cluster.local:$TEST_NGINX_B2_PORT;
    kedge_http_route backend=web;
--- exec
$TEST_NGINX_CTL POST /reset
$TEST_NGINX_CTL PUT /endpointslices/my-team/web-a '{"service": "web-app", "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": [{"name": "http", "port": 1}]}'
$TEST_NGINX_CTL PUT /endpointslices/my-team/web-b '{"service": "web-app", "endpoints": [{"addresses": ["127.0.0.2"]}, {"addresses": ["127.0.0.3"]}], "ports": [{"name": "http", "port": 1}]}'
$TEST_NGINX_CTL PUT /endpointslices/my-team/other '{"service": "other", "endpoints": [{"addresses": ["127.0.0.4"]}], "ports": [{"name": "http", "port": 1}]}'
$TEST_NGINX_CTL PUT /endpointslices/default/web-c '{"service": "web-app", "endpoints": [{"addresses": ["127.0.0.4"]}], "ports": [{"name": "http", "port": 1}]}'
sleep 1
for i in 1 2 3 4; do curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/; done | sort | uniq -c | sed 's/^ *//'
--- response_body eval
"2 127.0.0.2:$ENV{TEST_NGINX_B2_PORT}\n2 127.0.0.3:$ENV{TEST_NGINX_B2_PORT}\n"
--- error_log
kedge: backend "web" has 2 endpoints



=== TEST 3: endpoints added and removed reach traffic without a reload
--- http_config
    kedge_backend web k8s=web.default:http;
    kedge_http_route backend=web;
--- exec
$TEST_NGINX_CTL POST /reset
slice() { $TEST_NGINX_CTL PUT /endpointslices/default/web-a '{"service": "web", "endpoints": ['"$1"'], "ports": [{"name": "http", "port": '$TEST_NGINX_B_PORT'}]}'; }
until_only() {
    for i in $(seq 1 100); do
        out=$(for j in 1 2 3 4; do curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/; done | sort -u | tr '\n' ' ')
        [ "$out" = "$1" ] && { echo "$out"; return; }
        sleep 0.05
    done
    echo "timeout: $out"
}
slice '{"addresses": ["127.0.0.2"]}'
until_only "127.0.0.2:$TEST_NGINX_B_PORT "
start=$(date +%s%N)
slice '{"addresses": ["127.0.0.2"]}, {"addresses": ["127.0.0.3"]}'
until_only "127.0.0.2:$TEST_NGINX_B_PORT 127.0.0.3:$TEST_NGINX_B_PORT "
echo "note: API change to traffic: $(( ($(date +%s%N) - start) / 1000000 )) ms (polling every 50 ms)" >&2
slice '{"addresses": ["127.0.0.3"]}'
until_only "127.0.0.3:$TEST_NGINX_B_PORT "
$TEST_NGINX_CTL DELETE /endpointslices/default/web-a
sleep 0.5
curl -s -o /dev/null -D - http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ | tr -d '\r' | grep -i '^x-kedge-error-type'
--- response_body eval
"127.0.0.2:$ENV{TEST_NGINX_B_PORT} \n"
. "127.0.0.2:$ENV{TEST_NGINX_B_PORT} 127.0.0.3:$ENV{TEST_NGINX_B_PORT} \n"
. "127.0.0.3:$ENV{TEST_NGINX_B_PORT} \n"
. "X-Kedge-Error-Type: no-resolution-available\n"



=== TEST 4: the API server down, then back: no failed request, caught up after
--- http_config
    kedge_backend web k8s=web.default:http;
    kedge_http_route backend=web;
--- exec
$TEST_NGINX_CTL POST /reset
$TEST_NGINX_CTL PUT /endpointslices/default/web-a '{"service": "web", "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": [{"name": "http", "port": '$TEST_NGINX_B_PORT'}]}'
sleep 1
$TEST_NGINX_CTL POST /faults '{"type": "status", "code": 500}'
$TEST_NGINX_CTL POST /drop_watch
fail=0
for i in $(seq 1 20); do
    curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ | grep -q "^127.0.0.2:" || fail=$((fail + 1))
    sleep 0.1
done
echo "failed while down: $fail"
$TEST_NGINX_CTL PUT /endpointslices/default/web-a '{"service": "web", "endpoints": [{"addresses": ["127.0.0.3"]}], "ports": [{"name": "http", "port": '$TEST_NGINX_B_PORT'}]}'
$TEST_NGINX_CTL DELETE /faults
for i in $(seq 1 100); do
    curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ | grep -q "^127.0.0.3:" && { echo caught up; break; }
    sleep 0.1
done
--- response_body
failed while down: 0
caught up
--- error_log
is stale, keeping its 1 last known endpoints
in sync with the Kubernetes API again



=== TEST 5: 410 Gone in the stream: list again
--- http_config
    kedge_backend web k8s=web.default:http;
    kedge_http_route backend=web;
--- exec
$TEST_NGINX_CTL POST /reset
$TEST_NGINX_CTL PUT /endpointslices/default/web-a '{"service": "web", "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": [{"name": "http", "port": '$TEST_NGINX_B_PORT'}]}'
sleep 1
$TEST_NGINX_CTL POST /stats/reset
$TEST_NGINX_CTL POST /compact '{"mode": "event"}'
$TEST_NGINX_CTL POST /drop_watch
sleep 1
$TEST_NGINX_CTL PUT /endpointslices/default/web-a '{"service": "web", "endpoints": [{"addresses": ["127.0.0.3"]}], "ports": [{"name": "http", "port": '$TEST_NGINX_B_PORT'}]}'
for i in $(seq 1 100); do
    curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ | grep -q "^127.0.0.3:" && break
    sleep 0.1
done
curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
echo "lists: $($TEST_NGINX_CTL stat 'requests["list"]["endpointslices"]')"
--- response_body eval
"127.0.0.3:$ENV{TEST_NGINX_B_PORT}\nlists: 1\n"



=== TEST 6: a plain 410 to the watch: list again
--- http_config
    kedge_backend web k8s=web.default:http;
    kedge_http_route backend=web;
--- exec
$TEST_NGINX_CTL POST /reset
$TEST_NGINX_CTL PUT /endpointslices/default/web-a '{"service": "web", "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": [{"name": "http", "port": '$TEST_NGINX_B_PORT'}]}'
sleep 1
$TEST_NGINX_CTL POST /stats/reset
$TEST_NGINX_CTL POST /compact '{"mode": "status"}'
$TEST_NGINX_CTL POST /drop_watch
sleep 1.5
echo "lists: $($TEST_NGINX_CTL stat 'requests["list"]["endpointslices"]')"
echo "watching: $($TEST_NGINX_CTL stat 'open_watches["endpointslices"]')"
--- response_body
lists: 1
watching: 1



=== TEST 7: bookmarks move the resourceVersion the watch resumes from
--- http_config
    kedge_backend web k8s=web.default:http;
    kedge_http_route backend=web;
--- exec
$TEST_NGINX_CTL POST /reset
$TEST_NGINX_CTL PUT /endpointslices/default/web-a '{"service": "web", "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": [{"name": "http", "port": '$TEST_NGINX_B_PORT'}]}'
sleep 1
$TEST_NGINX_CTL PUT /services/other/x '{"ports": [{"port": 80}]}'
$TEST_NGINX_CTL PUT /services/other/y '{"ports": [{"port": 80}]}'
rv=$($TEST_NGINX_CTL stat 'resourceVersion')
$TEST_NGINX_CTL POST /bookmark
sleep 0.5
$TEST_NGINX_CTL POST /drop_watch '{"clean": true}'
sleep 1
resumed=$($TEST_NGINX_CTL stat '[r["query"].get("resourceVersion") for r in log if r["kind"] == "watch"][-1]')
[ "$resumed" = "$rv" ] && echo "resumed from the bookmark" || echo "resumed from $resumed, bookmark was $rv"
--- response_body
resumed from the bookmark



=== TEST 8: the token is re-read: a rotation is picked up, a 401 recovered from
--- http_config
    kedge_backend web k8s=web.default:http;
    kedge_http_route backend=web;
--- exec
$TEST_NGINX_CTL POST /reset
$TEST_NGINX_CTL PUT /endpointslices/default/web-a '{"service": "web", "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": [{"name": "http", "port": '$TEST_NGINX_B_PORT'}]}'
sleep 1
echo secret-2 > $TEST_NGINX_K8S_TOKEN.new && mv $TEST_NGINX_K8S_TOKEN.new $TEST_NGINX_K8S_TOKEN
$TEST_NGINX_CTL POST /drop_watch
$TEST_NGINX_CTL PUT /endpointslices/default/web-a '{"service": "web", "endpoints": [{"addresses": ["127.0.0.3"]}], "ports": [{"name": "http", "port": '$TEST_NGINX_B_PORT'}]}'
for i in $(seq 1 100); do
    curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ | grep -q "^127.0.0.3:" && { echo "new token used"; break; }
    sleep 0.1
done
echo "bearer: $($TEST_NGINX_CTL stat 'log[-1]["headers"]["authorization"]')"
echo secret-1 > $TEST_NGINX_K8S_TOKEN
--- response_body
new token used
bearer: Bearer secret-2



=== TEST 9: an API server certificate of another CA is refused
--- http_config
    kedge_kubernetes https://127.0.0.1:$TEST_NGINX_K8S_PORT token_file=$TEST_NGINX_K8S_TOKEN ca_file=$TEST_NGINX_CERT_DIR/other-ca.crt;
    kedge_backend web k8s=web.default:http;
    kedge_http_route backend=web;
--- config
    location / { kedge_pass; }
--- exec
sleep 1
curl -s -o /dev/null -D - http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ | tr -d '\r' | grep -i '^x-kedge-error-type'
--- response_body
X-Kedge-Error-Type: no-resolution-available
--- error_log
list of backend "web" failed



=== TEST 10: garbage, truncated and oversize answers: logged, old endpoints kept
--- http_config
    kedge_backend web k8s=web.default:http;
    kedge_http_route backend=web;
--- exec
$TEST_NGINX_CTL POST /reset
$TEST_NGINX_CTL PUT /endpointslices/default/web-a '{"service": "web", "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": [{"name": "http", "port": '$TEST_NGINX_B_PORT'}]}'
sleep 1
fail=0
for fault in '{"type": "garbage", "size": 300}' '{"type": "truncated"}' '{"type": "truncated", "at": "connection"}' '{"type": "oversize", "size": 100000}' '{"type": "fragment"}'; do
    $TEST_NGINX_CTL DELETE /faults
    $TEST_NGINX_CTL POST /faults "$fault"
    $TEST_NGINX_CTL POST /drop_watch
    $TEST_NGINX_CTL PUT /endpointslices/default/web-b '{"service": "web", "endpoints": [], "ports": [{"name": "http", "port": '$TEST_NGINX_B_PORT'}]}'
    for i in $(seq 1 10); do
        curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ | grep -q "^127.0.0.2:" || fail=$((fail + 1))
        sleep 0.05
    done
done
$TEST_NGINX_CTL DELETE /faults
echo "failed: $fail"
--- response_body
failed: 0
--- no_error_log
[alert]
[crit]



=== TEST 11: a 401: last endpoints kept, recovered with the token read anew
--- http_config
    kedge_kubernetes https://127.0.0.1:$TEST_NGINX_K8S_PORT token_file=$TEST_NGINX_K8S_TOKEN.nginx ca_file=$TEST_NGINX_CERT_DIR/ca.crt;
    kedge_backend web k8s=web.default:http;
    kedge_http_route backend=web;
--- exec
$TEST_NGINX_CTL POST /reset
$TEST_NGINX_CTL PUT /endpointslices/default/web-a '{"service": "web", "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": [{"name": "http", "port": '$TEST_NGINX_B_PORT'}]}'
for i in $(seq 1 50); do
    curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ | grep -q "^127.0.0.2:" && break
    sleep 0.1
done
echo secret-3 > $TEST_NGINX_K8S_TOKEN
$TEST_NGINX_CTL POST /drop_watch
$TEST_NGINX_CTL PUT /endpointslices/default/web-a '{"service": "web", "endpoints": [{"addresses": ["127.0.0.3"]}], "ports": [{"name": "http", "port": '$TEST_NGINX_B_PORT'}]}'
sleep 1
curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
echo "unauthorized: $($TEST_NGINX_CTL stat 'unauthorized > 0')"
echo secret-3 > $TEST_NGINX_K8S_TOKEN.nginx
for i in $(seq 1 100); do
    curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ | grep -q "^127.0.0.3:" && { echo recovered; break; }
    sleep 0.1
done
echo secret-1 > $TEST_NGINX_K8S_TOKEN
--- response_body eval
"127.0.0.2:$ENV{TEST_NGINX_B_PORT}\nunauthorized: True\nrecovered\n"
--- error_log
unauthorized, trying again with the token read anew



=== TEST 12: the zone full: last known endpoints kept, logged once
--- http_config
    kedge_zone small 128k;
    kedge_backend web k8s=web.default:http;
    kedge_http_route backend=web;
--- exec
$TEST_NGINX_CTL POST /reset
$TEST_NGINX_CTL PUT /endpointslices/default/web-a '{"service": "web", "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": [{"name": "http", "port": '$TEST_NGINX_B_PORT'}]}'
for i in $(seq 1 50); do
    curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ | grep -q "^127.0.0.2:" && break
    sleep 0.1
done
# 1000 endpoints do not fit in what is left of 128k
many=$(/usr/bin/python3 -c 'import json; print(json.dumps([{"addresses": ["10.1.%d.%d" % (i // 250, i % 250 + 1)]} for i in range(1000)]))')
$TEST_NGINX_CTL PUT /endpointslices/default/web-b '{"service": "web", "endpoints": '"$many"', "ports": [{"name": "http", "port": '$TEST_NGINX_B_PORT'}]}'
$TEST_NGINX_CTL PUT /endpointslices/default/web-c '{"service": "web", "endpoints": '"$many"', "ports": [{"name": "http", "port": '$TEST_NGINX_B_PORT'}]}'
sleep 1
for i in 1 2 3; do curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/; done
echo "logged: $(grep -c 'is full, backend "web" keeps its last known endpoints' $TEST_NGINX_SERVER_ROOT/logs/error.log)"
--- response_body eval
"127.0.0.2:$ENV{TEST_NGINX_B_PORT}\n" x 3 . "logged: 1\n"
