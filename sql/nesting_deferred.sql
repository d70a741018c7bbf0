--
-- A deferred trigger fired by COMMIT whose PL/pgSQL function catches an
-- error (an EXCEPTION block) and loops over a query: no portal is active
-- there, but the cursor of the loop opens one.  Uses the objects of
-- nesting.sql.
--
-- Not run on servers built with --enable-cassert (see the Makefile): there
-- the EXCEPTION block trips a core assertion in
-- RollbackAndReleaseCurrentSubTransaction (the parent transaction is in
-- TBLOCK_END at commit), with or without this extension loaded.
--
SET application_name = 'n_deferred';
BEGIN;
INSERT INTO n_t VALUES (1);
COMMIT;
INSERT INTO n_t VALUES (2);
SELECT 4;

SET application_name = 'reader';
SELECT * FROM n_counts WHERE app = 'n_deferred';
