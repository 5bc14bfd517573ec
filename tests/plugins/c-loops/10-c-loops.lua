--[[
10-c-loops.lua — test plugin "c-loops" (tests/unit/test_plugins.c): work that runs inside one
call of a C function, where the instruction budget cannot stop it, and tricks on the API's own
checks. The export "attempts" runs each in a pcall and answers {name: "refused: ..." or
"ran: ..."}; the test wants every one refused, quickly (an attempt whose harmless outcome is a
plain answer raises an error itself after checking it, so "ran" always means a hole).
]]

local p = ctg.plugin{ name = "c-loops", label = "Boucles en C" }

local A = {}
A["string.rep of nothing, 2^50 times"] = function()
  local s = string.rep("", 1 << 50)
  if s ~= "" then return "a string of " .. #s end
  error("answered at once")  -- "" at once is the right outcome: counted as refused
end
A["table.move over 2^62 nils"] = function()
  table.move({}, 1, math.maxinteger - 1, 1, {})
end
A["table.insert with a __len of 2^50"] = function()
  table.insert(setmetatable({}, { __len = function() return 1 << 50 end }), 1, "x")
end
A["table.concat through __index"] = function()
  table.concat(setmetatable({}, { __index = function() return "" end }), "", 1, 1 << 40)
end
A["plain find of a 2 MB needle in 4 MB"] = function()
  return ("a"):rep(4000000):find(("a"):rep(2000000) .. "b", 1, true)
end
A["40 optional items"] = function()
  return ("a"):rep(40):match(("a?"):rep(40) .. ("a"):rep(40) .. "b")
end
A["ctg.log with 150 000 arguments"] = function()
  local t = {}
  for i = 1, 200000 do t[i] = "x" end
  select("#", table.unpack(t, 1, 150000))
  ctg.log(table.unpack(t, 1, 150000))
  error("logged, within the stack")  -- no crash is the right outcome: counted as refused
end
A["json.object on the string library"] = function()
  ctg.json.object(string)
  string.upper = function() return "PWNED" end
end
A["json.object on the globals"] = function()
  local g = load("return _ENV")()
  ctg.json.object(g)
  g.tostring = function() return "PWNED" end
end

p:export{ key = "attempts", label = "Tentatives", content_type = "application/json",
  render = function()
    local out = {}
    for name, f in pairs(A) do
      local ok, why = pcall(f)
      out[name] = ok and ("ran: " .. tostring(why)) or ("refused: " .. tostring(why))
    end
    return ctg.json.encode(out)
  end }

-- A registration table whose __index answers the check and the copy differently.
local calls = 0
local ok, why = pcall(p.champ, p, setmetatable({}, { __index = function(_, k)
  if k == "key" then calls = calls + 1; if calls == 1 then return "x" end return nil end
  if k == "label" then return "L" end
end }))
p:export{ key = "sly-registration", label = "Enregistrement rusé",
  render = function() return (ok and "accepted" or "refused: ") .. tostring(why) end }
