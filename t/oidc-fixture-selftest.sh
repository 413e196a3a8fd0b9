#!/bin/bash
# Checks the OpenID fixtures (t/fixtures/oidc) from the outside, with curl
# and jose (t/fixtures/oidc/verify.mjs), on loopback with the test PKI:
#   - issuer.mjs: discovery, an ID token of the provider's authorization-
#     code flow that verifies against its jwks, with sub, perms, aud, ttl;
#     the jwks Cache-Control; rotation (kept and dropped keys); down/up;
#     the counters; ES256; SIGTERM;
#   - static-issuer.mjs: discovery (and --issuer-override), the jwks file
#     re-read on every request, the counters;
#   - mint.mjs: every case gives a token, and each is what its name says
#     (t/fixtures/oidc/selftest.mjs); the good ones verify against jwks.json;
#   - Test::Kedge::Oidc from Perl; its processes are gone when Perl exits.
#
# usage: t/oidc-fixture-selftest.sh      KEEP_SELFTEST=1 keeps the temp dir
#        KEDGE_NODE=/path/to/node picks the node binary
# exit status: 0 iff all checks passed.

set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
fx=$here/fixtures/oidc
node=${KEDGE_NODE:-node}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kedge-oidc-selftest.XXXXXX")
certs=$repo/build/certs
pids=()

# shellcheck disable=SC2317  # (called by the trap)
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
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
# check DESCRIPTION COMMAND...: ok iff the command succeeds
check() {
    local what=$1; shift
    if "$@"; then ok "$what"; else not_ok "$what"; fi
}
# jtrue FILE EXPR: EXPR (JavaScript, the file's JSON is o) is true
jtrue() {
    "$node" -e 'const o = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
                process.exit(eval(process.argv[2]) ? 0 : 1)' "$1" "$2"
}
# jget FILE EXPR: prints EXPR
jget() {
    "$node" -e 'const o = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
                console.log(eval(process.argv[2]))' "$1" "$2"
}

# start NAME SCRIPT ARGS...: runs a fixture, waits for READY; its issuer
# URL is URL[NAME], its control URL CTL[NAME]
declare -A URL CTL PID
start() {
    local name=$1 script=$2; shift 2
    "$node" "$fx/$script" --listen 127.0.0.1:0 --control 127.0.0.1:0 \
        --cert "$certs/server.crt" --key "$certs/server.key" "$@" \
        > "$tmp/$name.out" 2> "$tmp/$name.err" &
    pids+=($!)
    PID[$name]=$!
    for _ in $(seq 100); do
        grep -q '^READY' "$tmp/$name.out" && break
        sleep 0.1
    done
    local ready
    read -r ready "URL[$name]" "CTL[$name]" < "$tmp/$name.out"
    if [ "${ready:-}" != READY ]; then
        echo "$script did not start:"; cat "$tmp/$name.err"; exit 1
    fi
}

# stop NAME: SIGTERM, a clean exit within 5 s, nothing on stderr
stop() {
    local name=$1 pid=${PID[$1]} rc
    kill -TERM "$pid"
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        not_ok "$name: SIGTERM, still running after 5 s"; return
    fi
    wait "$pid"; rc=$?
    check "$name: SIGTERM, exit 0" [ "$rc" = 0 ]
    if [ -s "$tmp/$name.err" ]; then
        not_ok "$name: stderr is empty"; cat "$tmp/$name.err"
    else
        ok "$name: stderr is empty"
    fi
}

get()  { curl -s --cacert "$certs/ca.crt" "$@"; }
ctl()  { curl -s -X "$1" "$2"; }
# token CTL QUERY FILE: an ID token from the provider into FILE
token() { ctl POST "$1/token?$2" > "$3.json" && jget "$3.json" o.id_token > "$3"; }
# verify JWKS TOKEN-FILE OUT [verify.mjs options]
verify() {
    local jwks=$1 tok=$2 out=$3; shift 3
    "$node" "$fx/verify.mjs" "$jwks" "$(cat "$tok")" "$@" > "$out" 2> "$out.err"
}

start_ms=$(($(date +%s%N) / 1000000))

