-- faults-load/label-not-utf8: a label that is not UTF-8 could not be shown as JSON.
local p = ctg.plugin{ name = "load-label" }
p:champ{ key = "octets", label = "champ \255" }
