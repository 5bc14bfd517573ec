-- broken/no-change-type: a change handler given an empty list of change types.
local p = ctg.plugin{ name = "no-change-type" }
p:on_change(function() end, {})
