# Unit tests of the pure-C parts, by t/unit/run.sh (built with ASan and
# UBSan): the Kubernetes decoder (vectors from python3-protobuf) and the
# JWK Set and JWT checks (vectors from node's crypto, npm jose and
# t/fixtures/oidc/mint.mjs).  One subtest per suite, each of its tests a
# test here, then: its plan was kept and it exited 0.
use strict;
use warnings;

use FindBin;
use TAP::Parser;
use Test::More tests => 2;

for my $suite (qw(k8s jose)) {
    subtest $suite => sub {
        my $parser = TAP::Parser->new(
            { exec => ["$FindBin::Bin/unit/run.sh", $suite] });

        while (my $r = $parser->next) {
            if ($r->is_test) {
                (my $name = $r->description) =~ s/^- //;
                ok($r->is_actual_ok, $name);
            } elsif ($r->is_comment) {
                diag($r->comment);
            }
        }

        my @errors = $parser->parse_errors;
        diag($_) for @errors;
        ok(!@errors && $parser->tests_run > 0 && $parser->exit == 0,
           "t/unit/run.sh $suite: its plan kept, exit status 0");
        done_testing();
    };
}
