# OIDC ID tokens in Proxy-Authorization, checked against the keys of an
# issuer on loopback (t/fixtures/oidc/static-issuer.mjs) and minted with
# jose (t/fixtures/oidc/mint.mjs): good tokens pass, each hostile one is
# refused for its own reason, a flood of unknown kids costs the issuer one
# refetch, unusable keys are left out of the set; Proxy-Authorization
# never reaches an HTTP or a gRPC backend, Authorization does; a gRPC
# client sees UNAUTHENTICATED.

use Test::Nginx::Socket 'no_plan';
use Test::Kedge::Exec;
use Test::Kedge::Peers;
use Test::Kedge::Oidc;
use JSON::PP ();

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
$ENV{TEST_NGINX_B_PORT} ||= $port + 140;
$ENV{TEST_NGINX_G_PORT} ||= $port + 141;
$ENV{TEST_NGINX_H2C_PORT} ||= $port + 142;
$ENV{TEST_NGINX_CLIENT} = repo_root() . "/t/peers/grpc_client.py";

test_certs();
static_issuer();
static_issuer(jwks => 'jwks-weak.json', env => 'WEAK');

# an issuer whose key set the tests rewrite: rsa1 alone to start with
$ENV{TEST_NGINX_ROT_JWKS} = repo_root() . "/build/oidc-rot-jwks.json";
{
    open my $in, '<', oidc_keys() . "/jwks.json" or die "jwks.json: $!";
    my $set = JSON::PP::decode_json(do { local $/; <$in> });
    $set->{keys} = [grep { $_->{kid} eq 'rsa1' } @{ $set->{keys} }];
    open my $out, '>', $ENV{TEST_NGINX_ROT_JWKS} or die "$!";
    print $out JSON::PP::encode_json($set);
}
static_issuer(jwks => $ENV{TEST_NGINX_ROT_JWKS}, env => 'ROT');

$ENV{TEST_NGINX_MINT} = "node " . repo_root() . "/t/fixtures/oidc/mint.mjs"
                        . " token " . oidc_keys();
$ENV{TEST_NGINX_TOKENS} = "node " . repo_root() . "/t/fixtures/oidc/tokens.mjs "
                          . oidc_keys() . " ec1";

grpc_server("--listen", "127.0.0.1:$ENV{TEST_NGINX_G_PORT}=grpc-a");

# "Proxy-Authorization: Bearer" and a token of mint.mjs's case
sub bearer {
    my ($case, %o) = @_;
    return "Proxy-Authorization: Bearer "
           . mint($case, perms => ['a'], %o) . "\n";
}

our $Common = <<'_EOC_';
    kedge_oidc_issuer $TEST_NGINX_STATIC_ISSUER
                      ca_file=$TEST_NGINX_CERT_DIR/ca.crt cooldown=60s;
    kedge_oidc_issuer $TEST_NGINX_WEAK_ISSUER
                      ca_file=$TEST_NGINX_CERT_DIR/ca.crt cooldown=60s;
    kedge_oidc_issuer $TEST_NGINX_ROT_ISSUER
                      ca_file=$TEST_NGINX_CERT_DIR/ca.crt cooldown=60s;

    kedge_backend web endpoints=127.0.0.1:$TEST_NGINX_B_PORT;
    kedge_backend ga endpoints=127.0.0.1:$TEST_NGINX_G_PORT protocol=grpc;
    kedge_http_route backend=web;
    kedge_grpc_route backend=ga;

    upstream kedge {
        kedge_balancer;
        keepalive 8;
    }

    # the backend shows what reached it
    server {
        listen 127.0.0.1:$TEST_NGINX_B_PORT;
        return 200 "pa=[$http_proxy_authorization] a=[$http_authorization]\n";
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_H2C_PORT http2;
        kedge_oidc issuer=$TEST_NGINX_STATIC_ISSUER client_id=kedge allow=a;
        location / {
            kedge_pass ssl_trusted_certificate=$TEST_NGINX_CERT_DIR/ca.crt;
        }
    }
_EOC_

