-- faults-load/encode-shared: the top level encodes a table reached 2^40 times.
ctg.plugin{ name = "load-encode" }
local t = { "feuille" }
for _ = 1, 40 do t = { t, t } end
ctg.json.encode(t)
