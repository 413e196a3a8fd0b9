# kedge_balancer keepalive=: the balancer's own cache of idle upstream
# connections, found by endpoint.  Backends tell which connection carried
# a request ($connection, a number nginx never gives twice) and how many
# requests it has carried ($connection_requests); with many endpoints
# the answers are summed up by awk.  HTTP, TLS and gRPC upstreams; the
# cap, the bound per endpoint, the idle timeout, keepalive_requests and
# keepalive_time; backends that close idle or used connections; a reload
# that must not wait for the old worker's idle connections.

use Test::Nginx::Socket 'no_plan';
use Test::Kedge::Exec;
use Test::Kedge::Peers;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
$ENV{"TEST_NGINX_K$_"} ||= $port + 5 + $_ for 1 .. 8;
$ENV{TEST_NGINX_CLIENT} = repo_root() . "/t/peers/grpc_client.py";

test_certs();

# 100 HTTP endpoints on 127.0.9.1-100, one port; 10 gRPC endpoints on
# 127.0.10.1-10; a gRPC endpoint behind TLS
my @many = map { "127.0.9.$_:$ENV{TEST_NGINX_K1}" } 1 .. 100;
$ENV{TEST_NGINX_MANY} = join ",", @many;
$ENV{TEST_NGINX_MANY_LISTEN} = join "", map { "listen $_; " } @many;

my @grpc = map { "127.0.10.$_:$ENV{TEST_NGINX_K2}" } 1 .. 10;
$ENV{TEST_NGINX_GRPC_MANY} = join ",", @grpc;

grpc_server("--listen", join ",", map { "$grpc[$_ - 1]=g$_" } 1 .. 10);
grpc_server("--listen", "127.0.0.1:$ENV{TEST_NGINX_K7}=grpc-tls",
            "--tls", "$ENV{TEST_NGINX_CERT_DIR}/backend.crt",
            "$ENV{TEST_NGINX_CERT_DIR}/backend.key");

our $Backends = <<'_EOC_';
    limit_req_zone $server_port zone=slow:1m rate=2r/s;

    server {
        $TEST_NGINX_MANY_LISTEN
        keepalive_requests 10000;
        location / {
            return 200 "$server_addr $connection $connection_requests\n";
        }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_K3 ssl;
        ssl_certificate $TEST_NGINX_CERT_DIR/backend.crt;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/backend.key;
        location / {
            return 200 "tls $ssl_server_name $connection $connection_requests\n";
        }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_K4;
        location / {
            return 200 "$connection $connection_requests\n";
        }
        # held back by limit_req (before "return" can answer, which the
        # rewrite phase would do first)
        location /slow {
            limit_req zone=slow burst=20;
            try_files /nowhere @answer;
        }
        location @answer {
            return 200 "$connection $connection_requests\n";
        }
    }

    # closes a connection idle for 1 s
    server {
        listen 127.0.0.1:$TEST_NGINX_K5;
        keepalive_timeout 1s;
        location / {
            return 200 "$connection $connection_requests\n";
        }
    }

    # drops the second request of every connection, unanswered
    server {
        listen 127.0.0.1:$TEST_NGINX_K6;
        location / {
            if ($connection_requests = 2) {
                return 444;
            }
            return 200 "$connection $connection_requests\n";
        }
    }

    kedge_backend many endpoints=$TEST_NGINX_MANY protocol=http;
    kedge_backend one endpoints=127.0.0.1:$TEST_NGINX_K4 protocol=http;
    kedge_backend closing endpoints=127.0.0.1:$TEST_NGINX_K5 protocol=http;
    kedge_backend dropping endpoints=127.0.0.1:$TEST_NGINX_K6 protocol=http;
    kedge_backend secure endpoints=127.0.0.1:$TEST_NGINX_K3 protocol=http tls=on tls_name=backend.internal;
    kedge_backend grpc_many endpoints=$TEST_NGINX_GRPC_MANY protocol=grpc;
    kedge_backend grpc_tls endpoints=127.0.0.1:$TEST_NGINX_K7 protocol=grpc tls=on tls_name=backend.internal;
_EOC_

# one line: responses, endpoints, connections, the most requests one
# connection carried
our $Summary = q{awk '{ n++; e[$1] = 1; c[$2] = 1; if ($3 > m) m = $3 } END { for (k in e) ne++; for (k in c) nc++; printf "%d responses, %d endpoints, %d connections, at most %d requests on one\n", n, ne, nc, m }'};
$ENV{TEST_NGINX_SUMMARY} = $Summary;

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config",
                      $Backends . ($block->http_config // ''));

    if (!defined $block->config) {
        $block->set_value("config", <<'_EOC_');
    location / {
        kedge_pass ssl_trusted_certificate=$TEST_NGINX_CERT_DIR/ca.crt;
    }
_EOC_
    }

    $block->set_value("timeout", 20) unless defined $block->timeout;
});

