# The route index (ngx_http_kedge_router.c): a list of 8 routes or more
# is indexed by the first path segment (gRPC: the service), and the
# route that wins must still be the first that matches in configuration
# order.  TEST 1 checks 216 routes mixing every kind of matcher against
# a plain walk in configuration order written here in Perl (the oracle);
# the other tests name their expectations one by one: the cases where an
# earlier wildcard beats a later exact route and the reverse, the last
# route, no route, kedge_config routes, gRPC services, and hostile paths
# (what the router sees is nginx's normalized, decoded path).

use Test::Nginx::Socket 'no_plan';
use Test::Kedge::Exec;
use Test::Kedge::Peers;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
$ENV{TEST_NGINX_A_PORT} ||= $port + 6;
$ENV{TEST_NGINX_B_PORT} ||= $port + 7;
$ENV{TEST_NGINX_C_PORT} ||= $port + 8;
$ENV{TEST_NGINX_H2C_PORT} ||= $port + 9;
$ENV{TEST_NGINX_G1} ||= $port + 10;
$ENV{TEST_NGINX_G2} ||= $port + 11;

grpc_server("--listen", join ",", "127.0.0.1:$ENV{TEST_NGINX_G1}=grpc-a",
            "127.0.0.1:$ENV{TEST_NGINX_G2}=grpc-b");

# three HTTP backends that say who they are, two gRPC ones; every answer
# names the route ($kedge_route) in X-Route
our $Backends = <<'_EOC_';
    kedge_backend alpha endpoints=127.0.0.1:$TEST_NGINX_A_PORT;
    kedge_backend beta endpoints=127.0.0.1:$TEST_NGINX_B_PORT;
    kedge_backend gamma endpoints=127.0.0.1:$TEST_NGINX_C_PORT;
    kedge_backend ga endpoints=127.0.0.1:$TEST_NGINX_G1 protocol=grpc;
    kedge_backend gb endpoints=127.0.0.1:$TEST_NGINX_G2 protocol=grpc;

    upstream kedge {
        kedge_balancer;
        keepalive 4;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_A_PORT;
        listen 127.0.0.1:$TEST_NGINX_B_PORT;
        listen 127.0.0.1:$TEST_NGINX_C_PORT;
        location / {
            return 200 "$server_port $uri\n";
        }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_H2C_PORT http2;
        location / {
            kedge_pass;
            add_header X-Route $kedge_route always;
        }
    }
_EOC_


# ---------------------------------------------------------------------------
# TEST 1: the routes, the requests, and the oracle

our (@Routes, @Reqs);

sub route {
    push @Routes, { id => scalar(@Routes) + 1, paths => [], headers => {},
                    @_ };
}

my $IDX = "idx.example.com";
my $OTHER = "other.example.com";
my @Backend = qw(alpha beta gamma);

# the handcrafted head, ids 1 to 16
route(host => $IDX, paths => ["/w/*"]);            # 1: wildcard before
route(host => $IDX, paths => ["/w/exact"]);        # 2:   the exact: never
route(paths => ["/v*"]);                           # 3: host-less "any"
route(host => $IDX, paths => ["/v/exact"]);        # 4:   before exact
route(host => $IDX, paths => ["/e/exact"]);        # 5: exact before
route(paths => ["/e/*"]);                          # 6:   the wildcard
route(host => $IDX, port => 8080, paths => ["/p/*"]);    # 7: port
route(paths => ["/p/*"]);                                # 8
route(host => $IDX, mode => "FORWARD_PROXY", paths => ["/f/*"]);  # 9
route(host => $IDX, paths => ["/f/*"]);                  # 10
route(headers => { "x-pick" => "early" });         # 11: no path: any
route(host => $IDX, paths => ["/d/a", "/d/b", "/m/*"]);  # 12
route(host => $IDX, paths => ["/"]);               # 13: the root
route(host => $IDX, paths => ["/s1*"]);            # 14: /s1, /s10/...
route(host => $IDX, paths => ["/solo"]);           # 15
route(host => $IDX, headers => { "x-pick" => "late" }, paths => ["/g/*"]);

