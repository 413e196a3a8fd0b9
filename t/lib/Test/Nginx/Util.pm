package Test::Nginx::Util;

# Server-management half of ngx_kedge_module's own implementation of the
# Test::Nginx::Socket subset that our suites use (see t/README.md).
#
# It mirrors the behaviour, names, defaults and environment variables of
# the CPAN/GitHub Test::Nginx::Util (openresty/test-nginx), so that the .t
# files run unchanged under either implementation.  The code is our own.
#
# Differences from upstream that matter are marked "KEDGE:" below and listed
# in t/README.md.  The main one is the fatal-log check: any [alert], [crit],
# [emerg] or sanitizer report in the error log (or in logs/asan*, ubsan*...
# files under the server root) fails the block that caused it.

use strict;
use warnings;

our $VERSION = '0.33';

# Lets code (e.g. a --- skip_eval) tell this implementation from upstream's.
our $Implementation = 'kedge';

use base 'Exporter';

use POSIX qw( SIGQUIT SIGKILL SIGTERM WNOHANG EINTR );
use File::Spec ();
use File::Path qw( make_path remove_tree );
use Cwd ();
use List::Util qw( shuffle );
use Scalar::Util qw( looks_like_number );
use Time::HiRes qw( sleep time );
use IO::Socket::INET ();
use Test::More ();
use Test::LongString ();
use Carp qw( croak );
use Config ();

sub bail_out (@);
sub expand_env_in_text ($$$);
sub use_http2 ($);

# ---------------------------------------------------------------------------
# Settings: same environment variables and defaults as upstream.
# ---------------------------------------------------------------------------

our $NginxBinary          = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $Workers              = 1;
our $WorkerConnections    = 64;
our $LogLevel             = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $DaemonEnabled        = 'on';
our $ServerPort           = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
our $ServerPortForClient  = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort || 1984;
our $ServerAddr           = '127.0.0.1';
our $ServerName           = 'localhost';
our $NoRootLocation       = 0;
our $TestNginxSleep       = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $ForceRestartOnTest   = defined $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST}
                            ? $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST} : 1;
our $Timeout              = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $NoShuffle            = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $LoadModules          = $ENV{TEST_NGINX_LOAD_MODULES};
our $CheckAccumErrLog     = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $Verbose              = $ENV{TEST_NGINX_VERBOSE};
our $Randomize            = $ENV{TEST_NGINX_RANDOMIZE};
our $UseHttp2             = $ENV{TEST_NGINX_USE_HTTP2};
our $EventType            = $ENV{TEST_NGINX_EVENT_TYPE};
our $ReusePort            = $ENV{TEST_NGINX_REUSE_PORT};
our $NoNginxManager       = $ENV{TEST_NGINX_NO_NGINX_MANAGER} || 0;
our $WorkerUser           = $ENV{TEST_NGINX_WORKER_USER};

# KEDGE: escape hatch for the fatal-log check (see check_fatal_logs).
our $NoFatalLogCheck      = $ENV{TEST_NGINX_NO_FATAL_LOG_CHECK} || 0;

our $RepeatEach   = 1;
our $NoLongString = undef;
our $ConfigPreamble = '';
our $FilterHttpConfig;
our @EnvToNginx;
our @BlockPreprocessors;
our @CleanupHandlers;
our @TestCleanupHandlers;

# Hooks used by Test::Nginx::Socket (and by Test::Kedge::Exec), exactly as
# upstream exposes them.
our $RunTestHelper;
our $CheckErrorLog;
our $CheckShutdownErrorLog;

our ($NginxVersion, $NginxRawVersion, $OpenSSLVersion);
our $RandPorts = {};
our $ErrLogFilePos = 0;
our $PrevConfig;
our $PrevBlock;
our $InSubprocess;
our $ChildPid;

# Upstream test modes this runner does not implement.  Failing loudly beats
# silently running without valgrind, stap, ...
for my $env (qw( TEST_NGINX_USE_VALGRIND TEST_NGINX_USE_STAP TEST_NGINX_CHECK_LEAK
                 TEST_NGINX_BENCHMARK TEST_NGINX_USE_HUP TEST_NGINX_USE_HTTP3
                 TEST_NGINX_USE_RR ))
{
    if ($ENV{$env}) {
        die "$env is set, but this test mode is not implemented by the "
            . "ngx_kedge_module Test::Nginx runner (t/lib); use upstream "
            . "Test::Nginx for it\n";
    }
}

if (defined $WorkerUser && $WorkerUser !~ /^\w+(?:\s+\w+)?$/) {
    die "Bad value in the env TEST_NGINX_WORKER_USER: $WorkerUser\n";
}

# ---------------------------------------------------------------------------
# Paths
# ---------------------------------------------------------------------------

sub gen_rand_port (;$$);

srand($$ ^ time());

if ($Randomize) {
    $ServerPort = gen_rand_port(1000);
    if (!defined $ServerPort) {
        die "Cannot find an available listening port number after 1000 attempts.\n";
    }
    $ServerPortForClient = $ServerPort;
}

our $ServRoot = $Randomize
    ? File::Spec->rel2abs("t/servroot_$ServerPort")
    : ($ENV{TEST_NGINX_SERVROOT} || File::Spec->rel2abs('t/servroot'));
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

our $LogDir     = File::Spec->catfile($ServRoot, 'logs');
our $ErrLogFile = File::Spec->catfile($LogDir, 'error.log');
our $AccLogFile = File::Spec->catfile($LogDir, 'access.log');
our $HtmlDir    = File::Spec->catfile($ServRoot, 'html');
our $ConfDir    = File::Spec->catfile($ServRoot, 'conf');
our $ConfFile   = File::Spec->catfile($ConfDir, 'nginx.conf');
our $PidFile    = File::Spec->catfile($LogDir, 'nginx.pid');
our $CacheDir   = File::Spec->catfile($ServRoot, 'cache');

