# gRPC through the module with a real gRPC client and real gRPC servers
# (t/peers): routing by service, authority, port and metadata, unary and
# streaming calls, round robin on warm connections, h2c and TLS, and
# kedge's UNIMPLEMENTED for calls without a route.

use Test::Nginx::Socket 'no_plan';
use Test::Kedge::Exec;
use Test::Kedge::Peers;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
$ENV{"TEST_NGINX_G$_"} ||= $port + 120 + $_ for 1 .. 6;
$ENV{TEST_NGINX_H2C_PORT} ||= $port + 131;
$ENV{TEST_NGINX_TLS_PORT} ||= $port + 132;
$ENV{TEST_NGINX_MTLS_PORT} ||= $port + 133;
$ENV{TEST_NGINX_CLIENT} = repo_root() . "/t/peers/grpc_client.py";

test_certs();

# grpc-a, grpc-b, grpc-c plain; grpc-tls behind TLS; grpc-fail answers 14
grpc_server("--listen", join ",", "127.0.0.1:$ENV{TEST_NGINX_G1}=grpc-a",
            "127.0.0.1:$ENV{TEST_NGINX_G2}=grpc-b",
            "127.0.0.1:$ENV{TEST_NGINX_G3}=grpc-c");
grpc_server("--listen", "127.0.0.1:$ENV{TEST_NGINX_G4}=grpc-tls",
            "--tls", "$ENV{TEST_NGINX_CERT_DIR}/backend.crt",
            "$ENV{TEST_NGINX_CERT_DIR}/backend.key");
grpc_server("--listen", "127.0.0.1:$ENV{TEST_NGINX_G5}=grpc-fail",
            "--fail-code", "unavailable");

our $Common = <<'_EOC_';
    kedge_backend ga endpoints=127.0.0.1:$TEST_NGINX_G1 protocol=grpc;
    kedge_backend gb endpoints=127.0.0.1:$TEST_NGINX_G2 protocol=grpc;
    kedge_backend ab endpoints=127.0.0.1:$TEST_NGINX_G1,127.0.0.1:$TEST_NGINX_G2 protocol=grpc;
    kedge_backend secure endpoints=127.0.0.1:$TEST_NGINX_G4 protocol=grpc tls=on tls_name=backend.internal;
    kedge_backend fail endpoints=127.0.0.1:$TEST_NGINX_G5 protocol=grpc;
    kedge_backend web endpoints=127.0.0.1:$TEST_NGINX_G6 protocol=http;

    upstream kedge {
        kedge_balancer;
        keepalive 8;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_H2C_PORT http2;
        location / {
            kedge_pass ssl_trusted_certificate=$TEST_NGINX_CERT_DIR/ca.crt;
        }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_TLS_PORT ssl http2;
        ssl_certificate $TEST_NGINX_CERT_DIR/server.crt;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/server.key;
        location / {
            kedge_pass ssl_trusted_certificate=$TEST_NGINX_CERT_DIR/ca.crt;
        }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_G6;
        return 200 "web $server_protocol $http_host$request_uri\n";
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $Common . ($block->http_config // ''));
    $block->set_value("config", "location = /t { return 204; }")
        unless defined $block->config;
    $block->set_value("timeout", 15) unless defined $block->timeout;
});

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: unary call over h2c, routed by authority
--- http_config
    kedge_grpc_route backend=gb authority=other.example.com;
    kedge_grpc_route backend=ga authority=echo.example.com;
--- exec
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority echo.example.com --method Unary --message hi
--- response_body_like chomp
^status=OK backend=grpc-a authority=echo.example.com seq=0 conn=0 message=hi meta=
--- no_error_log
[error]



=== TEST 2: the backend sees the client's :authority, port included
--- http_config
    kedge_grpc_route backend=ga authority=echo.example.com;
--- exec
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority echo.example.com:4711 --method Unary
--- response_body_like chomp
^status=OK backend=grpc-a authority=echo.example.com:4711 



=== TEST 3: no route: UNIMPLEMENTED, unknown route to service
--- http_config
    kedge_grpc_route backend=ga authority=echo.example.com;
--- exec
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority nowhere.example.com --method Unary
--- response_body
status=UNIMPLEMENTED code=12 message=unknown route to service



