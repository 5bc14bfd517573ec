-- faults-load/render-missing: a report without render.
local p = ctg.plugin{ name = "load-render" }
p:report{ key = "vide", label = "Vide" }
