-- broken/bad-change-type: a change handler for a change type that does not exist.
local p = ctg.plugin{ name = "bad-change-type" }
p:on_change(function() end, { "convention.updated", "convention.renamed" })