=== TEST 4: no route, seen by curl: Trailers-Only with kedge's headers
--- http_config
    kedge_grpc_route backend=ga authority=echo.example.com;
--- exec
curl -s -D - -o /dev/null --http2-prior-knowledge -H 'content-type: application/grpc' -H 'te: trailers' -H 'Host: nowhere.example.com' --data-binary '' http://127.0.0.1:$TEST_NGINX_H2C_PORT/kedge.test.Echo/Unary | tr -d '\r' | sed 's/ *$//' | grep -iE '^(HTTP|grpc|x-kedge|content-type)' | sed -E 's/^(x-kedge-request-id: )[0-9a-f]{32}$/\1HEX32/I' | sort
--- response_body
HTTP/2 200
content-type: application/grpc
grpc-message: unknown route to service
grpc-status: 12
x-kedge-error-type: no-route
x-kedge-error: unknown route to service
x-kedge-request-id: HEX32



=== TEST 5: service matcher, exact method name
--- http_config
    kedge_grpc_route backend=gb service=kedge.test.Other/Ping;
    kedge_grpc_route backend=ga;
--- exec
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority x.example.com --method OtherPing
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority x.example.com --method Unary
--- response_body_like chomp
^status=OK backend=grpc-b .*\nstatus=OK backend=grpc-a 



