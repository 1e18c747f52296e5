-- wrk script: POST a form body with optional Basic auth, from environment.
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY") or ""
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local auth = os.getenv("BENCH_AUTH")
if auth and auth ~= "" then wrk.headers["Authorization"] = auth end
local tenant = os.getenv("BENCH_TENANT")
if tenant and tenant ~= "" then wrk.headers["X-Tenant"] = tenant end
