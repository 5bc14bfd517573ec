-- broken/duplicate-key: two base plugins declare the champ "same".
local p = ctg.plugin{ name = "one" }
p:champ{ key = "same", label = "Same" }
