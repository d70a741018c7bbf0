"""psycopg 3 (Debian's python3-psycopg): transactions with client-side
sleeps, a failing statement, savepoints, autocommit statements tagged by
comments, pipelines of autocommit statements before one Sync,
multi-statement query strings, SET LOCAL tags, and special cases
(housekeeping, tags of every statement and of failed ones, long tags,
malformed comments), each under its own application_name.

Run by test/t/070_clients_python.pl; prints its ledger (ledger.py).
"""

import psycopg
from psycopg import errors, sql

from ledger import Ledger, parse_args

args = parse_args(__doc__)
led = Ledger('psycopg3')


def connect(app):
    # Through PgBouncer in transaction mode (1.18), named prepared
    # statements would land on other server connections: users turn them
    # off, as here.  Directly, psycopg prepares a query from its 5th run.
    return psycopg.connect(
        host=args.host, port=args.port, dbname=args.dbname, user=args.user,
        application_name=app, autocommit=True,
        prepare_threshold=None if args.pooled else 5)


def expect_error(kind, fn):
    """Run fn, which must raise kind (the client's own check)."""
    try:
        fn()
    except kind:
        return
    raise AssertionError('%s expected' % kind.__name__)


#### the main application: everything here is counted right today ####
main = led.section(args.app)
conn = connect(args.app)

# checkout: 6 blocks tagged by SET LOCAL, each idle 20 ms on the client
# between its SELECT and its UPDATE (6 runs: prepared from the 5th)
for i in range(6):
    x = main.xact('checkout')
    with conn.transaction():
        conn.execute("SET LOCAL postgres_extension.tag = 'checkout'")
        x.stmt()
        conn.execute('SELECT n FROM items WHERE id = %s', [i + 1])
        x.stmt()
        x.sleep(0.02)
        conn.execute('UPDATE items SET n = n + 1 WHERE id = %s', [i + 1])
        x.stmt()
    x.commit()

# pay: a block whose INSERT fails (unique violation) after a sleep; the
# transaction context sends ROLLBACK.  After the first, psycopg forgets its
# prepared statements (from the checkout blocks) with an autocommit
# DEALLOCATE ALL.
for i in range(2):
    x = main.xact('pay')
    if i == 1 and not args.pooled:
        main.housekeeping('DEALLOCATE ALL after a failed transaction')

    def failing_block():
        with conn.transaction():
            conn.execute("SELECT n FROM items WHERE id = 1 /*tag='pay'*/")
            x.stmt()
            x.sleep(0.03)
            x.stmt()
            conn.execute("INSERT INTO uniq VALUES ('taken')")

    expect_error(errors.UniqueViolation, failing_block)
    x.rollback()

# refund: savepoints; one released, one rolled back to after an error;
# tagged by a leading comment on the block's first statement
x = main.xact('refund')
with conn.transaction():
    conn.execute("/*tag='refund'*/ SELECT n FROM items WHERE id = 2")
    x.stmt()
    with conn.transaction():            # SAVEPOINT, RELEASE
        conn.execute('UPDATE items SET n = n + 1 WHERE id = 2')
        x.stmt()
    x.sleep(0.04)

    def failing_savepoint():
        with conn.transaction():        # SAVEPOINT, ROLLBACK TO
            x.stmt()
            conn.execute("INSERT INTO uniq VALUES ('taken')")

    expect_error(errors.UniqueViolation, failing_savepoint)
    conn.execute('UPDATE items SET n = n + 1 WHERE id = 3')
    x.stmt()
x.commit()

# health: autocommit statements tagged by a comment at either end, with
# and without parameters, and one that fails while it runs (not folded
# into a constant: items 10 has n = 0)
for text, params in (("/*tag='health'*/ SELECT 1", None),
                     ("SELECT 1 /*tag='health'*/", None),
                     ("SELECT %s::int /*tag='health'*/", [7]),
                     ("SELECT 1 /* tag='health' */;", None)):
    conn.execute(text, params)
    main.autocommit('health')
expect_error(errors.DivisionByZero, lambda: conn.execute(
    "SELECT 1 / n FROM items WHERE id = 10 /*tag='health'*/"))
main.autocommit('health', committed=False)

# batch: pipelines of autocommit statements, one implicit transaction per
# Sync; the tag is on each batch's first statement
with conn.pipeline() as p:
    conn.execute("SELECT 1 /*tag='batch'*/")
    conn.execute('UPDATE items SET n = n + 1 WHERE id = %s', [4])
    conn.execute('SELECT n FROM items WHERE id = %s', [4])
    p.sync()
    main.autocommit('batch', statements=3)
    conn.execute("SELECT 2 /*tag='batch'*/")
    conn.execute('SELECT n FROM items WHERE id = %s', [5])
main.autocommit('batch', statements=2)   # synced when the block ends

# multi: one query string of three statements, one implicit transaction
conn.execute("SELECT 1 /*tag='multi'*/; UPDATE items SET n = n + 1 WHERE id = 6; SELECT 3")
main.autocommit('multi', statements=3)

# untagged: a read-only block and an autocommit statement
x = main.xact('')
with conn.transaction():
    conn.execute('SELECT count(*) FROM items')
    x.stmt()
    x.sleep(0.01)
