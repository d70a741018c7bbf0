-- Schema and data of the demo application (an incident tracker), shared by
-- test/demo.sh and test/t/060_demo.pl.  About 2 s to load.
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE EXTENSION IF NOT EXISTS postgres_extension;

CREATE TABLE teams (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO teams SELECT g, 'team ' || g FROM generate_series(1, 50) g;

CREATE TABLE users (
    id int PRIMARY KEY,
    team_id int NOT NULL REFERENCES teams,
    email text NOT NULL,
    synced_at timestamptz
);
INSERT INTO users SELECT g, 1 + g % 50, 'user' || g || '@example.com', now()
  FROM generate_series(1, 5000) g;

-- No index on team_id: the list page scans the table (a few ms).
CREATE TABLE incidents (
    id bigint PRIMARY KEY,
    team_id int NOT NULL,
    status text NOT NULL,
    severity int NOT NULL,
    created_at timestamptz NOT NULL,
    title text NOT NULL
);
INSERT INTO incidents
SELECT g, 1 + g % 50, (ARRAY['open', 'acknowledged', 'resolved'])[1 + g % 3],
       1 + g % 4, now() - g * interval '1 minute', 'incident #' || g
  FROM generate_series(1, 200000) g;

CREATE TABLE incident_events (
    id bigserial PRIMARY KEY,
    incident_id bigint NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    body text NOT NULL
);
INSERT INTO incident_events (incident_id, at, body)
SELECT 1 + g % 200000, now() - g * interval '10 seconds', 'event ' || g
  FROM generate_series(1, 400000) g;
CREATE INDEX ON incident_events (incident_id);

CREATE TABLE slack_modals (
    id bigserial PRIMARY KEY,
    incident_id bigint NOT NULL,
    user_id int NOT NULL,
    opened_at timestamptz NOT NULL DEFAULT now()
);

VACUUM ANALYZE;
