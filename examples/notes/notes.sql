-- examples/notes/notes.sql — the notes application, built only with the
-- public API of backend_framework, exactly as an application builds its
-- own endpoints: a plain table whose keys lead with tenant_id,
-- tenancy.enable_tenant_table() for isolation, one extra policy for who
-- sees what inside a tenant, grants to the application roles, handlers
-- (api.request) RETURNS api.response, and api.add_route for each endpoint.
-- Load it as a superuser or a platform operator (backend_admin) after
-- CREATE EXTENSION backend_framework; scripts/demo.sh (make run, make test)
-- does. Running it again changes nothing.

CREATE SCHEMA IF NOT EXISTS app;
COMMENT ON SCHEMA app IS 'The notes example application (examples/notes): copy its pattern for your own tables.';
GRANT USAGE ON SCHEMA app TO backend_gateway, backend_app, backend_admin;

CREATE TABLE IF NOT EXISTS app.notes (
  tenant_id  uuid NOT NULL,
  id         uuid NOT NULL DEFAULT gen_random_uuid(),
  author_id  uuid NOT NULL DEFAULT tenancy.current_user_id(),
  title      text NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 200),
  body       text NOT NULL DEFAULT '' CHECK (length(body) <= 100000),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, author_id) REFERENCES tenancy.users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS notes_author_idx ON app.notes (tenant_id, author_id, created_at);
COMMENT ON TABLE app.notes IS 'Notes of a tenant''s users (authors see theirs, admins all).';
-- tenant_id defaults to the context, RLS enabled and forced, the tenant policy.
SELECT tenancy.enable_tenant_table('app.notes');
-- Inside the tenant: your own notes, or all of them for admins and owners.
DROP POLICY IF EXISTS notes_visibility ON app.notes;
CREATE POLICY notes_visibility ON app.notes AS RESTRICTIVE FOR ALL
  USING (author_id = (SELECT tenancy.current_user_id()) OR (SELECT tenancy.is_tenant_admin()))
  WITH CHECK (author_id = (SELECT tenancy.current_user_id()) OR (SELECT tenancy.is_tenant_admin()));
GRANT SELECT, INSERT, DELETE ON app.notes TO backend_gateway, backend_app, backend_admin;
GRANT UPDATE (title, body) ON app.notes TO backend_gateway, backend_app, backend_admin;

CREATE OR REPLACE FUNCTION app.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END $$;
COMMENT ON FUNCTION app.touch_updated_at() IS 'Trigger: updated_at of a changed note.';
DROP TRIGGER IF EXISTS notes_touch ON app.notes;
CREATE TRIGGER notes_touch BEFORE UPDATE ON app.notes FOR EACH ROW EXECUTE FUNCTION app.touch_updated_at();

-- No SET clause and STABLE like jsonb_build_object (timestamps follow the
-- time zone), so the planner inlines it into the list's query: a SQL
-- function it cannot inline is planned again on every call, once per row.
-- Its one function is schema-qualified, so no search_path can change it.
CREATE OR REPLACE FUNCTION app.note_json(n app.notes) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT pg_catalog.jsonb_build_object('id', n.id, 'author_id', n.author_id, 'title', n.title, 'body', n.body,
                                       'created_at', n.created_at, 'updated_at', n.updated_at)
$$;
COMMENT ON FUNCTION app.note_json(app.notes) IS 'A note as the API shows it.';

CREATE OR REPLACE FUNCTION app.notes_list(r api.request) RETURNS api.response
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  lim integer := api.page_limit(r);
  k text := CASE WHEN r.query ? 'cursor' THEN api.cursor_decode(r.query->>'cursor') END;
  after uuid;
  items jsonb[];
  keys text[];
BEGIN
  PERFORM api.require_user();
  -- Checked, not caught: an EXCEPTION block would cost a subtransaction per call.
  IF k IS NOT NULL AND k !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
    RAISE EXCEPTION 'invalid cursor' USING ERRCODE = '22023';
  END IF;
  after := k::uuid;
  SELECT array_agg(app.note_json(n) ORDER BY n.id), array_agg(n.id::text ORDER BY n.id) INTO items, keys
    FROM (SELECT * FROM app.notes x WHERE x.tenant_id = tenancy.current_tenant_id() AND (after IS NULL OR x.id > after)
           ORDER BY x.id LIMIT lim + 1) n;
  RETURN api.page('notes', items, keys, lim);
END $$;
COMMENT ON FUNCTION app.notes_list(api.request) IS 'GET /api/v1/notes?limit=&cursor=.';

