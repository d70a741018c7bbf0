"""Scenarios of test/t/072_pgbouncer.pl, run with psycopg 3 through
PgBouncer in pool_mode = transaction with one or two server connections.

housekeeping: two applications take turns on one server connection, so
  that PgBouncer sends SET application_name before each transaction; the
  ledger has their own transactions only (PgBouncer's SET is housekeeping).
checks: the same with blocks, on a PgBouncer that checks a server
  connection (server_check_query) before each reuse.
leak: one client sets postgres_extension.tag for its session (not SET
  LOCAL); two other applications then run 10 blocks each, both open at
  once, on the pool's two server connections.  The test counts how many of
  their blocks carry the tag they never set.
"""
import psycopg

from ledger import Ledger, parse_args

args = parse_args(__doc__, lambda p: p.add_argument(
    'scenario', choices=['housekeeping', 'checks', 'leak']))


def connect(app):
    return psycopg.connect(host=args.host, port=args.port, dbname=args.dbname,
                           user=args.user, application_name=app,
                           autocommit=True, prepare_threshold=None)


led = Ledger('pooler-' + args.scenario)
if args.scenario == 'housekeeping':
    a_sec = led.section(args.app + '-a')
    b_sec = led.section(args.app + '-b')
    a, b = connect(a_sec.app), connect(b_sec.app)
    for i in range(5):
        a.execute("SELECT %s::int /*tag='a'*/", [i])
        a_sec.autocommit('a')
        x = b_sec.xact('b')
        with b.transaction():
            b.execute("SELECT %s::int /*tag='b'*/", [i])
            x.stmt()
        x.commit()
elif args.scenario == 'checks':
    secs = [led.section(args.app + '-a'), led.section(args.app + '-b')]
    conns = [connect(s.app) for s in secs]
    for i in range(10):
        sec, conn = secs[i % 2], conns[i % 2]
        x = sec.xact(sec.app[-1])
        with conn.transaction():
            conn.execute("SELECT 1 /*tag='%s'*/" % x.tag)
            x.stmt()
        x.commit()
else:
    leaky = connect(args.app + '-leaky')
    leaky.execute("SET postgres_extension.tag = 'leaky'")
    v1, v2 = connect(args.app + '-victim-1'), connect(args.app + '-victim-2')
    for i in range(10):
        v1.execute('BEGIN')
        v2.execute('BEGIN')
        v1.execute('SELECT 1')
        v2.execute('SELECT 2')
        v1.execute('COMMIT')
        v2.execute('COMMIT')
    for c in (leaky, v1, v2):
        c.close()
led.dump()
