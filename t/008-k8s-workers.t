# k8s= backends with a master and two workers: one fetcher (one watch
# open at the API server), and a reload during an open watch: no gap in
# routing, one watch again after it, the old worker gone promptly.

use Test::Nginx::Socket 'no_plan';
use Test::Kedge::Exec;
use Test::Kedge::Peers;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
$ENV{TEST_NGINX_B_PORT} ||= $port + 150;
$ENV{TEST_NGINX_CTL} = repo_root() . "/t/fixtures/k8s/ctl";

test_certs();
k8s_apiserver();

our $Common = <<'_EOC_';
    kedge_kubernetes https://127.0.0.1:$TEST_NGINX_K8S_PORT
                     token_file=$TEST_NGINX_K8S_TOKEN
                     ca_file=$TEST_NGINX_CERT_DIR/ca.crt;
    kedge_backend web k8s=web.default:http;
    kedge_http_route backend=web;

    server {
        listen 127.0.0.2:$TEST_NGINX_B_PORT;
        listen 127.0.0.3:$TEST_NGINX_B_PORT;
        return 200 "$server_addr:$server_port\n";
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $Common . ($block->http_config // ''));
    $block->set_value("config", "location / { kedge_pass; }")
        unless defined $block->config;
    $block->set_value("timeout", 30) unless defined $block->timeout;
});

master_on();
workers(2);
no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: two workers, one watch
--- exec
$TEST_NGINX_CTL POST /reset
$TEST_NGINX_CTL PUT /endpointslices/default/web-a '{"service": "web", "endpoints": [{"addresses": ["127.0.0.2"]}, {"addresses": ["127.0.0.3"]}], "ports": [{"name": "http", "port": '$TEST_NGINX_B_PORT'}]}'
sleep 1.5
for i in $(seq 1 8); do curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/; done | sort -u
echo "watches: $($TEST_NGINX_CTL stat 'open_watches["endpointslices"]')"
--- response_body eval
"127.0.0.2:$ENV{TEST_NGINX_B_PORT}\n127.0.0.3:$ENV{TEST_NGINX_B_PORT}\nwatches: 1\n"



=== TEST 2: a reload during an open watch: no gap, no double writer
--- exec
$TEST_NGINX_CTL POST /reset
$TEST_NGINX_CTL PUT /endpointslices/default/web-a '{"service": "web", "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": [{"name": "http", "port": '$TEST_NGINX_B_PORT'}]}'
sleep 1.5
master=$(cat $TEST_NGINX_SERVER_ROOT/logs/nginx.pid)
old=$(pgrep -P $master | sort)
$TEST_NGINX_CTL POST /faults '{"type": "hang"}'
kill -HUP $master
fail=0
for i in $(seq 1 20); do
    curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ | grep -q "^127.0.0.2:" || fail=$((fail + 1))
    sleep 0.1
done
echo "failed during the reload: $fail"
# the old workers are gone, though their watch was open
for i in $(seq 1 50); do
    left=$(for p in $old; do [ -d /proc/$p ] && echo $p; done)
    [ -z "$left" ] && { echo "old workers gone"; break; }
    sleep 0.1
done
$TEST_NGINX_CTL DELETE /faults
sleep 1.5
echo "watches: $($TEST_NGINX_CTL stat 'open_watches["endpointslices"]')"
--- response_body
failed during the reload: 0
old workers gone
watches: 1
