--[[
10-finalizer.lua — test plugin "finalizer" (tests/unit/test_plugins.c,
tests/integration/test_plugins.py): a table whose __gc metamethod never ends, dropped at load
and again in a call. Lua runs finalizers with hooks off, so the instruction and time budgets must
be enforced some other way (or __gc refused): ctgd must neither hang in the garbage collector
after a load or a call, nor when it frees the state.
]]

local p = ctg.plugin{ name = "finalizer", label = "Finaliseur sans fin" }

setmetatable({}, { __gc = function() while true do end end })

p:export{ key = "drop", label = "Finaliseur", render = function()
  setmetatable({}, { __gc = function() while true do end end })
  local garbage = {}
  for i = 1, 200000 do garbage[i] = { i } end  -- enough allocation for a GC cycle
  return "dropped"
end }

p:export{ key = "ok", label = "OK", render = function() return "fine" end }
