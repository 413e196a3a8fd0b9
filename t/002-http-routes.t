# HTTP routing: every kedge HTTP matcher (SPEC section 3) and first-match
# order, through real nginx with nginx servers as the backends.

use Test::Nginx::Socket 'no_plan';
use Test::Kedge::Exec;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
$ENV{TEST_NGINX_A_PORT} ||= $port + 101;
$ENV{TEST_NGINX_B_PORT} ||= $port + 102;
$ENV{TEST_NGINX_C_PORT} ||= $port + 103;
$ENV{TEST_NGINX_H2C_PORT} ||= $port + 104;

# three backends that say who they are and what they were sent
our $Backends = <<'_EOC_';
    kedge_backend alpha endpoints=127.0.0.1:$TEST_NGINX_A_PORT;
    kedge_backend beta endpoints=127.0.0.1:$TEST_NGINX_B_PORT;
    kedge_backend gamma endpoints=127.0.0.1:$TEST_NGINX_C_PORT;

    upstream kedge {
        kedge_balancer;
        keepalive 4;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_A_PORT;
        listen 127.0.0.1:$TEST_NGINX_B_PORT;
        listen 127.0.0.1:$TEST_NGINX_C_PORT;
        location / {
            set $name unknown;
            if ($server_port = $TEST_NGINX_A_PORT) { set $name alpha; }
            if ($server_port = $TEST_NGINX_B_PORT) { set $name beta; }
            if ($server_port = $TEST_NGINX_C_PORT) { set $name gamma; }
            return 200 "$name $request_uri host=$http_host\n";
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

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: host matcher, exact and case-insensitive; backend name header
--- http_config
    kedge_http_route backend=beta host=other.example.com;
    kedge_http_route backend=alpha host=Alpha.Example.com;
--- request
GET /hello
--- more_headers
Host: ALPHA.example.COM
--- response_body
alpha /hello host=ALPHA.example.COM
--- response_headers
x-kedge-backend-name: alpha
!X-Kedge-Error-Type



=== TEST 2: host matcher ignores the request port
--- http_config
    kedge_http_route backend=alpha host=alpha.example.com;
--- request
GET /p
--- more_headers
Host: alpha.example.com:8443
--- response_body
alpha /p host=alpha.example.com:8443



=== TEST 3: host matcher is equality, not suffix
--- http_config
    kedge_http_route backend=alpha host=example.com;
--- request
GET /
--- more_headers
Host: evil-example.com
--- error_code: 502
--- response_body chomp
unknown route to service
--- response_headers
X-Kedge-Error: unknown route to service
X-Kedge-Error-Type: no-route
!x-kedge-backend-name



=== TEST 4: a request with no host never matches a host matcher
--- http_config
    kedge_http_route backend=alpha host=alpha.example.com;
    kedge_http_route backend=beta;
--- raw_request eval
"GET /nohost HTTP/1.0\r\n\r\n"
--- response_body
beta /nohost host=localhost



=== TEST 5: port matcher, missing port means 80 on plain http
--- http_config
    kedge_http_route backend=alpha host=p.example.com port=80;
    kedge_http_route backend=beta host=p.example.com port=8080;
--- request eval
["GET /a", "GET /b"]
--- more_headers eval
["Host: p.example.com", "Host: p.example.com:8080"]
--- response_body eval
["alpha /a host=p.example.com\n", "beta /b host=p.example.com:8080\n"]



=== TEST 6: port matcher refuses another port
--- http_config
    kedge_http_route backend=alpha host=p.example.com port=80;
--- request
GET /
--- more_headers
Host: p.example.com:81
--- error_code: 502
--- response_headers
X-Kedge-Error-Type: no-route



=== TEST 7: port 0 matches any port
--- http_config
    kedge_http_route backend=alpha host=p.example.com port=0;
--- request
GET /
--- more_headers
Host: p.example.com:4711
--- response_body
alpha / host=p.example.com:4711



=== TEST 8: exact path rule
--- http_config
    kedge_http_route backend=alpha host=x.example.com path=/exact;
    kedge_http_route backend=beta host=x.example.com;
--- request eval
["GET /exact", "GET /exact/more", "GET /exactly"]
--- more_headers
Host: x.example.com
--- response_body eval
["alpha /exact host=x.example.com\n",
 "beta /exact/more host=x.example.com\n",
 "beta /exactly host=x.example.com\n"]



=== TEST 9: prefix path rule, and several rules in one route
--- http_config
    kedge_http_route backend=alpha host=x.example.com path=/api/* path=/v2;
    kedge_http_route backend=beta host=x.example.com;
--- request eval
["GET /api/", "GET /api/users?id=1", "GET /api", "GET /v2", "GET /v2/x"]
--- more_headers
Host: x.example.com
--- response_body eval
["alpha /api/ host=x.example.com\n",
 "alpha /api/users?id=1 host=x.example.com\n",
 "beta /api host=x.example.com\n",
 "alpha /v2 host=x.example.com\n",
 "beta /v2/x host=x.example.com\n"]



=== TEST 10: path rules see the normalized path, not tricks around it
--- http_config
    kedge_http_route backend=alpha host=x.example.com path=/public/*;
--- request
GET /public/../admin
--- more_headers
Host: x.example.com
--- error_code: 502
--- response_headers
X-Kedge-Error-Type: no-route



=== TEST 11: header matcher, case-insensitive name, exact value
--- http_config
    kedge_http_route backend=alpha host=h.example.com header=X-Env:prod;
    kedge_http_route backend=beta host=h.example.com;
--- request eval
["GET /1", "GET /2", "GET /3", "GET /4"]
--- more_headers eval
["Host: h.example.com\r\nx-env: prod",
 "Host: h.example.com\r\nX-ENV: Prod",
 "Host: h.example.com",
 "Host: h.example.com\r\nX-Env: prod2"]
--- response_body eval
["alpha /1 host=h.example.com\n",
 "beta /2 host=h.example.com\n",
 "beta /3 host=h.example.com\n",
 "beta /4 host=h.example.com\n"]



=== TEST 12: every header matcher must hold
--- http_config
    kedge_http_route backend=alpha host=h.example.com header=X-A:1 header=X-B:2;
    kedge_http_route backend=beta host=h.example.com;
--- request eval
["GET /both", "GET /one"]
--- more_headers eval
["Host: h.example.com\r\nX-A: 1\r\nX-B: 2", "Host: h.example.com\r\nX-A: 1"]
--- response_body eval
["alpha /both host=h.example.com\n", "beta /one host=h.example.com\n"]



=== TEST 13: header matcher looks at the first value, as kedge's Header.Get
--- http_config
    kedge_http_route backend=alpha host=h.example.com header=X-Env:prod;
    kedge_http_route backend=beta host=h.example.com;
--- request
GET /dup
--- more_headers
Host: h.example.com
X-Env: dev
X-Env: prod
--- response_body
beta /dup host=h.example.com



=== TEST 14: proxy_mode tells absolute-form from origin-form requests
--- http_config
    kedge_http_route backend=alpha host=m.example.com proxy_mode=FORWARD_PROXY;
    kedge_http_route backend=beta host=m.example.com proxy_mode=REVERSE_PROXY;
--- raw_request eval
"GET http://m.example.com/fwd HTTP/1.1\r\nHost: m.example.com\r\nConnection: close\r\n\r\n"
--- response_body
alpha /fwd host=m.example.com



=== TEST 15: proxy_mode REVERSE_PROXY for origin-form requests
--- http_config
    kedge_http_route backend=alpha host=m.example.com proxy_mode=FORWARD_PROXY;
    kedge_http_route backend=beta host=m.example.com proxy_mode=REVERSE_PROXY;
--- request
GET /rev
--- more_headers
Host: m.example.com
--- response_body
beta /rev host=m.example.com



=== TEST 16: absolute-form takes host and port from the request line
--- http_config
    kedge_http_route backend=alpha host=f.example.com port=8080;
    kedge_http_route backend=beta host=f.example.com port=80;
--- raw_request eval
"GET http://f.example.com:8080/x HTTP/1.1\r\nHost: other.example.com\r\nConnection: close\r\n\r\n"
--- response_body
alpha /x host=f.example.com:8080



=== TEST 17: absolute-form default port comes from the scheme
--- http_config
    kedge_http_route backend=alpha host=f.example.com port=443;
    kedge_http_route backend=beta host=f.example.com port=80;
--- raw_request eval
"GET https://f.example.com/s HTTP/1.1\r\nHost: f.example.com\r\nConnection: close\r\n\r\n"
--- response_body
alpha /s host=f.example.com



=== TEST 18: first matching route wins, in configuration order
--- http_config
    kedge_http_route backend=gamma;
    kedge_http_route backend=alpha host=o.example.com;
--- request
GET /order
--- more_headers
Host: o.example.com
--- response_body
gamma /order host=o.example.com



=== TEST 19: host routes and host-less routes keep their relative order
--- http_config
    kedge_http_route backend=alpha host=o.example.com path=/a;
    kedge_http_route backend=gamma path=/a/*;
    kedge_http_route backend=beta host=o.example.com;
--- request eval
["GET /a", "GET /a/b", "GET /c"]
--- more_headers
Host: o.example.com
--- response_body eval
["alpha /a host=o.example.com\n",
 "gamma /a/b host=o.example.com\n",
 "beta /c host=o.example.com\n"]



=== TEST 20: grpc-web is plain HTTP to kedge
--- http_config
    kedge_http_route backend=alpha host=w.example.com;
    kedge_grpc_route backend=beta authority=w.example.com;
--- request
POST /pkg.Svc/Method
AAAAAAA=
--- more_headers
Host: w.example.com
Content-Type: application/grpc-web-text
--- response_body
alpha /pkg.Svc/Method host=w.example.com



=== TEST 21: application/grpc over HTTP/1.1 is not gRPC either
--- http_config
    kedge_http_route backend=alpha host=w.example.com;
    kedge_grpc_route backend=beta authority=w.example.com;
--- request
POST /pkg.Svc/Method
x
--- more_headers
Host: w.example.com
Content-Type: application/grpc
--- response_body
alpha /pkg.Svc/Method host=w.example.com



=== TEST 22: HTTP/2 requests are routed by :authority
# (an h2c server of our own and curl: upstream Test::Nginx's "--- http2"
# writes "http2 on", which nginx 1.22 does not know)
--- http_config
    kedge_http_route backend=beta host=h2.example.com path=/two;
    server {
        listen 127.0.0.1:$TEST_NGINX_H2C_PORT http2;
        location / { kedge_pass; }
    }
--- exec
curl -s --http2-prior-knowledge -H 'Host: h2.example.com' http://127.0.0.1:$TEST_NGINX_H2C_PORT/two
--- response_body
beta /two host=h2.example.com



=== TEST 23: no route over HTTP/2 gives the same 502
--- http_config
    kedge_http_route backend=beta host=h2.example.com;
    server {
        listen 127.0.0.1:$TEST_NGINX_H2C_PORT http2;
        location / { kedge_pass; }
    }
--- exec
curl -s -i --http2-prior-knowledge -H 'Host: none.example.com' http://127.0.0.1:$TEST_NGINX_H2C_PORT/none | tr -d '\r' | grep -E '^HTTP|^x-kedge|^unknown' | sed -E 's/^(x-kedge-request-id: )[0-9a-f]{32}$/\1HEX32/I'
--- response_body
HTTP/2 502 
x-kedge-error: unknown route to service
x-kedge-error-type: no-route
x-kedge-request-id: HEX32
unknown route to service



=== TEST 24: a backend defined for grpc only is not an HTTP backend
--- http_config
    kedge_backend delta endpoints=127.0.0.1:$TEST_NGINX_A_PORT protocol=grpc;
    kedge_backend delta endpoints=127.0.0.1:$TEST_NGINX_B_PORT protocol=http;
    kedge_http_route backend=delta host=d.example.com;
--- request
GET /d
--- more_headers
Host: d.example.com
--- response_body
beta /d host=d.example.com
--- response_headers
x-kedge-backend-name: delta



=== TEST 25: the kedge variables are there for logs and headers
--- http_config
    kedge_http_route backend=alpha host=v.example.com;
--- config
    location / {
        kedge_pass;
        add_header X-Route $kedge_route always;
        add_header X-Backend $kedge_backend always;
    }
--- request
GET /v
--- more_headers
Host: v.example.com
--- response_headers
X-Route: http:1
X-Backend: alpha



=== TEST 26: hundreds of routes: first, last and none all answer right
--- http_config eval
(CORE::join "", map { "    kedge_http_route backend=alpha host=h$_.example.com;\n" }
          1 .. 599)
. "    kedge_http_route backend=beta host=last.example.com path=/x;\n"
--- request eval
["GET /", "GET /x", "GET /", "GET /x"]
--- more_headers eval
["Host: h1.example.com", "Host: last.example.com", "Host: h600.example.com",
 "Host: h599.example.com"]
--- error_code eval
[200, 200, 502, 200]
--- response_body_like eval
["^alpha / host=h1.example.com\n", "^beta /x host=last.example.com\n",
 "^unknown route to service\$", "^alpha /x host=h599.example.com\n"]



=== TEST 27: the longest DNS names index like any other
--- http_config eval
my $long = CORE::join ".", ("a" x 63) x 3, "b" x 61;
"    kedge_http_route backend=gamma host=$long;\n"
--- request
GET /long
--- more_headers eval
"Host: " . CORE::join(".", ("a" x 63) x 3, "b" x 61)
--- response_body_like chomp
^gamma /long host=a{63}\.



=== TEST 28: a long absolute-form request line with a port (the buffer moves)
--- http_config
    kedge_http_route backend=alpha host=f.example.com port=8080;
--- raw_request eval
"GET http://f.example.com:8080/" . ("a" x 3000) . " HTTP/1.1\r\nHost: f.example.com\r\nConnection: close\r\n\r\n"
--- response_body_like chomp
^alpha /a{3000} host=f\.example\.com:8080$



=== TEST 29: "if" inside a kedge_pass location
--- http_config
    kedge_http_route backend=alpha host=i.example.com;
--- config
    location / {
        kedge_pass;
        if ($http_x_debug) {
            set $debug 1;
        }
    }
--- request
GET /if
--- more_headers
Host: i.example.com
X-Debug: 1
--- response_body
alpha /if host=i.example.com



=== TEST 30: limit_except inside a kedge_pass location
--- http_config
    kedge_http_route backend=alpha host=l.example.com;
--- config
    location / {
        kedge_pass;
        limit_except GET {
            allow 127.0.0.2;
            deny all;
        }
    }
--- request eval
["GET /le", "POST /le\nx"]
--- more_headers
Host: l.example.com
--- error_code eval
[200, 403]



=== TEST 31: a long route list is indexed by the first path segment; first match still wins
# routes 1-12 are indexed ("/x", "/api", "/exact", "/y" and "/api",
# "/fN"), route 2 ("/api" and a star, which also matches "/apis") and
# route 13 (no path) can match any segment: each request must get the
# first route that matches in configuration order
--- http_config eval
"    kedge_http_route backend=alpha path=/x/*;\n"
. "    kedge_http_route backend=beta path=/api*;\n"
. "    kedge_http_route backend=gamma path=/api/v1/*;\n"
. "    kedge_http_route backend=gamma path=/exact;\n"
. "    kedge_http_route backend=gamma path=/y/* path=/api/*;\n"
. (CORE::join "", map { "    kedge_http_route backend=alpha path=/f$_/*;\n" } 1 .. 7)
. "    kedge_http_route backend=gamma;\n"
--- config
    location / {
        kedge_pass;
        add_header X-Route $kedge_route always;
    }
--- request eval
["GET /api/v1/users", "GET /apis", "GET /x/1", "GET /exact", "GET /exact/more",
 "GET /y/q", "GET /nothing", "GET /f7/z", "GET /f7", "GET /", "GET /x"]
--- more_headers
Host: idx.example.com
--- response_headers eval
["X-Route: http:2", "X-Route: http:2", "X-Route: http:1", "X-Route: http:4",
 "X-Route: http:13", "X-Route: http:5", "X-Route: http:13", "X-Route: http:12",
 "X-Route: http:13", "X-Route: http:13", "X-Route: http:13"]



=== TEST 32: an indexed list of one host, and no route for a segment nobody routes
--- http_config eval
(CORE::join "", map { "    kedge_http_route backend=alpha host=seg.example.com path=/s$_/*;\n" } 1 .. 20)
. "    kedge_http_route backend=beta host=seg.example.com path=/last/x;\n"
--- request eval
["GET /s1/a", "GET /s20/b", "GET /last/x", "GET /last/y", "GET /none/x"]
--- more_headers
Host: seg.example.com
--- error_code eval
[200, 200, 200, 502, 502]
--- response_body_like eval
["^alpha /s1/a ", "^alpha /s20/b ", "^beta /last/x ",
 "^unknown route to service\$", "^unknown route to service\$"]
