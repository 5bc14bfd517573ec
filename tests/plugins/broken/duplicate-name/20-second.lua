-- broken/duplicate-name: the second file declaring "twin".
local p = ctg.plugin{ name = "twin", department = "29" }
p:champ{ key = "y", label = "Y" }
