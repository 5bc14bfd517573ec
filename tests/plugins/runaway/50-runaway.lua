--[[
50-runaway.lua — test plugins that spend their budgets (tests/unit/test_plugins.c,
tests/integration/test_plugins.py). One plugin per department, so that each indicator list
holds one runaway only:
  01 "runaway"         indicator "loop": while true do end
  02 "runaway-pcall"   indicator "pcall-loop": the loop inside pcall, inside a loop
  03 "runaway-xpcall"  indicator "xpcall-loop": the same with xpcall and a handler that loops
                       (once the budget is spent, Lua calls the handler from inside the
                       budget hook, where hooks are off: the tests run it with a deadline)
  04 "memory"          exports that exhaust the memory cap, and "ok"
]]

local loop = ctg.plugin{ name = "runaway", department = "01", label = "Boucle sans fin" }
loop:indicator{ key = "loop", label = "Boucle", compute = function()
  while true do end
end }
loop:export{ key = "ok", label = "OK", render = function() return "fine" end }

local with_pcall = ctg.plugin{ name = "runaway-pcall", department = "02" }
with_pcall:indicator{ key = "pcall-loop", label = "Boucle sous pcall", compute = function()
  while true do
    pcall(function() while true do end end)
  end
end }

local with_xpcall = ctg.plugin{ name = "runaway-xpcall", department = "03" }
with_xpcall:indicator{ key = "xpcall-loop", label = "Boucle sous xpcall", compute = function()
  local caught = 0
  while true do
    xpcall(function() while true do end end, function() caught = caught + 1 while true do end end)
  end
end }

local memory = ctg.plugin{ name = "memory", department = "04" }
memory:export{ key = "bomb-string", label = "Chaîne qui double", render = function()
  local s = "x"
  while true do s = s .. s end
end }
memory:export{ key = "bomb-table", label = "Table qui grossit", render = function()
  local t, i = {}, 0
  while true do
    i = i + 1
    -- 256 KiB an item: the cap comes long before the budgets, even on a slow, loaded machine
    t[i] = { i, string.rep("x", 262144) .. i }
  end
end }
memory:export{ key = "bomb-pcall", label = "Mémoire sous pcall", render = function()
  local ok = pcall(function() local s = "x" while true do s = s .. s end end)
  return "survived, pcall said " .. tostring(ok)
end }
memory:export{ key = "bomb-rep", label = "string.rep", render = function()
  return string.rep("x", 1 << 30)
end }
memory:export{ key = "ok", label = "OK", render = function() return "fine" end }
memory:indicator{ key = "ok", label = "OK", compute = function() return 1 end }
