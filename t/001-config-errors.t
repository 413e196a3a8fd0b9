# Configuration errors: nginx -t must refuse them and name the directive,
# the value and file:line.

use Test::Nginx::Socket 'no_plan';

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
$ENV{TEST_NGINX_A_PORT} ||= $port + 101;

no_shuffle();
no_root_location();

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->config) {
        $block->set_value("config", "location / { kedge_pass; }");
    }

    # a block without a request is a configuration nginx must refuse
    $block->set_value("must_die", 1) unless defined $block->request;
});

run_tests();

__DATA__

=== TEST 1: a route to an unknown backend
--- http_config
    kedge_backend alpha endpoints=127.0.0.1:1;
    kedge_http_route backend=beta host=a.example.com;
--- error_log eval
qr/\[emerg\] .*unknown http backend "beta" in "kedge_http_route" directive in \S+nginx\.conf:\d+/



=== TEST 2: a gRPC route to a backend that is HTTP only
--- http_config
    kedge_backend alpha endpoints=127.0.0.1:1 protocol=http;
    kedge_grpc_route backend=alpha;
--- error_log eval
qr/\[emerg\] .*unknown grpc backend "alpha" in "kedge_grpc_route" directive in \S+nginx\.conf:\d+/



=== TEST 3: a duplicate backend
--- http_config
    kedge_backend alpha endpoints=127.0.0.1:1;
    kedge_backend alpha endpoints=127.0.0.1:2 protocol=grpc;
--- error_log eval
qr/\[emerg\] .*duplicate grpc backend "alpha" in "kedge_backend" directive in \S+nginx\.conf:\d+/



=== TEST 4: backend name with upper case
--- http_config
    kedge_backend Alpha endpoints=127.0.0.1:1;
--- error_log eval
qr/\[emerg\] .*invalid backend name "Alpha" in "kedge_backend" directive, it must match \^\[a-z_0-9\.\]\{2,64\}\$ in \S+nginx\.conf:\d+/



=== TEST 5: backend name with too short
--- http_config
    kedge_backend a endpoints=127.0.0.1:1;
--- error_log eval
qr/\[emerg\] .*invalid backend name "a" in "kedge_backend" directive, it must match \^\[a-z_0-9\.\]\{2,64\}\$ in \S+nginx\.conf:\d+/



=== TEST 6: backend name with a dash
--- http_config
    kedge_backend a-b endpoints=127.0.0.1:1;
--- error_log eval
qr/\[emerg\] .*invalid backend name "a-b" in "kedge_backend" directive, it must match \^\[a-z_0-9\.\]\{2,64\}\$ in \S+nginx\.conf:\d+/



=== TEST 7: backend name with too long
--- http_config
    kedge_backend xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx endpoints=127.0.0.1:1;
--- error_log eval
qr/\[emerg\] .*invalid backend name "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" in "kedge_backend" directive, it must match \^\[a-z_0-9\.\]\{2,64\}\$ in \S+nginx\.conf:\d+/



=== TEST 8: a route with a bad backend name
--- http_config
    kedge_http_route backend=UPPER;
--- error_log eval
qr/\[emerg\] .*invalid backend name "UPPER" in "kedge_http_route" directive, it must match .* in \S+nginx\.conf:\d+/



=== TEST 9: endpoint with no port
--- http_config
    kedge_backend alpha endpoints=127.0.0.1;
--- error_log eval
qr/\[emerg\] .*invalid endpoint "127\.0\.0\.1" of backend "alpha", an IP address and a port are required in \S+nginx\.conf:\d+/



=== TEST 10: endpoint with port 0
--- http_config
    kedge_backend alpha endpoints=127.0.0.1:0;
--- error_log eval
qr/\[emerg\] .*invalid endpoint "127\.0\.0\.1:0" of backend "alpha", an IP address and a port are required in \S+nginx\.conf:\d+/



=== TEST 11: endpoint with port too large
--- http_config
    kedge_backend alpha endpoints=127.0.0.1:65536;
--- error_log eval
qr/\[emerg\] .*invalid endpoint "127\.0\.0\.1:65536" of backend "alpha", an IP address and a port are required in \S+nginx\.conf:\d+/