our @EXPORT = qw(
    expand_env_in_text
    run_customer_init_script
    env_to_nginx
    is_str
    check_accum_error_log
    is_running
    $NoLongString
    no_long_string
    $ServerAddr
    server_addr
    $ServerName
    server_name
    parse_time
    verbose
    sleep_time
    bail_out
    add_cleanup_handler
    add_test_cleanup_handler
    access_log_data
    error_log_data
    setup_server_root
    write_config_file
    get_canon_version
    get_nginx_version
    trim
    show_all_chars
    parse_headers
    run_tests
    get_pid_from_pidfile
    $ServerPortForClient
    $ServerPort
    $NginxVersion
    $PidFile
    $ServRoot
    $ConfFile
    $RunTestHelper
    $CheckErrorLog
    $CheckShutdownErrorLog
    $FilterHttpConfig
    $NoNginxManager
    $RepeatEach
    add_block_preprocessor
    timeout
    worker_connections
    workers
    master_on
    master_off
    config_preamble
    repeat_each
    master_process_enabled
    log_level
    no_shuffle
    no_root_location
    html_dir
    server_root
    server_port
    server_port_for_client
    no_nginx_manager
    use_http2
);

# ---------------------------------------------------------------------------
# Small configuration functions (same prototypes as upstream, so the same
# call syntax parses in the .t files)
# ---------------------------------------------------------------------------

sub is_running ($) {
    my $pid = shift;
    return 0 if !kill 0, $pid;
    # KEDGE: a daemonized nginx that exited stays a zombie until init reaps
    # it, which some inits (containers, VMs) do late: count it as gone.
    if (open my $in, '<', "/proc/$pid/stat") {
        my $stat = <$in> // '';
        close $in;
        return 0 if $stat =~ /^\d+ \(.*\) Z/s;
    }
    return 1;
}

sub gen_rand_port (;$$) {
    my ($tries, $used) = @_;
    $tries //= 1000;
    $used  //= {};

    for (1 .. $tries) {
        my $port = int(rand 63550) + 1985;
        next if $used->{$port};
        my $sock = IO::Socket::INET->new(
            LocalAddr => $ServerAddr,
            LocalPort => $port,
            Proto     => 'tcp',
            Timeout   => 0.1,
        );
        if ($sock) {
            close $sock;
            return $port;
        }
    }

    return undef;
}

sub no_long_string ()      { $NoLongString = 1 }
sub no_shuffle ()          { $NoShuffle = 1 }
sub no_nginx_manager ()    { $NoNginxManager = 1 }
sub no_root_location ()    { $NoRootLocation = 1 }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub master_on ()           { $MasterProcessEnabled = 'on' }
sub master_off ()          { $MasterProcessEnabled = 'off' }
sub config_preamble ($)    { $ConfigPreamble = shift }
sub sleep_time             { $TestNginxSleep }
sub verbose                { $Verbose }
sub html_dir ()            { $HtmlDir }
sub server_root ()         { $ServRoot }

sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }
sub add_cleanup_handler ($)    { unshift @CleanupHandlers, shift }
sub add_test_cleanup_handler ($) { unshift @TestCleanupHandlers, shift }

# Getter/setter helpers: with an argument they set, without they return.
sub server_addr (@)            { @_ ? ($ServerAddr = shift) : $ServerAddr }
sub server_name (@)            { @_ ? ($ServerName = shift) : $ServerName }
sub timeout (@)                { @_ ? ($Timeout = shift) : $Timeout }
sub server_port (@)            { @_ ? ($ServerPort = shift) : $ServerPort }
sub server_port_for_client (@) { @_ ? ($ServerPortForClient = shift) : $ServerPortForClient }
sub worker_connections (@)     { @_ ? ($WorkerConnections = shift) : $WorkerConnections }
sub workers (@)                { @_ ? ($Workers = shift) : $Workers }
sub log_level (@)              { @_ ? ($LogLevel = shift) : $LogLevel }

sub repeat_each (@) {
    $RepeatEach = shift if @_;
    return $RepeatEach;
}

sub master_process_enabled (@) {
    if (@_) {
        $MasterProcessEnabled = shift() ? 'on' : 'off';
        return;
    }
    return $MasterProcessEnabled;
}

sub env_to_nginx (@) {
    croak "env_to_nginx: no arguments specified" if !@_;
    for my $v (@_) {
        if ($v !~ /^[A-Za-z_]/ || $v =~ /\n/) {
            croak "env_to_nginx: bad argument value: $v\n";
        }
        push @EnvToNginx, $v;
    }
}

sub is_str (@) {
    my ($got, $expected, $desc) = @_;

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    if (ref $expected && ref $expected eq 'Regexp') {
        return Test::More::like($got, $expected, $desc);
    }

    if ($NoLongString) {
        return Test::More::is($got, $expected, $desc);
    }

    return Test::LongString::is_string($got, $expected, $desc);
}

# "1.5", "1.5s", "200ms" -> seconds
sub parse_time ($) {
    my $tm = shift;

    if (defined $tm) {
        if ($tm =~ s/([^_a-zA-Z])ms$/$1/) {
            $tm = $tm / 1000;
        } else {
            $tm =~ s/([^_a-zA-Z])s$/$1/;
        }
    }

    return $tm;
}

sub trim ($) {
    my $s = shift;
    return undef if !defined $s;
    $s =~ s/^\s+|\s+$//g;
    $s =~ s/\n/ /gs;
    $s =~ s/\s{2,}/ /gs;
    return $s;
}

sub show_all_chars ($) {
    my $s = shift;
    $s =~ s/\n/\\n/gs;
    $s =~ s/\r/\\r/gs;
    $s =~ s/\t/\\t/gs;
    return $s;
}

# "--- response_headers" syntax: "Key: value" lines, "!Key" for absence.
sub parse_headers ($) {
    my $s = shift;
    my %headers;
    for my $line (split /\n/, $s) {
        $line =~ s/^\s+|\s+$//g;
        next if $line eq '';
        if ($line =~ s/^!\s*//) {
            $headers{$line} = undef;
        } else {
            my ($key, $val) = split /\s*:\s*/, $line, 2;
            $headers{$key} = $val;
        }
    }
    return \%headers;
}

