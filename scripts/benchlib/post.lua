-- wrk script: durable creates, each with a unique id (thread number and counter), of a
-- document of realistic shape read from the file named by the BENCH_DOC environment variable.
-- BENCH_PREFIX names the run, so that runs against the same store do not collide.
local template, prefix
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  local f = assert(io.open(os.getenv("BENCH_DOC"), "r"))
  template = f:read("a"):gsub("\n$", "")
  f:close()
  prefix = os.getenv("BENCH_PREFIX") or "wrk"
  counter = 0
end

function request()
  counter = counter + 1
  local body = template:gsub('"id":"[^"]*"', string.format('"id":"%s-%d-%d"', prefix, tid, counter), 1)
  return wrk.format("POST", "/v1/conventions", {["Content-Type"] = "application/json"}, body)
end
