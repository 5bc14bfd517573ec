--[[
29-finistere.lua — the variant of the Caf du Finistère (department 29).

Source: the press text on the signing of the CTG of the Pays Bigouden Sud (seed 000), on
11 February at the Triskell in Pont-l'Abbé, by the Caf du Finistère, the Conseil départemental
du Finistère and the Communauté de communes du Pays Bigouden Sud.

What it owns:
  * the 16 champs d'intervention of that text, in its order and with its labels. A champ whose
    label names one base champ (possibly with a precision) reuses the base key and relabels it:
    acces-aux-droits, mobilite, animation-vie-sociale, handicap, logement, parentalite, jeunesse.
    The others get a key derived from their label; "Petite Enfance, Enfance et Familles" names two
    base champs at once, so it is a champ of its own.
  * the six "objectifs communs et partagés" with their goals (SHARED_OBJECTIVES), used by
    - the indicator "objectifs-partages-couverts": how many of the six have at least one fiche
      action that is not abandoned;
    - the export "objectifs-partages" (Markdown): the six objectives, their goals, and the fiches
      actions of the convention under each.
  A convention's objective is one of the six when its id is the id below, or its title is the
  objective's title (compared without case, spaces or apostrophe style).
]]

local NULL = ctg.json.null
local concat, format = table.concat, string.format

local p = ctg.plugin{ name = "finistere", department = "29", label = "Caf du Finistère" }

local GROUP = "Champs d'intervention du Pays Bigouden Sud"

-- The 16 champs d'intervention, as listed in the text.
local CHAMPS = {
  { key = "acces-aux-droits", label = "Accès aux droits et accessibilité aux services" },
  { key = "outil-numerique", label = "Développement de l’outil numérique" },
  { key = "mobilite", label = "Mobilités" },
  { key = "animation-vie-sociale", label = "Lien social et animation de la vie sociale" },
  { key = "culture-sports-loisirs", label = "Accès à la culture aux sports et aux loisirs" },
  { key = "handicap", label = "Handicap" },
  { key = "publics-fragilises", label = "Publics fragilisés" },
  { key = "personnes-agees", label = "Personnes Agées" },
  { key = "gens-du-voyage", label = "Gens du Voyage" },
  { key = "logement", label = "Logement" },
  { key = "petite-enfance-enfance-familles", label = "Petite Enfance, Enfance et Familles" },
  { key = "parentalite", label = "Parentalité" },
  { key = "insertion-sociale-professionnelle", label = "Insertion sociale et professionnelle" },
  { key = "autonomie-citoyennete", label = "Autonomie et Citoyenneté" },
  { key = "sante", label = "Santé" },
  { key = "jeunesse", label = "Jeunesse" },
}

for _, c in ipairs(CHAMPS) do
  p:champ{ key = c.key, label = c.label, group = GROUP }
end

