// app.js — the dashboard's frame: the views behind the URL's fragment, the token dialog, and
// the live feed that every view listens to.

import { ApiError, describeError, getJSON, setToken, token } from './api.js';
import * as catalog from './catalog.js';
import { h } from './dom.js';
import { LiveFeed } from './live.js';
import { setUpPreview } from './rendered.js';
import { conventionView } from './view-convention.js';
import { departmentView, departmentsView } from './view-departments.js';
import { listView } from './view-list.js';

const ROUTES = [
  { pattern: /^\/$/, view: listView },
  { pattern: /^\/departements$/, view: departmentsView },
  { pattern: /^\/departements\/([^/]+)$/, view: departmentView },
  { pattern: /^\/conventions\/([^/]+)$/, view: conventionView },
];

const main = document.getElementById('main');
let current = null; // the view on screen: {onEvent, dispose}
let rendering = 0;  // increases with each navigation, so a slow view never paints over a new one
let held = [];      // events that arrived while the view was loading, given to it once ready

// "#/conventions/x?y=1" → {path: "/conventions/x", query: URLSearchParams("y=1")}
function parseLocation() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const mark = raw.indexOf('?');
  return {
    path: mark < 0 ? raw : raw.slice(0, mark),
    query: new URLSearchParams(mark < 0 ? '' : raw.slice(mark + 1)),
  };
}

function decodeSegment(segment) {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

const app = {
  // A block that says what went wrong, with what the user can do about it.
  errorBlock(err) {
    const block = h('div', { class: 'error-block', role: 'alert' },
      h('p', null, describeError(err)));
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
      block.append(h('button', { type: 'button', class: 'button',
        onclick: () => app.askToken() }, token() ? 'Changer de jeton' : 'Saisir un jeton'));
    } else {
      block.append(h('button', { type: 'button', class: 'button',
        onclick: () => app.refresh() }, 'Réessayer'));
    }
    return block;
  },

  // Shows the current view again, as if the user had just arrived on it.
  refresh() {
    return show(false);
  },

  askToken(reason = '') {
    const dialog = document.getElementById('token-dialog');
    if (dialog.open) return;
    document.getElementById('token-reason').textContent = reason;
    document.getElementById('token-input').value = '';
    dialog.showModal();
  },
};

async function show(moveFocus) {
  const ticket = ++rendering;
  if (current && current.dispose) current.dispose();
  current = null;
  held = [];
  const { path, query } = parseLocation();
  const route = ROUTES.find((r) => r.pattern.test(path));
  if (!route) {
    document.title = 'Page introuvable — ctgd';
    main.replaceChildren(h('h1', { tabindex: -1 }, 'Page introuvable'),
      h('p', null, h('a', { href: '#/' }, 'Revenir à la liste des conventions')));
    return;
  }
  const params = path.match(route.pattern).slice(1).map(decodeSegment);
  // The view paints into its own container, shown once it is ready (or has failed).
  const view = { main: h('div', { class: 'view' }), params, query, app };
  try {
    const controller = await route.view(view);
    if (ticket !== rendering) return;
    current = controller || {};
    // The view read its data before these events were handled: it sees them now.
    for (const event of held) if (current.onEvent) current.onEvent(event);
    held = [];
  } catch (err) {
    if (ticket !== rendering) return;
    document.title = 'Erreur — ctgd';
    view.main.replaceChildren(h('h1', { tabindex: -1 }, 'Impossible d’afficher cette page'),
      app.errorBlock(err));
    if (err instanceof ApiError && err.status === 401) {
      app.askToken('Ces données demandent un jeton d’accès.');
    }
  }
  main.replaceChildren(view.main);
  if (moveFocus) (main.querySelector('h1') || main).focus();
}

function showLiveState(state, text) {
  const badge = document.getElementById('live-status');
  badge.dataset.state = state;
  badge.textContent = text;
}

function dispatchEvent(event) {
  if (!current) held.push(event);
  else if (current.onEvent) current.onEvent(event);
}

const live = new LiveFeed(dispatchEvent, showLiveState);

function showTokenState() {
  document.getElementById('token-button').textContent =
    token() ? 'Jeton d’accès (actif)' : 'Jeton d’accès';
}

function setUpTokenDialog() {
  const dialog = document.getElementById('token-dialog');
  document.getElementById('token-button').addEventListener('click', () => app.askToken());
  dialog.addEventListener('close', () => {
    const choice = dialog.returnValue;
    dialog.returnValue = '';
    if (choice !== 'save' && choice !== 'forget') return;
    setToken(choice === 'save' ? document.getElementById('token-input').value.trim() : '');
    showTokenState();
    catalog.forget();
    live.restart();
    show(false);
  });
  showTokenState();
}

// The skip link moves the focus without changing the address (a fragment is a view here).
function setUpSkipLink() {
  document.querySelector('.skip-link').addEventListener('click', (event) => {
    event.preventDefault();
    main.focus();
  });
}

async function boot() {
  setUpTokenDialog();
  setUpSkipLink();
  setUpPreview();
  window.addEventListener('hashchange', () => show(true));
  let since = null;
  try {
    since = (await getJSON('/v1/health')).last_seq;
  } catch {
    // the server is down: the view says so, and the feed keeps trying
  }
  await show(false);
  live.start(since);
}

boot();
