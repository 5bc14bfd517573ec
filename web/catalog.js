// catalog.js — what the plugins define per department (champs, indicators, exports, reports),
// asked once per page and kept until the token changes.

import { enc, getJSON } from './api.js';

let departmentList = null;
const details = new Map();

function remembered(promise, forget) {
  return promise.catch((err) => {
    forget();
    throw err;
  });
}

// [{code, label, plugins}] of the departments that plugins are written for.
export function departments() {
  departmentList ??= remembered(getJSON('/v1/departments').then((r) => r.departments),
    () => { departmentList = null; });
  return departmentList;
}

// {code, label, champs, indicators, exports, reports} of any department code.
export function department(code) {
  if (!details.has(code)) {
    details.set(code, remembered(getJSON(`/v1/departments/${enc(code)}`),
      () => details.delete(code)));
  }
  return details.get(code);
}

// Every champ of the known departments, by key (the first label seen wins).
export async function allChamps() {
  const list = await departments();
  const all = await Promise.all(list.map((d) => department(d.code)));
  const champs = new Map();
  for (const d of all) {
    for (const champ of d.champs) if (!champs.has(champ.key)) champs.set(champ.key, champ);
  }
  return [...champs.values()].sort((a, b) => a.label.localeCompare(b.label, 'fr'));
}

export function forget() {
  departmentList = null;
  details.clear();
}
