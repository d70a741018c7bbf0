-- GET /incidents: the list page of a team.  Two heavier reads (each scans
-- the incidents table), no explicit transaction; tagged by a sqlcommenter
-- comment.  Then the request renders and returns: no transaction open.
\set team random(1, 50)
SELECT status, severity, count(*) FROM incidents WHERE team_id = :team GROUP BY status, severity /* tag='GET%20%2Fincidents' */;
SELECT id, title, status, created_at FROM incidents WHERE team_id = :team ORDER BY created_at DESC LIMIT 25 /* tag='GET%20%2Fincidents' */;
\sleep 40 ms