=== TEST 12: endpoint with a name, not an address
--- http_config
    kedge_backend alpha endpoints=backend.internal:80;
--- error_log eval
qr/\[emerg\] .*invalid endpoint "backend\.internal:80" of backend "alpha", an IP address and a port are required in \S+nginx\.conf:\d+/



=== TEST 13: endpoint with an empty element
--- http_config
    kedge_backend alpha endpoints=127.0.0.1:80,;
--- error_log eval
qr/\[emerg\] .*invalid endpoint "" of backend "alpha", an IP address and a port are required in \S+nginx\.conf:\d+/



=== TEST 14: a backend without endpoints
--- http_config
    kedge_backend alpha tls=on;
--- error_log eval
qr/\[emerg\] .*backend "alpha" needs exactly one of "endpoints=", "host=", "srv=" or "k8s=" in "kedge_backend" directive in \S+nginx\.conf:\d+/



=== TEST 15: route port 65536
--- http_config
    kedge_backend alpha endpoints=127.0.0.1:1;
    kedge_http_route backend=alpha port=65536;
--- error_log eval
qr/\[emerg\] .*invalid port "port=65536" in "kedge_http_route" directive, it must be 0 \(any\) to 65535 in \S+nginx\.conf:\d+/



=== TEST 16: route port http
--- http_config
    kedge_backend alpha endpoints=127.0.0.1:1;
    kedge_http_route backend=alpha port=http;
--- error_log eval
qr/\[emerg\] .*invalid port "port=http" in "kedge_http_route" directive, it must be 0 \(any\) to 65535 in \S+nginx\.conf:\d+/



=== TEST 17: route port -1
--- http_config
    kedge_backend alpha endpoints=127.0.0.1:1;
    kedge_grpc_route backend=alpha port=-1;
--- error_log eval
qr/\[emerg\] .*invalid port "port=-1" in "kedge_grpc_route" directive, it must be 0 \(any\) to 65535 in \S+nginx\.conf:\d+/



=== TEST 18: path rule "api/*"
--- http_config
    kedge_backend alpha endpoints=127.0.0.1:1;
    kedge_http_route backend=alpha path=api/*;
--- error_log eval
qr/\[emerg\] .*invalid path "path=api\/\*" in "kedge_http_route" directive, it must start with "\/" and may end with "\*" in \S+nginx\.conf:\d+/



=== TEST 19: path rule "/a*b"
--- http_config
    kedge_backend alpha endpoints=127.0.0.1:1;
    kedge_http_route backend=alpha path=/a*b;
--- error_log eval
qr/\[emerg\] .*invalid path "path=\/a\*b" in "kedge_http_route" directive, it must start with "\/" and may end with "\*" in \S+nginx\.conf:\d+/



=== TEST 20: path rule ""
--- http_config
    kedge_backend alpha endpoints=127.0.0.1:1;
    kedge_http_route backend=alpha path=;
--- error_log eval
qr/\[emerg\] .*invalid path "path=" in "kedge_http_route" directive, it must start with "\/" and may end with "\*" in \S+nginx\.conf:\d+/



=== TEST 21: service matcher "/pkg.Svc/M"
--- http_config
    kedge_backend alpha endpoints=127.0.0.1:1;
    kedge_grpc_route backend=alpha service=/pkg.Svc/M;
--- error_log eval
qr/\[emerg\] .*invalid service "service=\/pkg\.Svc\/M" in "kedge_grpc_route" directive, .* in \S+nginx\.conf:\d+/



=== TEST 22: service matcher "pkg.*/M"
--- http_config
    kedge_backend alpha endpoints=127.0.0.1:1;
    kedge_grpc_route backend=alpha service=pkg.*/M;
--- error_log eval
qr/\[emerg\] .*invalid service "service=pkg\.\*\/M" in "kedge_grpc_route" directive, .* in \S+nginx\.conf:\d+/



=== TEST 23: host matcher "a.example.com:80"
--- http_config
    kedge_backend alpha endpoints=127.0.0.1:1;
    kedge_http_route backend=alpha host=a.example.com:80;
