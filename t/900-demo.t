# The demo of the README: scripts/demo.sh starts, answers every request it
# suggests (scripts/demo.sh check runs them), and stops.

use strict;
use warnings;

use FindBin;
use Test::More;

my $root = "$FindBin::Bin/..";

is(system("$root/scripts/demo.sh > /dev/null"), 0, "scripts/demo.sh starts");

my @lines = `$root/scripts/demo.sh check 2>&1`;
my $checked = 0;

for my $line (@lines) {
    if ($line =~ /^(not )?ok - (.*)/) {
        ok(!$1, "demo: $2") or diag(join "", @lines);
        $checked++;
    }
}

cmp_ok($checked, '>=', 12, "every suggested request was checked");
is($? >> 8, 0, "scripts/demo.sh check passes");

is(system("$root/scripts/demo.sh stop"), 0, "scripts/demo.sh stop");

done_testing();
