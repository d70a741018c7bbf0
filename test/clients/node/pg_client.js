// node-postgres ("pg"): blocks opened with BEGIN by the client, SET LOCAL
// and comment tags, client-side sleeps inside blocks, a failing statement,
// a savepoint rolled back to, named prepared statements (plain ones
// through PgBouncer, whose 1.18 cannot keep them), multi-statement query
// strings, and, under their own application_name, comments after the
// trailing ';'.
//
// Run by test/t/071_clients_node.pl; prints its ledger (ledger.js).
'use strict';
const { Client } = require('pg');
const { Ledger, parseArgs, expectError, run } = require('./ledger');

const args = parseArgs();
const led = new Ledger('pg');

async function connect(app) {
  const c = new Client({
    host: args.host, port: args.port, database: args.dbname, user: args.user,
    application_name: app,
  });
  await c.connect();
  return c;
}

run(async () => {
  const main = led.section(args.app);
  let c = await connect(args.app);

  // checkout: SET LOCAL, parameters (extended protocol), a sleep
  for (let i = 1; i <= 3; i++) {
    const x = main.xact('checkout');
    await c.query('BEGIN');
    await c.query("SET LOCAL postgres_extension.tag = 'checkout'");
    x.stmt();
    await c.query('SELECT n FROM items WHERE id = $1', [i]);
    x.stmt();
    await x.sleep(20);
    await c.query('UPDATE items SET n = n + 1 WHERE id = $1', [i]);
    x.stmt();
    await c.query('COMMIT');
    x.commit();
  }

  // lookup: a named prepared statement carrying its tag, run 4 times
  for (let i = 1; i <= 4; i++) {
    const text = "SELECT n FROM items WHERE id = $1 /*tag='lookup'*/";
    await c.query(args.pooled ? { text, values: [i] } : { name: 'lookup', text, values: [i] });
    main.autocommit('lookup');
  }

  // pay: the INSERT fails after a sleep; the client rolls back
  for (let i = 0; i < 2; i++) {
    const x = main.xact('pay');
    await c.query('BEGIN');
    await c.query("SELECT 1 /*tag='pay'*/");
    x.stmt();
    await x.sleep(30);
    x.stmt();
    await expectError('23505', c.query("INSERT INTO uniq VALUES ('taken')"));
    await c.query('ROLLBACK');
    x.rollback();
  }

  // refund: a savepoint rolled back to after an error, then more work
  {
    const x = main.xact('refund');
    await c.query('BEGIN');
    await c.query("/*tag='refund'*/ SELECT n FROM items WHERE id = $1", [2]);
    x.stmt();
    await c.query('SAVEPOINT s1');
    x.stmt();
    await expectError('23505', c.query('INSERT INTO uniq VALUES ($1)', ['taken']));
    await c.query('ROLLBACK TO SAVEPOINT s1');
    await x.sleep(40);
    await c.query('UPDATE items SET n = n + 1 WHERE id = 2');
    x.stmt();
    await c.query('COMMIT');
    x.commit();
  }

  // multi: one simple query string of three statements
  await c.query("SELECT 1 /*tag='multi'*/; UPDATE items SET n = n + 1 WHERE id = 3; SELECT 3");
  main.autocommit('multi', 3);

  // untagged
  await c.query('SELECT 1');
  main.autocommit('');
  await c.end();

  // the comment after the statement's trailing ';'
  const p2 = led.section(`${args.app}:p2`);
  c = await connect(p2.app);
  await c.query("SELECT 1; /*tag='semi'*/");
  p2.autocommit('semi');
  await c.query("SELECT $1::int; /*tag='semi'*/", [2]);
  p2.autocommit('semi');
  await c.end();

  led.dump();
});
