# Real node clients, directly and through PgBouncer in transaction mode:
# node-postgres "pg" (plain, parameterized and named prepared statements),
# Postgres.js "postgres" (its pipelining, blocks, savepoints) and knex with
# @google-cloud/sqlcommenter-knex (comments keyed "route").  Each client
# script counts what it did (test/clients/node/ledger.js);
# pg_stat_transactions must show exactly that per application_name and
# tag, and at least the time the client slept inside its transactions as
# idle time.  Comments after a raw query's ';' run under their own
# application_name.  The node modules are those of test/clients/node/package-lock.json, installed
# by test/clients/install.sh outside the tree; when they are missing the
# clients are skipped, saying so.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../clients";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ClientTest;

my ($node_modules, $no_node) = node_missing();
plan skip_all => "node clients: $no_node" if $no_node;

my $node = client_node('clients_node');
my $no_pgbouncer = pgbouncer_missing();
my $pgb = $no_pgbouncer ? undef : start_pgbouncer($node);

for my $name (qw(pg postgres knex))
{
	for my $pooled (0, 1)
	{
		my $app = $pooled ? "$name/pgbouncer" : $name;
		subtest $app => sub {
			plan skip_all => "PgBouncer: $no_pgbouncer" if $pooled && $no_pgbouncer;
			my @where = $pooled
			  ? ('--host', '127.0.0.1', '--port', $pgb->{port}, '--pooled')
			  : ('--host', $node->host, '--port', $node->port);
			my $ledger = run_client($app,
				[ 'node', "$CLIENTS/node/${name}_client.js", @where, '--app', $app ],
				{ NODE_PATH => $node_modules });
			check_ledger($node, $ledger, $pooled) if $ledger;
		};
	}
}

stop_pgbouncer($pgb);
$node->stop;
done_testing();