"$fx/install.sh" || exit 1
"$repo/scripts/make-certs.sh" "$certs" || exit 1
"$node" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' ||
    { echo "node 18 or later wanted, $("$node" --version) found"; exit 1; }
ok "node $("$node" --version), modules installed"

# ---- issuer.mjs

start op issuer.mjs --max-age 60
op=${URL[op]}
c=${CTL[op]}
check "issuer: READY https://127.0.0.1:PORT http://127.0.0.1:CPORT" \
    grep -qE '^READY https://127\.0\.0\.1:[0-9]+ http://127\.0\.0\.1:[0-9]+$' "$tmp/op.out"

get "$op/.well-known/openid-configuration" > "$tmp/disc.json"
check "issuer: discovery: issuer and jwks_uri" \
    jtrue "$tmp/disc.json" "o.issuer === '$op' && o.jwks_uri === '$op/jwks'"

token "$c" "sub=alice&perms=a,b" "$tmp/t1"
get "$op/jwks" > "$tmp/jwks1.json"
ctl GET "$c/stats" > "$tmp/stats.json"
kid1=$(jget "$tmp/stats.json" 'o.kids[0]')
check "issuer: the token verifies against the jwks (jose)" \
    verify "$tmp/jwks1.json" "$tmp/t1" "$tmp/v1.json" --iss "$op"
check "issuer: sub alice, perms [a,b], aud kedge, ttl 3600, kid $kid1" \
    jtrue "$tmp/v1.json" "o.payload.sub === 'alice' && o.payload.aud === 'kedge'
        && JSON.stringify(o.payload.perms) === '[\"a\",\"b\"]'
        && o.payload.exp - o.payload.iat === 3600 && o.header.kid === '$kid1'
        && o.header.alg === 'RS256' && typeof o.payload.nonce === 'string'"

token "$c" "sub=bob&aud=other&ttl=5" "$tmp/t2"
verify "$tmp/jwks1.json" "$tmp/t2" "$tmp/v2.json" --iss "$op" --aud other
check "issuer: aud=other&ttl=5, no perms: aud other, exp - iat = 5, perms []" \
    jtrue "$tmp/v2.json" "o.payload.aud === 'other' && o.payload.sub === 'bob'
        && o.payload.exp - o.payload.iat === 5 && o.payload.perms.length === 0"
check "issuer: ttl=0 is a 400" \
    [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$c/token?ttl=0")" = 400 ]

cache_control() { get -D - -o /dev/null "$op/jwks" | tr -d '\r' | sed -n 's/^cache-control: //Ip'; }
check "issuer: jwks Cache-Control from --max-age 60" [ "$(cache_control)" = "public, max-age=60" ]
ctl POST "$c/max-age?s=0" > /dev/null
check "issuer: max-age 0: no-store" [ "$(cache_control)" = "no-store" ]
ctl POST "$c/max-age?s=7" > /dev/null
check "issuer: max-age 7" [ "$(cache_control)" = "public, max-age=7" ]
ctl POST "$c/max-age" > /dev/null
check "issuer: max-age back to the default" [ "$(cache_control)" = "public, max-age=60" ]

ctl POST "$c/rotate" > "$tmp/rot.json"
ctl GET "$c/stats" > "$tmp/stats.json"
kid2=$(jget "$tmp/rot.json" o.kid)
check "issuer: rotate: kids [new, old]" \
    jtrue "$tmp/stats.json" "JSON.stringify(o.kids) === JSON.stringify(['$kid2', '$kid1'])"
get "$op/jwks" > "$tmp/jwks2.json"
check "issuer: rotate: the jwks has both" \
    jtrue "$tmp/jwks2.json" "o.keys.map((k) => k.kid).join() === '$kid2,$kid1'"
token "$c" "sub=carol&perms=x" "$tmp/t3"
verify "$tmp/jwks2.json" "$tmp/t3" "$tmp/v3.json" --iss "$op"
check "issuer: rotate: a new token has the new kid" jtrue "$tmp/v3.json" "o.header.kid === '$kid2'"
check "issuer: rotate: the old token still verifies" \
    verify "$tmp/jwks2.json" "$tmp/t1" "$tmp/v1b.json" --iss "$op"

