-- faults-load/fields-metatable: registration fields given through a metatable.
local p = ctg.plugin{ name = "load-metatable" }
p:champ(setmetatable({}, { __index = { key = "cache", label = "Caché" } }))
