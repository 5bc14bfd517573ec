--[[
15-cantal.lua — the variant of the Caf du Cantal (department 15).

Source: the press text on the first CTG of the Cantal, signed with Saint-Flour Communauté
(seed 004): a 4-year agreement (2017-2020), first piece of the Contrat de cohésion sociale of
Saint-Flour Communauté / Ville de Saint-Flour adopted on 18 December 2017, whose three axes take
in ten "fiches actions" concerned by the CTG.

What it owns:
  * champs for those fiches actions that no base champ covers, derived from the fiche titles,
    each in the group of its axis: msap (fiche 7), gens-du-voyage (9), aide-alimentaire (10),
    habitat-jeune (15), enfance-jeunesse (20). The other fiches fall under base champs:
    mobilite (2), petite-enfance (19), animation-vie-sociale (21), parentalite (22); fiche 23,
    "Coordination de la CTG", is no champ d'intervention.
  * the three axes and the ten fiches actions (AXES, FICHES);
  * a rule for the conventions that take up the Contrat de cohésion sociale (territory named
    "Saint-Flour Communauté", or extra.contrat_cohesion_sociale present):
      - an action's number must be one of the ten fiches (2, 7, 9, 10, 15, 19, 20, 21, 22, 23);
      - an action numbered as a fiche carries that fiche's title (the title may say more, e.g.
        "Fiche action 2 : Aider à la mobilité") and belongs to its axis: its objective is the
        axis (objective id "axe-1".."axe-3", or an objective whose title is the axis's);
      - an action carrying a fiche's title carries that fiche's number;
  * the indicator "fiches-ccs-engagees": how many of the ten fiches are in the convention and
    not abandoned (for those conventions only);
  * the export "contrat-cohesion-sociale" (Markdown): the three axes, the ten fiches and, for each,
    the state of the matching fiche action of the convention.
]]

local NULL = ctg.json.null
local concat, format = table.concat, string.format

local p = ctg.plugin{ name = "cantal", department = "15", label = "Caf du Cantal" }

local AXES = {
  { id = "axe-1", number = 1, title = "Réduire les précarités et les isolements" },
  { id = "axe-2", number = 2, title = "Coordonner et valoriser les initiatives" },
  { id = "axe-3", number = 3, title = "Renforcer et développer une politique auprès des familles" },
}

-- The ten fiches actions of the Contrat de cohésion sociale concerned by the CTG, as in the text.
local FICHES = {
  { number = 2, axis = 1, title = "Aider à la mobilité", champ = "mobilite" },
  { number = 7, axis = 1,
    title = "Assurer un accueil inconditionnel en Maisons des Services Aux Publics (MSAP)",
    champ = "msap" },
  { number = 9, axis = 1, title = "Accompagner les projets de sédentarisation des gens du voyage",
    champ = "gens-du-voyage" },
  { number = 10, axis = 2, title = "Créer un accompagnement unique pour l’aide alimentaire",
    champ = "aide-alimentaire" },
  { number = 15, axis = 2,
    title = "Soutenir la dynamique habitat jeune à l’échelle de Saint-Flour Communauté",
    champ = "habitat-jeune" },
  { number = 19, axis = 3, title = "Elaborer un schéma d’organisation des services petite enfance",
    champ = "petite-enfance" },
  { number = 20, axis = 3,
    title = "Développer et coordonner l’offre enfance-jeunesse à l’échelle intercommunale",
    champ = "enfance-jeunesse" },
  { number = 21, axis = 3,
    title = "Développer l’animation de la vie sociale sur l’ensemble du territoire",
    champ = "animation-vie-sociale" },
  { number = 22, axis = 3, title = "Développer l’accompagnement de la fonction parentale",
    champ = "parentalite" },
  { number = 23, axis = 3, title = "Coordination de la CTG" },
}

local function axis_group(i)
  return format("Axe %d : %s", i, AXES[i].title)
end

