# Forward-proxy requests (SPEC section 3, proxy_mode): absolute-form
# requests, as curl sends them through "-x" (HTTP_PROXY), in plain text and
# through TLS to the proxy, with and without a client certificate, and as
# kedge's own client sent "https://" ones over TLS: routed by the host of
# the request line, the default port from its scheme, told from origin-form
# requests by proxy_mode both ways; adhoc rules through the proxy too.

use Test::Nginx::Socket 'no_plan';
use Test::Kedge::Exec;
use Test::Kedge::Peers;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
$ENV{TEST_NGINX_A_PORT} ||= $port + 191;
$ENV{TEST_NGINX_B_PORT} ||= $port + 192;
$ENV{TEST_NGINX_TLS_PORT} ||= $port + 193;
$ENV{TEST_NGINX_DNS_PORT} ||= $port + 194;
$ENV{TEST_NGINX_ADHOC_PORT} ||= $port + 195;

test_certs();

dns_server(port => $ENV{TEST_NGINX_DNS_PORT}, ttl => 1,
           local => ["kedge.test"],
           hosts => "127.0.0.2 a.pod.kedge.test\n");

# "P" is where a client of the proxy would find the proxy: both listeners
our $Common = <<'_EOC_';
    resolver 127.0.0.1:$TEST_NGINX_DNS_PORT ipv6=off;

    kedge_backend alpha endpoints=127.0.0.1:$TEST_NGINX_A_PORT;
    kedge_backend beta endpoints=127.0.0.1:$TEST_NGINX_B_PORT;

    upstream kedge {
        kedge_balancer;
        keepalive 8;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_A_PORT;
        listen 127.0.0.1:$TEST_NGINX_B_PORT;
        listen 127.0.0.2:$TEST_NGINX_ADHOC_PORT;
        set $name adhoc;
        if ($server_port = $TEST_NGINX_A_PORT) { set $name alpha; }
        if ($server_port = $TEST_NGINX_B_PORT) { set $name beta; }
        return 200 "$name $request_uri host=$http_host pc=[$http_proxy_connection] pa=[$http_proxy_authorization]\n";
    }

    # the proxy through TLS, asking for a client certificate
    server {
        listen 127.0.0.1:$TEST_NGINX_TLS_PORT ssl;
        server_name localhost;
        ssl_certificate $TEST_NGINX_CERT_DIR/server.crt;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/server.key;
        ssl_client_certificate $TEST_NGINX_CERT_DIR/clients-ca.crt;
        ssl_verify_client optional;
        ssl_verify_depth 2;
        location / { kedge_pass; }
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $Common . ($block->http_config // ''));
    $block->set_value("config", "location / { kedge_pass; }")
        unless defined $block->config;
    $block->set_value("timeout", 10) unless defined $block->timeout;
});

$ENV{TEST_NGINX_CURL} = "curl -s --noproxy '' --cacert $ENV{TEST_NGINX_CERT_DIR}/ca.crt";
$ENV{TEST_NGINX_PROXY} = "--proxy-cacert $ENV{TEST_NGINX_CERT_DIR}/ca.crt -x https://localhost:$ENV{TEST_NGINX_TLS_PORT}";
$ENV{TEST_NGINX_ALICE} = "$ENV{TEST_NGINX_CERT_DIR}/client-chain.crt --key $ENV{TEST_NGINX_CERT_DIR}/client.key";
$ENV{TEST_NGINX_PROXY_ALICE} = "$ENV{TEST_NGINX_CERT_DIR}/client-chain.crt --proxy-key $ENV{TEST_NGINX_CERT_DIR}/client.key";

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: curl -x: the route of the request line's host; the backend gets origin-form
--- http_config
    kedge_http_route backend=alpha host=fwd.example.com proxy_mode=FORWARD_PROXY;
--- exec
$TEST_NGINX_CURL -i -x http://127.0.0.1:$TEST_NGINX_SERVER_PORT 'http://fwd.example.com/x/y?z=1' | tr -d '\r' | grep -iE '^x-kedge|^alpha' | sed -E 's/^(x-kedge-request-id: )[0-9a-f]{32}$/\1HEX32/I'
--- response_body
x-kedge-backend-name: alpha
X-Kedge-Request-ID: HEX32
alpha /x/y?z=1 host=fwd.example.com pc=[] pa=[]



=== TEST 2: proxy_mode both ways: the same host, forward or reverse
--- http_config
    kedge_http_route backend=alpha host=m.example.com proxy_mode=FORWARD_PROXY;
    kedge_http_route backend=beta host=m.example.com proxy_mode=REVERSE_PROXY;
