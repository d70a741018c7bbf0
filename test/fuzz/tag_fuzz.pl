#!/usr/bin/perl
# tag_fuzz.pl - fuzz src/tag.c (built into tag_harness) against the
# reference parser TagReference.pm.
#
# Each case is a random query string of one to three statements, made of
# SQL that plays with the lexer (strings, E'' strings, dollar quotes,
# quoted identifiers, line comments, nested comments, semicolons) and of
# sqlcommenter, marginalia and malformed comments around and inside the
# statements, sometimes mutated at random bytes; with a random
# tag_comment_key, database encoding (UTF8, SQL_ASCII, LATIN1),
# standard_conforming_strings and transaction state.  For each statement
# the reference's statements() gives (as PostgreSQL would), the harness
# reads the tag with the location of PostgreSQL up to 17 (after the ';')
# and from 18 (the first token), and once more for the whole string
# (location -1); each answer must equal the reference's, and a tag found
# must have passed the quick test pgxt_comment_possible.  Each case also
# checks one random tag setting, one stored tag as a reader sees it, and
# one tag_comment_key value.
#
# Before the random cases, the examples below (the README's) are checked:
# tag.c and the reference must both give the documented tag.
#
# Usage: perl test/fuzz/tag_fuzz.pl [--cases N] [--seconds S] [--seed N]
#                                   [--harness PATH] [--keep-going]
#   --cases N     number of cases (default 2000; with --seconds, per batch)
#   --seconds S   go on with new batches until S seconds have passed
#   --seed N      random seed (default: from the time; printed)
#   --harness P   a built tag_harness (default: build one with gcc and
#                 the PostgreSQL found by $PG_CONFIG or pg_config in PATH)
#   --keep-going  report every mismatch, not only the first 10
# Prints one line: cases, checks, mismatches, seed.  Exit status 1 on a
# mismatch, 2 if the harness cannot be built or run.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use File::Temp qw(tempdir);
use Getopt::Long;
use Time::HiRes qw(time);
use TagReference qw(statements comment_tag setting_tag reader_tag
  parse_spec);

my $cases = 2000;
my $seconds = 0;
my $seed = int(time() * 1000) % 1_000_000_007 ^ $$;
my $harness;
my $keep_going = 0;
GetOptions(
	'cases=i' => \$cases,
	'seconds=f' => \$seconds,
	'seed=i' => \$seed,
	'harness=s' => \$harness,
	'keep-going' => \$keep_going) or die "usage: see the header of $0\n";
srand($seed);

my $workdir = tempdir('tag_fuzz.XXXXXX', TMPDIR => 1, CLEANUP => 1);
$harness //= build_harness($workdir);

# Before 14 characters are not converted to UTF-8 (see char_to_utf8 in
# tag.c): the reference then escapes them as without a conversion.
my ($version) = `echo V | "$harness"` =~ /^(\d+)/
  or die "tag_fuzz: the harness does not run\n";
my $converts = $version >= 140000;

# Build tag_harness against the server's headers and libpgcommon.
sub build_harness
{
	my ($dir) = @_;
	my $pg_config = $ENV{PG_CONFIG} // 'pg_config';
	chomp(my $inc = `$pg_config --includedir-server`);
	die "tag_fuzz: $pg_config --includedir-server failed\n" if $? || !$inc;
	my ($lib) = grep { -f "$_/libpgcommon.a" }
	  map { my $d = `$pg_config --$_`; chomp $d; $d } qw(pkglibdir libdir);
	die "tag_fuzz: no libpgcommon.a under the libdir of $pg_config\n" unless $lib;
	my $src = "$FindBin::RealBin/../../src";
	my $out = "$dir/tag_harness";
	my @cmd = ('gcc', '-O1', '-w', "-I$inc", "-I$src",
		"$FindBin::RealBin/tag_harness.c", '-o', $out,
		"$lib/libpgcommon.a", "$lib/libpgport.a");
	system(@cmd) == 0 or do { print STDERR "tag_fuzz: @cmd failed\n"; exit 2 };
	return $out;
}

#---- generators ----

sub pick { return $_[ int(rand(@_)) ] }
sub chance { return rand() < $_[0] }

my @SPACES = (' ', ' ', ' ', '  ', "\n", "\t", "\r\n", "\f", "\x0b");
sub space { return pick(@SPACES) }
sub maybe_space { return chance(0.6) ? '' : space() }

