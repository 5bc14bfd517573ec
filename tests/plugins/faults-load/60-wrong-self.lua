-- faults-load/wrong-self: p.champ called without the plugin object.
local p = ctg.plugin{ name = "load-self" }
p.champ{ key = "sans-objet", label = "Sans objet" }