-- The champs no base champ covers, named after the fiche titles.
p:champ{ key = "msap", label = "Maisons des Services Aux Publics (MSAP)", group = axis_group(1) }
p:champ{ key = "gens-du-voyage", label = "Gens du voyage", group = axis_group(1) }
p:champ{ key = "aide-alimentaire", label = "Aide alimentaire", group = axis_group(2) }
p:champ{ key = "habitat-jeune", label = "Habitat jeune", group = axis_group(2) }
p:champ{ key = "enfance-jeunesse", label = "Enfance-jeunesse", group = axis_group(3) }

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

-- Accented capitals of Latin-1 (À..Þ, two bytes in UTF-8) and their small letters.
local UPPER_TO_LOWER = {}
for b = 128, 158 do
  if b ~= 151 then  -- "×" is no letter
    UPPER_TO_LOWER["\195" .. string.char(b)] = "\195" .. string.char(b + 32)
  end
end

-- Lower case (ASCII and accented capitals), one kind of apostrophe, single spaces: titles are
-- compared this way.
local function normalized(s)
  if type(s) ~= "string" then
    return nil
  end
  s = s:gsub("\226\128\153", "'"):gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")
  return (s:lower():gsub("\195[\128-\158]", UPPER_TO_LOWER))
end

local FICHE_BY_NUMBER, AXIS_BY_TITLE = {}, {}
local NUMBERS_TEXT
do
  local numbers = {}
  for _, f in ipairs(FICHES) do
    FICHE_BY_NUMBER[f.number] = f
    f.normalized = normalized(f.title)
    numbers[#numbers + 1] = tostring(f.number)
  end
  NUMBERS_TEXT = concat(numbers, ", ", 1, #numbers - 1) .. " et " .. numbers[#numbers]
  for i, a in ipairs(AXES) do
    AXIS_BY_TITLE[normalized(a.title)] = i
  end
end

-- An action's number as an integer (2 or "2"), or nil when it has none; false when it is a
-- number that is not a whole one ("2.b").
local function action_number(a)
  local n = field(a, "number")
  if n == nil then
    return nil
  end
  if type(n) == "string" then
    n = n:match("^%s*(%d+)%s*$")
    return n and tonumber(n) or false
  end
  return math.tointeger(n) or false
end

-- The fiche whose title the action's title carries, if any.
local function fiche_of_title(title)
  title = normalized(title)
  if not title then
    return nil
  end
  for _, f in ipairs(FICHES) do
    if title:find(f.normalized, 1, true) then
      return f
    end
  end
  return nil
end

-- Whether the convention takes up the Contrat de cohésion sociale of Saint-Flour Communauté.
local function takes_up_contract(conv)
  if field(field(conv, "extra"), "contrat_cohesion_sociale") ~= nil then
    return true
  end
  return normalized(field(field(conv, "territory"), "name")) == "saint-flour communauté"
end

-- The convention's objective id -> axis number (1..3).
local function axes_of(conv)
  local axis_of = {}
  for _, o in ipairs(list(field(conv, "objectives"))) do
    local id = field(o, "id")
    if type(id) == "string" then
      local i = AXIS_BY_TITLE[normalized(field(o, "title"))]
      for k, a in ipairs(AXES) do
        if a.id == id then
          i = k
        end
      end
      axis_of[id] = i
    end
  end
  return axis_of
end

local function axis_name(i)
  return format("l'axe %d « %s »", i, AXES[i].title)
end

p:validate(function(conv)
  if not takes_up_contract(conv) then
    return nil
  end
  local axis_of = axes_of(conv)
  local problems = {}
  for i, a in ipairs(list(field(conv, "actions"))) do
    local at = "/actions/" .. (i - 1)
    local n = action_number(a)
    local by_title = fiche_of_title(field(a, "title"))
    local fiche = n and FICHE_BY_NUMBER[n]
    if n ~= nil and not fiche then
      problems[#problems + 1] = { path = at .. "/number", message = format(
        "la CTG englobe les fiches actions %s du Contrat de cohésion sociale : pas de fiche "
        .. "action %s", NUMBERS_TEXT, tostring(field(a, "number"))) }
    elseif fiche then
      if by_title ~= fiche then
        problems[#problems + 1] = { path = at .. "/title", message = format(
          "la fiche action %d du Contrat de cohésion sociale est « %s » : le titre doit le "
          .. "reprendre", fiche.number, fiche.title) }
      end
      if axis_of[field(a, "objective")] ~= fiche.axis then
        problems[#problems + 1] = { path = at .. "/objective", message = format(
          "la fiche action %d relève de %s : l'objectif doit être cet axe (id « %s », ou un "
          .. "objectif portant ce titre)", fiche.number, axis_name(fiche.axis),
          AXES[fiche.axis].id) }
      end
    elseif by_title then
      problems[#problems + 1] = { path = at .. "/number", message = format(
        "« %s » est la fiche action %d du Contrat de cohésion sociale : son numéro doit être %d",
        by_title.title, by_title.number, by_title.number) }
    end
  end
  if #problems == 0 then
    return nil
  end
  return problems
