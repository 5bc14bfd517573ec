-- broken/change-type-string: the change types given as a string, not a list of them.
local p = ctg.plugin{ name = "change-type-string" }
p:on_change(function() end, "convention.updated")
