// convention-sections.js — the read-only parts of a convention's page, one function each.
// Each takes the document (and what the plugins say of its department) and returns nodes.

import { facts, h, progressBar, section } from './dom.js';
import {
  AMENDMENT_KIND, CHANGE_TYPE, SIGNATORY_ROLE, TERRITORY_KIND, actionStatusLabel, formatDate,
  formatDateTime, formatEuros, formatNumber, formatPeriod,
} from './labels.js';
import { renderedLinks } from './rendered.js';

function champLabel(dept, key) {
  const champ = dept.champs.find((c) => c.key === key);
  return champ ? champ.label : key;
}

export function territorySection(doc) {
  const t = doc.territory;
  if (!t) return section('territory', 'Territoire', h('p', { class: 'muted' }, 'Non renseigné.'));
  return section('territory', 'Territoire',
    facts([['Nom', t.name], ['Nature', TERRITORY_KIND[t.kind] || t.kind], ['SIREN', t.siren]]),
    t.communes && t.communes.length ? h('details', null,
      h('summary', null, `${t.communes.length} communes`),
      h('ul', { class: 'columns' }, t.communes.map((c) => h('li', null, c)))) : null);
}

export function signatoriesSection(doc) {
  const list = doc.signatories || [];
  return section('signatories', 'Signataires', list.length ? h('ul', { class: 'signatories' },
    list.map((s) => h('li', null,
      h('strong', null, s.organisation),
      s.role ? h('span', { class: 'muted' }, ` — ${SIGNATORY_ROLE[s.role] || s.role}`) : null,
      s.representatives && s.representatives.length ? h('ul', null, s.representatives.map((r) =>
        h('li', null, r.title ? `${r.name}, ${r.title}` : r.name))) : null)))
    : h('p', { class: 'muted' }, 'Non renseignés.'));
}

export function periodSection(doc) {
  const amendments = doc.amendments || [];
  return section('period', 'Période',
    facts([['Signée le', doc.signed_on ? formatDate(doc.signed_on) : 'date non renseignée'],
      ['Période', formatPeriod(doc.period)]]),
    amendments.length ? [h('h3', null, 'Avenants'), h('ul', null, amendments.map((a) =>
      h('li', null, `${formatDate(a.date)} — ${AMENDMENT_KIND[a.kind] || a.kind}`,
        a.new_end ? ` jusqu’au ${formatDate(a.new_end)}` : '',
        a.summary ? ` : ${a.summary}` : '')))] : null);
}

export function champsSection(doc, dept) {
  const champs = doc.champs || [];
  return section('champs', 'Champs d’intervention', champs.length
    ? h('ul', { class: 'chips' }, champs.map((key) => h('li', { class: 'chip', title: key },
      champLabel(dept, key))))
    : h('p', { class: 'muted' }, 'Aucun champ renseigné.'));
}

// One fiche action: what it is, how far it went, and its form (built by the editor).
function actionCard(action, dept, form) {
  const about = [
    action.champ ? `Champ : ${champLabel(dept, action.champ)}` : null,
    action.lead ? `Pilote : ${action.lead}` : null,
    typeof action.budget === 'number' ? `Budget : ${formatEuros(action.budget)}` : null,
    action.start || action.end ? `${action.start ? `du ${formatDate(action.start)} ` : ''}`
      + `${action.end ? `au ${formatDate(action.end)}` : ''}` : null,
  ].filter(Boolean);
  const title = action.number !== undefined ? `Fiche n° ${action.number} — ${action.title}`
    : action.title;
  const figures = Object.entries(action.figures || {});
  return h('article', { class: 'action', dataset: { actionId: action.id } },
    h('h4', null, title),
    about.length ? h('p', { class: 'muted' }, about.join(' · ')) : null,
    h('div', { class: 'action__state' },
      h('span', { class: `badge badge--${action.status || 'unknown'}` },
        actionStatusLabel(action.status)),
      progressBar(action.progress, `Avancement de la fiche ${action.number ?? action.id}`)),
    figures.length ? facts(figures.map(([k, v]) => [k, formatNumber(v)])) : null,
    form);
}

// The axes with their goals, each followed by its fiches actions.
export function objectivesSection(doc, dept, formFor) {
  const objectives = doc.objectives || [];
  const actions = doc.actions || [];
  const known = new Set(objectives.map((o) => o.id));
  const cards = (list) => list.map((a) => actionCard(a, dept, formFor(a)));
  const blocks = objectives.map((o) => {
    const own = actions.filter((a) => a.objective === o.id);
    return h('div', { class: 'objective' },
      h('h3', null, o.title),
      o.goals && o.goals.length ? h('ul', { class: 'goals' }, o.goals.map((g) => h('li', null, g)))
        : null,
      own.length ? h('div', { class: 'actions' }, cards(own)) : null);
  });
  const loose = actions.filter((a) => !known.has(a.objective));
  if (loose.length) {
    blocks.push(h('div', { class: 'objective' },
      h('h3', null, objectives.length ? 'Autres fiches actions' : 'Fiches actions'),
      h('div', { class: 'actions' }, cards(loose))));
  }
  const count = actions.length;
  return section('objectives', 'Objectifs et fiches actions',
    h('p', { class: 'muted' }, `${objectives.length} objectif${objectives.length > 1 ? 's' : ''}, `
      + `${count} fiche${count > 1 ? 's' : ''} action${count > 1 ? 's' : ''}.`),
    blocks.length ? blocks : h('p', { class: 'muted' }, 'Aucun objectif ni fiche action.'));
}

