#!/usr/bin/env bash
# The demo: nginx with ngx_kedge_module on the embedded default config
# (docker/demo.conf), in front of local HTTP and gRPC backends.  No cluster.
#
#   scripts/demo.sh          install what is missing, build, start, print
#                            what to try
#   scripts/demo.sh check    run what the demo suggests, check the answers
#   scripts/demo.sh stop     stop it
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

prefix=$repo/build/demo
certs=$repo/build/certs
py=/usr/bin/python3

stop() {
    if [ -f "$prefix/logs/nginx.pid" ]; then
        kill -QUIT "$(cat "$prefix/logs/nginx.pid")" 2>/dev/null || true
    fi
    for pidfile in "$prefix"/logs/grpc-*.pid; do
        [ -f "$pidfile" ] || continue
        kill "$(cat "$pidfile")" 2>/dev/null || true
        rm -f "$pidfile"
    done
    # wait for the ports to be free again
    for _ in $(seq 50); do
        [ -f "$prefix/logs/nginx.pid" ] || break
        sleep 0.1
    done
}

wait_port() {
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "demo: nothing listens on 127.0.0.1:$1" >&2
    return 1
}

# the commands the demo suggests; "check" runs them and looks at the answers
try_web="curl -s -H 'Host: web.demo.local' http://127.0.0.1:8080/hello"
try_tls="curl -s --cacert build/certs/ca.crt --resolve api.demo.local:8443:127.0.0.1 https://api.demo.local:8443/v1/users"
try_h2="curl -s --http2-prior-knowledge -H 'Host: web.demo.local' http://127.0.0.1:8081/h2"
try_none="curl -si -H 'Host: nowhere.demo.local' http://127.0.0.1:8080/"
try_admin="curl -s --cacert build/certs/ca.crt --cert build/certs/client.crt --key build/certs/client.key --resolve admin.demo.local:8443:127.0.0.1 https://admin.demo.local:8443/status"
try_admin_none="curl -si --cacert build/certs/ca.crt --resolve admin.demo.local:8443:127.0.0.1 https://admin.demo.local:8443/status"
try_token="curl -s -H 'Host: web.demo.local' -H 'Proxy-Authorization: Bearer demo-token' http://127.0.0.1:8080/private/x"
try_token_none="curl -si -H 'Host: web.demo.local' http://127.0.0.1:8080/private/x"
try_grpc="$py t/peers/grpc_client.py --target 127.0.0.1:8081 --authority echo.demo.local --method Unary --repeat 2"
try_grpc_tls="$py t/peers/grpc_client.py --target 127.0.0.1:8443 --tls --ca build/certs/ca.crt --authority echo.demo.local --method ServerStream --count 3"
try_grpc_none="$py t/peers/grpc_client.py --target 127.0.0.1:8081 --authority nowhere.demo.local --method Unary"

check() {
    local fail=0 out

    expect() {
        # $1 what, $2 command, $3 regex the output must match
        out=$(eval "$2" 2>&1) || true
        if printf '%s' "$out" | grep -Eq -- "$3"; then
            echo "ok - $1"
        else
            echo "not ok - $1: $2"
            printf '%s\n' "$out" | sed 's/^/#   /'
            fail=1
        fi
    }

    expect "HTTP/1.1 routed by host" "$try_web" "^web backend :900[123] says hello to web.demo.local/hello"
    expect "TLS, routed by host and path" "$try_tls" '"backend": "api", "path": "/v1/users"'
    expect "HTTP/2 cleartext" "$try_h2" "^web backend :900[123] says hello to web.demo.local/h2"
    expect "no route: 502 with kedge's error headers" "$try_none" "X-Kedge-Error-Type: no-route"
    expect "a route for a client certificate of alice" "$try_admin" '"backend": "api", "path": "/status"'
    expect "that route without a certificate: 401" "$try_admin_none" "x-kedge-error-type: unauthorized"
    expect "the bearer token" "$try_token" "^web backend :900[123] says hello to web.demo.local/private/x"
    expect "no bearer token: 401" "$try_token_none" "X-Kedge-Error-Type: unauthorized"
    expect "gRPC unary, round robin" "$try_grpc" "status=OK backend=echo-a"
    expect "gRPC unary, round robin (2)" "$try_grpc" "status=OK backend=echo-b"
    expect "gRPC streaming over TLS" "$try_grpc_tls" "status=OK"
    expect "gRPC without a route: UNIMPLEMENTED" "$try_grpc_none" "status=UNIMPLEMENTED code=12 message=unknown route to service"

    return $fail
}

case "${1:-start}" in
stop)
    stop
    exit 0
    ;;
check)
    check
    exit $?
    ;;
start)
    ;;
*)
    echo "usage: scripts/demo.sh [start|check|stop]" >&2
    exit 2
    ;;
esac

scripts/deps.sh
module=$(scripts/build-module.sh)
scripts/make-certs.sh "$certs"

stop
mkdir -p "$prefix/conf" "$prefix/logs"
sed -e "s|@MODULE@|$module|" -e "s|@CERTS@|$certs|" docker/demo.conf \
    > "$prefix/conf/nginx.conf"

for b in a:9101 b:9102; do
    name=echo-${b%%:*}
    port=${b##*:}
    setsid "$py" t/peers/grpc_server.py --listen "127.0.0.1:$port" \
        --name "$name" > "$prefix/logs/grpc-$name.log" 2>&1 &
    echo $! > "$prefix/logs/grpc-$name.pid"
done

/usr/sbin/nginx -p "$prefix" -c conf/nginx.conf

for port in 8080 8081 8443 9101 9102; do
    wait_port "$port"
done

cat <<TXT

ngx_kedge_module demo is running (nginx prefix: build/demo, config:
build/demo/conf/nginx.conf, made from docker/demo.conf).

Try:
  $try_web
  $try_tls
  $try_h2
  $try_none
  $try_admin
  $try_admin_none
  $try_token
  $try_token_none
  $try_grpc
  $try_grpc_tls
  $try_grpc_none

Watch the routing decisions:  tail -f build/demo/logs/access.log
Check every answer at once:   scripts/demo.sh check
Stop it:                      scripts/demo.sh stop
TXT