-- The six shared objectives of development and coordination, with their goals, as in the text.
local SHARED_OBJECTIVES = {
  {
    id = "services-publics-accessibles",
    title = "Rendre les services publics accessibles à tous",
    goals = {
      "Améliorer la lisibilité de l’offre de services",
      "Améliorer la couverture territoriale des services",
      "Accompagner la dématérialisation des services publics",
      "Aller vers les publics isolés ou « invisibles » et lutter contre le non-recours",
      "Permettre l’accès aux offres de loisirs, au sport, à la culture",
    },
  },
  {
    id = "concilier-vie-professionnelle-familiale-sociale",
    title = "Aider les familles à concilier vie professionnelle, vie familiale et vie sociale",
    goals = {
      "Favoriser la diversité des modes d’accueils du jeune enfant pour répondre aux besoins des familles sur tout le territoire",
      "Favoriser la qualité des services d’accueil, l’information et l’accompagnement des parents dans leur choix de mode d’accueil",
      "Soutenir la fonction parentale et faciliter les relations parents-enfants",
    },
  },
  {
    id = "qualite-de-vie-lien-social",
    title = "Favoriser la qualité de vie, le lien social et l'implication des habitants dans la vie locale",
    goals = {
      "Favoriser la mixité sociale, le lien social et l’engagement citoyen",
      "Lutter contre les discriminations et les fractures sociales",
      "Promouvoir et soutenir les initiatives associatives",
    },
  },
  {
    id = "autonomie-insertion",
    title = "Créer les conditions favorables à l'autonomie, à l'insertion sociale et professionnelle",
    goals = {
      "Permettre l’accès à l’Information pour les jeunes (11 – 30 ans) et Personnes Agées (CLIC)",
      "Soutenir les actions de remobilisation et de confiance en soi",
      "Favoriser les conditions d’accès et de retour à l’emploi",
      "Favoriser la mobilité durable des habitants",
      "Favoriser les conditions d’accès et de maintien dans le logement",
    },
  },
  {
    id = "prevention-isolement",
    title = "Soutenir les actions de prévention et de lutte contre l'isolement",
    goals = {
      "Soutenir les actions de prévention et l’accompagnement des publics",
      "Favoriser le décloisonnement, le travail en réseau pour prévenir les situations d’urgences et les ruptures de parcours",
      "Accompagner la perte d’autonomie des personnes âgées, favoriser la vie sociale et les solidarités locales",
    },
  },
  {
    id = "mobilites-pour-tous",
    title = "Créer les conditions favorables aux mobilités pour tous",
    goals = {
      "Améliorer la connaissance de l’existant",
      "Développer des solutions de mobilité adaptées",
      "Développer des solutions de mobilités entre les pôles du territoire",
      "Développer les Mobilité innovantes",
      "Fédérer et animer un réseau d’acteurs",
    },
  },
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

-- A title for comparison: lower-case ASCII, one kind of apostrophe, single spaces, no spaces
-- at the ends.
local function normalized(s)
  if type(s) ~= "string" then
    return nil
  end
  s = s:gsub("\226\128\153", "'"):gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")
  return s:lower()
end

local SHARED_BY_ID, SHARED_BY_TITLE = {}, {}
for i, o in ipairs(SHARED_OBJECTIVES) do
  SHARED_BY_ID[o.id] = i
  SHARED_BY_TITLE[normalized(o.title)] = i
end

--[[
How the convention uses the six objectives, in one pass over objectives and actions:
  used      whether at least one of the convention's objectives is one of the six
  actions   index of the shared objective (1..6) -> list of the actions under it (not abandoned)
]]
local function shared_use(conv)
  local index_of = {}  -- the convention's objective id -> 1..6
  local used = false
  for _, o in ipairs(list(field(conv, "objectives"))) do
    local id = field(o, "id")
    local i = SHARED_BY_ID[id] or SHARED_BY_TITLE[normalized(field(o, "title"))]
    if i and type(id) == "string" then
      index_of[id] = i
      used = true
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
  key = "objectifs-partages-couverts",
  pure = true,
  label = "Objectifs communs et partagés couverts par une fiche action (sur 6)",
  unit = "objectifs",
  description = "Nombre des six objectifs communs et partagés de la CTG du Pays Bigouden Sud qui "
    .. "ont au moins une fiche action non abandonnée. Non calculable quand la convention ne "
    .. "reprend aucun de ces objectifs.",
  compute = function(conv)
    local used, actions = shared_use(conv)
    if not used then
      return nil
    end
    local n = 0
    for i = 1, #SHARED_OBJECTIVES do
      if actions[i] then
        n = n + 1
      end
    end
    return n
  end,
}

p:export{
  key = "objectifs-partages",
  pure = true,
  label = "Objectifs communs et partagés (Markdown)",
  content_type = "text/markdown; charset=utf-8",
  render = function(conv)
    local used, actions = shared_use(conv)
    local out = {
      "# Objectifs communs et partagés",
      "",
      "Les objectifs communs et partagés de développement et de coordination des actions et "
        .. "services de la Convention Territoriale Globale du Pays Bigouden Sud.",
    }
    local title = field(conv, "title")
    if type(title) == "string" then
      out[#out + 1] = ""
      out[#out + 1] = "Convention : " .. title
      if not used then
        out[#out + 1] = ""
        out[#out + 1] = "_Cette convention ne reprend aucun de ces objectifs._"
      end
    end
    for i, o in ipairs(SHARED_OBJECTIVES) do
      out[#out + 1] = ""
      out[#out + 1] = format("## %d. %s", i, o.title)
      out[#out + 1] = ""
      for _, g in ipairs(o.goals) do
        out[#out + 1] = "- " .. g
      end
      if used then
        out[#out + 1] = ""
        local under = actions[i]
        if not under then
          out[#out + 1] = "Fiches actions : aucune."
        else
          out[#out + 1] = "Fiches actions :"
          out[#out + 1] = ""
          for _, a in ipairs(under) do
            local n = field(a, "number")
            out[#out + 1] = "- " .. (n ~= nil and (tostring(math.tointeger(n) or n) .. ". ") or "")
              .. tostring(field(a, "title") or field(a, "id") or "")
          end
        end
      end
    end
    out[#out + 1] = ""
    return concat(out, "\n")
  end,
}
