-- broken/change-type-nul: a change type whose name goes on after a NUL byte.
local p = ctg.plugin{ name = "change-type-nul" }
p:on_change(function() end, { "convention.updated\0.x" })
