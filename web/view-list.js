// view-list.js — the conventions, filtered by department, status, champ and text (#/?…).

import { apiPath, describeError, enc, getJSON } from './api.js';
import * as catalog from './catalog.js';
import { h, notify, selectOptions } from './dom.js';
import { STATUS, formatDateTime, formatPeriod, statusLabel } from './labels.js';

const PAGE = 50;
const FILTERS = ['department', 'status', 'champ', 'q'];
const REFRESH_DELAY_MS = 300;

function select(id, label, pairs, selected, emptyLabel) {
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    h('select', { id, name: id.replace('filter-', '') }, selectOptions(pairs, selected, emptyLabel)));
}

function filterForm(filters, departments, champs) {
  const departmentOptions = departments.map((d) => [d.code, `${d.code} — ${d.label}`]);
  if (filters.department && !departments.some((d) => d.code === filters.department)) {
    departmentOptions.push([filters.department, filters.department]);
  }
  return h('form', { class: 'filters', role: 'search', 'aria-label': 'Filtrer les conventions' },
    select('filter-department', 'Département', departmentOptions, filters.department,
      'Tous les départements'),
    select('filter-status', 'Statut', Object.entries(STATUS), filters.status, 'Tous les statuts'),
    select('filter-champ', 'Champ d’intervention', champs.map((c) => [c.key, c.label]),
      filters.champ, 'Tous les champs'),
    h('div', { class: 'field field--grow' },
      h('label', { for: 'filter-q' }, 'Recherche'),
      h('input', { id: 'filter-q', name: 'q', type: 'search', value: filters.q || '',
        placeholder: 'titre, territoire, identifiant' })),
    h('div', { class: 'field field--buttons' },
      h('button', { type: 'submit', class: 'button' }, 'Filtrer'),
      h('a', { href: '#/', class: 'button button--quiet' }, 'Effacer')));
}

function row(item, highlighted) {
  return h('tr', { class: highlighted ? 'changed' : null, dataset: { id: item.id } },
    h('td', { 'data-label': 'Convention' },
      h('a', { href: `#/conventions/${enc(item.id)}` }, item.title)),
    h('td', { 'data-label': 'Département' },
      h('a', { href: `#/departements/${enc(item.department)}` }, item.department)),
    h('td', { 'data-label': 'Territoire' }, item.territory || ''),
    h('td', { 'data-label': 'Statut' },
      h('span', { class: `badge badge--${item.status}` }, statusLabel(item.status))),
    h('td', { 'data-label': 'Période' }, formatPeriod(item.period)),
    h('td', { 'data-label': 'Mise à jour' }, formatDateTime(item.updated_at)));
}

function table(items, highlighted) {
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'list' },
      h('caption', { class: 'visually-hidden' }, 'Conventions trouvées'),
      h('thead', null, h('tr', null, ['Convention', 'Département', 'Territoire', 'Statut',
        'Période', 'Mise à jour'].map((title) => h('th', { scope: 'col' }, title)))),
      h('tbody', null, items.map((item) => row(item, highlighted.has(item.id))))));
}

function countText(n, more) {
  if (n === 0) return 'Aucune convention ne correspond à ces filtres.';
  const noun = n === 1 ? 'convention' : 'conventions';
  return more ? `${n} premières ${noun} affichées.` : `${n} ${noun}.`;
}

export async function listView({ main, query, app }) {
  document.title = 'Conventions — ctgd';
  const filters = Object.fromEntries(FILTERS.map((k) => [k, query.get(k) || '']));
  const [departments, champs] = await Promise.all([catalog.departments(),
    filters.department ? catalog.department(filters.department).then((d) => d.champs)
      : catalog.allChamps()]);

  const form = filterForm(filters, departments, champs);
  const status = h('p', { class: 'count', role: 'status' });
  const results = h('div', { class: 'results' });
  const more = h('button', { type: 'button', class: 'button button--quiet', hidden: true },
    'Afficher les conventions suivantes');
  main.append(h('h1', { tabindex: -1 }, 'Conventions'), form, status, results, more);

  let items = [];
  let next = null;
  let highlighted = new Set();

  function paint() {
    results.replaceChildren(items.length ? table(items, highlighted) : '');
    status.textContent = countText(items.length, Boolean(next));
    more.hidden = !next;
  }

  // Only the answer to the latest request is shown: an older one may arrive after it.
  let requests = 0;
  async function load({ cursor, limit = PAGE } = {}) {
    const ticket = ++requests;
    more.disabled = true;
    try {
      const page = await getJSON(apiPath('/v1/conventions', { ...filters, limit, cursor }));
      if (ticket !== requests) return;
      items = cursor ? items.concat(page.items) : page.items;
      next = page.next;
      paint();
    } finally {
      if (ticket === requests) more.disabled = false;
    }
  }

  function applyFilters() {
    const data = new FormData(form);
    for (const key of FILTERS) filters[key] = String(data.get(key) || '').trim();
    const qs = new URLSearchParams(Object.entries(filters).filter(([, v]) => v)).toString();
    // The filters are in the URL (to share or bookmark it) without leaving this view.
    history.replaceState(null, '', qs ? `#/?${qs}` : '#/');
    load().catch((err) => results.replaceChildren(app.errorBlock(err)));
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    applyFilters();
  });
  form.addEventListener('change', async (e) => {
    if (e.target.name === 'department') await refreshChamps();
    if (e.target.tagName === 'SELECT') applyFilters();
  });
  more.addEventListener('click', () => load({ cursor: next })
    .catch((err) => notify(describeError(err), 'error')));

  // The champ filter offers the champs of the chosen department (or of all of them).
  async function refreshChamps() {
    const code = form.elements.department.value;
    const list = code ? (await catalog.department(code)).champs : await catalog.allChamps();
    const chosen = form.elements.champ.value;
    const known = list.some((c) => c.key === chosen);
    form.elements.champ.replaceChildren(...selectOptions(list.map((c) => [c.key, c.label]),
      known ? chosen : '', 'Tous les champs'));
  }

  await load();

  let timer = null;
  return {
    // A change elsewhere: the list is asked again (its filters may now include or exclude it).
    onEvent(event) {
      highlighted.add(event.id);
      clearTimeout(timer);
      timer = setTimeout(() => {
        load({ limit: Math.min(Math.max(items.length, PAGE), 1000) })
          .then(() => { highlighted = new Set(); })
          .catch(() => {});
      }, REFRESH_DELAY_MS);
    },
    dispose() {
      clearTimeout(timer);
    },
  };
}
