-- report_plain.lua — a department report computed by plain lua5.4 + lua-cjson, the peer of
-- GET /v1/departments/{code}/reports/{key} in scripts/bench.
--
--   lua5.4 report_plain.lua DEPARTMENT REPORT_KEY DOCS.jsonl OUT PLUGIN.lua...
--
-- It runs the very report function ctgd runs: the plugin files are loaded (in the order given,
-- as ctgd loads them in file-name order) against a stand-in for the `ctg` API that keeps what
-- they register; the report of REPORT_KEY for DEPARTMENT is the department's own when it has
-- one, else the base plugins'. Then: every line of DOCS.jsonl (the stored documents of the
-- department, in id order, as ctgd hands them to the report) through cjson.decode into one
-- array, the render function over it, the text written to OUT. So the two sides differ only
-- in how the documents reach the Lua function: ctgd from its store, this from a file.
local cjson = require('cjson')

local department, key, docs_path, out_path = arg[1], arg[2], arg[3], arg[4]

-- The `ctg` API as far as reports need it (plugins/README.md section 9); the rest are no-ops.
local registered = { reports = {}, champs = {} }
local ctg = { json = { null = cjson.null, encode = cjson.encode, decode = cjson.decode } }

function ctg.json.array(t) return t end
function ctg.json.object(t) return t end
function ctg.log() end
function ctg.publish() end

local HTML = { ['&'] = '&amp;', ['<'] = '&lt;', ['>'] = '&gt;', ['"'] = '&quot;', ["'"] = '&#39;' }
ctg.html = { escape = function(s) return (tostring(s):gsub('[&<>"\']', HTML)) end }

-- RFC 4180, every line ending with CRLF; nil and null are empty cells.
function ctg.csv(rows)
  local lines = {}
  for i, row in ipairs(rows) do
    local cells = {}
    for j = 1, #row do
      local v = row[j]
      if v == nil or v == cjson.null then
        v = ''
      else
        v = tostring(v)
      end
      if v:find('[,"\r\n]') then
        v = '"' .. v:gsub('"', '""') .. '"'
      end
      cells[j] = v
    end
    lines[i] = table.concat(cells, ',') .. '\r\n'
  end
  return table.concat(lines)
end

function ctg.champs(dep)
  local list, seen = {}, {}
  for _, scope in ipairs({ '*', dep }) do
    for _, c in ipairs(registered.champs[scope] or {}) do
      if seen[c.key] then
        list[seen[c.key]] = c
      else
        list[#list + 1] = c
        seen[c.key] = #list
      end
    end
  end
  return list
end

function ctg.plugin(info)
  local scope = info.department or '*'
  local p = {}
  function p:report(r)
    registered.reports[scope] = registered.reports[scope] or {}
    registered.reports[scope][r.key] = r
  end
  function p:champ(c)
    registered.champs[scope] = registered.champs[scope] or {}
    table.insert(registered.champs[scope], { key = c.key, label = c.label, group = c.group,
                                              plugin = info.name })
  end
  function p:indicator() end
  function p:export() end
  function p:validate() end
  function p:on_change() end
  return p
end

for i = 5, #arg do
  local env = setmetatable({ ctg = ctg }, { __index = _G })
  local chunk = assert(loadfile(arg[i], 't', env))
  chunk()
end

local report = (registered.reports[department] or {})[key] or (registered.reports['*'] or {})[key]
if not report then
  io.stderr:write('report_plain.lua: no report ', key, ' for department ', department, '\n')
  os.exit(1)
end

local docs = {}
for line in io.lines(docs_path) do
  docs[#docs + 1] = cjson.decode(line)
end
local text = report.render(docs)
local f = assert(io.open(out_path, 'wb'))
f:write(text)
f:close()
