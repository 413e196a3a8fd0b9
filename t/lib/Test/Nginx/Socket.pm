package Test::Nginx::Socket;

# ngx_kedge_module's own implementation of the subset of Test::Nginx::Socket
# (openresty/test-nginx) that our test suites use.  Test blocks are written
# in the real module's format and must keep running unchanged under the
# real module; this file mirrors its semantics (section names, defaults,
# test names and test counts).  See t/README.md for what is supported and
# for the (few, documented) deviations, marked "KEDGE:" in the code.
#
# Like upstream, this class inherits from Test::Base, which provides the
# block parser (=== / --- sections, filters such as eval and chomp,
# --- ONLY / --- SKIP / --- LAST) and plan handling.

use strict;
use warnings;

# -base (lower case): become a Test::Base subclass without Spiffy's source
# filter, so that the subs below are plain Perl.
use Test::Base -base;

our $VERSION = '0.33';

use Test::Nginx::Util;
use Test::LongString ();
use Test::More ();
use HTTP::Response ();
use IO::Select ();
use IO::Socket::INET ();
use IPC::Run ();
use JSON::PP ();
use Encode ();
use Digest::MD5 ();
use Digest::SHA ();
use List::Util qw( min );
use Time::HiRes qw( sleep time );
use POSIX qw( EAGAIN EINTR EWOULDBLOCK );

our @EXPORT = qw( env_to_nginx is_str plan run_tests run_test
  repeat_each config_preamble worker_connections
  master_process_enabled
  no_long_string workers master_on master_off
  log_level no_shuffle no_root_location
  server_name
  server_addr server_root html_dir server_port server_port_for_client
  timeout no_nginx_manager check_accum_error_log
  add_block_preprocessor bail_out add_test_cleanup_handler add_cleanup_handler
  add_response_body_check
);

our $TotalConnectingTimeouts = 0;
our @ResponseBodyChecks;

sub run_test_helper ($$$);
sub check_error_log ($$$$$);
sub check_shutdown_error_log ($$);
sub send_request ($$$$);
sub gen_curl_cmd_from_req ($$);

# The pluggable hooks of Test::Nginx::Util, wired as upstream does.
$RunTestHelper         = \&run_test_helper;
$CheckErrorLog         = \&check_error_log;
$CheckShutdownErrorLog = \&check_shutdown_error_log;

sub run_test ($) { Test::Nginx::Util::run_test(shift) }

sub set_http_config_filter ($) { $FilterHttpConfig = shift }

sub add_response_body_check ($) { push @ResponseBodyChecks, shift }

# ---------------------------------------------------------------------------
# Building requests from --- request / --- more_headers
# ---------------------------------------------------------------------------

# "--- more_headers" -> ("Key: val\r\n"..., is_chunked)
sub parse_more_headers ($) {
    my ($in) = @_;
    my ($out, $is_chunked) = ('', undef);
    for my $header (split /\n+/, $in) {
        next if $header =~ /^\s*\#/;
        my ($key, $val) = split /:\s*/, $header, 2;
        $val //= '';
        $is_chunked = 1 if lc($key) eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $is_chunked);
}

# Describes how the request spec "METH [URI [VERSION]]\n[body]" becomes the
# wire request, as a list of [start, end, replacement] segments over the
# original text, in order: what is dropped (spaces), what is normalized
# (request line pieces), what is inserted (defaults, headers) and the body.
# Keeping the original positions lets us split the result at the same
# places as the caller's packets.
sub request_segments ($$$$$) {
    my ($name, $raw, $more_headers, $is_chunked, $conn_header) = @_;

    my $nl = index $raw, "\n";
    my $first_len = $nl < 0 ? length $raw : $nl + 1;
    my $first = substr $raw, 0, $first_len;

    if ($first eq '') {
        bail_out("$name - Request line should be non-empty");
    }

    my @m = $first =~ /^(\s*)(\S+)( *)((\S+)( *))?((\S+)( *))?(\s*)$/;
    if (!@m) {
        bail_out("$name - Request line is not valid. Should be 'meth [url "
                 . "[version]]' but got \"$first\".");
    }
    my ($lead, $meth, $sp1, undef, $url, $sp2, undef, $ver, $sp3, $eol) = @m;

    my @segs;
    my $pos = 0;
    my $take = sub {            # consume $len chars, replacing them by $text
        my ($len, $text) = @_;
        push @segs, [$pos, $pos + $len, $text];
        $pos += $len;
    };

    $take->(length $lead, '');
    $take->(length $meth, "$meth ");
    $take->(length $sp1, '');
    if (defined $url) {
        $take->(length $url, "$url ");
        $take->(length $sp2, '');
    } else {
        $take->(0, '/ ');
    }
    if (defined $ver) {
        $take->(length $ver, "$ver\r\n");
        $take->(length($sp3) + length($eol), '');
    } else {
        $take->(length $eol, '');
        $take->(0, "HTTP/1.1\r\n");
    }

    my $content = substr $raw, $first_len;

    my $len_header = '';
    if (!$is_chunked && $content ne ''
        && $more_headers !~ /(?:^|\n)Content-Length:/)
    {
        $content =~ s/^\s+|\s+$//gs;
        $len_header = "Content-Length: " . length($content) . "\r\n";
    }

    $more_headers =~ s/(?<!\r)\n/\r\n/gs;

    my $headers = '';
    $headers .= "Host: $ServerName\r\n"
        if $more_headers !~ /(?:^|\n)Host:/msi;
    $headers .= "Connection: $conn_header\r\n"
        if $more_headers !~ /(?:^|\n)Connection/msi;
    $headers .= "$more_headers$len_header\r\n";

    $take->(0, $headers);
    $take->(length($raw) - $first_len, $content);

    return \@segs;
}

