# Request ids with a master and two workers: each worker draws its own
# random bytes (a batch at a time), so ids made by the two workers, and by
# the workers of a reload, are all different.  The connections go to a
# "reuseport" listener, which the kernel spreads over the workers by their
# addresses; every test checks that both workers served.

use Test::Nginx::Socket 'no_plan';
use Test::Kedge::Exec;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
$ENV{TEST_NGINX_WEB_PORT} ||= $port + 240;
$ENV{TEST_NGINX_SPREAD_PORT} ||= $port + 241;

our $Common = <<'_EOC_';
    kedge_backend web endpoints=127.0.0.1:$TEST_NGINX_WEB_PORT protocol=http;
    kedge_http_route backend=web host=web.test;

    log_format ids '$pid $kedge_request_id';

    server {
        listen 127.0.0.1:$TEST_NGINX_WEB_PORT;
        access_log off;
        return 200 "backend saw: $http_x_kedge_request_id\n";
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_SPREAD_PORT reuseport;
        access_log logs/ids.log ids;
        location / { kedge_pass; }
    }
_EOC_

# "ids N": N requests, each on a connection of its own
$ENV{KEDGE_T_IDS} = <<'_EOS_';
ids() {
    urls=$(for i in $(seq 1 $1); do printf 'http://127.0.0.1:%s/ ' $TEST_NGINX_SPREAD_PORT; done)
    curl -s -H 'Host: web.test' -H 'Connection: close' $urls > /dev/null
}
check() {
    log=$TEST_NGINX_SERVER_ROOT/logs/ids.log
    echo "requests: $(wc -l < $log)"
    echo "workers: $(cut -d' ' -f1 $log | sort -u | wc -l)"
    echo "32 hex digits: $(cut -d' ' -f2 $log | grep -cE '^[0-9a-f]{32}$')"
    echo "distinct: $(cut -d' ' -f2 $log | sort -u | wc -l)"
}
_EOS_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $Common . ($block->http_config // ''));
    $block->set_value("config", "location = /t { return 204; }")
        unless defined $block->config;
    $block->set_value("timeout", 60) unless defined $block->timeout;
});

master_on();
workers(2);
no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: two workers: every id different, more than one batch each
--- exec
eval "$KEDGE_T_IDS"
ids 1200
sleep 0.5
check
echo "workers with more than one batch (256): $(cut -d' ' -f1 $TEST_NGINX_SERVER_ROOT/logs/ids.log | sort | uniq -c | awk '$1 > 256' | wc -l)"
--- response_body
requests: 1200
workers: 2
32 hex digits: 1200
distinct: 1200
workers with more than one batch (256): 2



=== TEST 2: the workers of a reload draw their own too
--- exec
eval "$KEDGE_T_IDS"
ids 300
master=$(cat $TEST_NGINX_SERVER_ROOT/logs/nginx.pid)
old=$(pgrep -P $master | sort | tr '\n' ' ')
kill -HUP $master
for i in $(seq 1 100); do
    new=$(pgrep -P $master | sort | tr '\n' ' ')
    left=$(for p in $old; do [ -d /proc/$p ] && echo $p; done)
    [ -z "$left" ] && [ -n "$new" ] && break
    sleep 0.1
done
ids 300
sleep 0.5
check
echo "old workers: $(for p in $old; do grep -c "^$p " $TEST_NGINX_SERVER_ROOT/logs/ids.log; done | grep -vc '^0$')"
echo "new workers: $(for p in $new; do grep -c "^$p " $TEST_NGINX_SERVER_ROOT/logs/ids.log; done | grep -vc '^0$')"
--- response_body
requests: 600
workers: 4
32 hex digits: 600
distinct: 600
old workers: 2
new workers: 2