=== TEST 6: service matcher, prefix glob
--- http_config
    kedge_grpc_route backend=gb service=kedge.test.Echo/*;
    kedge_grpc_route backend=ga service=kedge.*;
--- exec
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority x.example.com --method Unary
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority x.example.com --method OtherPing
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority x.example.com --method /com.example.Nope/Call
--- response_body_like chomp
^status=OK backend=grpc-b .*\nstatus=OK backend=grpc-a .*\nstatus=UNIMPLEMENTED code=12 message=unknown route to service$



=== TEST 7: service matcher "*" and an empty one match every service
# the first call reaches grpc-b, which does not know that method: its own
# "Method not found!", not kedge's "unknown route to service"
--- http_config
    kedge_grpc_route backend=gb authority=star.example.com service=*;
    kedge_grpc_route backend=ga authority=empty.example.com service=;
--- exec
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority star.example.com --method /any.Thing/At
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority empty.example.com --method OtherPing
--- response_body_like chomp
^status=UNIMPLEMENTED code=12 message=Method not found!\nstatus=OK backend=grpc-a 



=== TEST 8: authority port matcher; a missing port is the scheme's default
--- http_config
    kedge_grpc_route backend=ga authority=p.example.com port=80;
    kedge_grpc_route backend=gb authority=p.example.com port=9000;
--- exec
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority p.example.com --method Unary
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority p.example.com:9000 --method Unary
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority p.example.com:9001 --method Unary
--- response_body_like chomp
^status=OK backend=grpc-a .*\nstatus=OK backend=grpc-b .*\nstatus=UNIMPLEMENTED code=12 



=== TEST 9: metadata matcher: the key present and one of its values equal
--- http_config
    kedge_grpc_route backend=gb metadata=env:prod metadata=team:core;
    kedge_grpc_route backend=ga;
--- exec
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority m.example.com -H env=prod -H team=core
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority m.example.com -H env=dev -H env=prod -H team=core
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority m.example.com -H env=prod
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority m.example.com -H env=Prod -H team=core
--- response_body_like chomp
^status=OK backend=grpc-b [^\n]*\nstatus=OK backend=grpc-b [^\n]*\nstatus=OK backend=grpc-a [^\n]*\nstatus=OK backend=grpc-a 



=== TEST 10: route order: the first matching route wins
--- http_config
    kedge_grpc_route backend=gb;
    kedge_grpc_route backend=ga authority=o.example.com;
--- exec
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority o.example.com
--- response_body_like chomp
^status=OK backend=grpc-b 



=== TEST 11: server streaming
--- http_config
    kedge_grpc_route backend=ga;
--- exec
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority s.example.com --method ServerStream --count 5 --message s
--- response_body_like chomp
^(status=OK backend=grpc-a authority=s.example.com seq=[0-4] conn=0 message=s [^\n]*\n){5}$



=== TEST 12: client streaming and bidirectional streaming
--- http_config
    kedge_grpc_route backend=ga;
--- exec
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority s.example.com --method ClientStream --count 4 --message c
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority s.example.com --method Bidi --count 3 --message b
--- response_body_like chomp
^status=OK backend=grpc-a authority=s.example.com seq=4 conn=0 message=c,c,c,c [^\n]*\n(status=OK backend=grpc-a authority=s.example.com seq=[0-2] conn=0 message=b [^\n]*\n){3}$



=== TEST 13: round robin over two gRPC endpoints, on warm connections
--- http_config
    kedge_grpc_route backend=ab;
--- exec
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority rr.example.com --repeat 6 | cut -d' ' -f1,2,5
--- response_body
status=OK backend=grpc-a conn=0
status=OK backend=grpc-b conn=1
status=OK backend=grpc-a conn=0
status=OK backend=grpc-b conn=1
status=OK backend=grpc-a conn=0
status=OK backend=grpc-b conn=1



=== TEST 14: the backend's own gRPC errors pass through
--- http_config
    kedge_grpc_route backend=fail;
--- exec
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority f.example.com
--- response_body
status=UNAVAILABLE code=14 message=grpc-fail: failing on purpose



=== TEST 15: gRPC over the TLS listener (ALPN h2)
--- http_config
    kedge_grpc_route backend=ga authority=tls.example.com;
--- exec
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_TLS_PORT --tls --ca $TEST_NGINX_CERT_DIR/ca.crt --authority tls.example.com --method ServerStream --count 2
--- response_body_like chomp
^(status=OK backend=grpc-a authority=tls.example.com seq=[01] [^\n]*\n){2}$



=== TEST 16: one TLS listener serves HTTP/1.1, HTTP/2 and gRPC
--- http_config
    kedge_grpc_route backend=ga authority=tls.example.com;
    kedge_http_route backend=web host=tls.example.com;
--- exec
curl -s --http1.1 --cacert $TEST_NGINX_CERT_DIR/ca.crt --resolve tls.example.com:$TEST_NGINX_TLS_PORT:127.0.0.1 https://tls.example.com:$TEST_NGINX_TLS_PORT/one
curl -s --http2 --cacert $TEST_NGINX_CERT_DIR/ca.crt --resolve tls.example.com:$TEST_NGINX_TLS_PORT:127.0.0.1 https://tls.example.com:$TEST_NGINX_TLS_PORT/two
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_TLS_PORT --tls --ca $TEST_NGINX_CERT_DIR/ca.crt --authority tls.example.com | cut -d' ' -f1-3
--- response_body eval
"web HTTP/1.1 tls.example.com:$ENV{TEST_NGINX_TLS_PORT}/one\n"
. "web HTTP/1.1 tls.example.com:$ENV{TEST_NGINX_TLS_PORT}/two\n"
. "status=OK backend=grpc-a authority=tls.example.com\n"



=== TEST 17: HTTP/2 and gRPC on the same h2c listener
--- http_config
    kedge_grpc_route backend=ga authority=h.example.com;
    kedge_http_route backend=web host=h.example.com;
--- exec
curl -s --http2-prior-knowledge -H 'Host: h.example.com' http://127.0.0.1:$TEST_NGINX_H2C_PORT/plain
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority h.example.com | cut -d' ' -f1-2
--- response_body
web HTTP/1.1 h.example.com/plain
status=OK backend=grpc-a



=== TEST 18: gRPC to a TLS backend, verified
--- http_config
    kedge_grpc_route backend=secure;
--- exec
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority t.example.com --repeat 2 | cut -d' ' -f1,2,5
--- response_body
status=OK backend=grpc-tls conn=0
status=OK backend=grpc-tls conn=0



=== TEST 19: client certificates on the listener: signed by the CA, through an intermediate
--- http_config
    kedge_http_route backend=web host=mtls.example.com;
    server {
        listen 127.0.0.1:$TEST_NGINX_MTLS_PORT ssl;
        server_name mtls.example.com;
        ssl_certificate $TEST_NGINX_CERT_DIR/server.crt;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/server.key;
        ssl_client_certificate $TEST_NGINX_CERT_DIR/clients-ca.crt;
        ssl_verify_client on;
        ssl_verify_depth 2;
        location / { kedge_pass; }
    }
--- exec
for cert in client expired stranger; do
    printf '%s: ' $cert
    curl -s -o /dev/null -w '%{http_code}\n' --cacert $TEST_NGINX_CERT_DIR/ca.crt --cert $TEST_NGINX_CERT_DIR/$cert.crt --key $TEST_NGINX_CERT_DIR/$cert.key --resolve mtls.example.com:$TEST_NGINX_MTLS_PORT:127.0.0.1 https://mtls.example.com:$TEST_NGINX_MTLS_PORT/
done
printf 'none: '
curl -s -o /dev/null -w '%{http_code}\n' --cacert $TEST_NGINX_CERT_DIR/ca.crt --resolve mtls.example.com:$TEST_NGINX_MTLS_PORT:127.0.0.1 https://mtls.example.com:$TEST_NGINX_MTLS_PORT/
--- response_body
client: 200
expired: 400
stranger: 400
none: 400



=== TEST 20: no endpoint answers: UNAVAILABLE, as a Trailers-Only reply
--- http_config
    kedge_backend dead endpoints=127.0.0.1:1 protocol=grpc;
    kedge_grpc_route backend=dead;
--- exec
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority d.example.com
curl -s -D - -o /dev/null --http2-prior-knowledge -H 'content-type: application/grpc' -H 'te: trailers' -H 'Host: d.example.com' --data-binary '' http://127.0.0.1:$TEST_NGINX_H2C_PORT/kedge.test.Echo/Unary | tr -d '\r' | sed 's/ *$//' | grep -iE '^(HTTP|grpc|x-kedge|content-type)' | sed -E 's/^(x-kedge-request-id: )[0-9a-f]{32}$/\1HEX32/I' | sort
--- response_body
status=UNAVAILABLE code=14 message=no connection to all resolved addresses
HTTP/2 200
content-type: application/grpc
grpc-message: no connection to all resolved addresses
grpc-status: 14
x-kedge-error-type: no-connection-to-all-resolved-addresses
x-kedge-error: no connection to all resolved addresses
x-kedge-request-id: HEX32



=== TEST 21: a long gRPC route list; first match still wins
# route 1 ("kedge.*" prefix) is not indexed and comes first for
# kedge.test.Other, route 2 (exact) and the fillers are indexed by service
--- http_config eval
"    kedge_grpc_route backend=gb service=kedge.test.Echo/Unary;\n"
. "    kedge_grpc_route backend=ga service=kedge.test.O*;\n"
. (CORE::join "", map { "    kedge_grpc_route backend=gb service=com.example.S$_/*;\n" } 1 .. 8)
. "    kedge_grpc_route backend=gb service=kedge.test.Other/*;\n"
--- exec
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority x.example.com --method Unary
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority x.example.com --method OtherPing
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority x.example.com --method ServerStream --count 1
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority x.example.com --method /com.example.S8/Call
--- response_body_like chomp
^status=OK backend=grpc-b .*\nstatus=OK backend=grpc-a .*\nstatus=UNIMPLEMENTED code=12 message=unknown route to service\nstatus=UNIMPLEMENTED code=12 message=Method not found!$




=== TEST 22: HTTP/2 with a content-type of application/grpc, in any case and with a suffix, is gRPC; grpc-web is plain HTTP
--- http_config
    kedge_grpc_route backend=gb authority=ct.example.com;
    kedge_http_route backend=web host=ct.example.com;
--- exec
for ct in application/grpc application/grpc+proto Application/GRPC APPLICATION/GRPC+PROTO application/grpc-web application/grpc-web+proto APPLICATION/GRPC-WEB-TEXT Application/Grpc-Web text/plain; do
    printf '%s ' "$ct"
    curl -s -o /dev/null -D - --http2-prior-knowledge -H "content-type: $ct" -H 'te: trailers' -H 'Host: ct.example.com' --data-binary '' http://127.0.0.1:$TEST_NGINX_H2C_PORT/kedge.test.Echo/Unary | tr -d '\r' | sed -n 's/^x-kedge-backend-name: //p'
done
--- response_body
application/grpc gb
application/grpc+proto gb
Application/GRPC gb
APPLICATION/GRPC+PROTO gb
application/grpc-web web
application/grpc-web+proto web
APPLICATION/GRPC-WEB-TEXT web
Application/Grpc-Web web
text/plain web
