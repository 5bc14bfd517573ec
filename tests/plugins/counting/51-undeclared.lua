--[[
51-undeclared.lua — test plugin "undeclared", for department 30: an indicator and an export
that count their calls like those of 50-counting.lua, but are not declared `pure`: their
answers must never be kept, and the /indicators answer of department 30, which holds this
indicator, neither.
]]

local p = ctg.plugin{ name = "undeclared", department = "30", label = "Non déclarés" }

local calls = {}

local function count(what, conv)
  local key = what .. "/" .. conv.id
  calls[key] = (calls[key] or 0) + 1
  return calls[key]
end

p:indicator{ key = "undeclared-calls", label = "Appels", unit = "appels",
             compute = function(conv) return count("indicator", conv) end }

p:export{ key = "undeclared.txt", label = "Appels", content_type = "text/plain; charset=utf-8",
          render = function(conv) return conv.title .. " : " .. count("export", conv) end }
