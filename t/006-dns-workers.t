# Run-time backends with a master and two workers: one fetcher for all
# workers, and no gap in routing on a reload (against dnsmasq on loopback).

use Test::Nginx::Socket 'no_plan';
use Test::Kedge::Exec;
use Test::Kedge::DnsSuite;

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
