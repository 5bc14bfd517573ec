-- broken/wrong-type: a label that is not a string.
local p = ctg.plugin{ name = "wrong-type" }
p:export{ key = "k", label = 3, render = function() return "" end }