--- error_log eval
qr/\[emerg\] .*invalid host "host=a\.example\.com:80" in "kedge_http_route" directive, a host name without port is required in \S+nginx\.conf:\d+/



=== TEST 24: host matcher ""
--- http_config
    kedge_backend alpha endpoints=127.0.0.1:1;
    kedge_http_route backend=alpha host=;
--- error_log eval
qr/\[emerg\] .*invalid host "host=" in "kedge_http_route" directive, a host name without port is required in \S+nginx\.conf:\d+/



=== TEST 25: host matcher "a/b"
--- http_config
    kedge_backend alpha endpoints=127.0.0.1:1;
    kedge_grpc_route backend=alpha authority=a/b;
--- error_log eval
qr/\[emerg\] .*invalid host "authority=a\/b" in "kedge_grpc_route" directive, a host name without port is required in \S+nginx\.conf:\d+/



=== TEST 26: header matcher "X-Env"
--- http_config
    kedge_backend alpha endpoints=127.0.0.1:1;
    kedge_http_route backend=alpha "header=X-Env";
--- error_log eval
qr/\[emerg\] .*invalid matcher "header=X-Env" in "kedge_http_route" directive, "NAME:VALUE" is required in \S+nginx\.conf:\d+/



=== TEST 27: header matcher ":v"
--- http_config
    kedge_backend alpha endpoints=127.0.0.1:1;
    kedge_http_route backend=alpha "header=:v";
--- error_log eval
qr/\[emerg\] .*invalid matcher "header=:v" in "kedge_http_route" directive, "NAME:VALUE" is required in \S+nginx\.conf:\d+/



=== TEST 28: metadata matcher "bad key:v"
--- http_config
    kedge_backend alpha endpoints=127.0.0.1:1;
    kedge_grpc_route backend=alpha "metadata=bad key:v";
--- error_log eval
qr/\[emerg\] .*invalid matcher "metadata=bad key:v" in "kedge_grpc_route" directive, "NAME:VALUE" is required in \S+nginx\.conf:\d+/



=== TEST 29: unknown proxy_mode
--- http_config
    kedge_backend alpha endpoints=127.0.0.1:1;
    kedge_http_route backend=alpha proxy_mode=sideways;
--- error_log eval
qr/\[emerg\] .*invalid proxy_mode "sideways" in "kedge_http_route" directive, it must be "ANY", "REVERSE_PROXY" or "FORWARD_PROXY" in \S+nginx\.conf:\d+/



=== TEST 30: a route without a backend
--- http_config
    kedge_http_route host=a.example.com;
--- error_log eval
qr/\[emerg\] .*"backend=" is required in "kedge_http_route" directive in \S+nginx\.conf:\d+/



=== TEST 31: an unknown route parameter
--- http_config
    kedge_backend alpha endpoints=127.0.0.1:1;
    kedge_http_route backend=alpha colour=blue;
--- error_log eval
qr/\[emerg\] .*invalid parameter "colour=blue" in "kedge_http_route" directive in \S+nginx\.conf:\d+/



=== TEST 32: an unknown backend parameter
--- http_config
    kedge_backend alpha endpoints=127.0.0.1:1 tls=maybe;
--- error_log eval
qr/\[emerg\] .*invalid parameter "tls=maybe" in "kedge_backend" directive in \S+nginx\.conf:\d+/



=== TEST 33: the upstream of kedge_pass must use kedge_balancer
--- http_config
    upstream kedge {
        server 127.0.0.1:1;
    }
--- error_log eval
qr/\[emerg\] .*upstream "kedge" of "kedge_pass" in \S+nginx\.conf:\d+ must use "kedge_balancer" and no "server"/



=== TEST 34: kedge_balancer with a server besides
--- http_config
    upstream kedge {
        kedge_balancer;
        server 127.0.0.1:1;
    }
--- error_log eval
qr/\[emerg\] .*upstream "kedge" of "kedge_pass" in \S+nginx\.conf:\d+ must use "kedge_balancer" and no "server"/



