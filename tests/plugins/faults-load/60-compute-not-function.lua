-- faults-load/compute-not-function: an indicator whose compute is a number.
local p = ctg.plugin{ name = "load-compute" }
p:indicator{ key = "nombre", label = "Nombre", compute = 42 }
