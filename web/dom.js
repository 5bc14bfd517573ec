// dom.js — building the page from data without ever parsing it as HTML, and the notices.

// h('a', {href: '#/', class: 'x', onclick: fn}, 'text', child…): an element. Attributes that
// are null, undefined or false are left out; children may be nodes, strings or nested arrays.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'dataset') {
      Object.assign(el.dataset, value);
    } else {
      el.setAttribute(name === 'className' ? 'class' : name, value === true ? '' : String(value));
    }
  }
  appendChildren(el, children);
  return el;
}

function appendChildren(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

// A <section> with its heading, labelled by it for assistive technologies.
export function section(id, title, ...children) {
  return h('section', { class: 'panel', 'aria-labelledby': `${id}-title`, id },
    h('h2', { id: `${id}-title` }, title), ...children);
}

// A definition list from [term, value] pairs; pairs whose value is empty are left out.
export function facts(pairs) {
  const items = pairs.filter(([, value]) => value !== null && value !== undefined && value !== '');
  return h('dl', { class: 'facts' },
    items.map(([term, value]) => [h('dt', null, term), h('dd', null, value)]));
}

// An accessible progress bar with its figure beside it; `value` may be missing.
export function progressBar(value, label) {
  if (typeof value !== 'number') {
    return h('span', { class: 'progress progress--unknown' }, 'avancement non renseigné');
  }
  const clamped = Math.max(0, Math.min(100, value));
  return h('span', { class: 'progress' },
    h('progress', { max: 100, value: clamped, 'aria-label': label }),
    h('span', { class: 'progress__figure' }, `${value} %`));
}

// <option>s from [value, label] pairs, `selected` chosen; `emptyLabel` adds a first, empty one.
export function selectOptions(pairs, selected, emptyLabel) {
  const list = pairs.map(([value, label]) => h('option', { value, selected: value === selected },
    label));
  if (emptyLabel !== undefined) {
    list.unshift(h('option', { value: '', selected: !selected }, emptyLabel));
  }
  return list;
}

// A short message in the live region of the page. Information goes away after a while; an
// error stays until the user closes it.
export function notify(message, kind = 'info') {
  const area = document.getElementById('notices');
  const note = h('div', { class: `notice notice--${kind}`, role: kind === 'error' ? 'alert' : null },
    h('p', null, message));
  if (kind === 'error') {
    note.append(h('button', { type: 'button', class: 'button button--quiet',
      onclick: () => note.remove() }, 'Fermer'));
  } else {
    setTimeout(() => note.remove(), 8000);
  }
  area.append(note);
}
