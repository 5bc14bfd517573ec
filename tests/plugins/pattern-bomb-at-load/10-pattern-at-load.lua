--[[
10-pattern-at-load.lua — test plugin "pattern-at-load" (tests/integration/test_plugins.py):
the backtracking string.find of tests/plugins/pattern-bomb, run while the file loads (a load
is a budgeted call too): `ctgd --check` must fail on the time budget, not hang.
]]

local p = ctg.plugin{ name = "pattern-at-load", label = "Motif explosif au chargement" }

local found = string.rep("a", 20000):find(".-.-.-b")

p:export{ key = "ok", label = "OK", render = function() return tostring(found) end }