# Replaces $TEST_NGINX_FOO by $ENV{TEST_NGINX_FOO} (bailing out when it is
# not set) and $TEST_NGINX_RAND_PORT_N by a free port, stable for the block.
sub expand_env_in_text ($$$) {
    my ($text, $name, $rand_ports) = @_;

    return undef if !defined $text;

    $rand_ports //= {};
    my %used = ($ServerPort => 1, map { $_ => 1 } values %$rand_ports);

    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        my $val;
        if ($var =~ /^TEST_NGINX_RAND_PORT_[0-9]+$/) {
            if (!defined $rand_ports->{$var}) {
                my $port = gen_rand_port(1000, \%used);
                if (!defined $port) {
                    bail_out "$name - Cannot find an available listening port number for $var.\n";
                }
                $rand_ports->{$var} = $port;
                $used{$port} = 1;
            }
            $val = $rand_ports->{$var};

        } else {
            if (!defined $ENV{$var}) {
                bail_out "$name - No environment $var defined.\n";
            }
            $val = $ENV{$var};
        }
        $val;
    }ge;

    return $text;
}

# ---------------------------------------------------------------------------
# nginx binary
# ---------------------------------------------------------------------------

sub can_run {
    my ($cmd) = @_;

    if ($cmd =~ m{[/\\]}) {
        return (-f $cmd && -x $cmd) ? $cmd : undef;
    }

    for my $dir (split /\Q$Config::Config{path_sep}\E/, $ENV{PATH} // '') {
        next if $dir eq '';
        my $abs = File::Spec->catfile($dir, $cmd);
        return $abs if -f $abs && -x $abs;
    }

    return undef;
}

sub get_canon_version (@) {
    sprintf "%d.%03d%03d", $_[0], $_[1], $_[2];
}

sub get_canon_version_for_OpenSSL (@) {
    if (defined $_[3]) {
        return sprintf "%d.%03d%03d%03d", $_[0], $_[1], $_[2], ord($_[3]) - ord('a');
    }
    return get_canon_version(@_);
}

my $NginxV;

sub nginx_V () {
    return $NginxV if defined $NginxV;
    my $out = `$NginxBinary -V 2>&1`;
    if (!defined $out || $? != 0) {
        $out //= '';
        bail_out("Failed to get the version of the Nginx in PATH: $out");
    }
    return $NginxV = $out;
}

sub get_nginx_version () {
    my $out = nginx_V();

    if ($out =~ m{built with OpenSSL (\d+)\.(\d+)\.(\d+)([a-z])?}s) {
        $OpenSSLVersion = get_canon_version_for_OpenSSL($1, $2, $3, $4);
    }

    if ($out =~ m{(?:nginx|openresty)[^/]*/(\d+)\.(\d+)\.(\d+)}s
        || $out =~ m{\w+/(\d+)\.(\d+)\.(\d+)}s)
    {
        $NginxRawVersion = "$1.$2.$3";
        return get_canon_version($1, $2, $3);
    }

    bail_out("Failed to parse the output of \"nginx -V\": $out\n");
}

sub get_pid_from_pidfile ($) {
    my ($name) = @_;
    open my $in, '<', $PidFile
        or bail_out("$name - Failed to open the pid file $PidFile for reading: $!");
    my $pid = do { local $/; <$in> };
    close $in;
    $pid //= '';
    $pid =~ s/\s+//g;
    return $pid;
}

# KEDGE: before signalling a pid read from a (possibly stale) pid file, make
# sure it still is an nginx process, so that a recycled pid never gets an
# unrelated process killed.
sub pid_is_nginx ($) {
    my $pid = shift;
    return 0 if !$pid || $pid !~ /^\d+$/ || !is_running($pid);
    return 1 if !-d "/proc/$pid";      # cannot tell: trust the pid file
    my $exe = readlink "/proc/$pid/exe";
    if (open my $in, '<', "/proc/$pid/cmdline") {
        my $cmdline = do { local $/; <$in> } // '';
        close $in;
        return 1 if $cmdline =~ /nginx/;
    }
    return 1 if defined $exe && $exe =~ /nginx/;
    return 0;
}

# ---------------------------------------------------------------------------
# Process control
# ---------------------------------------------------------------------------

# Graceful stop (QUIT, as upstream) with escalation to TERM and KILL.
sub kill_process ($$$) {
    my ($pid, $wait, $name) = @_;

    return if !defined $pid || !is_running($pid);

    if ($wait) {
        kill SIGQUIT, $pid;
        my $left = timeout();
        while ($left > 0 && is_running($pid)) {
            waitpid($pid, WNOHANG);
            sleep 0.05;
            $left -= 0.05;
        }
        if (is_running($pid)) {
            warn "$name - timeout when waiting for the process $pid to exit\n";
        }
    }

    my $step = $TestNginxSleep;
    for (1 .. 20) {
        waitpid($pid, WNOHANG);
        return if !is_running($pid);
        kill SIGTERM, $pid;
        $step *= 1.2;
        $step = 0.5 if $step > 0.5;
        sleep $step;
    }

    warn "$name - WARNING: killing the child process $pid with force...\n";
    kill SIGKILL, $pid;
    waitpid($pid, WNOHANG);
    my $left = 2;
    while ($left > 0 && is_running($pid)) {
        waitpid($pid, WNOHANG);
        sleep 0.05;
        $left -= 0.05;
    }
}

sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(@_);
}

sub cleanup_test ($) {
    my $block = shift;
    $_->($block) for @TestCleanupHandlers;
}

sub cleanup () {
    $_->() for @CleanupHandlers;

    if (defined $ChildPid) {
        kill_process($ChildPid, 1, "cleanup");
        undef $ChildPid;
    }
}

# ---------------------------------------------------------------------------
# Log access
# ---------------------------------------------------------------------------

sub access_log_data () {
    sleep $TestNginxSleep * 3;

    open my $in, '<', $AccLogFile or do {
        return undef if $AccLogFile eq 'off';
        die "open $AccLogFile failed: $!";
    };
    my @lines = <$in>;
    close $in;
    return \@lines;
}