=== TEST 35: directives in the wrong place
--- config
    location / { kedge_pass; kedge_backend alpha endpoints=127.0.0.1:1; }
--- error_log eval
qr/\[emerg\] .*"kedge_backend" directive is not allowed here in \S+nginx\.conf:\d+/



=== TEST 36: the same name in the two protocol name spaces is fine
--- http_config
    kedge_backend alpha endpoints=127.0.0.1:1 protocol=http;
    kedge_backend alpha endpoints=127.0.0.1:2 protocol=grpc;
--- request
GET /
--- error_code: 502
--- response_headers
X-Kedge-Error-Type: no-route



=== TEST 37: kedge_pass without an upstream block adopts the implicit one
--- http_config
    kedge_backend alpha endpoints=127.0.0.1:$TEST_NGINX_A_PORT;
    kedge_backend beta endpoints=127.0.0.1:1 tls=insecure;
    kedge_http_route backend=alpha path=/plain;
    kedge_http_route backend=beta path=/tls;
    server {
        listen 127.0.0.1:$TEST_NGINX_A_PORT;
        return 200 "backend $request_uri\n";
    }
--- config
    location / { kedge_pass my_pool; }
--- request
GET /plain
--- response_body
backend /plain
--- response_headers
x-kedge-backend-name: alpha



=== TEST 38: a backend with two sources of endpoints
--- http_config
    kedge_backend alpha endpoints=127.0.0.1:1 host=a.example.com:80;
--- error_log eval
qr/\[emerg\] .*"kedge_backend" directive has more than one source of endpoints in \S+nginx\.conf:\d+/



=== TEST 39: host= needs a port
--- http_config
    kedge_backend alpha host=a.example.com;
--- error_log eval
qr/\[emerg\] .*invalid "host=a\.example\.com" of backend "alpha", "host=NAME:PORT" is required in \S+nginx\.conf:\d+/



=== TEST 40: srv= needs the service and protocol labels
--- http_config
    kedge_backend alpha srv=svc.example.com;
--- error_log eval
qr/\[emerg\] .*invalid "srv=svc\.example\.com" of backend "alpha", "srv=_SERVICE\._PROTO\.NAME" is required in \S+nginx\.conf:\d+/



=== TEST 41: port_override goes with srv=
--- http_config
    kedge_backend alpha host=a.example.com:80 port_override=81;
--- error_log eval
qr/\[emerg\] .*"port_override=" goes with "srv=" in "kedge_backend" directive in \S+nginx\.conf:\d+/



=== TEST 42: a backend resolved at run time needs a resolver
--- http_config
    kedge_zone kedge 1m;
    kedge_backend alpha srv=_http._tcp.a.example.com;
--- error_log eval
qr/\[emerg\] .*backend "alpha" in \S+nginx\.conf:\d+ needs a "resolver" at the http level/



=== TEST 43: a zone too small
--- http_config
    kedge_zone kedge 4k;
--- error_log eval
qr/\[emerg\] .*invalid zone size "4k" in "kedge_zone" directive, at least 128k is needed in \S+nginx\.conf:\d+/


=== TEST 44: k8s= needs SERVICE.NAMESPACE:PORT
--- http_config
    kedge_kubernetes https://127.0.0.1:1;
    kedge_backend alpha k8s=web:http;
--- error_log eval
qr/\[emerg\] .*invalid "k8s=web:http" of backend "alpha", "k8s=SERVICE\.NAMESPACE:PORT" is required in \S+nginx\.conf:\d+/



=== TEST 45: k8s= names must be DNS labels
--- http_config
    kedge_kubernetes https://127.0.0.1:1;
    kedge_backend alpha k8s=web.Bad_NS:http;
--- error_log eval
qr/\[emerg\] .*invalid "k8s=web\.Bad_NS:http" of backend "alpha"/



=== TEST 46: k8s= needs kedge_kubernetes
--- http_config
    kedge_backend alpha k8s=web.default:http;
--- error_log eval
qr/\[emerg\] .*backend "alpha" in \S+nginx\.conf:\d+ needs "kedge_kubernetes"/



