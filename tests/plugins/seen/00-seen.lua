-- tests/plugins/seen: a base plugin whose on_change handler logs every change it is given
-- ("seen <seq> <id>"), for test_plugins.py to check that the handlers see each change once, in
-- seq order, whether the publisher handed it over or it was read from the log.
local p = ctg.plugin{ name = "seen", label = "Every change, logged" }

p:on_change(function(event)
  ctg.log("seen", event.seq, event.id)
end)
