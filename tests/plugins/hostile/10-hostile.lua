--[[
10-hostile.lua — test plugin "hostile" (tests/unit/test_plugins.c): tries to leave the
sandbox, or to change what other plugins see, in every way the sandbox is meant to refuse.

The export "attempts" runs each attempt in a pcall and answers a JSON object
  { [attempt] = "refused: <error>" | "nil" | "ESCAPED: <what it got>" }
where "nil" means the attempt found nothing (nil or false). The convention's
extra.bytecode carries real Lua bytecode (hex) made by the test, to feed to load().
The victim plugin (tests/plugins/victim) then checks that it still sees the real libraries.
]]

local p = ctg.plugin{ name = "hostile", label = "Plugin hostile" }

-- At load: an assignment into a shared library must fail (and is caught here so the file loads).
local load_time = {}
load_time["string.upper = f (at load)"] = { pcall(function() string.upper = function() return "PWNED" end end) }
load_time["ctg.csv = f (at load)"] = { pcall(function() ctg.csv = function() return "PWNED" end end) }

-- Shadowing a library in this file's own globals is allowed, and must stay in this file.
string = { upper = function() return "PWNED" end }
leaked_global = "from hostile"
tostring = function() return "PWNED" end

-- hex text -> bytes (through the string metatable, which this file did not shadow)
local function unhex(h)
  return (h:gsub("..", function(x) return ("").char(tonumber(x, 16)) end))
end

local A = {}

-- no io, no os but time/date/clock, no debug
A["io"] = function() return io end
A["os.execute"] = function() return os.execute end
A["os.getenv"] = function() return os.getenv end
A["os.exit"] = function() return os.exit end
A["os.remove"] = function() return os.remove end
A["os.rename"] = function() return os.rename end
A["os.tmpname"] = function() return os.tmpname end
A["os.setlocale"] = function() return os.setlocale end
A["debug"] = function() return debug end
-- no bytecode: string.dump is gone, load takes text only
A["string.dump"] = function() return ("").dump end
A["string.dump (library)"] = function() return load("return string.dump")() end
A["load bytecode, mode b"] = function(conv) return (load(unhex(conv.extra.bytecode), "=bc", "b")) end
A["load bytecode, mode bt"] = function(conv) return (load(unhex(conv.extra.bytecode), "=bc", "bt")) end
A["load bytecode, no mode"] = function(conv) return (load(unhex(conv.extra.bytecode))) end
A["load binary string"] = function() return (load("\27Lua\84\0\25\147\13\10\26\10", "=bin", "b")) end
A["load bytecode run"] = function(conv)
  local f, err = load(unhex(conv.extra.bytecode), "=bc", "b")
  if not f then error(err) end
  return f()
end
-- no modules, no files
A["package"] = function() return package end
A["require"] = function() return require end
A["require('io')"] = function() return require("io") end
A["dofile"] = function() return dofile end
A["dofile('/etc/passwd')"] = function() return dofile("/etc/passwd") end
A["loadfile"] = function() return loadfile end
A["loadstring"] = function() return loadstring end
A["collectgarbage"] = function() return collectgarbage end
A["collectgarbage('count')"] = function() return collectgarbage("count") end
A["coroutine"] = function() return coroutine end
A["coroutine.wrap"] = function() return coroutine.wrap(function() end) end
A["rawset"] = function() return rawset end
A["_G"] = function() return _G end
A["io through load"] = function() return load("return io")() end
A["io through load with env"] = function() return load("return io", "=x", "t", {})() end
-- protected metatables
A["setmetatable(_ENV, nil)"] = function() setmetatable(_ENV, nil) return io or "done" end
A["getmetatable(_ENV)"] = function() return getmetatable(_ENV) end
A["setmetatable(globals, nil)"] = function()
  local G = load("return _ENV")()
  setmetatable(G, nil)
  return "done"
end
A["getmetatable(globals)"] = function() return getmetatable(load("return _ENV")()) end
A["getmetatable('')"] = function() return getmetatable("") end
A["getmetatable('').__index = t"] = function()
  getmetatable("").__index = { upper = function() return "PWNED" end }
  return "done"
end
A["setmetatable(string, nil)"] = function() setmetatable(load("return string")(), nil) return "done" end
A["setmetatable(ctg, nil)"] = function() setmetatable(ctg, nil) return "done" end
A["getmetatable(ctg)"] = function() return getmetatable(ctg) end
A["getmetatable(ctg.json)"] = function() return getmetatable(ctg.json) end
A["getmetatable(plugin)"] = function() return getmetatable(p) end
A["plugin object field write"] = function() p.champ = function() end return "done" end
-- no rawset; assignments into shared tables fail
A["rawset(string, ...)"] = function() rawset(load("return string")(), "upper", print) return "done" end
A["rawset(ctg, ...)"] = function() rawset(ctg, "csv", print) return "done" end
A["rawset(ctg.json, ...)"] = function() rawset(ctg.json, "encode", print) return "done" end
A["string.upper = f"] = function() load("string.upper = function() return 'PWNED' end")() return "done" end
A["string.format = f (method)"] = function() ("").format = nil return "done" end
A["table.concat = f"] = function() table.concat = nil return "done" end
A["math.pi = 3"] = function() math.pi = 3 return "done" end
A["utf8.char = f"] = function() utf8.char = nil return "done" end
A["os.time = f"] = function() os.time = nil return "done" end
A["ctg.csv = f"] = function() ctg.csv = function() return "PWNED" end return "done" end
A["ctg.plugin = f"] = function() ctg.plugin = nil return "done" end
A["ctg.json.encode = f"] = function() ctg.json.encode = nil return "done" end
A["ctg.json.null = x"] = function() ctg.json.null = 0 return "done" end
A["ctg.html.escape = f"] = function() ctg.html.escape = nil return "done" end
A["ctg.store.get = f"] = function() ctg.store.get = nil return "done" end
A["ctg.new = x"] = function() ctg.new = 1 return "done" end
A["globals.string = t"] = function() load("return _ENV")().string = {} return "done" end
A["globals.new = x (load)"] = function() load("new_global = 1")() return "done" end

local function describe(v)
  local t = type(v)
  if t == "string" or t == "number" or t == "boolean" then return t .. " " .. ctg.json.encode(v) end
  return t
end

p:export{ key = "attempts", label = "Tentatives", content_type = "application/json",
  render = function(conv)
    local results = ctg.json.object{}
    for name, attempt in pairs(A) do
      local ok, value = pcall(attempt, conv)
      if not ok then
        results[name] = "refused: " .. (type(value) == "string" and value or describe(value))
      elseif value == nil or value == false then
        results[name] = "nil"
      else
        results[name] = "ESCAPED: " .. describe(value)
      end
    end
    for name, r in pairs(load_time) do
      results[name] = r[1] and "ESCAPED: assigned" or ("refused: " .. r[2])
    end
    return ctg.json.encode(results)
  end }

-- this file's own globals still work for this file
p:export{ key = "own-globals", label = "Globales", render = function()
  return string.upper("x") .. " " .. leaked_global .. " " .. tostring(1)
end }
