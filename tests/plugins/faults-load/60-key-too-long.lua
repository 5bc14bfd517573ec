-- faults-load/key-too-long: an export key over 64 bytes.
local p = ctg.plugin{ name = "load-key" }
p:export{ key = ("k"):rep(65), label = "Longue", render = function() return "" end }