my @SPECS = ('tag', 'tag', 'tag', 'route', 'controller#action, job',
	'controller#action,job', 'framework/route', 'db_driver@route', 'job',
	'tag,route', 'route, tag', 'action', 'x+y', 'controller:action',
	' tag ', 'a.b', 'traceparent', 'tag#tag', '');
my @COMMENT_KEYS = qw(tag tag tag tag tag tag tag route route controller
  controller action action job job framework db_driver traceparent
  application x y a.b);
push @COMMENT_KEYS, '%74ag', 'ta%67', 'TAG', 'x~y', 'a-b';
my @BAD_KEYS = ('ta g', 'tag%', '%zz', '', "tag'", 't"g');
my @VALUE_PIECES = ('a', 'b', 'GET', '/api/v2', ' ', '%2F', '%2f', '%3C',
	'%%3C', '%%', '%', '%ZZ', '%4', "\\'", '\\\\', '\\', "\xc3\xa9",
	"\xc3", "\xa9", "\xff", "\xe9", '%FF', '%C3%A9', '%E9', '%00', '%C3',
	',', ':', '=', '"', '*', '/', '~', '#', "\xf0\x9f\x98\x80",
	'%F0%9F%98%80', "\xed\xa0\x80", '%ED%A0%80', "\xc0\xaf", 'x' x 30,
	"\xc3\xa9" x 20, '-', '--', ';', "\n", '$$');

my @PLAIN_PIECES = ('a', 'b', 'GET', '/api/v2', 'posts', 'index', ' ',
	'%2F', "\xc3\xa9", '%C3%A9', 'x' x 20);

sub value
{
	my $v = join '',
	  map { chance(0.8) ? pick(@PLAIN_PIECES) : pick(@VALUE_PIECES) }
	  1 .. int(rand(6));
	$v .= join '', map { pick(@VALUE_PIECES) } 1 .. 40 if chance(0.1);
	return $v;
}

sub pair
{
	my $key = chance(0.03) ? pick(@BAD_KEYS) : pick(@COMMENT_KEYS);
	my $v = value();
	if (chance(0.7))
	{
		$v =~ s/'/\\'/g unless chance(0.1);
		my $q = chance(0.95) ? "'" : '"';
		my $close = chance(0.97) ? $q : '';
		return $key . maybe_space() . '=' . maybe_space() . $q . $v . $close;
	}
	$v =~ s/,//g unless chance(0.2);
	return $key . maybe_space() . ':' . maybe_space() . $v;
}

sub comment
{
	my $depth = shift // 0;
	my $body;
	my $r = rand();
	if ($r < 0.8)
	{
		$body = join(maybe_space() . ',' . maybe_space(),
			map { pair() } 1 .. 1 + int(rand(3)));
		$body .= ',' if chance(0.05);
		$body = space() . $body . space() if chance(0.3);
	}
	elsif ($r < 0.9 && $depth < 2)
	{
		$body = maybe_space() . comment($depth + 1) . maybe_space();
		$body .= pair() if chance(0.3);
	}
	else
	{
		$body = pick('', ' ', '+ SeqScan(t) ', ' note ', "tag='x' more", ',',
			'tag=', "tag='x", '/', '*');
	}
	return "/*$body*/";
}

my @ITEMS = ('1', '42', 'x', 'a$b', 'a$b$', '$1', "'str'", "'it''s'",
	"E'a\\'b'", "e'x\\\\'", "'a\\'", '"id"', '"a""b"', '"/*"',
	"\$\$ /*tag='d'*/ \$\$", "\$q\$ -- x; \$q\$", "'--'", "'/*'", "';'",
	"'*/'", 'x/y', 'a-b', '*', '/', '-', 'a--b', 'x/**/y', "U&'d'",
	"B'1'", 'E', "x'y'", "\$a\$", '$', "'\n'");

sub item
{
	my $r = rand();
	return pick(@ITEMS) if $r < 0.85;
	return comment() if $r < 0.93;
	return '-- c ' . pick('', ';', comment(), "tag='l'") . "\n";
}

sub decoration
{
	my $r = rand();
	return space() if $r < 0.3;
	return comment() if $r < 0.8;
	return '-- note' . pick('', ';', ' ' . comment()) . "\n";
}

sub statement
{
	my $s = '';
	$s .= decoration() for 1 .. int(rand(3));
	$s .= pick('SELECT', 'select', 'UPDATE t SET', 'VALUES(');
	$s .= space() . item() for 1 .. 1 + int(rand(4));
	$s .= maybe_space() . decoration() for 1 .. int(rand(3));
	return $s;
}

