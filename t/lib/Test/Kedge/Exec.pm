package Test::Kedge::Exec;

# "--- exec" for Test::Nginx::Socket suites: run a shell command against the
# nginx started for the block and check its stdout like a response body.
#
# NOT an upstream Test::Nginx section (upstream openresty/test-nginx has no
# --- exec; the idea comes from Apache APISIX's t/APISIX.pm, which builds it
# on OpenResty's resty.shell).  This module adds it on top of the public
# extension points that both upstream Test::Nginx and our t/lib runner have:
# $Test::Nginx::Util::RunTestHelper (the per-request driver, called once nginx
# is up) and $Test::Nginx::Util::CheckErrorLog.  So a .t file doing
#
#     use Test::Nginx::Socket 'no_plan';
#     use Test::Kedge::Exec;
#
# runs the same under both runners (keep t/lib in @INC in both cases).
#
# Block syntax:
#
#     === TEST 1: grpc call
#     --- config
#         location / { grpc_pass grpc://127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
#     --- exec
#     python3 t/peers/client.py 127.0.0.1:$TEST_NGINX_SERVER_PORT
#     --- response_body
#     hello
#     --- exit_code: 0
#     --- timeout: 10
#     --- no_error_log
#     [error]
#
# Semantics:
#  * The section is a /bin/sh script (several lines allowed), run from the
#    directory prove runs in, once per repetition (repeat_each), after
#    nginx started, instead of sending --- request.  $TEST_NGINX_* variables
#    are expanded first exactly as in --- config (so $TEST_NGINX_RAND_PORT_N
#    has the block's value); the environment also carries them
#    (TEST_NGINX_SERVER_PORT, TEST_NGINX_SERVER_ROOT, ...).  Other $vars are
#    left to the shell.
#  * Tests emitted, in order (same shape as a request block):
#      1. exit status: is(status, --- exit_code // 0) - always one test,
#         like "status code ok" of a request; a timeout or a signal fails it;
#      2. stdout against --- response_body (string or eval'd qr//) or
#         --- response_body_like / --- response_body_unlike - one test when
#         present, same matching rules as for a response body;
#      3. after --- wait, the usual error-log sections (--- error_log,
#         --- no_error_log, --- grep_error_log...) through $CheckErrorLog.
#  * --- timeout (default: timeout(), 3 s) bounds the whole command; on
#    expiry it is killed (SIGKILL to its process group) and test 1 fails.
#  * The command runs in its own process group, which is killed when the
#    command exits: nothing it started in the background survives it (and
#    background jobs cannot make the runner hang).
#  * stdin is /dev/null; stderr is shown (diag) when the exit status check
#    fails.  Use "2>&1" to check stderr.  Lines "note: ..." on stderr are
#    shown (diag) anyway: figures a test measures and prints, such as a
#    propagation time, never asserts.
#  * Response-only sections (--- error_code, --- response_headers...) do
#    not apply and are ignored; --- request is not sent.

use strict;
use warnings;

our $VERSION = '0.01';

use Test::More ();
use File::Temp ();
use POSIX ();
use Time::HiRes qw( sleep time );

my $Installed;
my $OrigHelper;

sub import {
    return if $Installed;

    # Both runners set $RunTestHelper when Test::Nginx::Socket is loaded.
    require Test::Nginx::Socket;
    $OrigHelper = $Test::Nginx::Util::RunTestHelper
        or die "Test::Kedge::Exec: \$Test::Nginx::Util::RunTestHelper is not set\n";

    $Test::Nginx::Util::RunTestHelper = sub {
        my ($block) = @_;
        return $OrigHelper->(@_) if !defined $block->exec;
        return run_exec(@_);
    };

    $Installed = 1;
}

sub _expand ($$) {
    my ($text, $name) = @_;
    if (defined &Test::Nginx::Util::expand_env_in_text) {
        return Test::Nginx::Util::expand_env_in_text($text, $name,
                                                     $Test::Nginx::Util::RandPorts);
    }
    $text =~ s/\$(TEST_NGINX_[_A-Z0-9]+)/$ENV{$1} \/\/ die "$name - No environment $1 defined.\n"/ge;
    return $text;
}

sub _listening ($) {
    my $port = shift;
    my $hex = sprintf ':%04X', $port;
    for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $in, '<', $f or next;
        while (<$in>) {
            my @f = split;
            return 1 if @f > 3 && $f[1] =~ /\Q$hex\E$/ && $f[3] eq '0A';
        }
    }
    return 0;
}

sub _parse_time ($) {
    my $t = shift;
    return undef if !defined $t;
    return $1 / 1000 if $t =~ /^\s*([\d.]+)\s*ms\s*$/;
    $t =~ s/^\s*([\d.]+)\s*s?\s*$/$1/;
    return $t;
}

