# Adhoc rules (SPEC section 4): names no route knows, resolved through
# nginx's resolver against a real DNS server (dnsmasq) on loopback and
# dialed directly: name matchers on whole labels, first rule decides,
# default and allowed ports and ranges, name replacement, every A/AAAA
# answer, unresolvable names, denied address ranges, TLS, gRPC with a
# real gRPC client, and the request waiting for DNS without blocking.

use Test::Nginx::Socket 'no_plan';
use Test::Kedge::Exec;
use Test::Kedge::Peers;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
$ENV{TEST_NGINX_DNS_PORT} ||= $port + 180;
$ENV{TEST_NGINX_B_PORT} ||= $port + 181;
$ENV{TEST_NGINX_B2_PORT} ||= $port + 182;
$ENV{TEST_NGINX_B3_PORT} ||= $port + 183;
$ENV{TEST_NGINX_G_PORT} ||= $port + 184;
$ENV{TEST_NGINX_H2C_PORT} ||= $port + 185;
$ENV{TEST_NGINX_T_PORT} ||= $port + 186;
$ENV{TEST_NGINX_P_PORT} ||= $port + 187;
$ENV{TEST_NGINX_S_PORT} ||= $port + 188;
$ENV{TEST_NGINX_CLIENT} = repo_root() . "/t/peers/grpc_client.py";

test_certs();

dns_server(port => $ENV{TEST_NGINX_DNS_PORT}, ttl => 1,
           local => ["kedge.test", "cluster.local", "internal"],
           hosts => join("", map { "$_\n" }
               "127.0.0.2 a.pod.kedge.test",
               "127.0.0.2 two.pod.kedge.test", "127.0.0.3 two.pod.kedge.test",
               (map { "127.0.0.$_ five.pod.kedge.test" } 2 .. 6),
               "127.0.0.2 dual.pod.kedge.test", "::1 dual.pod.kedge.test",
               "127.0.0.3 abc.default.svc.cluster.local",
               "127.0.0.2 x.example.kedge.test",
               "127.0.0.2 example.kedge.test",
               "127.0.0.2 evilexample.kedge.test",
               "127.0.0.1 local.pod.kedge.test",
               "127.0.0.1 mixed.pod.kedge.test",
               "127.0.0.2 mixed.pod.kedge.test",
               "127.0.0.2 slow.pod.kedge.test",
               "127.0.0.2 gone.pod.kedge.test",
               "127.0.0.2 wait.pod.kedge.test",
               "127.0.0.2 cached.pod.kedge.test",
               "127.0.0.2 post.pod.kedge.test",
               "127.0.0.2 backend.internal",
               "127.0.0.2 g.grpc.kedge.test", "127.0.0.3 g.grpc.kedge.test"));

grpc_server("--listen", join ",",
            "127.0.0.2:$ENV{TEST_NGINX_G_PORT}=grpc-2",
            "127.0.0.3:$ENV{TEST_NGINX_G_PORT}=grpc-3");

# (a block may bring a resolver of its own)
our $Resolver = <<'_EOC_';
    resolver 127.0.0.1:$TEST_NGINX_DNS_PORT ipv6=off;
_EOC_

