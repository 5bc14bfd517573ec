--[[
30-gard.lua — the variant of the Caf du Gard (department 30).

Source: the presentation of the CTG of the Pays Viganais (seed 001).

What it owns:
  * the champs of the three lines of "Où en sommes-nous en Pays Viganais ?", each with the whole
    line as its group. A line is read as a French list: commas separate the champs and the last
    "et" joins the last two ("formation, emploi et insertion" is three champs), except where
    adjectives share one noun ("Vie sociale, culturelle et sportive" is one champ). A champ that
    is a base champ reuses its key (relabelled as in the text): parentalite, petite-enfance,
    enfance, jeunesse, acces-aux-droits, inclusion-numerique ("Numérique"), logement, mobilite.
  * the five steps of the démarche (DEMARCHE), which name the lifecycle statuses of the
    document (preparation … evaluation; `closed` is not one of the steps), shown by the export
    "demarche" (Markdown);
  * the rule "la définition d'un plan d'action sur une période pluriannuelle de 4 ans": the
    period of a convention lasts at most 4 years (its end is at the latest the same day 4 years
    after its start). Avenants (amendments) that extend a convention are not limited by it.
]]

local NULL = ctg.json.null
local concat, format = table.concat, string.format

local p = ctg.plugin{ name = "gard", department = "30", label = "Caf du Gard" }

local LINES = {
  {
    group = "Parentalité, petite enfance, enfance, jeunesse, seniors",
    champs = {
      { key = "parentalite", label = "Parentalité" },
      { key = "petite-enfance", label = "Petite enfance" },
      { key = "enfance", label = "Enfance" },
      { key = "jeunesse", label = "Jeunesse" },
      { key = "seniors", label = "Seniors" },
    },
  },
  {
    group = "Accès aux droits, numérique, précarité, formation, emploi et insertion",
    champs = {
      { key = "acces-aux-droits", label = "Accès aux droits" },
      { key = "inclusion-numerique", label = "Numérique" },
      { key = "precarite", label = "Précarité" },
      { key = "formation", label = "Formation" },
      { key = "emploi", label = "Emploi" },
      { key = "insertion", label = "Insertion" },
    },
  },
  {
    group = "Vie sociale, culturelle et sportive, logement, mobilité et cadre de vie",
    champs = {
      { key = "vie-sociale-culturelle-sportive", label = "Vie sociale, culturelle et sportive" },
      { key = "logement", label = "Logement" },
      { key = "mobilite", label = "Mobilité" },
      { key = "cadre-de-vie", label = "Cadre de vie" },
    },
  },
}

for _, line in ipairs(LINES) do
  for _, c in ipairs(line.champs) do
    p:champ{ key = c.key, label = c.label, group = line.group }
  end
end

-- The steps of the démarche, as in the text, with the status of the document for each.
local DEMARCHE = {
  { status = "preparation", text = "La préparation qui permet de s’approprier la démarche" },
  { status = "diagnostic", text = "Le diagnostic partagé pour identifier l’ensemble des ressources "
      .. "et des besoins et construire une vision commune du territoire et de ses priorités" },
  { status = "action_plan", text = "La définition d’un plan d’action sur une période pluriannuelle de 4 ans" },
  { status = "monitoring", text = "Le pilotage et le suivi de cette convention" },
  { status = "evaluation", text = "L’évaluation des actions qui auront été mises en oeuvre" },
}

local PLAN_YEARS = 4

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

local function is_leap(y)
  return (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0
end

-- The same day `years` later; 29 February becomes 28 February in a common year.
local function add_years(s, years)
  local y, m, d = parse_date(s)
  if not y then
    return nil
  end
  y = y + years
  if m == 2 and d == 29 and not is_leap(y) then
    d = 28
  end
  return format("%04d-%02d-%02d", y, m, d)
end

p:validate(function(conv)
  local period = field(conv, "period")
  local start, stop = field(period, "start"), field(period, "end")
  local limit = add_years(start, PLAN_YEARS)
  if not limit or not parse_date(stop) or stop <= limit then
    return nil
  end
  return { {
    path = "/period/end",
    message = format("le plan d'action porte sur une période pluriannuelle de %d ans : la période "
      .. "commençant le %s doit finir au plus tard le %s (fin donnée : %s) ; une prolongation "
      .. "se fait par avenant (amendments)", PLAN_YEARS, start, limit, stop),
  } }
end)

p:export{
  key = "demarche",
  pure = true,
  label = "Étapes de la démarche (Markdown)",
  content_type = "text/markdown; charset=utf-8",
  render = function(conv)
    local status = field(conv, "status")
    local out = { "# La démarche de la Convention Territoriale Globale", "" }
    local title = field(conv, "title")
    if type(title) == "string" then
      out[#out + 1] = "Convention : " .. title
      out[#out + 1] = ""
    end
    out[#out + 1] = "Les étapes de la démarche entre les acteurs :"
    out[#out + 1] = ""
    local current
    for i, step in ipairs(DEMARCHE) do
      local here = step.status == status
      if here then
        current = i
      end
      out[#out + 1] = format("%d. %s%s%s", i, here and "**" or "", step.text,
        here and "** ← étape en cours" or "")
    end
    out[#out + 1] = ""
    if status == "closed" then
      out[#out + 1] = "La convention est close."
    elseif current then
      out[#out + 1] = format("Étape en cours : %d sur %d.", current, #DEMARCHE)
    end
    out[#out + 1] = ""
    return concat(out, "\n")
  end,
}
