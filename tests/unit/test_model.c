/*
 * test_model.c — the checks of core/model.c against SPEC §2.
 *
 * Every case starts from one complete, valid convention and changes one value (or a few, where
 * the point is that all problems are reported at once), then asserts how many problems are
 * found and the JSON pointer of the first. Most rules are tables of such mutations.
 */
#include "ctg/model.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"

static const char valid_json[] =
    "{"
    " \"id\": \"pays-bigouden-sud-2020\","
    " \"department\": \"29\","
    " \"title\": \"Convention territoriale globale du Pays Bigouden Sud\","
    " \"territory\": {\"name\": \"Communauté de communes du Pays Bigouden Sud\","
    "   \"kind\": \"epci\", \"siren\": \"242900645\","
    "   \"communes\": [\"Pont-l'Abbé\", \"Le Guilvinec\", \"Loctudy\", \"Penmarc'h\","
    "     \"Plobannalec-Lesconil\", \"Treffiagat\", \"Tréméoc\", \"Combrit\", \"Île-Tudy\","
    "     \"Plomeur\", \"Saint-Jean-Trolimon\", \"Tréguennec\"]},"
    " \"signatories\": ["
    "   {\"organisation\": \"Caf du Finistère\", \"role\": \"caf\","
    "    \"representatives\": [{\"name\": \"Anne Le Goff\", \"title\": \"Directrice\"}]},"
    "   {\"organisation\": \"Communauté de communes du Pays Bigouden Sud\", \"role\": \"epci\","
    "    \"representatives\": [{\"name\": \"Yann Cariou\", \"title\": \"Président\"}]},"
    "   {\"organisation\": \"Conseil départemental du Finistère\", \"role\": \"departement\"}],"
    " \"signed_on\": \"2020-02-14\","
    " \"period\": {\"start\": \"2020-01-01\", \"end\": \"2023-12-31\"},"
    " \"status\": \"monitoring\","
    " \"champs\": [\"petite-enfance\", \"enfance-jeunesse\", \"parentalite\","
    "   \"acces-aux-droits\", \"animation-vie-sociale\"],"
    " \"objectives\": ["
    "   {\"id\": \"axe-1\", \"title\": \"Développer l'accueil du jeune enfant\","
    "    \"goals\": [\"Couvrir les besoins d'accueil des communes littorales\"]},"
    "   {\"id\": \"axe-2\", \"title\": \"Accompagner les parents\","
    "    \"goals\": [\"Mailler le territoire en lieux d'accueil enfants-parents\"]}],"
    " \"actions\": ["
    "   {\"id\": \"fa-1\", \"number\": 1, \"title\": \"Créer un relais petite enfance\","
    "    \"objective\": \"axe-1\", \"champ\": \"petite-enfance\", \"status\": \"done\","
    "    \"progress\": 100, \"lead\": \"CCPBS\", \"budget\": 45000,"
    "    \"start\": \"2020-09-01\", \"end\": \"2021-06-30\","
    "    \"figures\": {\"assistantes_maternelles\": 212}},"
    "   {\"id\": \"fa-2\", \"number\": \"2.a\", \"title\": \"Ouvrir un LAEP itinérant\","
    "    \"objective\": \"axe-2\", \"champ\": \"parentalite\", \"status\": \"in_progress\","
    "    \"progress\": 60, \"lead\": \"Centre social de Pont-l'Abbé\", \"budget\": 12000.5,"
    "    \"start\": \"2021-01-01\", \"end\": \"2023-12-31\","
    "    \"figures\": {\"familles_accueillies\": 85}}],"
    " \"governance\": {\"steering_committee\": [\"Caf du Finistère\", \"CCPBS\"],"
    "   \"thematic_committees\": [{\"name\": \"Petite enfance\", \"champs\": [\"petite-enfance\"],"
    "     \"members\": [\"RPE\", \"PMI\"]}]},"
    " \"diagnostic\": {\"year\": 2019, \"figures\": {\"population\": 37600,"
    "   \"children_0_3\": 1050, \"allocataires\": 8600}},"
    " \"funding\": [{\"year\": 2020, \"amount\": 250000, \"source\": \"Caf\","
    "   \"label\": \"Bonus territoire CTG\"}],"
    " \"targets\": {\"taux-couverture-eaje\": {\"baseline\": 52.3, \"target\": 60, \"year\": 2023}},"
    " \"amendments\": [{\"date\": \"2022-06-15\", \"kind\": \"modification\","
    "   \"summary\": \"Ajout de la fiche action 2\"}],"
    " \"extra\": {\"finistere\": {\"cej\": \"CEJ-29-0123\", \"quartiers\": [\"Kerfeunteun\"]}}"
    "}";

static json_t *valid_doc(void)
{
    json_error_t error;
    json_t *doc = json_loads(valid_json, 0, &error);
    if (!doc) {
        fprintf(stderr, "valid_json line %d: %s\n", error.line, error.text);
        exit(2);
    }
    return doc;
}

