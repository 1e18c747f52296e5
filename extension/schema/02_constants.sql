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
-- plans that call it, so reading it costs nothing per row or request. The
-- groups of numbers return named composite types, not records (OUT
-- parameters): the planner folds no function that returns a record.

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
CREATE TYPE oauth.lifetimes AS (
  access_token integer, refresh_token integer, code integer, refresh_family integer,
  id_token integer, session integer, password_reset integer, invitation_max integer,
  code_kept integer, ttl_min integer, ttl_max integer, family_min integer, family_max integer);
COMMENT ON TYPE oauth.lifetimes IS 'What oauth.lifetimes() returns.';
CREATE FUNCTION oauth.lifetimes() RETURNS oauth.lifetimes
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE l oauth.lifetimes;
BEGIN
  l.access_token := 3600;           -- an hour
  l.refresh_token := 2592000;       -- 30 days
  l.code := 60;                     -- a minute
  l.refresh_family := 7776000;      -- 90 days: how long one sign-in may be refreshed, however often
  l.id_token := 3600;
  l.session := 28800;               -- 8 hours: a sign-in on the authorize page (cookie bf_session)
  l.password_reset := 86400;        -- a day: a reset secret from the time the mail sender took it
  l.invitation_max := 7776000;      -- 90 days: the longest a sign-up invitation may be valid
  l.code_kept := 86400;             -- a day: an expired code stays so long, so that its replay is still recognised
  l.ttl_min := 10;
  l.ttl_max := 31536000;            -- a year
  l.family_min := 60;
  l.family_max := 315360000;        -- ten years
  RETURN l;
END $$;
COMMENT ON FUNCTION oauth.lifetimes() IS 'Lifetimes in seconds: the defaults of the tenant settings access_token_ttl (access_token), refresh_token_ttl (refresh_token), code_ttl (code) and refresh_token_max_lifetime (refresh_family); id_token; session (sign-in on the authorize page); password_reset (reset secret); invitation_max (longest sign-up invitation); code_kept (how long after expiry a code is kept, so that its replay is recognised); the bounds of the *_ttl settings (ttl_min, ttl_max) and of refresh_token_max_lifetime (family_min, family_max).';

-- Bounds -------------------------------------------------------------------------

-- Lengths (characters, unless said) and counts that inputs are held to.
CREATE TYPE tenancy.bounds AS (
  name_max integer, email_max integer, password_max_bytes integer, page_size integer,
  page_max integer, uri_max integer, uris_max integer, contacts_max integer, resources_max integer,
  client_id_min integer, client_id_max integer, nonce_max integer, purge_batch integer,
  purge_batch_max integer, mail_batch integer, mail_batch_max integer);
COMMENT ON TYPE tenancy.bounds IS 'What tenancy.bounds() returns.';
CREATE FUNCTION tenancy.bounds() RETURNS tenancy.bounds
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE b tenancy.bounds;
BEGIN
  b.name_max := 200;                -- tenant names, display names, client names, invitation notes
  b.email_max := 254;               -- RFC 5321's longest path
  b.password_max_bytes := 72;       -- all bcrypt reads: longer is refused, never truncated
  b.page_size := 50;                -- a page of a list when the caller names no limit
  b.page_max := 200;
  b.uri_max := 2000;                -- redirect URIs, metadata URLs, resource indicators
  b.uris_max := 20;                 -- redirect_uris and post_logout_redirect_uris of a client
  b.contacts_max := 10;
  b.resources_max := 50;            -- the tenant setting resource_indicators
  b.client_id_min := 3;             -- a client_id an admin chooses
  b.client_id_max := 100;
  b.nonce_max := 512;               -- OpenID Connect nonce of an authorization request
  b.purge_batch := 10000;           -- rows per table one oauth.purge_expired() call deletes by default
  b.purge_batch_max := 1000000;
  b.mail_batch := 100;              -- resets one tenancy.take_password_reset_mail() call takes by default
  b.mail_batch_max := 1000;
  RETURN b;
END $$;
COMMENT ON FUNCTION tenancy.bounds() IS 'Lengths and counts inputs are held to: names (tenant, display, client, invitation note), e-mail addresses, passwords (bytes), list pages (default and largest), URIs and how many a client registers, contacts, resource indicators, chosen client_ids, nonces; rows per call of oauth.purge_expired and tenancy.take_password_reset_mail (default and largest).';

-- Patterns -------------------------------------------------------------------------

-- Regular expressions: a tenant's slug (3 to 63 lower-case letters, digits
-- and hyphens, a letter or digit at both ends: a DNS label, since
-- subdomains name tenants); a custom domain (lower-case DNS labels and a
-- top-level domain); a uuid as text (a tenant named by id rather than by
-- slug, an {id} of a route; compare it with ~*, case-insensitively).
CREATE TYPE tenancy.patterns AS (
  slug text, domain text, uuid text);
COMMENT ON TYPE tenancy.patterns IS 'What tenancy.patterns() returns.';
CREATE FUNCTION tenancy.patterns() RETURNS tenancy.patterns
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE p tenancy.patterns;
BEGIN
  p.slug := '^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$';
  p.domain := '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$';
  p.uuid := '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
  RETURN p;
END $$;
COMMENT ON FUNCTION tenancy.patterns() IS 'Regular expressions: slug (a tenant slug: 3 to 63 lower-case letters, digits and hyphens, a letter or digit at both ends), domain (a custom domain: lower-case DNS labels and a top-level domain), uuid (a uuid as text; match it with ~*).';

-- Throttling -----------------------------------------------------------------------

-- Password checks: a key (an e-mail address, or a client address) with n
-- failures at or above its threshold waits 2^(n - threshold) seconds after
-- its last failure, at most login_max_wait; counters are forgotten
-- login_memory after the last failure. Sign-ups: at most the setting
-- backend_framework.signup_per_hour per client address and signup_window.
CREATE TYPE tenancy.throttling AS (
  login_per_address integer, login_per_email integer, login_max_wait integer, login_memory integer,
  signup_window integer);
COMMENT ON TYPE tenancy.throttling IS 'What tenancy.throttling() returns.';
CREATE FUNCTION tenancy.throttling() RETURNS tenancy.throttling
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE t tenancy.throttling;
BEGIN
  t.login_per_address := 5;
  t.login_per_email := 20;
  t.login_max_wait := 900;          -- 15 minutes; never a lock-out
  t.login_memory := 86400;          -- a day
  t.signup_window := 3600;          -- an hour
  RETURN t;
END $$;
COMMENT ON FUNCTION tenancy.throttling() IS 'Throttling in failures and seconds: password checks back off 2^(n - threshold) s from login_per_address failures per client address and login_per_email per e-mail address, at most login_max_wait, counters forgotten login_memory after the last failure; sign-ups per client address are counted over signup_window (limit: backend_framework.signup_per_hour).';
