-- faults-load/clock: the top level loops on a costly C call (wall-clock budget).
ctg.plugin{ name = "load-clock" }
local text = ("é"):rep(1 << 22)
while true do utf8.len(text) end