=== TEST 47: kedge_kubernetes without a URL outside a cluster
--- http_config
    kedge_kubernetes token_file=/dev/null;
--- error_log eval
qr/\[emerg\] .*"kedge_kubernetes" without a URL needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT \(in-cluster\) in \S+nginx\.conf:\d+/



=== TEST 48: kedge_kubernetes with a bad parameter
--- http_config
    kedge_kubernetes https://127.0.0.1:1 max_size=1k;
--- error_log eval
qr/\[emerg\] .*invalid parameter "max_size=1k" in "kedge_kubernetes" directive in \S+nginx\.conf:\d+/



=== TEST 49: one endpoint dialed with TLS and another way, with keepalive
--- http_config
    kedge_backend secure endpoints=127.0.0.1:8443 tls=on tls_name=a.internal;
    kedge_backend loose endpoints=127.0.0.1:8443 tls=insecure;
    upstream kedge {
        kedge_balancer;
        keepalive 4;
    }
--- error_log eval
qr/\[emerg\] .*endpoint 127\.0\.0\.1:8443 of backend "secure" in \S+nginx\.conf:\d+ is dialed another way by backend "loose" in \S+nginx\.conf:\d+/



=== TEST 50: kedge_oidc and kedge_bearer_token in one server
--- config
    kedge_oidc issuer=https://issuer.example.org client_id=kedge allow=a;
    location / {
        kedge_bearer_token s3cret;
        kedge_pass;
    }
--- error_log eval
qr/\[emerg\] .*"kedge_oidc" in \S+nginx\.conf:\d+ and "kedge_bearer_token" in \S+nginx\.conf:\d+ cannot be combined in one server or location/



=== TEST 51: kedge_auth token with no token to check
--- config
    location / {
        kedge_auth token;
        kedge_pass;
    }
--- error_log eval
qr/\[emerg\] .*"kedge_auth token" in \S+nginx\.conf:\d+ needs "kedge_oidc" or "kedge_bearer_token"/



=== TEST 52: kedge_oidc without allow=
--- config
    kedge_oidc issuer=https://issuer.example.org client_id=kedge;
    location / { kedge_pass; }
--- error_log eval
qr/\[emerg\] .*"kedge_oidc" directive needs "issuer=", "client_id=" and "allow=" in \S+nginx\.conf:\d+/



=== TEST 53: kedge_oidc with an issuer that is not an http(s) URL
--- config
    kedge_oidc issuer=ftp://issuer.example.org client_id=kedge allow=a;
    location / { kedge_pass; }
--- error_log eval
qr/\[emerg\] .*invalid issuer "ftp:\/\/issuer\.example\.org", it must be an https:\/\/ \(or http:\/\/\) URL of at most 512 bytes in \S+nginx\.conf:\d+/



=== TEST 54: kedge_oidc with a symmetric algorithm
--- config
    kedge_oidc issuer=https://issuer.example.org client_id=kedge allow=a algs=RS256,HS256;
    location / { kedge_pass; }
--- error_log eval
qr/\[emerg\] .*unsupported algorithm "HS256" in "kedge_oidc" directive, it must be one of RS256, .* in \S+nginx\.conf:\d+/



=== TEST 55: kedge_oidc with an empty permission in allow=
--- config
    kedge_oidc issuer=https://issuer.example.org client_id=kedge allow=a,,b;
    location / { kedge_pass; }
--- error_log eval
qr/\[emerg\] .*invalid parameter "allow=a,,b" in "kedge_oidc" directive in \S+nginx\.conf:\d+/



=== TEST 56: a client certificate rule with "*" inside a name
--- config
    location / {
        kedge_client_cert dns=a.*.example.com;
        kedge_pass;
    }
--- error_log eval
qr/\[emerg\] .*invalid client certificate rule "dns=a\.\*\.example\.com" in "kedge_client_cert" directive: .* in \S+nginx\.conf:\d+/



=== TEST 57: kedge_auth with an unknown policy
--- config
    location / {
        kedge_auth sometimes;
        kedge_pass;
    }
