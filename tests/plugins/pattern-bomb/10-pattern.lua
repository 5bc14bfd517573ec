--[[
10-pattern.lua — test plugin "pattern" (tests/unit/test_plugins.c; the same at load time is
tests/plugins/pattern-bomb-at-load, for tests/integration/test_plugins.py): string.find with a backtracking pattern runs for hours
inside one C function, where no Lua instruction is counted. The time budget of the call must
still stop it (or the call be refused) within about limits.lua_seconds.
]]

local p = ctg.plugin{ name = "pattern", label = "Motif explosif" }

local function bomb()
  return (string.rep("a", 20000):find(".-.-.-b")) or 0
end

p:indicator{ key = "pattern", label = "Motif", compute = function() return bomb() end }

p:export{ key = "ok", label = "OK", render = function() return "fine" end }

