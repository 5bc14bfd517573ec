--[[
50-counting.lua — test plugin "counting", for every department: an indicator and an export
that count their calls for each convention, so that a test tells an answer kept for the
convention's revision (the count stays) from one computed again (the count grows). Both are
declared `pure`, which their count makes untrue on purpose: that is what makes a kept answer
visible.

Before counting, each reads what the convention's extra.reads names, if anything: the clock
(os.time, os.date, os.clock), random numbers (math.random), the store (ctg.store.get), or
publishes (ctg.publish). An answer that did must never be kept (result_cache.h).
]]

local p = ctg.plugin{ name = "counting", label = "Compte ses appels" }

local READS = {
  time = function() return os.time() end,
  date = function() return os.date("!%Y") end,
  clock = function() return os.clock() end,
  random = function() return math.random() end,
  store = function(conv) return ctg.store.get(conv.id) end,
  publish = function(conv) ctg.publish("lu", { id = conv.id }) end,
}

local calls = {}

local function count(what, conv)
  local read = READS[type(conv.extra) == "table" and conv.extra.reads or ""]
  if read then
    read(conv)
  end
  local key = what .. "/" .. conv.id
  calls[key] = (calls[key] or 0) + 1
  return calls[key]
end

p:indicator{ key = "calls", label = "Appels", unit = "appels", pure = true,
             compute = function(conv) return count("indicator", conv) end }

p:export{ key = "calls.txt", label = "Appels", content_type = "text/plain; charset=utf-8",
          pure = true,
          render = function(conv) return conv.title .. " : " .. count("export", conv) end }

-- A key of the longest length (64 bytes): the same key and one more byte is no export's.
p:export{ key = "long-" .. string.rep("x", 59), label = "Clé longue", pure = true,
          render = function() return "long" end }
