// view-convention.js — one convention (#/conventions/{id}): everything it says, its
// indicators, history and exports, the forms of its most edited fields, and the changes that
// others make to it while it is on screen.

import { describeError, enc, getJSON, sendJSON } from './api.js';
import * as catalog from './catalog.js';
import {
  actionEditForm, clearErrors, formPatch, isDirty, showFieldErrors, showFormError,
  showUnreadable, statusEditForm, unreadableFields,
} from './convention-edit.js';
import {
  champsSection, diagnosticSection, exportsSection, fundingSection, governanceSection,
  historySection, indicatorsSection, objectivesSection, periodSection, signatoriesSection,
  territorySection,
} from './convention-sections.js';
import { h, notify, section } from './dom.js';
import { formatDateTime, statusLabel } from './labels.js';

class ConventionPage {
  constructor(main, doc, dept, app) {
    this.main = main;
    this.doc = doc;
    this.dept = dept;
    this.app = app;
    this.path = `/v1/conventions/${enc(doc.id)}`;
    this.indicators = null;
    this.history = null;
    this.exports = null;
    this.saving = false;
    this.pending = null;   // the last event that arrived during a save
    this.disposed = false;
    this.banner = h('div', { class: 'banner-area' });
    main.addEventListener('input', () => this.markDirtyForms());
  }

  // ---- painting ----

  render() {
    const drafts = this.drafts();
    const focused = document.activeElement && document.activeElement.id;
    const doc = this.doc;
    document.title = `${doc.title} — ctgd`;
    this.main.replaceChildren(
      h('p', { class: 'breadcrumb' }, h('a', { href: '#/' }, 'Conventions'), ' › ',
        h('a', { href: `#/departements/${enc(doc.department)}` },
          `${doc.department} — ${this.dept.label}`)),
      h('h1', { tabindex: -1 }, doc.title),
      h('p', { class: 'meta' },
        h('span', { class: `badge badge--${doc.status}` }, statusLabel(doc.status)),
        ` Révision ${doc.rev}, modifiée le ${formatDateTime(doc.updated_at)} par ${doc.updated_by}`),
      this.banner,
      h('div', { class: 'convention-grid' },
        h('div', { class: 'convention-main' },
          section('status', 'Statut', statusEditForm(doc, (form) => this.saveStatus(form))),
          objectivesSection(doc, this.dept, (action) => this.actionForm(action)),
          indicatorsSection(doc, this.indicators),
          diagnosticSection(doc), governanceSection(doc, this.dept), fundingSection(doc)),
        h('div', { class: 'convention-side' },
          territorySection(doc), signatoriesSection(doc), periodSection(doc),
          champsSection(doc, this.dept),
          exportsSection(doc.id, this.exports),
          historySection(this.history))));
    this.restoreDrafts(drafts);
    const again = focused && document.getElementById(focused);
    if (again) again.focus();
  }

  actionForm(action) {
    const index = this.doc.actions.indexOf(action);
    return actionEditForm(action, index, (form) => this.saveAction(form, action.id));
  }

  // Replaces one section (indicators, history, exports) once its data is there.
  repaintSection(id, node) {
    const old = this.main.querySelector(`#${id}`);
    if (old && node) old.replaceWith(node);
  }

  // What the user typed in forms not yet saved, to put back after a repaint.
  drafts() {
    const drafts = new Map();
    for (const form of this.main.querySelectorAll('form.edit-form')) {
      if (isDirty(form)) drafts.set(form.dataset.formKey, new FormData(form));
    }
    return drafts;
  }

  restoreDrafts(drafts) {
    for (const [key, data] of drafts) {
      const form = this.formByKey(key);
      if (!form) continue;
      for (const [name, value] of data) form.elements[name].value = value;
    }
    this.markDirtyForms();
  }

  markDirtyForms() {
    for (const form of this.main.querySelectorAll('form.edit-form')) {
      form.classList.toggle('dirty', isDirty(form));
    }
  }

  hasDrafts() {
    return [...this.main.querySelectorAll('form.edit-form')].some(isDirty);
  }

  setBanner(kind, title, text, withReload) {
    const role = kind === 'conflict' ? 'alert' : 'status';
    const box = h('div', { class: `banner banner--${kind}`, role },
      h('p', null, h('strong', null, title), ' ', text));
    if (withReload) {
      box.append(h('button', { type: 'button', class: 'button', onclick: () => this.reload() },
        'Recharger la convention'));
    }
    this.banner.replaceChildren(box);
    return box;
  }

  // ---- data ----

  async loadSidecars() {
    const rev = this.doc.rev;
    const [indicators, history] = await Promise.allSettled([
      getJSON(`${this.path}/indicators`), getJSON(`${this.path}/history`)]);
    if (this.disposed || this.doc.rev !== rev) return;
    this.indicators = indicators.status === 'fulfilled' ? indicators.value.indicators
      : new Error(describeError(indicators.reason));
    this.history = history.status === 'fulfilled' ? history.value.history
      : new Error(describeError(history.reason));
    this.repaintSection('indicators', indicatorsSection(this.doc, this.indicators));
    this.repaintSection('history', historySection(this.history));
  }

  async loadExports() {
    try {
      this.exports = (await getJSON(`${this.path}/exports`)).exports;
    } catch (err) {
      this.exports = err;
    }
    if (!this.disposed) this.repaintSection('exports', exportsSection(this.doc.id, this.exports));
  }

