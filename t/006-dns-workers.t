# Run-time backends with a master and two workers: one fetcher for all
# workers, and no gap in routing on a reload (against dnsmasq on loopback).

use Test::Nginx::Socket 'no_plan';
use Test::Kedge::Exec;
use Test::Kedge::Peers;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
$ENV{TEST_NGINX_DNS_PORT} ||= $port + 140;
$ENV{TEST_NGINX_B_PORT} ||= $port + 141;
$ENV{TEST_NGINX_B2_PORT} ||= $port + 142;

# every block has names of its own: a block that changes its answers
# changes nothing for the others
dns_server(port => $ENV{TEST_NGINX_DNS_PORT}, ttl => 1,
           hosts => join("", map { "$_\n" }
               "127.0.0.2 two.kedge.test", "127.0.0.3 two.kedge.test",
               "127.0.0.2 change.kedge.test",
               "127.0.0.2 stale.kedge.test",
               "127.0.0.2 workers.kedge.test", "127.0.0.3 workers.kedge.test",
               "127.0.0.2 reload.kedge.test",
               "127.0.0.2 web.kedge.test", "127.0.0.3 web.kedge.test",
               "127.0.0.4 empty.kedge.test"),
           srv => ["_http._tcp.svc.kedge.test,web.kedge.test,$ENV{TEST_NGINX_B2_PORT}"]);

our $Common = <<'_EOC_';
    resolver 127.0.0.1:$TEST_NGINX_DNS_PORT ipv6=off;
    kedge_zone kedge 1m;

    upstream kedge {
        kedge_balancer;
        keepalive 8;
    }

    # the endpoints: 127.0.0.2 and 127.0.0.3, all on loopback
    server {
        listen 127.0.0.2:$TEST_NGINX_B_PORT;
        listen 127.0.0.3:$TEST_NGINX_B_PORT;
        listen 127.0.0.2:$TEST_NGINX_B2_PORT;
        listen 127.0.0.3:$TEST_NGINX_B2_PORT;
        return 200 "$server_addr:$server_port\n";
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $Common . ($block->http_config // ''));
    $block->set_value("config", "location / { kedge_pass; }")
        unless defined $block->config;
    $block->set_value("timeout", 20) unless defined $block->timeout;
});

master_on();
workers(2);
no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: two workers, one fetcher
--- http_config
    kedge_backend workers host=workers.kedge.test:$TEST_NGINX_B_PORT;
    kedge_http_route backend=workers;
--- exec
sleep 2.5
# every worker routes over both addresses
for i in $(seq 1 8); do curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/; done | sort -u
# and only one process resolved
grep -o '\[notice\] [0-9]*#[0-9]*: kedge: backend "workers"' $TEST_NGINX_SERVER_ROOT/logs/error.log | cut -d' ' -f2 | sort -u | wc -l
--- response_body eval
"127.0.0.2:$ENV{TEST_NGINX_B_PORT}\n127.0.0.3:$ENV{TEST_NGINX_B_PORT}\n1\n"



=== TEST 2: a reload while DNS is down: the new workers route at once
--- http_config
    kedge_backend reload host=reload.kedge.test:$TEST_NGINX_B_PORT;
    kedge_http_route backend=reload;
--- exec
sleep 0.5
kill -STOP $TEST_NGINX_DNS_PID
kill -HUP $(cat $TEST_NGINX_SERVER_ROOT/logs/nginx.pid)
sleep 0.5
for i in 1 2 3 4; do curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/; done | sort -u
kill -CONT $TEST_NGINX_DNS_PID
--- response_body eval
"127.0.0.2:$ENV{TEST_NGINX_B_PORT}\n"
