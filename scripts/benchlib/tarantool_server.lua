-- tarantool_server.lua — Tarantool as a peer of ctgd in scripts/bench.
--
--   tarantool tarantool_server.lua PORT WORK_DIR
--
-- One memtx space `docs` {id string, doc string} with a primary TREE index, the WAL synced on
-- every commit (wal_mode = 'fsync'; the WAL thread groups the commits that arrive together, as
-- a group commit does). Functions for iproto CALL:
--   put(id, doc)  replace in a transaction; a box.on_commit trigger hands the document to every
--                 subscriber once the WAL write is synced; answers true after the commit.
--   subscribe()   never returns: box.session.push-es each committed document to the caller
--                 (IPROTO_CHUNK messages; Tarantool 2.6 has no box.watch, that came in 2.10).
--                 First pushes "ready". Each subscriber has a queue (a fiber.cond wakes it): a
--                 trigger may not yield, so it only appends and signals.
--   load_jsonl(path) reads JSON lines, id taken from the line, replace in transactions of
--                 1000 (used to fill the space before the measures; no notification). Not
--                 `load`: a call made before the function is defined would run Lua's own
--                 load(), which compiles the path and answers nil, not an error.
-- Reads are plain iproto SELECTs by primary key (net.box: conn.space.docs:get(id)).
local port, work_dir = arg[1], arg[2]
local fiber = require('fiber')

box.cfg{
  listen = '127.0.0.1:' .. port,
  work_dir = work_dir,
  wal_mode = 'fsync',
  memtx_memory = 4 * 1024 * 1024 * 1024,   -- the 100k set and every write of the full run
  checkpoint_interval = 0,
  log = work_dir .. '/tarantool.log',
  log_level = 4,
  net_msg_max = 4096,
}
box.schema.user.grant('guest', 'read,write,execute', 'universe', nil, { if_not_exists = true })
local docs = box.schema.space.create('docs', { if_not_exists = true })
docs:create_index('pk', { type = 'TREE', parts = { 1, 'string' }, if_not_exists = true })

local QUEUE_MAX = 1000000   -- a subscriber that falls this far behind loses documents
local subscribers = {}

local function notify(doc)
  for q in pairs(subscribers) do
    if #q.items < QUEUE_MAX then
      q.items[#q.items + 1] = doc
    end
    q.cond:signal()
  end
end

function put(id, doc)
  box.begin()
  docs:replace{ id, doc }
  box.on_commit(function() notify(doc) end)
  box.commit()
  return true
end

function subscribe()
  local q = { items = {}, cond = fiber.cond() }
  subscribers[q] = true
  local ok = pcall(box.session.push, 'ready')
  while ok do
    if #q.items == 0 then
      q.cond:wait(1)
    end
    local items = q.items
    q.items = {}
    for _, doc in ipairs(items) do
      ok = pcall(box.session.push, doc)
      if not ok then
        break
      end
    end
    if not box.session.exists(box.session.id()) then
      ok = false
    end
  end
  subscribers[q] = nil
end

function load_jsonl(path)
  local n = 0
  box.begin()
  for line in io.lines(path) do
    local id = line:match('"id":"([^"]+)"')
    docs:replace{ id, line }
    n = n + 1
    if n % 1000 == 0 then
      box.commit()
      box.begin()
    end
  end
  box.commit()
  return n
end
