-- 17_tenancy_enable.sql — tenancy.enable_tenant_table: turns an
-- application's table into a tenant table, and the key check (Citus-ready)
-- that it and the catalog test share.

-- Keys of a table that do not lead with tenant_id, and foreign keys to other
-- tenant tables that do not include it: one row per violation, empty when
-- the table can be distributed by tenant_id.
CREATE FUNCTION tenancy.key_violations(p_table regclass)
RETURNS TABLE(constraint_name text, problem text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT i.indexrelid::regclass::text,
         format('%s must start with tenant_id', CASE WHEN i.indisprimary THEN 'primary key' ELSE 'unique key' END)
    FROM pg_index i
   WHERE i.indrelid = p_table AND (i.indisunique OR i.indisprimary)
     AND (i.indkey[0] = 0 OR (SELECT attname FROM pg_attribute WHERE attrelid = p_table AND attnum = i.indkey[0]) <> 'tenant_id')
     AND p_table <> 'tenancy.tenants'::regclass
  UNION ALL
  SELECT c.conname::text, 'foreign key to a tenant table must include tenant_id'
    FROM pg_constraint c
   WHERE c.conrelid = p_table AND c.contype = 'f'
     AND c.confrelid IN (SELECT table_name FROM tenancy.tenant_tables)
     AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = p_table AND a.attname = 'tenant_id'
                      AND a.attnum = ANY (c.conkey))
$$;
COMMENT ON FUNCTION tenancy.key_violations(regclass) IS 'Keys of a table not led by tenant_id and foreign keys to tenant tables without tenant_id (Citus distribution by tenant_id needs neither).';

-- The one way into tenancy.tenant_tables (whose rows the definers read as
-- backend_definer): a permanent ordinary or partitioned table that the
-- login owns, with a uuid tenant_id and row-level security enabled and
-- forced. enable_tenant_table calls it after its ALTERs proved ownership.
CREATE FUNCTION tenancy._register_tenant_table(p_table regclass) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE c record;
BEGIN
  SELECT relkind, relpersistence, relowner, relrowsecurity, relforcerowsecurity INTO c
    FROM pg_class WHERE oid = p_table;
  IF NOT FOUND OR c.relkind NOT IN ('r', 'p') OR c.relpersistence = 't' THEN
    RAISE EXCEPTION '% is not a permanent table', p_table USING ERRCODE = '42809';
  END IF;
  IF NOT pg_has_role(session_user, c.relowner, 'USAGE') THEN
    RAISE EXCEPTION 'must be owner of table %', p_table USING ERRCODE = '42501';
  END IF;
  IF NOT (c.relrowsecurity AND c.relforcerowsecurity) OR NOT EXISTS (
      SELECT 1 FROM pg_attribute WHERE attrelid = p_table AND attname = 'tenant_id'
         AND atttypid = 'uuid'::regtype AND NOT attisdropped) THEN
    RAISE EXCEPTION '% is not set up as a tenant table', p_table USING ERRCODE = '55000',
      HINT = 'Use tenancy.enable_tenant_table.';
  END IF;
  INSERT INTO tenancy.tenant_tables (table_name) VALUES (p_table) ON CONFLICT DO NOTHING;
END $$;
COMMENT ON FUNCTION tenancy._register_tenant_table(regclass) IS 'Internal: records a table set up by enable_tenant_table (permanent, owned by the login, RLS forced, uuid tenant_id).';
REVOKE ALL ON FUNCTION tenancy._register_tenant_table(regclass) FROM PUBLIC;

-- Makes an application table a tenant table: tenant_id (uuid, NOT NULL,
-- default: the context's tenant, foreign key to tenants with ON DELETE
-- CASCADE), RLS enabled and forced with a policy on the context, an index,
-- the storage-limit trigger, and registration for storage and catalog
-- checks. Refuses tables whose keys do not lead with tenant_id. Run it as
-- the table's owner; grant privileges to backend_app/backend_gateway yourself.
CREATE FUNCTION tenancy.enable_tenant_table(p_table regclass) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  col record;
  v record;
  rel text := p_table::text;
  short text := (SELECT relname FROM pg_class WHERE oid = p_table);
