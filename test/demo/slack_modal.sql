-- POST /slack/modal: the culprit.  It opens a transaction it does not need,
-- reads the incident, then calls the Slack API (client-side work, here a
-- \sleep) while the transaction, and so the pooled connection, stays open;
-- then records the modal and commits.  Every statement is fast.
\set incident random(1, 200000)
\set user random(1, 5000)
BEGIN;
SET LOCAL postgres_extension.tag = 'POST /slack/modal';
SELECT i.title, i.status, u.email FROM incidents i, users u WHERE i.id = :incident AND u.id = :user;
\sleep 200 ms
INSERT INTO slack_modals (incident_id, user_id) VALUES (:incident, :user);
COMMIT;
\sleep 20 ms
