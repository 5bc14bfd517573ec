--[[
49-maine-et-loire.lua — the variant of the Caf de Maine-et-Loire (department 49).

Source: the press text on the CTG signed by the Ville de Baugé-en-Anjou and the Caf de
Maine-et-Loire on Friday 28 February (seed 002).

What it owns:
  * the "neuf champs d'intervention retenus", with the text's labels (final full stop left out).
    A champ that is one base champ reuses its key, relabelled: petite-enfance, enfance, jeunesse,
    parentalite, logement ("Accès et maintien dans le logement"), mobilite ("Mobilité et
    isolement"), animation-vie-sociale. "Soutien aux familles confrontées à des évènements
    fragilisant" is a champ of its own, and so is "L'accès aux droits et aux services, l'accès
    numérique", which joins two base champs (acces-aux-droits and inclusion-numerique).
  * the rule "cette convention est signée pour une durée de 4 ans": the period lasts 4 years,
    i.e. its end is the day before the same date 4 years later (2020-02-28 → 2024-02-27) or that
    date itself (→ 2024-02-28). Avenants (amendments) may extend it afterwards.
]]

local NULL = ctg.json.null
local format, tonumber, type = string.format, tonumber, type

local p = ctg.plugin{ name = "maine-et-loire", department = "49", label = "Caf de Maine-et-Loire" }

local GROUP = "Champs d'intervention retenus"

local CHAMPS = {
  { key = "petite-enfance", label = "La petite enfance 0 – 3 ans" },
  { key = "enfance", label = "L'enfance 3 – 11 ans" },
  { key = "jeunesse", label = "La jeunesse" },
  { key = "parentalite", label = "La parentalité" },
  { key = "logement", label = "Accès et maintien dans le logement" },
  { key = "mobilite", label = "Mobilité et isolement" },
  { key = "animation-vie-sociale", label = "L'animation de la vie sociale" },
  { key = "soutien-familles-evenements-fragilisants",
    label = "Soutien aux familles confrontées à des évènements fragilisant" },
  { key = "acces-droits-services-numerique",
    label = "L'accès aux droits et aux services, l'accès numérique" },
}

for _, c in ipairs(CHAMPS) do
  p:champ{ key = c.key, label = c.label, group = GROUP }
end

local DURATION_YEARS = 4

---------------------------------------------------------------------------------------------

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

local DAYS_IN_MONTH = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

local function is_leap(y)
  return (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0
end

local function parse_date(s)
  if type(s) ~= "string" then
    return nil
  end
  local y, m, d = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
  if not y then
    return nil
  end
  return tonumber(y), tonumber(m), tonumber(d)
end

local function iso_date(y, m, d)
  return format("%04d-%02d-%02d", y, m, d)
end

-- The same day `years` after y-m-d (29 February becomes 28 February in a common year), and the
-- day before it: year, month and day of each.
local function anniversary(y, m, d, years)
  y = y + years
  if m == 2 and d == 29 and not is_leap(y) then
    d = 28
  end
  local py, pm, pd = y, m, d - 1
  if pd == 0 then
    pm = pm - 1
    if pm == 0 then
      py, pm = py - 1, 12
    end
    pd = DAYS_IN_MONTH[pm] + ((pm == 2 and is_leap(py)) and 1 or 0)
  end
  return y, m, d, py, pm, pd
end

p:validate(function(conv)
  local period = field(conv, "period")
  local start, stop = field(period, "start"), field(period, "end")
  local y, m, d = parse_date(start)
  if not y then
    return nil
  end
  local ay, am, ad, by, bm, bd = anniversary(y, m, d, DURATION_YEARS)
  -- The dates are compared as numbers: their texts are written only for a refusal.
  local sy, sm, sd = parse_date(stop)
  if not sy or (sy == ay and sm == am and sd == ad) or (sy == by and sm == bm and sd == bd) then
    return nil
  end
  return { {
    path = "/period/end",
    message = format("une convention territoriale globale est signée pour une durée de %d ans : "
      .. "la période commençant le %s doit finir le %s (ou le %s), pas le %s ; une prolongation "
      .. "se fait par avenant (amendments)", DURATION_YEARS, start, iso_date(by, bm, bd),
      iso_date(ay, am, ad), stop),
  } }
end)