// How far a value went from its baseline to its target (0..1), when that can be said.
function attainment(value, target) {
  if (typeof value !== 'number' || !target || typeof target.target !== 'number') return null;
  const from = typeof target.baseline === 'number' ? target.baseline : 0;
  if (target.target === from) return value >= target.target ? 1 : 0;
  return Math.max(0, Math.min(1, (value - from) / (target.target - from)));
}

export function indicatorsSection(doc, indicators) {
  if (indicators === null) return section('indicators', 'Indicateurs', h('p', null, 'Calcul…'));
  if (indicators instanceof Error) {
    return section('indicators', 'Indicateurs', h('p', { class: 'muted' },
      `Les indicateurs n’ont pas pu être calculés : ${indicators.message}`));
  }
  const targets = doc.targets || {};
  return section('indicators', 'Indicateurs', h('div', { class: 'table-wrap' },
    h('table', null,
      h('thead', null, h('tr', null, ['Indicateur', 'Valeur', 'Référence', 'Cible', 'Atteinte']
        .map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, indicators.map((i) => {
        const target = targets[i.key];
        const reached = attainment(i.value, target);
        return h('tr', { dataset: { indicator: i.key } },
          h('th', { scope: 'row' }, i.label),
          h('td', { class: 'figure', 'data-label': 'Valeur' }, formatNumber(i.value, i.unit)),
          h('td', { class: 'figure', 'data-label': 'Référence' },
            target && typeof target.baseline === 'number' ? formatNumber(target.baseline, i.unit)
              : '—'),
          h('td', { class: 'figure', 'data-label': 'Cible' }, target
            ? `${formatNumber(target.target, i.unit)}${target.year ? ` en ${target.year}` : ''}`
            : 'pas de cible'),
          h('td', { 'data-label': 'Atteinte' }, reached === null ? '—'
            : progressBar(Math.round(reached * 100), `Atteinte de la cible : ${i.label}`)));
      })))));
}

export function diagnosticSection(doc) {
  const d = doc.diagnostic;
  if (!d || !d.figures || !Object.keys(d.figures).length) return null;
  return section('diagnostic', d.year ? `Diagnostic partagé (${d.year})` : 'Diagnostic partagé',
    facts(Object.entries(d.figures).map(([k, v]) => [k, formatNumber(v)])));
}

export function governanceSection(doc, dept) {
  const g = doc.governance;
  if (!g) return null;
  const committees = g.thematic_committees || [];
  return section('governance', 'Gouvernance',
    g.steering_committee && g.steering_committee.length ? [h('h3', null, 'Comité de pilotage'),
      h('ul', null, g.steering_committee.map((m) => h('li', null, m)))] : null,
    committees.length ? [h('h3', null, 'Commissions thématiques'), h('ul', null,
      committees.map((c) => h('li', null, h('strong', null, c.name),
        c.champs && c.champs.length ? ` — ${c.champs.map((k) => champLabel(dept, k)).join(', ')}`
          : '',
        c.members && c.members.length ? h('p', { class: 'muted' }, c.members.join(', '))
          : null)))] : null);
}

export function fundingSection(doc) {
  const list = doc.funding || [];
  if (!list.length) return null;
  return section('funding', 'Financements', h('div', { class: 'table-wrap' }, h('table', null,
    h('thead', null, h('tr', null, ['Année', 'Montant', 'Source', 'Objet']
      .map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', null, list.map((f) => h('tr', null, h('td', null, f.year ?? ''),
      h('td', { class: 'figure' }, formatEuros(f.amount)), h('td', null, f.source || ''),
      h('td', null, f.label || '')))))));
}

export function historySection(history) {
  if (history === null) return section('history', 'Historique', h('p', null, 'Chargement…'));
  if (history instanceof Error) {
    return section('history', 'Historique', h('p', { class: 'muted' }, history.message));
  }
  const newestFirst = [...history].reverse();
  return section('history', 'Historique', h('ol', { class: 'history', reversed: true },
    newestFirst.map((e) => h('li', null, h('strong', null, `Révision ${e.rev}`),
      ` — ${CHANGE_TYPE[e.type] || e.type} le ${formatDateTime(e.at)} par ${e.actor}`))));
}

export function exportsSection(id, exports) {
  if (exports === null) return section('exports', 'Exports', h('p', null, 'Chargement…'));
  if (exports instanceof Error || !exports.length) {
    return section('exports', 'Exports', h('p', { class: 'muted' }, 'Aucun export disponible.'));
  }
  return section('exports', 'Exports', renderedLinks(exports, (e) => e.href, id));
}