--- exec
$TEST_NGINX_CURL -x http://127.0.0.1:$TEST_NGINX_SERVER_PORT http://m.example.com/f
$TEST_NGINX_CURL -H 'Host: m.example.com' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/r
$TEST_NGINX_CURL $TEST_NGINX_PROXY http://m.example.com/tf
$TEST_NGINX_CURL -H 'Host: m.example.com' https://localhost:$TEST_NGINX_TLS_PORT/tr
--- response_body
alpha /f host=m.example.com pc=[] pa=[]
beta /r host=m.example.com pc=[] pa=[]
alpha /tf host=m.example.com pc=[] pa=[]
beta /tr host=m.example.com pc=[] pa=[]



=== TEST 3: a FORWARD_PROXY route never takes an origin-form request
--- http_config
    kedge_http_route backend=alpha host=m.example.com proxy_mode=FORWARD_PROXY;
--- exec
$TEST_NGINX_CURL -i -H 'Host: m.example.com' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/r | tr -d '\r' | grep -E '^HTTP|^X-Kedge-Error-Type'
--- response_body
HTTP/1.1 502 Bad Gateway
X-Kedge-Error-Type: no-route



=== TEST 4: a REVERSE_PROXY route never takes an absolute-form request
--- http_config
    kedge_http_route backend=beta host=m.example.com proxy_mode=REVERSE_PROXY;
--- exec
$TEST_NGINX_CURL -i -x http://127.0.0.1:$TEST_NGINX_SERVER_PORT http://m.example.com/f | tr -d '\r' | grep -E '^HTTP|^X-Kedge-Error-Type'
$TEST_NGINX_CURL -i $TEST_NGINX_PROXY http://m.example.com/f | tr -d '\r' | grep -E '^HTTP|^X-Kedge-Error-Type'
--- response_body
HTTP/1.1 502 Bad Gateway
X-Kedge-Error-Type: no-route
HTTP/1.1 502 Bad Gateway
X-Kedge-Error-Type: no-route



=== TEST 5: the default port comes from the request line's scheme, not the connection
--- http_config
    kedge_http_route backend=alpha host=p.example.com port=80;
    kedge_http_route backend=beta host=p.example.com port=443;
--- exec
# http:// through the TLS proxy is port 80; origin-form over TLS is 443
$TEST_NGINX_CURL $TEST_NGINX_PROXY http://p.example.com/tls-proxy
$TEST_NGINX_CURL -x http://127.0.0.1:$TEST_NGINX_SERVER_PORT http://p.example.com/plain-proxy
$TEST_NGINX_CURL -H 'Host: p.example.com' https://localhost:$TEST_NGINX_TLS_PORT/origin-tls
$TEST_NGINX_CURL https://localhost:$TEST_NGINX_TLS_PORT/ --request-target https://p.example.com/abs-https
$TEST_NGINX_CURL http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ --request-target https://p.example.com/abs-https-plain
--- response_body
alpha /tls-proxy host=p.example.com pc=[] pa=[]
alpha /plain-proxy host=p.example.com pc=[] pa=[]
beta /origin-tls host=p.example.com pc=[] pa=[]
beta /abs-https host=p.example.com pc=[] pa=[]
beta /abs-https-plain host=p.example.com pc=[] pa=[]



=== TEST 6: a port in the request line wins over the scheme's, and over Host
--- http_config
    kedge_http_route backend=alpha host=p.example.com port=8080;
    kedge_http_route backend=beta host=p.example.com;
--- exec
$TEST_NGINX_CURL -x http://127.0.0.1:$TEST_NGINX_SERVER_PORT http://p.example.com:8080/a
$TEST_NGINX_CURL -x http://127.0.0.1:$TEST_NGINX_SERVER_PORT -H 'Host: p.example.com:9' http://p.example.com:8080/b
$TEST_NGINX_CURL -x http://127.0.0.1:$TEST_NGINX_SERVER_PORT -H 'Host: p.example.com:8080' http://p.example.com/c
$TEST_NGINX_CURL http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ --request-target https://p.example.com:8080/d
--- response_body
alpha /a host=p.example.com:8080 pc=[] pa=[]
alpha /b host=p.example.com:8080 pc=[] pa=[]
beta /c host=p.example.com pc=[] pa=[]
alpha /d host=p.example.com:8080 pc=[] pa=[]



=== TEST 7: the request line's host, whatever the Host header says
--- http_config
    kedge_http_route backend=alpha host=real.example.com;
    kedge_http_route backend=beta host=other.example.com;
--- exec
$TEST_NGINX_CURL -x http://127.0.0.1:$TEST_NGINX_SERVER_PORT -H 'Host: other.example.com' http://real.example.com/h
--- response_body
alpha /h host=real.example.com pc=[] pa=[]



=== TEST 8: an absolute-form HTTP/1.0 request without any Host header
--- http_config
    kedge_http_route backend=alpha host=old.example.com proxy_mode=FORWARD_PROXY;
--- raw_request eval
"GET http://old.example.com/ten HTTP/1.0\r\n\r\n"
--- response_body
alpha /ten host=old.example.com pc=[] pa=[]



