--[[
50-faults-clock.lua — test plugin "faults-clock", department 72
(tests/integration/test_plugin_faults.py): loops that spend the wall-clock budget (lua_seconds)
with few instructions, each one a call or a copy that takes milliseconds. Wired as
tests/plugins/faults-runaway/50-faults-runaway.lua says.
]]

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
