package Test::Kedge::Oidc;

# OpenID issuers and ID tokens for the suites (t/fixtures/oidc/README.md),
# started once per .t file, before run_tests(), and stopped when the file
# ends (by Test::Kedge::Peers, like its own peers):
#
#     use Test::Kedge::Oidc;
#     oidc_issuer();                 # issuer.mjs: a real OpenID provider;
#                                    # exports TEST_NGINX_OIDC_ISSUER,
#                                    # _PORT and _CONTROL
#     my $t = oidc_token(sub => 'alice', perms => ['a', 'b']);
#     oidc_control(POST => '/rotate');
#     my $n = oidc_control(GET => '/stats')->{jwks};
#
#     static_issuer(jwks => 'jwks-weak.json');   # TEST_NGINX_STATIC_*
#     my $bad = mint('alg-none', perms => ['a']);
#
# Needs node 18+ and npm (scripts/deps.sh); the node modules are installed
# by t/fixtures/oidc/install.sh on first use.  Plain Perl on top of
# Test::Nginx: works the same under the real one.

use strict;
use warnings;

use HTTP::Tiny;
use JSON::PP;

use Test::Kedge::Peers qw(test_certs repo_root);

use Exporter 'import';
our @EXPORT = qw(oidc_issuer static_issuer oidc_token oidc_control mint
                 oidc_keys);

my ($Installed, %Keys);

sub fixture_dir { return repo_root() . "/t/fixtures/oidc" }

sub node { return $ENV{KEDGE_NODE} || 'node' }

# npm ci into t/fixtures/oidc/node_modules, when missing or stale
sub install {
    return if $Installed;
    system(fixture_dir() . "/install.sh") == 0
        or die "t/fixtures/oidc/install.sh failed\n";
    $Installed = 1;
}

# the key directory of mint.mjs, made once (build/oidc-keys, exported as
# TEST_NGINX_OIDC_KEYS)
sub oidc_keys {
    install();
    my $dir = $ENV{TEST_NGINX_OIDC_KEYS} ||= repo_root() . "/build/oidc-keys";
    return $dir if $Keys{$dir}++;
    system(node(), fixture_dir() . "/mint.mjs", "keys", $dir) == 0
        or die "mint.mjs keys $dir failed\n";
    return $dir;
}

# starts an issuer script, waits for READY, exports TEST_NGINX_<env>_ISSUER
# (its URL), _PORT and _CONTROL (the control port's URL); returns
# { pid, url, port, control }
sub start {
    my ($script, $env, %o) = @_;
    install();
    my $certs = $o{cert_dir} || test_certs();

    my ($pid, $line) = Test::Kedge::Peers::_start_ready(node(),
        fixture_dir() . "/$script",
        "--listen", $o{listen} || "127.0.0.1:0",
        "--control", $o{control} || "127.0.0.1:0",
        "--cert", "$certs/server.crt", "--key", "$certs/server.key",
        @{ $o{args} });

    my (undef, $url, $control) = split ' ', $line;
    my ($port) = $url =~ /:(\d+)$/;

    $ENV{"TEST_NGINX_${env}_ISSUER"} = $url;
    $ENV{"TEST_NGINX_${env}_PORT"} = $port;
    $ENV{"TEST_NGINX_${env}_CONTROL"} = $control;

    return { pid => $pid, url => $url, port => $port, control => $control };
}

# t/fixtures/oidc/issuer.mjs; options: listen, control, cert_dir, alg
# (RS256, ES256), max_age, env (default OIDC)
sub oidc_issuer {
    my %o = @_;
    my @args;
    push @args, "--alg", $o{alg} if $o{alg};
    push @args, "--max-age", $o{max_age} if defined $o{max_age};
    return start("issuer.mjs", $o{env} || "OIDC", %o, args => \@args);
}

# t/fixtures/oidc/static-issuer.mjs; options: jwks (a file; a bare name is
# one of the key directory, default jwks.json), issuer_override, max_age,
# listen, control, cert_dir, env (default STATIC)
sub static_issuer {
    my %o = @_;
    my $jwks = $o{jwks} || "jwks.json";
    $jwks = oidc_keys() . "/$jwks" unless $jwks =~ m{/};
    my @args = ("--jwks", $jwks);
    push @args, "--issuer-override", $o{issuer_override}
        if $o{issuer_override};
    push @args, "--max-age", $o{max_age} if defined $o{max_age};
    return start("static-issuer.mjs", $o{env} || "STATIC", %o,
                 args => \@args);
}

# a control request; returns the decoded JSON answer, dies unless 2xx.
# $control: a URL or port, default $TEST_NGINX_OIDC_CONTROL
sub oidc_control {
    my ($method, $path, $control) = @_;
    $control //= $ENV{TEST_NGINX_OIDC_CONTROL}
        or die "oidc_control: no issuer started\n";
    $control = "http://127.0.0.1:$control" if $control =~ /^\d+$/;

    my $res = HTTP::Tiny->new(timeout => 20)->request($method, "$control$path");
    die "oidc_control $method $path: $res->{status} $res->{content}\n"
        unless $res->{success};
    return decode_json($res->{content});
}

sub perms_arg {
    my ($perms) = @_;
    return ref $perms ? join(",", @$perms) : $perms;
}

# an ID token from issuer.mjs, by the authorization-code flow; options:
# sub (alice), perms (array ref or "a,b"), aud (kedge), ttl (seconds),
# control
sub oidc_token {
    my %o = @_;
    my %q = (sub => $o{sub} // 'alice');
    $q{perms} = perms_arg($o{perms}) if defined $o{perms};
    $q{aud} = $o{aud} if defined $o{aud};
    $q{ttl} = $o{ttl} if defined $o{ttl};
    my $query = HTTP::Tiny->new->www_form_urlencode(\%q);
    return oidc_control(POST => "/token?$query", $o{control})->{id_token};
}

# a token of one case of mint.mjs; options: iss (default the static
# issuer's URL, else the OpenID provider's), aud, perms (array ref or
# "a,b"), sub, exp_in, size, keys (directory)
sub mint {
    my ($case, %o) = @_;
    my $iss = $o{iss} // $ENV{TEST_NGINX_STATIC_ISSUER}
              // $ENV{TEST_NGINX_OIDC_ISSUER}
        or die "mint: no iss and no issuer started\n";
    my $keys = $o{keys} || oidc_keys();

    my @cmd = (node(), fixture_dir() . "/mint.mjs", "token", $keys, $case,
               "--iss", $iss);
    push @cmd, "--aud", $o{aud} if defined $o{aud};
    push @cmd, "--perms", perms_arg($o{perms}) if defined $o{perms};
    push @cmd, "--sub", $o{sub} if defined $o{sub};
    push @cmd, "--exp-in", $o{exp_in} if defined $o{exp_in};
    push @cmd, "--size", $o{size} if defined $o{size};

    open my $fh, '-|', @cmd or die "mint: $cmd[0]: $!\n";
    my $token = do { local $/; <$fh> };
    close $fh or die "mint $case failed\n";
    chomp $token;
    return $token;
}

1;
