# kedge's dynamic routing discovery with a master and two workers: one
# fetcher (one Services watch, one EndpointSlice watch per discovered
# backend) for every worker, each worker compiling the route set it
# reads from the zone; and reloads: the discovered routes and their
# endpoints are copied forward, so the new workers route at once, even
# with the API server hanging, and the new fetcher takes them over.

use Test::Nginx::Socket 'no_plan';
use Test::Kedge::Exec;
use Test::Kedge::Peers;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
$ENV{TEST_NGINX_B_PORT} ||= $port + 181;
$ENV{TEST_NGINX_CTL} = repo_root() . "/t/fixtures/k8s/ctl";

test_certs();
k8s_apiserver();

our $Common = <<'_EOC_';
    kedge_zone kedge 1m;
    kedge_kubernetes https://127.0.0.1:$TEST_NGINX_K8S_PORT
                     token_file=$TEST_NGINX_K8S_TOKEN
                     ca_file=$TEST_NGINX_CERT_DIR/ca.crt;
    kedge_discovery domain_suffix=ext.example.com;

    server {
        listen 127.0.0.2:$TEST_NGINX_B_PORT;
        listen 127.0.0.3:$TEST_NGINX_B_PORT;
        return 200 "$server_addr:$server_port\n";
    }
_EOC_

our $Sh = <<'_EOS_';
ctl() { $TEST_NGINX_CTL "$@"; }
get() { curl -s -H "Host: $1" "http://127.0.0.1:$TEST_NGINX_SERVER_PORT/"; }
host=web.default.svc.ext.example.com:$TEST_NGINX_SERVER_PORT
expose() {
    ctl PUT /endpointslices/default/web-a '{"service": "web", "endpoints": ['"$1"'], "ports": [{"name": "http", "port": $TEST_NGINX_B_PORT}]}'
    ctl PUT /services/default/web '{"labels": {"kedge.com/kedge-exposed": "true"}, "ports": [{"name": "http", "port": $TEST_NGINX_SERVER_PORT, "targetPort": $TEST_NGINX_B_PORT}]}'
}
until_only() {
    for i in $(seq 1 200); do
        out=$(for j in 1 2 3 4 5 6; do get $host; done | sort -u | tr '\n' ' ')
        [ "$out" = "$1" ] && { echo "$out"; return; }
        sleep 0.05
    done
    echo "timeout: $out"
}
ctl DELETE /faults
ctl POST /reset
_EOS_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $Common . ($block->http_config // ''));
    $block->set_value("config", "location / { kedge_pass; }")
        unless defined $block->config;
    $block->set_value("exec", $Sh . $block->exec) if defined $block->exec;
    $block->set_value("timeout", 30) unless defined $block->timeout;
});

master_on();
workers(2);
no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: two workers, one fetcher: one watch of the Services, one of the slices
--- exec
expose '{"addresses": ["127.0.0.2"]}, {"addresses": ["127.0.0.3"]}'
until_only "127.0.0.2:$TEST_NGINX_B_PORT 127.0.0.3:$TEST_NGINX_B_PORT "
fail=0
for i in $(seq 1 20); do get $host | grep -q '^127' || fail=$((fail + 1)); done
echo "failed: $fail"
echo "watches: $(ctl stat 'open_watches')"
# the set is written by one process and compiled by each worker
echo "writers: $(grep -o '[0-9]*#[0-9]*: kedge: discovery: 1 Services' $TEST_NGINX_SERVER_ROOT/logs/error.log | cut -d'#' -f1 | sort -u | wc -l)"
--- response_body eval
"127.0.0.2:$ENV{TEST_NGINX_B_PORT} 127.0.0.3:$ENV{TEST_NGINX_B_PORT} \n"
. "failed: 0\n"
. "watches: {'endpointslices': 1, 'services': 1}\n"
. "writers: 1\n"



=== TEST 2: a reload with the API server hanging: the discovered routes stay, the new fetcher takes them over
--- exec
expose '{"addresses": ["127.0.0.2"]}'
until_only "127.0.0.2:$TEST_NGINX_B_PORT "
master=$(cat $TEST_NGINX_SERVER_ROOT/logs/nginx.pid)
old=$(pgrep -P $master | sort)
ctl POST /faults '{"type": "hang"}'
kill -HUP $master
fail=0
for i in $(seq 1 30); do
    get $host | grep -q "^127.0.0.2:" || fail=$((fail + 1))
    sleep 0.1
done
echo "failed during the reload: $fail"
for i in $(seq 1 50); do
    left=$(for p in $old; do [ -d /proc/$p ] && echo $p; done)
    [ -z "$left" ] && { echo "old workers gone"; break; }
    sleep 0.1
