-- The request context: readers fail closed, only the extension sets it,
-- and it lives exactly as long as the transaction.
\set VERBOSITY terse
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bf_test_app') THEN
    CREATE ROLE bf_test_app LOGIN IN ROLE backend_app; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bf_test_gw') THEN
    CREATE ROLE bf_test_gw LOGIN IN ROLE backend_gateway; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bf_test_admin') THEN
    CREATE ROLE bf_test_admin LOGIN IN ROLE backend_admin; END IF;
END $$;
-- Unset: NULL / false.
SELECT tenancy.current_tenant_id(), tenancy.current_user_id(), tenancy.current_user_role(),
       tenancy.current_client_id(), tenancy.has_scope('read');
SELECT provolatile, proparallel FROM pg_proc WHERE oid = 'tenancy.current_tenant_id'::regproc;
-- Set inside a transaction, gone after COMMIT.
BEGIN;
SELECT tenancy._set_context('11111111-1111-1111-1111-111111111111', '22222222-2222-2222-2222-222222222222',
                            'admin', 'read write', 'bfci_x');
SELECT tenancy.current_tenant_id(), tenancy.current_user_id(), tenancy.current_user_role(), tenancy.current_client_id();
SELECT tenancy.has_scope('read'), tenancy.has_scope('write'), tenancy.has_scope('rea'), tenancy.has_scope(''),
       tenancy.has_scope('read write'), tenancy.has_scope(NULL);
COMMIT;
SELECT tenancy.current_tenant_id(), tenancy.current_user_role();
-- Gone after ROLLBACK.
BEGIN;
SELECT tenancy._set_context('11111111-1111-1111-1111-111111111111', NULL, 'user', NULL, NULL);
ROLLBACK;
SELECT tenancy.current_tenant_id();
-- A savepoint rolled back undoes what was set after it, keeps what was before.
BEGIN;
SELECT tenancy._set_context('11111111-1111-1111-1111-111111111111', NULL, 'user', NULL, NULL);
SAVEPOINT s;
SELECT tenancy._set_context('33333333-3333-3333-3333-333333333333', NULL, 'owner', NULL, NULL);
ROLLBACK TO SAVEPOINT s;
SELECT tenancy.current_tenant_id(), tenancy.current_user_role();
COMMIT;
-- Malformed values are refused even for a superuser.
SET backend_framework.tenant_id = 'not-a-uuid';
SET backend_framework.user_role = 'superhero';
-- The prefix is reserved: no placeholder settings under it.
SET backend_framework.made_up = 'x';
-- Settings of the deployment.
SHOW backend_framework.base_domain;
SHOW backend_framework.tenant_strategies;
-- The library is preloaded (the extension refuses to work otherwise, see test/sh/preload.sh).
SELECT 'backend_framework' = ANY (string_to_array(current_setting('shared_preload_libraries'), ','));
