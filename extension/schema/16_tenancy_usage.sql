-- 16_tenancy_usage.sql — metering: API calls per month (sharded counters)
-- and storage of a tenant's rows, the limits on them, and tenant_stats.

-- Counts one API call of a tenant, refusing it (TB002, HTTP 429) once the
-- month's limit is reached. Each backend writes its own shard
-- (pid mod 16), so concurrent requests of one tenant rarely wait on the
-- same row; the limit check sums the shards. Exactness: concurrent calls
-- may each see the total just under the limit, so it can be exceeded by at
-- most the number of calls in flight at that moment (one per pooled
-- connection); nothing is ever counted twice or lost.
CREATE FUNCTION tenancy.count_api_call(p_tenant uuid) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  m date := tenancy._month_start();
  lim bigint;
  used bigint;
BEGIN
  IF p_tenant IS NULL THEN RETURN NULL; END IF;
  SELECT CASE WHEN t.limit_overrides ? 'max_api_calls_per_month'
              THEN (t.limit_overrides->>'max_api_calls_per_month')::bigint ELSE p.max_api_calls_per_month END
    INTO lim FROM tenancy.tenants t JOIN tenancy.plans p ON p.name = t.plan WHERE t.id = p_tenant;
  IF lim IS NOT NULL THEN
    SELECT coalesce(sum(calls), 0) INTO used FROM tenancy.api_usage WHERE tenant_id = p_tenant AND month = m;
    IF used >= lim THEN
      RAISE EXCEPTION 'monthly API call limit reached' USING ERRCODE = 'TB002',
        DETAIL = format('The tenant''s plan allows %s API calls per month.', lim),
        HINT = 'Upgrade the plan or wait for next month.';
    END IF;
  END IF;
  -- The shard's row exists after its first call of the month: a plain
  -- UPDATE is the common case, cheaper than INSERT ... ON CONFLICT.
  UPDATE tenancy.api_usage SET calls = calls + 1
   WHERE tenant_id = p_tenant AND month = m AND shard = (pg_backend_pid() % 16)::smallint;
  IF NOT FOUND THEN
    INSERT INTO tenancy.api_usage AS u (tenant_id, month, shard, calls)
    VALUES (p_tenant, m, (pg_backend_pid() % 16)::smallint, 1)
    ON CONFLICT (tenant_id, month, shard) DO UPDATE SET calls = u.calls + 1;
  END IF;
  RETURN coalesce(used, 0) + 1;
END $$;
COMMENT ON FUNCTION tenancy.count_api_call(uuid) IS 'Counts one API call of a tenant this month; TB002 (HTTP 429) when the plan''s monthly limit is reached. Exact up to the calls in flight.';
REVOKE ALL ON FUNCTION tenancy.count_api_call(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.count_api_call(uuid) TO backend_gateway, backend_admin;

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
    'api_calls', jsonb_build_object('used', (SELECT coalesce(sum(calls), 0) FROM tenancy.api_usage
                                             WHERE tenant_id = t AND month = m), 'limit', l.max_api_calls_per_month),
    'storage_bytes', jsonb_build_object('used', tenancy.measure_storage(t), 'limit', l.max_storage_bytes));
END $$;
REVOKE ALL ON FUNCTION tenancy.tenant_stats(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.tenant_stats(uuid) TO backend_gateway, backend_app, backend_admin;
COMMENT ON FUNCTION tenancy.tenant_stats(uuid) IS 'Usage of a tenant against its limits: users, API calls this month, storage bytes (admins and owners of the tenant, or backend_admin). Limit null = unlimited.';