CREATE OR REPLACE FUNCTION app.note_fields(r api.request, p_required boolean, OUT title text, OUT body text)
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE doc jsonb := api.json_body(r);
BEGIN
  PERFORM api.only_fields(doc, '{title,body}');
  title := api.text_field(doc, 'title', p_required);
  body := api.text_field(doc, 'body');
  IF title IS NOT NULL AND length(btrim(title)) NOT BETWEEN 1 AND 200 THEN
    RAISE EXCEPTION 'a title has 1 to 200 characters' USING ERRCODE = '22023';
  END IF;
  IF length(body) > 100000 THEN
    RAISE EXCEPTION 'a body has at most 100000 characters' USING ERRCODE = '22023';
  END IF;
END $$;
COMMENT ON FUNCTION app.note_fields(api.request, boolean) IS 'title and body of a note request, validated.';

CREATE OR REPLACE FUNCTION app.note_create(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE f record; n app.notes;
BEGIN
  PERFORM api.require_user();
  f := app.note_fields(r, true);
  INSERT INTO app.notes (title, body) VALUES (btrim(f.title), coalesce(f.body, '')) RETURNING * INTO n;
  RETURN api.json(201, app.note_json(n), jsonb_build_object('Location', r.issuer || '/api/v1/notes/' || n.id));
END $$;
COMMENT ON FUNCTION app.note_create(api.request) IS 'POST /api/v1/notes.';

CREATE OR REPLACE FUNCTION app.note_get(r api.request) RETURNS api.response
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE n app.notes;
BEGIN
  SELECT * INTO n FROM app.notes WHERE tenant_id = tenancy.current_tenant_id() AND id = api.uuid_param(r, 'note');
  IF NOT FOUND THEN RAISE EXCEPTION 'note not found' USING ERRCODE = 'P0002'; END IF;
  RETURN api.json(200, app.note_json(n));
END $$;
COMMENT ON FUNCTION app.note_get(api.request) IS 'GET /api/v1/notes/{id}.';

CREATE OR REPLACE FUNCTION app.note_update(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE f record; n app.notes;
BEGIN
  f := app.note_fields(r, false);
  UPDATE app.notes SET title = coalesce(btrim(f.title), title), body = coalesce(f.body, body)
   WHERE tenant_id = tenancy.current_tenant_id() AND id = api.uuid_param(r, 'note') RETURNING * INTO n;
  IF NOT FOUND THEN RAISE EXCEPTION 'note not found' USING ERRCODE = 'P0002'; END IF;
  RETURN api.json(200, app.note_json(n));
END $$;
COMMENT ON FUNCTION app.note_update(api.request) IS 'PATCH /api/v1/notes/{id}.';

CREATE OR REPLACE FUNCTION app.note_delete(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  DELETE FROM app.notes WHERE tenant_id = tenancy.current_tenant_id() AND id = api.uuid_param(r, 'note');
  IF NOT FOUND THEN RAISE EXCEPTION 'note not found' USING ERRCODE = 'P0002'; END IF;
  RETURN ROW(204, '{}'::jsonb, NULL)::api.response;
END $$;
COMMENT ON FUNCTION app.note_delete(api.request) IS 'DELETE /api/v1/notes/{id}.';

-- Handlers run as the gateway's role: it (and SQL clients) may call them, nobody else.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA app FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA app TO backend_gateway, backend_app, backend_admin;

-- The endpoints. They take effect on the next request of a running gateway.
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT * FROM (VALUES
    ('GET',    '/api/v1/notes',      'app.notes_list(api.request)',  'read',  'List notes (yours; admins: all), with limit and cursor'),
    ('POST',   '/api/v1/notes',      'app.note_create(api.request)', 'write', 'Create a note'),
    ('GET',    '/api/v1/notes/{id}', 'app.note_get(api.request)',    'read',  'Read a note'),
    ('PATCH',  '/api/v1/notes/{id}', 'app.note_update(api.request)', 'write', 'Update a note'),
    ('DELETE', '/api/v1/notes/{id}', 'app.note_delete(api.request)', 'write', 'Delete a note')) v(m, p, h, s, d)
  LOOP
    IF NOT EXISTS (SELECT 1 FROM api.routes WHERE method = r.m AND pattern = r.p) THEN
      PERFORM api.add_route(r.m, r.p, r.h::regprocedure, 'bearer', r.s, r.d);
    END IF;
  END LOOP;
END $$;
