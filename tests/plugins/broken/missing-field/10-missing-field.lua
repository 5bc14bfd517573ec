-- broken/missing-field: an indicator without compute.
local p = ctg.plugin{ name = "missing-field" }
p:indicator{ key = "k", label = "K" }
