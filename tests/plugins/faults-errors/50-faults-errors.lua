--[[
50-faults-errors.lua — test plugin "faults-errors", department 74
(tests/integration/test_plugin_faults.py): errors raised with every kind of value, and values
whose metamethods raise (ctgd must never call them). Wired as
tests/plugins/faults-runaway/50-faults-runaway.lua says.
]]

local p = ctg.plugin{ name = "faults-errors", department = "74", label = "Erreurs levées" }

-- a table whose every metamethod raises: ctgd reads results raw, so none may run
local function trap()
  local function raise(what) return function() error(what .. " appelé") end end
  return setmetatable({ "piège" }, { __index = raise("__index"), __newindex = raise("__newindex"),
    __tostring = raise("__tostring"), __len = raise("__len"), __pairs = raise("__pairs"),
    __eq = raise("__eq"), __concat = raise("__concat"), __call = raise("__call"),
    __name = "piège", __metatable = "piège" })
end

local FAULTS = {
  ["string"] = function() error("panne volontaire") end,
  ["table"] = function() error({ code = 1 }) end,
  ["nil"] = function() error(nil) end,
  ["tostring-loop"] = function()
    error(setmetatable({}, { __tostring = function() while true do end end }))
  end,
  ["tostring-trap"] = function() error(trap()) end,
  ["returns-trap"] = function() return trap() end,
  ["not-utf8"] = function() error("octets \255\254 invalides") end,
  -- a long French message is cut to fit: one of the two is cut inside a character
  ["long-french-even"] = function() error(("é"):rep(600)) end,
  ["long-french-odd"] = function() error("x" .. ("é"):rep(600)) end,
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