done
new=$(pgrep -P $master | sort | tr '\n' ' ')
ctl DELETE /faults
# the new fetcher lists again and watches, and changes reach traffic
expose '{"addresses": ["127.0.0.2"]}, {"addresses": ["127.0.0.3"]}'
until_only "127.0.0.2:$TEST_NGINX_B_PORT 127.0.0.3:$TEST_NGINX_B_PORT "
sleep 0.5
echo "watches: $(ctl stat 'open_watches')"
ctl DELETE /services/default/web
for i in $(seq 1 100); do
    get $host | grep -q '^unknown route to service' && { echo "removed"; break; }
    sleep 0.05
done
--- response_body eval
"127.0.0.2:$ENV{TEST_NGINX_B_PORT} \n"
. "failed during the reload: 0\n"
. "old workers gone\n"
. "127.0.0.2:$ENV{TEST_NGINX_B_PORT} 127.0.0.3:$ENV{TEST_NGINX_B_PORT} \n"
. "watches: {'endpointslices': 1, 'services': 1}\n"
. "removed\n"
--- timeout: 40



=== TEST 3: a reload that configures a backend of a discovered name: the configured one serves
--- exec
expose '{"addresses": ["127.0.0.2"]}'
until_only "127.0.0.2:$TEST_NGINX_B_PORT "
conf=$TEST_NGINX_SERVER_ROOT/conf/nginx.conf
sed -i "s|kedge_discovery domain_suffix=ext.example.com;|&\n    kedge_backend web_default_$TEST_NGINX_B_PORT endpoints=127.0.0.3:$TEST_NGINX_B_PORT;|" $conf
kill -HUP $(cat $TEST_NGINX_SERVER_ROOT/logs/nginx.pid)
until_only "127.0.0.3:$TEST_NGINX_B_PORT "
sleep 0.5
echo "watches: $(ctl stat 'open_watches')"
--- response_body eval
"127.0.0.2:$ENV{TEST_NGINX_B_PORT} \n"
. "127.0.0.3:$ENV{TEST_NGINX_B_PORT} \n"
. "watches: {'endpointslices': 0, 'services': 1}\n"



=== TEST 4: /metrics across reloads: a discovered backend's counts go on; a backend configured under its name has the series alone
--- config
    location / { kedge_pass; }
    location = /metrics { kedge_metrics; }
--- exec
m=http://127.0.0.1:$TEST_NGINX_SERVER_PORT/metrics
b=web_default_$TEST_NGINX_B_PORT
count() { curl -s $m | grep "^kedge_requests_total{backend_name=\"$b\",protocol=\"http\",code=\"2xx\"}" | cut -d' ' -f2; }
reload() {
    master=$(cat $TEST_NGINX_SERVER_ROOT/logs/nginx.pid)
    old=$(pgrep -P $master | sort)
    kill -HUP $master
    for i in $(seq 1 50); do
        left=$(for p in $old; do [ -d /proc/$p ] && echo $p; done)
        [ -z "$left" ] && { echo "old workers gone"; return; }
        sleep 0.1
    done
    echo "old workers left: $left"
}
expose '{"addresses": ["127.0.0.2"]}'
until_only "127.0.0.2:$TEST_NGINX_B_PORT "
before=$(count)
for i in 1 2 3; do get $host > /dev/null; done
# the API server hangs: the new fetcher cannot list, the slots stay as they were
ctl POST /faults '{"type": "hang"}'
reload
get $host
echo "counted across the reload: $(( $(count) - before ))"
conf=$TEST_NGINX_SERVER_ROOT/conf/nginx.conf
sed -i "s|kedge_discovery domain_suffix=ext.example.com;|&\n    kedge_backend $b endpoints=127.0.0.3:$TEST_NGINX_B_PORT;|" $conf
scrape() {
    curl -s $m > $TEST_NGINX_SERVER_ROOT/html/metrics.txt
    promtool check metrics < $TEST_NGINX_SERVER_ROOT/html/metrics.txt && echo "promtool: ok"
    grep "^kedge_backend_info{backend_name=\"$b\"" $TEST_NGINX_SERVER_ROOT/html/metrics.txt | sed "s/$b/B/"
}
# the slot keeps the name until the new fetcher lists: one series still
reload
scrape
ctl DELETE /faults
until_only "127.0.0.3:$TEST_NGINX_B_PORT "
scrape
--- response_body eval
"127.0.0.2:$ENV{TEST_NGINX_B_PORT} \n"
. "old workers gone\n"
. "127.0.0.2:$ENV{TEST_NGINX_B_PORT}\n"
. "counted across the reload: 4\n"
. "old workers gone\n"
. "promtool: ok\n"
. "kedge_backend_info{backend_name=\"B\",protocol=\"any\",source=\"static\",tls=\"off\"} 1\n"
. "127.0.0.3:$ENV{TEST_NGINX_B_PORT} \n"
. "promtool: ok\n"
. "kedge_backend_info{backend_name=\"B\",protocol=\"any\",source=\"static\",tls=\"off\"} 1\n"
--- timeout: 40