# The error.log lines written since the previous call (or all of them with
# check_accum_error_log()).  Sleeps a bit first: nginx logs in the log phase,
# after the response has been sent.
sub error_log_data () {
    sleep $TestNginxSleep * 3;

    open my $in, '<', $ErrLogFile or return undef;

    if (!$CheckAccumErrLog && $ErrLogFilePos > 0) {
        seek $in, $ErrLogFilePos, 0;
    }

    my @lines = <$in>;

    if (!$CheckAccumErrLog) {
        $ErrLogFilePos = tell $in;
    }

    close $in;
    return \@lines;
}

# ---------------------------------------------------------------------------
# KEDGE: fatal-log check.
#
# Upstream only *warns* about [alert]/[crit]/[emerg] lines.  We fail the
# block instead, and also look at sanitizer reports: in error.log (a
# sanitizer writing to stderr ends up there once nginx daemonizes) and in
# the files a sanitizer writes with ASAN_OPTIONS=log_path=<servroot>/logs/asan
# (or ubsan, lsan...), i.e. logs/asan*, logs/ubsan* and friends.
#
# A block opts out of one kind of message by naming it in --- error_log or
# --- no_error_log (like upstream does for its warnings): "[alert",
# "[crit", "[emerg", or for sanitizers "Sanitizer" / "runtime error".
# --- must_die blocks implicitly allow [emerg].
#
# Accounting: the check emits *no* test when all is well, and exactly one
# failing test when something was found, so `plan tests => ...` formulas
# written for upstream stay right for passing suites (a failing block then
# also reports a plan mismatch, which is fine: it fails either way).
#
# Every byte is scanned once: independent offsets into error.log and the
# sanitizer files, reset when the server root is wiped.  The check runs
# after each error-log check of a block, and once more after nginx has been
# stopped (shutdown messages, leak reports), charged to the block that ran
# on that nginx.
# ---------------------------------------------------------------------------

our $FatalPos = 0;
our %SanitizerPos;

my @SanitizerFiles    = qw( asan ubsan lsan tsan msan );
my $SanitizerPattern  = qr/AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer
                           |ThreadSanitizer|MemorySanitizer|runtime\ error:/x;

sub _pattern_mentions ($$) {
    my ($pats, $needle) = @_;
    return 0 if !defined $pats;
    for my $p (ref $pats eq 'ARRAY' ? @$pats : ($pats)) {
        next if !defined $p;
        my $s = "$p";
        $s =~ s/\\//g if ref $p;      # qr/\[alert\]/ mentions "[alert" too
        return 1 if index($s, $needle) >= 0;
    }
    return 0;
}

sub fatal_exemptions ($) {
    my $block = shift;
    my %ok;
    for my $pats ($block->error_log, $block->no_error_log) {
        $ok{alert}     = 1 if _pattern_mentions($pats, '[alert');
        $ok{crit}      = 1 if _pattern_mentions($pats, '[crit');
        $ok{emerg}     = 1 if _pattern_mentions($pats, '[emerg');
        $ok{sanitizer} = 1 if _pattern_mentions($pats, 'Sanitizer')
                              || _pattern_mentions($pats, 'runtime error');
    }
    $ok{emerg} = 1 if defined $block->must_die;
    return \%ok;
}

sub _read_from ($$) {
    my ($file, $pos) = @_;
    open my $in, '<', $file or return (undef, $pos);
    binmode $in;
    seek $in, $pos, 0 if $pos;
    my $data = do { local $/; <$in> } // '';
    my $end = tell $in;
    close $in;
    return ($data, $end);
}

