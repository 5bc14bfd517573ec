--[[
50-faults-memory.lua — test plugin "faults-memory", department 73
(tests/integration/test_plugin_faults.py): ways to exhaust the memory of the Lua state, or the
memory ctgd spends on a plugin's behalf outside it (JSON). Wired as
tests/plugins/faults-runaway/50-faults-runaway.lua says.
]]

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

-- the wiring, the same in every family
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