/* The container holding the value at `pointer` (no ~ escapes in tests); *last gets its key. */
static json_t *parent_of(json_t *doc, const char *pointer, char *last, size_t size)
{
    json_t *node = doc;
    const char *segment = pointer + 1, *slash;
    while ((slash = strchr(segment, '/')) != NULL) {
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)(slash - segment), segment);
        node = json_is_array(node) ? json_array_get(node, (size_t)atoi(key))
                                   : json_object_get(node, key);
        segment = slash + 1;
    }
    snprintf(last, size, "%s", segment);
    return node;
}

/* Sets (value != NULL, stolen) or removes (value == NULL) what `pointer` names; returns doc. */
static json_t *with(json_t *doc, const char *pointer, json_t *value)
{
    char key[128];
    json_t *parent = parent_of(doc, pointer, key, sizeof key);
    if (json_is_array(parent) && value)
        json_array_set_new(parent, (size_t)atoi(key), value);
    else if (json_is_array(parent))
        json_array_remove(parent, (size_t)atoi(key));
    else if (value)
        json_object_set_new(parent, key, value);
    else
        json_object_del(parent, key);
    return doc;
}

static json_t *parse(const char *text)
{
    return json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
}

/* Validates (and frees) `doc`: `problems` found, the first at `path` (if not NULL). */
static void expect(json_t *doc, size_t problems, const char *path, const char *what)
{
    int failed_before = check_failed;
    json_t *details = json_array();
    CHECK_INT(model_validate(doc, details), problems);
    CHECK_INT(json_array_size(details), problems);
    if (path && json_array_size(details) > 0)
        CHECK_STR(json_string_value(json_object_get(json_array_get(details, 0), "path")), path);
    if (check_failed != failed_before) {
        char *dump = json_dumps(details, JSON_INDENT(2));
        fprintf(stderr, "  case: %s\n  details: %s\n", what, dump);
        free(dump);
    }
    json_decref(details);
    json_decref(doc);
}

/* One change to the valid document: set `pointer` to the JSON `value` (NULL removes it). */
struct mutation {
    const char *pointer;
    const char *value;
    size_t problems;
    const char *path;
};

static void run_mutations(const struct mutation *cases, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const struct mutation *m = &cases[i];
        char what[512];
        snprintf(what, sizeof what, "%s = %.400s", m->pointer, m->value ? m->value : "(removed)");
        json_t *value = m->value ? parse(m->value) : NULL;
        CHECK(!m->value || value);
        expect(with(valid_doc(), m->pointer, value), m->problems, m->path, what);
    }
}

#define RUN(cases) run_mutations((cases), sizeof(cases) / sizeof(cases)[0])

/* A JSON string literal holding `count` copies of `piece`. */
static char *repeated(const char *piece, size_t count)
{
    size_t n = strlen(piece);
    char *s = malloc(count * n + 3);
    s[0] = '"';
    for (size_t i = 0; i < count; i++)
        memcpy(s + 1 + i * n, piece, n);
    strcpy(s + 1 + count * n, "\"");
    return s;
}

/* Sets `pointer` to `count` copies of `piece`: `problems` found, at `pointer` itself. */
static void expect_string(const char *pointer, const char *piece, size_t count, size_t problems)
{
    char *text = repeated(piece, count);
    struct mutation m = {pointer, text, problems, pointer};
    run_mutations(&m, 1);
    free(text);
}

/* The message of the first problem found in `doc` (freed); "" when there is none. */
static void expect_message(json_t *doc, const char *message)
{
    json_t *details = json_array();
    model_validate(doc, details);
    const char *got = json_string_value(json_object_get(json_array_get(details, 0), "message"));
    CHECK_STR(got ? got : "", message);
    json_decref(details);
    json_decref(doc);
}

static void test_valid_document(void)
{
    expect(valid_doc(), 0, NULL, "the valid document");
    expect(parse("{\"department\": \"2A\", \"title\": \"CTG du Grand Ajaccio\","
                 " \"period\": {\"start\": \"2022-01-01\", \"end\": \"2025-12-31\"},"
                 " \"status\": \"preparation\"}"),
           0, NULL, "the smallest valid document");
    json_t *doc = with(valid_doc(), "/status", NULL);
    CHECK_INT(model_validate(doc, NULL), 1);  /* details may be NULL: only counted */
    json_decref(doc);
}

static void test_document_must_be_an_object(void)
{
    expect(parse("[]"), 1, "", "an array");
    expect(parse("\"convention\""), 1, "", "a string");
    expect(parse("{}"), 4, "/department", "an empty object: the four required keys");
}

static void test_top_level_keys(void)
{
    static const struct mutation cases[] = {
        {"/foo", "1", 1, "/foo"},
        {"/Title", "\"x\"", 1, "/Title"},
        {"/rev", "\"not even a number\"", 0, NULL},
        {"/created_at", "12", 0, NULL},
        {"/updated_at", "null", 0, NULL},
        {"/created_by", "{\"x\": [1]}", 0, NULL},
        {"/updated_by", "\"alice\"", 0, NULL},
    };
    RUN(cases);
    json_t *doc = valid_doc();
    json_object_set_new(doc, "a~b/c", json_true());
    expect(doc, 1, "/a~0b~1c", "a key escaped in the path");
    expect_message(with(valid_doc(), "/foo", json_true()),
                   "unknown key 'foo' (free-form data goes in /extra)");
}