# Returns the offending lines (with the file they came from) written since
# the last scan.
sub collect_fatal_lines ($) {
    my $ok = shift;
    my @bad;

    my ($data, $end) = _read_from($ErrLogFile, $FatalPos);
    if (defined $data) {
        $FatalPos = $end;
        for my $line (split /\n/, $data) {
            if (($line =~ /\[alert\]/ && !$ok->{alert})
                || ($line =~ /\[crit\]/ && !$ok->{crit})
                || ($line =~ /\[emerg\]/ && !$ok->{emerg})
                || ($line =~ $SanitizerPattern && !$ok->{sanitizer}))
            {
                push @bad, "error.log: $line";
            }
        }
    }

    for my $prefix (@SanitizerFiles) {
        for my $file (sort glob "$LogDir/$prefix*") {
            next if !-f $file;
            my ($text, $fend) = _read_from($file, $SanitizerPos{$file} // 0);
            next if !defined $text;
            $SanitizerPos{$file} = $fend;
            next if $ok->{sanitizer} || $text !~ $SanitizerPattern;
            my @lines = split /\n/, $text;
            my $n = @lines > 40 ? 40 : scalar @lines;
            (my $short = $file) =~ s{^\Q$ServRoot\E/}{};
            push @bad, map { "$short: $_" } @lines[0 .. $n - 1];
            push @bad, "$short: ... (" . (@lines - $n) . " more lines)" if @lines > $n;
        }
    }

    return \@bad;
}

sub check_fatal_logs ($$;$) {
    my ($block, $dry_run, $when) = @_;

    return if $NoFatalLogCheck;

    my $bad = collect_fatal_lines(fatal_exemptions($block));
    return if !@$bad || $dry_run;

    my $name = $block->name;
    $when = defined $when ? " $when" : '';
    Test::More::fail("$name - unexpected [alert]/[crit]/[emerg] or sanitizer "
                     . "report in the logs$when (kedge runner check)");
    Test::More::diag("    $_") for @$bad;
}

sub reset_fatal_positions () {
    $FatalPos = 0;
    %SanitizerPos = ();
}

# ---------------------------------------------------------------------------
# Server root, config file
# ---------------------------------------------------------------------------

sub setup_server_root ($) {
    my $first_time = shift;

    if (-d $ServRoot) {
        # Only remove what we create, so that a misused TEST_NGINX_SERVROOT
        # cannot wipe real data (same rule as upstream).
        remove_tree($ConfDir, glob("$ServRoot/*_cache"), glob("$ServRoot/*_temp"),
                    $CacheDir, $HtmlDir, $LogDir);
        rmdir $ServRoot
            or bail_out "Can't remove $ServRoot (not empty?): $!";
    }

    for my $dir ($ServRoot, $LogDir, $HtmlDir, $ConfDir) {
        next if -d $dir;
        mkdir $dir or bail_out "Failed to do mkdir $dir\n";
    }

    reset_fatal_positions();

    my $index = "$HtmlDir/index.html";
    open my $out, '>', $index or bail_out "Can't open $index for writing: $!\n";
    print $out '<html><head><title>It works!</title></head><body>It works!</body></html>';
    close $out;
}

sub run_customer_init_script ($) {
    my $block = shift;
    my $code = $block->post_setup_server_root;
    return if !$code;
    eval $code;
    if ($@) {
        bail_out($block->name . " - post_setup_server_root failed: $@");
    }
}

# --- user_files: either ">>> path [touch-date]" chunks or an eval'd array of
# [path, body, date] triples.  Relative paths go under html/.
sub write_user_files ($$) {
    my ($block, $rand_ports) = @_;

    my $name = $block->name;
    my $files = $block->user_files;
    return if !$files;

    if (!ref $files) {
        my @list;
        my ($fname, $body, $date);
        for my $line (split /^/, $files) {
            if ($line =~ />>> (\S+)(?:\s+(.+))?/) {
                push @list, [$fname, $body, $date] if $fname;
                ($fname, $date, $body) = ($1, $2, undef);
            } else {
                $body .= $line;
            }
        }
        push @list, [$fname, $body, $date] if $fname;
        $files = \@list;

    } elsif (ref $files ne 'ARRAY') {
        bail_out "$name - wrong value type: ", ref $files,
                 ", only scalar or ARRAY are accepted";
    }

    for my $file (@$files) {
        my ($fname, $body, $date) = @$file;
        $body //= '';

        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        if ($path =~ m{(.*)/}) {
            my $dir = $1;
            if (!-d $dir) {
                make_path($dir) or bail_out "$name - Cannot create directory ", $dir;
            }
        }

        $body = expand_env_in_text($body, $name, $rand_ports);

        open my $out, '>', $path
            or bail_out "$name - Cannot open $path for writing: $!\n";
        binmode $out;
        print $out $body;
        close $out;

        if ($date) {
            my $cmd = "TZ=GMT touch -t '$date' '$path'";
            system($cmd) == 0 or bail_out "Failed to run shell command: $cmd\n";
        }
    }
}

# Same layout and contents as upstream's generated nginx.conf.
sub write_config_file ($$$) {
    my ($block, $config, $rand_ports) = @_;

    my $name = $block->name;

    my $http_config      = expand_env_in_text($block->http_config, $name, $rand_ports) // '';
    my $main_config      = $block->main_config // '';
    my $post_main_config = expand_env_in_text($block->post_main_config, $name, $rand_ports) // '';
    my $server_name      = $block->server_name // $ServerName;
    my $err_log_file     = $block->error_log_file || $ErrLogFile;

    $config //= '';

    if ($FilterHttpConfig) {
        $http_config = $FilterHttpConfig->($http_config);
    }

    # TEST_NGINX_LOAD_MODULES: one load_module per space-separated path,
    # prepended to --- main_config (joined with spaces, as upstream does).
    if ($LoadModules) {
        my @modules = map { "load_module $_;" } grep { $_ } split /\s+/, $LoadModules;
        $main_config = join ' ', @modules, $main_config if @modules;
    }

    $main_config  = expand_env_in_text($main_config, $name, $rand_ports);
    $err_log_file = expand_env_in_text($err_log_file, $name, $rand_ports);

    my ($listen_opts, $http2_directive) = ('', '');
    if (use_http2($block)) {
        # KEDGE: upstream switches to "http2 on;" from nginx 1.19.9 on, but
        # that directive only exists since 1.25.1 (upstream bug, see README).
        if ($NginxVersion >= 1.025001) {
            $http2_directive = 'http2 on;';
        } else {
            $listen_opts .= ' http2';
        }
    }
    $listen_opts .= ' reuseport' if $ReusePort;

    my $nginx_V = nginx_V();
    my %temp = map { $_ => "${_}_temp_path $ServRoot/${_}_temp;" }
               qw( fastcgi scgi uwsgi proxy client_body );
    for my $m (qw( fastcgi scgi uwsgi )) {
        $temp{$m} = '' if $nginx_V =~ /--without-http_${m}_module/;
    }
    $temp{proxy} = '' if $http_config =~ /\bproxy_temp_path\b/;
    $temp{client_body} = '' if $http_config =~ /\bclient_body_temp_path\b/;

    my $env = join '', map { "env $_;\n" } qw(
        MOCKEAGAIN_VERBOSE MOCKEAGAIN MOCKEAGAIN_WRITE_TIMEOUT_PATTERN
        LD_PRELOAD LD_LIBRARY_PATH DYLD_INSERT_LIBRARIES DYLD_FORCE_FLAT_NAMESPACE
    );
    for my $v (@EnvToNginx) {
        my $q = $v =~ /\s/ ? "'$v'" : $v;
        $env .= "env $q;\n";
    }

    my $root_location = $NoRootLocation ? '' : <<_EOC_;
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_

    my $events_use = $EventType ? "    use $EventType;\n" : '';

    my $user = '';
    if (defined $WorkerUser) {
        $user = "user $WorkerUser;\n";
    } elsif ($> == 0) {
        $user = "user root;\n";
    }

    open my $out, '>', $ConfFile or bail_out "Can't open $ConfFile for writing: $!\n";
    print $out <<_EOC_;
worker_processes  $Workers;
daemon $DaemonEnabled;
master_process $MasterProcessEnabled;
error_log $err_log_file $LogLevel;
pid       $PidFile;
$env#env LUA_PATH;
#env LUA_CPATH;

$main_config

http {
    access_log $AccLogFile; $temp{client_body} $temp{proxy} $temp{fastcgi} $temp{scgi} $temp{uwsgi}
    #access_log off;

    default_type text/plain;
    keepalive_timeout  68000ms;

$http_config
    server {
        listen          $ServerPort$listen_opts;$http2_directive
        #placeholder
        server_name     '$server_name';
        
        client_max_body_size 30M;
        #client_body_buffer_size 4k;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root_location    }
}

$post_main_config

#timer_resolution 100ms;

events {
    accept_mutex off;

    worker_connections  $WorkerConnections;
$events_use}
env ASAN_OPTIONS;
env MOCKNOEAGAIN_VERBOSE;
env MOCKNOEAGAIN;
_EOC_
    print $out $user;
    close $out;
}

sub check_if_missing_directives () {
    open my $in, '<', $ErrLogFile or return 0;
    while (<$in>) {
        if (/\[emerg\] \S+?: unknown directive "([^"]+)"/) {
            close $in;
            return $1;
        }
    }
    close $in;
    return 0;
}

