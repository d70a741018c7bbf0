# TagReference.pm - the tag grammar of postgres_extension, written a second
# time, plainly, from the README's rules: the reference that the fuzzer
# (tag_fuzz.pl) holds src/tag.c to.
#
# It lexes the whole query string from its start (src/tag.c lexes only
# around the statement and looks back for a ';' only when it must), takes
# every rule literally, and favours regular expressions over byte loops.
#
# Encodings: UTF8, SQL_ASCII and LATIN1 (converted to UTF-8 byte by byte,
# or escaped when no transaction allows looking the conversion up).
package TagReference;

use strict;
use warnings;
use Exporter 'import';

our @EXPORT_OK = qw(lex statements comment_tag setting_tag reader_tag
  parse_spec);

my $WS = qr/[ \t\n\r\f\x0b]/;
my $IDENT = qr/[A-Za-z0-9_\$\x80-\xff]/;
my $DOLLAR = qr/\$(?:[A-Za-z_\x80-\xff][A-Za-z_0-9\x80-\xff]*)?\$/;

# The elements of a query string: [kind, start, end], kind one of space,
# semi, block, line, token, error.  Lexing stops at the first error (an
# unterminated comment, string, quoted identifier or dollar quote).
sub lex
{
	my ($text, $scs) = @_;
	my @el;
	pos($text) = 0;
	my $n = length $text;
	while (pos($text) < $n)
	{
		my $s = pos($text);
		my $kind;
		if ($text =~ /\G$WS+/gc) { $kind = 'space' }
		elsif ($text =~ /\G;/gc) { $kind = 'semi' }
		elsif ($text =~ /\G\/\*/gc)
		{
			my $depth = 1;
			while ($depth > 0 && $text =~ /\G.*?(\/\*|\*\/)/gcs)
			{
				$depth += $1 eq '/*' ? 1 : -1;
			}
			$kind = $depth == 0 ? 'block' : 'error';
		}
		elsif ($text =~ /\G--[^\n\r]*/gc) { $kind = 'line' }
		elsif (substr($text, $s, 1) eq "'")
		{
			my $e_string = $s > 0 && substr($text, $s - 1, 1) =~ /[eE]/
			  && ($s == 1 || substr($text, $s - 2, 1) !~ $IDENT);
			my $ok = (!$scs || $e_string)
			  ? $text =~ /\G'(?:[^'\\]|''|\\.)*+'/gcs
			  : $text =~ /\G'(?:[^']|'')*+'/gc;
			$kind = $ok ? 'token' : 'error';
		}
		elsif ($text =~ /\G"(?:[^"]|"")*+"/gc) { $kind = 'token' }
		elsif (substr($text, $s, 1) eq '"') { $kind = 'error' }
		elsif (($s == 0 || substr($text, $s - 1, 1) !~ $IDENT)
			&& $text =~ /\G($DOLLAR)/gc)
		{
			my $close = index($text, $1, pos($text));
			if ($close < 0) { $kind = 'error' }
			else { $kind = 'token'; pos($text) = $close + length $1 }
		}
		else
		{
			# one character, then up to what may start another element
			$text =~ /\G./gcs;
			$text =~ /\G(?:[^ \t\n\r\f\x0b;'"\/\-\$]|\/(?!\*)|-(?!-)
					   |(?<=$IDENT)\$|(?!$DOLLAR)\$)*+/gcx;
			$kind = 'token';
		}
		if ($kind eq 'error')
		{
			push @el, [ 'error', $s, $n ];
			last;
		}
		push @el, [ $kind, $s, pos($text) ];
	}
	return \@el;
}

# The statements PostgreSQL would see in a query string: a list of
# [location up to 17, location from 18, end] (end: the position of its ';',
# undef when it runs to the string's end).  Empty statements are dropped;
# an error ends the list with a statement that runs to the end.
sub statements
{
	my ($text, $scs) = @_;
	my $el = lex($text, $scs);
	my @stmts;
	my $after_semi = 0;
	my $first;
	for my $e (@$el)
	{
		my ($kind, $s, $end) = @$e;
		if ($kind eq 'semi')
		{
			push @stmts, [ $after_semi, $first, $s ] if defined $first;
			$after_semi = $end;
			undef $first;
		}
		elsif ($kind eq 'token' || $kind eq 'error')
		{
			$first //= $s;
		}
	}
	push @stmts, [ $after_semi, $first, undef ] if defined $first;
	return \@stmts;
}