sub query
{
	my $q = join '', map {
		($_ > 0 ? ';' . (chance(0.1) ? ';' : '') . maybe_space() : '')
		  . statement()
	} 0 .. int(rand(3));
	if (chance(0.4))
	{
		$q .= ';';
		$q .= maybe_space() . decoration() for 1 .. int(rand(3));
	}
	if (chance(0.15))
	{
		# a few random byte edits
		my @alphabet = split //, "'\"\\%,=:/*-;\$ \n\xff\xc3\xa9x";
		for (1 .. 1 + int(rand(3)))
		{
			my $at = int(rand(length($q) + 1));
			my $r = rand();
			if ($r < 0.4) { substr($q, $at, 0) = pick(@alphabet) }
			elsif ($r < 0.7) { substr($q, $at, 1) = '' }
			else { substr($q, $at, 1) = pick(@alphabet) }
		}
	}
	return $q;
}

sub setting_value
{
	my $v = join '', map {
		chance(0.2) ? chr(1 + int(rand(255))) : pick(@VALUE_PIECES)
	} 0 .. int(rand(8));
	$v .= 'GET /api/v2/organizations/:organization_id/projects' x int(rand(3));
	return $v;
}

sub spec_value
{
	return pick(@SPECS) if chance(0.5);
	my @alphabet = split //, 'abtagroute#/:@+, .-~_=*';
	return join '', map { pick(@alphabet) } 1 .. int(rand(16));
}

#---- examples ----

# [text, statement (-1: the whole string), tag_comment_key, encoding,
#  expected tag or undef]
my @EXAMPLES = (
	[ "SELECT 1 /*tag='a'*/", -1, 'tag', 'UTF8', 'a' ],
	[ "/*tag='a'*/ SELECT 1", -1, 'tag', 'UTF8', 'a' ],
	[ "SELECT 1; /*tag='a'*/", 0, 'tag', 'UTF8', 'a' ],
	[ "SELECT 1; /*tag='a'*/ SELECT 2", 0, 'tag', 'UTF8', undef ],
	[ "SELECT 1; /*tag='a'*/ SELECT 2", 1, 'tag', 'UTF8', 'a' ],
	[ "SELECT 1 /*tag='a'*/; SELECT 2", 0, 'tag', 'UTF8', 'a' ],
	[ "SELECT 1 /*tag='a'*/ -- note", -1, 'tag', 'UTF8', undef ],
	[ "SELECT 1 -- note\n/*tag='a'*/", -1, 'tag', 'UTF8', 'a' ],
	[ "SELECT 1 -- /*tag='a'*/", -1, 'tag', 'UTF8', undef ],
	[ "SELECT 1; /*tag='a'*/ -- x;\nSELECT 2", 1, 'tag', 'UTF8', 'a' ],
	[ "SELECT 1; -- x;\n/*tag='a'*/ SELECT 2", 1, 'tag', 'UTF8', undef ],
	[ "SELECT 1; -- x; /*tag='a'*/\nSELECT 2", 1, 'tag', 'UTF8', undef ],
	[ "SELECT /*tag='a'*/ 1", -1, 'tag', 'UTF8', undef ],
	[ "SELECT '/*tag=''a''*/'", -1, 'tag', 'UTF8', undef ],
	[ "SELECT \$\$ x \$\$ /*tag='a'*/", -1, 'tag', 'UTF8', 'a' ],
	[ "SELECT 1 /*tag=\"a\"*/", -1, 'tag', 'UTF8', undef ],
	[ "SELECT 1 /*tag='a*/", -1, 'tag', 'UTF8', undef ],
	[ "SELECT 1 /*tag=a*/", -1, 'tag', 'UTF8', undef ],
	[ "SELECT 1 /*tag:a*/", -1, 'tag', 'UTF8', 'a' ],
	[ "SELECT 1 /* /*tag='a'*/ */", -1, 'tag', 'UTF8', undef ],
	[ "/* /*tag='a'*/ */ SELECT 1", -1, 'tag', 'UTF8', undef ],
	[ "SELECT 1 /*tag='a%FF'*/", -1, 'tag', 'UTF8', undef ],
	[ "SELECT 1 /*tag='a%FF'*/", -1, 'tag', 'SQL_ASCII', 'a%FF' ],
	[ "SELECT 1 /*tag='caf%E9'*/", -1, 'tag', 'LATIN1', $converts ? "caf\xc3\xa9" : 'caf%E9' ],
	[ "SELECT 1 /*tag='caf%C3%A9'*/", -1, 'tag', 'UTF8', "caf\xc3\xa9" ],
	[ "SELECT 1 /*route='x%%3Cid%%3E'*/", -1, 'route', 'UTF8', 'x<id>' ],
	[ "SELECT 1 /*tag='a\\'b'*/", -1, 'tag', 'UTF8', "a'b" ],
	[ "SELECT 1 /*tag='',route='r'*/", -1, 'tag, route', 'UTF8', 'r' ],
	[ "/*+ IndexScan(t) */ /*tag='a'*/ SELECT 1", -1, 'tag', 'UTF8', 'a' ],
	[ "SELECT 1 /*controller:posts,action:index*/", -1, 'controller#action, job', 'UTF8', 'posts#index' ],
	[ "SELECT 1 /*controller:posts,job:Import*/", -1, 'controller#action, job', 'UTF8', 'Import' ],
	[ "SELECT 1 /*tag='" . ('x' x 63) . "'*/", -1, 'tag', 'UTF8', 'x' x 63 ],
	[ "SELECT 1 /*tag='" . ('x' x 64) . "'*/", -1, 'tag', 'UTF8', ('x' x 54) . '~d19b1ac5' ],
	[ "SELECT 1 /*tag='" . ("\xc3\xa9" x 40) . "'*/", -1, 'tag', 'UTF8', ("\xc3\xa9" x 27) . '~da5a8f25' ],
);

