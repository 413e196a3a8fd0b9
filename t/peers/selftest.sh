#!/bin/bash
# Self-check of the gRPC test peers: runs grpc_server.py backends on free
# loopback ports and calls them directly with grpc_client.py (no proxy),
# plaintext, TLS and mutual TLS. Exits 0 iff every check passes.
set -u

here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
tmp=$(mktemp -d)
failures=0
pids=()

cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

# start_server ARGS...: starts a backend, waits for its READY line and sets
# $ports to the ports it printed.
start_server() {
    local out="$tmp/server${#pids[@]}" ready
    "$py" "$here/grpc_server.py" --gen-dir "$tmp/gen" "$@" >"$out.out" 2>"$out.err" &
    pids+=($!)
    for _ in $(seq 100); do
        if { read -r ready ports <"$out.out"; } 2>/dev/null && [ "$ready" = READY ]; then
            return
        fi
        sleep 0.1
    done
    echo "server $* did not start:" >&2
    cat "$out.err" >&2
    exit 1
}

# client ARGS...: grpc_client.py, its user-agent made version-independent
# (its stderr, where grpc-core logs, is left alone).
client() {
    "$py" "$here/grpc_client.py" --gen-dir "$tmp/gen" "$@" |
        sed 's/user-agent=grpc-python[^,]*/user-agent=UA/'
    return "${PIPESTATUS[0]}"
}

# check NAME EXPECTED ACTUAL: compares the outputs.
check() {
    if [ "$2" = "$3" ]; then
        echo "ok - $1"
    else
        echo "not ok - $1"
        diff <(echo "$2") <(echo "$3") | sed 's/^/#   /'
        failures=$((failures + 1))
    fi
}

# check_rc NAME EXPECTED-RC COMMAND...: checks a command's exit code.
check_rc() {
    local name=$1 want=$2
    shift 2
    "$@" >/dev/null 2>&1
    check "$name" "rc=$want" "rc=$?"
}

# Throwaway PKI: a CA, a server certificate for echo.test, a client one.
pki() {
    local d="$tmp/pki"
    mkdir "$d" && cd "$d" || exit 1
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test-ca \
        -keyout ca.key -out ca.crt
    for name in server client; do
        openssl req -newkey rsa:2048 -nodes -subj "/CN=$name" \
            -keyout "$name.key" -out "$name.csr"
        openssl x509 -req -days 1 -in "$name.csr" -CA ca.crt -CAkey ca.key \
            -CAcreateserial -out "$name.crt" \
            -extfile <(echo subjectAltName=DNS:echo.test)
    done
    cd - >/dev/null || exit 1
}
pki >/dev/null 2>&1 || { echo "openssl failed" >&2; exit 1; }
ca="$tmp/pki/ca.crt"

# Plaintext: two backends in one process.
start_server --listen 127.0.0.1:0=b1,127.0.0.1:0=b2
read -r p1 p2 <<<"$ports"
a1=127.0.0.1:$p1
a2=127.0.0.1:$p2
ua=user-agent=UA

check "unary with authority and metadata" \
"status=OK backend=b1 authority=foo.example.com:443 seq=0 conn=0 message=hi meta=authorization=x,k-bin=YWJj,proxy-authorization=y,$ua" \
"$(client --target "$a1" --authority foo.example.com:443 --message hi \
    -H authorization=x -H Proxy-Authorization=y -H k-bin=abc)"

check "server stream" \
"status=OK backend=b1 authority=$a1 seq=0 conn=0 message=hello meta=$ua
status=OK backend=b1 authority=$a1 seq=1 conn=0 message=hello meta=$ua" \
"$(client --target "$a1" --method ServerStream --count 2)"

check "empty server stream" "status=OK replies=0" \
"$(client --target "$a1" --method ServerStream --count 0)"

check "client stream" \
"status=OK backend=b1 authority=$a1 seq=3 conn=0 message=a,a,a meta=$ua" \
"$(client --target "$a1" --method ClientStream --count 3 --message a)"

check "bidi" \
"status=OK backend=b1 authority=$a1 seq=0 conn=0 message=hello meta=$ua
status=OK backend=b1 authority=$a1 seq=1 conn=0 message=hello meta=$ua" \
"$(client --target "$a1" --method Bidi --count 2)"

