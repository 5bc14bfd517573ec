--[[
50-faults-callbacks.lua — the fault families of tests/integration/test_plugin_faults.py: five
test plugins, one department each, whose faults run in every callback.

Every family is wired the same way (`wire` below): each fault of its FAULTS runs
  * as export "<fault>" and report "<fault>",
  * in indicator "probe", in validate and in on_change, for a convention titled
    "indicator:<fault>", "validate:<fault>" or "on_change:<fault>" (other conventions of the
    department are served normally).
]]

local function wire(p, FAULTS)
  local function fault_for(place, conv)
    local title = type(conv) == "table" and conv.title
    return type(title) == "string" and FAULTS[title:match("^" .. place .. ":(.*)$") or ""]
  end
  for name, fault in pairs(FAULTS) do
    p:export{ key = name, label = name, render = fault }
    p:report{ key = name, label = name, render = fault }
  end
  p:indicator{ key = "probe", label = "Sonde", compute = function(conv)
    local fault = fault_for("indicator", conv)
    if fault then return fault() end
    return 1
  end }
  p:validate(function(conv)
    local fault = fault_for("validate", conv)
    if fault then return fault() end
  end)
  p:on_change(function(event)
    local fault = fault_for("on_change", event.doc)
    if fault then fault() end
  end)
end

-- "faults-runaway", department 71: loops that spend the instruction budget.
do
  local p = ctg.plugin{ name = "faults-runaway", department = "71", label = "Boucles sans fin" }

  local FAULTS = {
    ["loop"] = function() while true do end end,
    -- the spent budget comes back after every pcall that catches it
    ["loop-in-pcall"] = function()
      while true do pcall(function() while true do end end) end
    end,
  }
  wire(p, FAULTS)
end

-- "faults-clock", department 72: loops that spend the wall-clock budget (lua_seconds) with few
-- instructions, each one a call or a copy that takes milliseconds.
do
  local p = ctg.plugin{ name = "faults-clock", department = "72", label = "Appels coûteux" }

  local FAULTS = {
    -- one call of a C function a loop: utf8.len reads 16 MiB each time, allocating nothing
    ["c-calls"] = function()
      local text = ("é"):rep(1 << 23)
      while true do utf8.len(text) end
    end,
    -- one instruction a copy: each concatenation copies 64 MiB
    ["long-copies"] = function()
      local text = ("x"):rep(32 << 20)
      while true do local copy = text .. text end
    end,
  }
  wire(p, FAULTS)
end

-- "faults-memory", department 73: ways to exhaust the memory of the Lua state, or the memory
-- ctgd spends on a plugin's behalf outside it (JSON).
do
  local p = ctg.plugin{ name = "faults-memory", department = "73", label = "Bombes mémoire" }

  local FAULTS = {
    ["table-growth"] = function()
      local t = {}
      while true do t[#t + 1] = ("x"):rep(65536) .. #t end  -- 64 KiB an item, all different
    end,
    ["string-doubling"] = function()
      local s = "x"
      while true do s = s .. s end
    end,
    ["string-rep"] = function() return ("x"):rep(1 << 30) end,
    -- many locals make big stack frames: the Lua stack reaches the cap (or its own limit of a
    -- million slots) within the instruction budget
    ["deep-recursion"] = function()
      local function deep()
        local a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, q, r, s, t, u, v, w, x, y, z
        return deep() + 1
      end
      return deep()
    end,
    -- a recursion through a C function (gsub calls it back): the C stack overflows
    ["c-stack-overflow"] = function()
      local function deep() return (("x"):gsub("x", deep)) end
      return deep()
    end,
    -- a table reached 2^40 times: a few bytes in Lua, terabytes as JSON
    ["encode-shared"] = function()
      local t = { "feuille" }
      for _ = 1, 40 do t = { t, t } end
      return ctg.json.encode(t)
    end,
    -- 8 MB of text, 4 million values: some twenty times that in C once decoded
    ["decode-wide"] = function()
      return ctg.json.decode("[" .. ("0,"):rep(4000000) .. "0]")
    end,
  }
  wire(p, FAULTS)
end

-- "faults-errors", department 74: errors raised with every kind of value, and values whose
-- metamethods raise (ctgd must never call them).
do
  local p = ctg.plugin{ name = "faults-errors", department = "74", label = "Erreurs levées" }

  -- a table whose every metamethod raises: ctgd reads results raw, so none may run
  local function trap()
    local function raise(what) return function() error(what .. " appelé") end end
    return setmetatable({ "piège" }, { __index = raise("__index"), __newindex = raise("__newindex"),
      __tostring = raise("__tostring"), __len = raise("__len"), __pairs = raise("__pairs"),
      __eq = raise("__eq"), __concat = raise("__concat"), __call = raise("__call"),
      __name = "piège", __metatable = "piège" })
  end

  local FAULTS = {
    ["string"] = function() error("panne volontaire") end,
    ["table"] = function() error({ code = 1 }) end,
    ["nil"] = function() error(nil) end,
    ["tostring-loop"] = function()
      error(setmetatable({}, { __tostring = function() while true do end end }))
    end,
    ["tostring-trap"] = function() error(trap()) end,
    ["returns-trap"] = function() return trap() end,
    ["not-utf8"] = function() error("octets \255\254 invalides") end,
    -- a long French message is cut to fit: one of the two is cut inside a character
    ["long-french-even"] = function() error(("é"):rep(600)) end,
    ["long-french-odd"] = function() error("x" .. ("é"):rep(600)) end,
  }
  wire(p, FAULTS)
end

-- "faults-returns", department 75: results of every kind, right or wrong depending on the
-- callback (an indicator wants a number or nil, a rendering a string, a validator nil, a
-- message or a list of {path, message}).
do
  local p = ctg.plugin{ name = "faults-returns", department = "75",
                        label = "Résultats de mauvais type" }

  local FAULTS = {
    ["table"] = function() return { 1, 2 } end,
    ["string"] = function() return "douze" end,
    ["nan"] = function() return 0 / 0 end,
    ["inf"] = function() return math.huge end,
    ["nil"] = function() return nil end,
    ["number"] = function() return 42 end,
    ["boolean"] = function() return true end,
    ["function"] = function() return print end,
    ["huge-string"] = function() return ("x"):rep(100 << 20) end,   -- over the memory cap
    ["large-string"] = function() return ("x"):rep(8 << 20) end,    -- under it
    -- lists of problems, as validate returns them
    ["details-ok"] = function() return { { path = "/title", message = "titre refusé" } } end,
    ["details-no-message"] = function() return { { path = "/title" } } end,
    ["details-path-number"] = function() return { { path = 1, message = "m" } } end,
    ["details-strings"] = function() return { "un", "deux" } end,
    ["details-not-utf8"] = function() return { { path = "/title", message = "\255" } } end,
    ["details-mixed-keys"] = function() return { { path = "/title", message = "m" }, n = 1 } end,
    -- one message of 2 KiB in 50 000 problems: 100 MB of JSON from 6 MB of Lua
    ["details-flood"] = function()
      local message, list = ("m"):rep(2048), {}
      for i = 1, 50000 do list[i] = { path = "/title", message = message } end
      return list
    end,
  }
  wire(p, FAULTS)
end
