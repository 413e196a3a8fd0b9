# X-Kedge-Info-Logs: kedge's decisions about that request (route,
# authorization, endpoints tried, outcome) logged at info although the
# error_log says "warn"; nothing for the requests without it, also on
# the same keep-alive connection and on other streams of the same
# HTTP/2 connection; kedge_info_logs off.

use Test::Nginx::Socket 'no_plan';
use Test::Kedge::Exec;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
$ENV{TEST_NGINX_WEB_PORT} ||= $port + 230;
$ENV{TEST_NGINX_H2C_PORT} ||= $port + 231;

our $Common = <<'_EOC_';
    kedge_backend web endpoints=127.0.0.1:$TEST_NGINX_WEB_PORT protocol=http;
    kedge_backend dead endpoints=127.0.0.1:1;

    kedge_http_route backend=web host=web.test;
    kedge_http_route backend=dead host=dead.test;

    server {
        listen 127.0.0.1:$TEST_NGINX_WEB_PORT;
        return 200 "web\n";
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
    $block->set_value("log_level", "warn") unless defined $block->log_level;
});

# kedge's info lines of the block, without time, pid and connection
$ENV{KEDGE_T_INFO} = <<'_EOS_';
info() {
    grep -F '[info]' $TEST_NGINX_SERVER_ROOT/logs/error.log | grep -F 'kedge: ' \
        | sed -E -e 's/^.*\[info\] [0-9]+#[0-9]+: (\*[0-9]+ )?//' -e 's/, client: .*$//' \
                 -e 's/ while (connecting to upstream|logging request)//'
}
_EOS_

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: a flagged request: route, authorization, endpoint, outcome
--- exec
curl -s -H 'Host: web.test' -H 'X-Kedge-Info-Logs: winch-alice' -H 'X-Kedge-Request-ID: r-1' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
eval "$KEDGE_T_INFO"
info
--- response_body eval
"web
kedge: route http:1 for \"web.test\" port 80: backend \"web\"
kedge: authorized: nothing asked for
kedge: backend \"web\": endpoint 127.0.0.1:$ENV{TEST_NGINX_WEB_PORT}, try 1
kedge: done: status 200, http request, route http:1, backend \"web\", error type \"\", request id \"r-1\", endpoint tries 1
"



=== TEST 2: no flag, no info line
--- exec
curl -s -H 'Host: web.test' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
curl -s -o /dev/null -H 'Host: nowhere.test' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
curl -s -o /dev/null -H 'Host: web.test' -H 'X-Kedge-Info-Logs;' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
--- response_body
web
--- no_error_log
[info]



=== TEST 3: failures: no route, and an endpoint refusing connections
--- exec
curl -s -o /dev/null -H 'Host: nowhere.test' -H 'X-Kedge-Info-Logs: 1' -H 'X-Kedge-Request-ID: r-2' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
curl -s -o /dev/null -H 'Host: dead.test' -H 'X-Kedge-Info-Logs: 1' -H 'X-Kedge-Request-ID: r-3' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
eval "$KEDGE_T_INFO"
info | grep -v authorized
--- response_body
kedge: no http route for "nowhere.test" port 80
kedge: done: status 502, http request, route -, backend "", error type "no-route", request id "r-2", endpoint tries 0
kedge: route http:2 for "dead.test" port 80: backend "dead"
kedge: backend "dead": endpoint 127.0.0.1:1, try 1
kedge: done: status 502, http request, route http:2, backend "dead", error type "no-connection-to-all-resolved-addresses", request id "r-3", endpoint tries 1
--- error_log
[error]
set aside for



=== TEST 4: the same keep-alive connection: only the flagged request logs
--- exec
u=http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
curl -s -o /dev/null -w 'new connections: %{num_connects}\n' -H 'Host: web.test' -H 'X-Kedge-Request-ID: first' $u \
     --next -s -o /dev/null -w 'new connections: %{num_connects}\n' -H 'Host: web.test' -H 'X-Kedge-Info-Logs: yes' -H 'X-Kedge-Request-ID: second' $u \
     --next -s -o /dev/null -w 'new connections: %{num_connects}\n' -H 'Host: web.test' -H 'X-Kedge-Request-ID: third' $u
eval "$KEDGE_T_INFO"
info | grep -o 'request id "[a-z]*"'
info | grep -c .
grep -c 'kedge: done' $TEST_NGINX_SERVER_ROOT/logs/error.log
--- response_body
new connections: 1
new connections: 0
new connections: 0
request id "second"
4
1



=== TEST 5: HTTP/2: only the flagged stream logs
--- exec
u=http://127.0.0.1:$TEST_NGINX_H2C_PORT/
curl -s --http2-prior-knowledge -o /dev/null -H 'Host: web.test' -H 'X-Kedge-Info-Logs: yes' -H 'X-Kedge-Request-ID: h2-1' $u \
     --next -s --http2-prior-knowledge -o /dev/null -w 'new connections: %{num_connects}\n' -H 'Host: web.test' -H 'X-Kedge-Request-ID: h2-2' $u
eval "$KEDGE_T_INFO"
info | grep -o 'request id "[a-z0-9-]*"'
info | grep -c .
--- response_body
new connections: 0
request id "h2-1"
4



=== TEST 6: an unauthorized request: the refusal's reason at info
--- config
    location / { kedge_bearer_token secret-token; kedge_pass; }
--- exec
curl -s -o /dev/null -w '%{http_code}\n' -H 'Host: web.test' -H 'X-Kedge-Info-Logs: yes' -H 'Proxy-Authorization: Bearer wrong' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
curl -s -o /dev/null -w '%{http_code}\n' -H 'Host: web.test' -H 'Proxy-Authorization: Bearer wrong' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
eval "$KEDGE_T_INFO"
info | sed 's/request id "[0-9a-f]*"/request id HEX/'
--- response_body
401
401
kedge: unauthorized: client certificate: not asked for; token: wrong bearer token
kedge: done: status 401, http request, route -, backend "", error type "unauthorized", request id HEX, endpoint tries 0



=== TEST 7: kedge_info_logs off: the header is ignored
--- config
    kedge_info_logs off;
    location / { kedge_pass; }
--- exec
curl -s -H 'Host: web.test' -H 'X-Kedge-Info-Logs: yes' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
--- response_body
web
--- no_error_log
[info]
