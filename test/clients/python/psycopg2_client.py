"""psycopg2 (Debian's python3-psycopg2): DB-API transactions that the
driver opens with BEGIN, client-side sleeps inside them, a failing
statement, a savepoint rolled back to, SET LOCAL and comment tags (with
the paramstyle's doubled '%' when the query has parameters), and
autocommit statements.

Run by test/t/070_clients_python.pl; prints its ledger (ledger.py).
"""

import psycopg2
from psycopg2 import errors

from ledger import Ledger, parse_args

args = parse_args(__doc__)
led = Ledger('psycopg2')
main = led.section(args.app)
conn = psycopg2.connect(host=args.host, port=args.port, dbname=args.dbname,
                        user=args.user, application_name=args.app)
cur = conn.cursor()

# order: the tag in a comment, a sleep between the statements
for i in range(3):
    x = main.xact('order')
    cur.execute("SELECT n FROM items WHERE id = %s /*tag='order'*/", (i + 1,))
    x.stmt()
    x.sleep(0.03)
    cur.execute('UPDATE items SET n = n + 1 WHERE id = %s', (i + 1,))
    x.stmt()
    conn.commit()
    x.commit()

# order again: a unique violation, then the client rolls back
x = main.xact('order')
cur.execute("SELECT 1 /*tag='order'*/")
x.stmt()
x.sleep(0.02)
try:
    x.stmt()
    cur.execute("INSERT INTO uniq VALUES ('taken')")
    raise AssertionError('unique violation expected')
except errors.UniqueViolation:
    conn.rollback()
x.rollback()

# stock: SET LOCAL (interpolated by the driver), a savepoint rolled back
# to after an error, then more work and a commit
x = main.xact('stock')
cur.execute('SET LOCAL postgres_extension.tag = %s', ('stock',))
x.stmt()
cur.execute('SAVEPOINT before_insert')
try:
    x.stmt()
    cur.execute("INSERT INTO uniq VALUES ('taken')")
    raise AssertionError('unique violation expected')
except errors.UniqueViolation:
    cur.execute('ROLLBACK TO SAVEPOINT before_insert')
x.sleep(0.05)
cur.execute('UPDATE items SET n = n + 1 WHERE id = 7')
x.stmt()
conn.commit()
x.commit()

# a/b: one route, whether the query has parameters ('%%' in the text,
# which the driver turns into '%') or not ('%' as it is)
x = main.xact('a/b')
cur.execute("SELECT %s::int /*tag='a%%2Fb'*/", (1,))
x.stmt()
conn.commit()
x.commit()
x = main.xact('a/b')
cur.execute("SELECT 1 /*tag='a%2Fb'*/")
x.stmt()
conn.commit()
x.commit()

# untagged block
x = main.xact('')
cur.execute('SELECT count(*) FROM items')
x.stmt()
x.sleep(0.01)
conn.commit()
x.commit()

# ping: autocommit statements
conn.autocommit = True
for i in range(3):
    cur.execute("/*tag='ping'*/ SELECT %s", (i,))
    main.autocommit('ping')
cur.execute("SELECT 1 /*tag='ping'*/; SELECT 2")
main.autocommit('ping', statements=2)
conn.close()

led.dump()