end)

-- The convention's action for each fiche number (the first one found), when it takes up the
-- contract; nil otherwise.
local function fiche_actions(conv)
  if not takes_up_contract(conv) then
    return nil
  end
  local found = {}
  for _, a in ipairs(list(field(conv, "actions"))) do
    local n = action_number(a)
    if n and FICHE_BY_NUMBER[n] and not found[n] then
      found[n] = a
    end
  end
  return found
end

p:indicator{
  key = "fiches-ccs-engagees",
  pure = true,
  label = "Fiches actions du Contrat de cohésion sociale engagées (sur 10)",
  unit = "fiches",
  description = "Nombre des dix fiches actions du Contrat de cohésion sociale de Saint-Flour "
    .. "Communauté concernées par la CTG qui figurent dans la convention et ne sont pas "
    .. "abandonnées. Non calculable pour une convention qui ne reprend pas ce contrat.",
  compute = function(conv)
    local found = fiche_actions(conv)
    if not found then
      return nil
    end
    local n = 0
    for _, a in pairs(found) do
      if field(a, "status") ~= "abandoned" then
        n = n + 1
      end
    end
    return n
  end,
}

local ACTION_STATUS_LABELS = {
  planned = "prévue", in_progress = "en cours", done = "réalisée", abandoned = "abandonnée",
}

p:export{
  key = "contrat-cohesion-sociale",
  pure = true,
  label = "Fiches actions du Contrat de cohésion sociale (Markdown)",
  content_type = "text/markdown; charset=utf-8",
  render = function(conv)
    local found = fiche_actions(conv)
    local out = {
      "# Les 10 « fiches actions » du Contrat de cohésion sociale concernées par la CTG",
      "",
      "Contrat de cohésion sociale de Saint-Flour Communauté / Ville de Saint-Flour, adopté le "
        .. "18 décembre 2017 en Conseil communautaire.",
    }
    local title = field(conv, "title")
    if type(title) == "string" then
      out[#out + 1] = ""
      out[#out + 1] = "Convention : " .. title
    end
    if not found then
      out[#out + 1] = ""
      out[#out + 1] = "_Cette convention ne reprend pas le Contrat de cohésion sociale._"
    end
    for i, axis in ipairs(AXES) do
      out[#out + 1] = ""
      out[#out + 1] = format("## Axe %d : « %s »", i, axis.title)
      out[#out + 1] = ""
      for _, f in ipairs(FICHES) do
        if f.axis == i then
          local line = format("- Fiche action %d : « %s »", f.number, f.title)
          if found then
            local a = found[f.number]
            if not a then
              line = line .. " — absente de la convention"
            else
              local st = ACTION_STATUS_LABELS[field(a, "status")]
              local pr = field(a, "progress")
              local parts = {}
              if st then
                parts[#parts + 1] = st
              end
              if type(pr) == "number" then
                parts[#parts + 1] = format("avancement %s %%", tostring(math.tointeger(pr) or pr))
              end
              if #parts > 0 then
                line = line .. " — " .. concat(parts, ", ")
              end
            end
          end
          out[#out + 1] = line
        end
      end
    end
    out[#out + 1] = ""
    return concat(out, "\n")
  end,
}