static void test_id(void)
{
    static const struct mutation cases[] = {
        {"/id", NULL, 0, NULL},
        {"/id", "\"ab1\"", 0, NULL},
        {"/id", "\"0-a\"", 0, NULL},
        {"/id", "\"a123456789012345678901234567890123456789012345678901234567890123\"", 0, NULL},
        {"/id", "\"a1234567890123456789012345678901234567890123456789012345678901234\"", 1, "/id"},
        {"/id", "\"ab\"", 1, "/id"},
        {"/id", "\"Pays-bigouden\"", 1, "/id"},
        {"/id", "\"-pays-bigouden\"", 1, "/id"},
        {"/id", "\"pays_bigouden\"", 1, "/id"},
        {"/id", "42", 1, "/id"},
        {"/id", "null", 1, "/id"},
    };
    RUN(cases);
}

static void test_department(void)
{
    static const struct mutation cases[] = {
        {"/department", "\"01\"", 0, NULL},  {"/department", "\"19\"", 0, NULL},
        {"/department", "\"2A\"", 0, NULL},  {"/department", "\"2B\"", 0, NULL},
        {"/department", "\"21\"", 0, NULL},  {"/department", "\"95\"", 0, NULL},
        {"/department", "\"971\"", 0, NULL}, {"/department", "\"976\"", 0, NULL},
        {"/department", "\"20\"", 1, "/department"},
        {"/department", "\"00\"", 1, "/department"},
        {"/department", "\"96\"", 1, "/department"},
        {"/department", "\"970\"", 1, "/department"},
        {"/department", "\"977\"", 1, "/department"},
        {"/department", "\"2a\"", 1, "/department"},
        {"/department", "\"9\"", 1, "/department"},
        {"/department", "\"029\"", 1, "/department"},
        {"/department", "\"\"", 1, "/department"},
        {"/department", "29", 1, "/department"},
        {"/department", NULL, 1, "/department"},
    };
    RUN(cases);
    expect_message(with(valid_doc(), "/department", NULL), "is required");
}

static void test_title(void)
{
    static const struct mutation cases[] = {
        {"/title", "\"C\"", 0, NULL},
        {"/title", "\"\"", 1, "/title"},
        {"/title", "\"   \\t \"", 1, "/title"},
        {"/title", "7", 1, "/title"},
        {"/title", NULL, 1, "/title"},
    };
    RUN(cases);
    expect_string("/title", "\xc3\xa9", MODEL_TITLE_MAX, 0);  /* 300 "é": 600 bytes */
    expect_string("/title", "\xc3\xa9", MODEL_TITLE_MAX + 1, 1);
    expect_string("/title", "a", MODEL_TITLE_MAX, 0);
    expect_string("/title", "a", MODEL_TITLE_MAX + 1, 1);
    expect_message(with(valid_doc(), "/title", json_string("  ")), "must not be blank");
}

static void test_territory(void)
{
    static const struct mutation cases[] = {
        {"/territory", NULL, 0, NULL},
        {"/territory", "{\"name\": \"Penmarc'h\", \"kind\": \"commune\"}", 0, NULL},
        {"/territory", "\"Pays Bigouden Sud\"", 1, "/territory"},
        {"/territory/name", NULL, 1, "/territory/name"},
        {"/territory/name", "\"\"", 1, "/territory/name"},
        {"/territory/kind", "\"region\"", 1, "/territory/kind"},
        {"/territory/siren", "\"24290064\"", 1, "/territory/siren"},
        {"/territory/siren", "\"24290064X\"", 1, "/territory/siren"},
        {"/territory/siren", "242900645", 1, "/territory/siren"},
        {"/territory/communes", "\"Loctudy\"", 1, "/territory/communes"},
        {"/territory/communes/3", "\"\"", 1, "/territory/communes/3"},
        {"/territory/population", "37600", 1, "/territory/population"},
    };
    RUN(cases);
    expect_message(with(valid_doc(), "/territory/kind", json_string("region")),
                   "must be one of commune, epci, departement, autre");
}

static void test_signatories(void)
{
    static const struct mutation cases[] = {
        {"/signatories", "[]", 0, NULL},
        {"/signatories/2/role", "\"msa\"", 0, NULL},
        {"/signatories", "{}", 1, "/signatories"},
        {"/signatories/1", "\"CCPBS\"", 1, "/signatories/1"},
        {"/signatories/1/organisation", NULL, 1, "/signatories/1/organisation"},
        {"/signatories/1/role", "\"cnaf\"", 1, "/signatories/1/role"},
        {"/signatories/0/representatives", "{}", 1, "/signatories/0/representatives"},
        {"/signatories/0/representatives/0/name", NULL, 1,
         "/signatories/0/representatives/0/name"},
        {"/signatories/0/representatives/0/title", "\"\"", 0, NULL},
        {"/signatories/0/representatives/0/title", "3", 1,
         "/signatories/0/representatives/0/title"},
        {"/signatories/0/representatives/0/email", "\"a@caf.fr\"", 1,
         "/signatories/0/representatives/0/email"},
        {"/signatories/0/signed", "true", 1, "/signatories/0/signed"},
    };
    RUN(cases);
}

