--[[
30-other.lua — test plugin "t-30" for department 30 (tests/unit/test_plugins.c): its champ,
validator and change handler must never be seen by a convention of department 29.
]]

local p = ctg.plugin{ name = "t-30", department = "30", label = "Caf de test du Gard" }

p:champ{ key = "delta", label = "Delta" }

p:validate(function(conv)
  return { { path = "", message = "t-30 ran" } }
end)

p:on_change(function(event)
  ctg.publish("t30", { id = event.id })
end)