# a master and one worker, as in production: the worker's graceful exit
# must close the idle connections (TEST 19)
master_on();
workers(1);
worker_connections(1024);
no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: 100 endpoints, 300 requests: each endpoint's connection carries its 3
--- http_config
    kedge_http_route backend=many;
    upstream kedge {
        kedge_balancer keepalive=200;
    }
--- exec
curl -s "http://127.0.0.1:$TEST_NGINX_SERVER_PORT/[1-300]" | $TEST_NGINX_SUMMARY
--- response_body
300 responses, 100 endpoints, 100 connections, at most 3 requests on one
--- no_error_log
[error]



=== TEST 2: nginx's keepalive after kedge_balancer still works as before
--- http_config
    kedge_http_route backend=many;
    upstream kedge {
        kedge_balancer;
        keepalive 100;
    }
--- exec
curl -s "http://127.0.0.1:$TEST_NGINX_SERVER_PORT/[1-300]" | $TEST_NGINX_SUMMARY
--- response_body
300 responses, 100 endpoints, 100 connections, at most 3 requests on one
--- no_error_log
[error]



=== TEST 3: the cap: 100 endpoints round robin, room for 100: all kept
--- http_config
    kedge_http_route backend=many;
    upstream kedge {
        kedge_balancer keepalive=100;
    }
--- exec
curl -s "http://127.0.0.1:$TEST_NGINX_SERVER_PORT/[1-300]" | $TEST_NGINX_SUMMARY
--- response_body
300 responses, 100 endpoints, 100 connections, at most 3 requests on one
--- no_error_log
[error]



=== TEST 4: the cap: room for 99, the least recent goes, which round robin wants next
--- http_config
    kedge_http_route backend=many;
    upstream kedge {
        kedge_balancer keepalive=99;
    }
--- exec
curl -s "http://127.0.0.1:$TEST_NGINX_SERVER_PORT/[1-300]" | $TEST_NGINX_SUMMARY
grep -c 'kedge keepalive: closing .*, the least recent' $TEST_NGINX_SERVER_ROOT/logs/error.log
--- response_body
300 responses, 100 endpoints, 300 connections, at most 1 requests on one
201
--- no_error_log
[error]



=== TEST 5: four requests at once to one endpoint, then four again: all four kept
--- http_config
    kedge_http_route backend=one;
    upstream kedge {
        kedge_balancer keepalive=8;
    }
--- exec
batch() {
    curl -s -o /dev/null http://127.0.0.1:$TEST_NGINX_K4/slow
    curl -s --parallel --parallel-immediate --parallel-max 4 \
        "http://127.0.0.1:$TEST_NGINX_SERVER_PORT/slow?[1-4]" \
        | awk '$2 == 1 { n++ } END { print n + 0 " new" }'
}
batch
batch
--- response_body
4 new
0 new
--- no_error_log
[error]



=== TEST 6: keepalive_per_endpoint=2: two of the four are closed, two kept
--- http_config
    kedge_http_route backend=one;
    upstream kedge {
        kedge_balancer keepalive=8 keepalive_per_endpoint=2;
    }
--- exec
batch() {
    curl -s -o /dev/null http://127.0.0.1:$TEST_NGINX_K4/slow
    curl -s --parallel --parallel-immediate --parallel-max 4 \
        "http://127.0.0.1:$TEST_NGINX_SERVER_PORT/slow?[1-4]" \
        | awk '$2 == 1 { n++ } END { print n + 0 " new" }'
}
batch
batch
grep -c "kedge keepalive: closing .*, the endpoint's oldest" $TEST_NGINX_SERVER_ROOT/logs/error.log
--- response_body
4 new
2 new
4
--- no_error_log
[error]



=== TEST 7: keepalive_timeout: an idle connection is closed by the proxy
--- http_config
    kedge_http_route backend=one;
    upstream kedge {
        kedge_balancer keepalive=8 keepalive_timeout=1s;
    }
--- exec
u=http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
curl -s $u $u | cut -d' ' -f2
sleep 1.5
curl -s $u | cut -d' ' -f2
--- response_body
1
2
1
--- error_log eval
qr/kedge keepalive: closing \S+, idle too long/
--- no_error_log
[error]



