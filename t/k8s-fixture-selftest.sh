#!/bin/bash
# Checks the Kubernetes API server fixture (t/fixtures/k8s/apiserver.py) from
# the outside: starts it on loopback with the test PKI of scripts/make-certs.sh,
# then
#   - with curl + protoc --decode: a protobuf list is "k8s\0" + Unknown;
#   - with t/fixtures/k8s/selftest.py (its own message classes, generated here
#     from proto/): lists, watch frames, bookmarks, 410 after compaction, the
#     token check and rotation, every fault, the counters;
#   - SIGTERM: the fixture exits 0.
#
# usage: t/k8s-fixture-selftest.sh       KEEP_SELFTEST=1 keeps the temp dir
# exit status: 0 iff all checks passed.

set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
py=/usr/bin/python3                     # Debian's, with python3-protobuf
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kedge-k8s-selftest.XXXXXX")
pid=

# shellcheck disable=SC2317  # (called by the trap)
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    if [ -n "${KEEP_SELFTEST:-}" ]; then
        echo "kept $tmp"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT

failures=0
ok()     { echo "ok - $*"; }
not_ok() { echo "NOT OK - $*"; failures=$((failures + 1)); }

"$repo/scripts/make-certs.sh" "$tmp/certs" || exit 1
echo "s3cret-token" > "$tmp/token"
mkdir -p "$tmp/py"
# shellcheck disable=SC2046
(cd "$repo/proto" &&
    protoc -I . --python_out "$tmp/py" $(find . -name '*.proto' | cut -c3- | sort)) ||
    exit 1

"$py" "$here/fixtures/k8s/apiserver.py" \
    --listen 127.0.0.1:0 --control 127.0.0.1:0 \
    --cert "$tmp/certs/server.crt" --key "$tmp/certs/server.key" \
    --token-file "$tmp/token" --bookmark-interval 0.5 \
    --proto-cache "$tmp/proto-cache" > "$tmp/fixture.out" 2> "$tmp/fixture.err" &
pid=$!

for _ in $(seq 100); do
    grep -q '^READY' "$tmp/fixture.out" && break
    sleep 0.1
done
read -r ready api_port control_port < "$tmp/fixture.out"
if [ "${ready:-}" != READY ]; then
    echo "fixture did not start:"; cat "$tmp/fixture.err"; exit 1
fi
ok "fixture ready: api $api_port, control $control_port"

# ---- shell-level: curl and protoc, nothing of ours but proto/

curl -sf -X PUT "http://127.0.0.1:$control_port/endpointslices/default/web-x" \
    -d '{"service":"web","endpoints":[{"addresses":["10.9.0.1"]}],
         "ports":[{"port":80}]}' > /dev/null
curl -sf --cacert "$tmp/certs/ca.crt" -H "Authorization: Bearer s3cret-token" \
    -H "Accept: application/vnd.kubernetes.protobuf" \
    "https://localhost:$api_port/apis/discovery.k8s.io/v1/namespaces/default/endpointslices" \
    -o "$tmp/list.bin"
if [ "$(head -c 4 "$tmp/list.bin" | od -An -tx1 | tr -d ' \n')" = 6b387300 ]; then
    ok "curl: list starts with k8s\\0"
else
    not_ok "curl: list starts with k8s\\0"
fi
tail -c +5 "$tmp/list.bin" |
    protoc -I "$repo/proto" --decode k8s.io.apimachinery.pkg.runtime.Unknown \
        k8s.io/apimachinery/pkg/runtime/generated.proto > "$tmp/list.txt"
if grep -q 'kind: "EndpointSliceList"' "$tmp/list.txt" &&
   grep -q 'apiVersion: "discovery.k8s.io/v1"' "$tmp/list.txt"; then
    ok "protoc --decode: Unknown with typeMeta EndpointSliceList"
else
    not_ok "protoc --decode: Unknown with typeMeta EndpointSliceList"
fi
curl -sf -X DELETE "http://127.0.0.1:$control_port/endpointslices/default/web-x" \
    > /dev/null

# ---- the client checks

"$py" "$here/fixtures/k8s/selftest.py" "$api_port" "$control_port" \
    "$tmp/certs/ca.crt" "$tmp/token" "$tmp/py" || failures=$((failures + 1))

# ---- SIGTERM

kill -TERM "$pid"
for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
    not_ok "SIGTERM: fixture still running after 5 s"
else
    wait "$pid"; rc=$?
    pid=
    if [ "$rc" = 0 ]; then ok "SIGTERM: clean exit"; else not_ok "SIGTERM: exit $rc"; fi
fi
if [ -s "$tmp/fixture.err" ]; then
    not_ok "fixture stderr is empty"; cat "$tmp/fixture.err"
fi

echo "selftest: $failures failure group(s)"
[ "$failures" = 0 ]
