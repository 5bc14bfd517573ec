--[[
00-cnaf.lua — the national base plugin: the common ground of the Cnaf, for every department.

What it owns:
  * the ten champs d'intervention every department knows (a department plugin may relabel one
    by registering the same key);
  * the lifecycle rule: a convention's status moves forward one step at a time
    (preparation → diagnostic → action_plan → monitoring → evaluation → closed);
  * five indicators computed from the document: taux-realisation, avancement-moyen,
    taux-couverture-accueil-jeune-enfant, budget-engage, atteinte-cibles;
  * three exports of one convention: actions.csv, synthese (Markdown), rapport (HTML + SVG);
  * three reports over a department: conventions.csv, tableau-de-bord (HTML + SVG),
    indicateurs.csv;
  * one event: "statut" (ctg.<department>.plugin.statut) when an update changes a convention's
    status.

Everything is computed in one pass over the fiches actions (`action_stats`), shared by the
indicators, the exports and the reports, so that a report over 10 000 conventions stays linear.
The exports show the champ labels of the convention's department (ctg.champs), which include
those declared by the department's own plugins.
Messages and documents are in French (the staff of the CAF are French); code comments in English.
See plugins/README.md for the decisions (abandoned actions, missing figures, rounding).
]]

local NULL = ctg.json.null
local concat, format, floor = table.concat, string.format, math.floor
-- Locals: in ctgd, a global is read through the sandbox's read-only proxies (two lookups more).
local ipairs, pairs, type, tostring = ipairs, pairs, type, tostring
local tointeger = math.tointeger

local p = ctg.plugin{ name = "cnaf", label = "Socle national de la Cnaf" }

---------------------------------------------------------------------------------------------
-- Vocabulary
---------------------------------------------------------------------------------------------

local CHAMPS = {
  { key = "petite-enfance",        label = "Petite enfance",        group = "Familles" },
  { key = "enfance",               label = "Enfance",               group = "Familles" },
  { key = "parentalite",           label = "Parentalité",           group = "Familles" },
  { key = "jeunesse",              label = "Jeunesse",              group = "Jeunesse" },
  { key = "animation-vie-sociale", label = "Animation de la vie sociale", group = "Vie sociale" },
  { key = "handicap",              label = "Handicap",              group = "Vie sociale" },
  { key = "acces-aux-droits",      label = "Accès aux droits",      group = "Accès aux droits" },
  { key = "inclusion-numerique",   label = "Inclusion numérique",   group = "Accès aux droits" },
  { key = "logement",              label = "Logement",              group = "Cadre de vie" },
  { key = "mobilite",              label = "Mobilité",              group = "Cadre de vie" },
}

local CHAMP_LABELS = {}
for _, c in ipairs(CHAMPS) do
  CHAMP_LABELS[c.key] = c.label
end

local STATUS_ORDER = { "preparation", "diagnostic", "action_plan", "monitoring", "evaluation", "closed" }
local STATUS_LABELS = {
  preparation = "Préparation", diagnostic = "Diagnostic partagé", action_plan = "Plan d'action",
  monitoring = "Pilotage et suivi", evaluation = "Évaluation", closed = "Close",
}
local STATUS_RANK = {}
for i, s in ipairs(STATUS_ORDER) do
  STATUS_RANK[s] = i
end

local ACTION_STATUS_LABELS = {
  planned = "Prévue", in_progress = "En cours", done = "Réalisée", abandoned = "Abandonnée",
}

local ROLE_LABELS = {
  caf = "Caf", departement = "Conseil départemental", epci = "EPCI", commune = "Commune",
  msa = "MSA", etat = "État", autre = "Autre",
}

local TERRITORY_KINDS = {
  commune = "commune", epci = "EPCI", departement = "département", autre = "autre",
}

-- The diagnostic figures the coverage indicator reads (SPEC §2 names children_0_3).
local FIGURE_PLACES = "places_accueil_jeune_enfant"
local FIGURE_CHILDREN = "children_0_3"

---------------------------------------------------------------------------------------------
-- Reading the document (JSON null and missing keys are both "absent")
---------------------------------------------------------------------------------------------

local function str(v)
  return type(v) == "string" and v or nil
end

local function num(v)
  return type(v) == "number" and v or nil
end

local EMPTY = {}

-- The items of an array (or nothing when the value is absent or not a table).
local function list(v)
  return type(v) == "table" and v or EMPTY
end

local function field(obj, key)
  if type(obj) ~= "table" then
    return nil
  end
  local v = obj[key]
  if v == NULL then
    return nil
  end
  return v
end