our $Common = <<'_EOC_';
    resolver_timeout 1s;

    upstream kedge {
        kedge_balancer;
        keepalive 8;
    }

    # the dialed addresses: 127.0.0.2 to 127.0.0.6 (and ::1), loopback
    server {
        listen 127.0.0.2:$TEST_NGINX_B_PORT;
        listen 127.0.0.3:$TEST_NGINX_B_PORT;
        listen 127.0.0.4:$TEST_NGINX_B_PORT;
        listen 127.0.0.5:$TEST_NGINX_B_PORT;
        listen 127.0.0.6:$TEST_NGINX_B_PORT;
        listen [::1]:$TEST_NGINX_B_PORT;
        listen 127.0.0.2:$TEST_NGINX_B2_PORT;
        listen 127.0.0.2:$TEST_NGINX_B3_PORT;
        return 200 "$server_addr:$server_port host=$http_host\n";
    }

    server {
        listen 127.0.0.2:$TEST_NGINX_T_PORT ssl;
        ssl_certificate $TEST_NGINX_CERT_DIR/backend.crt;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/backend.key;
        return 200 "tls $server_addr:$server_port host=$http_host\n";
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_H2C_PORT http2;
        location / { kedge_pass; }
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    my $http = $block->http_config // '';

    $block->set_value("http_config", ($http =~ /^\s*resolver /m ? '' : $Resolver)
                                     . $Common . $http);
    $block->set_value("config",
        "location / { kedge_pass ssl_trusted_certificate=\$TEST_NGINX_CERT_DIR/ca.crt; }")
        unless defined $block->config;
    $block->set_value("timeout", 20) unless defined $block->timeout;
});

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: a name of the rule, on an allowed port: dialed, Host as sent
--- http_config
    kedge_http_adhoc *.pod.kedge.test ports=$TEST_NGINX_B_PORT;
--- request
GET /x
--- more_headers eval
"Host: a.pod.kedge.test:$ENV{TEST_NGINX_B_PORT}"
--- response_body eval
"127.0.0.2:$ENV{TEST_NGINX_B_PORT} host=a.pod.kedge.test:$ENV{TEST_NGINX_B_PORT}\n"
--- response_headers
!x-kedge-backend-name
!X-Kedge-Error-Type
--- no_error_log
[error]



=== TEST 2: no port in the request: the rule's default port
--- http_config
    kedge_http_adhoc *.pod.kedge.test port=$TEST_NGINX_B_PORT ports=$TEST_NGINX_B_PORT;
--- request
GET /d
--- more_headers
Host: a.pod.kedge.test
--- response_body eval
"127.0.0.2:$ENV{TEST_NGINX_B_PORT} host=a.pod.kedge.test\n"



=== TEST 3: without port=, the default port is 80, which must be allowed too
--- http_config
    kedge_http_adhoc *.pod.kedge.test ports=$TEST_NGINX_B_PORT;
--- request
GET /d
--- more_headers
Host: a.pod.kedge.test
--- error_code: 400
--- response_body chomp
adhoc: port 80 is not allowed
--- response_headers
X-Kedge-Error: adhoc: port 80 is not allowed
X-Kedge-Error-Type: unknown-route-error
!x-kedge-backend-name



=== TEST 4: a port outside the allowed ones: 400
--- http_config
    kedge_http_adhoc *.pod.kedge.test ports=$TEST_NGINX_B_PORT,1,65535;
--- request
GET /
--- more_headers eval
"Host: a.pod.kedge.test:$ENV{TEST_NGINX_B2_PORT}"
--- error_code: 400
--- response_body eval
"adhoc: port $ENV{TEST_NGINX_B2_PORT} is not allowed"
--- response_headers
X-Kedge-Error-Type: unknown-route-error



=== TEST 5: ranges are inclusive at both ends; a port past them is refused
--- http_config
    kedge_http_adhoc *.pod.kedge.test ports=1-2,$TEST_NGINX_B_PORT-$TEST_NGINX_B2_PORT;
--- request eval
["GET /1", "GET /2", "GET /3"]
--- more_headers eval
["Host: a.pod.kedge.test:$ENV{TEST_NGINX_B_PORT}",
 "Host: a.pod.kedge.test:$ENV{TEST_NGINX_B2_PORT}",
 "Host: a.pod.kedge.test:$ENV{TEST_NGINX_B3_PORT}"]
--- error_code eval
[200, 200, 400]
--- response_body eval
["127.0.0.2:$ENV{TEST_NGINX_B_PORT} host=a.pod.kedge.test:$ENV{TEST_NGINX_B_PORT}\n",
 "127.0.0.2:$ENV{TEST_NGINX_B2_PORT} host=a.pod.kedge.test:$ENV{TEST_NGINX_B2_PORT}\n",
 "adhoc: port $ENV{TEST_NGINX_B3_PORT} is not allowed"]



