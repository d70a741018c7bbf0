// Postgres.js (the "postgres" package): its pipelining (queries sent
// back to back on one connection, each with its own Sync, so each its own
// implicit transaction), sql.begin() blocks, one of them pipelined, with
// client-side sleeps, savepoints, a failing statement, and a
// multi-statement simple query (sql.unsafe).  Named prepared statements
// are its default; through PgBouncer (1.18) they are turned off.
//
// Run by test/t/071_clients_node.pl; prints its ledger (ledger.js).
'use strict';
const postgres = require('postgres');
const { Ledger, parseArgs, expectError, run } = require('./ledger');

const args = parseArgs();
const led = new Ledger('postgres');

run(async () => {
  const main = led.section(args.app);
  const sql = postgres({
    host: args.host, port: args.port, database: args.dbname, username: args.user,
    connection: { application_name: args.app },
    max: 1,                   // one connection: the queries below pipeline on it
    prepare: !args.pooled,
    fetch_types: false,       // no query of its own at connection time
    onnotice: () => {},
  });

  // fanout: 6 autocommit queries pipelined on the connection
  await Promise.all([1, 2, 3, 4, 5, 6].map((i) => sql`SELECT n FROM items WHERE id = ${i} /*tag='fanout'*/`));
  for (let i = 0; i < 6; i++) main.autocommit('fanout');

  // ship: blocks with a sleep between two statements
  for (let i = 0; i < 2; i++) {
    const x = main.xact('ship');
    await sql.begin(async (sql) => {
      await sql`SELECT n FROM items WHERE id = ${7} /*tag='ship'*/`;
      x.stmt();
      await x.sleep(25);
      await sql`UPDATE items SET n = n + 1 WHERE id = ${7}`;
      x.stmt();
    });
    x.commit();
  }

  // batch: a block whose statements are pipelined (an array returned)
  {
    const x = main.xact('batch');
    await sql.begin((sql) => [
      sql.unsafe("SET LOCAL postgres_extension.tag = 'batch'"),
      sql`UPDATE items SET n = n + 1 WHERE id = ${8}`,
      sql`SELECT n FROM items WHERE id = ${8}`,
    ]);
    x.stmt(3);
    x.commit();
  }

  // ship: savepoints, one released and one rolled back after an error
  {
    const x = main.xact('ship');
    await sql.begin(async (sql) => {
      await sql`SELECT 1 /*tag='ship'*/`;
      x.stmt();
      await sql.savepoint(async (sp) => {
        await sp`UPDATE items SET n = n + 1 WHERE id = ${9}`;
        x.stmt();
      });
      x.stmt();
      await expectError('23505', sql.savepoint((sp) => sp`INSERT INTO uniq VALUES ('taken')`));
      await x.sleep(20);
      await sql`SELECT n FROM items WHERE id = ${9}`;
      x.stmt();
    });
    x.commit();
  }

  // ship: a block whose INSERT fails; sql.begin sends ROLLBACK
  {
    const x = main.xact('ship');
    await expectError('23505', sql.begin(async (sql) => {
      await sql`SELECT 1 /*tag='ship'*/`;
      x.stmt();
      await x.sleep(15);
      x.stmt();
      await sql`INSERT INTO uniq VALUES ('taken')`;
    }));
    x.rollback();
  }

  // multi: a simple query string of two statements
  await sql.unsafe("SELECT 1 /*tag='multi'*/; SELECT 2");
  main.autocommit('multi', 2);

  // untagged
  await sql`SELECT 1`;
  main.autocommit('');
  await sql.end();
  led.dump();
});
