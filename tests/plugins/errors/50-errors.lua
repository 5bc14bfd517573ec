--[[
50-errors.lua — test plugin "faulty" for department 05 (tests/unit/test_plugins.c,
tests/integration/test_plugins.py): a failure in each kind of callback, each triggered by a word
in the convention's title (so that other conventions of 05 are served normally), results of the
wrong kind, and registrations attempted after the load.
]]

local p = ctg.plugin{ name = "faulty", department = "05", label = "Plugin fautif" }

local function has(conv, word)
  return type(conv.title) == "string" and conv.title:find(word, 1, true) ~= nil
end

p:indicator{ key = "ok", label = "OK", compute = function() return 1 end }
p:indicator{ key = "touchy", label = "Susceptible", compute = function(conv)
  if has(conv, "boom-indicator") then error("indicator exploded") end
  if has(conv, "string-indicator") then return "douze" end
  if has(conv, "nan-indicator") then return 0 / 0 end
  if has(conv, "inf-indicator") then return math.huge end
  return 2.5
end }

p:export{ key = "ok", label = "OK", render = function() return "fine" end }
p:export{ key = "boom", label = "Boum", render = function() error("export exploded") end }
p:export{ key = "nil", label = "Rien", render = function() return nil end }
p:export{ key = "number", label = "Nombre", render = function() return 42 end }
p:export{ key = "table-error", label = "Erreur table", render = function() error({ code = 1 }) end }

p:report{ key = "ok", label = "OK", render = function(conventions) return "report fine: " .. #conventions end }
p:report{ key = "boom", label = "Boum", render = function() error("report exploded") end }

p:validate(function(conv)
  if has(conv, "boom-validate") then error("validator exploded") end
  if has(conv, "shape-validate") then return { 1, 2, 3 } end
  if has(conv, "number-validate") then return 7 end
  -- ctg.store is not for validators: they run inside the write's transaction
  if has(conv, "store-validate") then return ctg.store.get(conv.id) and nil end
  return nil
end)

p:on_change(function(event)
  local doc = event.doc
  if doc and doc ~= ctg.json.null and type(doc.title) == "string"
     and doc.title:find("boom-change", 1, true) then
    error("on_change exploded")
  end
end)

-- Declaring is for load time only.
p:export{ key = "late-champ", label = "Champ tardif", render = function()
  p:champ{ key = "late", label = "Tardif" }
  return "declared"
end }
p:export{ key = "late-indicator", label = "Indicateur tardif", render = function()
  p:indicator{ key = "late", label = "Tardif", compute = function() return 1 end }
  return "declared"
end }
p:export{ key = "late-plugin", label = "Plugin tardif", render = function()
  ctg.plugin{ name = "late" }
  return "declared"
end }
p:export{ key = "late-validate", label = "Validateur tardif", render = function()
  p:validate(function() return "late" end)
  return "declared"
end }
p:export{ key = "late-on-change", label = "on_change tardif", render = function()
  p:on_change(function() end)
  return "declared"
end }
