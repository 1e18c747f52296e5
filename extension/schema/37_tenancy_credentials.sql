-- 37_tenancy_credentials.sql — a user's password and e-mail address.
-- Nobody sets another user's credentials: users change their own and give
-- the current password (tenancy.change_credentials, throttled like every
-- password check); admins can only trigger a reset (tenancy.reset_password),
-- which makes the old password unusable and queues a one-time secret that
-- only the platform's mail sender receives (tenancy.take_password_reset_mail)
-- and only the user redeems (tenancy.redeem_password_reset). Whatever path
-- changes a password or disables a user, every sign-in of that user ends
-- (trigger users_revoke): access and refresh tokens, login sessions, codes.

-- Reset requests and their secrets (SHA-256 digests only). A row is pending
-- until the mail sender takes it (token_hash, delivered_at, expires_at set
-- then), and closed when redeemed or superseded by a later password change.
CREATE TABLE tenancy.password_resets (
  tenant_id    uuid NOT NULL REFERENCES tenancy.tenants(id) ON DELETE CASCADE,
  id           uuid NOT NULL DEFAULT gen_random_uuid(),
  user_id      uuid NOT NULL,
  requested_by uuid,
  requested_at timestamptz NOT NULL DEFAULT now(),
  token_hash   bytea CHECK (octet_length(token_hash) = 32),
  delivered_at timestamptz,
  expires_at   timestamptz,
  closed_at    timestamptz,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES tenancy.users (tenant_id, id) ON DELETE CASCADE,
  CHECK ((token_hash IS NULL) = (delivered_at IS NULL) AND (delivered_at IS NULL) = (expires_at IS NULL))
);
CREATE UNIQUE INDEX password_resets_token_key ON tenancy.password_resets (tenant_id, token_hash);
CREATE INDEX password_resets_user_idx ON tenancy.password_resets (tenant_id, user_id) WHERE closed_at IS NULL;
CREATE INDEX password_resets_pending_idx ON tenancy.password_resets (requested_at)
  WHERE delivered_at IS NULL AND closed_at IS NULL;
COMMENT ON TABLE tenancy.password_resets IS 'Password resets triggered by admins: pending until the platform''s mail sender takes the one-time secret (tenancy.take_password_reset_mail; only its SHA-256 digest is stored), valid one day from then, closed when redeemed or superseded. No application role may read it.';
COMMENT ON COLUMN tenancy.password_resets.requested_by IS 'The admin or owner who triggered the reset (NULL: a platform operator).';
COMMENT ON COLUMN tenancy.password_resets.token_hash IS 'SHA-256 of the reset secret (bfpr_...), set when the mail sender takes it; NULL while pending.';
COMMENT ON COLUMN tenancy.password_resets.closed_at IS 'When the secret was redeemed, or the request superseded by another password change or reset.';
ALTER TABLE tenancy.password_resets ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenancy.password_resets FORCE ROW LEVEL SECURITY;
-- No policy and no privileges: only the definer functions below touch it.
INSERT INTO tenancy.tenant_tables (table_name, builtin) VALUES ('tenancy.password_resets', true);
SELECT pg_catalog.pg_extension_config_dump('tenancy.password_resets', '');

-- A user's tokens by user: revocation of all of them is one index scan.
CREATE INDEX tokens_user_idx ON oauth.tokens (tenant_id, user_id) WHERE user_id IS NOT NULL;

