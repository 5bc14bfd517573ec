-- broken/duplicate-key: the second base plugin declaring the champ "same".
local p = ctg.plugin{ name = "two" }
p:champ{ key = "same", label = "Same again" }
