"""SQLAlchemy 1.4 (Debian's python3-sqlalchemy, on psycopg2): Core
transactions with SET LOCAL tags and client-side sleeps, begin_nested
savepoints (one released, one rolled back after an error), a transaction
whose statement fails, an ORM unit of work, and autocommit statements.
Tags in comments come from a before_cursor_execute hook, as the
sqlcommenter integrations for SQLAlchemy do; the same hook counts the
statements sent (savepoint commands are not statements).

The engine's first connection, on which SQLAlchemy runs its own queries to
learn about the server, uses another application_name ('<app>:init', not
compared); the pool is then emptied and every later connection is the
application's.

Run by test/t/070_clients_python.pl; prints its ledger (ledger.py).
"""
from urllib.parse import quote

import psycopg2
from sqlalchemy import Column, Integer, create_engine, event, exc, text
from sqlalchemy.orm import Session, declarative_base

from ledger import Ledger, parse_args

args = parse_args(__doc__)
led = Ledger('sqlalchemy')
main = led.section(args.app)

app_name = [args.app + ':init']


def creator():
    return psycopg2.connect(host=args.host, port=args.port, dbname=args.dbname,
                            user=args.user, application_name=app_name[0])


engine = create_engine('postgresql+psycopg2://', creator=creator, future=True)
with engine.connect():
    pass
engine.dispose()
app_name[0] = args.app

comment_tag = [None]      # the tag the hook writes, if any
sent = [0]                # statements sent so far
SAVEPOINT_COMMANDS = ('SAVEPOINT', 'RELEASE SAVEPOINT', 'ROLLBACK TO SAVEPOINT')


@event.listens_for(engine, 'before_cursor_execute', retval=True)
def comment_and_count(conn, cursor, statement, parameters, context, executemany):
    if not statement.lstrip().upper().startswith(SAVEPOINT_COMMANDS):
        sent[0] += 1
    if comment_tag[0]:
        statement += " /*tag='%s'*/" % quote(comment_tag[0], safe='')
    return statement, parameters


def counted(x, fn):
    """Run fn, adding the statements it sent to transaction x."""
    before = sent[0]
    try:
        return fn()
    finally:
        x.stmt(sent[0] - before)


Base = declarative_base()


class Item(Base):
    __tablename__ = 'items'
    id = Column(Integer, primary_key=True)
    n = Column(Integer, nullable=False)


# report: SET LOCAL, a sleep between the SELECT and the UPDATE
for i in range(2):
    x = main.xact('report')
    with engine.begin() as conn:
        counted(x, lambda: conn.execute(text("SET LOCAL postgres_extension.tag = 'report'")))
        counted(x, lambda: conn.execute(text('SELECT n FROM items WHERE id = :id'), {'id': 8}))
        x.sleep(0.03)
        counted(x, lambda: conn.execute(text('UPDATE items SET n = n + 1 WHERE id = :id'), {'id': 8}))
    x.commit()

# transfer: comments from the hook; savepoints by begin_nested
comment_tag[0] = 'transfer'
x = main.xact('transfer')
with engine.begin() as conn:
    with conn.begin_nested():
        counted(x, lambda: conn.execute(text('UPDATE items SET n = n + 1 WHERE id = 9')))
    try:
        with conn.begin_nested():
            counted(x, lambda: conn.execute(text("INSERT INTO uniq VALUES ('taken')")))
        raise AssertionError('unique violation expected')
    except exc.IntegrityError:
        pass
    x.sleep(0.02)
    counted(x, lambda: conn.execute(text('SELECT n FROM items WHERE id = 9')))
x.commit()

# transfer again: the statement fails, the block rolls back
x = main.xact('transfer')
try:
    with engine.begin() as conn:
        counted(x, lambda: conn.execute(text('SELECT 1')))
        x.sleep(0.02)
        counted(x, lambda: conn.execute(text("INSERT INTO uniq VALUES ('taken')")))
    raise AssertionError('unique violation expected')
except exc.IntegrityError:
    pass
x.rollback()

# orm: a unit of work (SELECT, then the UPDATE flushed at commit)
comment_tag[0] = 'orm'
x = main.xact('orm')
with Session(engine) as session, session.begin():
    item = counted(x, lambda: session.get(Item, 8))
    x.sleep(0.01)
    item.n += 1
    counted(x, session.flush)
x.commit()

# ping: autocommit statements
comment_tag[0] = 'ping'
with engine.connect().execution_options(isolation_level='AUTOCOMMIT') as conn:
    for i in range(3):
        x = main.xact('ping', explicit=False)
        counted(x, lambda: conn.execute(text('SELECT :i'), {'i': i}))
        x.commit()
engine.dispose()

led.dump()
