--[[
20-victim.lua — test plugin "victim" (tests/unit/test_plugins.c): reports what it sees of the
shared libraries, so that a test can tell whether another plugin (tests/plugins/hostile,
tests/plugins/hostile-backdoors) changed them. Its export "observe" answers a JSON object whose
expected value is written in the test.
]]

local p = ctg.plugin{ name = "victim", label = "Plugin témoin" }

-- taken at load, so that the answer stays JSON whatever another plugin did since
local encode = ctg.json.encode

p:export{ key = "observe", label = "Observation", content_type = "application/json",
  render = function(conv)
    local wrote = pcall(function() conv.written_key = 5 end)
    return encode{
      method_upper = ("abc"):upper(),
      string_upper = string.upper("abc"),
      format = string.format("%d-%s", 7, "x"),
      concat = table.concat({ "a", "b" }, "+"),
      tostring = tostring(12),
      csv = ctg.csv{ { "a", "b,c" } },
      escape = ctg.html.escape("<&>"),
      encode = ctg.json.encode{ 1, 2 },
      os_time = math.type(os.time()),
      leaked_global = leaked_global == nil and "nil" or tostring(leaked_global),
      new_global = new_global == nil and "nil" or tostring(new_global),
      missing_key = conv.no_such_key == nil and "nil" or tostring(conv.no_such_key),
      conv_write = wrote and rawget(conv, "written_key") or "refused",
      title = conv.title,
      actions_len = #conv.actions,
    }
  end }
