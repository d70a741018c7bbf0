// knex 3 on pg, with @google-cloud/sqlcommenter-knex: its middleware is
// called as Express would call it, with a request whose route is the tag
// (the role "web" reads the key "route"), and the queries run inside it get
// "/*db_driver='knex%3A3.3.0',route='%2F...'*/" appended.  Builder queries,
// transactions (BEGIN and COMMIT also get the comment, after their ';'),
// nested transactions (savepoints), a failing statement and client-side
// sleeps; raw queries ending with ';', whose comment then follows the ';',
// run under their own application_name.
//
// Run by test/t/071_clients_node.pl; prints its ledger (ledger.js).
'use strict';
const Knex = require('knex');
const sqlcommenter = require('@google-cloud/sqlcommenter-knex');
const { Ledger, parseArgs, expectError, run } = require('./ledger');

const args = parseArgs();
const led = new Ledger('knex');
const middleware = sqlcommenter.wrapMainKnexAsMiddleware(Knex, { db_driver: true, route: true });

function connect(app) {
  return Knex({
    client: 'pg',
    // version given: knex does not ask the server (SELECT version())
    version: '15',
    connection: {
      host: args.host, port: args.port, database: args.dbname, user: args.webUser,
      application_name: app,
    },
    pool: { min: 0, max: 1 },
  });
}

// Handle a request for route as Express would: the middleware, then fn.
function request(route, fn) {
  return new Promise((resolve, reject) => {
    middleware({ route: { path: route } }, {}, () => fn().then(resolve, reject));
  });
}

run(async () => {
  const main = led.section(args.app);
  let knex = connect(args.app);

  // /incidents: autocommit builder queries
  for (let i = 0; i < 3; i++) {
    await request('/incidents', () => knex('incidents').select('id').where('status', 'open'));
    main.autocommit('/incidents');
  }

  // /incidents/ack: a transaction with a sleep between its statements
  for (let i = 0; i < 2; i++) {
    const x = main.xact('/incidents/ack');
    await request('/incidents/ack', () => knex.transaction(async (trx) => {
      await trx('incidents').where({ id: 4 }).first();
      x.stmt();
      await x.sleep(25);
      await trx('incidents').where({ id: 4 }).update({ status: 'acknowledged' });
      x.stmt();
    }));
    x.commit();
  }

  // /incidents/nested: nested transactions (savepoints), one failing
  {
    const x = main.xact('/incidents/nested');
    await request('/incidents/nested', () => knex.transaction(async (trx) => {
      await trx('incidents').where({ id: 1 }).first();
      x.stmt();
      await trx.transaction((t2) => t2('items').where({ id: 5 }).increment('n', 1));
      x.stmt();
      x.stmt();
      await expectError('23505', trx.transaction((t2) => t2('uniq').insert({ k: 'taken' })));
      await x.sleep(20);
      await trx('items').where({ id: 5 }).first();
      x.stmt();
    }));
    x.commit();
  }

  // /incidents/fail: the INSERT fails; knex rolls the transaction back
  {
    const x = main.xact('/incidents/fail');
    await request('/incidents/fail', () => expectError('23505', knex.transaction(async (trx) => {
      await trx('incidents').where({ id: 3 }).first();
      x.stmt();
      await x.sleep(15);
      x.stmt();
      await trx('incidents').insert({ title: 'incident 3' });
    })));
    x.rollback();
  }

  // outside a request: the comment has no route, the key is untagged
  await knex('items').count();
  main.autocommit('');
  await knex.destroy();

  // raw queries ending with ';'
  const p2 = led.section(`${args.app}:p2`);
  knex = connect(p2.app);
  for (let i = 0; i < 2; i++) {
    await request('/raw-semicolon', () => knex.raw('SELECT 1;'));
    p2.autocommit('/raw-semicolon');
  }
  {
    const x = p2.xact('/raw-semicolon/trx');
    await request('/raw-semicolon/trx', () => knex.transaction(async (trx) => {
      await trx.raw('UPDATE items SET n = n + 1 WHERE id = ?;', [6]);
      x.stmt();
    }));
    x.commit();
  }
  await knex.destroy();

  led.dump();
});