x.commit()
conn.execute('SELECT 1')
main.autocommit('')
conn.close()

#### housekeeping alone is not a transaction ####
# An implicit transaction made only of SET, RESET, DISCARD, SHOW or
# DEALLOCATE is not counted (pg_stat_transactions_info.housekeeping_xacts
# counts it); a block opened by BEGIN is counted whatever it holds, and so
# is a query string that does anything else.
p1 = led.section(args.app + ':p1')
conn = connect(p1.app)
for text in ('SET search_path = public', 'RESET search_path', 'SHOW timezone',
             'DISCARD PLANS', 'DEALLOCATE ALL',
             'SET search_path = public; SHOW timezone',
             "SET postgres_extension.tag = 'session-tag'"):
    conn.execute(text)
    p1.housekeeping(text)
conn.execute('SELECT 1')
p1.autocommit('session-tag')
conn.execute('RESET postgres_extension.tag')
p1.housekeeping('RESET postgres_extension.tag')
conn.execute('SET search_path = public; SELECT 1')
p1.autocommit('', statements=2)
x = p1.xact('')
with conn.transaction():
    conn.execute("SET LOCAL statement_timeout = '5s'")
    x.stmt()
x.commit()
x = p1.xact('only-set-local')
with conn.transaction():
    conn.execute("SET LOCAL postgres_extension.tag = 'only-set-local'")
    x.stmt()
x.commit()
conn.close()

#### the last tag of a query string or pipeline ####
p3 = led.section(args.app + ':p3')
conn = connect(p3.app)
conn.execute("SELECT 1; SELECT 2 /*tag='second'*/")
p3.autocommit('second', statements=2)
conn.execute("SELECT 1 /*tag='first'*/; SELECT 2 /*tag='last'*/")
p3.autocommit('last', statements=2)
with conn.pipeline():
    conn.execute('SELECT 1')
    conn.execute("SELECT %s::int /*tag='piped'*/", [2])
    conn.execute('SELECT 3')
p3.autocommit('piped', statements=3)
conn.close()

#### statements failing before they run keep their tag ####
p4 = led.section(args.app + ':p4')
conn = connect(p4.app)
conn.execute('SELECT 1')
p4.autocommit('')
for text, kind in (("SELECT * FROM no_such_table /*tag='broken'*/", errors.UndefinedTable),
                   ("SELECT 'x'::int /*tag='broken'*/", errors.InvalidTextRepresentation),
                   ("SELEC 1 /*tag='broken'*/", errors.SyntaxError),
                   ("SELECT 1 / 0 /*tag='broken'*/", errors.DivisionByZero)):
    expect_error(kind, lambda: conn.execute(text))
    p4.autocommit('broken', statements=0, committed=False)
x = p4.xact('broken-block')


def broken_block():
    with conn.transaction():
        conn.execute('SELECT 1')
        x.stmt()
        conn.execute("SELECT no_such_column FROM items /*tag='broken-block'*/")


expect_error(errors.UndefinedColumn, broken_block)
x.rollback()
conn.close()

# A session whose first statement fails in parse analysis: its tag is read
# from the text the core's activity statistics keep, which an extension can
# read from PostgreSQL 14 on; before, that rollback counts under ''.  (Behind
# PgBouncer it is not the server session's first statement: PgBouncer's
# SET application_name comes first.)
p4f = led.section(args.app + ':p4first')
conn = connect(p4f.app)
first_tag = 'broken' if conn.info.server_version >= 140000 or args.pooled else ''
expect_error(errors.UndefinedTable, lambda: conn.execute(
    "SELECT * FROM no_such_table /*tag='broken'*/"))
p4f.autocommit(first_tag, statements=0, committed=False)
conn.close()

#### long tags by SET LOCAL are accepted and distinct ####
# Two ASCII tags that share their first 70 bytes, one of multibyte
# characters; 1, 2 and 3 transactions so that the test can tell them apart.
route = 'GET /api/v2/organizations/:organization_id/projects/:project_id/incidents/'
long_tags = [(route + ':id', 1), (route + ':id/events', 2),
             ('GET /café/' + 'é' * 40, 3)]
p6 = led.section(args.app + ':p6')
conn = connect(p6.app)
for tag, count in long_tags:
    for _ in range(count):
        x = p6.xact(tag)
        try:
            with conn.transaction():
                x.stmt(2)
                conn.execute(sql.SQL('SET LOCAL postgres_extension.tag = {}')
                             .format(sql.Literal(tag)))
                conn.execute('SELECT 1')
        except psycopg.Error as e:
            p6.note('%s: %s' % (type(e).__name__, str(e).splitlines()[0]))
        x.commit()
conn.close()

# ... and by comment (cut today, but the two are not kept apart)
p6c = led.section(args.app + ':p6c')
conn = connect(p6c.app)
for tag, count in long_tags[:2]:
    for _ in range(count):
        conn.execute("SELECT 1 /*tag='%s'*/" % tag.replace(' ', '%20'))
        p6c.autocommit(tag)
conn.close()

#### malformed comments are not tags ####
p8 = led.section(args.app + ':p8')
conn = connect(p8.app)
for text in ('SELECT 1 /*tag="double"*/', "SELECT 1 /*tag='open*/"):
    conn.execute(text)
    p8.autocommit('')
conn.close()

led.dump()
