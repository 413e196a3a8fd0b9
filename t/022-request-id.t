# X-Kedge-Request-ID: made when absent, kept when well-formed, replaced
# when hostile; the same value reaches the backend (HTTP and gRPC) and
# comes back to the client, refusals included; $kedge_request_id and the
# other variables in the access log; "kedge_request_id off".

use Test::Nginx::Socket 'no_plan';
use Test::Kedge::Exec;
use Test::Kedge::Peers;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
$ENV{TEST_NGINX_WEB_PORT} ||= $port + 220;
$ENV{TEST_NGINX_G1} ||= $port + 221;
$ENV{TEST_NGINX_H2C_PORT} ||= $port + 222;
$ENV{TEST_NGINX_CLIENT} = repo_root() . "/t/peers/grpc_client.py";

grpc_server("--listen", "127.0.0.1:$ENV{TEST_NGINX_G1}=grpc-a");

our $Common = <<'_EOC_';
    kedge_backend web endpoints=127.0.0.1:$TEST_NGINX_WEB_PORT protocol=http;
    kedge_backend ga endpoints=127.0.0.1:$TEST_NGINX_G1 protocol=grpc;

    kedge_http_route backend=web host=web.test;
    kedge_grpc_route backend=ga authority=echo.test;

    server {
        listen 127.0.0.1:$TEST_NGINX_WEB_PORT;
        location / { return 200 "backend saw: $http_x_kedge_request_id\n"; }
        location /own {
            add_header X-Kedge-Request-ID backends-own;
            return 200 "own\n";
        }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_H2C_PORT http2;
        location / { kedge_pass; }
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $Common . ($block->http_config // ''));
    $block->set_value("config", "location / { kedge_pass; }")
        unless defined $block->config;
    $block->set_value("timeout", 15) unless defined $block->timeout;
});

