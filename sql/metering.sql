-- Metering without a write per request (issue 11, item 3): tenancy.count_api_call
-- counts in shared memory; the extension's worker of this database writes the
-- committed counts to tenancy.api_usage every second. The limit check sees
-- written + counted calls; a rolled-back call is not counted.
-- (kill -9 and the purge interval: test/sh/meter.sh, on a cluster of its own.)
\set VERBOSITY terse
SELECT tenant_id AS m FROM tenancy.register_tenant('meter-a', 'Meter A', 'owner@meter-a.test', 'password123') \gset
SELECT tenancy.set_limit_overrides(:'m', '{"max_api_calls_per_month": 5}');
CREATE FUNCTION pg_temp.written_calls(t uuid) RETURNS bigint LANGUAGE sql AS
  'SELECT coalesce(sum(calls), 0) FROM tenancy.api_usage WHERE tenant_id = t';
-- Waits (at most 10 s) until the worker has written every counted call.
CREATE FUNCTION pg_temp.flushed(t uuid) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..100 LOOP
    IF tenancy.api_calls_this_month(t) = pg_temp.written_calls(t) THEN RETURN true; END IF;
    PERFORM pg_sleep(0.1);
  END LOOP;
  RETURN false;
END $$;
-- The first metered call of a database starts its worker.
SELECT tenancy.count_api_call(:'m') AS first;
DO $$ BEGIN
  FOR i IN 1..100 LOOP
    EXIT WHEN EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'backend_framework worker' AND datname = current_database());
    PERFORM pg_sleep(0.1);
    PERFORM pg_stat_clear_snapshot();   -- pg_stat_activity is read once per transaction otherwise
  END LOOP;
END $$;
SELECT count(*) AS workers FROM pg_stat_activity WHERE backend_type = 'backend_framework worker' AND datname = current_database();
-- Counted at once, written within a second by the worker.
SELECT tenancy.count_api_call(:'m') AS second, tenancy.count_api_call(:'m') AS third;
SELECT tenancy.api_calls_this_month(:'m') AS counted;
SELECT pg_temp.flushed(:'m'), pg_temp.written_calls(:'m') AS written;
-- A call of a transaction that rolls back is not counted; while it runs it is.
BEGIN;
SELECT tenancy.count_api_call(:'m') AS in_transaction;
SELECT tenancy.api_calls_this_month(:'m') AS seen_by_its_transaction;
ROLLBACK;
SELECT tenancy.api_calls_this_month(:'m') AS after_rollback;
-- Nor a call in a subtransaction that rolls back (the handler's, in api.handle_request).
BEGIN;
SAVEPOINT handler;
SELECT tenancy.count_api_call(:'m') AS in_savepoint;
ROLLBACK TO SAVEPOINT handler;
SELECT tenancy.count_api_call(:'m') AS fourth;
COMMIT;
SELECT tenancy.api_calls_this_month(:'m') AS counted;
-- The limit at its boundary: the fifth call passes, the sixth is refused
-- (TB002), whether the earlier calls are written yet or not.
SELECT tenancy.count_api_call(:'m') AS fifth;
SELECT tenancy.count_api_call(:'m') AS sixth;
SELECT pg_temp.flushed(:'m'), pg_temp.written_calls(:'m') AS written;
SELECT tenancy.count_api_call(:'m') AS sixth_after_write;
-- Calls of one transaction count against the limit before it commits.
SELECT tenancy.set_limit_overrides(:'m', '{"max_api_calls_per_month": 7}');
BEGIN;
SELECT tenancy.count_api_call(:'m') AS sixth;
SELECT tenancy.count_api_call(:'m') AS seventh;
SELECT tenancy.count_api_call(:'m') AS eighth;
ROLLBACK;
SELECT tenancy.api_calls_this_month(:'m') AS counted;
-- tenant_stats reports the same figure.
SELECT tenancy.tenant_stats(:'m') -> 'api_calls' AS stats;
-- Only operators read the figure of any tenant; the gateway and applications do not.
SET ROLE backend_gateway;
SELECT tenancy.api_calls_this_month(:'m');
RESET ROLE;
SELECT tenancy.delete_tenant(:'m');
