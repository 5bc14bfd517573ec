-- broken/publish-at-load: ctg.publish works only while a convention or a change is handled.
local p = ctg.plugin{ name = "early" }
ctg.publish("early", { x = 1 })