  async reload() {
    try {
      this.doc = await getJSON(this.path);
    } catch (err) {
      notify(describeError(err), 'error');
      return;
    }
    this.banner.replaceChildren();
    this.main.querySelectorAll('form.edit-form').forEach((f) => f.reset());
    this.render();
    this.loadSidecars();
    this.main.querySelector('h1').focus();
    notify(`Convention rechargée : révision ${this.doc.rev}.`, 'success');
  }

  // ---- saving ----

  saveStatus(form) {
    return this.save(form, this.path, (f, p) => (p === '/status' ? f.elements.status : null));
  }

  saveAction(form, actionId) {
    const index = this.doc.actions.findIndex((a) => a.id === actionId);
    const prefix = `/actions/${index}/`;
    return this.save(form, `${this.path}/actions/${enc(actionId)}`, (f, p) => {
      const name = p.startsWith(prefix) ? p.slice(prefix.length) : null;
      return name && f.elements[name] ? f.elements[name] : null;
    });
  }

  // The form of `key` on screen now (a repaint replaces the forms).
  formByKey(key) {
    return this.main.querySelector(`form[data-form-key="${CSS.escape(key)}"]`);
  }

  setSaving(saving) {
    this.saving = saving;
    for (const button of this.main.querySelectorAll('form.edit-form button[type="submit"]')) {
      button.disabled = saving;
    }
  }

  // Sends the form's merge patch with the rev on screen (If-Match): the server refuses it if
  // someone else saved in between, and the user is told plainly. One save at a time, so that
  // a page never races itself.
  async save(form, path, fieldFor) {
    if (this.saving) return;
    clearErrors(form);
    const unreadable = unreadableFields(form);
    if (unreadable.length) {
      showUnreadable(form, unreadable);
      return;
    }
    const patch = formPatch(form);
    if (!Object.keys(patch).length) {
      showFormError(form, 'Rien à enregistrer : aucune valeur n’a changé.');
      return;
    }
    const key = form.dataset.formKey;
    const before = this.doc;
    let conflict = false;
    this.setSaving(true);
    try {
      this.doc = await sendJSON('PATCH', path, patch, before.rev);
      this.render();
      this.flashChanges(before);
      notify(`Enregistré : révision ${this.doc.rev}.`, 'success');
      this.loadSidecars();
    } catch (err) {
      conflict = Boolean(err.isConflict);
      this.showSaveError(this.formByKey(key) || form, err, fieldFor, before.rev);
    } finally {
      this.setSaving(false);
      const pending = this.pending;
      this.pending = null;
      // After a conflict the banner already says what to do; a later event must not hide it.
      if (pending && !conflict) this.apply(pending);
    }
  }

  showSaveError(form, err, fieldFor, sentRev) {
    if (err.isConflict) {
      showFormError(form, 'Non enregistré : la convention a changé entre-temps (voir plus haut).');
      const box = this.setBanner('conflict', 'Conflit de révision.',
        `Vous avez modifié la révision ${sentRev}, mais quelqu’un a enregistré depuis : `
        + `la convention est maintenant à la révision ${err.currentRev ?? 'suivante'}. `
        + 'Vos changements n’ont pas été enregistrés. Rechargez la convention pour voir sa '
        + 'version actuelle, puis refaites vos changements.', true);
      box.querySelector('button').focus();
    } else if (err.status === 422) {
      showFieldErrors(form, describeError(err), err.details, (path) => fieldFor(form, path));
    } else {
      showFormError(form, describeError(err));
      if (err.status === 401) this.app.askToken('Enregistrer demande un jeton d’accès.');
    }
  }

  // ---- changes made elsewhere ----

  onEvent(event) {
    if (event.id !== this.doc.id) return;
    if (this.saving) this.pending = event;
    else this.apply(event);
  }

  apply(event) {
    if (event.rev <= this.doc.rev) return; // what this page saved itself, or older
    const when = formatDateTime(event.at);
    if (event.type === 'convention.deleted') {
      this.setBanner('conflict', 'Convention supprimée.',
        `${event.actor} l’a supprimée le ${when}. Ce qui est affiché n’existe plus.`, false);
      this.main.querySelectorAll('form.edit-form button').forEach((b) => { b.disabled = true; });
      return;
    }
    if (event.department !== this.doc.department) {
      this.app.refresh();
      return;
    }
    if (this.hasDrafts()) {
      this.setBanner('stale', 'Modifiée ailleurs.',
        `${event.actor} a enregistré la révision ${event.rev} le ${when}. Vos saisies en cours `
        + 'ne sont pas enregistrées et partent de la révision précédente.', true);
      return;
    }
    const before = this.doc;
    this.doc = event.doc;
    this.render();
    this.flashChanges(before);
    this.loadSidecars();
    notify(`Mise à jour reçue : révision ${event.rev}, par ${event.actor}.`);
  }

  // Marks for a moment the fiches actions whose status or progress just changed.
  flashChanges(before) {
    const old = new Map((before.actions || []).map((a) => [a.id, a]));
    for (const action of this.doc.actions || []) {
      const was = old.get(action.id);
      if (was && was.status === action.status && was.progress === action.progress) continue;
      const card = this.main.querySelector(`[data-action-id="${CSS.escape(action.id)}"]`);
      if (card) card.classList.add('changed');
    }
  }

  dispose() {
    this.disposed = true;
  }
}

export async function conventionView({ main, params, app }) {
  const doc = await getJSON(`/v1/conventions/${enc(params[0])}`);
  const dept = await catalog.department(doc.department);
  const page = new ConventionPage(main, doc, dept, app);
  page.render();
  page.loadSidecars();
  page.loadExports();
  return { onEvent: (event) => page.onEvent(event), dispose: () => page.dispose() };
}