our $Config = <<'_EOC_';
    kedge_oidc issuer=$TEST_NGINX_STATIC_ISSUER client_id=kedge
               allow=a,b max_token=4k;

    location / {
        kedge_pass ssl_trusted_certificate=$TEST_NGINX_CERT_DIR/ca.crt;
        add_header X-Sub $kedge_auth_subject;
        add_header X-Method $kedge_auth_method;
    }

    location /strict {
        kedge_oidc issuer=$TEST_NGINX_STATIC_ISSUER client_id=kedge allow=a
                   leeway=0;
        proxy_pass http://127.0.0.1:$TEST_NGINX_B_PORT;
    }

    location /es {
        kedge_oidc issuer=$TEST_NGINX_STATIC_ISSUER client_id=kedge allow=a
                   algs=ES256;
        proxy_pass http://127.0.0.1:$TEST_NGINX_B_PORT;
    }

    location /rot {
        kedge_oidc issuer=$TEST_NGINX_ROT_ISSUER client_id=kedge allow=a;
        proxy_pass http://127.0.0.1:$TEST_NGINX_B_PORT;
    }

    location /weak {
        kedge_oidc issuer=$TEST_NGINX_WEAK_ISSUER client_id=kedge allow=a;
        proxy_pass http://127.0.0.1:$TEST_NGINX_B_PORT;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $Common . ($block->http_config // ''));
    $block->set_value("config", $Config) unless defined $block->config;
    $block->set_value("request", "GET /t") unless defined $block->request;
    $block->set_value("timeout", 10) unless defined $block->timeout;
});

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: a good RS256 token passes; the backend sees no Proxy-Authorization, its own Authorization
--- more_headers eval
::bearer('good-rs256', sub => 'alice') . "Authorization: Bearer backend-own\n"
--- response_body
pa=[] a=[Bearer backend-own]
--- response_headers
X-Sub: alice
X-Method: token
x-kedge-backend-name: web
--- no_error_log
unauthorized



=== TEST 2: a good ES256 token passes
--- more_headers eval
::bearer('good-es256')
--- response_body
pa=[] a=[]



=== TEST 3: an audience list holding the client id passes
--- more_headers eval
::bearer('aud-array')
--- error_code: 200



=== TEST 4: jku, x5u and jwk in the header are never followed
--- more_headers eval
::bearer('jku')
--- error_code: 200



=== TEST 5: an audience list with "azp" the client id passes
--- more_headers eval
::bearer('azp-self')
--- error_code: 200



=== TEST 6: an audience list with "azp" another party is refused (OIDC Core 3.1.3.7)
--- more_headers eval
::bearer('azp-other')
--- error_code: 401
--- error_log
token: the authorized party ("azp") is not the client id



=== TEST 7: expired 5 s ago: within the default leeway (60 s)
--- more_headers eval
::bearer('leeway-exp')
--- error_code: 200



=== TEST 8: expired 5 s ago: not under leeway=0
--- more_headers eval
::bearer('leeway-exp')
--- request
GET /strict
--- error_code: 401
--- error_log
token: expired



=== TEST 9: no Proxy-Authorization: 401, kedge's headers and body
--- response_headers
X-Kedge-Error: Unauthorized
X-Kedge-Error-Type: unauthorized
Content-Type: text/plain
--- response_body chomp
Unauthorized
--- error_code: 401
--- error_log
kedge: unauthorized: client certificate: not asked for; token: no Proxy-Authorization



=== TEST 10: another scheme than Bearer
--- more_headers
Proxy-Authorization: Basic YWxpY2U6c2VjcmV0
--- error_code: 401
--- error_log
Proxy-Authorization is not "Bearer"



=== TEST 11: Proxy-Authorization twice, one of them good: refused
--- more_headers eval
::bearer('good-rs256') . "Proxy-Authorization: Bearer x.y.z\n"
--- error_code: 401
--- error_log
Proxy-Authorization more than once



=== TEST 12: alg "none", unsigned
--- more_headers eval
::bearer('alg-none')
--- error_code: 401
--- error_log
token: an empty segment



=== TEST 13: HS256 keyed with the RSA public key (algorithm confusion)
--- more_headers eval
::bearer('hs256-rsa-pub')
--- error_code: 401
--- error_log
token: unsupported algorithm