ctl POST "$c/rotate?drop_old=1" > "$tmp/rot.json"
kid3=$(jget "$tmp/rot.json" o.kid)
get "$op/jwks" > "$tmp/jwks3.json"
check "issuer: rotate?drop_old=1: only the new key" \
    jtrue "$tmp/jwks3.json" "o.keys.length === 1 && o.keys[0].kid === '$kid3'"
if verify "$tmp/jwks3.json" "$tmp/t1" "$tmp/v1c.json" --iss "$op"; then
    not_ok "issuer: drop_old: the old token no longer verifies"
else
    check "issuer: drop_old: the old token no longer verifies (no key)" \
        grep -q ERR_JWKS_NO_MATCHING_KEY "$tmp/v1c.json.err"
fi

ctl POST "$c/down" > /dev/null
get "$op/jwks" > /dev/null; rc=$?
check "issuer: down: connection refused (curl exit $rc)" [ "$rc" = 7 ]
token "$c" "sub=dave" "$tmp/t4"
check "issuer: down: tokens still to be had" [ -s "$tmp/t4" ]
ctl POST "$c/up" > /dev/null
check "issuer: up: serving on the same port" \
    jtrue <(get "$op/jwks" | tee "$tmp/jwks4.json") "o.keys[0].kid === '$kid3'"
check "issuer: the token of the down time verifies" \
    verify "$tmp/jwks4.json" "$tmp/t4" "$tmp/v4.json" --iss "$op"

ctl POST "$c/stats/reset" > /dev/null
for _ in 1 2; do get "$op/.well-known/openid-configuration" > /dev/null; done
for q in "" "?a=1" ""; do get "$op/jwks$q" > /dev/null; done
get "$op/auth" > /dev/null
ctl GET "$c/stats" > "$tmp/stats.json"
check "issuer: stats count 2 discovery, 3 jwks requests" \
    jtrue "$tmp/stats.json" "o.discovery === 2 && o.jwks === 3 && o.kids.length === 1"

start es issuer.mjs --alg ES256
token "${CTL[es]}" "sub=erin&perms=p" "$tmp/t5"
get "${URL[es]}/jwks" > "$tmp/jwks5.json"
verify "$tmp/jwks5.json" "$tmp/t5" "$tmp/v5.json" --iss "${URL[es]}"
check "issuer --alg ES256: an ES256 token that verifies" \
    jtrue "$tmp/v5.json" "o.header.alg === 'ES256' && o.payload.perms[0] === 'p'"
stop es
stop op

# ---- mint.mjs

"$node" "$fx/mint.mjs" keys "$tmp/keys" || exit 1
check "mint keys: the files" test -s "$tmp/keys/rsa1.jwk" -a -s "$tmp/keys/ec1.jwk" \
    -a -s "$tmp/keys/weak.jwk" -a -s "$tmp/keys/oct.jwk" -a -s "$tmp/keys/dup.jwk" \
    -a -s "$tmp/keys/jwks.json" -a -s "$tmp/keys/jwks-weak.json" -a -s "$tmp/keys/rsa1.pub.pem"
check "mint keys: jwks.json has no private parts" \
    jtrue "$tmp/keys/jwks.json" "o.keys.length === 2 && o.keys.every((k) => !k.d)"

# ---- static-issuer.mjs

cp "$tmp/keys/jwks.json" "$tmp/live.json"
start st static-issuer.mjs --jwks "$tmp/live.json"
start ov static-issuer.mjs --jwks "$tmp/live.json" --issuer-override https://elsewhere.invalid
check "static: discovery: its own issuer" \
    jtrue <(get "${URL[st]}/.well-known/openid-configuration") \
        "o.issuer === '${URL[st]}' && o.jwks_uri === '${URL[st]}/jwks'"
check "static --issuer-override: discovery says the other issuer" \
    jtrue <(get "${URL[ov]}/.well-known/openid-configuration") \
        "o.issuer === 'https://elsewhere.invalid' && o.jwks_uri === '${URL[ov]}/jwks'"