--- error_log eval
qr/\[emerg\] .*invalid value "sometimes" in "kedge_auth" directive, it must be "off", "cert", "token", "either" or "both" in \S+nginx\.conf:\d+/



=== TEST 58: a bearer token with a character outside token68
--- config
    location / {
        kedge_bearer_token "s3cret;drop";
        kedge_pass;
    }
--- error_log eval
qr/\[emerg\] .*invalid token in "kedge_bearer_token" directive: it must be made of the characters of RFC 7235's token68 in \S+nginx\.conf:\d+/



=== TEST 59: a route's client certificate rule and auth= checked too
--- http_config
    kedge_backend alpha endpoints=127.0.0.1:1;
    kedge_http_route backend=alpha cert_uri=spiffe://a/*/b;
--- error_log eval
qr/\[emerg\] .*invalid client certificate rule "cert_uri=spiffe:\/\/a\/\*\/b" in "kedge_http_route" directive: .* in \S+nginx\.conf:\d+/



=== TEST 60: a route's auth= with an unknown policy
--- http_config
    kedge_backend alpha endpoints=127.0.0.1:1;
    kedge_grpc_route backend=alpha auth=maybe;
--- error_log eval
qr/\[emerg\] .*invalid "auth=maybe" in "kedge_grpc_route" directive, it must be "off", "cert", "token", "either" or "both" in \S+nginx\.conf:\d+/



=== TEST 61: an issuer declared twice
--- http_config
    kedge_oidc_issuer https://issuer.example.org;
    kedge_oidc_issuer https://issuer.example.org refresh=1m;
--- error_log eval
qr/\[emerg\] .*duplicate issuer "https:\/\/issuer\.example\.org" in \S+nginx\.conf:\d+/



=== TEST 62: an issuer's refresh bounds upside down
--- http_config
    kedge_oidc_issuer https://issuer.example.org refresh_min=1h refresh_max=1m;
--- error_log eval
qr/\[emerg\] .*"refresh_min" is above "refresh_max" in "kedge_oidc_issuer" directive in \S+nginx\.conf:\d+/



=== TEST 63: a bearer token file that is not there
--- config
    location / {
        kedge_bearer_token file=/nonexistent/kedge-token;
        kedge_pass;
    }
--- error_log eval
qr/\[emerg\] .*cannot open "\/nonexistent\/kedge-token" of "kedge_bearer_token" .* in \S+nginx\.conf:\d+/



=== TEST 64: certificate rules and a token from different levels, no kedge_auth to say how they combine
--- config
    kedge_client_cert cn=alice;
    location / {
        kedge_bearer_token s3cret;
        kedge_pass;
    }
--- error_log eval
qr/\[emerg\] .*"kedge_client_cert" and "kedge_bearer_token" in \S+nginx\.conf:\d+ are both in effect: say with "kedge_auth" whether a request needs "either" or "both"/



=== TEST 65: a route's certificate rules with auth=token: the certificate would not be looked at
--- http_config
    kedge_backend alpha endpoints=127.0.0.1:1;
    kedge_http_route backend=alpha auth=token cert_cn=alice;
--- error_log eval
qr/\[emerg\] .*"cert_\*=" rules with "auth=token" in "kedge_http_route" directive: the certificate would not be looked at; use "auth=cert", "either" or "both" in \S+nginx\.conf:\d+/



=== TEST 66: a route's certificate rules with auth=off, whatever the order
--- http_config
    kedge_backend alpha endpoints=127.0.0.1:1;
    kedge_http_route backend=alpha cert_cn=alice auth=off;
--- error_log eval
qr/\[emerg\] .*"cert_\*=" rules with "auth=off" in "kedge_http_route" directive/



=== TEST 67: an adhoc name matcher with "*" inside a label
--- http_config
    resolver 127.0.0.1;
    kedge_http_adhoc *example.com ports=80;
--- error_log eval
qr/\[emerg\] .*invalid name matcher "\*example\.com" in "kedge_http_adhoc" directive, it must be a name, "\*\." and a name, or "\*" in \S+nginx\.conf:\d+/