-- Ends every sign-in of a user: access and refresh tokens (all families),
-- login sessions of the authorize page, and codes not redeemed yet.
CREATE FUNCTION tenancy._revoke_sign_ins(p_tenant uuid, p_user uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  UPDATE oauth.tokens SET revoked_at = now()
   WHERE tenant_id = p_tenant AND user_id = p_user AND revoked_at IS NULL;
  DELETE FROM oauth.login_sessions WHERE tenant_id = p_tenant AND user_id = p_user;
  DELETE FROM oauth.authorization_codes WHERE tenant_id = p_tenant AND user_id = p_user AND used_at IS NULL;
END $$;
REVOKE ALL ON FUNCTION tenancy._revoke_sign_ins(uuid, uuid) FROM PUBLIC;
COMMENT ON FUNCTION tenancy._revoke_sign_ins(uuid, uuid) IS 'Internal: revokes all access and refresh tokens of a user and deletes their login sessions and unredeemed authorization codes.';

CREATE FUNCTION tenancy._users_revoke() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM tenancy._revoke_sign_ins(NEW.tenant_id, NEW.id);
  IF NEW.password_hash IS DISTINCT FROM OLD.password_hash THEN
    -- Open resets are superseded by the new password.
    UPDATE tenancy.password_resets SET closed_at = now()
     WHERE tenant_id = NEW.tenant_id AND user_id = NEW.id AND closed_at IS NULL;
  END IF;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION tenancy._users_revoke() FROM PUBLIC;
COMMENT ON FUNCTION tenancy._users_revoke() IS 'Trigger: when a user''s password changes or the user is disabled, ends all their sign-ins (tenancy._revoke_sign_ins); a new password also closes open resets.';
CREATE TRIGGER users_revoke AFTER UPDATE OF password_hash, status ON tenancy.users
  FOR EACH ROW WHEN (OLD.password_hash IS DISTINCT FROM NEW.password_hash
                     OR (OLD.status = 'active' AND NEW.status <> 'active'))
  EXECUTE FUNCTION tenancy._users_revoke();

-- The signed-in user changes their own password and/or e-mail address,
-- proving the current password. A wrong current password is not an error
-- (an error would roll back the failure count that throttles guessing):
-- changed is false, retry_after 0; while throttled, nothing is checked and
-- retry_after says how many seconds to wait. A new password ends all the
-- user's sign-ins, including the one making the change.
CREATE FUNCTION tenancy.change_credentials(current_password text, new_password text DEFAULT NULL,
                                           new_email text DEFAULT NULL, client_addr text DEFAULT NULL,
                                           OUT changed boolean, OUT retry_after integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t uuid := tenancy.current_tenant_id();
  uid uuid := tenancy.current_user_id();
  e text;
  old_email text;
  ok uuid;
BEGIN
  IF t IS NULL OR uid IS NULL THEN
    RAISE EXCEPTION 'this needs a user''s token' USING ERRCODE = '42501',
      DETAIL = 'Users change their own password and e-mail address; admins may only reset a password (tenancy.reset_password).';
  END IF;
  IF new_password IS NULL AND new_email IS NULL THEN
    RAISE EXCEPTION 'nothing to change' USING ERRCODE = '22023', DETAIL = 'Give a new password, a new e-mail address, or both.';
  END IF;
  IF current_password IS NULL THEN
    RAISE EXCEPTION 'the current password is required' USING ERRCODE = '22023';
  END IF;
  IF new_email IS NOT NULL THEN e := tenancy._check_email(new_email); END IF;
  IF new_password IS NOT NULL THEN PERFORM tenancy.check_password_policy(new_password); END IF;
  SELECT u.email INTO old_email FROM tenancy.users u WHERE u.tenant_id = t AND u.id = uid AND u.status = 'active';
  IF NOT FOUND THEN
    RAISE EXCEPTION 'user not found' USING ERRCODE = 'P0002';
  END IF;
  SELECT c.user_id, c.wait_seconds INTO ok, retry_after
    FROM oauth._check_password(t, old_email, current_password, change_credentials.client_addr) c;
  changed := false;
  IF retry_after > 0 THEN RETURN; END IF;
  retry_after := 0;
  IF ok IS DISTINCT FROM uid THEN RETURN; END IF;
  IF e IS NOT NULL AND e IS DISTINCT FROM old_email THEN
    BEGIN
      UPDATE tenancy.users SET email = e WHERE tenant_id = t AND id = uid;
    EXCEPTION WHEN unique_violation THEN
      RAISE EXCEPTION 'a user with email "%" already exists', e USING ERRCODE = '23505';
    END;
  END IF;
  IF new_password IS NOT NULL THEN
    UPDATE tenancy.users SET password_hash = tenancy.hash_password(new_password) WHERE tenant_id = t AND id = uid;
  END IF;
  changed := true;
END $$;
REVOKE ALL ON FUNCTION tenancy.change_credentials(text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.change_credentials(text, text, text, text) TO backend_gateway, backend_app, backend_admin;
COMMENT ON FUNCTION tenancy.change_credentials(text, text, text, text) IS 'The context''s user changes their own password and/or e-mail address, giving the current password (throttled per e-mail and client_addr like sign-ins). changed false: wrong current password (retry_after 0, the failure counts) or throttled (retry_after seconds, nothing checked). A new password revokes all the user''s tokens, sessions and codes. 42501 without a user context, 22023 invalid input, 23505 e-mail taken.';

-- An admin (or owner) resets a user's password: the old one stops working
-- at once (replaced by the hash of a random secret nobody keeps), every
-- sign-in ends, and a reset request waits for the mail sender. The admin
-- never sees a secret. Owners' passwords: owners only (as for every change
-- that could take an owner's account).
CREATE FUNCTION tenancy.reset_password(p_user uuid) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t uuid := tenancy.current_tenant_id();
  target_role text;
  rid uuid;
BEGIN
  IF NOT tenancy.acts_as_admin() THEN
    RAISE EXCEPTION 'only admins and owners reset passwords' USING ERRCODE = '42501';
  END IF;
  SELECT u.role INTO target_role FROM tenancy.users u WHERE u.tenant_id = t AND u.id = p_user FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'user not found' USING ERRCODE = 'P0002';
  END IF;
  IF target_role = 'owner' AND tenancy.current_user_role() IS DISTINCT FROM 'owner' THEN
    RAISE EXCEPTION 'only an owner may reset an owner''s password' USING ERRCODE = '42501';
  END IF;
  UPDATE tenancy.users SET password_hash = tenancy.hash_password(oauth.random_token('reset'))
   WHERE tenant_id = t AND id = p_user;
  INSERT INTO tenancy.password_resets (tenant_id, user_id, requested_by)
  VALUES (t, p_user, tenancy.current_user_id()) RETURNING id INTO rid;
  RETURN rid;
END $$;
REVOKE ALL ON FUNCTION tenancy.reset_password(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.reset_password(uuid) TO backend_gateway, backend_app, backend_admin;
COMMENT ON FUNCTION tenancy.reset_password(uuid) IS 'Admins and owners (scope admin) of the current tenant: makes a user''s password unusable, revokes all their tokens, sessions and codes, and queues a reset for the mail sender (tenancy.take_password_reset_mail); returns the request id, never a secret. An owner''s password: owners only (42501). P0002 unknown user.';

-- The platform's mail sender (a platform operator login) takes pending
-- resets: each secret is made now, returned once, and stored as a digest.
CREATE FUNCTION tenancy.take_password_reset_mail(p_limit integer DEFAULT NULL)
RETURNS TABLE (tenant_id uuid, tenant_slug text, user_id uuid, email text, reset_token text, expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
  r record;
  tok text;
BEGIN
  FOR r IN SELECT p.tenant_id AS tid, p.id AS rid, p.user_id AS uid, u.email AS mail, n.slug AS slug
             FROM tenancy.password_resets p
             JOIN tenancy.users u ON u.tenant_id = p.tenant_id AND u.id = p.user_id
             JOIN tenancy.tenants n ON n.id = p.tenant_id
            WHERE p.delivered_at IS NULL AND p.closed_at IS NULL AND u.status = 'active'
            ORDER BY p.requested_at
            LIMIT greatest(1, least(coalesce(p_limit, (tenancy.bounds()).mail_batch), (tenancy.bounds()).mail_batch_max))
              FOR UPDATE OF p SKIP LOCKED
  LOOP
    tok := oauth.random_token('reset');
    UPDATE tenancy.password_resets x
       SET token_hash = oauth.token_digest(tok), delivered_at = now(),
           expires_at = now() + make_interval(secs => (oauth.lifetimes()).password_reset)
     WHERE x.tenant_id = r.tid AND x.id = r.rid
    RETURNING x.expires_at INTO expires_at;
    tenant_id := r.tid; tenant_slug := r.slug; user_id := r.uid; email := r.mail;
    reset_token := tok;
    RETURN NEXT;
  END LOOP;
END $$;
REVOKE ALL ON FUNCTION tenancy.take_password_reset_mail(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.take_password_reset_mail(integer) TO backend_admin;
COMMENT ON FUNCTION tenancy.take_password_reset_mail(integer) IS 'backend_admin only (the platform''s mail sender): takes up to p_limit (default and largest: tenancy.bounds().mail_batch, mail_batch_max) pending password resets of all tenants and returns, once, each user''s e-mail and a new one-time secret (valid for oauth.lifetimes().password_reset seconds) to send them; only its digest is kept. The user redeems it with POST /api/v1/password-reset (tenancy.redeem_password_reset).';

-- Anonymous (the tenant comes from the request): sets a new password with a
-- reset secret. The policy is checked first, so a weak password does not
-- use the secret up.
CREATE FUNCTION tenancy.redeem_password_reset(reset_token text, new_password text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t uuid := tenancy.current_tenant_id();
  rid uuid;
  uid uuid;
BEGIN
  IF t IS NULL THEN
    RAISE EXCEPTION 'no tenant in the current context' USING ERRCODE = 'P0002';
  END IF;
  PERFORM tenancy.check_password_policy(new_password);
  IF reset_token ~ '^bfpr_[A-Za-z0-9_-]{43}$' THEN
    SELECT p.id, p.user_id INTO rid, uid
      FROM tenancy.password_resets p
      JOIN tenancy.users u ON u.tenant_id = p.tenant_id AND u.id = p.user_id AND u.status = 'active'
     WHERE p.tenant_id = t AND p.token_hash = oauth.token_digest(reset_token)
       AND p.closed_at IS NULL AND p.expires_at > now()
       FOR UPDATE OF p;
  END IF;
  IF rid IS NULL THEN
    RAISE EXCEPTION 'invalid or expired password reset' USING ERRCODE = '22023',
      DETAIL = 'Ask an administrator to reset your password again.';
  END IF;
  UPDATE tenancy.password_resets SET closed_at = now() WHERE tenant_id = t AND id = rid;
  UPDATE tenancy.users SET password_hash = tenancy.hash_password(new_password) WHERE tenant_id = t AND id = uid;
END $$;
REVOKE ALL ON FUNCTION tenancy.redeem_password_reset(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.redeem_password_reset(text, text) TO backend_gateway, backend_app, backend_admin;
COMMENT ON FUNCTION tenancy.redeem_password_reset(text, text) IS 'Sets a new password with a one-time reset secret (bfpr_...) of the current tenant: the secret is used up, every sign-in of the user ends. 22023 for a weak password or an unknown, used, expired or other tenant''s secret (or a disabled user).';
