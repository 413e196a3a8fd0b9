package Test::Kedge::DnsSuite;

# What the suites of run-time DNS backends (t/005, t/006) share: dnsmasq
# on loopback with every block's names, and the http{} part each block
# starts from (resolver, zone, upstream, the endpoints 127.0.0.2/.3).
# Loaded after Test::Nginx::Socket:
#
#     use Test::Nginx::Socket 'no_plan';
#     use Test::Kedge::DnsSuite;

use strict;
use warnings;

use Test::Nginx::Socket ();
use Test::Kedge::Peers;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
$ENV{TEST_NGINX_DNS_PORT} ||= $port + 140;
$ENV{TEST_NGINX_B_PORT} ||= $port + 141;
$ENV{TEST_NGINX_B2_PORT} ||= $port + 142;

# every block has names of its own: a block that changes its answers
# changes nothing for the others
dns_server(port => $ENV{TEST_NGINX_DNS_PORT}, ttl => 1,
           hosts => join("", map { "$_\n" }
               "127.0.0.2 two.kedge.test", "127.0.0.3 two.kedge.test",
               "127.0.0.2 change.kedge.test",
               "127.0.0.2 stale.kedge.test",
               "127.0.0.2 workers.kedge.test", "127.0.0.3 workers.kedge.test",
               "127.0.0.2 reload.kedge.test",
               "127.0.0.2 web.kedge.test", "127.0.0.3 web.kedge.test",
               "127.0.0.4 empty.kedge.test"),
           srv => ["_http._tcp.svc.kedge.test,web.kedge.test,$ENV{TEST_NGINX_B2_PORT}"]);

our $Common = <<'_EOC_';
    resolver 127.0.0.1:$TEST_NGINX_DNS_PORT ipv6=off;
    kedge_zone kedge 1m;

    upstream kedge {
        kedge_balancer;
        keepalive 8;
    }

    # the endpoints: 127.0.0.2 and 127.0.0.3, all on loopback
    server {
        listen 127.0.0.2:$TEST_NGINX_B_PORT;
        listen 127.0.0.3:$TEST_NGINX_B_PORT;
        listen 127.0.0.2:$TEST_NGINX_B2_PORT;
        listen 127.0.0.3:$TEST_NGINX_B2_PORT;
        return 200 "$server_addr:$server_port\n";
    }
_EOC_

Test::Nginx::Socket::add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $Common . ($block->http_config // ''));
    $block->set_value("config", "location / { kedge_pass; }")
        unless defined $block->config;
    $block->set_value("timeout", 20) unless defined $block->timeout;
});


1;