# 200 more, ids 17 to 216, over 13 segments /s0 to /s12, every kind in
# every segment (13 and 8 have no common divisor)
for my $k (0 .. 199) {
    my $n = $k % 13;
    my $m = ($n + 7) % 13;
    my $kind = $k % 8;

    if ($kind == 0) {
        route(host => $IDX, paths => ["/s$n/w/*"]);
    } elsif ($kind == 1) {
        route(paths => ["/s$n/w/e$k"]);
    } elsif ($kind == 2) {
        route(host => $IDX, paths => ["/s${n}x*"]);
    } elsif ($kind == 3) {
        route(headers => { "x-r" => $k });
    } elsif ($kind == 4) {
        route(host => $OTHER, paths => ["/s$n/*"]);
    } elsif ($kind == 5) {
        route(host => $IDX, paths => ["/s$n/a$k", "/s$m/b$k"]);
    } elsif ($kind == 6) {
        route(host => $IDX, port => 81, paths => ["/s$n/*"]);
    } else {
        route(host => $IDX, mode => "REVERSE_PROXY",
              headers => { "x-v" => $k }, paths => ["/s$n/v*"]);
    }
}

route(host => $IDX, paths => ["/zz/last"]);        # 217: the last

sub route_conf {
    my $r = shift;
    my $c = "    kedge_http_route backend=" . $Backend[$r->{id} % 3];
    $c .= " host=$r->{host}" if $r->{host};
    $c .= " port=$r->{port}" if $r->{port};
    $c .= " proxy_mode=$r->{mode}" if $r->{mode};
    $c .= " path=$_" for @{$r->{paths}};
    $c .= " header=$_:$r->{headers}{$_}" for sort keys %{$r->{headers}};
    return "$c;\n";
}

our $RoutesConf = join "", map { route_conf($_) } @Routes;