local function sorted_keys(obj)
  local keys = {}
  if type(obj) == "table" then
    for k in pairs(obj) do
      if type(k) == "string" then
        keys[#keys + 1] = k
      end
    end
  end
  table.sort(keys)
  return keys
end

---------------------------------------------------------------------------------------------
-- Formatting
---------------------------------------------------------------------------------------------

local NBSP = "\194\160"

-- A number as plain text for CSV: integers without a decimal point, others with 2 decimals at
-- most ("66.67", "12.5").
local function plain_number(x)
  if x == nil then
    return ""
  end
  local i = tointeger(x)
  if i then
    return format("%d", i)
  end
  local s = format("%.2f", x):gsub("0+$", ""):gsub("%.$", "")
  return s
end

-- A number the French way: 626 000 ; 66,7. `decimals` digits at most after the comma, exactly
-- `decimals` when `pad` (250,50) and the number is not whole.
local function fr_number(x, decimals, pad)
  if x == nil then
    return "–"
  end
  local scale = 10 ^ (decimals or 0)
  local r = floor(x * scale + 0.5) / scale
  local neg = r < 0
  if neg then
    r = -r
  end
  local int = floor(r)
  local frac = r - int
  local digits = format("%d", int)
  local groups = {}
  local first = #digits % 3
  if first > 0 then
    groups[#groups + 1] = digits:sub(1, first)
  end
  for i = first + 1, #digits, 3 do
    groups[#groups + 1] = digits:sub(i, i + 2)
  end
  local s = concat(groups, NBSP)
  if decimals and decimals > 0 and frac > 0 then
    local f = format("%." .. decimals .. "f", frac):sub(3)
    if not pad then
      f = f:gsub("0+$", "")
    end
    if f ~= "" then
      s = s .. "," .. f
    end
  end
  return (neg and "-" or "") .. s
end

local function with_unit(x, unit)
  if x == nil then
    return "non calculable"
  end
  if unit == "%" then
    return fr_number(x, 1) .. NBSP .. "%"
  elseif unit == "€" then
    return fr_number(x, 2, true) .. NBSP .. "€"
  elseif unit and unit ~= "" then
    return fr_number(x, 2) .. NBSP .. unit
  end
  return fr_number(x, 2)
end

-- "2020-02-11" -> "11/02/2020"; anything else as it is.
local function fr_date(d)
  d = str(d)
  if not d then
    return nil
  end
  local y, m, day = d:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
  if not y then
    return d
  end
  return day .. "/" .. m .. "/" .. y
end

local function esc(v)
  if v == nil then
    return ""
  end
  return ctg.html.escape(tostring(v))
end

-- A Markdown table cell: no pipe, no line break.
local function md_cell(v)
  if v == nil then
    return ""
  end
  return (tostring(v):gsub("\\", "\\\\"):gsub("|", "\\|"):gsub("[\r\n]+", " "))
end

-- At most `n` characters (UTF-8 aware), with an ellipsis when cut.
local function shorten(s, n)
  s = tostring(s or "")
  local len = utf8.len(s)
  if not len or len <= n then
    return s
  end
  return s:sub(1, utf8.offset(s, n) - 1) .. "…"
end

---------------------------------------------------------------------------------------------
-- Computing: one pass over the fiches actions
---------------------------------------------------------------------------------------------

-- The progress an action counts for in averages, or nil when unknown: its `progress` when
-- given, else 100 for a done action and 0 for a planned one.
local function action_progress(a)
  local pr = num(field(a, "progress"))
  if pr then
    return pr
  end
  local st = field(a, "status")
  if st == "done" then
    return 100
  elseif st == "planned" then
    return 0
  end
  return nil
end

--[[
Statistics of a convention's fiches actions, in one pass:
  total        every action
  active       actions whose status is planned, in_progress or done (the denominator of
               taux-realisation: abandoned actions and actions without status are left out)
  done         actions with status done
  progress_sum, progress_n   over active actions whose progress is known
  budget_sum, budget_n       over every action with a budget
  by_champ     (only when `with_champs`) champ key -> {sum, n}, and champ_order
]]
local function action_stats(conv, with_champs)
  local s = { total = 0, active = 0, done = 0, progress_sum = 0, progress_n = 0,
              budget_sum = 0, budget_n = 0 }
  if with_champs then
    s.by_champ, s.champ_order = {}, {}
  end
  for _, a in ipairs(list(field(conv, "actions"))) do
    s.total = s.total + 1
    local budget = num(field(a, "budget"))
    if budget then
      s.budget_sum = s.budget_sum + budget
      s.budget_n = s.budget_n + 1
    end
    local st = field(a, "status")
    if st ~= "abandoned" then
      if st == "planned" or st == "in_progress" or st == "done" then
        s.active = s.active + 1
      end
      if st == "done" then
        s.done = s.done + 1
      end
      local pr = action_progress(a)
      if pr then
        s.progress_sum = s.progress_sum + pr
        s.progress_n = s.progress_n + 1
        if with_champs then
          local key = str(field(a, "champ")) or ""
          local b = s.by_champ[key]
          if not b then
            b = { sum = 0, n = 0 }
            s.by_champ[key] = b
            s.champ_order[#s.champ_order + 1] = key
          end
          b.sum = b.sum + pr
          b.n = b.n + 1
        end
      end
    end
  end
  return s
end

local function taux_realisation(s)
  if s.active == 0 then
    return nil
  end
  return s.done * 100 / s.active
end

local function avancement_moyen(s)
  if s.progress_n == 0 then
    return nil
  end
  return s.progress_sum / s.progress_n
end

local function budget_engage(s)
  if s.budget_n == 0 then
    return nil
  end
  return s.budget_sum
end

local function diagnostic_figures(conv)
  return field(field(conv, "diagnostic"), "figures")
end

local function couverture_accueil(conv)
  local figures = diagnostic_figures(conv)
  local places = num(field(figures, FIGURE_PLACES))
  local children = num(field(figures, FIGURE_CHILDREN))
  if not places or not children or children <= 0 then
    return nil
  end
  return places * 100 / children
end

--[[
The indicators this plugin defines, in display order. `value(conv, s)` gets the document and
its action_stats; atteinte-cibles is computed last from the others (see compute_all).
]]
local INDICATORS = {
  {
    key = "taux-realisation", label = "Fiches actions réalisées", unit = "%",
    description = "Part des fiches actions au statut « réalisée » (done) parmi celles dont le "
      .. "statut est prévue, en cours ou réalisée : les fiches abandonnées et celles sans statut "
      .. "ne comptent pas. Non calculable sans aucune de ces fiches.",
    value = function(_, s) return taux_realisation(s) end,
  },
  {
    key = "avancement-moyen", label = "Avancement moyen des fiches actions", unit = "%",
    description = "Moyenne de l'avancement (progress, 0 à 100) des fiches actions non abandonnées. "
      .. "Sans avancement saisi, une fiche réalisée compte 100, une fiche prévue 0, une fiche en "
      .. "cours n'est pas comptée.",
    value = function(_, s) return avancement_moyen(s) end,
  },
  {
    key = "taux-couverture-accueil-jeune-enfant",
    label = "Taux de couverture de l'accueil du jeune enfant", unit = "%",
    description = "Places d'accueil du jeune enfant pour 100 enfants de moins de 3 ans, d'après le "
      .. "diagnostic : diagnostic.figures." .. FIGURE_PLACES .. " × 100 / diagnostic.figures."
      .. FIGURE_CHILDREN .. ". Non calculable si l'un manque ou si le nombre d'enfants est nul.",
    value = function(conv) return couverture_accueil(conv) end,
  },
  {
    key = "budget-engage", label = "Budget des fiches actions", unit = "€",
    description = "Somme des budgets (budget, en euros) de toutes les fiches actions, abandonnées "
      .. "comprises. Non calculable si aucune fiche action n'a de budget.",
    value = function(_, s) return budget_engage(s) end,
  },
  {
    key = "atteinte-cibles", label = "Atteinte des cibles", unit = "%",
    description = "Moyenne, sur les cibles (targets) ayant une valeur de référence (baseline) et "
      .. "une cible différente, de (valeur − référence) / (cible − référence) × 100, bornée à 0..100. "
      .. "La valeur est celle de l'indicateur de même clé de ce socle, sinon le chiffre de même nom "
      .. "de diagnostic.figures. Non calculable sans cible mesurable.",
  },
}

local INDICATOR_BY_KEY = {}
for _, ind in ipairs(INDICATORS) do
  INDICATOR_BY_KEY[ind.key] = ind
end

-- One target's attainment in 0..100, or nil when it cannot be measured.
local function attainment(value, t)
  local baseline, target = num(field(t, "baseline")), num(field(t, "target"))
  if not value or not baseline or not target or target == baseline then
    return nil
  end
  local x = (value - baseline) * 100 / (target - baseline)
  if x < 0 then
    x = 0
  elseif x > 100 then
    x = 100
  end
  return x
end

-- The current value of a target's indicator: one of ours, else a diagnostic figure.
local function target_value(key, values, conv)
  local ind = INDICATOR_BY_KEY[key]
  if ind and key ~= "atteinte-cibles" then
    return values[key]
  end
  return num(field(diagnostic_figures(conv), key))
end

local function atteinte_cibles(conv, values)
  local targets = field(conv, "targets")
  local sum, n = 0, 0
  for _, key in ipairs(sorted_keys(targets)) do
    local x = attainment(target_value(key, values, conv), targets[key])
    if x then
      sum, n = sum + x, n + 1
    end
  end
  if n == 0 then
    return nil
  end
  return sum / n
end

-- Every indicator of this plugin for one document: key -> value (nil when not computable),
-- and the action stats used.
local function compute_all(conv, with_champs)
  local s = action_stats(conv, with_champs)
  local values = {}
  for _, ind in ipairs(INDICATORS) do
    if ind.value then
      values[ind.key] = ind.value(conv, s)
    end
  end
  values["atteinte-cibles"] = atteinte_cibles(conv, values)
  return values, s
end

---------------------------------------------------------------------------------------------
-- Registration: champs, lifecycle, indicators
---------------------------------------------------------------------------------------------

for _, c in ipairs(CHAMPS) do
  p:champ{ key = c.key, label = c.label, group = c.group }
end

local function status_name(s)
  return format("« %s » (%s)", s, STATUS_LABELS[s] or s)
end

-- The lifecycle: on update, the status stays or moves one step forward.
p:validate(function(conv, old)
  if old == nil then
    return nil
  end
  local from, to = field(old, "status"), field(conv, "status")
  local a, b = STATUS_RANK[from], STATUS_RANK[to]
  if not a or not b or b == a or b == a + 1 then
    return nil
  end
  local message
  if b < a then
    message = format("le statut ne peut pas revenir en arrière, de %s à %s : une convention "
      .. "avance d'une étape à la fois (preparation → diagnostic → action_plan → monitoring → "
      .. "evaluation → closed)", status_name(from), status_name(to))
  else
    local skipped = {}
    for i = a + 1, b - 1 do
      skipped[#skipped + 1] = status_name(STATUS_ORDER[i])
    end
    message = format("le statut ne peut pas passer de %s à %s sans passer par %s : une "
      .. "convention avance d'une étape à la fois (preparation → diagnostic → action_plan → "
      .. "monitoring → evaluation → closed)", status_name(from), status_name(to),
      concat(skipped, ", "))
  end
  return { { path = "/status", message = message } }
end)

for _, ind in ipairs(INDICATORS) do
  local key = ind.key
  p:indicator{
    key = key, label = ind.label, unit = ind.unit, description = ind.description,
    pure = true, -- a function of the document alone: ctgd keeps its value for the revision
    -- One indicator per call: only atteinte-cibles needs the others.
    compute = function(conv)
      if ind.value then
        return ind.value(conv, action_stats(conv))
      end
      return (compute_all(conv))[key]
    end,
  }
end

---------------------------------------------------------------------------------------------
-- SVG charts (inline, no script, no external resource)
---------------------------------------------------------------------------------------------

local SVG_LABEL_W, SVG_BAR_W, SVG_ROW_H = 300, 380, 24

--[[
A horizontal bar chart. rows: { {label, value, text} } with value in 0..max (nil draws no bar);
`text` is written after the bar. `title` names the chart for screen readers.
]]
local function svg_bars(out, title, rows, max)
  local h = #rows * SVG_ROW_H + 10
  local w = SVG_LABEL_W + SVG_BAR_W + 110
  out[#out + 1] = format('<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="%d" '
    .. 'height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">', w, h, w, h, esc(title))
  out[#out + 1] = format('<line x1="%d" y1="0" x2="%d" y2="%d" stroke="#999"/>',
    SVG_LABEL_W, SVG_LABEL_W, h - 5)
  for i, r in ipairs(rows) do
    local y = (i - 1) * SVG_ROW_H + 5
    local bw = 0
    if r.value and max and max > 0 then
      bw = floor(math.max(0, math.min(r.value, max)) * SVG_BAR_W / max + 0.5)
    end
    out[#out + 1] = format('<g><title>%s</title><text x="%d" y="%d" text-anchor="end" '
      .. 'font-size="12">%s</text><rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>'
      .. '<text x="%d" y="%d" font-size="12">%s</text></g>',
      esc(r.label), SVG_LABEL_W - 6, y + 15, esc(shorten(r.label, 44)),
      SVG_LABEL_W, y + 2, bw, SVG_ROW_H - 6, r.color or "#2f6db5",
      SVG_LABEL_W + bw + 6, y + 15, esc(r.text or ""))
  end
  out[#out + 1] = "</svg>"
end

--[[
Indicators against targets: for each target, three bars on a common scale (the largest of
baseline, value and target): référence (grey), valeur actuelle (blue), cible (green outline).
]]
local function svg_targets(out, rows)
  local group_h = 3 * 16 + 14
  local h = #rows * group_h + 24
  local w = SVG_LABEL_W + SVG_BAR_W + 130
  out[#out + 1] = format('<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="%d" '
    .. 'height="%d" viewBox="0 0 %d %d" role="img" aria-label="Indicateurs et cibles">',
    w, h, w, h)
  out[#out + 1] = '<g font-size="11"><rect x="10" y="4" width="10" height="10" fill="#bbb"/>'
    .. '<text x="24" y="13">référence</text><rect x="100" y="4" width="10" height="10" '
    .. 'fill="#2f6db5"/><text x="114" y="13">valeur actuelle</text><rect x="220" y="4" '
    .. 'width="10" height="10" fill="none" stroke="#2e8b57" stroke-width="2"/>'
    .. '<text x="234" y="13">cible</text></g>'
  for i, r in ipairs(rows) do
    local y0 = (i - 1) * group_h + 24
    local max = math.max(math.abs(r.baseline or 0), math.abs(r.value or 0), math.abs(r.target or 0))
    out[#out + 1] = format('<g><title>%s</title><text x="%d" y="%d" text-anchor="end" '
      .. 'font-size="12">%s</text>', esc(r.label), SVG_LABEL_W - 6, y0 + 28,
      esc(shorten(r.label, 44)))
    local bars = {
      { r.baseline, 'fill="#bbb"', "référence" },
      { r.value, 'fill="#2f6db5"', "valeur" },
      { r.target, 'fill="none" stroke="#2e8b57" stroke-width="2"', "cible" },
    }
    for j, b in ipairs(bars) do
      local y = y0 + (j - 1) * 16
      local bw = 0
      if b[1] and max > 0 then
        bw = floor(math.max(0, b[1]) * SVG_BAR_W / max + 0.5)
      end
      out[#out + 1] = format('<rect x="%d" y="%d" width="%d" height="12" %s/>'
        .. '<text x="%d" y="%d" font-size="11">%s : %s</text>',
        SVG_LABEL_W, y, bw, b[2], SVG_LABEL_W + bw + 6, y + 10, b[3],
        esc(b[1] and with_unit(b[1], r.unit) or "non calculable"))
    end
    out[#out + 1] = "</g>"
  end
  out[#out + 1] = "</svg>"
end

local HTML_STYLE = [[
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:2rem auto;
max-width:1100px;padding:0 1rem;color:#1d1d1d;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:2px solid #2f6db5}
table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.5rem 0}
th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#eef3fa}td.n{text-align:right;white-space:nowrap}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}
.muted{color:#666}.chart{max-width:100%;height:auto}
footer{margin-top:3rem;font-size:.8rem;color:#666}
]]

local function html_head(out, title)
  out[#out + 1] = '<!DOCTYPE html>\n<html lang="fr">\n<head>\n<meta charset="utf-8">\n'
    .. '<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>'
    .. esc(title) .. "</title>\n<style>" .. HTML_STYLE .. "</style>\n</head>\n<body>\n"
end

-- The footer; `note` (optional) says which data the page shows.
local function html_foot(out, note)
  out[#out + 1] = "<footer>Produit par ctgd, socle national de la Cnaf (plugin cnaf)"
    .. (note and (". " .. esc(note)) or "") .. ".</footer>\n</body>\n</html>\n"
end

---------------------------------------------------------------------------------------------
-- Pieces shared by the exports
---------------------------------------------------------------------------------------------

-- Champ labels for a document: ctg.champs gives those its department knows, including the
-- champs and relabellings of the department's own plugins, which this plugin cannot see.
local function champ_labels(conv)
  local labels = setmetatable({}, { __index = CHAMP_LABELS })
  local department = field(conv, "department")
  if type(department) == "string" then
    for _, c in ipairs(ctg.champs(department)) do
      labels[c.key] = c.label
    end
  end
  return labels
end

local function territory_text(conv)
  local t = field(conv, "territory")
  local name = str(field(t, "name"))
  if not name then
    return nil
  end
  local kind = TERRITORY_KINDS[field(t, "kind")]
  return kind and (name .. " (" .. kind .. ")") or name
end

local function period_text(conv)
  local per = field(conv, "period")
  local start, stop = fr_date(field(per, "start")), fr_date(field(per, "end"))
  local text = (start and stop) and ("du " .. start .. " au " .. stop) or nil
  local ext
  for _, am in ipairs(list(field(conv, "amendments"))) do
    if field(am, "kind") == "extension" and str(field(am, "new_end")) then
      ext = field(am, "new_end")
    end
  end
  if text and ext then
    text = text .. " (prolongée par avenant jusqu'au " .. fr_date(ext) .. ")"
  end
  return text
end

local function representatives_text(sig)
  local names = {}
  for _, r in ipairs(list(field(sig, "representatives"))) do
    local name = str(field(r, "name"))
    if name then
      local title = str(field(r, "title"))
      names[#names + 1] = (title and title ~= "") and (name .. " (" .. title .. ")") or name
    end
  end
  return concat(names, ", ")
end

local function objective_titles(conv)
  local titles = {}
  for _, o in ipairs(list(field(conv, "objectives"))) do
    local id = str(field(o, "id"))
    if id then
      titles[id] = str(field(o, "title")) or id
    end
  end
  return titles
end

local function action_number(a)
  local n = field(a, "number")
  if n == nil then
    return ""
  end
  return tostring(tointeger(n) or n)
end

-- Every target of the document with its current value: { {key, label, unit, baseline,
-- target, year, value} }, sorted by key.
local function target_rows(conv, values)
  local rows = {}
  local targets = field(conv, "targets")
  for _, key in ipairs(sorted_keys(targets)) do
    local t = targets[key]
    local ind = INDICATOR_BY_KEY[key]
    rows[#rows + 1] = {
      key = key, label = ind and ind.label or key, unit = ind and ind.unit or nil,
      baseline = num(field(t, "baseline")), target = num(field(t, "target")),
      year = num(field(t, "year")), value = target_value(key, values, conv),
    }
  end
  return rows
end

---------------------------------------------------------------------------------------------
-- Exports of one convention
---------------------------------------------------------------------------------------------

p:export{
  key = "actions.csv", label = "Fiches actions (CSV)", content_type = "text/csv; charset=utf-8",
  pure = true,
  render = function(conv)
    local rows = { { "id", "numero", "titre", "objectif", "champ", "statut", "avancement",
                     "pilote", "budget", "debut", "fin" } }
    for _, a in ipairs(list(field(conv, "actions"))) do
      rows[#rows + 1] = {
        str(field(a, "id")) or "", action_number(a), str(field(a, "title")) or "",
        str(field(a, "objective")) or "", str(field(a, "champ")) or "",
        str(field(a, "status")) or "", plain_number(num(field(a, "progress"))),
        str(field(a, "lead")) or "", plain_number(num(field(a, "budget"))),
        str(field(a, "start")) or "", str(field(a, "end")) or "",
      }
    end
    return ctg.csv(rows)
  end,
}

p:export{
  key = "synthese", label = "Synthèse (Markdown)", content_type = "text/markdown; charset=utf-8",
  pure = true,
  render = function(conv)
    local values = compute_all(conv)
    local labels = champ_labels(conv)
    local function champ_label(key)
      return labels[key] or key
    end
    local out = {}
    local function line(s)
      out[#out + 1] = s
    end
    line("# " .. md_cell(str(field(conv, "title")) or "Convention territoriale globale"))
    line("")
    local facts = {
      { "Territoire", territory_text(conv) },
      { "Département", str(field(conv, "department")) },
      { "Période", period_text(conv) },
      { "Signée le", fr_date(field(conv, "signed_on")) },
      { "Statut", STATUS_LABELS[field(conv, "status")] },
      { "Identifiant", str(field(conv, "id")) },
    }
    for _, f in ipairs(facts) do
      if f[2] then
        line("- **" .. f[1] .. "** : " .. md_cell(f[2]))
      end
    end

    local sigs = list(field(conv, "signatories"))
    if #sigs > 0 then
      line("")
      line("## Signataires")
      line("")
      for _, s in ipairs(sigs) do
        local role = ROLE_LABELS[field(s, "role")]
        local reps = representatives_text(s)
        line("- **" .. md_cell(str(field(s, "organisation")) or "") .. "**"
          .. (role and (" (" .. role .. ")") or "") .. (reps ~= "" and (" : " .. md_cell(reps)) or ""))
      end
    end

    local champs = list(field(conv, "champs"))
    if #champs > 0 then
      line("")
      line("## Champs d'intervention")
      line("")
      for _, key in ipairs(champs) do
        line("- " .. md_cell(champ_label(key)) .. " (`" .. key .. "`)")
      end
    end

    local objectives = list(field(conv, "objectives"))
    if #objectives > 0 then
      line("")
      line("## Objectifs")
      for _, o in ipairs(objectives) do
        line("")
        line("### " .. md_cell(str(field(o, "title")) or str(field(o, "id")) or ""))
        local goals = list(field(o, "goals"))
        if #goals > 0 then
          line("")
          for _, g in ipairs(goals) do
            line("- " .. md_cell(g))
          end
        end
      end
    end

    local actions = list(field(conv, "actions"))
    if #actions > 0 then
      local titles = objective_titles(conv)
      line("")
      line("## Fiches actions")
      line("")
      line("| N° | Fiche action | Objectif | Champ | Statut | Avancement | Pilote | Budget |")
      line("|---|---|---|---|---|---:|---|---:|")
      for _, a in ipairs(actions) do
        local obj = str(field(a, "objective"))
        local champ = str(field(a, "champ"))
        local pr = num(field(a, "progress"))
        local budget = num(field(a, "budget"))
        line("| " .. concat({
          md_cell(action_number(a)), md_cell(str(field(a, "title"))),
          md_cell(obj and (titles[obj] or obj) or ""), md_cell(champ and champ_label(champ) or ""),
          md_cell(ACTION_STATUS_LABELS[field(a, "status")] or ""),
          pr and with_unit(pr, "%") or "", md_cell(str(field(a, "lead"))),
          budget and with_unit(budget, "€") or "",
        }, " | ") .. " |")
      end
    end

    line("")
    line("## Indicateurs")
    line("")
    line("| Indicateur | Valeur |")
    line("|---|---:|")
    for _, ind in ipairs(INDICATORS) do
      line("| " .. md_cell(ind.label) .. " | " .. with_unit(values[ind.key], ind.unit) .. " |")
    end

    local targets = target_rows(conv, values)
    if #targets > 0 then
      line("")
      line("### Cibles")
      line("")
      line("| Indicateur | Référence | Valeur actuelle | Cible | Échéance |")
      line("|---|---:|---:|---:|---|")
      for _, r in ipairs(targets) do
        line("| " .. concat({
          md_cell(r.label), r.baseline and with_unit(r.baseline, r.unit) or "",
          with_unit(r.value, r.unit), r.target and with_unit(r.target, r.unit) or "",
          r.year and format("%d", r.year) or "",
        }, " | ") .. " |")
      end
    end
    line("")
    return concat(out, "\n")
  end,
}

p:export{
  key = "rapport", label = "Rapport (HTML)", content_type = "text/html; charset=utf-8",
  pure = true,
  render = function(conv)
    local values, s = compute_all(conv, true)
    local labels = champ_labels(conv)
    local function champ_label(key)
      return labels[key] or key
    end
    local title = str(field(conv, "title")) or "Convention territoriale globale"
    local out = {}
    html_head(out, title)
    out[#out + 1] = "<h1>" .. esc(title) .. "</h1>\n<dl>\n"
    local facts = {
      { "Territoire", territory_text(conv) },
      { "Département", str(field(conv, "department")) },
      { "Période", period_text(conv) },
      { "Signée le", fr_date(field(conv, "signed_on")) },
      { "Statut", STATUS_LABELS[field(conv, "status")] },
    }
    for _, f in ipairs(facts) do
      if f[2] then
        out[#out + 1] = "<dt>" .. esc(f[1]) .. "</dt><dd>" .. esc(f[2]) .. "</dd>\n"
      end
    end
    out[#out + 1] = "</dl>\n"

    local sigs = list(field(conv, "signatories"))
    if #sigs > 0 then
      out[#out + 1] = "<h2>Signataires</h2>\n<ul>\n"
      for _, sig in ipairs(sigs) do
        local role = ROLE_LABELS[field(sig, "role")]
        local reps = representatives_text(sig)
        out[#out + 1] = "<li><strong>" .. esc(str(field(sig, "organisation"))) .. "</strong>"
          .. (role and (" (" .. esc(role) .. ")") or "")
          .. (reps ~= "" and (" : " .. esc(reps)) or "") .. "</li>\n"
      end
      out[#out + 1] = "</ul>\n"
    end

    local champs = list(field(conv, "champs"))
    if #champs > 0 then
      local items = {}
      for i, key in ipairs(champs) do
        items[i] = "<li>" .. esc(champ_label(key)) .. "</li>"
      end
      out[#out + 1] = "<h2>Champs d'intervention</h2>\n<ul>" .. concat(items) .. "</ul>\n"
    end

    local objectives = list(field(conv, "objectives"))
    if #objectives > 0 then
      out[#out + 1] = "<h2>Objectifs</h2>\n"
      for _, o in ipairs(objectives) do
        out[#out + 1] = "<h3>" .. esc(str(field(o, "title")) or str(field(o, "id"))) .. "</h3>\n"
        local goals = list(field(o, "goals"))
        if #goals > 0 then
          local items = {}
          for i, g in ipairs(goals) do
            items[i] = "<li>" .. esc(g) .. "</li>"
          end
          out[#out + 1] = "<ul>" .. concat(items) .. "</ul>\n"
        end
      end
    end

    local actions = list(field(conv, "actions"))
    out[#out + 1] = "<h2>Fiches actions</h2>\n"
    if #actions == 0 then
      out[#out + 1] = '<p class="muted">Aucune fiche action n\'est saisie.</p>\n'
    else
      local titles = objective_titles(conv)
      out[#out + 1] = "<table>\n<thead><tr><th>N°</th><th>Fiche action</th><th>Objectif</th>"
        .. "<th>Champ</th><th>Statut</th><th>Avancement</th><th>Pilote</th><th>Budget</th>"
        .. "</tr></thead>\n<tbody>\n"
      for _, a in ipairs(actions) do
        local obj = str(field(a, "objective"))
        local champ = str(field(a, "champ"))
        local pr = num(field(a, "progress"))
        local budget = num(field(a, "budget"))
        out[#out + 1] = "<tr><td>" .. esc(action_number(a)) .. "</td><td>"
          .. esc(str(field(a, "title"))) .. "</td><td>" .. esc(obj and (titles[obj] or obj))
          .. "</td><td>" .. esc(champ and champ_label(champ)) .. "</td><td>"
          .. esc(ACTION_STATUS_LABELS[field(a, "status")]) .. '</td><td class="n">'
          .. esc(pr and with_unit(pr, "%")) .. "</td><td>" .. esc(str(field(a, "lead")))
          .. '</td><td class="n">' .. esc(budget and with_unit(budget, "€")) .. "</td></tr>\n"
      end
      out[#out + 1] = "</tbody>\n</table>\n"

      out[#out + 1] = "<h2>Avancement par champ</h2>\n"
      local rows = {}
      for _, key in ipairs(s.champ_order) do
        local b = s.by_champ[key]
        local mean = b.sum / b.n
        rows[#rows + 1] = {
          label = key == "" and "Sans champ" or champ_label(key), value = mean,
          text = with_unit(mean, "%") .. " (" .. b.n .. " fiche" .. (b.n > 1 and "s" or "") .. ")",
        }
      end
      if #rows == 0 then
        out[#out + 1] = '<p class="muted">Aucun avancement n\'est connu.</p>\n'
      else
        out[#out + 1] = '<p class="muted">Avancement moyen des fiches actions non abandonnées, '
          .. "par champ d'intervention (0 à 100 %).</p>\n"
        svg_bars(out, "Avancement moyen par champ", rows, 100)
        out[#out + 1] = "\n"
      end
    end

    out[#out + 1] = "<h2>Indicateurs</h2>\n<table>\n<thead><tr><th>Indicateur</th><th>Valeur"
      .. "</th><th>Définition</th></tr></thead>\n<tbody>\n"
    for _, ind in ipairs(INDICATORS) do
      out[#out + 1] = "<tr><td>" .. esc(ind.label) .. '</td><td class="n">'
        .. esc(with_unit(values[ind.key], ind.unit)) .. '</td><td class="muted">'
        .. esc(ind.description) .. "</td></tr>\n"
    end
    out[#out + 1] = "</tbody>\n</table>\n"

    local targets = target_rows(conv, values)
    out[#out + 1] = "<h2>Indicateurs et cibles</h2>\n"
    if #targets == 0 then
      out[#out + 1] = '<p class="muted">La convention ne fixe pas de cible (targets).</p>\n'
    else
      svg_targets(out, targets)
      out[#out + 1] = "\n<table>\n<thead><tr><th>Indicateur</th><th>Référence</th><th>Valeur "
        .. "actuelle</th><th>Cible</th><th>Échéance</th></tr></thead>\n<tbody>\n"
      for _, r in ipairs(targets) do
        out[#out + 1] = "<tr><td>" .. esc(r.label) .. '</td><td class="n">'
          .. esc(r.baseline and with_unit(r.baseline, r.unit)) .. '</td><td class="n">'
          .. esc(with_unit(r.value, r.unit)) .. '</td><td class="n">'
          .. esc(r.target and with_unit(r.target, r.unit)) .. '</td><td>'
          .. esc(r.year and format("%d", r.year)) .. "</td></tr>\n"
      end
      out[#out + 1] = "</tbody>\n</table>\n"
    end
    local rev, updated = num(field(conv, "rev")), str(field(conv, "updated_at"))
    html_foot(out, rev and ("Convention " .. (str(field(conv, "id")) or "") .. ", révision "
      .. format("%d", rev) .. (updated and (" du " .. updated) or "")) or nil)
    return concat(out)
  end,
}

---------------------------------------------------------------------------------------------
-- Reports over a department
---------------------------------------------------------------------------------------------

-- A CSV built in batches of rows, so that a report over many conventions never holds all its
-- rows as Lua tables at once. add(row) takes an array of strings; finish() returns the text.
local CSV_BATCH = 500

local function csv_writer(header)
  local chunks, rows = {}, { header }
  local w = {}
  local function flush()
    local text = ctg.csv(rows)
    if text:sub(-2) ~= "\r\n" then
      text = text .. "\r\n"  -- every batch ends its last record, so that batches join up
    end
    chunks[#chunks + 1] = text
    rows = {}
  end
  function w.add(row)
    rows[#rows + 1] = row
    if #rows >= CSV_BATCH then
      flush()
    end
  end
  function w.finish()
    if #rows > 0 then
      flush()
    end
    return concat(chunks)
  end
  return w
end

local function territory_name(conv)
  return str(field(field(conv, "territory"), "name")) or ""
end

p:report{
  key = "conventions.csv", label = "Conventions (CSV)", content_type = "text/csv; charset=utf-8",
  render = function(conventions)
    local csv = csv_writer{ "id", "titre", "territoire", "statut", "debut", "fin", "signee_le",
                            "champs", "fiches_actions", "taux_realisation", "avancement_moyen",
                            "budget_engage", "rev", "mise_a_jour" }
    for _, conv in ipairs(list(conventions)) do
      local s = action_stats(conv)
      local per = field(conv, "period")
      csv.add{
        str(field(conv, "id")) or "", str(field(conv, "title")) or "", territory_name(conv),
        str(field(conv, "status")) or "", str(field(per, "start")) or "",
        str(field(per, "end")) or "", str(field(conv, "signed_on")) or "",
        concat(list(field(conv, "champs")), " "), format("%d", s.total),
        plain_number(taux_realisation(s)), plain_number(avancement_moyen(s)),
        plain_number(budget_engage(s)), plain_number(num(field(conv, "rev"))),
        str(field(conv, "updated_at")) or "",
      }
    end
    return csv.finish()
  end,
}

p:report{
  key = "indicateurs.csv", label = "Indicateurs par convention (CSV)",
  content_type = "text/csv; charset=utf-8",
  render = function(conventions)
    local csv = csv_writer{ "id", "titre", "indicateur", "libelle", "unite", "valeur",
                            "reference", "cible", "annee_cible" }
    for _, conv in ipairs(list(conventions)) do
      local values = compute_all(conv)
      local id, title = str(field(conv, "id")) or "", str(field(conv, "title")) or ""
      local targets = field(conv, "targets")
      for _, ind in ipairs(INDICATORS) do
        local t = field(targets, ind.key)
        csv.add{
          id, title, ind.key, ind.label, ind.unit or "", plain_number(values[ind.key]),
          plain_number(num(field(t, "baseline"))), plain_number(num(field(t, "target"))),
          plain_number(num(field(t, "year"))),
        }
      end
    end
    return csv.finish()
  end,
}

local DASHBOARD_DETAIL_MAX = 300  -- above this, the per-convention chart becomes a histogram

p:report{
  key = "tableau-de-bord", label = "Tableau de bord (HTML)",
  content_type = "text/html; charset=utf-8",
  render = function(conventions)
    conventions = list(conventions)
    local n = #conventions
    local by_status = {}
    local per_conv = {}          -- {label, value} per convention, kept only for small sets
    local buckets = {}           -- 0-9, 10-19, ..., 90-100 (index 1..10) and unknown (11)
    for i = 1, 11 do
      buckets[i] = 0
    end
    local departments = {}
    local total_actions, total_done, total_active, budget, budget_known = 0, 0, 0, 0, false
    for _, conv in ipairs(conventions) do
      local st = field(conv, "status")
      by_status[st or ""] = (by_status[st or ""] or 0) + 1
      local dep = str(field(conv, "department"))
      if dep then
        departments[dep] = true
      end
      local s = action_stats(conv)
      total_actions = total_actions + s.total
      total_done = total_done + s.done
      total_active = total_active + s.active
      if s.budget_n > 0 then
        budget, budget_known = budget + s.budget_sum, true
      end
      local mean = avancement_moyen(s)
      if mean then
        local b = math.min(floor(mean / 10), 9) + 1
        buckets[b] = buckets[b] + 1
      else
        buckets[11] = buckets[11] + 1
      end
      if n <= DASHBOARD_DETAIL_MAX then
        local label = str(field(conv, "title")) or str(field(conv, "id")) or "?"
        local terr = territory_name(conv)
        if terr ~= "" and not label:find(terr, 1, true) then
          label = label .. " — " .. terr
        end
        per_conv[#per_conv + 1] = {
          label = label, value = mean,
          text = mean and with_unit(mean, "%") or "non calculable",
        }
      end
    end

    local deps = sorted_keys(departments)
    local title = "Tableau de bord des conventions territoriales globales"
    if #deps == 1 then
      title = title .. " — département " .. deps[1]
    end
    local out = {}
    html_head(out, title)
    out[#out + 1] = "<h1>" .. esc(title) .. "</h1>\n<dl>\n"
    local facts = {
      { "Conventions", fr_number(n) },
      { "Fiches actions", fr_number(total_actions) },
      { "Fiches actions réalisées", total_active > 0
          and (fr_number(total_done) .. " (" .. with_unit(total_done * 100 / total_active, "%")
               .. " des fiches prévues, en cours ou réalisées)") or fr_number(total_done) },
      { "Budget des fiches actions", budget_known and with_unit(budget, "€") or "non renseigné" },
    }
    for _, f in ipairs(facts) do
      out[#out + 1] = "<dt>" .. esc(f[1]) .. "</dt><dd>" .. esc(f[2]) .. "</dd>\n"
    end
    out[#out + 1] = "</dl>\n"

    out[#out + 1] = "<h2>Conventions par statut</h2>\n"
    local rows, max = {}, 0
    for _, st in ipairs(STATUS_ORDER) do
      local c = by_status[st] or 0
      max = math.max(max, c)
      rows[#rows + 1] = { label = STATUS_LABELS[st], value = c, text = fr_number(c) }
    end
    svg_bars(out, "Conventions par statut", rows, max)
    out[#out + 1] = "\n"

    out[#out + 1] = "<h2>Avancement moyen des fiches actions par convention</h2>\n"
    if n == 0 then
      out[#out + 1] = '<p class="muted">Aucune convention.</p>\n'
    elseif n <= DASHBOARD_DETAIL_MAX then
      svg_bars(out, "Avancement moyen par convention", per_conv, 100)
      out[#out + 1] = "\n"
    else
      out[#out + 1] = '<p class="muted">' .. esc(fr_number(n)) .. " conventions : répartition par "
        .. "tranche d'avancement moyen (le détail par convention est dans le rapport "
        .. "conventions.csv).</p>\n"
      rows, max = {}, 0
      for i = 1, 10 do
        max = math.max(max, buckets[i])
        rows[i] = {
          label = (i == 10) and "90 à 100 %" or format("%d à moins de %d %%", (i - 1) * 10, i * 10),
          value = buckets[i], text = fr_number(buckets[i]),
        }
      end
      max = math.max(max, buckets[11])
      rows[11] = { label = "Non calculable", value = buckets[11], text = fr_number(buckets[11]),
                   color = "#999" }
      svg_bars(out, "Répartition des conventions par avancement moyen", rows, max)
      out[#out + 1] = "\n"
    end
    html_foot(out, fr_number(n) .. " convention" .. (n > 1 and "s" or ""))
    return concat(out)
  end,
}

---------------------------------------------------------------------------------------------
-- Events
---------------------------------------------------------------------------------------------

-- When an update moves a convention's status, tell subscribers: ctg.<department>.plugin.statut
-- {id, rev, status, label}. A creation moves nothing: its status is in the doc of its
-- convention.created event, and a second message for every new convention would double what
-- subscribers receive during an import. Only updates call the handler.
p:on_change(function(event)
  local changed = false
  for _, key in ipairs(list(field(event, "changed"))) do
    if key == "status" then
      changed = true
      break
    end
  end
  local doc = field(event, "doc")
  if changed and doc then
    local st = field(doc, "status")
    ctg.publish("statut", { id = event.id, rev = event.rev, status = st,
                            label = STATUS_LABELS[st] or st })
  end
end, { "convention.updated" })