# ---------------------------------------------------------------------------
# HTTP/2 (--- http2, TEST_NGINX_USE_HTTP2): same rules as upstream.
# ---------------------------------------------------------------------------

sub use_http2 ($) {
    my $block = shift;

    my $cached = $block->test_nginx_enabled_http2;
    return $cached if defined $cached;

    return undef if defined $block->no_http2;

    if (defined $block->http2) {
        bail_out("cannot use --- http2 with --- raw_request") if $block->raw_request;
        bail_out("cannot use --- http2 with --- pipelined_requests") if $block->pipelined_requests;
        $block->set_value("test_nginx_enabled_http2", 1);
        return 1;
    }

    my $off = sub {
        my $why = shift;
        warn "WARNING: ", $block->name, " - $why\n" if defined $why;
        $block->set_value("test_nginx_enabled_http2", 0);
        return undef;
    };

    if ($UseHttp2) {
        return $off->("using raw_request HTTP/2, will not use HTTP/2") if $block->raw_request;
        return $off->("using pipelined_requests, will not use HTTP/2") if $block->pipelined_requests;
        return $off->() if !defined $block->request;
        if (!ref $block->request && $block->request =~ m{HTTP/1\.0}s) {
            return $off->("explicitly rquires HTTP 1.0, so will not use HTTP/2");
        }

        my $pat = qr{(proxy_pass .*:\$(server_port|TEST_NGINX_SERVER_PORT)
                    | ngx.req.raw_header
                    | lua_check_client_abort
                    | ngx.req.socket
                    | ngx.req.read_body)}x;
        for my $sec (qw( config user_files http_config )) {
            my $v = $block->$sec;
            if (defined $v && !ref $v && $v =~ $pat) {
                return $off->("$1 does not support in HTTP/2");
            }
        }

        $block->set_value("test_nginx_enabled_http2", 1);
        return 1;
    }

    $block->set_value("test_nginx_enabled_http2", 0);
    return undef;
}

# ---------------------------------------------------------------------------
# Stopping nginx, and what we check afterwards
# ---------------------------------------------------------------------------

our $RunningBlock;        # the block that last used the running nginx
our $StartedPid;          # pid of the nginx we started, when known

# Stops the nginx named by the pid file (if any), then runs the post-mortem
# checks for the block that used it.  Safe to call when nothing runs.
sub stop_nginx ($) {
    my $name = shift;

    my $crashed;
    if (-f $PidFile) {
        my $pid = get_pid_from_pidfile($name);
        if ($pid && pid_is_nginx($pid)) {
            kill_process($pid, 1, $name);
        } elsif ($RunningBlock && !defined $RunningBlock->must_die) {
            $crashed = $pid || '?';
        }
        if (-f $PidFile && !unlink $PidFile) {
            warn "WARNING: failed to remove pid file $PidFile\n";
        }

    } elsif ($RunningBlock && $StartedPid && !defined $RunningBlock->must_die) {
        # nginx removes its pid file on a clean exit only
        $crashed = $StartedPid if !is_running($StartedPid);
        kill_process($StartedPid, 1, $name) if pid_is_nginx($StartedPid);
    }

    my $block = $RunningBlock;
    undef $RunningBlock;
    undef $StartedPid;
    return if !$block;

    if (defined $crashed) {
        # KEDGE: upstream silently removes the stale pid file.
        Test::More::fail($block->name . " - nginx (pid $crashed) was no longer "
                         . "running when the test scaffold stopped it (crashed?)");
    }

    if (defined $block->shutdown_error_log || defined $block->no_shutdown_error_log) {
        $CheckShutdownErrorLog->($block, 0) if $CheckShutdownErrorLog;
    }

    check_fatal_logs($block, 0, "at shutdown");
}

# ---------------------------------------------------------------------------
# Main loop
# ---------------------------------------------------------------------------

sub run_tests () {
    $NginxVersion = get_nginx_version();

    $ENV{TEST_NGINX_SERVER_PORT} = $ServerPort
        if !defined $ENV{TEST_NGINX_SERVER_PORT};

    # KEDGE: an interrupted prove still stops nginx (END blocks run on exit).
    for my $sig (qw( INT TERM HUP )) {
        $SIG{$sig} = sub { warn "caught SIG$sig, stopping nginx\n"; exit 1 };
    }

    my @blocks = Test::Base::blocks();
    @blocks = shuffle @blocks if !$NoShuffle;

    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        $block->set_value("name", $0 . " " . $block->name);
        run_test($block);
        cleanup_test($block);
        $PrevBlock = $block;
    }

    cleanup();
}

# Upstream sections we deliberately do not implement: refuse them rather
# than silently passing a block whose checks were skipped.
my @UnsupportedSections = qw(
    tcp_listen tcp_reply tcp_query tcp_query_len udp_listen udp_reply udp_query
    stap stap_out stap_out_like stap_out_unlike http3 reload_fails
    skip_slave todo_nginx
    stream_config stream_server_config stream_request stream_response
    stream_response_like
);

sub check_block_sections ($) {
    my $block = shift;
    my $name = $block->name;

    for my $sec (@UnsupportedSections) {
        if (defined $block->{$sec}) {
            bail_out("$name - section --- $sec is not supported by the "
                     . "ngx_kedge_module Test::Nginx runner (see t/README.md)");
        }
    }
}