=== TEST 14: an algorithm outside the allow-list (algs=ES256, an RS256 token)
--- more_headers eval
::bearer('good-rs256')
--- request
GET /es
--- error_code: 401
--- error_log
token: algorithm not allowed



=== TEST 15: an unknown kid
--- more_headers eval
::bearer('unknown-kid')
--- error_code: 401
--- error_log
token: unknown kid



=== TEST 16: expired
--- more_headers eval
::bearer('expired')
--- error_code: 401
--- error_log
token: expired



=== TEST 17: nbf in the future
--- more_headers eval
::bearer('nbf-future')
--- error_code: 401
--- error_log
token: not valid yet ("nbf")



=== TEST 18: iat in the future
--- more_headers eval
::bearer('iat-future')
--- error_code: 401
--- error_log
token: issued in the future ("iat")



=== TEST 19: another issuer (the configured one is a prefix of it)
--- more_headers eval
::bearer('wrong-iss')
--- error_code: 401
--- error_log
token: wrong or no issuer ("iss")



=== TEST 20: another audience
--- more_headers eval
::bearer('wrong-aud')
--- error_code: 401
--- error_log
token: the audience ("aud") lacks the client id



=== TEST 21: no exp
--- more_headers eval
::bearer('no-exp')
--- error_code: 401
--- error_log
token: no expiry ("exp")



=== TEST 22: no permissions claim
--- more_headers eval
::bearer('no-perms')
--- error_code: 401
--- error_log
token: the permissions claim is missing or not a list



=== TEST 23: permissions a string, not a list
--- more_headers eval
::bearer('perms-string')
--- error_code: 401
--- error_log
token: the permissions claim is missing or not a list



=== TEST 24: permissions a list with a number in it
--- more_headers eval
::bearer('perms-mixed')
--- error_code: 401
--- error_log
token: the permissions claim is not a list of strings



=== TEST 25: no whitelisted permission
--- more_headers eval
::bearer('no-allowed-perm')
--- error_code: 401
--- error_log
token: no allowed permission



=== TEST 26: a header member twice ("alg": "none", then "RS256")
--- more_headers eval
::bearer('dup-header-key')
--- error_code: 401
--- error_log
token: header not strict base64url of a JSON object



=== TEST 27: a payload member twice ("perms")
--- more_headers eval
::bearer('dup-payload-key')
--- error_code: 401
--- error_log
token: payload not strict base64url of a JSON object



=== TEST 28: an unknown crit header
--- more_headers eval
::bearer('crit')
--- error_code: 401
--- error_log
token: a "crit" header



=== TEST 29: b64: false (RFC 7797)
--- more_headers eval
::bearer('b64-false')
--- error_code: 401
--- error_log eval
qr/token: a "(?:b64|crit)" header/



=== TEST 30: padded base64url
--- more_headers eval
::bearer('padded-b64')
--- error_code: 401
--- error_log
token: signature not strict base64url



=== TEST 31: non-canonical base64url (unused bits set)
--- more_headers eval
::bearer('noncanonical-b64')
--- error_code: 401
--- error_log
token: signature not strict base64url



=== TEST 32: trailing garbage after "="
--- more_headers eval
::bearer('trailing-garbage')
--- error_code: 401
--- error_log
token: a malformed bearer token



=== TEST 33: four segments
--- more_headers eval
::bearer('four-segments')
--- error_code: 401
--- error_log
token: not three segments



=== TEST 34: two segments
--- more_headers eval
::bearer('two-segments')
--- error_code: 401
--- error_log
token: not three segments



=== TEST 35: an ES256 signature one byte short
--- more_headers eval
::bearer('sig-short')
--- error_code: 401
--- error_log
token: wrong signature length



=== TEST 36: an ES256 signature one byte long
--- more_headers eval
::bearer('sig-long')
--- error_code: 401
--- error_log
token: wrong signature length



=== TEST 37: an ES256 signature DER-encoded
--- more_headers eval
::bearer('sig-der')
--- error_code: 401
--- error_log
token: wrong signature length



