# Tests of the test harness itself (t/lib/Test/Nginx/Socket.pm), against a
# stock nginx: no ngx_kedge_module needed.  Every block is plain
# Test::Nginx::Socket, plus --- exec from Test::Kedge::Exec (t/lib), so this
# file also runs under upstream Test::Nginx:
#
#   prove -I /path/to/test-nginx/lib -I t/lib t/000-harness.t
#
# t/harness-selftest.sh checks the other direction: that the harness fails
# what it must fail.

use Test::Nginx::Socket;
use Test::Kedge::Exec;

repeat_each(2);

# Tests per block (times repeat_each): keep in sync when adding blocks.
plan tests => repeat_each() * 82;

no_shuffle();

# A location shared by all blocks, to exercise add_block_preprocessor.
add_block_preprocessor(sub {
    my $block = shift;
    if (defined $block->config && !defined $block->must_die) {
        $block->set_value("config", $block->config
                          . "\n    location = /ping { return 200 \"pong\\n\"; }\n");
    }
});

run_tests();

__DATA__

=== TEST 1: sanity: return, status, body
--- config
    location = /t {
        return 200 "hello, world\n";
    }
--- request
GET /t
--- response_body
hello, world
--- error_code: 200
--- no_error_log
[error]



=== TEST 2: status codes and response_body_like
--- config
    location = /t {
        return 418 "short and stout\n";
    }
--- request
    GET /t
--- error_code: 418
--- response_body_like: ^short and \w+$



=== TEST 3: response headers, absent headers, header patterns
--- config
    location = /t {
        add_header X-Foo "bar baz" always;
        return 200 "ok\n";
    }
--- request
GET /t
--- response_headers
X-Foo: bar baz
Content-Type: text/plain
Content-Length: 3
!X-Absent
--- response_body
ok



=== TEST 4: response_headers_like
--- config
    location = /t {
        return 204;
    }
--- request
GET /t
--- error_code: 204
--- response_headers_like
Server: nginx/\d+\.\d+\.\d+
--- response_body



=== TEST 5: more_headers, comments before the request, HTTP/1.0
--- config
    location = /t {
        return 200 "$http_x_test|$http_host|$server_protocol|$http_connection\n";
    }
--- more_headers
X-Test: hello
# a comment line in more_headers
--- request
# this comment line is skipped
GET /t HTTP/1.0
--- response_body
hello|localhost|HTTP/1.0|close



=== TEST 6: request body gets a Content-Length
--- config
    location = /t {
        return 200 "$request_method $content_length\n";
    }
--- request
POST /t
hello world
--- response_body
POST 11



=== TEST 7: several requests in one block
--- config
    location = /a { return 200 "A\n"; }
    location = /b { return 404; }
--- request eval
["GET /a", "GET /b", "GET /ping"]
--- error_code eval
[200, 404, 200]
--- response_body_like eval
["^A\$", "404 Not Found", "^pong\$"]



=== TEST 8: pipelined requests on one keep-alive connection
--- config
    location = /t {
        return 200 "$uri $connection_requests\n";
    }
--- pipelined_requests eval
["GET /t", "GET /t?x=1", "GET /ping"]
--- response_body eval
["/t 1\n", "/t 2\n", "pong\n"]



=== TEST 9: a request split into delayed packets
--- config
    location = /packets {
        return 200 "$request_uri $content_length\n";
    }
--- request eval
[["POST /pa", "ckets?a=1\nab", "cd"]]
--- raw_request_middle_delay: 0.05
--- response_body
/packets?a=1 4



=== TEST 10: raw_request
--- config
    location = /t {
        return 200 "raw $http_x_raw\n";
    }
--- raw_request eval
"GET /t HTTP/1.1\r
Host: localhost\r
X-Raw: yes\r
Connection: close\r
\r
"
--- response_body
raw yes



=== TEST 11: HEAD request
--- config
    location = /t {
        return 200 "not sent\n";
    }
--- request
HEAD /t
--- response_headers
Content-Length: 9
--- response_body



=== TEST 12: user_files, with $TEST_NGINX_* expansion; chunked response
--- config
    location /static/ {
        alias html/;
        sub_filter 'PORT' 'port';
        sub_filter_types text/plain;
    }
--- user_files
>>> hello.txt
PORT=$TEST_NGINX_SERVER_PORT
>>> sub/dir/deep.txt
deep
--- request
GET /static/hello.txt
--- response_headers
Transfer-Encoding: chunked
--- response_body
port=$TEST_NGINX_SERVER_PORT



=== TEST 13: http_config, main_config, random ports shared by all sections
--- main_config
worker_rlimit_nofile 1024;
--- http_config
    map $uri $mapped {
        default "mapped";
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / {
            return 200 "backend $server_port $mapped\n";
        }
    }
