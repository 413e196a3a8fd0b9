# Client certificates, down to the route: nginx verifies the chain
# (ssl_verify_client), the module lets through only a verification of
# exactly SUCCESS and an identity its rules allow (SAN DNS, SAN URI /
# SPIFFE ID, subject CN), per location and per route; the policies cert,
# token, either and both; the static bearer token; the ops endpoints
# behind the same check; the identity as variables.

use Test::Nginx::Socket 'no_plan';
use Test::Kedge::Exec;
use Test::Kedge::Peers;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
$ENV{TEST_NGINX_B_PORT} ||= $port + 160;
$ENV{TEST_NGINX_TLS_PORT} ||= $port + 161;
$ENV{TEST_NGINX_NOCA_PORT} ||= $port + 162;
$ENV{TEST_NGINX_G_PORT} ||= $port + 163;
$ENV{TEST_NGINX_SNI_PORT} ||= $port + 164;
$ENV{TEST_NGINX_ECHO_PORT} ||= $port + 165;
$ENV{TEST_NGINX_CLIENT} = repo_root() . "/t/peers/grpc_client.py";

test_certs();

grpc_server("--listen", "127.0.0.1:$ENV{TEST_NGINX_G_PORT}=grpc-a");

our $Common = <<'_EOC_';
    kedge_backend web endpoints=127.0.0.1:$TEST_NGINX_B_PORT;
    kedge_backend ga endpoints=127.0.0.1:$TEST_NGINX_G_PORT protocol=grpc;
    kedge_http_route backend=web path=/r/alice/* cert_cn=alice;
    kedge_http_route backend=web path=/r/bob/* cert_cn=bob;
    kedge_http_route backend=web path=/r/spiffe/* cert_uri=spiffe://example.com/ns/default/*;
    kedge_http_route backend=web path=/r/token/* auth=token;
    kedge_http_route backend=web path=/r/both/* auth=both cert_dns=*.clients.example.com;
    kedge_http_route backend=web;
    kedge_grpc_route backend=ga service=kedge.test.* cert_cn=alice;

    upstream kedge {
        kedge_balancer;
        keepalive 8;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_B_PORT;
        return 200 "ok pa=[$http_proxy_authorization] a=[$http_authorization]\n";
    }

    # nginx verifies chains of the intermediate (and the root)
    server {
        listen 127.0.0.1:$TEST_NGINX_TLS_PORT ssl http2;
        ssl_certificate $TEST_NGINX_CERT_DIR/server.crt;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/server.key;
        ssl_client_certificate $TEST_NGINX_CERT_DIR/clients-ca.crt;
        ssl_verify_client optional;
        ssl_verify_depth 2;

        add_header X-CN $kedge_client_cn always;
        add_header X-DNS $kedge_client_dns always;
        add_header X-URI $kedge_client_uri always;
        add_header X-Method $kedge_auth_method always;

        location /cert {
            kedge_auth cert;
            proxy_pass http://127.0.0.1:$TEST_NGINX_B_PORT;
        }

        location /dns {
            kedge_client_cert dns=*.clients.example.com;
            proxy_pass http://127.0.0.1:$TEST_NGINX_B_PORT;
        }

        location /dns-parent {
            kedge_client_cert dns=*.example.com;
            proxy_pass http://127.0.0.1:$TEST_NGINX_B_PORT;
        }

        location /dns-exact {
            kedge_client_cert dns=ALICE.clients.example.com;
            proxy_pass http://127.0.0.1:$TEST_NGINX_B_PORT;
        }

        location /uri {
            kedge_client_cert uri=spiffe://example.com/ns/default/*;
            proxy_pass http://127.0.0.1:$TEST_NGINX_B_PORT;
        }

        location /uri-other {
            kedge_client_cert uri=spiffe://example.com/ns/prod/*;
            proxy_pass http://127.0.0.1:$TEST_NGINX_B_PORT;
        }

        location /cn {
            kedge_client_cert cn=alice;
            proxy_pass http://127.0.0.1:$TEST_NGINX_B_PORT;
        }

        location /cn-other {
            kedge_client_cert cn=bob dns=bob.clients.example.com;
            proxy_pass http://127.0.0.1:$TEST_NGINX_B_PORT;
        }

        location /either {
            kedge_auth either;
            kedge_bearer_token file=$TEST_NGINX_CERT_DIR/../bearer-token;
            proxy_pass http://127.0.0.1:$TEST_NGINX_B_PORT;
        }

        location /both {
            kedge_auth both;
            kedge_bearer_token s3cret-T0ken;
            proxy_pass http://127.0.0.1:$TEST_NGINX_B_PORT;
        }

        location = /_healthz {
            kedge_auth cert;
            kedge_health;
        }

        location / {
            kedge_bearer_token s3cret-T0ken;
            kedge_auth off;
            kedge_pass ssl_trusted_certificate=$TEST_NGINX_CERT_DIR/ca.crt;
        }
    }

    # the backend that shows the headers it got
    server {
        listen 127.0.0.1:$TEST_NGINX_ECHO_PORT;
        return 200 "host=$http_host ua=$http_user_agent xff=$http_x_forwarded_for pa=[$http_proxy_authorization]\n";
    }

    # two servers on one port, each trusting its own CA: the default one
    # trusts another CA, internal.example.com the clients' one
    server {
        listen 127.0.0.1:$TEST_NGINX_SNI_PORT ssl default_server;
        ssl_certificate $TEST_NGINX_CERT_DIR/server.crt;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/server.key;
        ssl_client_certificate $TEST_NGINX_CERT_DIR/other-ca.crt;
        ssl_verify_client optional;
        return 200 "default\n";
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_SNI_PORT ssl;
        server_name internal.example.com;
        ssl_certificate $TEST_NGINX_CERT_DIR/server.crt;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/server.key;
        ssl_client_certificate $TEST_NGINX_CERT_DIR/clients-ca.crt;
        ssl_verify_client optional;

        location / {
            kedge_auth cert;
            proxy_pass http://127.0.0.1:$TEST_NGINX_B_PORT;
            add_header X-CN $kedge_client_cn always;
        }
    }

    # "optional_no_ca": nginx lets unverified certificates through
    server {
        listen 127.0.0.1:$TEST_NGINX_NOCA_PORT ssl;
        ssl_certificate $TEST_NGINX_CERT_DIR/server.crt;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/server.key;
        ssl_client_certificate $TEST_NGINX_CERT_DIR/clients-ca.crt;
        ssl_verify_client optional_no_ca;

        location / {
            kedge_auth cert;
            proxy_pass http://127.0.0.1:$TEST_NGINX_B_PORT;
            add_header X-CN $kedge_client_cn always;
        }
    }
_EOC_

our $Config = <<'_EOC_';
    location / {
        kedge_bearer_token s3cret-T0ken;
        proxy_pass http://127.0.0.1:$TEST_NGINX_B_PORT;
    }
_EOC_

# shell helpers for --- exec: get [CERT] PATH [PORT], curl's status code;
# hdr [CERT] PATH NAME
our $Sh = <<'_EOS_';
c=$TEST_NGINX_CERT_DIR
get() {
    cert=""
    [ -n "$1" ] && cert="--cert $c/$1.crt --key $c/${1%-chain}.key"
    curl -s -o /dev/null -w '%{http_code}' --cacert $c/ca.crt $cert \
        "https://127.0.0.1:${3:-$TEST_NGINX_TLS_PORT}$2"
}
hdr() {
    cert=""
    [ -n "$1" ] && cert="--cert $c/$1.crt --key $c/$1.key"
    curl -s --http1.1 -D - -o /dev/null --cacert $c/ca.crt $cert \
        "https://127.0.0.1:$TEST_NGINX_TLS_PORT$2" | tr -d '\r' | grep -i "^$3:"
}
_EOS_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $Common . ($block->http_config // ''));
    $block->set_value("config", $Config) unless defined $block->config;
    $block->set_value("exec", $Sh . $block->exec) if defined $block->exec;
    $block->set_value("timeout", 20) unless defined $block->timeout;
});

# the token of "kedge_bearer_token file=", with the newline an editor adds
{
    open my $fh, '>', "$ENV{TEST_NGINX_CERT_DIR}/../bearer-token" or die $!;
    print $fh "file-T0ken\n";
}

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: a client of the intermediate CA, with and without the chain sent; none; the variables
--- exec
echo "chain sent: $(get client-chain /cert)"
echo "leaf only: $(get client /cert)"
echo "none: $(get '' /cert)"
hdr client /cert X-CN
hdr client /cert X-DNS
hdr client /cert X-URI
hdr client /cert X-Method
--- response_body
chain sent: 200
leaf only: 200
none: 401
X-CN: alice
X-DNS: alice.clients.example.com
X-URI: spiffe://example.com/ns/default/sa/alice
X-Method: cert
--- error_log
kedge: unauthorized: client certificate: no client certificate; token: not asked for



=== TEST 2: a certificate of another CA, an expired one: nginx itself refuses them (ssl_verify_client optional)
--- exec
echo "stranger: $(get stranger /cert)"
echo "expired: $(get expired /cert)"
--- response_body
stranger: 400
expired: 400



=== TEST 3: with optional_no_ca nginx lets a certificate of an unknown CA through, the module does not: only SUCCESS counts (an expired one nginx refuses still)
--- exec
echo "stranger: $(get stranger / $TEST_NGINX_NOCA_PORT)"
echo "expired: $(get expired / $TEST_NGINX_NOCA_PORT)"
echo "alice: $(get client / $TEST_NGINX_NOCA_PORT)"
curl -s -D - -o /dev/null --cacert $c/ca.crt --cert $c/stranger.crt --key $c/stranger.key https://127.0.0.1:$TEST_NGINX_NOCA_PORT/ | tr -d '\r' | grep -ci '^x-cn:' || true
--- response_body
stranger: 401
expired: 400
alice: 200
0
--- error_log
client certificate: the client certificate did not verify



=== TEST 4: SAN DNS rules: one label under "*.", case-insensitive, never a parent domain's wildcard for two labels
--- exec
echo "*.clients.example.com: $(get client /dns)"
echo "*.example.com: $(get client /dns-parent)"
echo "ALICE.clients.example.com: $(get client /dns-exact)"
echo "none: $(get '' /dns)"
--- response_body
*.clients.example.com: 200
*.example.com: 401
ALICE.clients.example.com: 200
none: 401
--- error_log
the client certificate matches no rule



=== TEST 5: SAN URI (SPIFFE ID) prefix rules
--- exec
echo "spiffe://example.com/ns/default/*: $(get client /uri)"
echo "spiffe://example.com/ns/prod/*: $(get client /uri-other)"
--- response_body
spiffe://example.com/ns/default/*: 200
spiffe://example.com/ns/prod/*: 401



=== TEST 6: subject CN rules; several rules in one directive: any one matches
--- exec
echo "cn=alice: $(get client /cn)"
echo "cn=bob or dns=bob...: $(get client /cn-other)"
--- response_body
cn=alice: 200
cn=bob or dns=bob...: 401



=== TEST 7: rules per route: cert_cn=, cert_uri=, a route without rules
--- exec
echo "alice route, alice: $(get client /r/alice/x)"
echo "alice route, none: $(get '' /r/alice/x)"
echo "bob route, alice: $(get client /r/bob/x)"
echo "spiffe route, alice: $(get client /r/spiffe/x)"
echo "open route, none: $(get '' /r/open/x)"
--- response_body
alice route, alice: 200
alice route, none: 401
bob route, alice: 401
spiffe route, alice: 200
open route, none: 200



=== TEST 8: a route asking for a token, and one for both a certificate and a token
--- exec
tok() { curl -s -o /dev/null -w '%{http_code}' --cacert $c/ca.crt $2 -H "Proxy-Authorization: Bearer $1" "https://127.0.0.1:$TEST_NGINX_TLS_PORT$3"; }
alice="--cert $c/client.crt --key $c/client.key"
echo "token route, right token: $(tok s3cret-T0ken '' /r/token/x)"
echo "token route, wrong token: $(tok s3cret-T0kem '' /r/token/x)"
echo "token route, certificate only: $(get client /r/token/x)"
echo "both route, both: $(tok s3cret-T0ken "$alice" /r/both/x)"
echo "both route, token only: $(tok s3cret-T0ken '' /r/both/x)"
echo "both route, certificate only: $(get client /r/both/x)"
--- response_body
token route, right token: 200
token route, wrong token: 401
token route, certificate only: 401
both route, both: 200
both route, token only: 401
both route, certificate only: 401
--- error_log
token: wrong bearer token



=== TEST 9: kedge_auth either and both, with the static bearer token (from a file, newline dropped)
--- exec
tok() { curl -s -o /dev/null -w '%{http_code}' --cacert $c/ca.crt $2 -H "Proxy-Authorization: Bearer $1" "https://127.0.0.1:$TEST_NGINX_TLS_PORT$3"; }
alice="--cert $c/client.crt --key $c/client.key"
echo "either, certificate: $(get client /either)"
echo "either, token: $(tok file-T0ken '' /either)"
echo "either, wrong token: $(tok file-T0ke '' /either)"
echo "either, neither: $(get '' /either)"
echo "both, both: $(tok s3cret-T0ken "$alice" /both)"
echo "both, certificate: $(get client /both)"
echo "both, token: $(tok s3cret-T0ken '' /both)"
hdr_m() { curl -s --http1.1 -D - -o /dev/null --cacert $c/ca.crt $alice -H "Proxy-Authorization: Bearer s3cret-T0ken" "https://127.0.0.1:$TEST_NGINX_TLS_PORT/both" | tr -d '\r' | grep -i '^x-method:'; }
hdr_m
--- response_body
either, certificate: 200
either, token: 200
either, wrong token: 401
either, neither: 401
both, both: 200
both, certificate: 401
both, token: 401
X-Method: cert+token
--- error_log
kedge: unauthorized: client certificate: no client certificate; token: wrong bearer token



=== TEST 10: the static bearer token: right, wrong, longer, shorter, absent; the backend never sees it
--- request eval
["GET /", "GET /", "GET /", "GET /", "GET /"]
--- more_headers eval
["Proxy-Authorization: Bearer s3cret-T0ken\nAuthorization: Bearer backend\n",
 "Proxy-Authorization: Bearer s3cret-T0kem\n",
 "Proxy-Authorization: Bearer s3cret-T0ken2\n",
 "Proxy-Authorization: Bearer s3cret\n",
 ""]
--- error_code eval
[200, 401, 401, 401, 401]
--- response_body eval
["ok pa=[] a=[Bearer backend]\n", "Unauthorized", "Unauthorized", "Unauthorized", "Unauthorized"]



=== TEST 11: the ops endpoints behind the same check
--- exec
echo "healthz, alice: $(get client /_healthz)"
echo "healthz, none: $(get '' /_healthz)"
--- response_body
healthz, alice: 200
healthz, none: 401



=== TEST 12: gRPC: a route with cert_cn= over TLS with a client certificate; without one, UNAUTHENTICATED
--- exec
/usr/bin/python3 $TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_TLS_PORT --authority svc.example.com --tls --ca $c/ca.crt --cert $c/client.crt --key $c/client.key | sed 's/ meta=.*//'
/usr/bin/python3 $TEST_NGINX_CLIENT --target 127.0.0.1:$TEST_NGINX_TLS_PORT --authority svc.example.com --tls --ca $c/ca.crt
--- response_body
status=OK backend=grpc-a authority=svc.example.com seq=0 conn=0 message=hello
status=UNAUTHENTICATED code=16 message=Unauthorized