=== TEST 6: a malformed port is refused, as kedge does
--- http_config
    kedge_http_adhoc *.pod.kedge.test ports=1-65535;
--- request
GET /
--- more_headers
Host: a.pod.kedge.test:http
--- error_code: 400
--- response_body chomp
adhoc: malformed port number



=== TEST 7: every address of the answer, round robin, A and AAAA
--- http_config
    resolver 127.0.0.1:$TEST_NGINX_DNS_PORT ipv6=on;
    kedge_http_adhoc *.pod.kedge.test ports=$TEST_NGINX_B_PORT;
--- exec
for i in 1 2 3 4; do curl -s -H "Host: two.pod.kedge.test:$TEST_NGINX_B_PORT" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/; done | sort | uniq -c | sed 's/^ *//'
for i in 1 2 3 4; do curl -s -H "Host: dual.pod.kedge.test:$TEST_NGINX_B_PORT" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/; done | sort | uniq -c | sed 's/^ *//'
--- response_body eval
"2 127.0.0.2:$ENV{TEST_NGINX_B_PORT} host=two.pod.kedge.test:$ENV{TEST_NGINX_B_PORT}
2 127.0.0.3:$ENV{TEST_NGINX_B_PORT} host=two.pod.kedge.test:$ENV{TEST_NGINX_B_PORT}
2 127.0.0.2:$ENV{TEST_NGINX_B_PORT} host=dual.pod.kedge.test:$ENV{TEST_NGINX_B_PORT}
2 ::1:$ENV{TEST_NGINX_B_PORT} host=dual.pod.kedge.test:$ENV{TEST_NGINX_B_PORT}
"



=== TEST 8: an address that refuses: the next one of the answer is dialed
--- http_config
    kedge_http_adhoc *.pod.kedge.test ports=$TEST_NGINX_B2_PORT;
--- exec
# two.pod.kedge.test is 127.0.0.2 and 127.0.0.3; only .2 listens on B2
for i in 1 2 3 4; do curl -s -H "Host: two.pod.kedge.test:$TEST_NGINX_B2_PORT" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/; done | sort | uniq -c | sed 's/^ *//'
--- response_body eval
"4 127.0.0.2:$ENV{TEST_NGINX_B2_PORT} host=two.pod.kedge.test:$ENV{TEST_NGINX_B2_PORT}\n"
--- no_error_log
set aside



=== TEST 9: name replacement before the lookup; the backend sees the Host sent
--- http_config
    kedge_http_adhoc *.cluster1.kedge.test ports=$TEST_NGINX_B_PORT
                     replace=cluster1.kedge.test:cluster.local;
--- request
GET /r
--- more_headers eval
"Host: abc.default.svc.cluster1.kedge.test:$ENV{TEST_NGINX_B_PORT}"
--- response_body eval
"127.0.0.3:$ENV{TEST_NGINX_B_PORT} host=abc.default.svc.cluster1.kedge.test:$ENV{TEST_NGINX_B_PORT}\n"



=== TEST 10: a name without the pattern: the configuration's error, 502
--- http_config
    kedge_http_adhoc *.kedge.test ports=$TEST_NGINX_B_PORT replace=cluster1:cluster;
--- request
GET /
--- more_headers eval
"Host: a.pod.kedge.test:$ENV{TEST_NGINX_B_PORT}"
--- error_code: 502
--- response_body eval
"adhoc: cannot resolve a.pod.kedge.test:$ENV{TEST_NGINX_B_PORT} host: replace pattern cluster1 does not match it"
--- response_headers
X-Kedge-Error-Type: unknown-route-error



=== TEST 11: "*.example.kedge.test" matches whole labels only
--- http_config
    kedge_http_adhoc *.example.kedge.test ports=$TEST_NGINX_B_PORT;
--- request eval
["GET /", "GET /", "GET /"]
--- more_headers eval
["Host: x.example.kedge.test:$ENV{TEST_NGINX_B_PORT}",
 "Host: evilexample.kedge.test:$ENV{TEST_NGINX_B_PORT}",
 "Host: example.kedge.test:$ENV{TEST_NGINX_B_PORT}"]
