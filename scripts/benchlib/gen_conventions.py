#!/usr/bin/env python3
"""Generates conventions of realistic shape (10 fiches actions) as JSON lines.

    gen_conventions.py COUNT [--prefix bench] [--department CODE] [--compact]  > conventions.jsonl

A convention is about 3.2 KB of JSON; with --compact (scripts/bench) about 2.3 KB: its fiches
actions have short titles and no dates or figures of their own.

Ids are <prefix>-<n>; departments (unless one is given), statuses and champs rotate so that
every index has entries.
The values are synthetic: they give the benchmarks documents of the right size and shape.
"""
import argparse
import json
import sys

DEPARTMENTS = ["29", "30", "49", "88", "15"]
STATUSES = ["preparation", "diagnostic", "action_plan", "monitoring", "evaluation", "closed"]
CHAMPS = ["petite-enfance", "enfance", "jeunesse", "parentalite", "animation-vie-sociale",
          "acces-aux-droits", "logement", "handicap", "inclusion-numerique", "mobilite"]
ACTION_STATUSES = ["planned", "in_progress", "done", "abandoned"]


def convention(n, prefix="bench", department=None, compact=False):
    champs = [CHAMPS[(n + k) % len(CHAMPS)] for k in range(3)]
    objectives = [{"id": f"axe-{k}", "title": f"Axe {k} de la convention {n}",
                   "goals": [f"Objectif {k}.{g}" for g in range(2)]} for k in range(1, 4)]
    actions = [{"id": f"fa-{k}", "number": k, "title": f"Fiche action {k} : accompagnement {n}",
                "objective": f"axe-{1 + k % 3}", "champ": champs[k % 3],
                "status": ACTION_STATUSES[(n + k) % 4], "progress": (n * 7 + k * 13) % 101,
                "lead": "Caf", "budget": 1000 * k + n % 1000,
                "start": "2022-01-01", "end": "2025-12-31",
                "figures": {"beneficiaires": (n + k) % 200}} for k in range(1, 11)]
    if compact:
        for k, action in enumerate(actions, 1):
            action["title"] = f"Fiche action {k}"
            for key in ("start", "end", "figures"):
                del action[key]
    return {
        "id": f"{prefix}-{n}",
        "department": department or DEPARTMENTS[n % len(DEPARTMENTS)],
        "title": f"Convention territoriale globale n°{n}",
        "territory": {"name": f"Communauté de communes {n}", "kind": "epci"},
        "signatories": [{"organisation": "Caf", "role": "caf"},
                        {"organisation": "Conseil départemental", "role": "departement"}],
        "period": {"start": "2022-01-01", "end": "2025-12-31"},
        "status": STATUSES[n % len(STATUSES)],
        "champs": champs,
        "objectives": objectives,
        "actions": actions,
        "diagnostic": {"year": 2021, "figures": {"population": 20000 + n % 5000,
                                                  "children_0_3": 600 + n % 300}},
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("count", type=int)
    parser.add_argument("--prefix", default="bench")
    parser.add_argument("--department", help="put every convention in this department")
    parser.add_argument("--compact", action="store_true", help="about 2.3 KB instead of 3.2 KB")
    args = parser.parse_args()
    out = sys.stdout
    for n in range(args.count):
        out.write(json.dumps(convention(n, args.prefix, args.department, args.compact), ensure_ascii=False, separators=(",", ":")))
        out.write("\n")


if __name__ == "__main__":
    main()