--- config
    location = /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- request
GET /t
--- response_body
backend $TEST_NGINX_RAND_PORT_1 mapped



=== TEST 14: error_log with strings, eval arrays and regexes; grep_error_log
--- config
    location /missing {
        root html;
    }
--- request
GET /missing/nothing.txt
--- error_code: 404
--- error_log eval
["No such file or directory", qr/open\(\) "[^"]+nothing\.txt" failed/]
--- grep_error_log eval
qr/open\(\) "[^"]+" failed/
--- grep_error_log_out
open() "$TEST_NGINX_SERVER_ROOT/html/missing/nothing.txt" failed
--- no_error_log
[alert]
[warn]



=== TEST 15: log_level per block
--- log_level: warn
--- config
    location = /t {
        return 200 "quiet\n";
    }
--- request
GET /t
--- response_body
quiet
--- no_error_log
[debug]
[info]



=== TEST 16: must_die on an unknown directive, with its file:line
--- config
    location = /t {
        kedge_no_such_directive on;
    }
--- must_die
--- suppress_stderr
--- error_log eval
qr/\[emerg\] .*unknown directive "kedge_no_such_directive" in \S+\/conf\/nginx\.conf:\d+/



=== TEST 17: must_die with the exit code
--- config
    location = /t {
        return 200 too many arguments;
    }
--- must_die: 1
--- suppress_stderr
--- error_log
invalid number of arguments in "return" directive



=== TEST 18: nginx serves again after must_die blocks
--- config
    location = /t {
        return 200 "back\n";
    }
--- request
GET /t
--- response_body
back



=== TEST 19: HTTP/2 (curl --http2-prior-knowledge)
upstream Test::Nginx >= 0.31 writes "http2 on;" for any nginx >= 1.19.9,
but that directive only exists since 1.25.1: skip it there.
--- skip_eval: 4: !defined $Test::Nginx::Util::Implementation && $Test::Nginx::Util::NginxVersion < 1.025001 && Test::Nginx::Util->VERSION >= 0.31
--- http2
--- config
    location = /t {
        add_header X-H2 yes;
        return 200 "$server_protocol $http2\n";
    }
--- request
GET /t
--- response_headers
X-H2: yes
!X-Absent
--- response_body
HTTP/2.0 h2c



=== TEST 20: exec: shell command, stdout checked, $TEST_NGINX_* expanded
--- config
    location = /t {
        return 200 "via curl\n";
    }
--- exec
curl -sS http://127.0.0.1:$TEST_NGINX_SERVER_PORT/t
printf 'root=%s\n' "$TEST_NGINX_SERVER_ROOT" | sed "s|$TEST_NGINX_SERVER_ROOT|SERVROOT|"
--- response_body
via curl
root=SERVROOT
--- no_error_log
[error]



=== TEST 21: exec: exit code and response_body_like
--- config
    location = /t {
        return 200 "ok\n";
    }
--- exec
curl -sS -o /dev/null -w '%{http_code} %{http_version}' --http1.1 http://127.0.0.1:$TEST_NGINX_SERVER_PORT/nope; exit 3
--- exit_code: 3
--- response_body_like: ^404 1\.1$



=== TEST 22: exec: error_log checks apply
--- config
    location /missing {
        root html;
    }
--- exec
curl -s -o /dev/null http://127.0.0.1:$TEST_NGINX_SERVER_PORT/missing/x
--- response_body
--- error_log
No such file or directory



=== TEST 23: a [crit] the block expects is not held against it
--- config
    location = /t {
        proxy_pass http://unix:/nonexistent/kedge-harness.sock:/;
    }
--- request
GET /t
--- error_code: 502
--- error_log
[crit]
connect() to unix:/nonexistent/kedge-harness.sock failed



=== TEST 24: client timeout with --- abort, ignore_response
--- config
    location = /t {
        return 200 "never";
    }
--- raw_request eval
"GET /t HTTP/1.1\r\nHost: localhost\r\n"
--- timeout: 300ms
--- abort
--- ignore_response
--- wait: 0.1
--- no_error_log
[error]



=== TEST 25: a block without --- config reuses the previous server
--- request
GET /ping
--- response_body
pong



=== TEST 26: $ServerPort in expected values
--- config
    location = /t {
        return 200 "port $server_port\n";
    }
--- request eval
["GET /t", "GET /t"]
--- response_body eval
["port $Test::Nginx::Util::ServerPort\n", "port \$ServerPort\n"]



=== TEST 27: response_body_unlike
--- config
    location = /t {
        return 200 "fine\n";
    }
--- request
GET /t
--- response_body_unlike: error