--- error_code eval
[200, 502, 502]
--- response_body eval
["127.0.0.2:$ENV{TEST_NGINX_B_PORT} host=x.example.kedge.test:$ENV{TEST_NGINX_B_PORT}\n",
 "unknown route to service",
 "unknown route to service"]
--- response_headers eval
["!X-Kedge-Error-Type", "X-Kedge-Error-Type: no-route",
 "X-Kedge-Error-Type: no-route"]



=== TEST 12: an exact name matcher is the name, not its subdomains
--- http_config
    kedge_http_adhoc example.kedge.test ports=$TEST_NGINX_B_PORT;
--- request eval
["GET /", "GET /"]
--- more_headers eval
["Host: EXAMPLE.kedge.test:$ENV{TEST_NGINX_B_PORT}",
 "Host: x.example.kedge.test:$ENV{TEST_NGINX_B_PORT}"]
--- error_code eval
[200, 502]



=== TEST 13: the first rule that matches decides, whatever a later one allows
--- http_config
    kedge_http_adhoc *.kedge.test ports=$TEST_NGINX_B2_PORT;
    kedge_http_adhoc *.pod.kedge.test ports=$TEST_NGINX_B_PORT;
    kedge_http_adhoc a.pod.kedge.test ports=$TEST_NGINX_B_PORT;
--- request
GET /
--- more_headers eval
"Host: a.pod.kedge.test:$ENV{TEST_NGINX_B_PORT}"
--- error_code: 400



=== TEST 14: ... and in the other order, the more specific rule first
--- http_config
    kedge_http_adhoc a.pod.kedge.test ports=$TEST_NGINX_B_PORT;
    kedge_http_adhoc *.pod.kedge.test ports=$TEST_NGINX_B3_PORT;
    kedge_http_adhoc * ports=$TEST_NGINX_B2_PORT;
--- config
    location / {
        kedge_pass;
        add_header X-Route $kedge_route always;
    }
--- request eval
["GET /", "GET /", "GET /"]
--- more_headers eval
["Host: a.pod.kedge.test:$ENV{TEST_NGINX_B_PORT}",
 "Host: two.pod.kedge.test:$ENV{TEST_NGINX_B3_PORT}",
 "Host: x.example.kedge.test:$ENV{TEST_NGINX_B2_PORT}"]
--- response_headers eval
["X-Route: http-adhoc:1", "X-Route: http-adhoc:2", "X-Route: http-adhoc:3"]
--- response_body eval
["127.0.0.2:$ENV{TEST_NGINX_B_PORT} host=a.pod.kedge.test:$ENV{TEST_NGINX_B_PORT}\n",
 "127.0.0.2:$ENV{TEST_NGINX_B3_PORT} host=two.pod.kedge.test:$ENV{TEST_NGINX_B3_PORT}\n",
 "127.0.0.2:$ENV{TEST_NGINX_B2_PORT} host=x.example.kedge.test:$ENV{TEST_NGINX_B2_PORT}\n"]



=== TEST 15: routes come first; adhoc rules only for what no route matched
--- http_config
    kedge_backend fixed endpoints=127.0.0.3:$TEST_NGINX_B_PORT;
    kedge_http_adhoc *.pod.kedge.test ports=$TEST_NGINX_B_PORT;
    kedge_http_route backend=fixed host=a.pod.kedge.test;
--- request eval
["GET /", "GET /"]
--- more_headers eval
["Host: a.pod.kedge.test:$ENV{TEST_NGINX_B_PORT}",
 "Host: two.pod.kedge.test:$ENV{TEST_NGINX_B_PORT}"]
--- response_headers eval
["x-kedge-backend-name: fixed", "!x-kedge-backend-name"]
--- response_body_like eval
["^127.0.0.3:", "^127.0.0.[23]:"]



=== TEST 16: a name that does not resolve: 502 and kedge's headers
--- http_config
    kedge_http_adhoc *.pod.kedge.test ports=$TEST_NGINX_B_PORT;