# Offset in the built request that corresponds to offset $p of the spec.
# A segment cut by $p contributes the same number of leading characters
# (at most its replacement); inserts at $p go to the left side.
sub map_request_offset ($$) {
    my ($segs, $p) = @_;
    my $off = 0;
    for my $s (@$segs) {
        my ($b, $e, $text) = @$s;
        if ($e <= $p) {
            $off += length $text;
        } elsif ($b < $p) {
            my $n = $p - $b;
            $off += $n < length $text ? $n : length $text;
        } else {
            last;
        }
    }
    return $off;
}

# Turns the spec (given as packets) into wire packets: request line
# normalized, Host/Connection/Content-Length and --- more_headers added.
sub build_request_from_packets ($$$$$) {
    my ($name, $more_headers, $is_chunked, $conn_header, $packets) = @_;

    my $raw = join '', map { $_ // '' } @$packets;
    my $segs = request_segments($name, $raw, $more_headers, $is_chunked,
                                $conn_header);
    my $built = join '', map { $_->[2] } @$segs;

    my @out;
    my ($cum, $prev) = (0, 0);
    for my $i (0 .. $#$packets) {
        $cum += length($packets->[$i] // '');
        my $off = $i == $#$packets ? length $built
                                   : map_request_offset($segs, $cum);
        push @out, substr($built, $prev, $off - $prev);
        $prev = $off;
    }

    return \@out;
}

# Returns the list of requests of a block; each request is a list of
# packets ({ value => ..., delay_before => ... }) sent on one connection.
sub get_req_from_block ($) {
    my ($block) = @_;
    my $name = $block->name;

    my @req_list;

    if (defined $block->raw_request) {
        my $raw = $block->raw_request;
        if (ref $raw && ref $raw eq 'ARRAY') {
            push @req_list, [ map { { value => $_ } } @$raw ];
        } else {
            push @req_list, [ { value => $raw } ];
        }
        return \@req_list;
    }

    my $request;
    if (defined $block->request_eval) {
        Test::More::diag("$name - request_eval DEPRECATED. Use request eval instead.");
        $request = eval $block->request_eval;
        warn $@ if $@;

    } else {
        $request = $block->request;
        if (defined $request && !ref $request) {
            # drop leading "# comment" lines and blanks
            1 while $request =~ s/^\s*\#[^\n]+\s+|^\s+//gs;
        }
    }

    my $more_headers = $block->more_headers || '';

    my $headers_for = sub {
        my ($i, $what) = @_;
        if (ref $more_headers eq 'ARRAY') {
            my $hdr = $more_headers->[$i];
            bail_out("--- more_headers lacks data for the $what") if !defined $hdr;
            return parse_more_headers($hdr);
        }
        return parse_more_headers($more_headers);
    };

    if ($block->pipelined_requests) {
        my $reqs = $block->pipelined_requests;
        if (!ref $reqs || ref $reqs ne 'ARRAY') {
            bail_out("$name - invalid entries in --- pipelined_requests");
        }
        my $all = '';
        for my $i (0 .. $#$reqs) {
            my $one = expand_env_in_text($reqs->[$i], $name,
                                         $Test::Nginx::Util::RandPorts);
            my $conn = $i == $#$reqs ? 'close' : 'keep-alive';
            my ($hdr, $chunked) = $headers_for->($i, "$i pipelined request");
            $all .= build_request_from_packets($name, $hdr, $chunked, $conn,
                                               [$one])->[0];
        }
        push @req_list, [ { value => $all } ];
        return \@req_list;
    }

    if (!ref $request) {
        my ($hdr, $chunked) = $headers_for->(0, "request");
        my $built = build_request_from_packets($name, $hdr, $chunked, 'close',
                                               [$request]);
        push @req_list, [ { value => $built->[0] } ];

    } elsif (ref $request eq 'ARRAY') {
        for my $i (0 .. $#$request) {
            my $one = $request->[$i];
            my ($hdr, $chunked) = $headers_for->($i, "${i}th request");

            if (!ref $one) {
                my $built = build_request_from_packets($name, $hdr, $chunked,
                                                       'close', [$one]);
                push @req_list, [ { value => $built->[0] } ];

            } elsif (ref $one eq 'ARRAY') {
                # a request given as packets (strings or { value, delay_before })
                my @values;
                for my $p (@$one) {
                    if (!ref $p) {
                        push @values, $p;
                    } elsif (ref $p eq 'HASH') {
                        push @values, $p->{value};
                    } else {
                        bail_out "$name - Invalid syntax. $p should be a string or hash with value.";
                    }
                }
                my $built = build_request_from_packets($name, $hdr, $chunked,
                                                       'close', \@values);
                my @packets;
                for my $j (0 .. $#$built) {
                    my %p = ref $one->[$j] ? %{ $one->[$j] } : ();
                    $p{value} = $built->[$j];
                    push @packets, \%p;
                }
                push @req_list, \@packets;

            } else {
                bail_out "$name - Invalid syntax. $one should be a string or an array of packets.";
            }
        }

    } else {
        bail_out("$name - invalid ---request : MUST be string or array of requests");
    }

    return \@req_list;
}

# ---------------------------------------------------------------------------
# curl (--- http2, --- curl)
# ---------------------------------------------------------------------------

sub quote_sh_args ($) {
    my ($args) = @_;
    my @out;
    for my $arg (@$args) {
        my $a = $arg;
        if ($a =~ m{^[- "&%;,|?*.+=\w:/()]*$}) {
            $a = "'$a'" if $a =~ /[ "&%;,|?*()]/;
        } else {
            $a =~ s/\\/\\\\/g;
            $a =~ s/'/\\'/g;
            $a =~ s/\n/\\n/g;
            $a =~ s/\r/\\r/g;
            $a =~ s/\t/\\t/g;
            $a = "\$'$a'";
        }
        push @out, $a;
    }
    return "@out";
}

# The curl command line equivalent to a (built) request, as upstream makes
# it: curl -i, no default User-Agent/Accept/Host, our request headers, the
# body from a file, --http2-prior-knowledge for --- http2.
sub gen_curl_cmd_from_req ($$) {
    my ($block, $req) = @_;

    my $name = $block->name;
    $req = join '', map { $_->{value} } @$req;

    my ($meth, $uri, $http_ver, $rest);
    if ($req =~ m{^\s*(\w+)\s+(\S+)\s+HTTP/(\S+)\r?\n(.*)\z}s) {
        ($meth, $uri, $http_ver, $rest) = ($1, $2, $3, $4);
    } elsif ($req =~ m{^\s*(\w+)\s+(.*\S)\s*\r?\n(.*)\z}s) {
        ($meth, $uri, $rest) = ($1, $2, $3);
        $http_ver = '0.9';
    } else {
        bail_out "$name - cannot parse the status line in the request: $req";
    }

    my @args = ('curl', '-i', '-H', 'User-Agent:', '-H', 'Accept:', '-H', 'Host:');

    my $protocol = $block->curl_protocol // 'http';

    push @args, $Test::Nginx::Util::Verbose ? '-vv' : '-sS';
    push @args, '--http2-prior-knowledge' if use_http2($block);

    if ($meth eq 'HEAD') {
        push @args, '-I';
    } elsif ($meth ne 'GET') {
        push @args, '-X', $meth;
    }

    push @args, '-0' if $http_ver ne '1.1';

    my $body = '';
    if ($http_ver ge '1.0') {
        if ($rest =~ m{^(.*?)\r?\n\r?\n(.*)\z}s) {
            my $headers;
            ($headers, $body) = ($1, $2);
            my $found_type;
            for my $h (grep { !/^Connection\s*:/i } split /\r\n/, $headers) {
                $found_type = 1 if $h =~ /^\s*Content-Type\s*:/i;
                push @args, '-H', $h;
            }
            push @args, '-H', 'Content-Type: ' if $body ne '' && !$found_type;
        } else {
            bail_out "cannot parse the header entries in the request: $req";
        }
    }

    if ($body ne '') {
        my $file = html_dir() . "/curl.data.bin";
        open my $fh, '>', $file or die "Could not open file $file: $!";
        binmode $fh;
        print $fh $body;
        close $fh;
        push @args, '--data-binary', "\@$file";
    }

    my $timeout = $block->timeout || timeout();
    push @args, '--connect-timeout', $timeout, '--max-time', $timeout;

    my $addr = $block->server_addr_for_client // $ServerAddr;

    my $opts = $block->curl_options;
    push @args, $opts if defined $opts;

    push @args, "$protocol://$addr:$ServerPortForClient$uri";

    return \@args;
}

# Is something listening on this local TCP port?  (From /proc: a probe
# connection would show up in error.log.)
sub is_tcp_port_listening ($) {
    my $port = shift;
    my $hex = sprintf ':%04X', $port;
    for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $in, '<', $f or next;
        while (<$in>) {
            my @f = split;
            if (@f > 3 && $f[1] =~ /\Q$hex\E$/ && $f[3] eq '0A') {
                close $in;
                return 1;
            }
        }
        close $in;
    }
    return 0;
}

sub send_http_req_by_curl ($$$) {
    my ($block, $req, $timeout) = @_;

    my $name = $block->name;
    my $cmd = gen_curl_cmd_from_req($block, $req);

    warn "running cmd @$cmd\n" if $Test::Nginx::Util::Verbose;

    my $tries = $TotalConnectingTimeouts ? 20 : 50;
    while ($tries-- > 0 && -d '/proc/net') {
        last if is_tcp_port_listening($ServerPortForClient);
        warn "$name - waiting for nginx to listen on port $ServerPortForClient, "
             . "Retry connecting after 1 sec\n";
        sleep 1;
    }

    my ($in, $out, $err) = ('', '', '');
    my $ok = eval {
        IPC::Run::run($cmd, \$in, \$out, \$err, IPC::Run::timeout($timeout));
        1;
    };
    if (!$ok) {
        Test::More::fail("$name - failed to run curl: " . ($@ || $?) . ": $err");
        return;
    }

    if ($out eq '') {
        if ($err ne '') {
            my $expected = $block->curl_error;
            if (defined $expected) {
                return if ref $expected && $err =~ $expected;
                return if !ref $expected && $err =~ /\Q$expected\E/;
            }
            Test::More::fail("$name - command \"@$cmd\" generates stderr output: $err");
            return;
        }
        Test::More::fail("$name - curl command \"@$cmd\" generates no stdout output");
        return;
    }

    warn "WARNING: $name - command \"@$cmd\" generates stderr output: $err" if $err ne '';

    return $out;
}

# ---------------------------------------------------------------------------
# Raw socket client
# ---------------------------------------------------------------------------

sub connect_to_server ($$$) {
    my ($block, $addr, $timeout) = @_;
    my $name = $block->name;

    my $total = $TotalConnectingTimeouts ? 20 : 50;
    for my $try (1 .. $total) {
        my $sock = IO::Socket::INET->new(
            PeerAddr => $addr,
            PeerPort => $ServerPortForClient,
            Proto    => 'tcp',
            Timeout  => $timeout,
        );
        return $sock if $sock;

        my $err = $!;
        last if $try == $total;

        my $wait = (sleep_time() + sleep_time() * $try) * $try / 2;
        $wait = 1 if $wait >= 1;
        if ($wait >= 0.6) {
            warn "$name - Can't connect to $addr:$ServerPortForClient: $err\n"
                 . "\tRetry connecting after $wait sec\n";
        }
        sleep $wait;
    }

    my $msg = "$name - Can't connect to $addr:$ServerPortForClient: $! (aborted)\n";
    if (++$TotalConnectingTimeouts < 3) {
        Test::More::fail($msg);
    } else {
        bail_out($msg);
    }
    return undef;
}

# Sends one request (a list of packets) on a new connection and returns
# (raw response, is HEAD request).  $timeout bounds the wait for each I/O
# event, like upstream's.
sub send_request ($$$$) {
    my ($req, $middle_delay, $timeout, $block) = @_;

    my $name = $block->name;
    my @bits = @$req;

    my $head_req = (join '', map { $_->{value} // '' } @bits) =~ /^\s*HEAD\s+/ ? 1 : 0;

    if (use_http2($block)) {
        return (send_http_req_by_curl($block, $req, $timeout), $head_req);
    }

    my $addr = $block->server_addr_for_client // $ServerAddr;
    my $sock = connect_to_server($block, $addr, $timeout) or return (undef, $head_req);
    $sock->blocking(0);

    local $SIG{PIPE} = 'IGNORE';

    my $resp = '';
    my $wbuf = (shift @bits)->{value} // '';
    my $woff = 0;
    my $writing = 1;
    my $sel = IO::Select->new($sock);

    while (1) {
        my ($r, $w) = IO::Select->select($sel, $writing ? $sel : undef, undef, $timeout);

        if (!$r && !$w) {
            if ($! && $! == EINTR) {
                next;
            }
            # timed out
            close $sock;
            if (!defined $block->abort) {
                Test::More::fail("ERROR: client socket timed out - $name\n");
            } else {
                sleep 0.005;
            }
            return ($resp, $head_req);
        }

        if ($w && @$w) {
            my $n = syswrite($sock, $wbuf, length($wbuf) - $woff, $woff);
            if (!defined $n) {
                next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
                warn "write failed: $!\n";
                $resp = "write failed: $!" if $resp eq '';
                last;
            }
            $woff += $n;

            while ($woff >= length $wbuf) {
                my $next = shift @bits;
                if (!$next) {
                    $writing = 0;
                    my $shutdown = $block->shutdown;
                    if (defined $shutdown) {
                        $shutdown = 1 if $shutdown =~ /^$/s;
                        shutdown($sock, $shutdown);
                    }
                    last;
                }
                my $delay = $next->{delay_before} // $middle_delay;
                sleep $delay if $delay;
                ($wbuf, $woff) = ($next->{value} // '', 0);
            }
        }

        if ($r && @$r) {
            my $n = sysread($sock, my $buf, 4096);
            if (!defined $n) {
                next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
                warn "WARNING: $name - HTTP response read failure: $!";
                last;
            }
            last if $n == 0;    # closed by the server
            $resp .= $buf;
        }
    }

    close $sock;
    return ($resp, $head_req);
}

# ---------------------------------------------------------------------------
# Responses
# ---------------------------------------------------------------------------

# Parses one response from the front of $raw_resp: returns (HTTP::Response
# with the decoded body, raw header text, bytes left after it).
sub parse_response ($$$) {
    my ($name, $raw_resp, $head_req) = @_;

    my $raw_headers = $raw_resp =~ /(.*?\r\n)\r\n/s ? $1 : '';

    my $res = HTTP::Response->parse($raw_resp);
    my $code = $res->code;
    if ($code && $code !~ /^\d+$/) {
        undef $code;
        $res->code(undef);
    }

    return ($res, $raw_headers) if $code && ($code == 304 || $code == 101);

    my $enc = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');
    my @trailers = $res->header('Trailer');
    my $left;

    my $bad = sub {
        Test::More::fail("$name - " . shift);
        return;
    };

    if (defined $enc && $enc eq 'chunked') {
        my $raw = $res->content // '';
        my $decoded = '';
        pos($raw) = 0;

        while (1) {
            if (!@trailers && $raw =~ /\G0[ \t]*\r\n\r\n/gc) {
                $left = $1 if $raw =~ /\G(.+)/gcs;
                last;
            }
            if (@trailers && $raw =~ /\G0[ \t]*\r\n/gc) {
                for my $t (@trailers) {
                    return $bad->("invalid trailer data received (expected $t).")
                        if $raw !~ /\G\Q$t\E: [^\n]*\r\n/gcs;
                }
                return $bad->("invalid chunked data received (expected CRLF).")
                    if $raw !~ /\G\r\n/gc;
                $left = $1 if $raw =~ /\G(.+)/gcs;
                last;
            }
            if ($raw =~ /\G[ \t]*([A-Fa-f0-9]+)[ \t]*\r\n/gc) {
                my $size = hex $1;
                my $start = pos $raw;
                if (length($raw) - $start < $size) {
                    return $bad->("invalid chunked data received (not enought "
                                  . "octets for the data section)");
                }
                $decoded .= substr $raw, $start, $size;
                pos($raw) = $start + $size;
                return $bad->("invalid chunked data received (expected CRLF).")
                    if $raw !~ /\G\r\n/gc;
                next;
            }
            if ($raw =~ /\G(.+)/gcs) {
                return $bad->("invalid chunked body received: $1");
            }
            return $bad->("no last chunk found - $raw");
        }

        $res->content($decoded);

    } elsif (defined $len && $len ne '' && $len >= 0) {
        my $raw = $res->content // '';
        if (length $raw < $len) {
            warn "WARNING: $name - response body truncated: $len expected, "
                 . "but got " . length($raw) . "\n" if !$head_req;
        } elsif (length $raw > $len) {
            $left = substr $raw, $len;
            $res->content(substr $raw, 0, $len);
        }
    }

    return ($res, $raw_headers, $left);
}

# An expected value for request $req_idx: arrays are indexed when the block
# sends several requests, and must be used then.
sub get_indexed_value ($$$$) {
    my ($name, $value, $req_idx, $need_array) = @_;

    if ($need_array) {
        return $value->[$req_idx] if ref $value && ref $value eq 'ARRAY';
        bail_out("$name - You asked for many requests, the expected results "
                 . "should be arrays as well.");
    }

    if (ref $value && ref $value eq 'ARRAY') {
        bail_out("$name - SHOULD NOT HAPPEN: idx != 0 and don't need array.")
            if $req_idx != 0;
        return $value->[0];
    }

    return $value;
}

sub run_test_helper ($$$) {
    my ($block, $dry_run, $repeated_req_idx) = @_;

    my $name = $block->name;

    if (defined $block->exec) {
        bail_out("$name - --- exec is not a Test::Nginx::Socket section; add "
                 . "'use Test::Kedge::Exec;' to the .t file to enable it "
                 . "(see t/README.md)");
    }

    my $reqs = get_req_from_block($block);
    bail_out("$name - request empty") if !@$reqs;

    if (defined $block->curl) {
        warn "# ", quote_sh_args(gen_curl_cmd_from_req($block, $reqs->[0])), "\n";
    }

    my $timeout = parse_time($block->timeout) // timeout();

    my ($res, $n, $need_array);
    my $req_idx = 0;

    for my $one_req (@$reqs) {
        my ($raw_resp, $head_req);

        if ($dry_run) {
            $raw_resp = "200 OK HTTP/1.0\r\nContent-Length: 0\r\n\r\n";
        } else {
            ($raw_resp, $head_req) = send_request($one_req,
                $block->raw_request_middle_delay, $timeout, $block);
        }

        if ($block->pipelined_requests) {
            $n = @{ $block->pipelined_requests };
            $need_array = 1;
        } else {
            $need_array = @$reqs > 1;
        }

        # one pass per response (several for pipelined requests)
        while (1) {
            warn "!!! resp: [", $raw_resp // '', "]" if $Test::Nginx::Util::Verbose;
            $raw_resp //= '';

            my ($raw_headers, $left);
            if (!defined $block->ignore_response) {
                if (defined $block->http09) {
                    $res = HTTP::Response->new(200, "OK", [], $raw_resp);
                    $raw_headers = '';
                } else {
                    ($res, $raw_headers, $left) = parse_response($name, $raw_resp, $head_req);
                }
            }

            if (!$n) {
                if ($left) {
                    (my $shown = $left) =~ s/([\0-\037\200-\377])/sprintf('\x{%02x}', ord $1)/eg;
                    warn "WARNING: $name - unexpected extra bytes after last chunk "
                         . "in response: \"$shown\"\n";
                }
            } else {
                $raw_resp = $left;
                $n--;
            }

            if (!defined $block->ignore_response) {
                check_error_code($block, $res, $dry_run, $req_idx, $need_array);
                check_raw_response_headers($block, $raw_headers, $dry_run, $req_idx, $need_array);
                check_response_headers($block, $res, $raw_headers, $dry_run, $req_idx, $need_array);
                transform_response_body($block, $res, $req_idx);
                check_response_body($block, $res, $dry_run, $req_idx, $repeated_req_idx, $need_array);
            }

            if ($n || $req_idx < @$reqs - 1) {
                sleep $block->wait if $block->wait;
                check_error_log($block, $res, $dry_run, $repeated_req_idx, $need_array);
                check_access_log($block, $dry_run, $repeated_req_idx)
                    if !defined $block->ignore_response;
            }

            $req_idx++;
            last if !$n;
        }
    }

    sleep $block->wait if $block->wait;

    check_error_log($block, $res, $dry_run, $repeated_req_idx, $need_array);
    check_access_log($block, $dry_run, $repeated_req_idx)
        if !defined $block->ignore_response;
}

# ---------------------------------------------------------------------------
# Response checks (one test each, as upstream, so plan formulas carry over)
# ---------------------------------------------------------------------------

sub check_error_code ($$$$$) {
    my ($block, $res, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;

    SKIP: {
        Test::More::skip("$name - tests skipped due to $dry_run", 1) if $dry_run;

        my $got = ($res && $res->code) || '';
        if (defined $block->error_code_like) {
            my $val = get_indexed_value($name, $block->error_code_like, $req_idx, $need_array);
            Test::More::like($got, qr/$val/sm, "$name - status code ok");
        } elsif (defined $block->error_code) {
            Test::More::is($got, get_indexed_value($name, $block->error_code, $req_idx, $need_array),
                           "$name - status code ok");
        } else {
            Test::More::is($got, 200, "$name - status code ok");
        }
    }
}

sub check_raw_response_headers ($$$$$) {
    my ($block, $raw_headers, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;

    for my $kind (qw( like unlike )) {
        my $sec = "raw_response_headers_$kind";
        my $val = $block->$sec;
        next if !defined $val;
        SKIP: {
            Test::More::skip("$name - $sec - tests skipped due to $dry_run", 1) if $dry_run;
            my $expected = get_indexed_value($name, $val, $req_idx, $need_array);
            if ($kind eq 'like') {
                Test::More::like($raw_headers, qr/$expected/s, "$name - raw resp headers like");
            } else {
                Test::More::unlike($raw_headers, qr/$expected/s, "$name - raw resp headers unlike");
            }
        }
    }
}

sub check_response_headers ($$$$$$) {
    my ($block, $res, $raw_headers, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;

    if (defined $block->response_headers) {
        my $headers = parse_headers(get_indexed_value($name, $block->response_headers,
                                                      $req_idx, $need_array));
        for my $key (sort keys %$headers) {
            my $val = $headers->{$key};

            if (!defined $val) {
                SKIP: {
                    Test::More::skip("$name - response_headers - tests skipped due to $dry_run", 1)
                        if $dry_run;
                    # KEDGE: case-insensitive (HTTP/2 header names are lower
                    # case); upstream matches case-sensitively.
                    Test::More::unlike($raw_headers // '', qr/^\s*\Q$key\E\s*:/msi,
                                       "$name - header $key not present in the raw headers");
                }
                next;
            }

            $val =~ s/\$ServerPort\b/$ServerPort/g;
            $val =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;

            my $actual = $res ? $res->header($key) : undef;
            $actual //= '';

            SKIP: {
                Test::More::skip("$name - response_headers - tests skipped due to $dry_run", 1)
                    if $dry_run;
                Test::More::is($actual, $val, "$name - header $key ok");
            }
        }

    } elsif (defined $block->response_headers_like) {
        my $headers = parse_headers(get_indexed_value($name, $block->response_headers_like,
                                                      $req_idx, $need_array));
        for my $key (sort keys %$headers) {
            my $val = $headers->{$key};
            my $actual = $res ? $res->header($key) : undef;
            $actual //= '';
            SKIP: {
                Test::More::skip("$name - response_headers_like - tests skipped due to $dry_run", 1)
                    if $dry_run;
                Test::More::like($actual, qr/^$val$/, "$name - header $key like ok");
            }
        }
    }
}

sub run_filter_helper ($$$) {
    my ($block, $filter, $content) = @_;
    my $name = $block->name;

    if (ref $filter && ref $filter eq 'CODE') {
        return $filter->($content);
    }

    if (ref $filter) {
        bail_out("$name - the --- response_body_filters section only supports "
                 . "subroutine reference values and string values");
    }

    my %builtin = (
        md5_hex  => sub { Digest::MD5::md5_hex($_[0]) },
        sha1_hex => sub { Digest::SHA::sha1_hex($_[0]) },
        uc       => sub { uc $_[0] },
        lc       => sub { lc $_[0] },
        ucfirst  => sub { ucfirst $_[0] },
        lcfirst  => sub { lcfirst $_[0] },
        length   => sub { length $_[0] },
    );
    my $f = $builtin{$filter}
        or bail_out("$name - unknown filter, \"$filter\", specified in the "
                    . "--- response_body_filters section");
    return $f->($content);
}

# --- response_body_filters: transforms the actual body before the checks.
sub transform_response_body ($$$) {
    my ($block, $res, $req_idx) = @_;

    return if !defined $res;
    my $content = $res->content;
    return if !defined $content;

    my $filters = $block->response_body_filters;
    return if !defined $filters;

    my $name = $block->name;

    if (!ref $filters) {
        $filters =~ s/^\s+|\s+$//gs;
        $filters = [ split /\s+/, $filters ];
    } elsif (ref $filters ne 'ARRAY') {
        $filters = [ $filters ];
    }

    if (@$filters && ref $filters->[0] eq 'ARRAY') {
        # one list of filters per request
        for my $elem (@$filters) {
            bail_out("$name - the --- response_body_filters two-dimensional array "
                     . "only be like [[uc], [lc]] not [[uc], lc]") if ref $elem ne 'ARRAY';
        }
        $filters = $filters->[$req_idx];
        bail_out("$name - the ---response_body_filters two-dimensional array "
                 . "unmatch the specified request($req_idx)") if !defined $filters;
    }

    $content = run_filter_helper($block, $_, $content) for @$filters;
    $res->content($content);
}

sub check_response_body ($$$$$$) {
    my ($block, $res, $dry_run, $req_idx, $repeated_req_idx, $need_array) = @_;
    my $name = $block->name;

    if (defined(my $file = $block->write_resp_body_file) && defined $res) {
        open my $out, '>', $file
            or bail_out "$name - failed to write to file '$file': $!";
        print $out $res->content // '';
        close $out;
    }

    if (defined $block->response_body || defined $block->response_body_eval) {
        my $content = $res ? $res->content : undef;
        if (defined $content) {
            $content =~ s/^TE: deflate,gzip;q=0\.3\r\n//gms;
            $content =~ s/^Connection: TE, close\r\n//gms;
        }

        if (defined $block->response_body_json_sort) {
            my $js = JSON::PP->new->canonical(1);
            my $obj = eval { $js->loose(1)->decode($content) };
            $content = $js->encode($obj) . "\n" if !$@;
        }

        my $expected;
        if ($block->response_body_eval) {
            Test::More::diag("$name - response_body_eval is DEPRECATED. Use response_body eval instead.");
            $expected = eval get_indexed_value($name, $block->response_body_eval,
                                               $req_idx, $need_array);
            warn $@ if $@;
        } else {
            $expected = get_indexed_value($name, $block->response_body, $req_idx, $need_array);
        }

        Encode::from_to($expected, 'UTF-8', $block->charset) if $block->charset;

        if (defined $expected && !ref $expected) {
            $expected =~ s/\$ServerPort\b/$ServerPort/g;
            $expected =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            $expected = expand_env_in_text($expected, $name, $Test::Nginx::Util::RandPorts);
        }

        my $desc = "$name - response_body - response is expected "
                   . "(repeated req $repeated_req_idx, req $req_idx)";
        SKIP: {
            Test::More::skip("$name - response_body - tests skipped due to $dry_run", 1) if $dry_run;
            if (ref $expected) {
                Test::More::like($content, $expected,
                    "$name - response_body - like (repeated req $repeated_req_idx, req $req_idx)");
            } elsif ($NoLongString) {
                Test::More::is($content, $expected, $desc);
            } else {
                Test::LongString::is_string($content, $expected, $desc);
            }
        }

    } elsif (defined $block->response_body_like || defined $block->response_body_unlike) {
        my $type = defined $block->response_body_like ? 'like' : 'unlike';
        my $sec = "response_body_$type";

        my $content = $res ? $res->content : undef;
        if (defined $content) {
            $content =~ s/^TE: deflate,gzip;q=0\.3\r\n//gms;
            $content =~ s/^Connection: TE, close\r\n//gms;
        }

        my $pat = get_indexed_value($name, $block->$sec, $req_idx, $need_array);
        $pat =~ s/\$ServerPort\b/$ServerPort/g;
        $pat =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        my $summary = trim($content) // '';

        SKIP: {
            Test::More::skip("$name - $sec - tests skipped due to $dry_run", 1) if $dry_run;
            my $desc = "$name - $sec - response is expected ($summary)";
            if ($type eq 'like') {
                Test::More::like($content, qr/$pat/s, $desc);
            } else {
                Test::More::unlike($content, qr/$pat/s, $desc);
            }
        }
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $res ? $res->content : undef, $req_idx, $repeated_req_idx, $dry_run);
    }
}

# ---------------------------------------------------------------------------
# Log checks
# ---------------------------------------------------------------------------

sub fmt_str ($) {
    my $str = shift;
    chomp $str;
    $str =~ s/"/\\"/g;
    $str =~ s/\r/\\r/g;
    $str =~ s/\n/\\n/g;
    return $str;
}

# A pattern section value as a list: strings are split into lines, eval'd
# values may be a qr// or an array of strings and qr//s.
sub pattern_list ($) {
    my $pats = shift;
    if (!ref $pats) {
        chomp $pats;
        return [ split /\n+/, $pats ];
    }
    return [ $pats ] if ref $pats eq 'Regexp';
    return [ @$pats ];
}

sub line_matches ($$) {
    my ($line, $pat) = @_;
    return (ref $pat && $line =~ /$pat/) || $line =~ /\Q$pat\E/;
}

# --- error_log / --- access_log: every pattern must match some line.
sub check_log_has ($$$$$) {
    my ($block, $pats, $lines, $dry_run, $what) = @_;
    my ($name, $sec, $file, $req) = ($block->name, @$what);

    $pats = pattern_list($pats);
    for my $line (@{ $lines || [] }) {
        for my $pat (@$pats) {
            next if !defined $pat;
            if (line_matches($line, $pat)) {
                SKIP: {
                    Test::More::skip("$name - $sec - tests skipped due to $dry_run", 1) if $dry_run;
                    Test::More::pass("$name - pattern \"$pat\" matches a line in $file$req");
                }
                undef $pat;
            }
        }
    }
    for my $pat (grep { defined } @$pats) {
        SKIP: {
            Test::More::skip("$name - $sec - tests skipped due to $dry_run", 1) if $dry_run;
            Test::More::fail("$name - pattern \"$pat\" should match a line in $file$req");
        }
    }
}

# --- no_error_log / --- no_access_log: no pattern may match any line.
sub check_log_lacks ($$$$$) {
    my ($block, $pats, $lines, $dry_run, $what) = @_;
    my ($name, $sec, $file, $req) = ($block->name, @$what);

    $pats = pattern_list($pats);
    $lines ||= [];
    my %found;
    for my $i (0 .. $#$lines) {
        my $line = $lines->[$i];
        for my $pat (@$pats) {
            next if !defined $pat || !line_matches($line, $pat);
            $found{$pat} = 1;
            SKIP: {
                Test::More::skip("$name - $sec - tests skipped due to $dry_run ($line)", 1)
                    if $dry_run;
                my @more = @$lines[$i + 1 .. min($i + 9, $#$lines - 1)];
                Test::More::fail("$name - pattern \"" . fmt_str($pat) . "\" should not "
                                 . "match any line in $file but matches line \""
                                 . fmt_str($line) . "\"$req\n" . join('', @more));
            }
        }
    }
    for my $pat (@$pats) {
        next if !defined $pat || $found{$pat};
        SKIP: {
            Test::More::skip("$name - $sec - tests skipped due to $dry_run", 1) if $dry_run;
            Test::More::pass("$name - pattern \"" . fmt_str($pat) . "\" does not match "
                             . "a line in $file$req");
        }
    }
}

sub check_access_log ($$$) {
    my ($block, $dry_run, $repeated_req_idx) = @_;
    my $lines;
    my $req = " (req $repeated_req_idx)";

    if (defined $block->access_log) {
        $lines ||= access_log_data();
        check_log_has($block, $block->access_log, $lines, $dry_run,
                      ['access_log', 'access.log', $req]);
    }
    if (defined $block->no_access_log) {
        $lines ||= access_log_data();
        check_log_lacks($block, $block->no_access_log, $lines, $dry_run,
                        ['no_access_log', 'access.log', $req]);
    }
}

sub check_error_log ($$$$$) {
    my ($block, $res, $dry_run, $repeated_req_idx, $need_array) = @_;
    my $name = $block->name;
    my $lines;
    my $req = " (req $repeated_req_idx)";

    # --- grep_error_log + --- grep_error_log_out
    my $grep_pat = $block->grep_error_log;
    if (defined $grep_pat) {
        $grep_pat = $grep_pat->[$repeated_req_idx] if ref $grep_pat eq 'ARRAY';
    } elsif (defined $block->grep_error_log_out) {
        bail_out("$name - No --- grep_error_log defined but --- grep_error_log_out is defined");
    }

    if (defined $grep_pat) {
        my $expected = $block->grep_error_log_out;
        bail_out("$name - No --- grep_error_log_out defined but --- grep_error_log is defined")
            if !defined $expected;

        $expected = expand_env_in_text($expected, $name, $Test::Nginx::Util::RandPorts)
            if !ref $expected;
        $expected = $expected->[$repeated_req_idx] if ref $expected eq 'ARRAY';

        SKIP: {
            Test::More::skip("$name - error_log - tests skipped due to $dry_run", 1) if $dry_run;

            $lines ||= error_log_data();
            my $matched = '';
            for my $line (@{ $lines || [] }) {
                if ((ref $grep_pat && $line =~ /$grep_pat/) || $line =~ /\Q$grep_pat\E/) {
                    $matched .= "$&\n" if $& !~ /\n/;
                }
            }

            my $desc = "$name - grep_error_log_out$req";
            if (ref $expected eq 'Regexp') {
                Test::More::like($matched, $expected, $desc);
            } elsif ($NoLongString) {
                Test::More::is($matched, $expected, $desc);
            } else {
                Test::LongString::is_string($matched, $expected, $desc);
            }
        }
    }

    if (defined $block->error_log) {
        $lines ||= error_log_data();
        check_log_has($block, $block->error_log, $lines, $dry_run,
                      ['error_log', 'error.log', $req]);
    }

    if (defined $block->no_error_log) {
        $lines ||= error_log_data();
        check_log_lacks($block, $block->no_error_log, $lines, $dry_run,
                        ['no_error_log', 'error.log', $req]);
    }

    if (!$dry_run) {
        $lines ||= error_log_data();
        for my $line (@{ $lines || [] }) {
            if ($line =~ /\bAssertion .*?failed\b/) {
                chomp(my $l = $line);
                Test::More::fail("$name - $l\n");
            }
        }
    }

    # KEDGE: [alert]/[crit]/[emerg]/sanitizer reports fail the block (upstream
    # only warns); see Test::Nginx::Util::check_fatal_logs.
    Test::Nginx::Util::check_fatal_logs($block, $dry_run);
}

# --- shutdown_error_log / --- no_shutdown_error_log: checked once the nginx
# that ran the block has been stopped.
sub check_shutdown_error_log ($$) {
    my ($block, $dry_run) = @_;
    my $lines = error_log_data();
    my $why = $dry_run ? 'dry_run' : 0;

    if (defined $block->shutdown_error_log) {
        check_log_has($block, $block->shutdown_error_log, $lines, $why,
                      ['shutdown_error_log', 'error.log', '']);
    }
    if (defined $block->no_shutdown_error_log) {
        check_log_lacks($block, $block->no_shutdown_error_log, $lines, $why,
                        ['no_shutdown_error_log', 'error.log', '']);
    }
}

1;
