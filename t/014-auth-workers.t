# Authorization with a master and two workers: one fetcher for the keys
# (the issuer sees one key set fetch per refresh, not one per worker); a
# token verified in one worker is a cache hit in the other; a reload with
# the issuer down keeps the keys (copied forward in the zone) and a
# reload under load refuses nothing that should pass.

use Test::Nginx::Socket 'no_plan';
use Test::Kedge::Exec;
use Test::Kedge::Peers;
use Test::Kedge::Oidc;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
$ENV{TEST_NGINX_B_PORT} ||= $port + 170;

test_certs();
static_issuer();

$ENV{TEST_NGINX_MINT} = "node " . repo_root() . "/t/fixtures/oidc/mint.mjs"
                        . " token " . oidc_keys();

our $Common = <<'_EOC_';
    kedge_oidc_issuer $TEST_NGINX_STATIC_ISSUER
                      ca_file=$TEST_NGINX_CERT_DIR/ca.crt cooldown=60s;

    server {
        listen 127.0.0.1:$TEST_NGINX_B_PORT;
        return 200 "ok\n";
    }
_EOC_

our $Config = <<'_EOC_';
    location / {
        kedge_oidc issuer=$TEST_NGINX_STATIC_ISSUER client_id=kedge allow=a;
        kedge_auth_log notice;
        proxy_pass http://127.0.0.1:$TEST_NGINX_B_PORT;
        add_header X-Pid $pid;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $Common . ($block->http_config // ''));
    $block->set_value("config", $Config) unless defined $block->config;
    $block->set_value("timeout", 30) unless defined $block->timeout;
});

master_on();
workers(2);
no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: two workers, one fetcher: the key set is fetched once at start
--- exec
sleep 1
before=$(curl -s $TEST_NGINX_STATIC_CONTROL/stats | sed 's/.*"jwks":\([0-9]*\).*/\1/')
t=$($TEST_NGINX_MINT good-rs256 --iss $TEST_NGINX_STATIC_ISSUER --perms a)
for i in $(seq 1 10); do
    curl -s -o /dev/null -w '%{http_code}\n' -H "Proxy-Authorization: Bearer $t" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/
done | sort | uniq -c | sed 's/^ *//'
sleep 1
after=$(curl -s $TEST_NGINX_STATIC_CONTROL/stats | sed 's/.*"jwks":\([0-9]*\).*/\1/')
echo "fetched since: $((after - before))"
--- response_body
10 200
fetched since: 0
--- grep_error_log eval
qr/kedge: issuer "[^"]+" has \d+ keys/
--- grep_error_log_out eval
"kedge: issuer \"$ENV{TEST_NGINX_STATIC_ISSUER}\" has 2 keys\n"



=== TEST 2: both workers serve a token, the second from the zone's cache
--- exec
t=$($TEST_NGINX_MINT good-es256 --iss $TEST_NGINX_STATIC_ISSUER --perms a)
pids=""
for i in $(seq 1 40); do
    p=$(curl -s -D - -o /dev/null -H "Proxy-Authorization: Bearer $t" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ | tr -d '\r' | sed -n 's/^X-Pid: //p')
    pids="$pids $p"
done
echo "workers: $(echo $pids | tr ' ' '\n' | sort -u | wc -l)"
--- response_body
workers: 2



=== TEST 3: a reload with the issuer down: the keys are copied forward, tokens keep passing during and after it
--- exec
t=$($TEST_NGINX_MINT good-rs256 --iss $TEST_NGINX_STATIC_ISSUER --perms a --sub during)
echo "before: $(curl -s -o /dev/null -w '%{http_code}' -H "Proxy-Authorization: Bearer $t" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/)"
curl -s -X POST $TEST_NGINX_STATIC_CONTROL/down > /dev/null
master=$(cat $TEST_NGINX_SERVER_ROOT/logs/nginx.pid)
old=$(pgrep -P $master | sort)
kill -HUP $master
fail=0
for i in $(seq 1 30); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Proxy-Authorization: Bearer $t" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/)
    [ "$code" = 200 ] || fail=$((fail + 1))
    sleep 0.05
done
for i in $(seq 1 50); do
    left=$(for p in $old; do [ -d /proc/$p ] && echo $p; done)
    [ -z "$left" ] && break
    sleep 0.1
done
other=$($TEST_NGINX_MINT good-es256 --iss $TEST_NGINX_STATIC_ISSUER --perms a --sub after)
echo "refused during the reload: $fail"
echo "after, a token never seen: $(curl -s -o /dev/null -w '%{http_code}' -H "Proxy-Authorization: Bearer $other" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/)"
curl -s -X POST $TEST_NGINX_STATIC_CONTROL/up > /dev/null
--- response_body
before: 200
refused during the reload: 0
after, a token never seen: 200
--- no_error_log
kedge: unauthorized
[alert]