check "other service" \
"status=OK backend=b1 authority=$a1 seq=0 conn=0 message=hello meta=$ua" \
"$(client --target "$a1" --method OtherPing)"

check "method by path" \
"status=OK backend=b1 authority=$a1 seq=0 conn=0 message=hello meta=$ua" \
"$(client --target "$a1" --method /kedge.test.Echo/Unary)"

check "unknown method" "status=UNIMPLEMENTED code=12 message=Method not found!" \
"$(client --target "$a1" --method /kedge.test.Nope/Unary)"

check "deadline" "status=DEADLINE_EXCEEDED code=4 message=Deadline Exceeded" \
"$(client --target "$a1" --delay 1000 --timeout 0.2)"

# Every call so far but the unknown method's, each on its own connection.
check "stats count calls and connections" "status=OK backend=b1 connections=8 calls=8" \
"$(client --target "$a1" --method Stats)"

check "repeat reuses one connection" \
"status=OK backend=b2 authority=$a2 seq=0 conn=0 message=hello meta=$ua
status=OK backend=b2 authority=$a2 seq=0 conn=0 message=hello meta=$ua
status=OK backend=b2 authority=$a2 seq=0 conn=0 message=hello meta=$ua" \
"$(client --target "$a2" --repeat 3)"
client --target "$a2" >/dev/null

check "stats reset" "status=OK backend=b2 connections=2 calls=4
status=OK backend=b2 connections=0 calls=0" \
"$(client --target "$a2" --method Stats --reset; client --target "$a2" --method Stats)"

# --fail-code, by name and by number; Stats are exempt.
start_server --listen 127.0.0.1:0 --name bad --fail-code unavailable
p3=$ports
start_server --listen 127.0.0.1:0=denied --fail-code 7
p4=$ports
check "fail code" "status=UNAVAILABLE code=14 message=bad: failing on purpose" \
"$(client --target "127.0.0.1:$p3")"
check "fail code on a stream" "status=PERMISSION_DENIED code=7 message=denied: failing on purpose" \
"$(client --target "127.0.0.1:$p4" --method Bidi)"
check "stats despite fail code" "status=OK backend=denied connections=1 calls=1" \
"$(client --target "127.0.0.1:$p4" --method Stats)"

# TLS; the authority is also the name the certificate must match.
start_server --listen 127.0.0.1:0=tls --tls "$tmp/pki/server.crt" "$tmp/pki/server.key"
check "tls" "status=OK backend=tls authority=echo.test:443 seq=0 conn=0 message=hello meta=$ua" \
"$(client --target "127.0.0.1:$ports" --tls --ca "$ca" --authority echo.test:443)"
check "tls name mismatch" "status=UNAVAILABLE" \
"$(client --target "127.0.0.1:$ports" --tls --ca "$ca" | cut -d' ' -f1)"

# Mutual TLS.
start_server --listen 127.0.0.1:0=mtls --tls "$tmp/pki/server.crt" "$tmp/pki/server.key" \
    --client-ca "$ca"
check "mtls" "status=OK backend=mtls authority=echo.test seq=0 conn=0 message=hello meta=$ua" \
"$(client --target "127.0.0.1:$ports" --tls --ca "$ca" --authority echo.test \
    --cert "$tmp/pki/client.crt" --key "$tmp/pki/client.key")"
check "mtls without client cert" "status=UNAVAILABLE" \
"$(client --target "127.0.0.1:$ports" --tls --ca "$ca" --authority echo.test | cut -d' ' -f1)"

# Exit codes.
check_rc "client: failed call exits 0" 0 client --target 127.0.0.1:1 --timeout 1
check_rc "client: bad method is a usage error" 2 client --target "$a1" --method Nope
check_rc "client: bad -H is a usage error" 2 client --target "$a1" -H novalue
check_rc "server: OK is no fail code" 2 "$py" "$here/grpc_server.py" --listen 127.0.0.1:0 --fail-code OK
check_rc "server: port in use" 1 "$py" "$here/grpc_server.py" --gen-dir "$tmp/gen" --listen "$a1"

kill -TERM "${pids[0]}"
wait "${pids[0]}"
check "server: SIGTERM exits 0" "rc=0" "rc=$?"

[ "$failures" = 0 ] && echo "all ok" || echo "$failures failed"
[ "$failures" = 0 ]