static void test_dates(void)
{
    static const struct mutation cases[] = {
        {"/signed_on", NULL, 0, NULL},
        {"/signed_on", "null", 0, NULL},
        {"/signed_on", "\"2024-02-29\"", 0, NULL},
        {"/signed_on", "\"2000-02-29\"", 0, NULL},
        {"/signed_on", "\"1900-01-01\"", 0, NULL},
        {"/signed_on", "\"2999-12-31\"", 0, NULL},
        {"/signed_on", "\"2023-02-29\"", 1, "/signed_on"},
        {"/signed_on", "\"1900-02-29\"", 1, "/signed_on"},
        {"/signed_on", "\"2020-04-31\"", 1, "/signed_on"},
        {"/signed_on", "\"2020-13-01\"", 1, "/signed_on"},
        {"/signed_on", "\"2020-00-10\"", 1, "/signed_on"},
        {"/signed_on", "\"2020-01-00\"", 1, "/signed_on"},
        {"/signed_on", "\"1899-12-31\"", 1, "/signed_on"},
        {"/signed_on", "\"3000-01-01\"", 1, "/signed_on"},
        {"/signed_on", "\"2020-1-01\"", 1, "/signed_on"},
        {"/signed_on", "\"20200101\"", 1, "/signed_on"},
        {"/signed_on", "\"2020-01-01T00:00:00Z\"", 1, "/signed_on"},
        {"/signed_on", "\"2020-01-01\\u0000\"", 1, "/signed_on"},
        {"/signed_on", "20200101", 1, "/signed_on"},
    };
    RUN(cases);
    expect_message(with(valid_doc(), "/signed_on", json_string("2020-04-31")),
                   "must be a real calendar date YYYY-MM-DD");
}

static void test_period(void)
{
    static const struct mutation cases[] = {
        {"/period/end", "\"2020-01-02\"", 0, NULL},
        {"/period/end", "\"2020-01-01\"", 1, "/period/end"},
        {"/period/end", "\"2019-12-31\"", 1, "/period/end"},
        {"/period/end", "\"2023-02-29\"", 1, "/period/end"},
        {"/period/end", NULL, 1, "/period/end"},
        {"/period/start", NULL, 1, "/period/start"},
        {"/period/start", "\"2020-01-32\"", 1, "/period/start"},
        {"/period/length", "4", 1, "/period/length"},
        {"/period", "[\"2020-01-01\", \"2023-12-31\"]", 1, "/period"},
        {"/period", NULL, 1, "/period"},
    };
    RUN(cases);
    expect_message(with(valid_doc(), "/period/end", json_string("2020-01-01")),
                   "must be after /period/start");
}

static void test_status(void)
{
    static const struct mutation cases[] = {
        {"/status", "\"preparation\"", 0, NULL}, {"/status", "\"diagnostic\"", 0, NULL},
        {"/status", "\"action_plan\"", 0, NULL}, {"/status", "\"monitoring\"", 0, NULL},
        {"/status", "\"evaluation\"", 0, NULL},  {"/status", "\"closed\"", 0, NULL},
        {"/status", "\"signed\"", 1, "/status"}, {"/status", "\"Closed\"", 1, "/status"},
        {"/status", "1", 1, "/status"},          {"/status", NULL, 1, "/status"},
    };
    RUN(cases);
    expect_message(with(valid_doc(), "/status", json_string("signed")),
                   "must be one of preparation, diagnostic, action_plan, monitoring, "
                   "evaluation, closed");
}

static void test_champs(void)
{
    static const struct mutation cases[] = {
        {"/champs", NULL, 0, NULL},
        {"/champs", "[]", 0, NULL},
        {"/champs/0", "\"gens-du-voyage\"", 0, NULL},
        {"/champs/0", "\"0-3-ans\"", 0, NULL},
        {"/champs/0", "\"Petite-enfance\"", 1, "/champs/0"},
        {"/champs/0", "\"-enfance\"", 1, "/champs/0"},
        {"/champs/0", "\"petite_enfance\"", 1, "/champs/0"},
        {"/champs/0", "\"\"", 1, "/champs/0"},
        {"/champs/0", "12", 1, "/champs/0"},
        {"/champs/4", "\"petite-enfance\"", 1, "/champs/4"},
        {"/champs", "\"petite-enfance\"", 1, "/champs"},
    };
    RUN(cases);
    expect_string("/champs/0", "a", MODEL_KEY_MAX, 0);
    expect_string("/champs/0", "a", MODEL_KEY_MAX + 1, 1);
    /* each repeat names the first use */
    json_t *doc = with(valid_doc(), "/champs", json_pack("[ssss]", "a", "b", "a", "a"));
    json_t *details = json_array();
    CHECK_INT(model_validate(doc, details), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *item = json_array_get(details, i);
        CHECK_STR(json_string_value(json_object_get(item, "path")), i ? "/champs/3" : "/champs/2");
        CHECK_STR(json_string_value(json_object_get(item, "message")),
                  "duplicate 'a': already used at index 0");
    }
    json_decref(details);
    json_decref(doc);
}

