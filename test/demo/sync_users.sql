-- worker:sync-users: a background job syncing one team's users from the
-- identity provider: one explicit transaction with a batch of writes,
-- tagged with SET LOCAL.
\set team random(1, 50)
BEGIN;
SET LOCAL postgres_extension.tag = 'worker:sync-users';
UPDATE users SET synced_at = now() WHERE team_id = :team;
SELECT count(*) FROM users WHERE synced_at < now() - interval '1 hour';
COMMIT;
\sleep 100 ms
