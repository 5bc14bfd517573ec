--[[
50-faults-returns.lua — test plugin "faults-returns", department 75
(tests/integration/test_plugin_faults.py): results of every kind, right or wrong depending on
the callback (an indicator wants a number or nil, a rendering a string, a validator nil, a
message or a list of {path, message}). Wired as
tests/plugins/faults-runaway/50-faults-runaway.lua says.
]]

local p = ctg.plugin{ name = "faults-returns", department = "75", label = "Résultats de mauvais type" }

local FAULTS = {
  ["table"] = function() return { 1, 2 } end,
  ["string"] = function() return "douze" end,
  ["nan"] = function() return 0 / 0 end,
  ["inf"] = function() return math.huge end,
  ["nil"] = function() return nil end,
  ["number"] = function() return 42 end,
  ["boolean"] = function() return true end,
  ["function"] = function() return print end,
  ["huge-string"] = function() return ("x"):rep(100 << 20) end,   -- over the memory cap
  ["large-string"] = function() return ("x"):rep(8 << 20) end,    -- under it
  -- lists of problems, as validate returns them
  ["details-ok"] = function() return { { path = "/title", message = "titre refusé" } } end,
  ["details-no-message"] = function() return { { path = "/title" } } end,
  ["details-path-number"] = function() return { { path = 1, message = "m" } } end,
  ["details-strings"] = function() return { "un", "deux" } end,
  ["details-not-utf8"] = function() return { { path = "/title", message = "\255" } } end,
  ["details-mixed-keys"] = function() return { { path = "/title", message = "m" }, n = 1 } end,
  -- one message of 2 KiB in 50 000 problems: 100 MB of JSON from 6 MB of Lua
  ["details-flood"] = function()
    local message, list = ("m"):rep(2048), {}
    for i = 1, 50000 do list[i] = { path = "/title", message = message } end
    return list
  end,
}

-- the wiring, the same in every family
local function fault_for(place, conv)
  local title = type(conv) == "table" and conv.title
  return type(title) == "string" and FAULTS[title:match("^" .. place .. ":(.*)$") or ""]
end
for name, fault in pairs(FAULTS) do
  p:export{ key = name, label = name, render = fault }
  p:report{ key = name, label = name, render = fault }
end
p:indicator{ key = "probe", label = "Sonde", compute = function(conv)
  local fault = fault_for("indicator", conv)
  if fault then return fault() end
  return 1
end }
p:validate(function(conv)
  local fault = fault_for("validate", conv)
  if fault then return fault() end
end)
p:on_change(function(event)
  local fault = fault_for("on_change", event.doc)
  if fault then fault() end
end)
