# Real Python clients, directly and through PgBouncer in transaction mode:
# psycopg 3 (pipelines, savepoints, multi-statement strings, SET LOCAL and
# comment tags), psycopg2, Django 3.2 with a sqlcommenter middleware, and
# SQLAlchemy 1.4 (begin_nested savepoints).  Each client script counts what
# it did (test/clients/python/ledger.py); pg_stat_transactions must show
# exactly that per application_name and tag, and at least the time the
# client slept inside its transactions as idle time.  Special cases
# (housekeeping, tags of every statement and of failed ones, long tags,
# malformed comments, Django's '%%') run under their own application_name.
# A client whose Debian package is missing is skipped, with the package
# named.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../clients";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ClientTest;

my $node = client_node('clients_python');
my $no_pgbouncer = pgbouncer_missing();
my $pgb = $no_pgbouncer ? undef : start_pgbouncer($node);

my @clients = (
	[ 'psycopg3', 'psycopg3_client.py', { psycopg => 'python3-psycopg' } ],
	[ 'psycopg2', 'psycopg2_client.py', { psycopg2 => 'python3-psycopg2' } ],
	[ 'django', 'django_client.py',
		{ django => 'python3-django', psycopg2 => 'python3-psycopg2' } ],
	[ 'sqlalchemy', 'sqlalchemy_client.py',
		{ sqlalchemy => 'python3-sqlalchemy', psycopg2 => 'python3-psycopg2' } ],
);

for my $c (@clients)
{
	my ($name, $script, $modules) = @$c;
	my $missing = python_missing(%$modules);
	for my $pooled (0, 1)
	{
		my $app = $pooled ? "$name/pgbouncer" : $name;
		subtest $app => sub {
			plan skip_all => "$name: $missing" if $missing;
			plan skip_all => "PgBouncer: $no_pgbouncer" if $pooled && $no_pgbouncer;
			my @where = $pooled
			  ? ('--host', '127.0.0.1', '--port', $pgb->{port}, '--pooled')
			  : ('--host', $node->host, '--port', $node->port);
			my $ledger = run_client($app,
				[ $PYTHON, "$CLIENTS/python/$script", @where, '--app', $app ],
				{ PYTHONDONTWRITEBYTECODE => 1 });
			check_ledger($node, $ledger, $pooled) if $ledger;
		};
	}
}

stop_pgbouncer($pgb);
$node->stop;
done_testing();
