-- 36_oauth_purge.sql — removal of expired OAuth rows in bounded batches.

CREATE FUNCTION oauth.purge_expired(batch integer DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  b integer := greatest(1, least(coalesce(batch, (tenancy.bounds()).purge_batch), (tenancy.bounds()).purge_batch_max));
  t record;
  n bigint;
  total bigint := 0;
BEGIN
  -- Per table, what has expired by which column: tokens past their expiry
  -- (revoked and rotated ones too: expired is expired); codes code_kept
  -- after expiry (until then a replay is still recognised and revokes what
  -- the code issued); login sessions past expiry; failure counters when
  -- forgotten (oauth._throttle_wait). Each lookup walks the column's index.
  FOR t IN SELECT * FROM (VALUES
             ('oauth.tokens'::regclass, 'expires_at', now()),
             ('oauth.authorization_codes', 'expires_at', now() - make_interval(secs => (oauth.lifetimes()).code_kept)),
             ('oauth.login_sessions', 'expires_at', now()),
             ('oauth.login_attempts', 'last_failure_at', now() - make_interval(secs => (tenancy.throttling()).login_memory))
           ) x(tbl, col, cutoff) LOOP
    EXECUTE format('WITH d AS (DELETE FROM %1$s WHERE ctid = ANY (ARRAY(SELECT ctid FROM %1$s WHERE %2$I < $1 ORDER BY %2$I LIMIT $2)) RETURNING 1)
                    SELECT count(*) FROM d', t.tbl, t.col)
      INTO n USING t.cutoff, b;
    total := total + n;
  END LOOP;
  RETURN total;
END $$;
COMMENT ON FUNCTION oauth.purge_expired(integer) IS 'Deletes expired OAuth rows, at most batch rows per table per call (default and largest: tenancy.bounds().purge_batch, purge_batch_max) (each lookup uses the expiry index): tokens past expires_at, authorization codes oauth.lifetimes().code_kept after expiry (replays are still detected until then), login sessions past expiry, failed-login counters when forgotten (tenancy.throttling().login_memory after the last failure). Returns the number of rows deleted; call again while it returns a lot. The extension''s background worker runs it every backend_framework.purge_interval seconds (0 = never); it can also be called by hand, as a superuser or a member of backend_admin.';
REVOKE ALL ON FUNCTION oauth.purge_expired(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.purge_expired(integer) TO backend_admin;