check "static: the jwks is the file" cmp -s <(get "${URL[st]}/jwks") "$tmp/live.json"
printf 'not json {' > "$tmp/live.json"
check "static: re-read on every request" [ "$(get "${URL[st]}/jwks")" = "not json {" ]
check "static: stats" \
    jtrue <(ctl GET "${CTL[st]}/stats") "o.discovery === 1 && o.jwks === 2 && o.kids.length === 0"
cp "$tmp/keys/jwks-weak.json" "$tmp/live.json"
check "static: kids of the file in stats" \
    jtrue <(ctl GET "${CTL[st]}/stats") "o.kids.join() === 'rsa1,ec1,weak,oct,dup,dup'"

# every case, against the static issuer's URL
: > "$tmp/tokens"
empty=0
for case in $("$node" "$fx/mint.mjs" cases) random-kid; do
    t=$("$node" "$fx/mint.mjs" token "$tmp/keys" "$case" --iss "${URL[st]}" --perms a,b)
    if [ -z "$t" ]; then empty=$((empty + 1)); echo "# $case: empty"; fi
    echo "$case $t" >> "$tmp/tokens"
done
check "mint: $(wc -l < "$tmp/tokens") tokens, none empty" [ "$empty" = 0 ]
"$node" "$fx/selftest.mjs" "$tmp/keys" "${URL[st]}" "$tmp/tokens" > "$tmp/cases.out"
rc=$?
sed 's/^/    /' "$tmp/cases.out"
check "mint: every case is what it says ($(grep -c '^ok' "$tmp/cases.out") checks)" [ "$rc" = 0 ]
for case in good-rs256 good-es256 aud-array jku oversize; do
    grep "^$case " "$tmp/tokens" | cut -d' ' -f2 > "$tmp/good"
    check "mint: $case verifies against jwks.json (verify.mjs)" \
        verify "$tmp/keys/jwks.json" "$tmp/good" /dev/null --iss "${URL[st]}"
done
grep "^leeway-exp " "$tmp/tokens" | cut -d' ' -f2 > "$tmp/good"
check "mint: leeway-exp verifies with a 30 s leeway" \
    verify "$tmp/keys/jwks.json" "$tmp/good" /dev/null --iss "${URL[st]}" --leeway 30
stop st
stop ov

# ---- Test::Kedge::Oidc

TEST_NGINX_OIDC_KEYS=$tmp/keys perl -I "$here/lib" -e '
    use Test::Kedge::Oidc;
    my $i = oidc_issuer();
    my $s = static_issuer();
    print "pids $i->{pid} $s->{pid}\n";
    print "token ", oidc_token(sub => "pat", perms => ["a", "b"]), "\n";
    print "mint ", mint("good-es256", perms => "a"), "\n";
    print "jwks ", oidc_control(GET => "/stats")->{jwks}, "\n";
    print "kids ", join(",", @{ oidc_control(GET => "/stats",
        $ENV{TEST_NGINX_STATIC_CONTROL})->{kids} }), "\n";
    print "env $ENV{TEST_NGINX_OIDC_ISSUER} $ENV{TEST_NGINX_STATIC_PORT}\n";
' > "$tmp/perl.out" 2> "$tmp/perl.err"
rc=$?
check "Oidc.pm: issuer, token, mint, control (exit $rc)" \
    grep -qE '^kids rsa1,ec1$' "$tmp/perl.out"
check "Oidc.pm: the token and the minted one have three segments" \
    [ "$(grep -cE '^(token|mint) [^.]+\.[^.]+\.[^.]+$' "$tmp/perl.out")" = 2 ]
read -r _ p1 p2 < <(grep '^pids' "$tmp/perl.out")
sleep 0.2
check "Oidc.pm: the fixtures stopped with perl" \
    sh -c "! kill -0 ${p1:-0} 2>/dev/null && ! kill -0 ${p2:-0} 2>/dev/null"
if [ -s "$tmp/perl.err" ]; then cat "$tmp/perl.err"; fi

ms=$(($(date +%s%N) / 1000000 - start_ms))
echo "selftest: $failures failure(s), $((ms / 1000)).$((ms % 1000 / 100)) s"
[ "$failures" = 0 ]
