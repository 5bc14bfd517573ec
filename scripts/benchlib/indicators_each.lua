-- indicators_each.lua — wrk script: GET the indicators of a different convention each request
-- (bench-<k>, k going round the BENCH_COUNT stored ones from a random start), so that every
-- answer is computed by the plugins and none comes from limits.result_cache, which holds far
-- fewer answers than a round of the ids.
local count = tonumber(os.getenv("BENCH_COUNT") or "100000")
local k = math.random(0, count - 1)

request = function()
  k = (k + 1) % count
  return wrk.format("GET", "/v1/conventions/bench-" .. k .. "/indicators")
end
