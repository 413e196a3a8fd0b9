# ID tokens of a real OpenID provider (oidc-provider, t/fixtures/oidc/
# issuer.mjs) over TLS on loopback: accepted; the provider rotates its keys
# and tokens of the new key pass without a reload; a key taken away
# revokes its tokens, cached ones included; the provider down keeps the
# known keys working; down at start gives clear refusals, then works once
# it is up; Cache-Control paces the refreshes.

use Test::Nginx::Socket 'no_plan';
use Test::Kedge::Exec;
use Test::Kedge::Peers;
use Test::Kedge::Oidc;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
$ENV{TEST_NGINX_B_PORT} ||= $port + 150;

test_certs();
# its key set says "max-age=1": nginx refreshes every second (refresh_min)
oidc_issuer(alg => 'RS256', max_age => 1);

# a second provider, down from the start
oidc_issuer(alg => 'ES256', env => 'LATE');
oidc_control(POST => '/down', $ENV{TEST_NGINX_LATE_CONTROL});

our $Common = <<'_EOC_';
    kedge_oidc_issuer $TEST_NGINX_OIDC_ISSUER
                      ca_file=$TEST_NGINX_CERT_DIR/ca.crt
                      refresh_min=1s cooldown=1s;
    kedge_oidc_issuer $TEST_NGINX_LATE_ISSUER
                      ca_file=$TEST_NGINX_CERT_DIR/ca.crt cooldown=1s;

    server {
        listen 127.0.0.1:$TEST_NGINX_B_PORT;
        return 200 "ok\n";
    }
_EOC_

our $Config = <<'_EOC_';
    location / {
        kedge_oidc issuer=$TEST_NGINX_OIDC_ISSUER client_id=kedge
                   allow=prod,staging;
        proxy_pass http://127.0.0.1:$TEST_NGINX_B_PORT;
        add_header X-Sub $kedge_auth_subject;
    }

    location /late {
        kedge_oidc issuer=$TEST_NGINX_LATE_ISSUER client_id=kedge allow=prod;
        proxy_pass http://127.0.0.1:$TEST_NGINX_B_PORT;
    }
_EOC_

# shell helpers for --- exec: token SUB PERMS [CONTROL], call TOKEN [PATH]
our $Sh = <<'_EOS_';
token() {
    curl -s -X POST "${3:-$TEST_NGINX_OIDC_CONTROL}/token?sub=$1&perms=$2" \
        | sed 's/.*"id_token":"\([^"]*\)".*/\1/'
}
call() {
    curl -s -o /dev/null -w '%{http_code}' -H "Proxy-Authorization: Bearer $1" \
        "http://127.0.0.1:$TEST_NGINX_SERVER_PORT${2:-/}"
}
ctl() { curl -s -X "$1" "${3:-$TEST_NGINX_OIDC_CONTROL}$2"; }
kid() { echo "$1" | cut -d. -f1 | base64 -d 2>/dev/null | sed 's/.*"kid":"\([^"]*\)".*/\1/'; }
_EOS_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $Common . ($block->http_config // ''));
    $block->set_value("config", $Config) unless defined $block->config;
    $block->set_value("exec", $Sh . $block->exec) if defined $block->exec;
    $block->set_value("timeout", 30) unless defined $block->timeout;
});

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: a token of the provider's own authorization-code flow passes; perms decide
--- exec
t=$(token alice prod)
curl -s -D - -o /dev/null -H "Proxy-Authorization: Bearer $t" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ | tr -d '\r' | grep -E '^(HTTP|X-Sub)'
echo "no allowed permission: $(call $(token bob dev))"
echo "an empty list: $(call $(token bob ''))"
--- response_body
HTTP/1.1 200 OK
X-Sub: alice
no allowed permission: 401
an empty list: 401
--- error_log
token: no allowed permission



=== TEST 2: the provider rotates its keys: tokens of the new key pass without a reload, those of the old key too while it is published
--- exec
old=$(token alice prod)
echo "old key: $(call $old)"
ctl POST /rotate > /dev/null
new=$(token alice prod)
[ "$(kid $old)" != "$(kid $new)" ] && echo "a new kid"
echo "new key: $(call $new)"
echo "old key: $(call $old)"
--- response_body
old key: 200
a new kid
new key: 200
old key: 200
--- no_error_log
unauthorized



=== TEST 3: a key taken away revokes its tokens at once, cached ones included
--- exec
old=$(token alice prod)
echo "old key: $(call $old) $(call $old)"
ctl POST '/rotate?drop_old=1' > /dev/null
new=$(token alice prod)
echo "new key: $(call $new)"
echo "old key: $(call $old)"
--- response_body
old key: 200 200
new key: 200
old key: 401
--- error_log
token: unknown kid



=== TEST 4: the provider down: the known keys keep working through failed refreshes
--- exec
t=$(token alice prod)
echo "up: $(call $t)"
ctl POST /down > /dev/null
sleep 3
other=$(token carol staging)
echo "down: $(call $t) $(call $other)"
ctl POST /up > /dev/null
--- response_body
up: 200
down: 200 200
--- error_log eval
qr/issuer "https:[^"]+" is stale, keeping its \d+ last known keys/
--- no_error_log
[alert]
[crit]



=== TEST 5: a provider down from the start: clear refusals, no crash; up: its tokens pass
--- exec
t=$(token alice prod $TEST_NGINX_LATE_CONTROL)
echo "down: $(call $t /late) $(call $t /late)"
ctl POST /up $TEST_NGINX_LATE_CONTROL > /dev/null
for i in $(seq 1 60); do
    code=$(call $t /late)
    [ "$code" = 200 ] && break
    sleep 0.2
done
echo "up: $code"
--- response_body
down: 401 401
up: 200
--- error_log
token: no keys from the issuer yet
discovery document: cannot connect
--- no_error_log
[alert]
[crit]



=== TEST 6: Cache-Control paces the refreshes: max-age=1 (bounded by refresh_min=1s) refreshes, max-age=3600 does not
--- exec
jwks() { ctl GET /stats | sed 's/.*"jwks":\([0-9]*\).*/\1/'; }
a=$(jwks); sleep 3.5; b=$(jwks)
[ $((b - a)) -ge 2 ] && echo "max-age=1: refreshed $((b - a)) times in 3.5 s" | sed 's/[0-9]* times/several times/'
ctl POST '/max-age?s=3600' > /dev/null
sleep 1.5
a=$(jwks); sleep 3; b=$(jwks)
echo "max-age=3600: refreshed $((b - a)) times in 3 s"
ctl POST /max-age > /dev/null
--- response_body
max-age=1: refreshed several times in 3.5 s
max-age=3600: refreshed 0 times in 3 s
