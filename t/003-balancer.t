# The balancer: round robin over a backend's endpoints, warm connections
# through "keepalive", a failed connect moving on to the next endpoint,
# and plain, TLS and TLS-without-verification dialing of backends.

use FindBin;
use Test::Nginx::Socket 'no_plan';
use Test::Kedge::Exec;

my $root = "$FindBin::Bin/..";
$ENV{TEST_NGINX_CERT_DIR} ||= "$root/build/certs";
system("$root/scripts/make-certs.sh", $ENV{TEST_NGINX_CERT_DIR}) == 0
    or die "make-certs.sh failed";

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
$ENV{"TEST_NGINX_P$_"} ||= $port + 110 + $_ for 1 .. 7;

# five backends that tell their name and how many requests their
# connection has carried; and one that speaks TLS
our $Backends = <<'_EOC_';
    server {
        listen 127.0.0.1:$TEST_NGINX_P1;
        listen 127.0.0.1:$TEST_NGINX_P2;
        listen 127.0.0.1:$TEST_NGINX_P3;
        listen 127.0.0.1:$TEST_NGINX_P4;
        listen 127.0.0.1:$TEST_NGINX_P5;
        keepalive_requests 10000;
        location / {
            return 200 "$server_port $connection_requests\n";
        }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_P6 ssl;
        ssl_certificate $TEST_NGINX_CERT_DIR/backend.crt;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/backend.key;
        location / {
            return 200 "tls $ssl_server_name $connection_requests\n";
        }
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config",
                      $Backends . ($block->http_config // ''));

    if (!defined $block->config) {
        $block->set_value("config", "location / { kedge_pass; }");
    }
});

# expected answers of round robin with warm connections: request k goes
# to endpoint k mod 5, on a connection that has carried k div 5 before
sub rr_bodies {
    my ($n, $warm) = @_;
    return [ map {
        my $p = $ENV{"TEST_NGINX_P" . ($_ % 5 + 1)};
        "$p " . ($warm ? int($_ / 5) + 1 : 1) . "\n"
    } 0 .. $n - 1 ];
}

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: 100 requests over 5 endpoints: 20 each, in turn, on 5 warm connections
--- http_config
    kedge_backend five endpoints=127.0.0.1:$TEST_NGINX_P1,127.0.0.1:$TEST_NGINX_P2,127.0.0.1:$TEST_NGINX_P3,127.0.0.1:$TEST_NGINX_P4,127.0.0.1:$TEST_NGINX_P5;
    kedge_http_route backend=five;
    upstream kedge {
        kedge_balancer;
        keepalive 16;
    }
--- request eval
[ ("GET /") x 100 ]
--- response_body eval
main::rr_bodies(100, 1)



=== TEST 2: without keepalive every request opens a connection
--- http_config
    kedge_backend five endpoints=127.0.0.1:$TEST_NGINX_P1,127.0.0.1:$TEST_NGINX_P2,127.0.0.1:$TEST_NGINX_P3,127.0.0.1:$TEST_NGINX_P4,127.0.0.1:$TEST_NGINX_P5;
    kedge_http_route backend=five;
    upstream kedge {
        kedge_balancer;
    }
--- request eval
[ ("GET /") x 10 ]
--- response_body eval
main::rr_bodies(10, 0)



=== TEST 3: a refused connect moves on to the next endpoint
--- http_config
    kedge_backend half endpoints=127.0.0.1:1,127.0.0.1:$TEST_NGINX_P1;
    kedge_http_route backend=half;
    upstream kedge {
        kedge_balancer;
        keepalive 4;
    }
--- request
GET /
--- response_body eval
"$ENV{TEST_NGINX_P1} 1\n"
--- error_log
connect() failed (111: Connection refused)



=== TEST 4: retries keep every request alive while one endpoint is dead
--- http_config
    kedge_backend half endpoints=127.0.0.1:1,127.0.0.1:$TEST_NGINX_P1;
    kedge_http_route backend=half;
    upstream kedge {
        kedge_balancer;
        keepalive 4;
    }
--- request eval
[ ("GET /") x 4 ]
--- response_body eval
[ "$ENV{TEST_NGINX_P1} 1\n", "$ENV{TEST_NGINX_P1} 2\n",
  "$ENV{TEST_NGINX_P1} 3\n", "$ENV{TEST_NGINX_P1} 4\n" ]



=== TEST 5: TLS to a backend, verified against the CA, SNI from tls_name
--- http_config
    kedge_backend secure endpoints=127.0.0.1:$TEST_NGINX_P6 tls=on tls_name=backend.internal;
    kedge_http_route backend=secure;
    upstream kedge {
        kedge_balancer;
        keepalive 4;
    }
--- config
    location / {
        kedge_pass ssl_trusted_certificate=$TEST_NGINX_CERT_DIR/ca.crt;
    }
--- request eval
[ "GET /", "GET /" ]
--- response_body eval
[ "tls backend.internal 1\n", "tls backend.internal 2\n" ]
--- response_headers eval
[ "x-kedge-backend-name: secure", "x-kedge-backend-name: secure" ]



=== TEST 6: TLS verification refuses a backend of another CA
--- http_config
    kedge_backend secure endpoints=127.0.0.1:$TEST_NGINX_P6 tls=on tls_name=backend.internal;
    kedge_http_route backend=secure;
--- config
    location / {
        kedge_pass ssl_trusted_certificate=$TEST_NGINX_CERT_DIR/other-ca.crt;
    }
--- request
GET /
--- error_code: 502
--- error_log
upstream SSL certificate verify error