# tag_comment_key: a list of alternatives, each a list of [key, joiner].
# Returns undef if malformed, [] when empty.
sub parse_spec
{
	my ($value) = @_;
	my @alts;
	my $nkeys = 0;
	$value =~ s/^$WS+//;
	return [] if $value eq '';
	pos($value) = 0;
	while (1)
	{
		my @alt;
		my $joiner = '';
		while (1)
		{
			return undef unless $value =~ /\G([A-Za-z0-9_.~-]+)/gc;
			return undef if length($1) > 63 || ++$nkeys > 8;
			push @alt, [ $1, $joiner ];
			last unless $value =~ /\G([#\/:\@+])/gc;
			$joiner = $1;
		}
		push @alts, \@alt;
		$value =~ /\G$WS*/gc;
		return \@alts if pos($value) == length $value;
		return undef unless $value =~ /\G,$WS*/gc;
	}
}

# The pairs of a comment body: a hash key => [raw value, quoted], first
# one of each key; undef if the body is not a list of pairs.
sub parse_body
{
	my ($body) = @_;
	return undef if $body =~ /\/\*/;
	my %values;
	pos($body) = 0;
	while (1)
	{
		$body =~ /\G$WS*/gc;
		return undef
		  unless $body =~ /\G((?:[A-Za-z0-9_.~-]|%[0-9A-Fa-f]{2})+)$WS*([=:])$WS*/gc;
		my ($key, $sep) = ($1, $2);
		$key =~ s/%([0-9A-Fa-f]{2})/chr(hex $1)/ge;
		my ($raw, $quoted);
		if ($sep eq '=')
		{
			return undef unless $body =~ /\G'((?:[^'\\]|\\.)*+)'$WS*/gcs;
			($raw, $quoted) = ($1, 1);
		}
		else
		{
			$body =~ /\G([^,]*)/gc;
			($raw, $quoted) = ($1, 0);
			$raw =~ s/$WS+$//;
		}
		$values{$key} //= [ $raw, $quoted ];
		return \%values if pos($body) == length $body;
		return undef unless $body =~ /\G,/gc;
	}
}

# The bytes a value stands for.
sub decode_value
{
	my ($raw, $quoted) = @_;
	return $raw unless $quoted;
	$raw =~ s/\\(.)/$1/gs;
	$raw =~ s/%%/%/g;
	$raw =~ s/%([0-9A-Fa-f]{2})/chr(hex $1)/ge;
	return $raw;
}

my $UTF8_CHAR = qr/[\x01-\x7f]|[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]
	|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]
	|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}
	|\xf4[\x80-\x8f][\x80-\xbf]{2}/x;

# The units (characters, %XX escapes) of a value in the stored form, or
# undef if it is invalid and $escape is false.
sub stored_units
{
	my ($bytes, $enc, $tx, $escape) = @_;
	my @units;
	$escape = 1 if $enc eq 'SQL_ASCII';
	pos($bytes) = 0;
	while (pos($bytes) < length $bytes)
	{
		if ($enc eq 'LATIN1')
		{
			$bytes =~ /\G(.)/gcs;
			my $b = ord $1;
			if ($b == 0) { return undef unless $escape; push @units, '%00' }
			elsif ($b < 0x80) { push @units, $1 }
			elsif ($tx) { push @units, chr(0xc0 | ($b >> 6)) . chr(0x80 | ($b & 0x3f)) }
			else { push @units, sprintf('%%%02X', $b) }
		}
		elsif ($bytes =~ /\G($UTF8_CHAR)/gc) { push @units, $1 }
		else
		{
			return undef unless $escape;
			$bytes =~ /\G(.)/gcs;
			push @units, sprintf('%%%02X', ord $1);
		}
	}
	return \@units;
}

# The stored tag made of units: all of them if they fit in 63 bytes, else
# the longest prefix of whole units of at most 54 bytes, "~" and the 32-bit
# FNV-1a hash of the whole, in hex.
sub finish_units
{
	my ($units) = @_;
	my $all = join '', @$units;
	return $all if length $all <= 63;
	my $prefix = '';
	for my $u (@$units)
	{
		last if length($prefix) + length($u) > 54;
		$prefix .= $u;
	}
	my $h = 2166136261;
	for my $c (unpack 'C*', $all)
	{
		$h = (($h ^ $c) * 16777619) % 4294967296;
	}
	return $prefix . sprintf('~%08x', $h);
}

