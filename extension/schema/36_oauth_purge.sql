-- 36_oauth_purge.sql — removal of expired OAuth rows in bounded batches.

CREATE FUNCTION oauth.purge_expired(batch integer DEFAULT 10000) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  b integer := greatest(1, least(coalesce(batch, 10000), 1000000));
  n bigint;
  total bigint := 0;
BEGIN
  -- Tokens past their expiry (revoked and rotated ones too: expired is expired).
  WITH d AS (DELETE FROM oauth.tokens WHERE ctid = ANY (ARRAY(
               SELECT ctid FROM oauth.tokens WHERE expires_at < now() ORDER BY expires_at LIMIT b)) RETURNING 1)
  SELECT count(*) INTO n FROM d;
  total := total + n;
  -- Codes a while after expiry (code_kept): until then a replay is still
  -- recognised and revokes what the code issued.
  WITH d AS (DELETE FROM oauth.authorization_codes WHERE ctid = ANY (ARRAY(
               SELECT ctid FROM oauth.authorization_codes
                WHERE expires_at < now() - make_interval(secs => (oauth.lifetimes()).code_kept)
                ORDER BY expires_at LIMIT b)) RETURNING 1)
  SELECT count(*) INTO n FROM d;
  total := total + n;
  WITH d AS (DELETE FROM oauth.login_sessions WHERE ctid = ANY (ARRAY(
               SELECT ctid FROM oauth.login_sessions WHERE expires_at < now() ORDER BY expires_at LIMIT b)) RETURNING 1)
  SELECT count(*) INTO n FROM d;
  total := total + n;
  -- Failure counters are forgotten after the last failure (oauth._throttle_wait).
  WITH d AS (DELETE FROM oauth.login_attempts WHERE ctid = ANY (ARRAY(
               SELECT ctid FROM oauth.login_attempts
                WHERE last_failure_at < now() - make_interval(secs => (tenancy.throttling()).login_memory)
                ORDER BY last_failure_at LIMIT b)) RETURNING 1)
  SELECT count(*) INTO n FROM d;
  RETURN total + n;
END $$;
COMMENT ON FUNCTION oauth.purge_expired(integer) IS 'Deletes expired OAuth rows, at most batch rows per table per call (each lookup uses the expiry index): tokens past expires_at, authorization codes oauth.lifetimes().code_kept after expiry (replays are still detected until then), login sessions past expiry, failed-login counters when forgotten (tenancy.throttling().login_memory after the last failure). Returns the number of rows deleted; call again while it returns a lot. The extension''s background worker runs it every backend_framework.purge_interval seconds (0 = never); it can also be called by hand, as a superuser or a member of backend_admin.';
REVOKE ALL ON FUNCTION oauth.purge_expired(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.purge_expired(integer) TO backend_admin;