# --- skip_nginx / --- skip_nginx2 / --- skip_openssl / --- skip_eval /
# --- todo: returns ($should_skip, $tests_to_skip, $skip_reason,
# $should_todo, $todo_reason).
sub _version_cond ($$$$$) {
    my ($have, $op, @v) = @_;
    my $want = get_canon_version(@v);
    return 1 if !defined $have && $op =~ /^</;
    return 0 if !defined $have;
    return $op eq '<'  ? $have <  $want
         : $op eq '<=' ? $have <= $want
         : $op eq '>'  ? $have >  $want
         :               $have >= $want;
}

sub skip_and_todo ($) {
    my $block = shift;
    my $name = $block->name;
    my ($should_skip, $tests_to_skip, $skip_reason, $should_todo, $todo_reason);

    if (defined(my $spec = $block->skip_eval)) {
        if ($spec =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            $tests_to_skip = $1;
            $skip_reason = "skip_eval";
            my $code = $2;
            $should_skip = eval $code;
            bail_out("$name - skip_eval - failed to eval the Perl code \"$code\": $@")
                if $@;
        }
    }

    if (defined(my $spec = $block->skip_nginx)) {
        if ($spec =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)(?:\s*:\s*(.*))?\s*$/) {
            $tests_to_skip = $1;
            $skip_reason = $6 || "nginx version $2 $3.$4.$5";
            $should_skip = 1 if _version_cond($NginxVersion, $2, $3, $4, $5);
        } else {
            bail_out("$name - Invalid --- skip_nginx spec: $spec");
        }

    } elsif (defined(my $spec2 = $block->skip_nginx2)) {
        if ($spec2 =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)\s*(or|and)\s*
                       ([<>]=?)\s*(\d+)\.(\d+)\.(\d+)(?:\s*:\s*(.*))?\s*$/x)
        {
            $tests_to_skip = $1;
            $skip_reason = $11;
            my $a = _version_cond($NginxVersion, $2, $3, $4, $5);
            my $b = _version_cond($NginxVersion, $7, $8, $9, $10);
            $should_skip = 1 if !defined $NginxVersion
                                || ($6 eq 'or' ? ($a || $b) : ($a && $b));
        } else {
            bail_out("$name - Invalid --- skip_nginx2 spec: $spec2");
        }
    }

    if (defined(my $spec = $block->skip_openssl)) {
        if ($spec =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)([a-z])?(?:\s*:\s*(.*))?\s*$/) {
            $tests_to_skip = $1;
            my ($op, @v) = ($2, $3, $4, $5, $6);
            $skip_reason = $7 || (defined $OpenSSLVersion
                                  ? "OpenSSL version $op $v[0].$v[1].$v[2]" . ($v[3] // '')
                                  : "Not built with OpenSSL");
            my $want = get_canon_version_for_OpenSSL(@v);
            if (!defined $OpenSSLVersion
                || ($op eq '<'  ? $OpenSSLVersion <  $want
                  : $op eq '<=' ? $OpenSSLVersion <= $want
                  : $op eq '>'  ? $OpenSSLVersion >  $want
                  :               $OpenSSLVersion >= $want))
            {
                $should_skip = 1;
            }
        } else {
            bail_out("$name - Invalid --- skip_openssl spec: $spec");
        }
    }

    if (defined(my $todo = $block->todo)) {
        if ($todo =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            $should_todo = 1;
            $tests_to_skip = $1;
            $todo_reason = $2;
        } else {
            bail_out("$name - Invalid --- todo spec: $todo");
        }
    }

    return ($should_skip, $tests_to_skip, $skip_reason // "various reasons",
            $should_todo, $todo_reason // "various reasons");
}

sub nginx_command () {
    my $cmd = "$NginxBinary -p $ServRoot/ -c $ConfFile";
    # -e (nginx >= 1.19.5) sends the errors of the startup phase to
    # error.log too: our binary is built with --error-log-path=stderr.
    $cmd = "$NginxBinary -e $ErrLogFile -p $ServRoot/ -c $ConfFile"
        if $NginxVersion >= 1.019005;
    $cmd .= " > /dev/null";

    if (defined $ENV{TEST_NGINX_LD_PRELOAD}) {
        my $preload = $ENV{TEST_NGINX_LD_PRELOAD};
        $preload .= " $ENV{LD_PRELOAD}" if defined $ENV{LD_PRELOAD};
        $cmd = qq{LD_PRELOAD="$preload" $cmd};
    }

    return $cmd;
}

# Reads the [emerg] lines logged since $pos (startup diagnostics).
sub _emerg_lines_since ($) {
    my $pos = shift;
    my ($data) = _read_from($ErrLogFile, $pos);
    return grep { /\[emerg\]/ } split /\n/, $data // '';
}

