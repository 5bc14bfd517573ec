--[[
29-full.lua — test plugin "t-29" for department 29 (tests/unit/test_plugins.c): it uses every
entry of the ctg API once — ctg.plugin, p:champ (one overriding the base label), p:indicator,
p:export, p:report, p:validate, p:on_change, ctg.json (encode, decode, null, array, object,
array_mt, object_mt), ctg.csv, ctg.html.escape, ctg.log, print, ctg.publish, ctg.store.get,
ctg.store.list, ctg.champs — and load of a text chunk.
]]

local NULL = ctg.json.null
local json = ctg.json

local p = ctg.plugin{ name = "t-29", department = "29", label = "Caf de test du Finistère" }

p:champ{ key = "beta", label = "Beta 29", group = "Groupe 29" }  -- overrides t-base's beta
p:champ{ key = "gamma", label = "Gamma" }

p:indicator{ key = "const-int", label = "Entier", compute = function() return 42 end }
p:indicator{ key = "const-float", label = "Réel", unit = "%", compute = function() return 2.5 end }
p:indicator{ key = "nil-value", label = "Absent", compute = function() return nil end }
p:indicator{ key = "title-chars", label = "Caractères du titre", description = "utf8.len(title)",
  compute = function(conv) return utf8.len(conv.title) end }

-- the document back as JSON: what C gave Lua, Lua gives back
p:export{ key = "echo.json", label = "Écho", content_type = "application/json",
  render = function(conv) return json.encode(conv) end }

-- overrides t-base's export for department 29
p:export{ key = "summary.txt", label = "Résumé (29)", content_type = "text/plain; charset=utf-8",
  render = function(conv) return "29 summary of " .. conv.id end }

p:export{ key = "cells.csv", label = "CSV", content_type = "text/csv; charset=utf-8",
  render = function()
    return ctg.csv{
      { "plain", "a,b", 'say "hi"', "line1\nline2", "cr\rhere", "crlf\r\nhere" },
      { 12, 2.5, NULL, "", "é€" },
      { "first", nil, "third" },
      {},
    }
  end }

p:export{ key = "escape.html", label = "HTML", content_type = "text/html; charset=utf-8",
  render = function() return ctg.html.escape([[<a href="x">Tom & Jerry's</a>]]) end }

p:export{ key = "json-api.json", label = "ctg.json", content_type = "application/json",
  render = function()
    local decoded = json.decode('{"list":[1,2.0,null,"é"],"empty_list":[],"empty_object":{}}')
    local ok_mixed, err_mixed = pcall(json.encode, { 1, x = 2 })
    local ok_bad, err_bad = pcall(json.decode, "{bad")
    local ok_fn, err_fn = pcall(json.encode, { f = print })
    return json.encode{
      empty_array = json.array{},
      empty_object = json.object{},
      plain_empty = {},
      null = NULL,
      decoded = decoded,
      null_is_sentinel = json.decode("null") == NULL and decoded.list[3] == NULL,
      array_mt = getmetatable(decoded.list) == json.array_mt
                 and getmetatable(decoded.empty_list) == json.array_mt,
      object_mt = getmetatable(decoded) == json.object_mt
                  and getmetatable(decoded.empty_object) == json.object_mt,
      int_kind = math.type(decoded.list[1]),
      float_kind = math.type(decoded.list[2]),
      list_len = #decoded.list,
      mixed = ok_mixed and "accepted" or err_mixed,
      bad = ok_bad and "accepted" or err_bad,
      fn = ok_fn and "accepted" or err_fn,
      array_of_plain = { "x", "y" },
      nested = json.object{ inner = json.array{ json.object{} } },
    }
  end }

p:export{ key = "store.json", label = "Store", content_type = "application/json",
  render = function(conv)
    local me = ctg.store.get(conv.id)
    local all = ctg.store.list{ department = "29" }
    local one = ctg.store.list{ department = "29", limit = 1 }
    local by_status = ctg.store.list{ status = "closed" }
    local by_champ = ctg.store.list{ champ = "gamma" }
    local ids = json.array{}
    for i, d in ipairs(all) do ids[i] = d.id end
    local ok_limit, err_limit = pcall(ctg.store.list, { limit = 0 })
    local ok_field, err_field = pcall(ctg.store.list, { departement = "29" })
    return json.encode{
      title = me and me.title or NULL,
      rev = me and me.rev or NULL,
      missing = ctg.store.get("no-such-convention") == nil,
      ids = ids,
      one = #one,
      closed = #by_status,
      gamma = #by_champ,
      bad_limit = ok_limit and "accepted" or err_limit,
      bad_field = ok_field and "accepted" or err_field,
    }
  end }

p:export{ key = "champs.json", label = "Champs", content_type = "application/json",
  render = function(conv) return json.encode(ctg.champs(conv.department)) end }

p:export{ key = "publish", label = "Publication", render = function(conv)
  ctg.publish("ping", { id = conv.id, n = 1, list = json.array{}, null = NULL })
  local ok, err = pcall(ctg.publish, "Bad Name", {})
  return ok and "accepted" or err
end }

p:export{ key = "log", label = "Journal", render = function(conv)
  ctg.log("hello from t-29", 7, true, nil)
  print("print from t-29")
  return "logged"
end }

-- load() of a text chunk is allowed; its globals are the sandbox's (read-only) ones
p:export{ key = "load", label = "load", render = function()
  local f = assert(load("local a, b = ... return string.format('%d+%d=%d', a, b, a + b)", "=sum"))
  local env_f = assert(load("return x * 2", "=env", "t", { x = 21 }))
  return f(2, 3) .. " " .. env_f()
end }

p:report{ key = "ids.csv", label = "Identifiants", content_type = "text/csv; charset=utf-8",
  render = function(conventions)
    local rows = { { "id", "title" } }
    for _, c in ipairs(conventions) do rows[#rows + 1] = { c.id, c.title } end
    return ctg.csv(rows)
  end }

p:validate(function(conv, old)
  local t = conv.title
  if t:find("V-STRING", 1, true) then
    return "t-29 refuse tout le document"
  elseif t:find("V-LIST", 1, true) then
    return { { path = "/title", message = "premier problème" }, { message = "second problème" } }
  elseif t:find("V-EMPTY-ARRAY", 1, true) then
    return json.array{}
  elseif t:find("V-EMPTY", 1, true) then
    return {}
  elseif t:find("V-BADSHAPE", 1, true) then
    return { path = "/title", message = "pas dans une liste" }
  elseif t:find("V-ERROR", 1, true) then
    error("validator exploded")
  elseif t:find("V-OLD", 1, true) then
    if old == nil then
      return { { path = "", message = "old is nil" } }
    end
    return { { path = "/title", message = "old title: " .. old.title .. ", old rev: " .. tostring(old.rev) } }
  elseif t:find("REFUSE-29", 1, true) then
    return { { path = "/title", message = "t-29 refuse ce titre" } }
  end
  return nil
end)

p:on_change(function(event)
  ctg.publish("changed", { id = event.id, type = event.type, changed = event.changed })
end)

-- a handler of updates and deletions only: a creation does not call it
p:on_change(function(event)
  ctg.publish("not-created", { id = event.id, type = event.type })
end, { "convention.updated", "convention.deleted" })
