--[[
90-faults-witness.lua — test plugin "faults-witness", a base plugin (every department)
(tests/integration/test_plugin_faults.py). Loaded after the fault families (file-name order), it
shows that the others still work after a fault:
  * export "ok" and indicator "ok": a normal call;
  * export "large": 8 MiB, which fits in the test's 32 MiB cap only if a failed call gave its
    memory back;
  * export "churn": keeps 14 MiB while it makes 40 MiB of garbage: under the cap, as long as
    the garbage is collected when the cap is near (and twice in a row);
  * on_change publishes "witness" {id, rev, type}: it runs after a failing handler.
]]

local p = ctg.plugin{ name = "faults-witness", label = "Témoin" }

p:export{ key = "ok", label = "OK", render = function() return "fine" end }
p:export{ key = "large", label = "8 Mio", render = function() return ("w"):rep(8 << 20) end }
p:export{ key = "churn", label = "Déchets", render = function()
  local kept = ("k"):rep(14 << 20)
  for i = 1, 10 do local garbage = ("g"):rep(4 << 20) .. i end
  return "kept " .. #kept
end }
p:indicator{ key = "ok", label = "OK", compute = function() return 1 end }

p:on_change(function(event)
  ctg.publish("witness", { id = event.id, rev = event.rev, type = event.type })
end)