sub run_test ($) {
    my $block = shift;

    return if defined $block->SKIP;

    my $name = $block->name;

    check_block_sections($block);

    # Tag the sanitizer log file names with the test, as upstream does:
    # ASAN_OPTIONS=log_path=X becomes log_path=X-<file>-t<N> (the reports
    # still match the logs/asan* globs of the fatal-log check).
    if (defined $ENV{ASAN_OPTIONS}) {
        $ENV{ORI_ASAN_OPTIONS} //= $ENV{ASAN_OPTIONS};
        my $opts = $ENV{ORI_ASAN_OPTIONS};
        if ($name =~ m{t/([-_a-zA-Z0-9/]+)\.t TEST (\d+):}) {
            (my $tag = "$1-t$2") =~ s{/}{-}g;
            if ($opts =~ /log_path=([^,]+)/) {
                my $path = $1;
                $opts =~ s/log_path=[^,]+,?//;
                $opts .= ",log_path=$path-$tag";
                $ENV{ASAN_OPTIONS} = $opts;
            }
        }
    }

    my $rand_ports = {};
    $RandPorts = $rand_ports;

    my $config = expand_env_in_text($block->config, $name, $rand_ports);

    local $LogLevel = $LogLevel;
    $LogLevel = $block->log_level if $block->log_level;

    my $must_die = $block->must_die;
    my $dry_run = 0;

    # Restart policy, as upstream: a block without --- config reuses the
    # previous server; otherwise restart when the config changed or when
    # TEST_NGINX_FORCE_RESTART_ON_TEST (default 1) asks for it.
    my ($should_restart, $should_reconfig) = (1, 1);
    if (!defined $config) {
        if (!$NoNginxManager && !defined $PrevConfig) {
            bail_out("$name - No '--- config' section specified and could not "
                     . "get previous one. Use TEST_NGINX_NO_NGINX_MANAGER ?");
        }
        ($should_restart, $should_reconfig) = (0, 0);

    } elsif ($NoNginxManager) {
        Test::More::diag("NO_NGINX_MANAGER activated: config for $name ignored");
        ($should_restart, $should_reconfig) = (0, 0);

    } else {
        $should_reconfig = (!defined $PrevConfig || $config ne $PrevConfig) ? 1 : 0;
        $should_restart = ($should_reconfig || $ForceRestartOnTest) ? 1 : 0;
    }

    my ($should_skip, $tests_to_skip, $skip_reason, $should_todo, $todo_reason)
        = skip_and_todo($block);

    my $log_start = 0;

    if (!$NoNginxManager && !$should_skip && $should_restart) {
        $PrevConfig = $config if $should_reconfig;

        stop_nginx($name);

        setup_server_root(0);
        run_customer_init_script($block);
        write_user_files($block, $rand_ports);
        write_config_file($block, $config, $rand_ports);

        if (!can_run($NginxBinary)) {
            bail_out("$name - Cannot find the nginx executable in the PATH environment");
        }

        my $cmd = nginx_command();
        $cmd .= " 2> /dev/null" if defined $block->suppress_stderr;

        my ($i, $waited) = (0, 0);

        while (1) {
            $log_start = -s $ErrLogFile // 0;

            warn "starting nginx: $cmd\n" if $Verbose;
            system($cmd);
            my $status = $?;
            my ($exec_failed, $coredump, $exit_code);
            if ($status == -1) {
                $exec_failed = 1;
            } else {
                $exit_code = $status >> 8;
                $coredump = $status & 128;
            }

            if (defined $must_die) {
                if ($exec_failed) {
                    Test::More::fail("$name - failed to execute the nginx command line");
                } elsif ($coredump) {
                    Test::More::fail("$name - nginx core dumped");
                } elsif (looks_like_number($must_die)) {
                    Test::More::is($exit_code, $must_die,
                                   "$name - die with the expected exit code");
                } else {
                    Test::More::isnt($status, 0, "$name - die as expected");
                }

                $ErrLogFilePos = 0 if $i == 0;
                $CheckErrorLog->($block, undef, $dry_run, $i, 0);

                if ($status == 0) {
                    warn "WARNING: $name - nginx must die but it does not; "
                         . "killing it (req $i)\n";
                    for (1 .. 15) {
                        last if -f $PidFile;
                        sleep $TestNginxSleep;
                    }
                    if (-f $PidFile) {
                        my $pid = get_pid_from_pidfile($name);
                        kill_process($pid, 1, $name) if pid_is_nginx($pid);
                        unlink $PidFile;
                    }
                }

                next if ++$i < $RepeatEach;
                return;
            }

            last if $status == 0;

            if ($ENV{TEST_NGINX_IGNORE_MISSING_DIRECTIVES}
                and my $directive = check_if_missing_directives())
            {
                $dry_run = "the lack of directive $directive";
                last;
            }

            # KEDGE: upstream retries for up to 30 s whatever the reason;
            # we give up at once on a configuration error.
            my @emerg = grep { !/Address already in use|bind\(\)/ }
                        _emerg_lines_since($log_start);
            if (@emerg) {
                bail_out("$name - Cannot start nginx using command \"$cmd\" "
                         . "(status code $status): " . join("\n", @emerg));
            }

            $i++;
            my $delay = 0.1 * $i;
            $delay = 1 if $delay > 1;
            sleep $delay;
            $waited += $delay;
            next if $waited < 30;
            bail_out("$name - Cannot start nginx using command \"$cmd\" (status code $status).");
        }

        # The (bind) failures of earlier attempts are not the block's fault.
        $FatalPos = $log_start;

        if (!$dry_run) {
            $RunningBlock = $block;
            for (1 .. 20) {
                last if -s $PidFile;
                sleep $TestNginxSleep;
            }
            $StartedPid = -s $PidFile ? get_pid_from_pidfile($name) : undef;
        }

        sleep $TestNginxSleep;

    } elsif (!$NoNginxManager && !$should_skip) {
        # nginx is reused for this block
        $RunningBlock = $block if $RunningBlock;
    }

    if ($block->init) {
        eval $block->init;
        bail_out("$name - init failed: $@") if $@;
    }

    $ErrLogFilePos = $log_start;

    for my $i (1 .. $RepeatEach) {
        write_user_files($block, $rand_ports) if $i > 1;

        if ($should_skip && defined $tests_to_skip) {
            SKIP: {
                Test::More::skip("$name - $skip_reason", $tests_to_skip);
            }

        } elsif ($should_todo) {
            TODO: {
                Test::More::todo_skip("$name - $todo_reason", $tests_to_skip);
            }

        } else {
            $RunTestHelper->($block, $dry_run, $i - 1);
        }
    }

    if (my $total_errlog = $ENV{TEST_NGINX_ERROR_LOG}) {
        if (-s $ErrLogFile) {
            open my $out, '>>', $total_errlog
                or bail_out "Failed to append test case title to $total_errlog: $!\n";
            print $out "\n=== $0 $name\n";
            close $out;
            system("cat '$ErrLogFile' >> '$total_errlog'") == 0
                or bail_out "Failed to append $ErrLogFile to $total_errlog. Abort.\n";
        }
    }
}

END {
    return if $InSubprocess;

    local $?;   # keep Test::Builder's exit code

    cleanup();

    if (!$ENV{TEST_NGINX_NO_CLEAN}) {
        stop_nginx('END');
    } elsif ($RunningBlock) {
        # leave nginx running, but still report what it logged
        check_fatal_logs($RunningBlock, 0);
    }

    if ($Randomize && defined $ServRoot && -d $ServRoot
        && $ServRoot =~ m{/t/servroot_\d+$} && !$ENV{TEST_NGINX_NO_CLEAN})
    {
        remove_tree($ServRoot);
    }
}

1;