--- request
GET /
--- more_headers eval
"Host: nx.pod.kedge.test:$ENV{TEST_NGINX_B_PORT}"
--- error_code: 502
--- response_body eval
"adhoc: cannot resolve nx.pod.kedge.test:$ENV{TEST_NGINX_B_PORT} host: Host not found"
--- response_headers eval
"X-Kedge-Error: adhoc: cannot resolve nx.pod.kedge.test:$ENV{TEST_NGINX_B_PORT} host: Host not found
X-Kedge-Error-Type: unknown-route-error"
--- error_log
kedge: adhoc name "nx.pod.kedge.test" could not be resolved (3: Host not found)



=== TEST 17: a denied address range: the name resolves to nothing allowed
--- http_config
    kedge_http_adhoc *.pod.kedge.test ports=$TEST_NGINX_B_PORT deny=127.0.0.1/32,::1/128;
--- request
GET /
--- more_headers eval
"Host: local.pod.kedge.test:$ENV{TEST_NGINX_B_PORT}"
--- error_code: 403
--- response_body eval
"adhoc: local.pod.kedge.test:$ENV{TEST_NGINX_B_PORT} resolves to no allowed address"
--- response_headers
X-Kedge-Error-Type: unknown-route-error
--- error_log eval
qr/kedge: adhoc name "local.pod.kedge.test": address 127.0.0.1:\d+ is not allowed/



=== TEST 18: denied addresses of an answer are left out, the others dialed
--- http_config
    kedge_http_adhoc *.pod.kedge.test ports=$TEST_NGINX_B_PORT deny=127.0.0.0/31;
--- exec
for i in 1 2 3 4; do curl -s -H "Host: mixed.pod.kedge.test:$TEST_NGINX_B_PORT" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/; done | sort | uniq -c | sed 's/^ *//'
--- response_body eval
"4 127.0.0.2:$ENV{TEST_NGINX_B_PORT} host=mixed.pod.kedge.test:$ENV{TEST_NGINX_B_PORT}\n"



=== TEST 19: allow= keeps only its ranges (deny= applies first)
--- http_config
    kedge_http_adhoc *.pod.kedge.test ports=$TEST_NGINX_B_PORT allow=127.0.0.0/24 deny=127.0.0.2;
--- exec
for i in 1 2 3 4; do curl -s -H "Host: two.pod.kedge.test:$TEST_NGINX_B_PORT" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/; done | sort | uniq -c | sed 's/^ *//'
curl -s -w ' %{http_code}\n' -H "Host: a.pod.kedge.test:$TEST_NGINX_B_PORT" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
--- response_body eval
"4 127.0.0.3:$ENV{TEST_NGINX_B_PORT} host=two.pod.kedge.test:$ENV{TEST_NGINX_B_PORT}
adhoc: a.pod.kedge.test:$ENV{TEST_NGINX_B_PORT} resolves to no allowed address 403
"



=== TEST 20: an address as the host is dialed as it is, and checked too
--- http_config
    kedge_http_adhoc * ports=$TEST_NGINX_B_PORT deny=127.0.0.3;
--- request eval
["GET /", "GET /"]
--- more_headers eval
["Host: 127.0.0.2:$ENV{TEST_NGINX_B_PORT}", "Host: 127.0.0.3:$ENV{TEST_NGINX_B_PORT}"]
--- error_code eval
[200, 403]
--- response_body eval
["127.0.0.2:$ENV{TEST_NGINX_B_PORT} host=127.0.0.2:$ENV{TEST_NGINX_B_PORT}\n",
 "adhoc: 127.0.0.3:$ENV{TEST_NGINX_B_PORT} resolves to no allowed address"]



=== TEST 21: TLS to the name dialed, verified: the name is the TLS name
--- http_config
    kedge_http_adhoc *.pod.kedge.test ports=$TEST_NGINX_T_PORT tls=on;
--- request
GET /
--- more_headers eval
"Host: a.pod.kedge.test:$ENV{TEST_NGINX_T_PORT}"
--- error_code: 502
--- response_headers
X-Kedge-Error-Type: no-connection-to-all-resolved-addresses
--- error_log
upstream SSL certificate does not match "a.pod.kedge.test"