# The tag a comment gives, or undef.
sub tag_of_comment
{
	my ($comment, $spec, $enc, $tx) = @_;
	my $values = parse_body(substr($comment, 2, length($comment) - 4));
	return undef unless $values;
	ALT: for my $alt (@$spec)
	{
		my @units;
		for my $i (0 .. $#$alt)
		{
			my ($key, $joiner) = @{ $alt->[$i] };
			next ALT unless $values->{$key};
			my $u = stored_units(decode_value(@{ $values->{$key} }), $enc, $tx, 0);
			next ALT unless $u && @$u;
			push @units, $joiner if $i > 0;
			push @units, @$u;
		}
		return finish_units(\@units);
	}
	return undef;
}

# The tag read from the comments around the statement at [$loc, $loc +
# $len) (len 0: to the end; loc -1: the whole string), or undef.
sub comment_tag
{
	my ($text, $loc, $len, $spec_value, $enc, $scs, $tx) = @_;
	my $spec = parse_spec($spec_value);
	return undef unless $spec && @$spec;
	($loc, $len) = (0, 0) if $loc < 0;
	my $end = $len > 0 ? $loc + $len : length $text;
	my @el = @{ lex($text, $scs) };

	# the statement's first token, and where its leading run starts: after
	# the last ';' or token before it
	my ($first) = grep { $el[$_][1] >= $loc } 0 .. $#el;
	return undef unless defined $first;
	$first++ while $first <= $#el && $el[$first][0] ne 'token'
	  && $el[$first][0] ne 'error' && $el[$first][1] < $end;
	return undef
	  if $first > $#el || $el[$first][0] ne 'token' || $el[$first][1] >= $end;
	my $lead = $first;
	$lead-- while $lead > 0 && $el[ $lead - 1 ][0] !~ /^(semi|token)$/;
	my @leading = @el[ $lead .. $first - 1 ];

	# the trailing run: after the last token up to the end, and on to the
	# string's end if nothing but comments and semicolons follow
	my @in = grep { $el[$_][1] >= $el[$first][1] && $el[$_][2] <= $end } 0 .. $#el;
	my @trailing;
	my $error = grep { $el[$_][0] eq 'error' && $el[$_][1] < $end } $first .. $#el;
	unless ($error)
	{
		my ($last) = grep { $el[$_][0] eq 'token' } reverse @in;
		@trailing = @el[ $last + 1 .. $in[-1] ];
		my @after = grep { $el[$_][1] >= $end } 0 .. $#el;
		if (@after && !grep { $el[$_][0] =~ /^(token|error)$/ } @after)
		{
			push @trailing, @el[@after];
		}
	}

	my @runs;
	my @lead_nonspace = grep { $_->[0] ne 'space' } @leading;
	push @runs, \@leading if @lead_nonspace && $lead_nonspace[0][0] eq 'block';
	my @trail_comments = grep { $_->[0] =~ /^(block|line)$/ } @trailing;
	push @runs, \@trailing
	  if @trail_comments && $trail_comments[-1][0] eq 'block';
	for my $run (@runs)
	{
		for my $e (grep { $_->[0] eq 'block' } @$run)
		{
			my $tag = tag_of_comment(substr($text, $e->[1], $e->[2] - $e->[1]),
				$spec, $enc, $tx);
			return $tag if defined $tag;
		}
	}
	return undef;
}

# The stored form of a value of the tag setting.
sub setting_tag
{
	my ($value, $enc, $tx) = @_;
	return '' if $value eq '';
	return finish_units(stored_units($value, $enc, $tx, 1));
}

# A stored tag as a database of encoding $enc reads it.
sub reader_tag
{
	my ($tag, $enc) = @_;
	return $tag if $enc eq 'SQL_ASCII' || $tag !~ /[\x80-\xff]/;
	my $out = '';
	pos($tag) = 0;
	while (pos($tag) < length $tag)
	{
		if ($tag =~ /\G([\x00-\x7f])/gc) { $out .= $1 }
		elsif ($enc eq 'UTF8' && $tag =~ /\G($UTF8_CHAR)/gc) { $out .= $1 }
		else
		{
			$tag =~ /\G(.)/gcs;
			$out .= sprintf('%%%02X', ord $1);
		}
	}
	return $out;
}

1;
