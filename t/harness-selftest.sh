#!/bin/bash
# Proves that the Test::Nginx runner in t/lib can FAIL: writes test files
# that must fail (wrong body, unexpected [alert]/[crit], sanitizer reports,
# nginx crash, ...) plus one control file that must pass, runs prove on each
# in a temporary directory against stock nginx, and checks each outcome and
# the reason given.  Also checks that no nginx is left running afterwards.
#
# usage: t/harness-selftest.sh          (nginx from PATH or TEST_NGINX_BINARY)
#        KEEP_SELFTEST=1 keeps the temporary directory (test files, outputs).
# exit status: 0 iff the harness behaved.

set -u

here=$(cd "$(dirname "$0")" && pwd)
lib="$here/lib"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kedge-harness-selftest.XXXXXX")
mkdir -p "$tmp/t"

# shellcheck disable=SC2317  # (called by the trap)
cleanup() {
    # stop whatever nginx a broken run may have left (by pid file only, and
    # only if that pid still is an nginx)
    for pidfile in "$tmp"/t/servroot*/logs/nginx.pid; do
        [ -f "$pidfile" ] || continue
        pid=$(cat "$pidfile")
        if grep -qa nginx "/proc/$pid/cmdline" 2>/dev/null; then
            kill -9 "$pid" 2>/dev/null
        fi
    done
    if [ -n "${KEEP_SELFTEST:-}" ]; then
        echo "kept $tmp"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT

failures=0
say() { printf '%s\n' "$*"; }

# t NAME <<'EOF' ... EOF: writes $tmp/t/NAME.t from stdin, with the common
# header.  The header is not part of the heredoc so that each case stays short.
t() {
    {
        printf 'use Test::Nginx::Socket %s;\n' "'no_plan'"
        printf 'use Test::Kedge::Exec;\n'
        printf 'repeat_each(1);\nno_shuffle();\n'
        cat
    } > "$tmp/t/$1.t"
}

# run NAME: runs prove on one file, in its own server root and random port;
# sets $out (file with the output) and $rc.
run() {
    out="$tmp/$1.out"
    (
        cd "$tmp" &&
        env -u TEST_NGINX_SERVER_PORT -u TEST_NGINX_PORT -u TEST_NGINX_CLIENT_PORT \
            -u TEST_NGINX_LOAD_MODULES -u TEST_NGINX_NO_CLEAN \
            -u TEST_NGINX_NO_FATAL_LOG_CHECK -u TEST_NGINX_FORCE_RESTART_ON_TEST \
            TEST_NGINX_RANDOMIZE=1 \
            prove -v -I "$lib" "t/$1.t"
    ) > "$out" 2>&1
    rc=$?
}

# must_fail NAME TEXT: prove must fail, and TEXT must show up in a failing
# test's name or diagnostics (so that it failed for the right reason).
must_fail() {
    run "$1"
    if [ "$rc" -eq 0 ]; then
        say "FAIL: $1.t passed but must fail"; sed 's/^/    /' "$out"
        failures=$((failures + 1))
    elif ! grep -q '^not ok' "$out" \
         || ! grep -E '^(not ok|#)' "$out" | grep -qF -- "$2"; then
        say "FAIL: $1.t failed, but not with \"$2\""; sed 's/^/    /' "$out"
        failures=$((failures + 1))
    else
        say "ok: $1.t fails as it must ($2)"
    fi
}

must_pass() {
    run "$1"
    if [ "$rc" -ne 0 ]; then
        say "FAIL: $1.t must pass"; sed 's/^/    /' "$out"
        failures=$((failures + 1))
    else
        say "ok: $1.t passes"
    fi
}

# ---------------------------------------------------------------------------
# The control: all of these pass.
t control <<'EOF'
run_tests();
__DATA__
=== TEST 1: body
--- config
    location = /t { return 200 "hello\n"; }
--- request
GET /t
--- response_body
hello
--- no_error_log
[error]

=== TEST 2: an expected [crit] is fine
--- config
    location = /t { proxy_pass http://unix:/nonexistent/selftest.sock:/; }
--- request
GET /t
--- error_code: 502
--- error_log
[crit]

=== TEST 3: exec
--- config
    location = /t { return 200 "hi\n"; }
--- exec
curl -sS http://127.0.0.1:$TEST_NGINX_SERVER_PORT/t
--- response_body
hi

=== TEST 4: exec: a background job does not block, and is cleaned up
--- config
    location = /t { return 200; }
--- exec
(sleep 4.322 &)
echo started
--- response_body
started
EOF
must_pass control

# ---------------------------------------------------------------------------
t body <<'EOF'
run_tests();
__DATA__
=== TEST 1: wrong body
--- config
    location = /t { return 200 "hello\n"; }
--- request
GET /t
--- response_body
goodbye
EOF
must_fail body "response_body - response is expected"

t status <<'EOF'
run_tests();
__DATA__
=== TEST 1: wrong status
--- config
    location = /t { return 404; }
--- request
GET /t
--- error_code: 200
EOF
must_fail status "status code ok"

t header <<'EOF'
run_tests();
__DATA__
=== TEST 1: header present that must be absent
--- config
    location = /t { add_header X-Foo bar; return 200 "x\n"; }
--- request
GET /t
--- response_headers
!X-Foo
EOF
must_fail header "header X-Foo not present"

t pipelined <<'EOF'
run_tests();
__DATA__
=== TEST 1: second pipelined response is wrong
--- config
    location = /t { return 200 "$arg_a\n"; }
--- pipelined_requests eval
["GET /t?a=1", "GET /t?a=2"]
--- response_body eval
["1\n", "3\n"]
EOF
must_fail pipelined "repeated req 0, req 1"

t http2 <<'EOF'
run_tests();
__DATA__
=== TEST 1: HTTP/2 body is wrong
--- http2
--- config
    location = /t { return 200 "$server_protocol\n"; }
--- request
GET /t
--- response_body
HTTP/1.1
EOF
must_fail http2 "response_body - response is expected"

t errlog <<'EOF'
run_tests();
__DATA__
=== TEST 1: an expected error_log line is missing
--- config
    location = /t { return 200 "x\n"; }
--- request
GET /t
--- error_log
this line is never logged
EOF
must_fail errlog "should match a line in error.log"

t noerrlog <<'EOF'
run_tests();
__DATA__
=== TEST 1: a forbidden error_log line is there
--- config
    location /missing { root html; }
--- request
GET /missing/x
--- error_code: 404
--- no_error_log
[error]
EOF
must_fail noerrlog "should not match any line in error.log"

t must_die <<'EOF'
run_tests();
__DATA__
=== TEST 1: must_die, but the config is fine
--- config
    location = /t { return 200; }
--- must_die
EOF
must_fail must_die "die as expected"

t exec_body <<'EOF'
run_tests();
__DATA__
=== TEST 1: exec stdout is wrong
--- config
    location = /t { return 200 "hi\n"; }
--- exec
curl -sS http://127.0.0.1:$TEST_NGINX_SERVER_PORT/t
--- response_body
bye
EOF
must_fail exec_body "exec stdout is expected"

t exec_status <<'EOF'
run_tests();
__DATA__
=== TEST 1: exec exits with 7
--- config
    location = /t { return 200; }
--- exec
exit 7
EOF
must_fail exec_status "exec exit code ok"

t exec_timeout <<'EOF'
run_tests();
__DATA__
=== TEST 1: exec runs too long
--- config
    location = /t { return 200; }
--- timeout: 0.5
--- exec
sleep 4.321
EOF
must_fail exec_timeout "timed out"

# --- the fatal-log check (our addition) -----------------------------------

t crit <<'EOF'
run_tests();
__DATA__
=== TEST 1: a [crit] nobody expected
--- config
    location = /t { proxy_pass http://unix:/nonexistent/selftest.sock:/; }
--- request
GET /t
--- error_code: 502
EOF
must_fail crit "unexpected [alert]/[crit]/[emerg]"

t alert <<'EOF'
master_on();
run_tests();
__DATA__
=== TEST 1: a worker logs an [alert] at startup (setrlimit fails)
--- main_config
worker_rlimit_nofile 1073741824;
--- config
    location = /t { return 200 "x\n"; }
--- request
GET /t
--- response_body
x
EOF
must_fail alert "unexpected [alert]/[crit]/[emerg]"

t asan <<'EOF'
run_tests();
__DATA__
=== TEST 1: a sanitizer report file appears under logs/
--- config
    location = /t { return 200; }
--- exec
printf '==1==ERROR: AddressSanitizer: heap-use-after-free\n' > $TEST_NGINX_SERVER_ROOT/logs/asan.12345
EOF
must_fail asan "AddressSanitizer: heap-use-after-free"

t ubsan <<'EOF'
run_tests();
__DATA__
=== TEST 1: a UBSan report in error.log (sanitizer writing to stderr)
--- config
    location = /t { return 200; }
--- exec
echo 'src/x.c:1:2: runtime error: signed integer overflow' >> $TEST_NGINX_SERVER_ROOT/logs/error.log
EOF
must_fail ubsan "runtime error: signed integer overflow"

t crash <<'EOF'
run_tests();
__DATA__
=== TEST 1: nginx dies during the block
--- config
    location = /t { return 200; }
--- exec
kill -9 $(cat $TEST_NGINX_SERVER_ROOT/logs/nginx.pid)

=== TEST 2: the next block still gets a fresh nginx
--- config
    location = /t2 { return 200 "ok\n"; }
--- request
GET /t2
--- response_body
ok
EOF
must_fail crash "was no longer running"
if ! grep -q '^ok .*TEST 2: the next block.*response_body' "$out"; then
    say "FAIL: crash.t: the block after the crash did not pass"
    failures=$((failures + 1))
fi

# ---------------------------------------------------------------------------
leftover=$(pgrep -x -f 'sleep 4\.32[12]' || true)
if [ -n "$leftover" ]; then
    say "FAIL: --- exec commands left running: $leftover"
    failures=$((failures + 1))
else
    say "ok: no --- exec command left running"
fi

leftover=$(pgrep -f -- "$tmp/t/servroot" || true)
if [ -n "$leftover" ]; then
    say "FAIL: nginx processes left running: $leftover"
    failures=$((failures + 1))
else
    say "ok: no nginx left running"
fi

if [ "$failures" -ne 0 ]; then
    say "harness self-test: $failures problem(s)"
    exit 1
fi
say "harness self-test: all good"
exit 0