=== TEST 22: TLS verified for a name the certificate has, or not verified
--- http_config
    kedge_http_adhoc backend.internal ports=$TEST_NGINX_T_PORT tls=on;
    kedge_http_adhoc *.kedge.test ports=$TEST_NGINX_T_PORT tls=insecure;
--- request eval
["GET /", "GET /"]
--- more_headers eval
["Host: backend.internal:$ENV{TEST_NGINX_T_PORT}",
 "Host: x.example.kedge.test:$ENV{TEST_NGINX_T_PORT}"]
--- response_body_like eval
["^tls 127.0.0.2:\\d+ host=backend.internal:",
 "^tls 127.0.0.2:\\d+ host=x.example.kedge.test:"]



=== TEST 23: answers are cached by nginx's resolver for their TTL
--- http_config
    resolver 127.0.0.1:$TEST_NGINX_DNS_PORT ipv6=off valid=30s;
    kedge_http_adhoc *.pod.kedge.test ports=$TEST_NGINX_B_PORT;
--- exec
before=$(grep -c 'query\[A\] cached.pod.kedge.test' $TEST_NGINX_DNS_LOG)
for i in 1 2 3; do curl -s -H "Host: cached.pod.kedge.test:$TEST_NGINX_B_PORT" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/; done
echo $(( $(grep -c 'query\[A\] cached.pod.kedge.test' $TEST_NGINX_DNS_LOG) - before ))
--- response_body eval
"127.0.0.2:$ENV{TEST_NGINX_B_PORT} host=cached.pod.kedge.test:$ENV{TEST_NGINX_B_PORT}\n" x 3
. "1\n"



=== TEST 24: the worker serves other requests while a name resolves
--- http_config
    kedge_backend fixed endpoints=127.0.0.3:$TEST_NGINX_B_PORT;
    kedge_http_route backend=fixed host=fixed.example.com;
    kedge_http_adhoc *.pod.kedge.test ports=$TEST_NGINX_B_PORT;
--- exec
kill -STOP $TEST_NGINX_DNS_PID
curl -s -o $TEST_NGINX_SERVER_ROOT/logs/slow.out -H "Host: wait.pod.kedge.test:$TEST_NGINX_B_PORT" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ &
sleep 0.3
curl -s -H "Host: fixed.example.com" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
kill -CONT $TEST_NGINX_DNS_PID
wait
cat $TEST_NGINX_SERVER_ROOT/logs/slow.out
--- response_body eval
"127.0.0.3:$ENV{TEST_NGINX_B_PORT} host=fixed.example.com
127.0.0.2:$ENV{TEST_NGINX_B_PORT} host=wait.pod.kedge.test:$ENV{TEST_NGINX_B_PORT}
"



=== TEST 25: the resolver times out: 502
--- http_config
    kedge_http_adhoc *.pod.kedge.test ports=$TEST_NGINX_B_PORT;
--- exec
kill -STOP $TEST_NGINX_DNS_PID
curl -s -w ' %{http_code}\n' -H "Host: slow.pod.kedge.test:$TEST_NGINX_B_PORT" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
kill -CONT $TEST_NGINX_DNS_PID
--- response_body eval
"adhoc: cannot resolve slow.pod.kedge.test:$ENV{TEST_NGINX_B_PORT} host: Operation timed out 502\n"



=== TEST 26: a client that goes away while its name resolves ends the wait
--- http_config
    kedge_http_adhoc *.pod.kedge.test ports=$TEST_NGINX_B_PORT;
--- config
    location / {
        kedge_pass;
        access_log logs/kedge.log;
        log_not_found off;
    }
