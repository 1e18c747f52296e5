-- 02_constants.sql — the one place of every fixed number and set the rules
-- share: the scopes, the lifetimes of tokens, codes, sessions and secrets,
-- the lengths and counts inputs are held to, and the throttling of password
-- and sign-up attempts. Everything else reads them from here: functions,
-- the tables' CHECK constraints, the discovery documents and OpenAPI; the
-- messages that name them are built from them. sql/constants.sql fails when
-- another function spells one of them again.
--
-- Numbers an operator tunes are settings (backend_framework.*, defined with
-- their defaults in extension/src/backend_framework.c) and are read with
-- current_setting(), never repeated; numbers a tenant tunes are tenant
-- settings (tenancy.set_settings), whose defaults and bounds are here.
-- Each function is an IMMUTABLE constant: the planner folds it into the
-- plans that call it, so reading it costs nothing per row or request.

-- Scopes and algorithms ------------------------------------------------------------

-- Every scope, in the order the discovery documents and pages list them.
-- Stored scope strings and arrays are sorted (oauth._scopes).
CREATE FUNCTION oauth.scopes_supported() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT '{openid,email,profile,read,write,admin}'::text[]
$$;
COMMENT ON FUNCTION oauth.scopes_supported() IS 'Every OAuth scope, in the order the metadata documents (scopes_supported) and the consent page list them: openid, email, profile, read, write, admin.';

-- The scopes of the tenant's own API (openid and email belong to OpenID
-- Connect): what a route may require (api.add_route), what the console
-- client may be granted, and what an owner's context holds without a token
-- (sign-up, enter_tenant). Sorted, as stored.
CREATE FUNCTION oauth.api_scopes() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT '{admin,profile,read,write}'::text[]
$$;
COMMENT ON FUNCTION oauth.api_scopes() IS 'The scopes of the tenant''s API (admin, profile, read, write): what routes may require, the console client''s scope and an owner''s context without a token.';

-- The algorithms of the tenants' signing keys (extension/src/keys.c makes
-- a key of each); the first is the default of id_tokens and signs JWT
-- access tokens.
CREATE FUNCTION oauth.signing_algs() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT '{RS256,ES256}'::text[]
$$;
COMMENT ON FUNCTION oauth.signing_algs() IS 'The JWS algorithms of the signing keys (RS256, ES256): every tenant has keys of each; the first is the default of id_tokens and signs JWT access tokens.';

