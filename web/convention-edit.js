// convention-edit.js — the forms for what staff update most: the convention's status, and each
// fiche action's status and progress. The page (view-convention.js) saves them; this file
// builds them, says whether they differ from the document, and shows the server's messages.

import { h } from './dom.js';
import { ACTION_STATUS, STATUS } from './labels.js';

function options(labels, selected, emptyLabel) {
  const list = Object.entries(labels).map(([value, label]) =>
    h('option', { value, selected: value === selected }, label));
  if (emptyLabel !== undefined) {
    list.unshift(h('option', { value: '', selected: !selected }, emptyLabel));
  }
  return list;
}

function field(id, label, control, narrow = false) {
  return h('div', { class: narrow ? 'field field--narrow' : 'field' },
    h('label', { for: id }, label), control);
}

// A form whose fields are compared with `original` ({name: string value}) to know if it is
// dirty. Under its fields and button: one message slot per field, then one for the form.
function editForm(key, original, onSave, { fields, slots, button }) {
  const form = h('form', { class: 'edit-form', novalidate: true, dataset: { formKey: key } },
    fields,
    h('button', { type: 'submit', class: 'button' }, button),
    slots.map((id) => h('p', { class: 'field-error', id: `${id}-error`, hidden: true })),
    h('p', { class: 'form-error', role: 'alert', hidden: true }));
  form.original = original;
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    onSave(form);
  });
  return form;
}

export function statusEditForm(doc, onSave) {
  const id = 'convention-status';
  return editForm('status', { status: doc.status }, onSave, {
    fields: [field(id, 'Statut de la convention',
      h('select', { id, name: 'status', 'aria-describedby': `${id}-error` },
        options(STATUS, doc.status)))],
    slots: [id],
    button: 'Enregistrer le statut',
  });
}

export function actionEditForm(action, index, onSave) {
  const status = `action-${index}-status`;
  const progress = `action-${index}-progress`;
  const number = action.number ?? action.id;
  const original = {
    status: action.status || '',
    progress: typeof action.progress === 'number' ? String(action.progress) : '',
  };
  return editForm(`action:${action.id}`, original, onSave, {
    fields: [
      field(status, `Statut de la fiche ${number}`,
        h('select', { id: status, name: 'status', 'aria-describedby': `${status}-error` },
          options(ACTION_STATUS, action.status, 'Non renseigné'))),
      field(progress, `Avancement de la fiche ${number} (%)`,
        h('input', { id: progress, name: 'progress', type: 'number', min: 0, max: 100, step: 1,
          inputmode: 'numeric', value: original.progress,
          'aria-describedby': `${progress}-error` }), true),
    ],
    slots: [status, progress],
    button: 'Enregistrer',
  });
}

export function formValues(form) {
  return Object.fromEntries([...new FormData(form)].map(([k, v]) => [k, String(v).trim()]));
}

export function isDirty(form) {
  const values = formValues(form);
  return Object.keys(form.original).some((k) => values[k] !== form.original[k]);
}

// The merge patch that turns the original into what the form holds: an emptied field is
// removed (null), a progress is a number.
export function formPatch(form) {
  const values = formValues(form);
  const patch = {};
  for (const [name, before] of Object.entries(form.original)) {
    const value = values[name];
    if (value === before) continue;
    if (value === '') patch[name] = null;
    else patch[name] = name === 'progress' && /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
  }
  return patch;
}

export function clearErrors(form) {
  for (const slot of form.querySelectorAll('.field-error, .form-error')) {
    slot.hidden = true;
    slot.textContent = '';
  }
  for (const field of form.querySelectorAll('[aria-invalid]')) field.removeAttribute('aria-invalid');
}

export function showFormError(form, message) {
  const slot = form.querySelector('.form-error');
  slot.textContent = message;
  slot.hidden = false;
}

function detailText(detail) {
  return detail.plugin ? `${detail.message} (règle du plugin ${detail.plugin})` : detail.message;
}

// Puts each of the server's details next to its field (found by its JSON pointer through
// `fieldFor`); the others go to the form's own message.
export function showFieldErrors(form, message, details, fieldFor) {
  const loose = [];
  for (const detail of details) {
    const field = fieldFor(detail.path || '');
    if (!field) {
      loose.push(detail.path ? `${detail.path} : ${detailText(detail)}` : detailText(detail));
      continue;
    }
    field.setAttribute('aria-invalid', 'true');
    const slot = form.querySelector(`#${field.id}-error`);
    const label = field.labels.length ? field.labels[0].textContent : field.name;
    slot.textContent = slot.textContent ? `${slot.textContent} ${detailText(detail)}`
      : `${label} : ${detailText(detail)}`;
    slot.hidden = false;
  }
  if (loose.length || !details.length) showFormError(form, [message, ...loose].join(' '));
  const first = form.querySelector('[aria-invalid="true"]');
  if (first) first.focus();
}
