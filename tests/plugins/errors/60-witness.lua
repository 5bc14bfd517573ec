--[[
60-witness.lua — test plugin "witness" for department 05: its change handler runs after the
failing one of "faulty" (file-name order) and must still run; it publishes "witness".
]]

local p = ctg.plugin{ name = "witness", department = "05", label = "Témoin" }

p:on_change(function(event)
  ctg.publish("witness", { id = event.id, type = event.type })
end)