--- exec
# (the 499 is logged while DNS still does not answer)
kill -STOP $TEST_NGINX_DNS_PID
curl -s -m 0.3 -H "Host: gone.pod.kedge.test:$TEST_NGINX_B_PORT" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
sleep 0.2
grep -c '" 499 ' $TEST_NGINX_SERVER_ROOT/logs/kedge.log
kill -CONT $TEST_NGINX_DNS_PID
sleep 1.5
curl -s -H "Host: gone.pod.kedge.test:$TEST_NGINX_B_PORT" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
grep -c '" 499 ' $TEST_NGINX_SERVER_ROOT/logs/kedge.log
--- response_body eval
"1\n127.0.0.2:$ENV{TEST_NGINX_B_PORT} host=gone.pod.kedge.test:$ENV{TEST_NGINX_B_PORT}\n1\n"
--- error_log
client prematurely closed connection



=== TEST 27: an HTTP/2 stream reset while its name resolves ends the wait too
--- http_config
    kedge_grpc_adhoc *.grpc.kedge.test ports=$TEST_NGINX_G_PORT;
--- exec
kill -STOP $TEST_NGINX_DNS_PID
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority g.grpc.kedge.test:$TEST_NGINX_G_PORT --timeout 0.3
sleep 0.2
grep -c '" 499 ' $TEST_NGINX_SERVER_ROOT/logs/access.log
kill -CONT $TEST_NGINX_DNS_PID
--- response_body
status=DEADLINE_EXCEEDED code=4 message=Deadline Exceeded
1



=== TEST 28: gRPC adhoc rules, with a real gRPC client: every address, round robin
--- http_config
    kedge_grpc_adhoc *.grpc.kedge.test ports=$TEST_NGINX_G_PORT;
--- config
    location / { kedge_pass; add_header X-Route $kedge_route always; }
--- exec
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority g.grpc.kedge.test:$TEST_NGINX_G_PORT --repeat 4 | sed 's/ seq=.*//' | sort | uniq -c | sed 's/^ *//'
--- response_body eval
"2 status=OK backend=grpc-2 authority=g.grpc.kedge.test:$ENV{TEST_NGINX_G_PORT}
2 status=OK backend=grpc-3 authority=g.grpc.kedge.test:$ENV{TEST_NGINX_G_PORT}
"



=== TEST 29: gRPC adhoc refusals: INVALID_ARGUMENT for a port, NOT_FOUND for a name
--- http_config
    kedge_grpc_adhoc *.grpc.kedge.test ports=$TEST_NGINX_G_PORT;
--- exec
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority g.grpc.kedge.test:1
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority nx.grpc.kedge.test:$TEST_NGINX_G_PORT
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority g.grpc.kedge.test
--- response_body eval
"status=INVALID_ARGUMENT code=3 message=adhoc: port 1 is not allowed
status=NOT_FOUND code=5 message=adhoc: cannot resolve nx.grpc.kedge.test:$ENV{TEST_NGINX_G_PORT} host: Host not found
status=INVALID_ARGUMENT code=3 message=adhoc: port 80 is not allowed
"



=== TEST 30: HTTP and gRPC rules are two lists
--- http_config
    kedge_http_adhoc *.grpc.kedge.test ports=$TEST_NGINX_G_PORT;
    kedge_grpc_adhoc *.pod.kedge.test ports=$TEST_NGINX_B_PORT;
--- exec
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority g.grpc.kedge.test:$TEST_NGINX_G_PORT
curl -s -w ' %{http_code}\n' -H "Host: a.pod.kedge.test:$TEST_NGINX_B_PORT" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
--- response_body
status=UNIMPLEMENTED code=12 message=unknown route to service
unknown route to service 502



=== TEST 31: a request body reaches the adhoc backend after the wait for DNS
--- http_config
    kedge_http_adhoc *.pod.kedge.test ports=$TEST_NGINX_P_PORT;
    server {
        listen 127.0.0.2:$TEST_NGINX_P_PORT;
        location = /p {
            proxy_pass http://127.0.0.2:$TEST_NGINX_P_PORT/echo;
            proxy_set_header X-Body $request_body;
        }
        location = /echo {
            return 200 "$request_method $http_x_body\n";
        }
    }
--- request
POST /p
hello body
--- more_headers eval
"Host: post.pod.kedge.test:$ENV{TEST_NGINX_P_PORT}"
--- response_body
POST hello body



