-- broken/duplicate-name: the first of two files declaring the plugin "twin".
local p = ctg.plugin{ name = "twin" }
p:champ{ key = "x", label = "X" }
