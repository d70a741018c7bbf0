# The tag grammar of src/tag.c against the reference parser
# test/fuzz/TagReference.pm: the README's examples, then random query
# strings and comments (test/fuzz/tag_fuzz.pl; TAG_FUZZ_CASES sets how
# many, 3000 by default).  No server: tag.c runs in a small harness built
# against this PostgreSQL's headers.  A long run by hand:
#   perl test/fuzz/tag_fuzz.pl --seconds 600
use strict;
use warnings;
use FindBin;
use PostgreSQL::Test::Utils;
use Test::More;

my $cases = $ENV{TAG_FUZZ_CASES} // 3000;
my $script = "$FindBin::RealBin/../fuzz/tag_fuzz.pl";
my ($stdout, $stderr);
my $ok = IPC::Run::run([ $^X, $script, '--cases', $cases ],
	'>', \$stdout, '2>', \$stderr);
note($stdout);
diag($stderr) if $stderr ne '';
ok($ok, "tag.c agrees with the reference on the examples and $cases random cases");
like($stdout, qr/^tag_fuzz: \d+ examples, (\d+) checks$/m, 'the examples ran');
like($stdout, qr/^tag_fuzz: $cases cases, \d+ checks, 0 mismatches/m,
	"$cases random cases ran, no mismatch");
my ($tags) = $stdout =~ /(\d+) gave a tag/;
cmp_ok($tags // 0, '>', $cases / 20, 'the random cases do find tags');

done_testing();
