-- examples/invoices/invoices.sql — the invoices endpoint that
-- docs/FRONTEND_DEVELOPMENT.md's "Adding a page" calls, built only with
-- the public API: a tenant table, a handler per endpoint, api.add_route.
-- GET /api/v1/invoices lists the organization's invoices (admins, newest
-- first, at most 20); POST /api/v1/invoices adds one ({"number", "total"}).
-- Load it as a superuser or a platform operator; scripts/demo.sh does.

CREATE TABLE IF NOT EXISTS public.invoices (
  tenant_id  uuid NOT NULL,
  id         bigint GENERATED ALWAYS AS IDENTITY,
  number     text NOT NULL CHECK (length(number) BETWEEN 1 AND 40),
  total      numeric(12, 2) NOT NULL CHECK (total >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, number)
);
COMMENT ON TABLE public.invoices IS 'Invoices of an organization (examples/invoices).';
SELECT tenancy.enable_tenant_table('public.invoices');
GRANT SELECT, INSERT ON public.invoices TO backend_gateway, backend_app;

CREATE OR REPLACE FUNCTION public.invoices_list(r api.request) RETURNS api.response
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM api.require_admin();
  RETURN api.json(200, jsonb_build_object('invoices', coalesce((
    SELECT jsonb_agg(jsonb_build_object('id', i.id, 'number', i.number, 'total', i.total, 'created_at', i.created_at)
                     ORDER BY i.id DESC)
      FROM (SELECT * FROM public.invoices x WHERE x.tenant_id = tenancy.current_tenant_id()
             ORDER BY x.id DESC LIMIT 20) i), '[]')));
END $$;
COMMENT ON FUNCTION public.invoices_list(api.request) IS 'GET /api/v1/invoices: the newest 20 invoices (admins).';

CREATE OR REPLACE FUNCTION public.invoice_create(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  doc jsonb := api.json_body(r);
  i public.invoices;
BEGIN
  PERFORM api.require_admin();
  PERFORM api.only_fields(doc, '{number,total}');
  IF jsonb_typeof(doc->'total') IS DISTINCT FROM 'number' THEN
    RAISE EXCEPTION '"total" must be a number' USING ERRCODE = '22023';
  END IF;
  INSERT INTO public.invoices (number, total) VALUES (api.text_field(doc, 'number', true), (doc->>'total')::numeric)
  RETURNING * INTO i;
  RETURN api.json(201, jsonb_build_object('id', i.id, 'number', i.number, 'total', i.total, 'created_at', i.created_at));
END $$;
COMMENT ON FUNCTION public.invoice_create(api.request) IS 'POST /api/v1/invoices {"number", "total"} (admins).';

REVOKE ALL ON FUNCTION public.invoices_list(api.request), public.invoice_create(api.request) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.invoices_list(api.request), public.invoice_create(api.request) TO backend_gateway, backend_app;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM api.routes WHERE pattern = '/api/v1/invoices' AND method = 'GET') THEN
    PERFORM api.add_route('GET', '/api/v1/invoices', 'public.invoices_list(api.request)', 'bearer', 'admin', 'List the organization''s newest invoices (admins)');
  END IF;
  IF NOT EXISTS (SELECT 1 FROM api.routes WHERE pattern = '/api/v1/invoices' AND method = 'POST') THEN
    PERFORM api.add_route('POST', '/api/v1/invoices', 'public.invoice_create(api.request)', 'bearer', 'admin', 'Add an invoice (admins)');
  END IF;
END $$;
