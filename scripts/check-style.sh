#!/usr/bin/env bash
# nginx code style, the mechanical part: 80 columns, spaces not tabs, no
# trailing blanks, /* */ comments only, two blank lines between function
# definitions, every non-static function carrying the ngx_ prefix.
#
#   scripts/check-style.sh [FILE...]     (default: ngx_kedge_module/*.[ch])
set -uo pipefail

cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- ngx_kedge_module/*.[ch]

perl -ne '
    BEGIN { $bad = 0 }
    sub bad { print "$ARGV:$.: $_[0]\n"; $bad = 1 }
    chomp;
    bad("longer than 80 columns") if length($_) > 80;
    bad("tab") if /\t/;
    bad("trailing whitespace") if /[ \t]$/;
    bad("// comment") if m{^[^"]*//} && !m{https?://|grpcs?://};
    # a function definition: return type alone on a line, then name(
    if (/^[a-z_]\w*(\(|$)/ && $prev =~ /^(static |extern )?[a-z_][\w ]*\**$/
        && $prev !~ /^(return|typedef|struct)/)
    {
        bad("one blank line before a function, two wanted")
            unless $blank1 eq "" && ($blank2 eq "" || $blank2 =~ m{\*/$});
        bad("function without the ngx_ prefix") unless /^ngx_/;
    }
    ($blank2, $blank1, $prev) = ($blank1, $prev, $_);
    if (eof) { close ARGV; ($blank2, $blank1, $prev) = ("x", "x", "x") }
    END { exit $bad }
' "$@" && echo "style: ok ($# files)"