# kedge's first match, walking every route in configuration order
sub first_match {
    my $q = shift;

  ROUTE:
    for my $r (@Routes) {
        next if $r->{host} && $r->{host} ne $q->{host};
        next if $r->{port} && $r->{port} != $q->{port};
        next if $r->{mode} && $r->{mode} ne $q->{mode};

        if (@{$r->{paths}}) {
            my $hit = 0;
            for my $p (@{$r->{paths}}) {
                if ($p =~ /^(.*)\*$/) {
                    $hit ||= substr($q->{path}, 0, length $1) eq $1;
                } else {
                    $hit ||= $q->{path} eq $p;
                }
            }
            next unless $hit;
        }

        for my $h (keys %{$r->{headers}}) {
            next ROUTE unless ($q->{headers}{$h} // "") eq $r->{headers}{$h};
        }

        return $r->{id};
    }

    return undef;
}

# a request: origin-form with a Host (and its port), or absolute-form
sub req {
    my ($path, %o) = @_;
    my $host = $o{host} // $IDX;
    my $port = $o{port} // 80;
    my $h = { %{$o{headers} // {}} };
    my $line = $o{absolute} ? "GET http://$host" . ($o{port} ? ":$port" : "")
                              . "$path"
                            : "GET $path";
    my $more = join "\n", ($o{absolute} ? () : "Host: $host"
                                            . ($o{port} ? ":$port" : "")),
                          map { "$_: $h->{$_}" } sort keys %$h;
    my $id = first_match({ path => $path, host => $host, port => $port,
                           mode => $o{absolute} ? "FORWARD_PROXY"
                                                : "REVERSE_PROXY",
                           headers => $h });
    push @Reqs, { line => $line, more => $more, id => $id };
}

req("/w/exact");                                   # 1 over 2
req("/w/other");
req("/v/exact");                                   # 3 over 4
req("/vv");
req("/e/exact");                                   # 5 over 6
req("/e/other");
req("/p/x", port => 8080);                         # 7
req("/p/x");                                       # 8
req("/f/x", absolute => 1);                        # 9
req("/f/x");                                       # 10
req("/anything", headers => { "x-pick" => "early" });   # 11
req("/w/x", headers => { "x-pick" => "early" });        # 1: before 11
req("/d/a");
req("/d/b");
req("/d/c");
req("/m/z");
req("/");
req("/", absolute => 1);
req("/s1");
req("/s10/x");                                     # 14 over the /s10s
req("/s1x");
req("/solo");
req("/solo/x");
req("/g/x", headers => { "x-pick" => "late" });
req("/g/x");
req("/zz/last");                                   # the last route
req("/zz/last", host => $OTHER);                   # no route
req("/nothing/x");                                 # no route
req("/", host => $OTHER);                          # no route

# each segment with each host, port and form
for my $n (0 .. 12) {
    req("/s$n/x");
    req("/s$n/x", host => $OTHER);
    req("/s$n/x", port => 81);
    req("/s$n/x", host => "nohost.example.com");
    req("/s$n");
    req("/s${n}x");
    req("/s$n/w/y", absolute => 1);
}

# each of the 200 with what should reach it, unless an earlier one
for my $k (0 .. 199) {
    my $n = $k % 13;
    my $m = ($n + 7) % 13;
    my $kind = $k % 8;

    if ($kind == 0) {
        req("/s$n/w/x");
    } elsif ($kind == 1) {
        req("/s$n/w/e$k");
        req("/s$n/w/e$k", host => $OTHER);
    } elsif ($kind == 2) {
        req("/s${n}x$k");
    } elsif ($kind == 3) {
        req("/s$n/z", headers => { "x-r" => $k });
        req("/q", headers => { "x-r" => $k }, host => $OTHER);
    } elsif ($kind == 4) {
        req("/s$n/o$k", host => $OTHER);
    } elsif ($kind == 5) {
        req("/s$n/a$k");
        req("/s$m/b$k");
        req("/s$m/a$k");
    } elsif ($kind == 6) {
        req("/s$n/p$k", port => 81);
    } else {
        req("/s$n/v$k", headers => { "x-v" => $k });
        req("/s$n/v$k", headers => { "x-v" => $k }, absolute => 1);
    }
}

# every request, every route they reach, and no route
sub expected_routes {
    [map { defined $_->{id} ? "X-Route: http:$_->{id}"
                            : "X-Kedge-Error-Type: no-route" } @Reqs];
}


add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config",
                      $Backends . ($block->http_config // ''));

    if (!defined $block->config) {
        $block->set_value("config", <<'_EOC_');
    location / {
        kedge_pass;
        add_header X-Route $kedge_route always;
    }
_EOC_
    }

    $block->set_value("timeout", 15) unless defined $block->timeout;
});

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: 217 routes of every kind, indexed: each request gets the first match of a walk in configuration order
--- http_config eval: $::RoutesConf
--- request eval
[map { $_->{line} } @::Reqs]
--- more_headers eval
[map { $_->{more} } @::Reqs]
--- error_code eval
[map { defined $_->{id} ? 200 : 502 } @::Reqs]
--- response_headers eval
::expected_routes()



=== TEST 2: the same by name: wildcard before exact, exact before wildcard, the last route, no route
--- http_config eval: $::RoutesConf
--- request eval
["GET /w/exact", "GET /v/exact", "GET /e/exact", "GET /e/other",
 "GET /s10/x", "GET /s1", "GET /zz/last", "GET /nothing/x", "GET /solo/x"]
--- more_headers
Host: idx.example.com
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 502, 502]
--- response_headers eval
["X-Route: http:1", "X-Route: http:3", "X-Route: http:5", "X-Route: http:6",
 "X-Route: http:14", "X-Route: http:14", "X-Route: http:217",
 "X-Kedge-Error-Type: no-route", "X-Kedge-Error-Type: no-route"]
--- response_body_like eval
["^$ENV{TEST_NGINX_B_PORT} /w/exact\$", "^$ENV{TEST_NGINX_A_PORT} /v/exact\$",
 "^$ENV{TEST_NGINX_C_PORT} /e/exact\$", "^$ENV{TEST_NGINX_A_PORT} /e/other\$",
 "^$ENV{TEST_NGINX_C_PORT} /s10/x\$", "^$ENV{TEST_NGINX_C_PORT} /s1\$",
 "^$ENV{TEST_NGINX_B_PORT} /zz/last\$", "^unknown route to service\$",
 "^unknown route to service\$"]



=== TEST 3: both lists of TEST 1 are indexed: the host's own routes and the host-less ones
# the router's debug log line (nginx --with-debug: Debian's, and the ASan
# build) names the segment and how many routes each list gives for it
--- http_config eval: $::RoutesConf
--- request
GET /zz/last
--- more_headers
Host: idx.example.com
--- response_headers
X-Route: http:217
--- error_log
kedge: route index: 1 of segment "/zz", 26 of any
kedge: route index: 0 of segment "/zz", 27 of any



=== TEST 4: a short list is walked, not indexed
--- http_config
    kedge_http_route backend=alpha path=/a/*;
    kedge_http_route backend=beta path=/b/*;
--- request
GET /b/x
--- response_headers
X-Route: http:2
--- no_error_log
kedge: route index:



=== TEST 5: a route with one path of a segment and one of any segment is tried for every segment
--- http_config eval
"    kedge_http_route backend=alpha path=/a/x path=/b*;\n"
. (CORE::join "", map { "    kedge_http_route backend=gamma path=/f$_/*;\n" } 1 .. 7)
. "    kedge_http_route backend=beta path=/b/exact;\n"
--- request eval
["GET /b/exact", "GET /bz", "GET /a/x", "GET /a/y", "GET /f3/q"]
--- error_code eval
[200, 200, 200, 502, 200]
--- response_headers eval
["X-Route: http:1", "X-Route: http:1", "X-Route: http:1",
 "X-Kedge-Error-Type: no-route", "X-Route: http:4"]



=== TEST 6: kedge_config routes with the directives' around them, indexed as one list
--- user_files
>>> director.json
{"http": {"routes": [
  {"backend_name": "beta", "host_matcher": "j.example.com",
   "path_rules": ["/a/*"]},
  {"backend_name": "gamma", "path_rules": ["/b*"]},
  {"backend_name": "alpha", "host_matcher": "j.example.com",
   "path_rules": ["/b/exact"]},
  {"backend_name": "beta", "host_matcher": "j.example.com",
   "path_rules": ["/c/1", "/c/2"], "header_matcher": {"X-H": "1"}},
  {"backend_name": "gamma", "host_matcher": "j.example.com",
   "path_rules": ["*"], "header_matcher": {"X-Any": "yes"}},
  {"backend_name": "alpha", "host_matcher": "j.example.com",
   "port_matcher": 8080, "path_rules": ["/p/*"]},
  {"backend_name": "beta", "path_rules": ["/f1/*"]},
  {"backend_name": "beta", "path_rules": ["/f2/*"]},
  {"backend_name": "beta", "path_rules": ["/f3/*", ""]},
  {"backend_name": "beta", "host_matcher": "j.example.com",
   "path_rules": ["/c/*"], "proxy_mode": "REVERSE_PROXY"}
]}}
--- http_config
    kedge_http_route backend=alpha host=j.example.com path=/a/exact;
    kedge_config director=../html/director.json;
    kedge_http_route backend=gamma host=j.example.com path=/a/* path=/p/*;
--- request eval
["GET /a/exact", "GET /a/x", "GET /b/exact", "GET /bb", "GET /c/1",
 "GET /c/1", "GET /c/3", "GET /f3/x", "GET /p/x", "GET /p/x", "GET /z",
 "GET /z"]
--- more_headers eval
["Host: j.example.com", "Host: j.example.com", "Host: j.example.com",
 "Host: j.example.com", "Host: j.example.com\nX-H: 1",
 "Host: j.example.com", "Host: j.example.com\nX-Any: yes",
 "Host: j.example.com", "Host: j.example.com:8080", "Host: j.example.com",
 "Host: j.example.com", "Host: j.example.com\nX-Any: yes"]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 502, 200]
--- response_headers eval
["X-Route: http:1", "X-Route: http:2", "X-Route: http:3", "X-Route: http:3",
 "X-Route: http:5", "X-Route: http:11", "X-Route: http:6", "X-Route: http:10",
 "X-Route: http:7", "X-Route: http:12", "X-Kedge-Error-Type: no-route",
 "X-Route: http:6"]



=== TEST 7: hostile paths: the router sees nginx's normalized, decoded path; nginx refuses the rest first
--- http_config eval
"    kedge_http_route backend=alpha path=/api/*;\n"
. "    kedge_http_route backend=beta path=/;\n"
. "    kedge_http_route backend=gamma path=/\x{c3}\x{a9}/*;\n"
. "    kedge_http_route backend=alpha path=/" . ("a" x 3000) . "/*;\n"
. "    kedge_http_route backend=beta path=/q/x?y;\n"
. (CORE::join "", map { "    kedge_http_route backend=gamma path=/f$_/*;\n" } 1 .. 6)
. "    kedge_http_route backend=beta header=X-Any:yes;\n"
--- request eval
["GET /%61pi/x", "GET /api%2Fx", "GET //api/x", "GET /%2Fapi/x",
 "GET /x/../api/y", "GET /API/x", "GET /api", "GET /q/x%3Fy",
 "GET /q/x?y", "GET /%C3%A9/x", "GET /%c3%a9", "GET /" . ("a" x 3000) . "/x",
 "GET /" . ("a" x 3001) . "/x", "GET /" . ("a" x 8000), "GET /api#x",
 "GET http://i.example.com", "GET http://i.example.com?q=1",
 "GET /" . ("a" x 8000)]
--- more_headers eval
[("") x 17, "X-Any: yes"]
--- error_code eval
[200, 200, 200, 200, 200, 502, 502, 200, 502, 200, 502, 200, 502, 502, 502,
 200, 200, 200]
--- response_headers eval
["X-Route: http:1", "X-Route: http:1", "X-Route: http:1", "X-Route: http:1",
 "X-Route: http:1", "X-Kedge-Error-Type: no-route",
 "X-Kedge-Error-Type: no-route", "X-Route: http:5",
 "X-Kedge-Error-Type: no-route",
 "X-Route: http:3", "X-Kedge-Error-Type: no-route", "X-Route: http:4",
 "X-Kedge-Error-Type: no-route", "X-Kedge-Error-Type: no-route",
 "X-Kedge-Error-Type: no-route", "X-Route: http:2", "X-Route: http:2",
 "X-Route: http:12"]



=== TEST 8: hostile requests that nginx refuses before any route is looked up
--- http_config eval
CORE::join "", map { "    kedge_http_route backend=alpha path=/a$_/*;\n" } 1 .. 8
--- raw_request eval
["GET api/x HTTP/1.1\r\nHost: i.example.com\r\nConnection: close\r\n\r\n",
 "GET  HTTP/1.1\r\nHost: i.example.com\r\nConnection: close\r\n\r\n",
 "OPTIONS * HTTP/1.1\r\nHost: i.example.com\r\nConnection: close\r\n\r\n",
 "GET /a1/%00 HTTP/1.1\r\nHost: i.example.com\r\nConnection: close\r\n\r\n",
 "GET /%2e%2e/a1/x HTTP/1.1\r\nHost: i.example.com\r\nConnection: close\r\n\r\n",
 "GET /a1%zz HTTP/1.1\r\nHost: i.example.com\r\nConnection: close\r\n\r\n"]
--- error_code eval
[400, 400, 400, 400, 400, 400]
--- response_headers eval
[("!X-Kedge-Error-Type") x 6]
--- no_error_log
kedge: route index:



=== TEST 9: gRPC: a long list indexed by service; wildcards and exact names keep their order; hostile method paths
--- http_config eval
"    kedge_grpc_route backend=gb service=kedge.test.Echo/Unary;\n"
. "    kedge_grpc_route backend=ga service=kedge.test.O*;\n"
. (CORE::join "", map { "    kedge_grpc_route backend=gb service=com.example.S$_/*;\n" } 1 .. 8)
. "    kedge_grpc_route backend=gb service=kedge.test.Other/*;\n"
. "    kedge_grpc_route backend=ga service=kedge.test.Echo/* authority=a.example.com;\n"
. "    kedge_grpc_route backend=ga metadata=x-m:1;\n"
. "    kedge_grpc_route backend=gb service=kedge.test.Echo/Server*;\n"
. "    kedge_grpc_route backend=ga service=kedge.test.Echo;\n"
. "    kedge_grpc_route backend=gb service=kedge.test.*;\n"
. "    kedge_grpc_route backend=ga service=zz.Last/Call port=8443;\n"
--- exec
c() {
    h=$1; shift
    for p in "$@"; do
        curl -s --http2-prior-knowledge --path-as-is -o /dev/null \
             -H 'content-type: application/grpc' -H 'te: trailers' \
             -H "Host: $h" $M --data-binary '' \
             -w "$p %{http_code} %header{x-route}%header{x-kedge-error-type}\n" \
             "http://127.0.0.1:$TEST_NGINX_H2C_PORT$p"
    done
}
c x.example.com /kedge.test.Echo/Unary /kedge.test.Other/Ping \
    /kedge.test.Echo/ServerStream /kedge.test.Echo/Bidi /kedge.test.Echo \
    /com.example.S8/Call /com.example.S9/Call / /%6bedge.test.Echo/Unary \
    //kedge.test.Echo/Unary /kedge.test.Echo/x/../Unary /x/../zz.Last/Call \
    /$(printf 'a%.0s' $(seq 3000))/M
c a.example.com /kedge.test.Echo/Unary /kedge.test.Echo/Bidi
c x.example.com:8443 /zz.Last/Call
c x.example.com /zz.Last/Call
M='-H x-m:1'
c x.example.com /com.example.S8/Call /com.example.S9/Call / \
    /$(printf 'a%.0s' $(seq 3000))/M
--- response_body eval
my $long = "/" . ("a" x 3000) . "/M";
"/kedge.test.Echo/Unary 200 grpc:1
/kedge.test.Other/Ping 200 grpc:2
/kedge.test.Echo/ServerStream 200 grpc:14
/kedge.test.Echo/Bidi 200 grpc:16
/kedge.test.Echo 200 grpc:15
/com.example.S8/Call 200 grpc:10
/com.example.S9/Call 200 no-route
/ 200 no-route
/%6bedge.test.Echo/Unary 200 grpc:1
//kedge.test.Echo/Unary 200 grpc:1
/kedge.test.Echo/x/../Unary 200 grpc:1
/x/../zz.Last/Call 200 no-route
$long 200 no-route
/kedge.test.Echo/Unary 200 grpc:1
/kedge.test.Echo/Bidi 200 grpc:12
/zz.Last/Call 200 grpc:17
/zz.Last/Call 200 no-route
/com.example.S8/Call 200 grpc:10
/com.example.S9/Call 200 grpc:13
/ 200 grpc:13
$long 200 grpc:13
"