=== TEST 8: keepalive_requests=3: a connection carries three, then a new one
--- http_config
    kedge_http_route backend=one;
    upstream kedge {
        kedge_balancer keepalive=8 keepalive_requests=3;
    }
--- exec
curl -s "http://127.0.0.1:$TEST_NGINX_SERVER_PORT/[1-7]" | cut -d' ' -f2 | tr '\n' ' '; echo
--- response_body
1 2 3 1 2 3 1 
--- no_error_log
[error]



=== TEST 9: keepalive_time=1s: a connection older than that is not kept after its request
--- http_config
    kedge_http_route backend=one;
    upstream kedge {
        kedge_balancer keepalive=8 keepalive_time=1s;
    }
--- exec
u=http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
curl -s $u | cut -d' ' -f2
sleep 1.2
curl -s $u $u | cut -d' ' -f2
--- response_body
1
2
1
--- no_error_log
[error]



=== TEST 10: a backend that closes an idle connection: seen at once, the next request on a new one
--- http_config
    kedge_http_route backend=closing;
    upstream kedge {
        kedge_balancer keepalive=8;
    }
--- exec
u=http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
curl -s $u $u | cut -d' ' -f2
sleep 1.5
curl -s -w '%{http_code}\n' $u | cut -d' ' -f2 | tr '\n' ' '; echo
--- response_body
1
2
1 200 
--- error_log
kedge keepalive close handler
--- no_error_log
[error]



=== TEST 11: a backend that drops a kept-alive connection's request: tried again on a new connection
--- http_config
    kedge_http_route backend=dropping;
    upstream kedge {
        kedge_balancer keepalive=8;
    }
--- exec
u=http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
for i in 1 2 3; do curl -s -w '%{http_code}\n' $u | cut -d' ' -f2 | tr '\n' ' '; echo; done
--- response_body
1 200 
1 200 
1 200 
--- error_log
upstream prematurely closed connection
--- no_error_log
set aside



=== TEST 12: TLS to a backend, verified: one connection carries every request
--- http_config
    kedge_http_route backend=secure;
    upstream kedge {
        kedge_balancer keepalive=8;
    }
--- exec
curl -s "http://127.0.0.1:$TEST_NGINX_SERVER_PORT/[1-5]" | cut -d' ' -f2,4 | tr '\n' ' '; echo
--- response_body
backend.internal 1 backend.internal 2 backend.internal 3 backend.internal 4 backend.internal 5 
--- no_error_log
[error]



=== TEST 13: one TLS endpoint dialed for two names and verified or not: a connection per way, each reused
--- http_config
    kedge_backend loose_a endpoints=127.0.0.1:$TEST_NGINX_K3 protocol=http tls=insecure tls_name=a.internal;
    kedge_backend loose_b endpoints=127.0.0.1:$TEST_NGINX_K3 protocol=http tls=insecure tls_name=b.internal;
    kedge_http_route backend=secure path=/secure;
    kedge_http_route backend=loose_a path=/a;
    kedge_http_route backend=loose_b path=/b;
    upstream kedge {
        kedge_balancer keepalive=8;
    }
--- exec
u=http://127.0.0.1:$TEST_NGINX_SERVER_PORT
curl -s $u/a $u/b $u/secure $u/a $u/b $u/secure $u/a | cut -d' ' -f2,4
--- response_body
a.internal 1
b.internal 1
backend.internal 1
a.internal 2
b.internal 2
backend.internal 2
a.internal 3
--- no_error_log
[error]



=== TEST 14: TLS connections are not shared between kedge_pass locations (their TLS settings may differ)
--- http_config
    kedge_http_route backend=secure;
    upstream kedge {
        kedge_balancer keepalive=8;
    }
--- config
    location /x {
        kedge_pass ssl_trusted_certificate=$TEST_NGINX_CERT_DIR/ca.crt;
    }
    location /y {
        kedge_pass ssl_trusted_certificate=$TEST_NGINX_CERT_DIR/ca.crt;
    }
--- exec
u=http://127.0.0.1:$TEST_NGINX_SERVER_PORT
curl -s $u/x $u/y $u/x $u/y | cut -d' ' -f4 | tr '\n' ' '; echo
--- response_body
1 1 2 2 
--- no_error_log
[error]



=== TEST 15: plain connections are shared between kedge_pass locations
--- http_config
    kedge_http_route backend=one;
    upstream kedge {
        kedge_balancer keepalive=8;
    }
--- config
    location /x { kedge_pass; }
    location /y { kedge_pass; }