=== TEST 9: another scheme has no default port: only "any port" routes
--- http_config
    kedge_http_route backend=alpha host=p.example.com port=80;
    kedge_http_route backend=beta host=p.example.com;
--- raw_request eval
"GET ftp://p.example.com/f HTTP/1.1\r\nHost: p.example.com\r\nConnection: close\r\n\r\n"
--- response_body
beta /f host=p.example.com pc=[] pa=[]



=== TEST 10: through TLS with a client certificate, as kedge's clients did: the route's cert rule
--- http_config
    kedge_http_route backend=alpha host=c.example.com cert_cn=alice proxy_mode=FORWARD_PROXY;
--- exec
$TEST_NGINX_CURL $TEST_NGINX_PROXY --proxy-cert $TEST_NGINX_PROXY_ALICE http://c.example.com/with-cert
$TEST_NGINX_CURL -w '%{http_code}\n' $TEST_NGINX_PROXY http://c.example.com/no-cert
$TEST_NGINX_CURL --cert $TEST_NGINX_ALICE https://localhost:$TEST_NGINX_TLS_PORT/ --request-target https://c.example.com/kedge-client
--- response_body
alpha /with-cert host=c.example.com pc=[] pa=[]
Unauthorized401
alpha /kedge-client host=c.example.com pc=[] pa=[]



=== TEST 11: Proxy-Authorization for the proxy: checked, then never forwarded
--- http_config
    kedge_http_route backend=alpha host=t.example.com;
--- config
    kedge_bearer_token s3cret;
    location / { kedge_pass; }
--- exec
$TEST_NGINX_CURL -x http://127.0.0.1:$TEST_NGINX_SERVER_PORT --proxy-header 'Proxy-Authorization: Bearer s3cret' http://t.example.com/ok
$TEST_NGINX_CURL -w '%{http_code}\n' -x http://127.0.0.1:$TEST_NGINX_SERVER_PORT --proxy-header 'Proxy-Authorization: Bearer wrong' http://t.example.com/no
--- response_body
alpha /ok host=t.example.com pc=[] pa=[]
Unauthorized401



=== TEST 12: Proxy-Connection is the proxy's, not the backend's
--- http_config
    kedge_http_route backend=alpha;
--- exec
$TEST_NGINX_CURL -x http://127.0.0.1:$TEST_NGINX_SERVER_PORT -H 'Proxy-Connection: keep-alive' http://pc.example.com/
--- response_body
alpha / host=pc.example.com pc=[] pa=[]



=== TEST 13: adhoc rules through the proxy: the request line's name and port
--- http_config
    kedge_http_adhoc *.pod.kedge.test port=$TEST_NGINX_ADHOC_PORT ports=$TEST_NGINX_ADHOC_PORT;
--- exec
$TEST_NGINX_CURL -x http://127.0.0.1:$TEST_NGINX_SERVER_PORT http://a.pod.kedge.test:$TEST_NGINX_ADHOC_PORT/port
$TEST_NGINX_CURL -x http://127.0.0.1:$TEST_NGINX_SERVER_PORT http://a.pod.kedge.test/default
$TEST_NGINX_CURL $TEST_NGINX_PROXY http://a.pod.kedge.test:$TEST_NGINX_ADHOC_PORT/tls
$TEST_NGINX_CURL -w ' %{http_code}\n' -x http://127.0.0.1:$TEST_NGINX_SERVER_PORT http://a.pod.kedge.test:1/refused
--- response_body eval
"adhoc /port host=a.pod.kedge.test:$ENV{TEST_NGINX_ADHOC_PORT} pc=[] pa=[]
adhoc /default host=a.pod.kedge.test pc=[] pa=[]
adhoc /tls host=a.pod.kedge.test:$ENV{TEST_NGINX_ADHOC_PORT} pc=[] pa=[]
adhoc: port 1 is not allowed 400
"



=== TEST 14: the variables of a forward-proxy request
--- http_config
    kedge_http_route backend=alpha host=v.example.com proxy_mode=FORWARD_PROXY;
--- config
    location / {
        kedge_pass;
        add_header X-Authority $kedge_authority always;
        add_header X-Route $kedge_route always;
    }
--- exec
$TEST_NGINX_CURL -i http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ --request-target http://v.example.com:80/ | tr -d '\r' | grep -E '^X-(Authority|Route)'
--- response_body
X-Authority: v.example.com:80
X-Route: http:1



=== TEST 15: CONNECT (HTTPS through the proxy) is not tunnelled: nginx's 400
--- http_config
    kedge_http_route backend=alpha;
--- exec
$TEST_NGINX_CURL -o /dev/null -w '%{http_connect}\n' -x http://127.0.0.1:$TEST_NGINX_SERVER_PORT https://tunnel.example.com/ || true
--- response_body
400