#---- driver ----

sub hex_of { my ($s) = @_; return length($s) ? unpack('H*', $s) : '-' }
sub unhex { my ($h) = @_; return $h eq '-' ? '' : pack('H*', $h) }
sub show { my ($s) = @_; $s =~ s/([^\x20-\x7e])/sprintf('\\x%02x', ord $1)/ge; return "\"$s\"" }

my ($total_cases, $checks, $mismatches) = (0, 0, 0);
my ($comment_checks, $tags_found, $maybes) = (0, 0, 0);
my $start = time();

# One batch: generate the cases, run the harness once over all of their
# commands, compare.
sub batch
{
	my ($n) = @_;
	my (@commands, @expected, @what);
	for (1 .. $n)
	{
		my $q = query();
		my $enc = pick('UTF8', 'UTF8', 'SQL_ASCII', 'LATIN1');
		my $scs = chance(0.8) ? 1 : 0;
		my $tx = chance(0.9) ? 1 : 0;
		my $spec = pick(@SPECS);
		$spec = spec_value() if chance(0.1);
		my @locations = ([ -1, 0 ]);
		for my $s (@{ statements($q, $scs) })
		{
			my ($l17, $l18, $end) = @$s;
			push @locations, map { [ $_, defined $end ? $end - $_ : 0 ] } $l17, $l18;
		}
		for my $l (@locations)
		{
			my ($loc, $len) = @$l;
			push @commands, join(' ', 'C', $enc, $scs, $tx, $loc, $len,
				hex_of($spec), hex_of($q));
			push @expected, [ 'C', comment_tag($q, $loc, $len, $spec, $enc, $scs, $tx && $converts) ];
			push @what, "comment enc=$enc scs=$scs tx=$tx loc=$loc len=$len spec=" . show($spec) . ' text=' . show($q);
		}

		my $v = setting_value();
		push @commands, join(' ', 'S', $enc, $tx, hex_of($v));
		my $stored = setting_tag($v, $enc, $tx && $converts);
		push @expected, [ 'S', $stored ];
		push @what, "setting enc=$enc tx=$tx value=" . show($v);

		my $renc = pick('UTF8', 'SQL_ASCII', 'LATIN1', 'EUC_JP');
		my $t = chance(0.8) ? $stored : substr(setting_value(), 0, 63);
		push @commands, join(' ', 'R', $renc, hex_of($t));
		push @expected, [ 'R', reader_tag($t, $renc) ];
		push @what, "reader enc=$renc tag=" . show($t);

		my $sv = spec_value();
		push @commands, join(' ', 'K', hex_of($sv));
		my $parsed = parse_spec($sv);
		push @expected, [ 'K', $parsed ? 'ok ' . scalar(@$parsed) : 'error' ];
		push @what, 'key spec ' . show($sv);
	}

	my $in = "$workdir/commands";
	open my $fh, '>:raw', $in or die $!;
	print $fh map { "$_\n" } @commands;
	close $fh;
	my @out = `"$harness" < "$in"`;
	if ($? != 0 || @out != @commands)
	{
		print STDERR "tag_fuzz: the harness failed (status $?, "
		  . scalar(@out) . " answers to " . scalar(@commands) . " commands, seed $seed)\n";
		exit 2;
	}
	for my $i (0 .. $#commands)
	{
		chomp(my $line = $out[$i]);
		my ($kind, $want) = @{ $expected[$i] };
		my ($got, $ok);
		if ($kind eq 'C')
		{
			my ($possible, $tag) = split / /, $line;
			$got = $tag eq '-' ? undef : unhex($tag);
			$comment_checks++;
			$tags_found++ if defined $got;
			$maybes++ if $possible;
			$ok = (defined $got ? defined $want && $got eq $want : !defined $want)
			  && (!defined $got || $possible);
			$got = defined $got ? show($got) . ($possible ? '' : ' (quick test said no)') : 'none';
			$want = defined $want ? show($want) : 'none';
		}
		elsif ($kind eq 'K')
		{
			$got = $line =~ /^error/ ? 'error' : $line;
			$ok = $got eq $want;
		}
		else
		{
			$got = unhex($line);
			$ok = $got eq $want;
			($got, $want) = (show($got), show($want));
		}
		$checks++;
		next if $ok;
		$mismatches++;
		if ($keep_going || $mismatches <= 10)
		{
			print "MISMATCH $what[$i]\n  tag.c: $got\n  reference: $want\n";
		}
	}
	$total_cases += $n;
}

# Check the examples: both tag.c and the reference must give the tag.
sub examples
{
	my (@commands, @expected, @what);
	for my $ex (@EXAMPLES)
	{
		my ($q, $index, $spec, $enc, $want) = @$ex;
		my @locations = ([ -1, 0 ]);
		if ($index >= 0)
		{
			my ($l17, $l18, $end) = @{ statements($q, 1)->[$index] };
			@locations = map { [ $_, defined $end ? $end - $_ : 0 ] } $l17, $l18;
		}
		for my $l (@locations)
		{
			push @commands, join(' ', 'C', $enc, 1, 1, @$l, hex_of($spec), hex_of($q));
			push @expected, $want;
			push @what, "example " . show($q) . " at @$l, $spec, $enc";
		}
	}
	my $in = "$workdir/examples";
	open my $fh, '>:raw', $in or die $!;
	print $fh map { "$_\n" } @commands;
	close $fh;
	my @out = `"$harness" < "$in"`;
	if ($? != 0 || @out != @commands)
	{
		print STDERR "tag_fuzz: the harness failed on the examples (status $?)\n";
		exit 2;
	}
	for my $i (0 .. $#commands)
	{
		my ($possible, $tag) = split / /, $out[$i] // '';
		chomp $tag if defined $tag;
		my $got = !defined $tag || $tag eq '-' ? undef : unhex($tag);
		my ($loc, $len, $spec, $q) = (split / /, $commands[$i])[ 4 .. 7 ];
		my $ref = comment_tag(unhex($q), $loc, $len, unhex($spec),
			(split / /, $commands[$i])[1], 1, $converts);
		my $want = $expected[$i];
		for ([ 'tag.c', $got ], [ 'reference', $ref ])
		{
			my ($who, $val) = @$_;
			$checks++;
			next if (defined $val ? defined $want && $val eq $want : !defined $want);
			$mismatches++;
			print "EXAMPLE $what[$i]\n  $who: "
			  . (defined $val ? show($val) : 'none') . "\n  documented: "
			  . (defined $want ? show($want) : 'none') . "\n";
		}
	}
	printf "tag_fuzz: %d examples, %d checks\n", scalar(@EXAMPLES), scalar(@commands) * 2;
}

examples();
do { batch($cases) } while ($seconds > 0 && time() - $start < $seconds);

my ($user, $system, $child_user, $child_system) = times;
printf "tag_fuzz: %d cases, %d checks, %d mismatches, seed %d, %.1f s (%.1f s CPU)\n",
  $total_cases, $checks, $mismatches, $seed, time() - $start,
  $user + $system + $child_user + $child_system;
printf "tag_fuzz: %d comment checks (%d statements read at 2 locations, the "
  . "rest whole strings): %d passed the quick test, %d gave a tag\n",
  $comment_checks, ($comment_checks - $total_cases) / 2, $maybes, $tags_found;
exit($mismatches ? 1 : 0);
