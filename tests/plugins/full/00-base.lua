--[[
00-base.lua — test plugin "t-base" (tests/unit/test_plugins.c): a base plugin (every
department) that declares two champs, two indicators, an export, a report, a validator and a
change handler, so that merging with the department plugins of this folder can be checked.
]]

local NULL = ctg.json.null

local p = ctg.plugin{ name = "t-base", label = "Socle de test" }

p:champ{ key = "alpha", label = "Alpha", group = "Groupe base" }
p:champ{ key = "beta", label = "Beta base" }  -- relabelled by t-29 for department 29

local function actions(conv)
  local a = conv.actions
  if type(a) ~= "table" then return {} end
  return a
end

p:indicator{
  key = "count-actions", label = "Fiches actions", unit = "fiches",
  description = "Nombre de fiches actions (nil sans fiche).",
  compute = function(conv)
    local n = #actions(conv)
    if n == 0 then return nil end
    return n
  end,
}

p:indicator{
  key = "budget-total", label = "Budget", unit = "€",
  compute = function(conv)
    local sum, seen = 0, false
    for _, a in ipairs(actions(conv)) do
      if type(a.budget) == "number" then
        sum, seen = sum + a.budget, true
      end
    end
    return seen and sum or nil
  end,
}

-- no content_type: the default (text/plain; charset=utf-8) applies; t-29 overrides it for 29
p:export{ key = "summary.txt", label = "Résumé (socle)", render = function(conv)
  return "base summary of " .. tostring(conv.id)
end }

p:report{ key = "count.json", label = "Compte", content_type = "application/json",
  render = function(conventions)
    local ids = ctg.json.array{}
    for i, c in ipairs(conventions) do ids[i] = c.id end
    return ctg.json.encode{ n = #conventions, ids = ids }
  end }

p:validate(function(conv, old)
  if type(conv.title) == "string" and conv.title:find("REFUSE-BASE", 1, true) then
    return { { path = "/title", message = "t-base refuse ce titre" } }
  end
  return nil
end)

p:on_change(function(event)
  ctg.log("t-base saw", event.type, event.id)
  ctg.publish("seen", { id = event.id, type = event.type, seq = event.seq,
                        department = event.department, has_doc = event.doc ~= nil and event.doc ~= NULL })
end)
