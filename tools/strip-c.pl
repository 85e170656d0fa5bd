# tools/strip-c.pl - the code of C source lines without their comments, for
# the source checks (check-banned.sh, check-platform-seal.sh), so both read
# C the same way. A comment is found by its delimiters, not by a line's
# first character: a code line may begin with '*' (`*n = atoi(s);`) and code
# may follow a comment on its line. String literals become "" and character
# literals 0, so nothing inside them is taken for code.
#
# Use from a `perl -ne` program:
#   BEGIN { require "tools/strip-c.pl" }
#   my $code = rp_strip_c_line($_);
#   if (eof) { close ARGV; rp_strip_c_reset() }
use strict;
use warnings;

my $in_comment = 0; # inside a /* */ comment that began on an earlier line

sub rp_strip_c_line {
    my ($s) = @_;
    my $code = "";
    while (length $s) {
        if ($in_comment) {
            if ($s =~ s{^.*?\*/}{}s) { $in_comment = 0; $code .= " " } else { $s = "" }
        } elsif ($s =~ s{^/\*}{}) {
            $in_comment = 1;
        } elsif ($s =~ s{^//.*}{}s) {
        } elsif ($s =~ s{^"(?:[^"\\\n]|\\.)*"?}{}) {
            $code .= "\"\"";
        } elsif ($s =~ s{^\x27(?:[^\x27\\\n]|\\.)*\x27?}{}) {
            $code .= "0";
        } else {
            $s =~ s{^([^/"\x27]+|.)}{}s;
            $code .= $1;
        }
    }
    return $code;
}

# Forgets an unclosed comment: call it at the end of each file.
sub rp_strip_c_reset { $in_comment = 0 }

1;