/* In an array of `n` champs, the last two repeat the second: each repeat names index 1, whether
 * the items are compared by pairs (a short array) or through the strings seen (a long one). */
static void expect_repeats_in(size_t n)
{
    json_t *champs = json_array();
    for (size_t i = 0; i < n; i++) {
        char key[32];
        snprintf(key, sizeof key, "champ-%zu", i + 2 >= n ? (size_t)1 : i);
        json_array_append_new(champs, json_string(key));
    }
    json_t *doc = with(valid_doc(), "/champs", champs);
    json_t *details = json_array();
    CHECK_INT(model_validate(doc, details), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *item = json_array_get(details, i);
        char path[32];
        snprintf(path, sizeof path, "/champs/%zu", n - 2 + i);
        CHECK_STR(json_string_value(json_object_get(item, "path")), path);
        CHECK_STR(json_string_value(json_object_get(item, "message")),
                  "duplicate 'champ-1': already used at index 1");
    }
    json_decref(details);
    json_decref(doc);
}

static void test_repeats_short_and_long_arrays(void)
{
    expect_repeats_in(4);
    expect_repeats_in(16);
    expect_repeats_in(17);
    expect_repeats_in(300);
}

static void test_objectives(void)
{
    static const struct mutation cases[] = {
        {"/objectives/0/goals", NULL, 0, NULL},
        {"/objectives/0/goals", "[]", 0, NULL},
        {"/objectives", "{}", 1, "/objectives"},
        /* each also leaves fa-1 naming an objective that no longer exists */
        {"/objectives/0/id", NULL, 2, "/objectives/0/id"},
        {"/objectives/0/id", "1", 2, "/objectives/0/id"},
        {"/objectives/0/id", "\"\"", 2, "/objectives/0/id"},
        {"/objectives/0/title", NULL, 1, "/objectives/0/title"},
        {"/objectives/0/goals", "\"accueillir\"", 1, "/objectives/0/goals"},
        {"/objectives/0/goals/0", "\"\"", 1, "/objectives/0/goals/0"},
        {"/objectives/0/axis", "1", 1, "/objectives/0/axis"},
        /* a duplicate id, and fa-2 now names an objective that no longer exists */
        {"/objectives/1/id", "\"axe-1\"", 2, "/objectives/1/id"},
    };
    RUN(cases);
    expect_string("/objectives/0/goals/0", "\xc3\xa9", MODEL_TEXT_MAX, 0);
    expect_string("/objectives/0/goals/0", "\xc3\xa9", MODEL_TEXT_MAX + 1, 1);
}

static void test_actions(void)
{
    static const struct mutation cases[] = {
        {"/actions", "[]", 0, NULL},
        {"/actions/0", "{\"id\": \"fa-9\", \"title\": \"Une action\"}", 0, NULL},
        {"/actions", "{}", 1, "/actions"},
        {"/actions/1", "\"fa-2\"", 1, "/actions/1"},
        {"/actions/1/id", "\"fa-1\"", 1, "/actions/1/id"},
        {"/actions/1/id", NULL, 1, "/actions/1/id"},
        {"/actions/1/title", NULL, 1, "/actions/1/title"},
        {"/actions/1/number", "0", 0, NULL},
        {"/actions/1/number", "-1", 1, "/actions/1/number"},
        {"/actions/1/number", "1.5", 1, "/actions/1/number"},
        {"/actions/1/number", "\"\"", 1, "/actions/1/number"},
        {"/actions/1/number", "\"123456789012345678901234567890123\"", 1, "/actions/1/number"},
        {"/actions/1/objective", "\"axe-9\"", 1, "/actions/1/objective"},
        {"/actions/1/objective", "2", 1, "/actions/1/objective"},
        {"/actions/1/champ", "\"Parentalite\"", 1, "/actions/1/champ"},
        {"/actions/1/status", "\"abandoned\"", 0, NULL},
        {"/actions/1/status", "\"started\"", 1, "/actions/1/status"},
        {"/actions/1/progress", "0", 0, NULL},
        {"/actions/1/progress", "62.5", 0, NULL},
        {"/actions/1/progress", "101", 1, "/actions/1/progress"},
        {"/actions/1/progress", "-1", 1, "/actions/1/progress"},
        {"/actions/1/progress", "true", 1, "/actions/1/progress"},
        {"/actions/1/progress", "\"60\"", 1, "/actions/1/progress"},
        {"/actions/1/lead", "[]", 1, "/actions/1/lead"},
        {"/actions/1/budget", "0", 0, NULL},
        {"/actions/1/budget", "-0.5", 1, "/actions/1/budget"},
        {"/actions/1/budget", "false", 1, "/actions/1/budget"},
        {"/actions/0/end", "\"2020-09-01\"", 0, NULL},
        {"/actions/0/end", "\"2020-08-31\"", 1, "/actions/0/end"},
        {"/actions/0/start", "\"2020-09-31\"", 1, "/actions/0/start"},
        {"/actions/1/figures", "{}", 0, NULL},
        {"/actions/1/figures", "[]", 1, "/actions/1/figures"},
        {"/actions/1/figures/", "3", 1, "/actions/1/figures/"},
        {"/actions/1/figures/familles_accueillies", "\"85\"", 1,
         "/actions/1/figures/familles_accueillies"},
        {"/actions/1/figures/familles_accueillies", "true", 1,
         "/actions/1/figures/familles_accueillies"},
        {"/actions/1/owner", "\"CCPBS\"", 1, "/actions/1/owner"},
    };
    RUN(cases);
    expect_string("/actions/1/id", "x", 64, 0);
    expect_string("/actions/1/id", "x", 65, 1);
    expect_string("/actions/1/lead", "a", MODEL_TITLE_MAX + 1, 1);
    expect_string("/actions/1/figures/familles_accueillies", "a", 1, 1);
    char key[96];
    snprintf(key, sizeof key, "/actions/1/figures/%065d", 0);
    expect(with(valid_doc(), key, json_integer(1)), 1, key, "a figure name of 65 bytes");
    expect_message(with(valid_doc(), "/actions/1/objective", json_string("axe-9")),
                   "no objective has id 'axe-9' (see /objectives)");
    expect_message(with(valid_doc(), "/actions/1/progress", json_true()), "must be a number");
}