=== TEST 38: a token over max_token (4k), well within nginx's header limits
--- more_headers eval
::bearer('oversize', size => 6000)
--- error_code: 401
--- error_log
token: token too large



=== TEST 39: a header that is not JSON
--- more_headers eval
::bearer('malformed-header')
--- error_code: 401
--- error_log
token: header not strict base64url of a JSON object



=== TEST 40: a header that is JSON but not an object
--- more_headers eval
::bearer('header-not-object')
--- error_code: 401
--- error_log
token: header not strict base64url of a JSON object



=== TEST 41: a key set with a weak RSA key, a symmetric key and a kid twice: those are left out, the good keys stay
--- exec
for c in weak-key oct-key dup-kid good-es256; do
    t=$($TEST_NGINX_MINT $c --iss $TEST_NGINX_WEAK_ISSUER --perms a)
    echo "$c $(curl -s -o /dev/null -w '%{http_code}' -H "Proxy-Authorization: Bearer $t" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/weak)"
done
--- response_body
weak-key 401
oct-key 401
dup-kid 401
good-es256 200
--- error_log eval
[qr/keys left out: "weak": RSA key under 2048 bits; "oct": private or symmetric key material; "dup": its kid is in the set twice; "dup": its kid is in the set twice;/,
 qr/token: unknown kid/]



=== TEST 42: a flood of random kids: one refetch per cool-down, the known kid keeps working
--- exec
stats() { curl -s $TEST_NGINX_STATIC_CONTROL/stats | sed 's/.*"jwks":\([0-9]*\).*/\1/'; }
good=$($TEST_NGINX_MINT good-rs256 --iss $TEST_NGINX_STATIC_ISSUER --perms a)
curl -s -o /dev/null -w "%{http_code}\n" -H "Proxy-Authorization: Bearer $good" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
before=$(stats)
codes=""
for i in $(seq 1 15); do
    t=$($TEST_NGINX_MINT random-kid --iss $TEST_NGINX_STATIC_ISSUER --perms a)
    codes="$codes $(curl -s -o /dev/null -w '%{http_code}' -H "Proxy-Authorization: Bearer $t" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/)"
done
echo "random kids:$codes"
echo "refetches: $(( $(stats) - before ))"
curl -s -o /dev/null -w "%{http_code}\n" -H "Proxy-Authorization: Bearer $good" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
--- response_body
200
random kids: 401 401 401 401 401 401 401 401 401 401 401 401 401 401 401
refetches: 1
200
--- timeout: 30



=== TEST 43: gRPC: a good token passes, the backend gets no proxy-authorization, its own authorization passes
--- exec eval
"t=\$(\$TEST_NGINX_MINT good-rs256 --iss \$TEST_NGINX_STATIC_ISSUER --perms a)
/usr/bin/python3 \$TEST_NGINX_CLIENT --target 127.0.0.1:\$TEST_NGINX_H2C_PORT --authority svc.example.com -H \"proxy-authorization=Bearer \$t\" -H authorization=backend-own | sed 's/ meta=.*//'
/usr/bin/python3 \$TEST_NGINX_CLIENT --target 127.0.0.1:\$TEST_NGINX_H2C_PORT --authority svc.example.com -H \"proxy-authorization=Bearer \$t\" -H authorization=backend-own | grep -o 'authorization=[^,]*'"
--- response_body_like chomp
^status=OK backend=grpc-a authority=svc.example.com seq=0 conn=0 message=hello
authorization=backend-own$
--- timeout: 20



=== TEST 44: gRPC: no token, a bad token: UNAUTHENTICATED (16) for a real gRPC client
--- exec
t=$($TEST_NGINX_MINT expired --iss $TEST_NGINX_STATIC_ISSUER --perms a)
/usr/bin/python3 $TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority svc.example.com
/usr/bin/python3 $TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_H2C_PORT --authority svc.example.com -H "proxy-authorization=Bearer $t"
--- response_body
status=UNAUTHENTICATED code=16 message=Unauthorized
status=UNAUTHENTICATED code=16 message=Unauthorized
--- error_log
token: no Proxy-Authorization
token: expired
--- timeout: 20



