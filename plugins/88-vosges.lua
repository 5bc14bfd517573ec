--[[
88-vosges.lua — the variant of the Caf des Vosges (department 88).

Source: the presentation of the CTG of the CCPVM (seed 003): a diagnostic shared by the Caf,
the conseil départemental and the communauté de communes through 2018, five thématiques, four
ambitions and a plan d'actions for the four years to come.

What it owns:
  * the five thématiques worked on in the diagnostic, as champs (group "Thématiques du
    diagnostic"). Parentalité, Animation de la Vie sociale and Accès aux droits are base champs
    (keys reused, relabelled as in the text); "Education" and "Enfance Jeunesse" (which joins
    two base champs) are champs of their own.
  * the four ambitions (AMBITIONS), expected as the convention's objectives, used by
    - the indicator "ambitions-couvertes": how many of the four ambitions have at least one
      fiche action that is not abandoned (not computable when the convention takes up none);
    - the export "ambitions" (Markdown): the four ambitions and the fiches actions under each.
  A convention's objective is an ambition when its id is the ambition's id below, or its title
  is the ambition's text (compared without case, spaces or apostrophe style).
]]

local NULL = ctg.json.null
local concat, format = table.concat, string.format

local p = ctg.plugin{ name = "vosges", department = "88", label = "Caf des Vosges" }

local GROUP = "Thématiques du diagnostic"

local CHAMPS = {
  { key = "education", label = "Education" },
  { key = "parentalite", label = "Parentalité" },
  { key = "enfance-jeunesse", label = "Enfance Jeunesse" },
  { key = "animation-vie-sociale", label = "Animation de la Vie sociale" },
  { key = "acces-aux-droits", label = "Accès aux droits" },
}

for _, c in ipairs(CHAMPS) do
  p:champ{ key = c.key, label = c.label, group = GROUP }
end

-- "Quatre grandes ambitions ont été retenues", as in the text.
local AMBITIONS = {
  { id = "ambition-1",
    title = "Améliorer la connaissance et renforcer la lisibilité des offres disponibles sur le territoire" },
  { id = "ambition-2",
    title = "Favoriser une répartition équilibrée des offres de service sur le territoire" },
  { id = "ambition-3", title = "Développer et soutenir une offre de qualité aux familles" },
  { id = "ambition-4",
    title = "Impulser une dynamique de mobilisation et d’expression des habitants" },
}

---------------------------------------------------------------------------------------------

local EMPTY = {}

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

local function list(v)
  return type(v) == "table" and v or EMPTY
end

local function normalized(s)
  if type(s) ~= "string" then
    return nil
  end
  s = s:gsub("\226\128\153", "'"):gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")
  return s:lower()
end

local AMBITION_BY_ID, AMBITION_BY_TITLE = {}, {}
for i, a in ipairs(AMBITIONS) do
  AMBITION_BY_ID[a.id] = i
  AMBITION_BY_TITLE[normalized(a.title)] = i
end

-- Whether the convention takes up at least one ambition, and the actions (not abandoned) under
-- each ambition (index 1..4 -> list).
local function ambitions_use(conv)
  local index_of, used = {}, false
  for _, o in ipairs(list(field(conv, "objectives"))) do
    local id = field(o, "id")
    local i = AMBITION_BY_ID[id] or AMBITION_BY_TITLE[normalized(field(o, "title"))]
    if i and type(id) == "string" then
      index_of[id], used = i, true
    end
  end
  local actions = {}
  for _, a in ipairs(list(field(conv, "actions"))) do
    local i = index_of[field(a, "objective")]
    if i and field(a, "status") ~= "abandoned" then
      actions[i] = actions[i] or {}
      local t = actions[i]
      t[#t + 1] = a
    end
  end
  return used, actions
end

p:indicator{
  key = "ambitions-couvertes",
  pure = true,
  label = "Ambitions couvertes par une fiche action (sur 4)",
  unit = "ambitions",
  description = "Nombre des quatre grandes ambitions retenues qui ont au moins une fiche action non "
    .. "abandonnée (actions[].objective). Non calculable quand la convention ne reprend aucune "
    .. "des ambitions dans ses objectifs.",
  compute = function(conv)
    local used, actions = ambitions_use(conv)
    if not used then
      return nil
    end
    local n = 0
    for i = 1, #AMBITIONS do
      if actions[i] then
        n = n + 1
      end
    end
    return n
  end,
}

p:export{
  key = "ambitions",
  pure = true,
  label = "Les quatre ambitions (Markdown)",
  content_type = "text/markdown; charset=utf-8",
  render = function(conv)
    local used, actions = ambitions_use(conv)
    local out = { "# Quatre grandes ambitions", "" }
    local title = field(conv, "title")
    if type(title) == "string" then
      out[#out + 1] = "Convention : " .. title
      out[#out + 1] = ""
    end
    if not used then
      out[#out + 1] = "_Cette convention ne reprend aucune des ambitions dans ses objectifs._"
      out[#out + 1] = ""
    end
    for i, a in ipairs(AMBITIONS) do
      out[#out + 1] = format("## %d. %s", i, a.title)
      out[#out + 1] = ""
      if used then
        local under = actions[i]
        if not under then
          out[#out + 1] = "Fiches actions : aucune."
        else
          out[#out + 1] = "Fiches actions :"
          out[#out + 1] = ""
          for _, act in ipairs(under) do
            local n = field(act, "number")
            out[#out + 1] = "- " .. (n ~= nil and (tostring(math.tointeger(n) or n) .. ". ") or "")
              .. tostring(field(act, "title") or field(act, "id") or "")
          end
        end
        out[#out + 1] = ""
      end
    end
    return concat(out, "\n")
  end,
}