-- "a, b and c": a set named in a message.
CREATE FUNCTION tenancy._words(items text[], conjunction text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN cardinality(items) > 1
              THEN array_to_string(items[1:cardinality(items) - 1], ', ') || ' ' || conjunction || ' ' || items[cardinality(items)]
              ELSE items[1] END
$$;
COMMENT ON FUNCTION tenancy._words(text[], text) IS 'Internal: a list in words for a message ("a, b and c" with conjunction and).';

-- Lifetimes ----------------------------------------------------------------------

-- In seconds. access_token, refresh_token, code and refresh_family are the
-- defaults of the tenant settings access_token_ttl, refresh_token_ttl,
-- code_ttl and refresh_token_max_lifetime (a client's own access_token_ttl
-- and refresh_token_ttl come first); ttl_min..ttl_max bound the *_ttl
-- settings and a client's own, family_min..family_max the grant's lifetime.
CREATE FUNCTION oauth.lifetimes(
  OUT access_token integer, OUT refresh_token integer, OUT code integer, OUT refresh_family integer,
  OUT id_token integer, OUT session integer, OUT password_reset integer, OUT invitation_max integer, OUT code_kept integer,
  OUT ttl_min integer, OUT ttl_max integer, OUT family_min integer, OUT family_max integer)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  access_token := 3600;           -- an hour
  refresh_token := 2592000;       -- 30 days
  code := 60;                     -- a minute
  refresh_family := 7776000;      -- 90 days: how long one sign-in may be refreshed, however often
  id_token := 3600;
  session := 28800;               -- 8 hours: a sign-in on the authorize page (cookie bf_session)
  password_reset := 86400;        -- a day: a reset secret from the time the mail sender took it
  invitation_max := 7776000;      -- 90 days: the longest a sign-up invitation may be valid
  code_kept := 86400;             -- a day: an expired code stays so long, so that its replay is still recognised
  ttl_min := 10;
  ttl_max := 31536000;            -- a year
  family_min := 60;
  family_max := 315360000;        -- ten years
END $$;
COMMENT ON FUNCTION oauth.lifetimes() IS 'Lifetimes in seconds: the defaults of the tenant settings access_token_ttl (access_token), refresh_token_ttl (refresh_token), code_ttl (code) and refresh_token_max_lifetime (refresh_family); id_token; session (sign-in on the authorize page); password_reset (reset secret); invitation_max (longest sign-up invitation); code_kept (how long after expiry a code is kept, so that its replay is recognised); the bounds of the *_ttl settings (ttl_min, ttl_max) and of refresh_token_max_lifetime (family_min, family_max).';

-- Bounds -------------------------------------------------------------------------

-- Lengths (characters, unless said) and counts that inputs are held to.
CREATE FUNCTION tenancy.bounds(
  OUT name_max integer, OUT email_max integer, OUT password_max_bytes integer,
  OUT page_size integer, OUT page_max integer,
  OUT uri_max integer, OUT uris_max integer, OUT contacts_max integer, OUT resources_max integer,
  OUT client_id_min integer, OUT client_id_max integer, OUT nonce_max integer,
  OUT purge_batch integer, OUT purge_batch_max integer, OUT mail_batch integer, OUT mail_batch_max integer)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  name_max := 200;                -- tenant names, display names, client names, invitation notes
  email_max := 254;               -- RFC 5321's longest path
  password_max_bytes := 72;       -- all bcrypt reads: longer is refused, never truncated
  page_size := 50;                -- a page of a list when the caller names no limit
  page_max := 200;
  uri_max := 2000;                -- redirect URIs, metadata URLs, resource indicators
  uris_max := 20;                 -- redirect_uris and post_logout_redirect_uris of a client
  contacts_max := 10;
  resources_max := 50;            -- the tenant setting resource_indicators
  client_id_min := 3;             -- a client_id an admin chooses
  client_id_max := 100;
  nonce_max := 512;               -- OpenID Connect nonce of an authorization request
  purge_batch := 10000;           -- rows per table one oauth.purge_expired() call deletes by default
  purge_batch_max := 1000000;
  mail_batch := 100;              -- resets one tenancy.take_password_reset_mail() call takes by default
  mail_batch_max := 1000;
END $$;
COMMENT ON FUNCTION tenancy.bounds() IS 'Lengths and counts inputs are held to: names (tenant, display, client, invitation note), e-mail addresses, passwords (bytes), list pages (default and largest), URIs and how many a client registers, contacts, resource indicators, chosen client_ids, nonces; rows per call of oauth.purge_expired and tenancy.take_password_reset_mail (default and largest).';

-- Patterns -------------------------------------------------------------------------

-- Regular expressions: a tenant's slug (3 to 63 lower-case letters, digits
-- and hyphens, a letter or digit at both ends: a DNS label, since
-- subdomains name tenants); a custom domain (lower-case DNS labels and a
-- top-level domain); a uuid as text (a tenant named by id rather than by
-- slug, an {id} of a route; compare it with ~*, case-insensitively).
CREATE FUNCTION tenancy.patterns(OUT slug text, OUT domain text, OUT uuid text)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  slug := '^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$';
  domain := '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$';
  uuid := '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
END $$;
COMMENT ON FUNCTION tenancy.patterns() IS 'Regular expressions: slug (a tenant slug: 3 to 63 lower-case letters, digits and hyphens, a letter or digit at both ends), domain (a custom domain: lower-case DNS labels and a top-level domain), uuid (a uuid as text; match it with ~*).';

-- Throttling -----------------------------------------------------------------------

-- Password checks: a key (an e-mail address, or a client address) with n
-- failures at or above its threshold waits 2^(n - threshold) seconds after
-- its last failure, at most login_max_wait; counters are forgotten
-- login_memory after the last failure. Sign-ups: at most the setting
-- backend_framework.signup_per_hour per client address and signup_window.
CREATE FUNCTION tenancy.throttling(
  OUT login_per_address integer, OUT login_per_email integer, OUT login_max_wait integer, OUT login_memory integer,
  OUT signup_window integer)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  login_per_address := 5;
  login_per_email := 20;
  login_max_wait := 900;          -- 15 minutes; never a lock-out
  login_memory := 86400;          -- a day
  signup_window := 3600;          -- an hour
END $$;
COMMENT ON FUNCTION tenancy.throttling() IS 'Throttling in failures and seconds: password checks back off 2^(n - threshold) s from login_per_address failures per client address and login_per_email per e-mail address, at most login_max_wait, counters forgotten login_memory after the last failure; sign-ups per client address are counted over signup_window (limit: backend_framework.signup_per_hour).';