--- exec
u=http://127.0.0.1:$TEST_NGINX_SERVER_PORT
curl -s $u/x $u/y $u/x $u/y | cut -d' ' -f2 | tr '\n' ' '; echo
--- response_body
1 2 3 4 
--- no_error_log
[error]



=== TEST 16: gRPC, 10 endpoints, 30 calls: one connection per endpoint
--- http_config
    kedge_grpc_route backend=grpc_many;
    upstream kedge {
        kedge_balancer keepalive=16;
    }
--- config
    listen 127.0.0.1:$TEST_NGINX_K8 http2;
    location / { kedge_pass; }
--- exec
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_K8 --authority g.example.com --repeat 30 \
    | awk '{ n++; if ($1 == "status=OK") ok++; b[$2] = 1; c[$5] = 1 } END { for (k in b) nb++; for (k in c) nc++; printf "%d calls, %d ok, %d endpoints, %d connections\n", n, ok, nb, nc }'
--- response_body
30 calls, 30 ok, 10 endpoints, 10 connections
--- no_error_log
[error]



=== TEST 17: gRPC to a TLS backend: one connection
--- http_config
    kedge_grpc_route backend=grpc_tls;
    upstream kedge {
        kedge_balancer keepalive=16;
    }
--- config
    listen 127.0.0.1:$TEST_NGINX_K8 http2;
    location / {
        kedge_pass ssl_trusted_certificate=$TEST_NGINX_CERT_DIR/ca.crt;
    }
--- exec
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_K8 --authority t.example.com --repeat 3 | cut -d' ' -f1,2,5
--- response_body
status=OK backend=grpc-tls conn=0
status=OK backend=grpc-tls conn=0
status=OK backend=grpc-tls conn=0
--- no_error_log
[error]



=== TEST 18: without keepalive= nor keepalive, nothing is kept
--- http_config
    kedge_http_route backend=one;
    upstream kedge {
        kedge_balancer;
    }
--- exec
curl -s "http://127.0.0.1:$TEST_NGINX_SERVER_PORT/[1-3]" | cut -d' ' -f2 | tr '\n' ' '; echo
--- response_body
1 1 1 
--- no_error_log
[error]



=== TEST 19: a reload: the old worker closes its idle connections (here to gRPC backends, which keep theirs open) and exits at once
--- http_config
    kedge_grpc_route backend=grpc_many;
    upstream kedge {
        kedge_balancer keepalive=16;
    }
--- config
    listen 127.0.0.1:$TEST_NGINX_K8 http2;
    location / { kedge_pass; }
--- exec
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_K8 --authority g.example.com --repeat 3 | cut -d' ' -f1
master=$(cat $TEST_NGINX_SERVER_ROOT/logs/nginx.pid)
old=$(ps -o pid= --ppid $master | tr -d ' ')
kill -HUP $master
for i in $(seq 1 50); do kill -0 $old 2>/dev/null || break; sleep 0.1; done
kill -0 $old 2>/dev/null && echo "the old worker waits" || echo "the old worker is gone"
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_K8 --authority g.example.com | cut -d' ' -f1
--- response_body
status=OK
status=OK
status=OK
the old worker is gone
status=OK
--- error_log
kedge keepalive close handler
--- no_error_log
[error]



=== TEST 20: keepalive_timeout counts for each connection: the older goes, the younger stays
--- http_config
    kedge_backend two endpoints=127.0.9.1:$TEST_NGINX_K1,127.0.9.2:$TEST_NGINX_K1 protocol=http;
    kedge_http_route backend=two;
    upstream kedge {
        kedge_balancer keepalive=8 keepalive_timeout=2s;
    }
--- exec
u=http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
curl -s $u | cut -d' ' -f1,3
sleep 1.2
curl -s $u | cut -d' ' -f1,3
sleep 1.2
curl -s $u $u | cut -d' ' -f1,3
--- response_body
127.0.9.1 1
127.0.9.2 1
127.0.9.1 1
127.0.9.2 2
--- error_log eval
qr/kedge keepalive: closing \S+, idle too long/
--- no_error_log
[error]



=== TEST 21: a "Connection: close" set in the location reaches the backend: then nothing is kept
--- http_config
    kedge_http_route backend=one;
    upstream kedge {
        kedge_balancer keepalive=8;
    }
--- config
    location / {
        kedge_pass;
        proxy_set_header Connection close;
    }
--- exec
curl -s "http://127.0.0.1:$TEST_NGINX_SERVER_PORT/[1-3]" | cut -d' ' -f2 | tr '\n' ' '; echo
--- response_body
1 1 1 
--- no_error_log
[error]