=== TEST 45: the refusal's log level is configurable, and kedge never logs the token (nginx's debug log, on in tests, shows every header)
--- config
    kedge_oidc issuer=$TEST_NGINX_STATIC_ISSUER client_id=kedge allow=a;
    kedge_auth_log warn;
    location / {
        proxy_pass http://127.0.0.1:$TEST_NGINX_B_PORT;
    }
--- more_headers eval
::bearer('expired', sub => 'secret-subject')
--- error_code: 401
--- error_log eval
qr/\[warn\] .*kedge: unauthorized: client certificate: not asked for; token: expired/
--- no_error_log eval
qr/kedge.*eyJ/



=== TEST 46: the same token again, from the cache: its subject too
--- exec
t=$($TEST_NGINX_MINT good-rs256 --iss $TEST_NGINX_STATIC_ISSUER --perms b --sub carol)
for i in 1 2 3; do
    curl -s -D - -o /dev/null -H "Proxy-Authorization: Bearer $t" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ | tr -d '\r' | grep -i '^x-sub'
done
--- response_body
X-Sub: carol
X-Sub: carol
X-Sub: carol



=== TEST 47: a key published after nginx fetched the set: its first token waits for one refetch and passes
--- exec
cp $TEST_NGINX_ROT_JWKS $TEST_NGINX_ROT_JWKS.orig
rs=$($TEST_NGINX_MINT good-rs256 --iss $TEST_NGINX_ROT_ISSUER --perms a)
es=$($TEST_NGINX_MINT good-es256 --iss $TEST_NGINX_ROT_ISSUER --perms a)
echo "rsa1: $(curl -s -o /dev/null -w '%{http_code}' -H "Proxy-Authorization: Bearer $rs" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/rot)"
cp $TEST_NGINX_OIDC_KEYS/jwks.json $TEST_NGINX_ROT_JWKS
echo "ec1, new: $(curl -s -o /dev/null -w '%{http_code}' -H "Proxy-Authorization: Bearer $es" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/rot)"
cp $TEST_NGINX_ROT_JWKS.orig $TEST_NGINX_ROT_JWKS
--- response_body
rsa1: 200
ec1, new: 200
--- error_log
an unknown kid, fetching its keys
--- no_error_log
unauthorized



=== TEST 48: a key replaced under the same kid: tokens of the old key, cached ones included, are refused at once
--- exec
cp $TEST_NGINX_ROT_JWKS $TEST_NGINX_ROT_JWKS.orig
rs=$($TEST_NGINX_MINT good-rs256 --iss $TEST_NGINX_ROT_ISSUER --perms a)
echo "rsa1: $(curl -s -o /dev/null -w '%{http_code}' -H "Proxy-Authorization: Bearer $rs" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/rot) $(curl -s -o /dev/null -w '%{http_code}' -H "Proxy-Authorization: Bearer $rs" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/rot)"
# the "dup" key of jwks-weak.json (its last), published as "rsa1"
/usr/bin/python3 - $TEST_NGINX_OIDC_KEYS/jwks-weak.json $TEST_NGINX_ROT_JWKS <<'PY'
import json, sys
key = json.load(open(sys.argv[1]))["keys"][-1]
key["kid"] = "rsa1"
json.dump({"keys": [key]}, open(sys.argv[2], "w"))
PY
# any unknown kid makes nginx fetch the set again
t=$($TEST_NGINX_MINT random-kid --iss $TEST_NGINX_ROT_ISSUER --perms a)
curl -s -o /dev/null -H "Proxy-Authorization: Bearer $t" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/rot
echo "rsa1, its key replaced: $(curl -s -o /dev/null -w '%{http_code}' -H "Proxy-Authorization: Bearer $rs" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/rot)"
cp $TEST_NGINX_ROT_JWKS.orig $TEST_NGINX_ROT_JWKS
--- response_body
rsa1: 200 200
rsa1, its key replaced: 401
--- error_log
token: bad signature



