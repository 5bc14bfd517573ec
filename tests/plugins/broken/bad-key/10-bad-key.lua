-- broken/bad-key: a key that is not ^[a-z0-9][a-z0-9-]*$.
local p = ctg.plugin{ name = "bad-key" }
p:indicator{ key = "Taux Réalisation", label = "T", compute = function() return 1 end }