/* The fields are looked for from after the last one found: any order of keys still finds them. */
static void test_keys_in_any_order(void)
{
    const char *reversed = "{\"end\": \"2021-06-30\", \"start\": \"2021-01-01\", \"budget\": 10,"
                           " \"lead\": \"Caf\", \"progress\": 5, \"status\": \"planned\","
                           " \"title\": \"A l'envers\", \"number\": \"3\", \"id\": \"fa-3\"}";
    expect(with(valid_doc(), "/actions/0", parse(reversed)), 0, NULL, "an action's keys reversed");
    const char *shuffled = "{\"title\": \"Dans le desordre\", \"id\": \"fa-3\", \"owner\": \"x\","
                           " \"progress\": 101, \"number\": \"3\"}";
    json_t *details = json_array();
    json_t *doc = with(valid_doc(), "/actions/0", parse(shuffled));
    CHECK_INT(model_validate(doc, details), 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(details, 0), "path")),
              "/actions/0/progress");
    CHECK_STR(json_string_value(json_object_get(json_array_get(details, 1), "path")),
              "/actions/0/owner");
    json_decref(details);
    json_decref(doc);
}

static void test_governance(void)
{
    static const struct mutation cases[] = {
        {"/governance", "{}", 0, NULL},
        {"/governance", "[]", 1, "/governance"},
        {"/governance/steering_committee", "\"Caf\"", 1, "/governance/steering_committee"},
        {"/governance/steering_committee/1", "2", 1, "/governance/steering_committee/1"},
        {"/governance/thematic_committees/0/name", NULL, 1,
         "/governance/thematic_committees/0/name"},
        {"/governance/thematic_committees/0/champs/0", "\"Petite enfance\"", 1,
         "/governance/thematic_committees/0/champs/0"},
        {"/governance/thematic_committees/0/members", "{}", 1,
         "/governance/thematic_committees/0/members"},
        {"/governance/thematic_committees/0/chair", "\"Caf\"", 1,
         "/governance/thematic_committees/0/chair"},
        {"/governance/secretariat", "\"Caf\"", 1, "/governance/secretariat"},
    };
    RUN(cases);
}

static void test_diagnostic(void)
{
    static const struct mutation cases[] = {
        {"/diagnostic", "{}", 0, NULL},
        {"/diagnostic/figures/taux_pauvrete", "-0.5", 0, NULL},
        {"/diagnostic", "2019", 1, "/diagnostic"},
        {"/diagnostic/year", "1899", 1, "/diagnostic/year"},
        {"/diagnostic/year", "3000", 1, "/diagnostic/year"},
        {"/diagnostic/year", "2019.0", 1, "/diagnostic/year"},
        {"/diagnostic/year", "\"2019\"", 1, "/diagnostic/year"},
        {"/diagnostic/figures/population", "null", 1, "/diagnostic/figures/population"},
        {"/diagnostic/source", "\"Insee\"", 1, "/diagnostic/source"},
    };
    RUN(cases);
}

