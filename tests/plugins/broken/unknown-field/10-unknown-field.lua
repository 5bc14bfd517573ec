-- broken/unknown-field: a typo in a field of p:champ{} fails the load.
local p = ctg.plugin{ name = "typo" }
p:champ{ key = "x", labl = "X" }