=== TEST 13: "satisfy any": a kedge_pass location that asks for nothing leaves access to nginx's own modules
--- config
    location / {
        satisfy any;
        allow 10.9.9.9;
        deny all;
        kedge_pass ssl_trusted_certificate=$TEST_NGINX_CERT_DIR/ca.crt;
    }
--- request
GET /x
--- error_code: 403



=== TEST 14: a certificate verified by the default server's CA does not count for another server's Host (no SNI)
--- exec
sni() { curl -s -o /dev/null -w '%{http_code}' --cacert $c/ca.crt --cert $c/$1.crt --key $c/$1.key --resolve internal.example.com:$TEST_NGINX_SNI_PORT:127.0.0.1 https://internal.example.com:$TEST_NGINX_SNI_PORT/; }
nosni() { curl -s -o /dev/null -w '%{http_code}' -k --cert $c/$1.crt --key $c/$1.key -H 'Host: internal.example.com' https://127.0.0.1:$TEST_NGINX_SNI_PORT/; }
echo "SNI, alice: $(sni client)"
echo "SNI, mallory: $(sni stranger)"
echo "no SNI, mallory (the default server verified it): $(nosni stranger)"
--- response_body
SNI, alice: 200
SNI, mallory: 400
no SNI, mallory (the default server verified it): 401
--- error_log
the client certificate was verified for another server



=== TEST 15: the stripped Proxy-Authorization leaves the other headers as they were
--- config
    location / {
        kedge_bearer_token s3cret-T0ken;
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_pass http://127.0.0.1:$TEST_NGINX_ECHO_PORT;
    }
--- raw_request eval
"GET /x HTTP/1.0\r
Proxy-Authorization: Bearer s3cret-T0ken\r
Host: a.example\r
User-Agent: ua-val\r
X-Forwarded-For: 1.1.1.1\r
X-Other: b.example\r
\r
"
--- response_body
host=a.example ua=ua-val xff=1.1.1.1, 127.0.0.1 pa=[]



=== TEST 16: an internal redirect to another location checks the same credentials again
--- config
    location / {
        kedge_bearer_token s3cret-T0ken;
        try_files /nonexistent @again;
    }

    location @again {
        kedge_bearer_token s3cret-T0ken;
        proxy_pass http://127.0.0.1:$TEST_NGINX_ECHO_PORT;
    }

    location /other {
        kedge_bearer_token s3cret-T0ken;
        try_files /nonexistent @stricter;
    }

    location @stricter {
        kedge_bearer_token an0ther-T0ken;
        proxy_pass http://127.0.0.1:$TEST_NGINX_ECHO_PORT;
    }
--- request eval
["GET /x", "GET /other"]
--- more_headers
Proxy-Authorization: Bearer s3cret-T0ken
--- error_code eval
[200, 401]



=== TEST 17: a subrequest (SSI) cannot reach a route that asks for credentials
--- config
    location = /page.html {
        ssi on;
        root html;
    }

    location / {
        kedge_pass ssl_trusted_certificate=$TEST_NGINX_CERT_DIR/ca.crt;
    }
--- user_files
>>> page.html
open: <!--# include virtual="/r/open/x" -->
alice: <!--# include virtual="/r/alice/x" -->
--- request
GET /page.html
--- response_body_like chomp
^open: ok pa=\[\] a=\[\]

alice: Unauthorized$
--- error_log
kedge: unauthorized: a subrequest to route #1, which asks for credentials
