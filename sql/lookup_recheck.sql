-- The direct index lookups of the hot paths (extension/src/lookup.c) and a
-- lossy index: oauth.tokens is found by digest through a hash index, which
-- keeps a 32-bit hash of each digest only. Two tokens whose digests share
-- that hash must never be taken for each other: the lookup compares the
-- row's own digest. The two tokens below were found by search (150,000
-- candidates, pageinspect); part 1 shows that they do collide.
\set VERBOSITY terse
\set t1 'bfat_11f1c752c87d9b31d7e943633908ed7fec32ce4a1cd'
\set t2 'bfat_215ffa397d7b841e000aedd29e7957577921ee42a66'
-- 1. The fixture: one hash code for both digests in a hash index.
CREATE EXTENSION pageinspect;
CREATE TABLE public.lr_pair (d bytea);
INSERT INTO public.lr_pair VALUES (oauth.token_digest(:'t1')), (oauth.token_digest(:'t2'));
CREATE INDEX lr_pair_h ON public.lr_pair USING hash (d);
SELECT count(DISTINCT p.d) AS digests, count(DISTINCT i.data) AS hash_codes
  FROM generate_series(1, pg_relation_size('lr_pair_h') / 8192 - 1) b,
       LATERAL hash_page_items(get_raw_page('lr_pair_h', b::int)) i,
       public.lr_pair p
 WHERE hash_page_type(get_raw_page('lr_pair_h', b::int)) = 'bucket' AND p.ctid = i.ctid;
DROP TABLE public.lr_pair;
DROP EXTENSION pageinspect;
-- 2. Only t2 is a token. t1 is unknown, in SQL and over HTTP, with or
--    without a tenant in the context; t2 works.
SELECT tenant_id AS lr FROM tenancy.register_tenant('lookup-r', 'Lookup R', 'owner@lookup-r.test', 'password123') \gset
INSERT INTO oauth.tokens (tenant_id, token_hash, kind, client_id, user_id, scope, expires_at)
SELECT :'lr', oauth.token_digest(:'t2'), 'access', c.client_id, u.id, 'profile read', now() + interval '1 hour'
  FROM oauth.clients c, tenancy.users u WHERE c.tenant_id = :'lr' AND c.builtin AND u.tenant_id = :'lr';
CREATE FUNCTION pg_temp.check(p_token text, p_tenant text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  IF p_tenant IS NOT NULL THEN PERFORM tenancy.enter_tenant(p_tenant); END IF;
  PERFORM tenancy.authenticate(p_token);
  RETURN 'ok: ' || current_setting('backend_framework.scopes');
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ' ' || SQLERRM;
END $$;
SELECT pg_temp.check(:'t1', NULL) AS t1, pg_temp.check(:'t1', 'lookup-r') AS t1_in_tenant,
       pg_temp.check(:'t2', NULL) AS t2;
SELECT h.status, h.body::jsonb ->> 'error' AS error
  FROM unnest(ARRAY[:'t1', :'t2']) WITH ORDINALITY AS t(tok, i),
       LATERAL api.handle_request('GET', '/api/v1/me', '', jsonb_build_object('host', 'localhost', 'x-tenant', 'lookup-r',
                                  'authorization', 'Bearer ' || t.tok), NULL, '192.0.2.1') h
 ORDER BY t.i;