=== TEST 49: the same forged token again is refused without a second verification
--- exec
t=$($TEST_NGINX_MINT good-rs256 --iss $TEST_NGINX_STATIC_ISSUER --perms a)
# the signature's first character changed: same length, a bad signature
bad=$(echo "$t" | /usr/bin/python3 -c 'import sys; h, p, s = sys.stdin.read().strip().split("."); print(h + "." + p + "." + ("B" if s[0] != "B" else "C") + s[1:])')
for i in 1 2 3; do
    curl -s -o /dev/null -w '%{http_code}\n' -H "Proxy-Authorization: Bearer $bad" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
done
--- response_body
401
401
401
--- grep_error_log eval
qr/token: bad signature(?: \(refused before\))?/
--- grep_error_log_out
token: bad signature
token: bad signature (refused before)
token: bad signature (refused before)



=== TEST 50: the token cache holds a quarter of the zone (a 256k zone: 128 tokens), least recently used out first
--- http_config
    kedge_zone kedge 256k;
--- config
    location / {
        kedge_oidc issuer=$TEST_NGINX_STATIC_ISSUER client_id=kedge
                   allow=bench;
        proxy_pass http://127.0.0.1:$TEST_NGINX_B_PORT;
    }
    location = /metrics { kedge_metrics; }
--- exec
toks=$TEST_NGINX_SERVER_ROOT/html/tokens
$TEST_NGINX_TOKENS $TEST_NGINX_STATIC_ISSUER 400 $toks
/usr/bin/python3 - $toks $TEST_NGINX_SERVER_PORT <<'PY'
import http.client, sys
toks = open(sys.argv[1]).read().split()
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[2]), timeout=10)
def send(what, ts):
    codes = {}
    for t in ts:
        c.request("GET", "/", headers={"Proxy-Authorization": "Bearer " + t})
        r = c.getresponse()
        r.read()
        codes[r.status] = codes.get(r.status, 0) + 1
    print(what, sorted(codes.items()))
# kept: 172-299, 172 the least recently used
send("300 new:", toks[:300])
# found (28), and now the most recently used
send("172-199 again:", toks[172:200])
# in, and out go the 100 least recently used: 200-299, not 172-199
send("100 more new:", toks[300:400])
# found again (28)
send("172-199 again:", toks[172:200])
# verified anew
send("200-299 again:", toks[200:300])
PY
curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/metrics | grep '^kedge_oidc_cached_tokens'
--- response_body
300 new: [(200, 300)]
172-199 again: [(200, 28)]
100 more new: [(200, 100)]
172-199 again: [(200, 28)]
200-299 again: [(200, 100)]
kedge_oidc_cached_tokens 128
--- grep_error_log eval
qr/token verified before, from the cache/
--- grep_error_log_out eval
"token verified before, from the cache\n" x 56
--- timeout: 60



=== TEST 51: a cached token that expires is dropped from the cache and refused
--- http_config
    kedge_zone kedge 256k;
--- config
    location / {
        kedge_oidc issuer=$TEST_NGINX_STATIC_ISSUER client_id=kedge
                   allow=bench leeway=0;
        proxy_pass http://127.0.0.1:$TEST_NGINX_B_PORT;
    }
    location = /metrics { kedge_metrics; }
--- exec
toks=$TEST_NGINX_SERVER_ROOT/html/tokens
$TEST_NGINX_TOKENS $TEST_NGINX_STATIC_ISSUER 5 $toks --exp-in 3
u=http://127.0.0.1:$TEST_NGINX_SERVER_PORT
send() {
    for t in $(cat $toks); do
        curl -s -o /dev/null -w '%{http_code} ' -H "Proxy-Authorization: Bearer $t" $u/
    done
    echo
}
send; send
curl -s $u/metrics | grep '^kedge_oidc_cached_tokens'
sleep 4
send
curl -s $u/metrics | grep '^kedge_oidc_cached_tokens'
--- response_body
200 200 200 200 200 
200 200 200 200 200 
kedge_oidc_cached_tokens 5
401 401 401 401 401 
kedge_oidc_cached_tokens 0
--- grep_error_log eval
qr/token verified before, from the cache|token: expired/
--- grep_error_log_out eval
"token verified before, from the cache\n" x 5 . "token: expired\n" x 5
--- timeout: 30
