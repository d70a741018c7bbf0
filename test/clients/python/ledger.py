"""What a client script did, as it counted it itself.

The client scripts under test/clients/python drive a real driver or ORM
against the test server (directly or through PgBouncer) and keep a ledger:
per application_name (a section) and per tag, the transactions they ended,
how (commit or rollback), the top-level statements they sent, whether the
transaction was opened by BEGIN, and how long the client slept inside it.
At the end the ledger is printed as one JSON line, which the TAP test
(test/clients/ClientTest.pm) compares with pg_stat_transactions.

Statements are counted as postgres_extension counts them: every top-level
statement, except BEGIN, COMMIT, ROLLBACK and the savepoint commands.
"""

import argparse
import json
import sys
import time


def parse_args(description, extra=None):
    """Command line of every client script: where to connect and how;
    extra(parser) adds a script's own arguments."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument('--host', required=True)
    p.add_argument('--port', type=int, required=True)
    p.add_argument('--dbname', default='postgres')
    p.add_argument('--user', default='app')
    p.add_argument('--web-user', default='web',
                   help='role whose tag_comment_key is "route"')
    p.add_argument('--app', required=True,
                   help='application_name prefix of this run')
    p.add_argument('--pooled', action='store_true',
                   help='through PgBouncer in transaction mode: no named '
                   'prepared statements')
    if extra:
        extra(p)
    return p.parse_args()


class Xact:
    """One transaction being run: the client updates tag and statements,
    sleeps through sleep(), then ends it with commit() or rollback()."""

    def __init__(self, section, tag, explicit):
        self.section = section
        self.tag = tag
        self.explicit = explicit
        self.statements = 0
        self.slept = 0.0
        self.max_slept = 0.0

    def stmt(self, n=1):
        self.statements += n

    def sleep(self, seconds):
        """Sleep inside the transaction (idle in transaction on the
        server), and count it."""
        start = time.monotonic()
        time.sleep(seconds)
        self.slept_for(time.monotonic() - start)

    def slept_for(self, seconds):
        """Count a sleep, as measured, that the client's code did inside
        the transaction (a view, for example)."""
        self.slept += seconds
        self.max_slept = max(self.max_slept, seconds)

    def commit(self):
        self.section.record(self, True)

    def rollback(self):
        self.section.record(self, False)


class Section:
    """The transactions of one application_name.  todo: the issue point
    whose fix the whole section waits for (its per-tag comparison is a TODO
    test); totals_todo: the same for its totals over all tags."""

    def __init__(self, app, todo=None, totals_todo=None):
        self.app = app
        self.todo = todo
        self.totals_todo = totals_todo
        self.keys = {}
        self.notes = []
        self.housekeeping_xacts = 0

    def xact(self, tag='', explicit=True):
        return Xact(self, tag, explicit)

    def record(self, x, committed):
        k = self.keys.setdefault(x.tag, {
            'xacts': 0, 'commits': 0, 'rollbacks': 0, 'statements': 0,
            'explicit_xacts': 0, 'slept': 0.0, 'max_slept': 0.0})
        k['xacts'] += 1
        k['commits' if committed else 'rollbacks'] += 1
        k['statements'] += x.statements
        k['explicit_xacts'] += 1 if x.explicit else 0
        k['slept'] += x.slept
        k['max_slept'] = max(k['max_slept'], x.max_slept)

    def autocommit(self, tag='', statements=1, committed=True):
        """One implicit transaction (a query string, or a pipeline up to
        its Sync) of that many statements."""
        x = self.xact(tag, explicit=False)
        x.stmt(statements)
        self.record(x, committed)

    def housekeeping(self, what):
        """The driver sent a transaction of session housekeeping alone
        (DEALLOCATE ALL, for example): not a transaction of the
        application; the extension counts it in
        pg_stat_transactions_info.housekeeping_xacts."""
        self.housekeeping_xacts += 1
        self.note('driver housekeeping: ' + what)

    def note(self, text):
        """Something the client saw that the test should show (an error
        that the fixed extension no longer raises, for example)."""
        self.notes.append(text)


class Ledger:
    def __init__(self, client):
        self.client = client
        self.sections = []

    def section(self, app, todo=None, totals_todo=None):
        s = Section(app, todo, totals_todo)
        self.sections.append(s)
        return s

    def dump(self):
        out = {'client': self.client, 'sections': [
            {'app': s.app, 'todo': s.todo, 'totals_todo': s.totals_todo,
             'keys': s.keys, 'notes': s.notes,
             'housekeeping': s.housekeeping_xacts} for s in self.sections]}
        sys.stdout.write('LEDGER ' + json.dumps(out, sort_keys=True) + '\n')
        sys.stdout.flush()