=== TEST 68: an adhoc name matcher with "*" in the middle
--- http_config
    resolver 127.0.0.1;
    kedge_grpc_adhoc a.*.example.com ports=80;
--- error_log eval
qr/\[emerg\] .*invalid name matcher "a\.\*\.example\.com" in "kedge_grpc_adhoc" directive/



=== TEST 69: an adhoc rule without allowed ports
--- http_config
    resolver 127.0.0.1;
    kedge_http_adhoc *.example.com port=80;
--- error_log eval
qr/\[emerg\] .*"ports=" is required in "kedge_http_adhoc" directive in \S+nginx\.conf:\d+/



=== TEST 70: an adhoc port range upside down
--- http_config
    resolver 127.0.0.1;
    kedge_http_adhoc *.example.com ports=9000-8000;
--- error_log eval
qr/\[emerg\] .*invalid parameter "ports=9000-8000" in "kedge_http_adhoc" directive in \S+nginx\.conf:\d+/



=== TEST 71: adhoc port 0, and an empty element
--- http_config
    resolver 127.0.0.1;
    kedge_http_adhoc *.example.com ports=80,,443;
--- error_log eval
qr/\[emerg\] .*invalid parameter "ports=80,,443" in "kedge_http_adhoc" directive/



=== TEST 72: adhoc default port 65536
--- http_config
    resolver 127.0.0.1;
    kedge_http_adhoc *.example.com port=65536 ports=80;
--- error_log eval
qr/\[emerg\] .*invalid parameter "port=65536" in "kedge_http_adhoc" directive/



=== TEST 73: an adhoc address range that is none
--- http_config
    resolver 127.0.0.1;
    kedge_http_adhoc *.example.com ports=80 deny=10.0.0.0/8,example.com;
--- error_log eval
qr/\[emerg\] .*invalid parameter "deny=10\.0\.0\.0\/8,example\.com" in "kedge_http_adhoc" directive/



=== TEST 74: adhoc replace= without its substitution
--- http_config
    resolver 127.0.0.1;
    kedge_http_adhoc *.example.com ports=80 replace=example.com;
--- error_log eval
qr/\[emerg\] .*invalid parameter "replace=example\.com" in "kedge_http_adhoc" directive/



=== TEST 75: adhoc rules and a kedge_pass location without a resolver
--- http_config
    kedge_http_adhoc *.example.com ports=80;
--- error_log eval
qr/\[emerg\] .*"kedge_pass" in \S+nginx\.conf:\d+ needs a "resolver" for the adhoc rules/



=== TEST 76: adhoc rules with a resolver, and low address bits: a warning only
--- http_config
    resolver 127.0.0.1;
    kedge_http_adhoc *.example.com ports=80 allow=10.1.2.3/8;
    kedge_grpc_adhoc * ports=1-65535 tls=insecure;
--- request
GET /
--- more_headers
Host: nothing.example.org
--- error_code: 502
--- error_log eval
qr/\[warn\] .*low address bits of 10\.1\.2\.3\/8 are meaningless in \S+nginx\.conf:\d+/



=== TEST 77: kedge_balancer keepalive=0
--- http_config
    upstream kedge {
        kedge_balancer keepalive=0;
    }
--- error_log eval
qr/\[emerg\] .*invalid parameter "keepalive=0" in "kedge_balancer" directive in \S+nginx\.conf:\d+/



=== TEST 78: kedge_balancer keepalive= not a number
--- http_config
    upstream kedge {
        kedge_balancer keepalive=8x;
    }
--- error_log eval
qr/\[emerg\] .*invalid parameter "keepalive=8x" in "kedge_balancer" directive in \S+nginx\.conf:\d+/



=== TEST 79: kedge_balancer keepalive= over the limit
--- http_config
    upstream kedge {
        kedge_balancer keepalive=1000001;
    }
--- error_log eval
qr/\[emerg\] .*invalid parameter "keepalive=1000001" in "kedge_balancer" directive in \S+nginx\.conf:\d+/



=== TEST 80: kedge_balancer keepalive= twice
--- http_config
    upstream kedge {
        kedge_balancer keepalive=8 keepalive=16;
    }
