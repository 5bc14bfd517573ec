--[[
50-faults-runaway.lua — test plugin "faults-runaway", department 71
(tests/integration/test_plugin_faults.py): loops that spend the instruction budget.

Every fault family of tests/plugins/faults-* is wired the same way: each fault of FAULTS runs
  * as export "<fault>" and report "<fault>",
  * in indicator "probe", in validate and in on_change, for a convention titled
    "indicator:<fault>", "validate:<fault>" or "on_change:<fault>" (other conventions of the
    department are served normally).
]]

local p = ctg.plugin{ name = "faults-runaway", department = "71", label = "Boucles sans fin" }

local FAULTS = {
  ["loop"] = function() while true do end end,
  -- the spent budget comes back after every pcall that catches it
  ["loop-in-pcall"] = function()
    while true do pcall(function() while true do end end) end
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