BEGIN
  IF (SELECT relkind FROM pg_class WHERE oid = p_table) NOT IN ('r', 'p') THEN
    RAISE EXCEPTION '% is not a table', rel USING ERRCODE = '42809';
  END IF;
  SELECT a.attnum, format_type(a.atttypid, a.atttypmod) AS typ, a.attnotnull INTO col
    FROM pg_attribute a WHERE a.attrelid = p_table AND a.attname = 'tenant_id' AND NOT a.attisdropped;
  IF col IS NULL THEN
    RAISE EXCEPTION '% has no tenant_id column', rel USING ERRCODE = '42703',
      HINT = 'Add "tenant_id uuid NOT NULL" and lead the primary key with it: PRIMARY KEY (tenant_id, id).';
  END IF;
  IF col.typ <> 'uuid' THEN
    RAISE EXCEPTION 'tenant_id of % must be uuid, not %', rel, col.typ USING ERRCODE = '42804';
  END IF;
  SELECT * INTO v FROM tenancy.key_violations(p_table) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '% cannot be a tenant table: % (%)', rel, v.problem, v.constraint_name USING ERRCODE = '42P16',
      HINT = 'Tenant tables are distributed by tenant_id: write PRIMARY KEY (tenant_id, id) and UNIQUE (tenant_id, ...).';
  END IF;
  EXECUTE format('ALTER TABLE %s ALTER COLUMN tenant_id SET DEFAULT tenancy.current_tenant_id(), ALTER COLUMN tenant_id SET NOT NULL', rel);
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = p_table AND contype = 'f'
                  AND confrelid = 'tenancy.tenants'::regclass) THEN
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I FOREIGN KEY (tenant_id) REFERENCES tenancy.tenants(id) ON DELETE CASCADE',
                   rel, short || '_tenant_fkey');
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_index WHERE indrelid = p_table AND indkey[0] = col.attnum) THEN
    EXECUTE format('CREATE INDEX %I ON %s (tenant_id)', short || '_tenant_idx', rel);
  END IF;
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', rel);
  IF NOT EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = p_table AND polname = 'tenant_isolation') THEN
    EXECUTE format('CREATE POLICY tenant_isolation ON %s AS RESTRICTIVE FOR ALL
                      USING (tenant_id = (SELECT tenancy.current_tenant_id()))
                      WITH CHECK (tenant_id = (SELECT tenancy.current_tenant_id()))', rel);
    -- RESTRICTIVE alone admits nothing; this permissive one admits the
    -- tenant's rows, and applications may add narrower restrictive ones.
    EXECUTE format('CREATE POLICY tenant_rows ON %s FOR ALL USING (true) WITH CHECK (true)', rel);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = p_table AND tgname = 'tenant_storage_limit') THEN
    EXECUTE format('CREATE TRIGGER tenant_storage_limit BEFORE INSERT ON %s FOR EACH ROW EXECUTE FUNCTION tenancy._check_storage()', rel);
  END IF;
  -- The storage measurement reads the table's rows as backend_definer.
  EXECUTE format('GRANT SELECT ON %s TO backend_definer', rel);
  IF NOT has_schema_privilege('backend_definer', (SELECT relnamespace FROM pg_class WHERE oid = p_table), 'USAGE') THEN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO backend_definer',
                   (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = p_table));
  END IF;
  PERFORM tenancy._register_tenant_table(p_table);
END $$;
COMMENT ON FUNCTION tenancy.enable_tenant_table(regclass) IS 'Turns an application table into a tenant table: tenant_id defaulting to the context, FK with cascade, RLS forced, index, storage limit, registration. Keys must lead with tenant_id (42P16 otherwise).';
REVOKE ALL ON FUNCTION tenancy.enable_tenant_table(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.enable_tenant_table(regclass) TO backend_admin;

-- pg_dump skips the rows of an extension's tables unless they are marked:
-- tenant data is user data, so it is dumped (and restored by pg_restore).
-- Seeded rows stay out (CREATE EXTENSION makes them again).
SELECT pg_catalog.pg_extension_config_dump('tenancy.tenants', '');
SELECT pg_catalog.pg_extension_config_dump('tenancy.users', '');
SELECT pg_catalog.pg_extension_config_dump('tenancy.api_usage', '');
SELECT pg_catalog.pg_extension_config_dump('tenancy.storage_usage', '');
SELECT pg_catalog.pg_extension_config_dump('tenancy.invitations', '');
SELECT pg_catalog.pg_extension_config_dump('tenancy.signup_attempts', '');
SELECT pg_catalog.pg_extension_config_dump('tenancy.tenant_tables', 'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('tenancy.plans', $$WHERE name NOT IN ('free', 'basic', 'premium', 'enterprise')$$);