# Runs "/bin/sh -c $cmd" in its own process group, stdin from /dev/null,
# stdout/stderr into temporary files (so that a backgrounded grandchild
# keeping them open cannot hang us), for at most $timeout seconds.
# Afterwards the whole process group is killed: nothing the command left
# running in the background survives it.
# Returns (exit status or undef, stdout, stderr, failure message or undef).
sub run_command ($$) {
    my ($cmd, $timeout) = @_;

    my $ofh = File::Temp->new;
    my $efh = File::Temp->new;

    my $pid = fork;
    return (undef, '', '', "cannot fork: $!") if !defined $pid;

    if ($pid == 0) {
        setpgrp(0, 0);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>&', $ofh;
        open STDERR, '>&', $efh;
        { exec '/bin/sh', '-c', $cmd }
        POSIX::_exit(127);
    }

    my ($status, $failure);
    my $deadline = time + $timeout;
    while (1) {
        my $r = waitpid($pid, POSIX::WNOHANG());
        if ($r == $pid) {
            $status = $?;
            last;
        }
        if ($r < 0) {
            $failure = "--- exec command lost: $!";
            last;
        }
        if (time >= $deadline) {
            kill 'KILL', -$pid;
            waitpid($pid, 0);
            $failure = "--- exec command timed out after ${timeout}s";
            last;
        }
        sleep 0.01;
    }
    kill 'KILL', -$pid;      # background leftovers, if any

    my $slurp = sub {
        my $fh = shift;
        open my $in, '<', $fh->filename or return '';
        binmode $in;
        local $/;
        my $data = <$in>;
        close $in;
        return $data // '';
    };
    my ($out, $err) = ($slurp->($ofh), $slurp->($efh));

    if (!defined $failure) {
        if ($status & 127) {
            $failure = "--- exec command killed by signal " . ($status & 127);
            undef $status;
        } else {
            $status >>= 8;
        }
    }

    return ($status, $out, $err, $failure);
}

sub run_exec {
    my ($block, $dry_run, $repeated_req_idx) = @_;

    my $name = $block->name;
    my $cmd = $block->exec;
    $cmd = _expand($cmd, $name);
    $cmd =~ s/^\s+|\s+$//g;

    my $timeout = _parse_time($block->timeout);
    $timeout = Test::Nginx::Util::timeout() if !defined $timeout || $timeout eq '';

    my ($status, $out, $err, $failure) = (undef, '', '', undef);

    if (!$dry_run) {
        # nginx normally listens by now (it daemonizes after binding); be
        # patient anyway, without connecting (that would log a line).
        my $port = $Test::Nginx::Util::ServerPortForClient;
        for (1 .. 50) {
            last if !-d '/proc/net' || _listening($port);
            sleep 0.1;
        }

        ($status, $out, $err, $failure) = run_command($cmd, $timeout);
    }

    # 1. exit status
    my $want_status = $block->exit_code;
    $want_status = 0 if !defined $want_status || $want_status eq '';
    SKIP: {
        Test::More::skip("$name - tests skipped due to $dry_run", 1) if $dry_run;
        my $ok;
        if (defined $failure) {
            $ok = Test::More::fail("$name - exec exit code ok ($failure)");
        } else {
            $ok = Test::More::is($status, $want_status, "$name - exec exit code ok");
        }
        if (!$ok) {
            Test::More::diag("command: $cmd");
            Test::More::diag("stdout: $out") if $out ne '';
            Test::More::diag("stderr: $err") if $err ne '';

        } else {
            # a figure the command measured: shown, never asserted
            Test::More::diag("$name - $1") while $err =~ /^note: (.*)$/mg;
        }
    }

    # 2. stdout
    check_stdout($block, $out, $dry_run, $repeated_req_idx);

    # 3. logs
    sleep $block->wait if $block->wait;
    $Test::Nginx::Util::CheckErrorLog->($block, undef, $dry_run, $repeated_req_idx, 0);
}

sub check_stdout {
    my ($block, $out, $dry_run, $repeated_req_idx) = @_;
    my $name = $block->name;
    my $port = $Test::Nginx::Util::ServerPort;
    my $cport = $Test::Nginx::Util::ServerPortForClient;

    # one "request": an array value means its first element (upstream rule)
    my $first = sub { my $v = shift; ref $v eq 'ARRAY' ? $v->[0] : $v };

    if (defined $block->response_body) {
        my $expected = $first->($block->response_body);
        if (defined $expected && !ref $expected) {
            $expected =~ s/\$ServerPort\b/$port/g;
            $expected =~ s/\$ServerPortForClient\b/$cport/g;
            $expected = _expand($expected, $name);
        }
        my $desc = "$name - response_body - exec stdout is expected (repeated req $repeated_req_idx)";
        SKIP: {
            Test::More::skip("$name - response_body - tests skipped due to $dry_run", 1) if $dry_run;
            if (ref $expected) {
                Test::More::like($out, $expected, $desc);
            } elsif ($Test::Nginx::Util::NoLongString) {
                Test::More::is($out, $expected, $desc);
            } else {
                require Test::LongString;
                Test::LongString::is_string($out, $expected, $desc);
            }
        }

    } elsif (defined $block->response_body_like || defined $block->response_body_unlike) {
        my $type = defined $block->response_body_like ? 'like' : 'unlike';
        my $sec = "response_body_$type";
        my $pat = $first->($block->$sec);
        $pat =~ s/\$ServerPort\b/$port/g;
        $pat =~ s/\$ServerPortForClient\b/$cport/g;
        SKIP: {
            Test::More::skip("$name - $sec - tests skipped due to $dry_run", 1) if $dry_run;
            my $desc = "$name - $sec - exec stdout is expected";
            if ($type eq 'like') {
                Test::More::like($out, qr/$pat/s, $desc);
            } else {
                Test::More::unlike($out, qr/$pat/s, $desc);
            }
        }
    }
}

1;
