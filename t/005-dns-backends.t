# Backends resolved at run time through nginx's resolver (host= and srv=)
# against a real DNS server (dnsmasq) on loopback: round robin over every
# answer, changes followed without a reload, the last good answer kept
# while DNS fails, one fetcher for all workers, no gap on reload.

use Test::Nginx::Socket 'no_plan';
use Test::Kedge::Exec;
use Test::Kedge::DnsSuite;

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: host= balances over every address of the answer
--- http_config
    kedge_backend two host=two.kedge.test:$TEST_NGINX_B_PORT;
    kedge_http_route backend=two;
--- exec
sleep 0.5
for i in 1 2 3 4; do curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/; done | sort | uniq -c | sed 's/^ *//'
--- response_body eval
"2 127.0.0.2:$ENV{TEST_NGINX_B_PORT}\n2 127.0.0.3:$ENV{TEST_NGINX_B_PORT}\n"
--- error_log
kedge: backend "two" has 2 endpoints, generation 1



=== TEST 2: srv= uses the targets and ports of the SRV records
--- http_config
    kedge_backend svc srv=_http._tcp.svc.kedge.test;
    kedge_http_route backend=svc;
--- exec
sleep 0.5
for i in 1 2 3 4; do curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/; done | sort | uniq -c | sed 's/^ *//'
--- response_body eval
"2 127.0.0.2:$ENV{TEST_NGINX_B2_PORT}\n2 127.0.0.3:$ENV{TEST_NGINX_B2_PORT}\n"



=== TEST 3: srv= with port_override
--- http_config
    kedge_backend svc srv=_http._tcp.svc.kedge.test port_override=$TEST_NGINX_B_PORT;
    kedge_http_route backend=svc;
--- exec
sleep 0.5
for i in 1 2; do curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/; done | sort
--- response_body eval
"127.0.0.2:$ENV{TEST_NGINX_B_PORT}\n127.0.0.3:$ENV{TEST_NGINX_B_PORT}\n"



=== TEST 4: a change in DNS reaches traffic without a reload
--- http_config
    kedge_backend change host=change.kedge.test:$TEST_NGINX_B_PORT;
    kedge_http_route backend=change;
--- exec
sleep 0.5
curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
sed -i 's/^127.0.0.2 change.kedge.test$/127.0.0.3 change.kedge.test/' $TEST_NGINX_DNS_HOSTS
kill -HUP $TEST_NGINX_DNS_PID
while :; do
    out=$(curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/)
    case "$out" in 127.0.0.3:*) break;; esac
    sleep 0.05
done
echo "$out"
sed -i 's/^127.0.0.3 change.kedge.test$/127.0.0.2 change.kedge.test/' $TEST_NGINX_DNS_HOSTS
kill -HUP $TEST_NGINX_DNS_PID
--- response_body eval
"127.0.0.2:$ENV{TEST_NGINX_B_PORT}\n127.0.0.3:$ENV{TEST_NGINX_B_PORT}\n"
--- error_log
kedge: backend "change" has 1 endpoints, generation 2



=== TEST 5: DNS down: the last good answer keeps serving, staleness logged once
--- http_config
    resolver_timeout 1s;
    kedge_backend stale host=stale.kedge.test:$TEST_NGINX_B_PORT;
    kedge_http_route backend=stale;
--- exec
sleep 0.5
kill -STOP $TEST_NGINX_DNS_PID
fail=0
for i in $(seq 1 30); do
    curl -s -o /dev/null -w '%{http_code}\n' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ | grep -q '^200$' || fail=$((fail + 1))
    sleep 0.1
done
kill -CONT $TEST_NGINX_DNS_PID
echo "failed: $fail"
sleep 2
curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
--- response_body eval
"failed: 0\n127.0.0.2:$ENV{TEST_NGINX_B_PORT}\n"
--- grep_error_log eval
qr/kedge: backend "stale" is stale, keeping its 1 last known endpoints|kedge: backend "stale" in sync again, 1 endpoints/
--- grep_error_log_out
kedge: backend "stale" is stale, keeping its 1 last known endpoints
kedge: backend "stale" in sync again, 1 endpoints



=== TEST 6: never resolved: no-resolution-available, for HTTP and gRPC
--- http_config
    kedge_backend never host=nowhere.kedge.test:$TEST_NGINX_B_PORT;
    kedge_http_route backend=never;
    kedge_grpc_route backend=never;
    server {
        listen 127.0.0.1:$TEST_NGINX_B2_PORT http2;
        location / { kedge_pass; }
    }
--- exec
sleep 0.5
curl -s -i http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ | tr -d '\r' | grep -iE '^HTTP|^x-kedge' | sed -E 's/^(x-kedge-request-id: )[0-9a-f]{32}$/\1HEX32/I'
t/peers/grpc_client.py --target 127.0.0.1:$TEST_NGINX_B2_PORT --authority x.example.com
--- response_body
HTTP/1.1 502 Bad Gateway
X-Kedge-Error: no resolution available
X-Kedge-Error-Type: no-resolution-available
X-Kedge-Request-ID: HEX32
status=UNAVAILABLE code=14 message=no resolution available



=== TEST 7: readiness waits for every run-time backend's first sync
--- http_config
    kedge_backend two host=two.kedge.test:$TEST_NGINX_B_PORT;
    kedge_backend never host=nowhere.kedge.test:$TEST_NGINX_B_PORT;
    kedge_backend fixed endpoints=127.0.0.1:1;
--- config
    location = /_ready { kedge_ready; }
    location = /_healthz { kedge_health; }
    location = /_version { kedge_version; }
--- exec
sleep 0.5
curl -s -w '%{http_code}\n' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_ready
curl -s -w '%{http_code}\n' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_healthz
curl -s -o /dev/null -w '%{http_code}\n' -X POST http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_healthz
curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_version
--- response_body
not ready: backend "never" never synced
503
ok
200
405
{"version": "0.1.0", "nginx": "1.22.1"}



=== TEST 8: ready once every run-time backend was synced
--- http_config
    kedge_backend two host=two.kedge.test:$TEST_NGINX_B_PORT;
    kedge_backend svc srv=_http._tcp.svc.kedge.test;
--- config
    location = /_ready { kedge_ready; }
--- exec
sleep 0.5
curl -s -w '%{http_code}\n' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_ready
--- response_body
ready
200



=== TEST 9: without a master, a reload does not crash (the old fetcher retires)
# (nginx itself answers no request after such a reload; only the process's
# survival is checked: the old cycle's resolver keeps firing for seconds)
--- http_config
    kedge_backend two host=two.kedge.test:$TEST_NGINX_B_PORT;
    kedge_http_route backend=two;
--- exec
sleep 0.5
curl -s -o /dev/null -w '%{http_code}\n' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
kill -HUP $(cat $TEST_NGINX_SERVER_ROOT/logs/nginx.pid)
sleep 3
kill -0 $(cat $TEST_NGINX_SERVER_ROOT/logs/nginx.pid) && echo alive
--- response_body
200
alive
