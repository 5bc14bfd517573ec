-- broken/syntax: a syntax error on line 4 (tests/unit/test_plugins.c, test_plugins.py).
local p = ctg.plugin{ name = "syntax" }

p:champ{ key = "x", label = "X" ]