static void test_funding(void)
{
    static const struct mutation cases[] = {
        {"/funding", "[{}]", 0, NULL},
        {"/funding", "{}", 1, "/funding"},
        {"/funding/0", "250000", 1, "/funding/0"},
        {"/funding/0/year", "1800", 1, "/funding/0/year"},
        {"/funding/0/amount", "0", 0, NULL},
        {"/funding/0/amount", "-5", 1, "/funding/0/amount"},
        {"/funding/0/amount", "true", 1, "/funding/0/amount"},
        {"/funding/0/source", "1", 1, "/funding/0/source"},
        {"/funding/0/currency", "\"EUR\"", 1, "/funding/0/currency"},
    };
    RUN(cases);
    expect_string("/funding/0/label", "a", MODEL_TITLE_MAX, 0);
    expect_string("/funding/0/label", "a", MODEL_TITLE_MAX + 1, 1);
}

static void test_targets(void)
{
    static const struct mutation cases[] = {
        {"/targets", "{}", 0, NULL},
        {"/targets/nb-places", "{}", 0, NULL},
        {"/targets", "[]", 1, "/targets"},
        {"/targets/Nb_Places", "{}", 1, "/targets/Nb_Places"},
        {"/targets/nb-places", "60", 1, "/targets/nb-places"},
        {"/targets/taux-couverture-eaje/baseline", "\"52\"", 1,
         "/targets/taux-couverture-eaje/baseline"},
        {"/targets/taux-couverture-eaje/target", "null", 1,
         "/targets/taux-couverture-eaje/target"},
        {"/targets/taux-couverture-eaje/year", "23", 1, "/targets/taux-couverture-eaje/year"},
        {"/targets/taux-couverture-eaje/unit", "\"%\"", 1, "/targets/taux-couverture-eaje/unit"},
    };
    RUN(cases);
}

static void test_amendments(void)
{
    static const struct mutation cases[] = {
        {"/amendments", "[]", 0, NULL},
        {"/amendments/0/kind", "\"extension\"", 1, "/amendments/0/new_end"},
        {"/amendments/0",
         "{\"date\": \"2023-11-20\", \"kind\": \"extension\", \"new_end\": \"2024-12-31\"}", 0,
         NULL},
        {"/amendments/0/new_end", "\"2024-12-31\"", 0, NULL},
        {"/amendments/0/new_end", "\"2020-01-01\"", 1, "/amendments/0/new_end"},
        {"/amendments/0/new_end", "\"2019-06-30\"", 1, "/amendments/0/new_end"},
        {"/amendments/0/new_end", "\"2024-06-31\"", 1, "/amendments/0/new_end"},
        {"/amendments/0/kind", "\"avenant\"", 1, "/amendments/0/kind"},
        {"/amendments/0/kind", NULL, 1, "/amendments/0/kind"},
        {"/amendments/0/date", NULL, 1, "/amendments/0/date"},
        {"/amendments/0/summary", "[]", 1, "/amendments/0/summary"},
        {"/amendments/0/number", "1", 1, "/amendments/0/number"},
        {"/amendments", "{}", 1, "/amendments"},
    };
    RUN(cases);
    expect_string("/amendments/0/summary", "a", MODEL_TEXT_MAX, 0);
    expect_string("/amendments/0/summary", "a", MODEL_TEXT_MAX + 1, 1);
    expect_message(with(valid_doc(), "/amendments/0/kind", json_string("extension")),
                   "is required when kind is extension");
}

/* `levels` containers nested below the extra object, alternating objects and arrays. */
static json_t *nested_extra(int levels)
{
    json_t *inner = json_string("fond");
    for (int i = 0; i < levels; i++)
        inner = i % 2 ? json_pack("[o]", inner) : json_pack("{s:o}", "niveau", inner);
    return json_pack("{s:o}", "top", inner);
}

static void test_extra(void)
{
    static const struct mutation cases[] = {
        {"/extra", "{}", 0, NULL},
        {"/extra", "{\"anything\": [1, \"a\", null, {\"b\": true}]}", 0, NULL},
        {"/extra", "[]", 1, "/extra"},
        {"/extra", "\"notes\"", 1, "/extra"},
    };
    RUN(cases);
    expect(with(valid_doc(), "/extra", nested_extra(MODEL_EXTRA_DEPTH)), 0, NULL,
           "extra nested 16 deep");
    expect(with(valid_doc(), "/extra", nested_extra(MODEL_EXTRA_DEPTH + 1)), 1, "/extra",
           "extra nested 17 deep");
}

static void test_array_limit(void)
{
    json_t *lines = json_array();
    for (int i = 0; i < MODEL_ARRAY_MAX; i++)
        json_array_append_new(lines, json_pack("{s:i}", "year", 2020));
    expect(with(valid_doc(), "/funding", json_deep_copy(lines)), 0, NULL, "1000 funding lines");
    json_array_append_new(lines, json_pack("{s:i}", "year", 1));
    expect(with(valid_doc(), "/funding", lines), 1, "/funding", "1001 lines, not descended");
}

/* An objectives list refused for its size is reported once: the actions' objectives are not
 * searched in it (1000 actions × 500 000 objectives, a 1 MiB body, took 4 s). */
static void test_oversized_objectives(void)
{
    json_t *objectives = json_array();
    for (int i = 0; i <= MODEL_ARRAY_MAX; i++)
        json_array_append_new(objectives, json_integer(i));
    expect(with(valid_doc(), "/objectives", objectives), 1, "/objectives",
           "1001 objectives, none of them axe-1 or axe-2");
}

