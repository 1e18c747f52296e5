-- 55_app_notes.sql — the example application resource, built exactly as an
-- application on Backend Framework builds its own tables: a plain table
-- whose keys lead with tenant_id, tenancy.enable_tenant_table() for
-- isolation, one extra policy for who sees what inside a tenant, grants to
-- the application roles, and route handlers that rely on all of that.

CREATE SCHEMA app;
COMMENT ON SCHEMA app IS 'backend_framework: the example application (notes); copy its pattern for your own tables.';
GRANT USAGE ON SCHEMA app TO backend_gateway, backend_app, backend_admin, backend_definer;

CREATE TABLE app.notes (
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
CREATE INDEX notes_author_idx ON app.notes (tenant_id, author_id, created_at);
COMMENT ON TABLE app.notes IS 'Example application table: notes of a tenant''s users (authors see theirs, admins all).';
SELECT tenancy.enable_tenant_table('app.notes');
SELECT pg_catalog.pg_extension_config_dump('app.notes', '');
-- Made by the extension itself: CREATE EXTENSION registers it again on restore.
UPDATE tenancy.tenant_tables SET builtin = true WHERE table_name = 'app.notes'::regclass;
-- Inside the tenant: your own notes, or all of them for admins and owners.
CREATE POLICY notes_visibility ON app.notes AS RESTRICTIVE FOR ALL
  USING (author_id = (SELECT tenancy.current_user_id()) OR (SELECT tenancy.is_tenant_admin()))
  WITH CHECK (author_id = (SELECT tenancy.current_user_id()) OR (SELECT tenancy.is_tenant_admin()));
GRANT SELECT, INSERT, DELETE ON app.notes TO backend_gateway, backend_app, backend_admin;
GRANT UPDATE (title, body) ON app.notes TO backend_gateway, backend_app, backend_admin;
CREATE TRIGGER notes_touch BEFORE UPDATE ON app.notes FOR EACH ROW EXECUTE FUNCTION tenancy._touch_updated_at();

CREATE FUNCTION app.note_json(n app.notes) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object('id', n.id, 'author_id', n.author_id, 'title', n.title, 'body', n.body,
                            'created_at', n.created_at, 'updated_at', n.updated_at)
$$;
COMMENT ON FUNCTION app.note_json(app.notes) IS 'A note as the API shows it.';

CREATE FUNCTION api.h_notes_list(r api.request) RETURNS api.response
LANGUAGE plpgsql STABLE AS $$
DECLARE
  lim integer := api.page_limit(r);
  after uuid;
  items jsonb[];
  keys text[];
BEGIN
  PERFORM api.require_user();
  after := CASE WHEN r.query ? 'cursor' THEN api.cursor_decode(r.query->>'cursor')::uuid END;
  SELECT array_agg(app.note_json(n) ORDER BY n.id), array_agg(n.id::text ORDER BY n.id) INTO items, keys
    FROM (SELECT * FROM app.notes x WHERE x.tenant_id = tenancy.current_tenant_id() AND (after IS NULL OR x.id > after)
           ORDER BY x.id LIMIT lim + 1) n;
  RETURN api.page('notes', items, keys, lim);
EXCEPTION WHEN invalid_text_representation THEN
  RAISE EXCEPTION 'invalid cursor' USING ERRCODE = '22023';
END $$;
COMMENT ON FUNCTION api.h_notes_list(api.request) IS 'GET /api/v1/notes?limit=&cursor=.';

CREATE FUNCTION api.note_fields(r api.request, p_required boolean, OUT title text, OUT body text)
LANGUAGE plpgsql IMMUTABLE AS $$
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
COMMENT ON FUNCTION api.note_fields(api.request, boolean) IS 'title and body of a note request, validated.';

CREATE FUNCTION api.h_note_create(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
DECLARE f record; n app.notes;
BEGIN
  PERFORM api.require_user();
  f := api.note_fields(r, true);
  INSERT INTO app.notes (title, body) VALUES (btrim(f.title), coalesce(f.body, '')) RETURNING * INTO n;
  RETURN api.json(201, app.note_json(n), jsonb_build_object('Location', r.issuer || '/api/v1/notes/' || n.id));
END $$;
COMMENT ON FUNCTION api.h_note_create(api.request) IS 'POST /api/v1/notes.';

CREATE FUNCTION api.h_note_get(r api.request) RETURNS api.response
LANGUAGE plpgsql STABLE AS $$
DECLARE n app.notes;
BEGIN
  SELECT * INTO n FROM app.notes WHERE tenant_id = tenancy.current_tenant_id() AND id = api.uuid_param(r, 'note');
  IF NOT FOUND THEN RAISE EXCEPTION 'note not found' USING ERRCODE = 'P0002'; END IF;
  RETURN api.json(200, app.note_json(n));
END $$;
COMMENT ON FUNCTION api.h_note_get(api.request) IS 'GET /api/v1/notes/{id}.';

CREATE FUNCTION api.h_note_update(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
DECLARE f record; n app.notes;
BEGIN
  f := api.note_fields(r, false);
  UPDATE app.notes SET title = coalesce(btrim(f.title), title), body = coalesce(f.body, body)
   WHERE tenant_id = tenancy.current_tenant_id() AND id = api.uuid_param(r, 'note') RETURNING * INTO n;
  IF NOT FOUND THEN RAISE EXCEPTION 'note not found' USING ERRCODE = 'P0002'; END IF;
  RETURN api.json(200, app.note_json(n));
END $$;
COMMENT ON FUNCTION api.h_note_update(api.request) IS 'PATCH /api/v1/notes/{id}.';

CREATE FUNCTION api.h_note_delete(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  DELETE FROM app.notes WHERE tenant_id = tenancy.current_tenant_id() AND id = api.uuid_param(r, 'note');
  IF NOT FOUND THEN RAISE EXCEPTION 'note not found' USING ERRCODE = 'P0002'; END IF;
  RETURN ROW(204, '{}'::jsonb, NULL)::api.response;
END $$;
COMMENT ON FUNCTION api.h_note_delete(api.request) IS 'DELETE /api/v1/notes/{id}.';
