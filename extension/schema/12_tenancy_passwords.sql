-- 12_tenancy_passwords.sql — password policy, bcrypt hashing (pgcrypto) and
-- verification that costs the same whether or not the email exists.

-- pgcrypto may live in any schema: bind its functions by qualified name now,
-- so no function of ours ever resolves them through a caller's search_path.
DO $bind$
DECLARE s text;
BEGIN
  SELECT n.nspname INTO STRICT s FROM pg_catalog.pg_extension e
    JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pgcrypto';
  EXECUTE format($f$
    CREATE FUNCTION tenancy._bcrypt(password text, salt_or_hash text) RETURNS text
    LANGUAGE sql VOLATILE STRICT SET search_path = pg_catalog, pg_temp
    AS 'SELECT %1$I.crypt(password, salt_or_hash)'$f$, s);
  EXECUTE format($f$
    CREATE FUNCTION tenancy._bcrypt_salt(cost integer) RETURNS text
    LANGUAGE sql VOLATILE STRICT SET search_path = pg_catalog, pg_temp
    AS 'SELECT %1$I.gen_salt(''bf'', cost)'$f$, s);
END
$bind$;
COMMENT ON FUNCTION tenancy._bcrypt(text, text) IS 'Internal: pgcrypto crypt(), bound to pgcrypto''s schema at install time.';
COMMENT ON FUNCTION tenancy._bcrypt_salt(integer) IS 'Internal: pgcrypto gen_salt(''bf'', cost).';

CREATE FUNCTION tenancy.check_password_policy(password text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  min_len integer := current_setting('backend_framework.password_min_length')::integer;
  max_bytes integer := (tenancy.bounds()).password_max_bytes;
BEGIN
  IF password IS NULL OR char_length(password) < min_len THEN
    RAISE EXCEPTION 'password is too short' USING ERRCODE = '22023',
      DETAIL = format('A password needs at least %s characters.', min_len);
  END IF;
  IF octet_length(password) > max_bytes THEN
    -- bcrypt reads only so many bytes; refuse rather than silently truncate.
    RAISE EXCEPTION 'password is too long' USING ERRCODE = '22023',
      DETAIL = format('A password may have at most %s bytes (bcrypt''s limit).', max_bytes);
  END IF;
  IF password ~ '[[:cntrl:]]' THEN
    RAISE EXCEPTION 'password contains control characters' USING ERRCODE = '22023';
  END IF;
END $$;
COMMENT ON FUNCTION tenancy.check_password_policy(text) IS 'Raises 22023 unless the password has backend_framework.password_min_length characters and at most tenancy.bounds().password_max_bytes bytes (bcrypt''s limit), and no control characters.';

CREATE FUNCTION tenancy.hash_password(password text) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM tenancy.check_password_policy(password);
  RETURN tenancy._bcrypt(password, tenancy._bcrypt_salt(current_setting('backend_framework.bcrypt_cost')::integer));
END $$;
COMMENT ON FUNCTION tenancy.hash_password(text) IS 'bcrypt hash of a password that meets the policy (cost: backend_framework.bcrypt_cost).';

-- Constant-time check of a password against a stored bcrypt hash.
CREATE FUNCTION tenancy._password_matches(password text, hash text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF password IS NULL OR hash IS NULL OR octet_length(password) > (tenancy.bounds()).password_max_bytes THEN
    PERFORM tenancy._bcrypt('x', tenancy._bcrypt_salt(current_setting('backend_framework.bcrypt_cost')::integer));
    RETURN false;
  END IF;
  RETURN oauth.ct_equal(convert_to(tenancy._bcrypt(password, hash), 'UTF8'), convert_to(hash, 'UTF8'));
END $$;
COMMENT ON FUNCTION tenancy._password_matches(text, text) IS 'Internal: bcrypt check with a constant-time comparison; the same work when hash is NULL.';
REVOKE ALL ON FUNCTION tenancy._password_matches(text, text) FROM PUBLIC;

-- The user id of an active user of the current tenant whose password
-- matches, else NULL. Unknown emails cost one bcrypt too, so timing does not
-- tell who exists. Throttling of repeated failures lives in the OAuth layer.
CREATE FUNCTION tenancy.verify_password(email text, password text) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE u record;
BEGIN
  SELECT x.id, x.password_hash, x.status INTO u FROM tenancy.users x
   WHERE x.tenant_id = tenancy.current_tenant_id() AND lower(x.email) = lower(verify_password.email);
  IF tenancy._password_matches(password, u.password_hash) AND u.status = 'active' THEN
    RETURN u.id;
  END IF;
  RETURN NULL;
END $$;
COMMENT ON FUNCTION tenancy.verify_password(text, text) IS 'Id of the active user of the current tenant with this email and password, or NULL; same cost for unknown emails.';
REVOKE ALL ON FUNCTION tenancy.verify_password(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.verify_password(text, text) TO backend_gateway, backend_admin;
