-- faults-load/memory: the top level fills the memory cap (a string that doubles).
ctg.plugin{ name = "load-memory" }
local s = "x"
while true do s = s .. s end
