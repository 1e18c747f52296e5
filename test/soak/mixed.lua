-- wrk script of test/soak/soak.sh: a mix of reads and writes across tenants.
-- SOAK_TENANTS="slug:token:note_id,..."; SOAK_RATE (req/s per wrk thread;
-- empty or 0 = as fast as possible). Mix per tenant: 40% GET a note,
-- 30% GET /me, 15% POST a note, 15% PATCH a note (tables grow slowly).
local ffi = require("ffi")
ffi.cdef[[ typedef struct { long tv_sec; long tv_nsec; } soak_ts; int clock_gettime(int, soak_ts *); ]]
local ts = ffi.new("soak_ts")
local function now_ms() ffi.C.clock_gettime(1, ts); return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6 end

local reqs = {}
local n = 0
for slug, token, note in string.gmatch(os.getenv("SOAK_TENANTS") or "", "([^:,]+):([^:,]+):([^:,]+)") do
  local p = "/t/" .. slug .. "/api/v1"
  local auth = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
  local get_note = wrk.format("GET", p .. "/notes/" .. note, auth)
  local me = wrk.format("GET", p .. "/me", auth)
  local post = wrk.format("POST", p .. "/notes", auth, '{"title": "soak", "body": "a note written by the soak test"}')
  local patch = wrk.format("PATCH", p .. "/notes/" .. note, auth, '{"body": "updated by the soak test"}')
  for _, r in ipairs({ get_note, me, get_note, post, get_note, me, get_note, patch, me, get_note,
                       get_note, me, post, get_note, patch, me, get_note, post, patch, me }) do
    n = n + 1; reqs[n] = r
  end
end
local i = 0
function request()
  i = i % n + 1
  return reqs[i]
end

local rate = tonumber(os.getenv("SOAK_RATE") or "0") or 0
if rate > 0 then
  local interval = 1000 / rate
  local next_at = 0
  -- One schedule per thread shared by its connections: fixed rate, as long
  -- as enough connections are free (wrk measures latency from the send).
  function delay()
    local t = now_ms()
    if next_at < t then next_at = t end
    local d = next_at - t
    next_at = next_at + interval
    return d
  end
end
