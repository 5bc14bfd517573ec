// view-departments.js — the departments that plugins know (#/departements) and one department
// (#/departements/{code}): its champs, its reports, the indicators of its conventions.

import { apiPath, enc, getJSON } from './api.js';
import * as catalog from './catalog.js';
import { h, section } from './dom.js';
import { formatNumber, statusLabel } from './labels.js';
import { renderedLinks } from './rendered.js';

const CONVENTIONS_SHOWN = 200;
const PARALLEL_REQUESTS = 4;

export async function departmentsView({ main }) {
  document.title = 'Départements — ctgd';
  const list = await catalog.departments();
  main.append(h('h1', { tabindex: -1 }, 'Départements'),
    h('p', null, 'Les départements dont une Caf a écrit les règles (plugins).'),
    h('ul', { class: 'cards' }, list.map((d) => h('li', { class: 'card' },
      h('a', { href: `#/departements/${enc(d.code)}` }, `${d.code} — ${d.label}`),
      h('p', { class: 'muted' }, `Plugins : ${d.plugins.join(', ')}`)))));
}

function champsByGroup(champs) {
  const groups = new Map();
  for (const champ of champs) {
    const group = champ.group || 'Autres';
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group).push(champ);
  }
  return [...groups.entries()].map(([group, list]) => h('div', { class: 'champ-group' },
    h('h3', null, group),
    h('ul', { class: 'chips' }, list.map((c) => h('li', { class: 'chip', title: c.key },
      c.label)))));
}

// Runs `work` over `items`, at most PARALLEL_REQUESTS at a time.
async function eachLimited(items, work) {
  let index = 0;
  const worker = async () => {
    while (index < items.length) await work(items[index++]);
  };
  await Promise.all(Array.from({ length: PARALLEL_REQUESTS }, worker));
}

function indicatorTable(conventions, indicators) {
  const cells = new Map();
  const table = h('table', { class: 'matrix' },
    h('caption', null, 'Indicateurs des conventions du département'),
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Convention'),
      h('th', { scope: 'col' }, 'Statut'),
      indicators.map((i) => h('th', { scope: 'col', title: i.description || null },
        i.unit ? `${i.label} (${i.unit})` : i.label)))),
    h('tbody', null, conventions.map((c) => {
      const row = indicators.map((i) => {
        const cell = h('td', { class: 'figure', 'data-label': i.label }, '…');
        cells.set(`${c.id}\u0000${i.key}`, cell);
        return cell;
      });
      return h('tr', { dataset: { id: c.id } },
        h('th', { scope: 'row' }, h('a', { href: `#/conventions/${enc(c.id)}` }, c.title)),
        h('td', { 'data-label': 'Statut' }, statusLabel(c.status)), row);
    })));

  async function fill(id) {
    let answer = null;
    try {
      answer = await getJSON(`/v1/conventions/${enc(id)}/indicators`);
    } catch {
      // shown as a dash: the page stays usable when one convention fails
    }
    for (const i of indicators) {
      const cell = cells.get(`${id}\u0000${i.key}`);
      const found = answer && answer.indicators.find((x) => x.key === i.key);
      if (cell) cell.textContent = found ? formatNumber(found.value, found.unit) : '—';
    }
  }
  return { table, fill };
}

export async function departmentView({ main, params }) {
  const code = params[0];
  const [dept, list] = await Promise.all([catalog.department(code),
    getJSON(apiPath('/v1/conventions', { department: code, limit: CONVENTIONS_SHOWN }))]);
  document.title = `${dept.code} — ${dept.label} — ctgd`;
  const matrix = indicatorTable(list.items, dept.indicators);
  main.append(
    h('p', { class: 'breadcrumb' }, h('a', { href: '#/departements' }, 'Départements')),
    h('h1', { tabindex: -1 }, `${dept.code} — ${dept.label}`),
    h('p', null, h('a', { href: `#/?department=${enc(code)}` },
      `Voir les conventions du département (${list.items.length}${list.next ? '+' : ''})`)),
    section('champs', 'Champs d’intervention', champsByGroup(dept.champs)),
    section('reports', 'Rapports', dept.reports.length
      ? renderedLinks(dept.reports, (r) => `/v1/departments/${enc(code)}/reports/${enc(r.key)}`,
        `departement-${code}`)
      : h('p', { class: 'muted' }, 'Aucun rapport.')),
    section('indicators', 'Indicateurs',
      list.items.length ? h('div', { class: 'table-wrap' }, matrix.table)
        : h('p', { class: 'muted' }, 'Aucune convention dans ce département.'),
      list.next ? h('p', { class: 'muted' },
        `Seules les ${CONVENTIONS_SHOWN} premières conventions sont montrées.`) : null));
  eachLimited(list.items.map((c) => c.id), matrix.fill);

  return {
    // A convention of this department changed: its indicators are asked again.
    onEvent(event) {
      if (event.department === code) matrix.fill(event.id);
    },
  };
}
