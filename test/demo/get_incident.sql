-- GET /incidents/:id: one incident and its timeline, by primary key and
-- index; no explicit transaction; tagged by a sqlcommenter comment.
\set id random(1, 200000)
SELECT id, team_id, title, status, severity, created_at FROM incidents WHERE id = :id /* tag='GET%20%2Fincidents%2F%3Aid' */;
SELECT at, body FROM incident_events WHERE incident_id = :id ORDER BY at DESC LIMIT 50 /* tag='GET%20%2Fincidents%2F%3Aid' */;
\sleep 20 ms