=== TEST 32: the location's authorization applies to adhoc requests first
--- http_config
    kedge_http_adhoc *.pod.kedge.test ports=$TEST_NGINX_P_PORT;
    server {
        listen 127.0.0.2:$TEST_NGINX_P_PORT;
        return 200 "pa=[$http_proxy_authorization] host=$http_host\n";
    }
--- config
    kedge_bearer_token s3cret;
    location / { kedge_pass; }
--- exec
curl -s -w ' %{http_code}\n' -H "Host: a.pod.kedge.test:1" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
curl -s -H "Host: a.pod.kedge.test:1" -H 'Proxy-Authorization: Bearer s3cret' -w ' %{http_code}\n' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
curl -s -H "Host: a.pod.kedge.test:$TEST_NGINX_P_PORT" -H 'Proxy-Authorization: Bearer s3cret' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
--- response_body eval
"Unauthorized 401
adhoc: port 1 is not allowed 400
pa=[] host=a.pod.kedge.test:$ENV{TEST_NGINX_P_PORT}
"



=== TEST 33: kedge_balancer keepalive=: a TLS connection serves the name it was dialed for only
--- http_config
    kedge_http_adhoc *.kedge.test ports=$TEST_NGINX_S_PORT tls=insecure;
    upstream kept {
        kedge_balancer keepalive=8;
    }
    server {
        listen 127.0.0.2:$TEST_NGINX_S_PORT ssl;
        ssl_certificate $TEST_NGINX_CERT_DIR/backend.crt;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/backend.key;
        return 200 "sni=$ssl_server_name host=$host requests=$connection_requests\n";
    }
--- config
    location / { kedge_pass kept; }
--- exec
for h in a.pod.kedge.test x.example.kedge.test a.pod.kedge.test x.example.kedge.test; do
    curl -s -H "Host: $h:$TEST_NGINX_S_PORT" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
done
--- response_body
sni=a.pod.kedge.test host=a.pod.kedge.test requests=1
sni=x.example.kedge.test host=x.example.kedge.test requests=1
sni=a.pod.kedge.test host=a.pod.kedge.test requests=2
sni=x.example.kedge.test host=x.example.kedge.test requests=2
--- no_error_log
[error]



=== TEST 34: the dialed addresses are named as dialed ($upstream_addr), a refused one first
--- http_config
    kedge_http_adhoc *.pod.kedge.test ports=$TEST_NGINX_B2_PORT;
--- config
    location / { kedge_pass; add_header X-Upstream $upstream_addr always; }
--- exec
# two.pod.kedge.test is 127.0.0.2 and 127.0.0.3; only .2 listens on B2
for i in 1 2 3 4; do curl -s -o /dev/null -D - -H "Host: two.pod.kedge.test:$TEST_NGINX_B2_PORT" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ | tr -d '\r' | grep -i '^x-upstream'; done | sort | uniq -c | sed 's/^ *//'
--- response_body eval
"2 X-Upstream: 127.0.0.2:$ENV{TEST_NGINX_B2_PORT}
2 X-Upstream: 127.0.0.3:$ENV{TEST_NGINX_B2_PORT}, 127.0.0.2:$ENV{TEST_NGINX_B2_PORT}
"



=== TEST 35: five addresses, fifteen requests: three each, however the resolver rotates its cached answer (the list is sorted the same way every time)
--- http_config
    resolver 127.0.0.1:$TEST_NGINX_DNS_PORT valid=60s;
    kedge_http_adhoc *.pod.kedge.test ports=$TEST_NGINX_B_PORT;
--- exec
for i in $(seq 1 15); do curl -s -H "Host: five.pod.kedge.test:$TEST_NGINX_B_PORT" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/; done | sort | uniq -c | sed 's/^ *//'
--- response_body eval
CORE::join "", map { "3 127.0.0.$_:$ENV{TEST_NGINX_B_PORT} host=five.pod.kedge.test:$ENV{TEST_NGINX_B_PORT}\n" } 2 .. 6
