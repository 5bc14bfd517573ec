-- tarantool_client.lua — the load generator for Tarantool in scripts/bench, run by tarantool
-- itself (net.box, its own iproto client):
--
--   tarantool tarantool_client.lua PORT write CLIENTS SECONDS DOC_FILE PREFIX
--   tarantool tarantool_client.lua PORT read  CLIENTS SECONDS ID
--   tarantool tarantool_client.lua PORT load  JSONL_FILE
--
-- write: CLIENTS fibers, each with its own connection (as wrk's connections), each calling
-- put(id, doc) one after the other with a new id, for SECONDS; read: the same with
-- conn.space.docs:get(ID) (an iproto SELECT by primary key). Prints one JSON line:
-- {"ops", "seconds", "rate", "errors"}. load: calls load_jsonl(JSONL_FILE) on the server.
local netbox = require('net.box')
local fiber = require('fiber')
local clock = require('clock')
local json = require('json')

local port, mode = arg[1], arg[2]
local address = '127.0.0.1:' .. port

if mode == 'load' then
  -- A call made while the server starts may be refused: its connection, guest's rights (the
  -- script grants them after box.cfg has opened the port) or load_jsonl() (defined last). It is
  -- made again, on a new connection, until the server is ready (10 s at most).
  local ok, n
  for _ = 1, 100 do
    local conn = netbox.connect(address)
    ok, n = pcall(conn.call, conn, 'load_jsonl', { arg[3] }, { timeout = 3600 })
    conn:close()
    local why = tostring(n)
    local early = why:find('refused', 1, true) or why:find('denied', 1, true) or
                  why:find('not defined', 1, true)
    if ok or not early then
      break
    end
    fiber.sleep(0.1)
  end
  if not ok then
    error('load: ' .. tostring(n))
  end
  print(json.encode({ loaded = n }))
  os.exit(0)
end

local clients, seconds = tonumber(arg[3]), tonumber(arg[4])
local doc, prefix, id
if mode == 'write' then
  local f = assert(io.open(arg[5], 'r'))
  doc = f:read('*a'):gsub('\n$', '')
  f:close()
  prefix = arg[6]
else
  id = arg[5]
end

local ops, errors, last_error = 0, 0, nil
local conns = {}
for c = 1, clients do
  conns[c] = netbox.connect(address)
  assert(conns[c]:ping(), 'cannot connect to ' .. address)
end

local start, deadline
local go = fiber.cond()
local done = fiber.channel(clients)
for c = 1, clients do
  fiber.create(function()
    local conn, i = conns[c], 0
    go:wait()
    while clock.monotonic() < deadline do
      i = i + 1
      local ok, res
      if mode == 'write' then
        local key = prefix .. '-' .. c .. '-' .. i
        local body = doc:gsub('"id":"[^"]*"', '"id":"' .. key .. '"', 1)
        ok, res = pcall(conn.call, conn, 'put', { key, body })
      else
        ok, res = pcall(function() return conn.space.docs:get(id) end)
        ok = ok and res ~= nil
      end
      if ok then
        ops = ops + 1
      else
        errors = errors + 1
        last_error = tostring(res)
      end
    end
    done:put(true)
  end)
end
fiber.sleep(0.05)
start = clock.monotonic()
deadline = start + seconds
go:broadcast()
for _ = 1, clients do
  done:get()
end
local elapsed = clock.monotonic() - start
print(json.encode({ ops = ops, seconds = elapsed, rate = ops / elapsed, errors = errors,
                    last_error = last_error }))
os.exit(0)
