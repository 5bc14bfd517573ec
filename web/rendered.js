// rendered.js — what plugins render: the exports of a convention, the reports of a department.
// They are fetched with the token. HTML is shown in a sandboxed frame inside the page (no
// script, no access to the page or its token); other formats are saved as files.

import { describeError, request } from './api.js';
import { h, notify } from './dom.js';

const FORMATS = {
  'text/csv': ['csv', 'fichier CSV'],
  'text/markdown': ['md', 'fichier Markdown'],
  'application/json': ['json', 'fichier JSON'],
  'text/plain': ['txt', 'fichier texte'],
  'text/html': ['html', 'page HTML, aperçu'],
};

function mediaType(contentType) {
  return (contentType || '').split(';')[0].trim().toLowerCase();
}

// "actions.csv" stays; "synthese" of text/markdown becomes "synthese.md"; prefixed by `owner`.
function fileName(owner, key, contentType) {
  const format = FORMATS[mediaType(contentType)];
  const name = /\.[a-z0-9]+$/i.test(key) || !format ? key : `${key}.${format[0]}`;
  return `${owner}-${name}`;
}

function save(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = h('a', { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

function preview(label, html, blob, name) {
  const dialog = document.getElementById('preview-dialog');
  document.getElementById('preview-title').textContent = label;
  document.getElementById('preview-frame').srcdoc = html;
  document.getElementById('preview-save').onclick = () => save(blob, name);
  dialog.showModal();
}

export function setUpPreview() {
  const dialog = document.getElementById('preview-dialog');
  document.getElementById('preview-close').addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => {
    document.getElementById('preview-frame').srcdoc = '';
  });
}

async function open(item, href, owner) {
  const blob = await (await request(href)).blob();
  const name = fileName(owner, item.key, item.content_type);
  if (mediaType(item.content_type) === 'text/html') preview(item.label, await blob.text(), blob, name);
  else save(blob, name);
}

// The list of links to `items` ({key, label, content_type}); `hrefOf(item)` is its API path,
// `owner` prefixes the names of saved files.
export function renderedLinks(items, hrefOf, owner) {
  return h('ul', { class: 'links' }, items.map((item) => {
    const href = hrefOf(item);
    const format = FORMATS[mediaType(item.content_type)];
    return h('li', null,
      h('a', {
        href,
        id: `${owner}-${item.key}`,
        onclick: (event) => {
          event.preventDefault();
          open(item, href, owner).catch((err) => notify(describeError(err), 'error'));
        },
      }, item.label),
      h('span', { class: 'muted' }, ` — ${format ? format[1] : mediaType(item.content_type)}`));
  }));
}
