-- faults-load/runaway: the top level of the file loops (instruction budget).
ctg.plugin{ name = "load-runaway" }
while true do end
