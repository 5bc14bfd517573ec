-- broken/change-types-metatable: a list of change types with a metatable, whose __len would
-- run plugin code (here: register another plugin) while the list is read.
local p = ctg.plugin{ name = "change-types-metatable" }
local types = setmetatable({ "convention.updated" }, {
  __len = function()
    ctg.plugin{ name = "sneaky" }
    return 1
  end,
})
p:on_change(function() end, types)