# "id SENT": what the client gets back and what the backend saw
$ENV{KEDGE_T_ID} = <<'_EOS_';
id() {
    [ $# -gt 0 ] && set -- -H "X-Kedge-Request-ID: $1"
    curl -s -D /dev/stderr -H 'Host: web.test' "$@" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ 2>&1 \
        | tr -d '\r' | sed -n -e 's/^X-Kedge-Request-ID: //p' -e 's/^backend saw: //p' | tr '\n' ' ' \
        | sed -E -e 's/[0-9a-f]{32}/HEX32/g' -e 's/ $/\n/'
}
_EOS_

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: made when absent (32 hex digits, nginx's $request_id), the same to the backend and back, new for each request
--- exec
eval "$KEDGE_T_ID"
id
id
a=$(curl -s -D - -o /dev/null -H 'Host: web.test' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ | tr -d '\r' | sed -n 's/^X-Kedge-Request-ID: //p')
b=$(curl -s -D - -o /dev/null -H 'Host: web.test' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ | tr -d '\r' | sed -n 's/^X-Kedge-Request-ID: //p')
[ -n "$a" ] && [ "$a" != "$b" ] && echo "two requests, two ids"
--- response_body
HEX32 HEX32
HEX32 HEX32
two requests, two ids



=== TEST 2: a well-formed id is kept: winch's, a UUID, 128 characters
--- exec
eval "$KEDGE_T_ID"
id winch-3f1c7c4e-8a0b-4d2e-9f5a-0c1b2d3e4f50
id 3F1C7C4E-8A0B-4D2E-9F5A-0C1B2D3E4F50
id a.b_c:d-e
id $(printf 'x%.0s' $(seq 1 128)) | sed -E 's/x{128}/X128/g'
--- response_body
winch-3f1c7c4e-8a0b-4d2e-9f5a-0c1b2d3e4f50 winch-3f1c7c4e-8a0b-4d2e-9f5a-0c1b2d3e4f50
3F1C7C4E-8A0B-4D2E-9F5A-0C1B2D3E4F50 3F1C7C4E-8A0B-4D2E-9F5A-0C1B2D3E4F50
a.b_c:d-e a.b_c:d-e
X128 X128



=== TEST 3: hostile ids are replaced, to the backend and back
--- exec
eval "$KEDGE_T_ID"
id $(printf 'x%.0s' $(seq 1 129))
id 'two words'
id 'quote"d'
id 'café'
id 'a%0d%0aSet-Cookie:%20x=1'
id '<script>'
id 'a,b'
id ''
--- response_body
HEX32 HEX32
HEX32 HEX32
HEX32 HEX32
HEX32 HEX32
HEX32 HEX32
HEX32 HEX32
HEX32 HEX32
HEX32 HEX32



=== TEST 4: a refusal carries the id too
--- exec
curl -s -D - -o /dev/null -H 'Host: nowhere.test' -H 'X-Kedge-Request-ID: refused-1' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ | tr -d '\r' | grep -iE '^(HTTP|X-Kedge)' | sort
--- response_body
HTTP/1.1 502 Bad Gateway
X-Kedge-Error-Type: no-route
X-Kedge-Error: unknown route to service
X-Kedge-Request-ID: refused-1



=== TEST 5: the backend's own X-Kedge-Request-ID gives way to kedge's
--- exec
curl -s -D - -o /dev/null -H 'Host: web.test' -H 'X-Kedge-Request-ID: mine' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/own | tr -d '\r' | grep -i '^X-Kedge-Request-ID'
--- response_body
X-Kedge-Request-ID: mine



=== TEST 6: gRPC: the id reaches the backend as metadata and comes back in the headers
--- exec
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority echo.test --method Unary -H x-kedge-request-id=grpc-1 | grep -o 'x-kedge-request-id=[^ ,]*'
$TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority echo.test --method Unary | grep -oE 'x-kedge-request-id=[0-9a-f]{32}' | sed 's/=.*/=HEX32/'
curl -s -D - -o /dev/null --http2-prior-knowledge -H 'content-type: application/grpc' -H 'te: trailers' -H 'Host: nowhere.test' -H 'x-kedge-request-id: grpc-2' --data-binary '' http://127.0.0.1:$TEST_NGINX_H2C_PORT/kedge.test.Echo/Unary | tr -d '\r' | grep -iE '^(grpc-status|x-kedge-request-id)' | sort
--- response_body
x-kedge-request-id=grpc-1
x-kedge-request-id=HEX32
grpc-status: 12
x-kedge-request-id: grpc-2



=== TEST 7: the variables in the access log
--- http_config
    log_format kedge '$status id=$kedge_request_id backend=$kedge_backend route=$kedge_route error=$kedge_error_type';
--- config
    access_log logs/kedge.log kedge;
    location / { kedge_pass; }
--- exec
curl -s -o /dev/null -H 'Host: web.test' -H 'X-Kedge-Request-ID: log-1' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
curl -s -o /dev/null -H 'Host: nowhere.test' -H 'X-Kedge-Request-ID: log-2' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
curl -s -o /dev/null -H 'Host: web.test' -H 'X-Kedge-Request-ID: bad id' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
sed -E 's/[0-9a-f]{32}/HEX32/' $TEST_NGINX_SERVER_ROOT/logs/kedge.log
--- response_body
200 id=log-1 backend=web route=http:1 error=
502 id=log-2 backend=- route=- error=no-route
200 id=HEX32 backend=web route=http:1 error=



=== TEST 8: kedge_request_id off: nothing made, nothing back, the client's header passes as sent
--- config
    location / { kedge_request_id off; kedge_pass; }
--- exec
curl -s -D - -H 'Host: web.test' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ | tr -d '\r' | grep -iE '^(X-Kedge-Request-ID|backend saw)'
curl -s -D - -H 'Host: web.test' -H 'X-Kedge-Request-ID: two words' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ | tr -d '\r' | grep -iE '^(X-Kedge-Request-ID|backend saw)'
--- response_body eval
"backend saw: \nbackend saw: two words\n"



=== TEST 9: many requests on one connection (more than one draw of random bytes): every id new, 32 lower-case hex digits, the same to the backend and back
--- exec
urls=$(for i in $(seq 1 700); do printf 'http://127.0.0.1:%s/ ' $TEST_NGINX_SERVER_PORT; done)
curl -s -D - -H 'Host: web.test' $urls | tr -d '\r' | sed -n -e 's/^X-Kedge-Request-ID: //p' -e 's/^backend saw: //p' | paste - - > $TEST_NGINX_SERVER_ROOT/logs/ids
echo "responses: $(wc -l < $TEST_NGINX_SERVER_ROOT/logs/ids)"
echo "the backend saw what came back: $(awk '$1 == $2' $TEST_NGINX_SERVER_ROOT/logs/ids | wc -l)"
echo "32 hex digits: $(cut -f1 $TEST_NGINX_SERVER_ROOT/logs/ids | grep -cE '^[0-9a-f]{32}$')"
echo "distinct: $(cut -f1 $TEST_NGINX_SERVER_ROOT/logs/ids | sort -u | wc -l)"
--- response_body
responses: 700
the backend saw what came back: 700
32 hex digits: 700
distinct: 700
--- timeout: 30



=== TEST 10: a made id is nginx's $request_id too; a kept one is not
--- http_config
    log_format ids '$kedge_request_id $request_id';
--- config
    access_log logs/ids.log ids;
    location / { kedge_pass; }
--- exec
curl -s -o /dev/null -H 'Host: web.test' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
curl -s -o /dev/null -H 'Host: web.test' -H 'X-Kedge-Request-ID: kept-1' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
curl -s -o /dev/null -H 'Host: web.test' -H 'X-Kedge-Request-ID: bad id' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
awk '{ print ($1 == $2 ? "same" : "different"), $1, $2 }' $TEST_NGINX_SERVER_ROOT/logs/ids.log | sed -E 's/\b[0-9a-f]{32}\b/HEX32/g'
--- response_body
same HEX32 HEX32
different kept-1 HEX32
same HEX32 HEX32



=== TEST 11: $request_id made first (by an earlier variable) is the id
--- http_config
    log_format ids '$kedge_request_id $request_id';
--- config
    access_log logs/ids.log ids;
    location / {
        set $first $request_id;
        add_header X-First $first;
        kedge_pass;
    }
--- exec
curl -s -D - -o /dev/null -H 'Host: web.test' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ | tr -d '\r' | grep -iE '^(X-First|X-Kedge-Request-ID):' | sed -E 's/: [0-9a-f]{32}$/: HEX32/' | sort
first=$(curl -s -D - -o /dev/null -H 'Host: web.test' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ | tr -d '\r' | sed -n 's/^X-First: //p')
tail -n 1 $TEST_NGINX_SERVER_ROOT/logs/ids.log | awk -v f="$first" '{ print ($1 == f && $2 == f) ? "the log has it twice" : "not the same" }'
--- response_body
X-First: HEX32
X-Kedge-Request-ID: HEX32
the log has it twice
