// What a node client script did, as it counted it itself: the same ledger
// as test/clients/python/ledger.py (see there), printed as one JSON line
// "LEDGER {...}" for test/clients/ClientTest.pm.
//
// Statements are counted as postgres_extension counts them: every
// top-level statement, except BEGIN, COMMIT, ROLLBACK and the savepoint
// commands.
'use strict';

// --host H --port N --app A [--dbname D] [--user U] [--web-user W] [--pooled]
function parseArgs() {
  const args = { dbname: 'postgres', user: 'app', webUser: 'web', pooled: false };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].replace(/^--/, '').replace(/-(.)/g, (m, c) => c.toUpperCase());
    if (name === 'pooled') args.pooled = true;
    else args[name] = argv[++i];
  }
  for (const required of ['host', 'port', 'app'])
    if (args[required] === undefined) throw new Error(`--${required} is required`);
  args.port = Number(args.port);
  return args;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class Xact {
  constructor(section, tag, explicit) {
    Object.assign(this, { section, tag, explicit, statements: 0, slept: 0, maxSlept: 0 });
  }

  stmt(n = 1) {
    this.statements += n;
  }

  // Sleep inside the transaction (idle in transaction on the server), and
  // count the time it took as measured: a timer can fire a little early
  // (libuv counts from the loop's cached clock).
  async sleep(ms) {
    const start = process.hrtime.bigint();
    await sleep(ms);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    this.slept += seconds;
    this.maxSlept = Math.max(this.maxSlept, seconds);
  }

  commit() {
    this.section.record(this, true);
  }

  rollback() {
    this.section.record(this, false);
  }
}

// The transactions of one application_name; todo: the issue point whose fix
// its per-tag comparison waits for; totalsTodo: the same for its totals.
class Section {
  constructor(app, todo = null, totalsTodo = null) {
    Object.assign(this, { app, todo, totalsTodo, keys: {}, notes: [], housekeeping: 0 });
  }

  xact(tag = '', explicit = true) {
    return new Xact(this, tag, explicit);
  }

  record(x, committed) {
    const k = this.keys[x.tag] || (this.keys[x.tag] = {
      xacts: 0, commits: 0, rollbacks: 0, statements: 0, explicit_xacts: 0,
      slept: 0, max_slept: 0,
    });
    k.xacts += 1;
    k[committed ? 'commits' : 'rollbacks'] += 1;
    k.statements += x.statements;
    k.explicit_xacts += x.explicit ? 1 : 0;
    k.slept += x.slept;
    k.max_slept = Math.max(k.max_slept, x.maxSlept);
  }

  // One implicit transaction (a query string, or the statements up to a
  // Sync) of that many statements.
  autocommit(tag = '', statements = 1, committed = true) {
    const x = this.xact(tag, false);
    x.stmt(statements);
    this.record(x, committed);
  }

  note(text) {
    this.notes.push(text);
  }
}

class Ledger {
  constructor(client) {
    this.client = client;
    this.sections = [];
  }

  section(app, todo = null, totalsTodo = null) {
    const s = new Section(app, todo, totalsTodo);
    this.sections.push(s);
    return s;
  }

  dump() {
    const out = {
      client: this.client,
      sections: this.sections.map((s) => ({
        app: s.app, todo: s.todo, totals_todo: s.totalsTodo, keys: s.keys,
        notes: s.notes, housekeeping: s.housekeeping,
      })),
    };
    process.stdout.write(`LEDGER ${JSON.stringify(out)}\n`);
  }
}

// Await promise, which must reject with SQLSTATE code (the client's own
// check).
async function expectError(code, promise) {
  try {
    await promise;
  } catch (e) {
    if (e.code === code) return e;
    throw e;
  }
  throw new Error(`error ${code} expected`);
}

// Run main, print nothing more and exit 1 if it fails.
function run(main) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

module.exports = { Ledger, parseArgs, sleep, expectError, run };
