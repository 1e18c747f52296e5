-- 16_tenancy_usage.sql — metering: API calls per month (sharded counters)
-- and storage of a tenant's rows, the limits on them, and tenant_stats.

-- Counts one API call of a tenant, refusing it (TB002, HTTP 429) once the
-- month's limit is reached. In C (meter.c): the count goes to a counter in
-- shared memory, and the database's background worker (worker.c) adds the
-- committed counts to tenancy.api_usage every second and when the server
-- stops, so a call writes nothing itself. The limit check reads the table
-- plus the counters, and a running transaction's count is seen by the others
-- (concurrent calls cannot pass the limit together); a rolled-back call is
-- not counted. A crash loses at most the last second's counts and never
-- counts one twice. Until the worker runs (the first calls of a database)
-- the count is written at once, on the backend's shard (its pid picks one
-- of BF_USAGE_SHARDS, meter.c).
-- The lookups run as backend_definer; EXECUTE is the caller's privilege.
CREATE FUNCTION tenancy.count_api_call(p_tenant uuid) RETURNS bigint
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'bf_count_api_call';
COMMENT ON FUNCTION tenancy.count_api_call(uuid) IS 'Counts one API call of a tenant this month (in shared memory, written to tenancy.api_usage every second by the extension''s worker); returns the month''s calls including it; TB002 (HTTP 429) when the plan''s monthly limit is reached.';
REVOKE ALL ON FUNCTION tenancy.count_api_call(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.count_api_call(uuid) TO backend_gateway, backend_admin;

-- This month's calls of a tenant: those written to tenancy.api_usage plus
-- the committed ones the worker has not written yet.
CREATE FUNCTION tenancy.api_calls_this_month(p_tenant uuid) RETURNS bigint
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'bf_api_calls_this_month';
COMMENT ON FUNCTION tenancy.api_calls_this_month(uuid) IS 'API calls of a tenant this month (UTC): written to tenancy.api_usage plus counted in shared memory and not written yet (platform operators; tenant_stats for the tenant''s admins).';
REVOKE ALL ON FUNCTION tenancy.api_calls_this_month(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.api_calls_this_month(uuid) TO backend_admin;

-- Bytes of a tenant's rows over every registered tenant table; stored as the
-- month's measurement.
CREATE FUNCTION tenancy.measure_storage(p_tenant uuid) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  tbl regclass;
  part bigint;
  total bigint := 0;
  m date := tenancy._month_start();
BEGIN
  -- Entries whose table is gone (dropped since) are skipped and removed.
  DELETE FROM tenancy.tenant_tables t
   WHERE NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.table_name AND c.relkind IN ('r', 'p'));
  FOR tbl IN SELECT table_name FROM tenancy.tenant_tables ORDER BY table_name::text LOOP
    EXECUTE format('SELECT coalesce(sum(pg_column_size(x.*)), 0) FROM %s x WHERE x.tenant_id = $1', tbl)
      INTO part USING p_tenant;
    total := total + part;
  END LOOP;
  INSERT INTO tenancy.storage_usage AS s (tenant_id, month, bytes, measured_at) VALUES (p_tenant, m, total, now())
  ON CONFLICT (tenant_id, month) DO UPDATE SET bytes = excluded.bytes, measured_at = excluded.measured_at;
  RETURN total;
END $$;
COMMENT ON FUNCTION tenancy.measure_storage(uuid) IS 'Measures the bytes of a tenant''s rows in all tenant tables and records them for the month.';
REVOKE ALL ON FUNCTION tenancy.measure_storage(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.measure_storage(uuid) TO backend_admin;

-- Trigger of enabled application tables: refuses a new row that would take
-- the tenant past its storage limit (TB001). The month's measurement is
-- taken again when older than a minute and otherwise advanced by each new
-- row's size, so the check is cheap; deletes and updates are seen at the
-- next measurement, so the limit is exact to within a minute of changes.
-- The counter row serialises concurrent inserts of one tenant until commit.
CREATE FUNCTION tenancy._check_storage() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  lim bigint;
  used bigint;
  m date := tenancy._month_start();
  row_bytes bigint := pg_column_size(NEW);
BEGIN
  SELECT max_storage_bytes INTO lim FROM tenancy.tenant_limits(NEW.tenant_id);
  IF lim IS NULL THEN RETURN NEW; END IF;
  UPDATE tenancy.storage_usage SET bytes = bytes + row_bytes
   WHERE tenant_id = NEW.tenant_id AND month = m AND measured_at > now() - interval '1 minute'
  RETURNING bytes INTO used;
  IF used IS NULL THEN
    used := tenancy.measure_storage(NEW.tenant_id) + row_bytes;
    UPDATE tenancy.storage_usage SET bytes = used WHERE tenant_id = NEW.tenant_id AND month = m;
  END IF;
  IF used > lim THEN PERFORM tenancy._raise_limit('bytes of storage', lim); END IF;
  RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION tenancy._check_storage() FROM PUBLIC;
COMMENT ON FUNCTION tenancy._check_storage() IS 'Trigger: TB001 when a new row would take the tenant past its storage limit (measurement at most a minute old, advanced by each insert).';

CREATE FUNCTION tenancy._month_start() RETURNS date
LANGUAGE sql STABLE AS $$
  SELECT date_trunc('month', now() AT TIME ZONE 'UTC')::date
$$;
COMMENT ON FUNCTION tenancy._month_start() IS 'Internal: first day of the current UTC month.';

-- Users, API calls this month and storage, each against its limit.
CREATE FUNCTION tenancy.tenant_stats(p_id uuid DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t uuid := coalesce(p_id, tenancy.current_tenant_id());
  l record;
  m date := tenancy._month_start();
BEGIN
  IF t IS NULL OR NOT (tenancy.is_platform_admin()
                       OR (t = tenancy.current_tenant_id() AND tenancy.is_tenant_admin())) THEN
    PERFORM tenancy._tenant_not_found();
  END IF;
  SELECT * INTO l FROM tenancy.tenant_limits(t);
  IF NOT FOUND THEN PERFORM tenancy._tenant_not_found(); END IF;
  RETURN jsonb_build_object(
    'tenant_id', t,
    'plan', (SELECT plan FROM tenancy.tenants WHERE id = t),
    'month', to_char(m, 'YYYY-MM'),
    'users', jsonb_build_object('used', (SELECT count(*) FROM tenancy.users WHERE tenant_id = t), 'limit', l.max_users),
    'api_calls', jsonb_build_object('used', tenancy.api_calls_this_month(t), 'limit', l.max_api_calls_per_month),
    'storage_bytes', jsonb_build_object('used', tenancy.measure_storage(t), 'limit', l.max_storage_bytes));
END $$;
REVOKE ALL ON FUNCTION tenancy.tenant_stats(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.tenant_stats(uuid) TO backend_gateway, backend_app, backend_admin;
COMMENT ON FUNCTION tenancy.tenant_stats(uuid) IS 'Usage of a tenant against its limits: users, API calls this month, storage bytes (admins and owners of the tenant, or backend_admin). Limit null = unlimited.';