/* The actions name objectives found among many, before and beyond the ids the model keeps. */
static void test_objective_references_among_many(void)
{
    json_t *objectives = json_array();
    for (int i = 0; i < 100; i++)
        json_array_append_new(objectives, json_pack("{s:s+, s:s}", "id", "axe-", i == 0 ? "1"
                              : i == 1 ? "2" : i == 99 ? "99" : "x", "title", "Axe"));
    json_t *doc = with(valid_doc(), "/objectives", objectives);
    /* "axe-x" repeats: the duplicates are reported, the references still found */
    json_t *details = json_array();
    size_t duplicates = model_validate(doc, details);
    json_decref(details);
    expect(with(json_incref(doc), "/actions/0/objective", json_string("axe-99")), duplicates,
           NULL, "an action naming the hundredth objective");
    expect(with(json_incref(doc), "/actions/0/objective", json_string("axe-100")),
           duplicates + 1, NULL, "an action naming no objective");
    json_decref(doc);
}

static void test_several_problems_at_once(void)
{
    json_t *doc = valid_doc();
    with(doc, "/department", json_string("20"));
    with(doc, "/period/end", json_string("2019-01-01"));
    with(doc, "/actions/0/progress", json_integer(101));
    with(doc, "/actions/1/objective", json_string("axe-9"));
    with(doc, "/targets/x", json_string("y"));
    with(doc, "/colour", json_string("bleu"));
    json_t *details = json_array();
    CHECK_INT(model_validate(doc, details), 6);
    static const char *const paths[] = {
        "/department", "/period/end", "/actions/0/progress", "/actions/1/objective",
        "/targets/x", "/colour",
    };
    for (size_t i = 0; i < 6; i++)
        CHECK_STR(json_string_value(json_object_get(json_array_get(details, i), "path")),
                  paths[i]);
    json_decref(details);
    json_decref(doc);
}

static void test_normalize(void)
{
    json_t *doc = parse("{\"extra\": {\"a\": 1}, \"rev\": 7, \"status\": \"closed\","
                        " \"updated_by\": \"alice\", \"period\": {\"start\": \"2020-01-01\","
                        " \"end\": \"2023-12-31\"}, \"title\": \"CTG\", \"department\": \"29\","
                        " \"created_at\": \"2020-01-01T00:00:00Z\", \"id\": \"ctg-29\"}");
    json_t *normal = model_normalize(doc);
    static const char *const order[] = {"id", "department", "title", "period", "status", "extra"};
    size_t i = 0;
    const char *key;
    json_t *value;
    json_object_foreach(normal, key, value) {
        CHECK(i < 6 && strcmp(key, order[i]) == 0);
        CHECK(json_equal(value, json_object_get(doc, key)));
        CHECK(value == json_object_get(doc, key));  /* shared, not copied */
        i++;
    }
    CHECK_INT(i, 6);
    json_decref(normal);
    json_decref(doc);
    doc = valid_doc();
    normal = model_normalize(doc);
    CHECK(json_equal(normal, doc));
    json_decref(normal);
    json_decref(doc);
}

static void test_helpers(void)
{
    CHECK(model_id_valid("abc") && !model_id_valid("ab") && !model_id_valid(NULL));
    CHECK(model_department_valid("2B") && !model_department_valid("20"));
    CHECK(!model_department_valid(NULL) && !model_department_valid(""));
    CHECK(model_status_valid("closed") && !model_status_valid("done"));
    CHECK(!model_status_valid(NULL));
    CHECK(model_date_valid("2024-02-29") && !model_date_valid("2023-02-29"));
    CHECK(!model_date_valid(NULL) && !model_date_valid("2020-04-31"));
    for (int i = 0; model_server_fields[i]; i++)
        CHECK(i < 5);
    CHECK_STR(model_server_fields[0], "rev");
    CHECK(model_server_fields[5] == NULL);
    for (int i = 0; model_server_fields[i]; i++)
        CHECK(model_is_server_field(model_server_fields[i], strlen(model_server_fields[i])));
    CHECK(!model_is_server_field("status", 6) && !model_is_server_field("revs", 4));
    CHECK(!model_is_server_field("created_on", 10) && !model_is_server_field("re", 2));
    CHECK(!model_is_server_field("rev\0abcdef", 10)); /* a key with a NUL is not "rev" */
}

int main(void)
{
    test_valid_document();
    test_document_must_be_an_object();
    test_top_level_keys();
    test_id();
    test_department();
    test_title();
    test_territory();
    test_signatories();
    test_dates();
    test_period();
    test_status();
    test_champs();
    test_objectives();
    test_actions();
    test_keys_in_any_order();
    test_repeats_short_and_long_arrays();
    test_governance();
    test_diagnostic();
    test_funding();
    test_targets();
    test_amendments();
    test_extra();
    test_array_limit();
    test_oversized_objectives();
    test_objective_references_among_many();
    test_several_problems_at_once();
    test_normalize();
    test_helpers();
    return check_summary("test_model");
}
