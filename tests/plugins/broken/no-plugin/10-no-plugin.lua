-- broken/no-plugin: a file that declares no plugin.
local x = 1
