--[[
10-backdoor.lua — test plugin "backdoor" (tests/unit/test_plugins.c): ways to change what other
plugins see that go around the read-only tables rather than through them:
  * pairs() on a read-only library answers the iterator, then the table *behind* the proxy
    (its second value): writing into that table changes the library for every plugin;
  * ctg.json.array_mt / ctg.json.object_mt (also getmetatable(conv)) are the metatables of every
    document handed to every plugin: a plugin can give them __index / __newindex.
The export "tamper" tries each; the victim plugin (tests/plugins/victim) shows the effect.
]]

local p = ctg.plugin{ name = "backdoor", label = "Plugin par la porte de service" }

local encode, tostring_ = ctg.json.encode, tostring  -- taken before the tampering

local function behind(proxy)
  local _, real = pairs(proxy)
  if type(real) ~= "table" then error("pairs gave no table") end
  return real
end

local T = {}
T["pairs(string) -> upper"] = function()
  behind(string).upper = function() return "PWNED" end
end
T["pairs(table) -> concat"] = function()
  behind(table).concat = function() return "PWNED" end
end
T["pairs(ctg) -> csv"] = function()
  behind(ctg).csv = function() return "PWNED" end
end
T["pairs(ctg.json) -> encode"] = function()
  behind(ctg.json).encode = function() return "PWNED" end
end
T["pairs(globals) -> tostring"] = function()
  behind(load("return _ENV")()).tostring = function() return "PWNED" end
end
T["pairs(globals) -> new global"] = function()
  behind(load("return _ENV")()).leaked_global = "PWNED"
end
T["object_mt.__index"] = function()
  ctg.json.object_mt.__index = function() return "PWNED" end
end
T["getmetatable(conv).__newindex"] = function(conv)
  getmetatable(conv).__newindex = function() end
end

p:export{ key = "tamper", label = "Altération", content_type = "application/json",
  render = function(conv)
    local results = {}
    for name, f in pairs(T) do
      local ok, err = pcall(f, conv)
      results[name] = ok and "DONE" or ("refused: " .. tostring_(err))
    end
    return encode(results)
  end }