--- error_log eval
qr/\[emerg\] .*duplicate "keepalive=" in "kedge_balancer" directive in \S+nginx\.conf:\d+/



=== TEST 81: kedge_balancer keepalive_timeout= without keepalive=
--- http_config
    upstream kedge {
        kedge_balancer keepalive_timeout=10s;
    }
--- error_log eval
qr/\[emerg\] .*"keepalive_\*=" parameters of "kedge_balancer" need "keepalive=" in \S+nginx\.conf:\d+/



=== TEST 82: kedge_balancer keepalive_per_endpoint= over keepalive=
--- http_config
    upstream kedge {
        kedge_balancer keepalive=4 keepalive_per_endpoint=8;
    }
--- error_log eval
qr/\[emerg\] .*"keepalive_per_endpoint=8" is more than "keepalive=4" in "kedge_balancer" directive in \S+nginx\.conf:\d+/



=== TEST 83: kedge_balancer keepalive_timeout=0
--- http_config
    upstream kedge {
        kedge_balancer keepalive=4 keepalive_timeout=0;
    }
--- error_log eval
qr/\[emerg\] .*invalid parameter "keepalive_timeout=0" in "kedge_balancer" directive in \S+nginx\.conf:\d+/



=== TEST 84: kedge_balancer keepalive_time= not a time
--- http_config
    upstream kedge {
        kedge_balancer keepalive=4 keepalive_time=soon;
    }
--- error_log eval
qr/\[emerg\] .*invalid parameter "keepalive_time=soon" in "kedge_balancer" directive in \S+nginx\.conf:\d+/



=== TEST 85: kedge_balancer keepalive_requests=0
--- http_config
    upstream kedge {
        kedge_balancer keepalive=4 keepalive_requests=0;
    }
--- error_log eval
qr/\[emerg\] .*invalid parameter "keepalive_requests=0" in "kedge_balancer" directive in \S+nginx\.conf:\d+/



=== TEST 86: kedge_balancer with an unknown keepalive parameter
--- http_config
    upstream kedge {
        kedge_balancer keepalive=4 keepalive_idle=10s;
    }
--- error_log eval
qr/\[emerg\] .*invalid parameter "keepalive_idle=10s" in "kedge_balancer" directive in \S+nginx\.conf:\d+/



=== TEST 87: kedge_balancer keepalive= and nginx's keepalive after it
--- http_config
    upstream kedge {
        kedge_balancer keepalive=8;
        keepalive 8;
    }
--- error_log eval
qr/\[emerg\] .*"keepalive" \(or another balancer wrapping it\) and "kedge_balancer keepalive=" in upstream "kedge" in \S+nginx\.conf:\d+: "keepalive=" keeps the idle connections itself, use one or the other/



=== TEST 88: nginx's keepalive before kedge_balancer keepalive=
--- http_config
    upstream kedge {
        keepalive 8;
        kedge_balancer keepalive=8;
    }
--- error_log eval
qr/\[emerg\] .*"kedge_balancer keepalive=" after "keepalive" or another balancing method in upstream "kedge": "keepalive=" keeps the idle connections itself in \S+nginx\.conf:\d+/



=== TEST 89: set_aside= twice
--- http_config
    upstream kedge {
        kedge_balancer set_aside=1s keepalive=8 set_aside=2s;
    }
--- error_log eval
qr/\[emerg\] .*invalid parameter "set_aside=2s" in "kedge_balancer" directive in \S+nginx\.conf:\d+/



=== TEST 90: with keepalive=, one endpoint may be dialed with TLS and another way
--- http_config
    kedge_backend secure endpoints=127.0.0.1:8443 tls=on tls_name=a.internal;
    kedge_backend loose endpoints=127.0.0.1:8443 tls=insecure;
    kedge_http_route backend=secure;
    upstream kedge {
        kedge_balancer keepalive=4 keepalive_per_endpoint=2 keepalive_requests=100 keepalive_time=10m keepalive_timeout=30s set_aside=1s;
    }
--- request
GET /
--- error_code: 502
--- no_error_log
[emerg]