=== TEST 7: TLS verification refuses a backend whose name does not match
--- http_config
    kedge_backend secure endpoints=127.0.0.1:$TEST_NGINX_P6 tls=on tls_name=other.internal;
    kedge_http_route backend=secure;
--- config
    location / {
        kedge_pass ssl_trusted_certificate=$TEST_NGINX_CERT_DIR/ca.crt;
    }
--- request
GET /
--- error_code: 502
--- error_log
upstream SSL certificate does not match "other.internal"



=== TEST 8: tls=insecure dials TLS without verifying
--- http_config
    kedge_backend loose endpoints=127.0.0.1:$TEST_NGINX_P6 tls=insecure tls_name=whatever.internal;
    kedge_http_route backend=loose;
--- config
    location / {
        kedge_pass ssl_trusted_certificate=$TEST_NGINX_CERT_DIR/other-ca.crt;
    }
--- request
GET /
--- response_body
tls whatever.internal 1



=== TEST 9: plain, TLS and insecure backends side by side in one location
--- http_config
    kedge_backend plain endpoints=127.0.0.1:$TEST_NGINX_P1;
    kedge_backend secure endpoints=127.0.0.1:$TEST_NGINX_P6 tls=on tls_name=backend.internal;
    kedge_backend loose endpoints=127.0.0.1:$TEST_NGINX_P6 tls=insecure;
    kedge_http_route backend=plain path=/plain;
    kedge_http_route backend=secure path=/secure;
    kedge_http_route backend=loose path=/loose;
--- config
    location / {
        kedge_pass ssl_trusted_certificate=$TEST_NGINX_CERT_DIR/ca.crt;
    }
--- request eval
[ "GET /plain", "GET /secure", "GET /loose" ]
--- response_body eval
[ "$ENV{TEST_NGINX_P1} 1\n", "tls backend.internal 1\n", "tls loose 1\n" ]



=== TEST 10: proxy_* directives of the kedge_pass location apply
--- http_config
    kedge_backend echo endpoints=127.0.0.1:$TEST_NGINX_P7;
    kedge_http_route backend=echo;
    server {
        listen 127.0.0.1:$TEST_NGINX_P7;
        location / {
            add_header X-Secret hidden;
            return 200 "extra=$http_x_extra host=$http_host connection=$http_connection\n";
        }
    }
--- config
    location / {
        kedge_pass;
        proxy_hide_header X-Secret;
        proxy_set_header X-Extra yes;
        add_header X-Added "$kedge_backend" always;
    }
--- request
GET /
--- more_headers
Host: front.example.com:8080
--- response_body
extra=yes host=front.example.com:8080 connection=
--- response_headers
X-Added: echo
!X-Secret



=== TEST 11: a failed endpoint is set aside for the back-off, then tried again
--- http_config
    kedge_backend half endpoints=127.0.0.1:1,127.0.0.1:$TEST_NGINX_P1;
    kedge_http_route backend=half;
    upstream kedge {
        kedge_balancer set_aside=1s;
        keepalive 4;
    }
--- exec
log=$TEST_NGINX_SERVER_ROOT/logs/error.log
for i in 1 2 3 4 5 6; do curl -s -o /dev/null -w '%{http_code} ' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/; done; echo
echo "refused: $(grep -c 'connect() failed (111' $log)"
sleep 1.2
curl -s -o /dev/null -w '%{http_code}\n' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
curl -s -o /dev/null -w '%{http_code}\n' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
echo "refused: $(grep -c 'connect() failed (111' $log)"
--- response_body
200 200 200 200 200 200 
refused: 1
200
200
refused: 2
--- error_log
kedge: endpoint 127.0.0.1:1 of backend "half" set aside for 1000 ms



=== TEST 12: every endpoint down: no-connection-to-all-resolved-addresses
--- http_config
    kedge_backend dead endpoints=127.0.0.1:1,127.0.0.1:2;
    kedge_http_route backend=dead;
--- request
GET /
--- error_code: 502
--- response_headers
X-Kedge-Error-Type: no-connection-to-all-resolved-addresses
X-Kedge-Error: no connection to all resolved addresses
!x-kedge-backend-name
--- error_log
connect() failed (111: Connection refused)



=== TEST 13: while every endpoint is set aside, none is dialed
--- http_config
    kedge_backend dead endpoints=127.0.0.1:1,127.0.0.1:2;
    kedge_http_route backend=dead;
--- exec
for i in 1 2 3; do curl -s -i http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ | tr -d '\r' | grep -E '^HTTP|^X-Kedge-Error-Type'; done
echo "refused: $(grep -c 'connect() failed (111' $TEST_NGINX_SERVER_ROOT/logs/error.log)"
--- response_body
HTTP/1.1 502 Bad Gateway
X-Kedge-Error-Type: no-connection-to-all-resolved-addresses
HTTP/1.1 502 Bad Gateway
X-Kedge-Error-Type: no-connection-to-all-resolved-addresses
HTTP/1.1 502 Bad Gateway
X-Kedge-Error-Type: no-connection-to-all-resolved-addresses
refused: 2



=== TEST 14: a kept-alive connection the backend dropped is no reason to set the endpoint aside
--- http_config
    kedge_backend drop endpoints=127.0.0.1:$TEST_NGINX_P7;
    kedge_http_route backend=drop;
    upstream kedge {
        kedge_balancer;
        keepalive 4;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_P7;
        location /ok { return 200 "ok\n"; }
        location /drop { return 444; }
    }
--- request eval
["GET /ok", "GET /drop", "GET /ok"]
--- error_code eval
[200, 502, 200]
--- response_headers eval
["x-kedge-backend-name: drop", "!X-Kedge-Error-Type", "x-kedge-backend-name: drop"]
