-- broken/runtime: an error raised while the file runs, on line 5.
local p = ctg.plugin{ name = "runtime" }
p:champ{ key = "x", label = "X" }
local t = nil
local n = t.field
