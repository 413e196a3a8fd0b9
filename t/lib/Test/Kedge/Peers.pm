package Test::Kedge::Peers;

# Real peers for the suites, started once per .t file, before run_tests(),
# and stopped when the file ends:
#
#     use Test::Kedge::Peers;
#     grpc_server("--listen", "127.0.0.1:$p1=grpc-a,127.0.0.1:$p2=grpc-b");
#     my $certs = test_certs();      # scripts/make-certs.sh, exported as
#                                    # $TEST_NGINX_CERT_DIR
#     dns_server(port => $p, hosts => "127.0.0.2 a.test\n", ttl => 1,
#                srv => ["_http._tcp.s.test,a.test,8080"],
#                local => ["test"]);
#                                    # dnsmasq; exports TEST_NGINX_DNS_HOSTS
#                                    # (rewrite it, then HUP TEST_NGINX_DNS_PID);
#                                    # names of "local" domains that it does
#                                    # not know are NXDOMAIN, not REFUSED
#
# Plain Perl on top of Test::Nginx: works the same under the real one.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use IO::Select;
use POSIX qw(WNOHANG);

use Exporter 'import';
our @EXPORT = qw(grpc_server dns_server k8s_apiserver test_certs repo_root);

my @Pids;

sub repo_root {
    return abs_path(dirname(__FILE__) . "/../../../..");
}

# the throwaway PKI of scripts/make-certs.sh, made once
sub test_certs {
    my $dir = $ENV{TEST_NGINX_CERT_DIR} ||= repo_root() . "/build/certs";
    system(repo_root() . "/scripts/make-certs.sh", $dir) == 0
        or die "scripts/make-certs.sh $dir failed\n";
    return $dir;
}

# t/peers/grpc_server.py with these arguments; returns once it says READY
sub grpc_server {
    my ($pid) = _start_ready('/usr/bin/python3',
                             repo_root() . "/t/peers/grpc_server.py", @_);
    return $pid;
}


# runs a peer that prints "READY ..." once serving; returns pid and line
sub _start_ready {
    my @cmd = @_;

    pipe(my $r, my $w) or die "pipe: $!";

    my $pid = fork() // die "fork: $!";

    if ($pid == 0) {
        close $r;
        open STDOUT, '>&', $w or die "dup: $!";
        open STDIN, '<', '/dev/null';
        setpgrp(0, 0);
        exec @cmd or die "exec $cmd[0]: $!";
    }

    close $w;
    push @Pids, $pid;

    my $sel = IO::Select->new($r);
    my $line = '';

    while ($sel->can_read(30)) {
        my $n = sysread($r, my $buf, 4096);
        last unless $n;
        $line .= $buf;
        last if $line =~ /\n/;
    }

    die "@cmd did not get ready: '$line'\n" unless $line =~ /^READY /;

    close $r;
    chomp $line;

    return ($pid, $line);
}


# dnsmasq on loopback, answering from a hosts file (A records, re-read on
# SIGHUP) and --srv-host records, with a short TTL
sub dns_server {
    my %o = @_;
    my $dir = ($ENV{TEST_NGINX_SERVROOT} || repo_root() . "/t/servroot")
              . "-dns";

    system("mkdir", "-p", $dir) == 0 or die "mkdir $dir failed\n";

    open my $fh, '>', "$dir/hosts" or die "$dir/hosts: $!";
    print $fh $o{hosts} // '';
    close $fh;

    unlink "$dir/pid";

    my @args = ("--keep-in-foreground", "--no-resolv", "--no-hosts",
                "--addn-hosts=$dir/hosts", "--port=$o{port}",
                "--listen-address=127.0.0.1", "--bind-interfaces",
                "--local-ttl=" . ($o{ttl} // 1), "--pid-file=$dir/pid",
                "--log-queries", "--log-facility=$dir/log", "--user=root",
                (map { "--srv-host=$_" } @{ $o{srv} // [] }),
                (map { "--local=/$_/" } @{ $o{local} // [] }));

    my $pid = fork() // die "fork: $!";

    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        setpgrp(0, 0);
        exec '/usr/sbin/dnsmasq', @args or die "exec dnsmasq: $!";
    }

    push @Pids, $pid;

    for (1 .. 50) {
        last if -s "$dir/pid";
        select(undef, undef, undef, 0.1);
    }

    die "dnsmasq did not start\n" unless -s "$dir/pid";

    $ENV{TEST_NGINX_DNS_HOSTS} = "$dir/hosts";
    $ENV{TEST_NGINX_DNS_PID} = $pid;
    $ENV{TEST_NGINX_DNS_LOG} = "$dir/log";

    return $pid;
}

# t/fixtures/k8s/apiserver.py over TLS with the test PKI; exports
# TEST_NGINX_K8S_PORT, TEST_NGINX_K8S_CONTROL and TEST_NGINX_K8S_TOKEN
# (the token file the fixture checks, "secret-1" to start with)
sub k8s_apiserver {
    my @args = @_;
    my $certs = test_certs();
    my $dir = ($ENV{TEST_NGINX_SERVROOT} || repo_root() . "/t/servroot")
              . "-k8s";

    system("mkdir", "-p", $dir) == 0 or die "mkdir $dir failed\n";

    open my $fh, '>', "$dir/token" or die "$dir/token: $!";
    print $fh "secret-1\n";
    close $fh;

    my ($pid, $line) = _start_ready("/usr/bin/python3",
        repo_root() . "/t/fixtures/k8s/apiserver.py",
        "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0",
        "--cert", "$certs/server.crt", "--key", "$certs/server.key",
        "--token-file", "$dir/token", @args);

    my (undef, $api, $control) = split ' ', $line;

    $ENV{TEST_NGINX_K8S_PORT} = $api;
    $ENV{TEST_NGINX_K8S_CONTROL} = $control;
    $ENV{TEST_NGINX_K8S_TOKEN} = "$dir/token";

    return $pid;
}

END {
    # waitpid() sets $?, which is the test's exit status from here on: a
    # peer reaped already (-1) would fail a script whose tests all passed
    local $?;

    for my $pid (@Pids) {
        kill 'TERM', -$pid;
        kill 'TERM', $pid;
    }

    for my $pid (@Pids) {
        for (1 .. 30) {
            last if waitpid($pid, WNOHANG) != 0;
            select(undef, undef, undef, 0.1);
        }
        kill 'KILL', $pid;
    }
}

1;
