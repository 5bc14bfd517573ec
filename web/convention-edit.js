// convention-edit.js — the forms for what staff update most: the convention's status, and each
// fiche action's status and progress. The page (view-convention.js) saves them; this file
// builds them, says whether they differ from the document, and shows the server's messages.

import { h, selectOptions } from './dom.js';
import { ACTION_STATUS, STATUS } from './labels.js';

function field(id, label, control, narrow = false) {
  return h('div', { class: narrow ? 'field field--narrow' : 'field' },
    h('label', { for: id }, label), control);
}

// A form whose fields are compared with `original` ({name: string value}) to know if it is
// dirty. Under its fields and button: one message slot per field, then one for the form.
function editForm(key, original, onSave, { fields, slots, button, buttonId }) {
  const form = h('form', { class: 'edit-form', novalidate: true, dataset: { formKey: key } },
    fields,
    h('button', { type: 'submit', class: 'button', id: buttonId }, button),
    h('span', { class: 'dirty-note' }, 'Modifications non enregistrées'),
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
        selectOptions(Object.entries(STATUS), doc.status)))],
    slots: [id],
    button: 'Enregistrer le statut',
    buttonId: `${id}-save`,
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
          selectOptions(Object.entries(ACTION_STATUS), action.status, 'Non renseigné'))),
      field(progress, `Avancement de la fiche ${number} (%)`,
        h('input', { id: progress, name: 'progress', type: 'number', min: 0, max: 100, step: 1,
          inputmode: 'numeric', value: original.progress,
          'aria-describedby': `${progress}-error` }), true),
    ],
    slots: [status, progress],
    button: 'Enregistrer',
    buttonId: `action-${index}-save`,
  });
}

function formValues(form) {
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

// The fields whose text the browser could not read as their type (a "5-" in a number field):
// their value reads as empty, which must not be taken for "remove it".
export function unreadableFields(form) {
  return [...form.elements].filter((field) => field.validity && field.validity.badInput);
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

// Puts each message next to its field, marked invalid; messages without a field go, after
// `message`, to the form's own slot. Focus goes to the first invalid field.
function showMessages(form, message, items) {
  const loose = [];
  for (const { field, text } of items) {
    if (!field) {
      loose.push(text);
      continue;
    }
    field.setAttribute('aria-invalid', 'true');
    const slot = form.querySelector(`#${field.id}-error`);
    const label = field.labels.length ? field.labels[0].textContent : field.name;
    slot.textContent = slot.textContent ? `${slot.textContent} ${text}` : `${label} : ${text}`;
    slot.hidden = false;
  }
  if (loose.length || !items.length) showFormError(form, [message, ...loose].join(' '));
  const first = form.querySelector('[aria-invalid="true"]');
  if (first) first.focus();
}

// The server's details (JSON pointers) next to their fields, found through `fieldFor`.
export function showFieldErrors(form, message, details, fieldFor) {
  showMessages(form, message, details.map((detail) => {
    const field = fieldFor(detail.path || '');
    const text = detailText(detail);
    return { field, text: field || !detail.path ? text : `${detail.path} : ${text}` };
  }));
}

export function showUnreadable(form, fields) {
  showMessages(form, 'Rien n’a été envoyé.', fields.map((field) => ({
    field, text: 'saisissez un nombre (par exemple 40).' })));
}
