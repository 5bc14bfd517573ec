// rendered.js — opens what plugins render (exports of a convention, reports of a department).
// They are fetched with the token, then shown in a new tab (HTML) or saved (CSV, Markdown…).

import { request } from './api.js';

const EXTENSIONS = {
  'text/csv': 'csv', 'text/markdown': 'md', 'application/json': 'json', 'text/plain': 'txt',
  'text/html': 'html', 'application/pdf': 'pdf',
};

function mediaType(contentType) {
  return (contentType || '').split(';')[0].trim().toLowerCase();
}

// "actions.csv" stays; "synthese" of text/markdown becomes "synthese.md"; prefixed by `owner`.
export function fileName(owner, key, contentType) {
  const extension = EXTENSIONS[mediaType(contentType)];
  const name = /\.[a-z0-9]+$/i.test(key) || !extension ? key : `${key}.${extension}`;
  return `${owner}-${name}`;
}

function opensInTab(contentType) {
  const type = mediaType(contentType);
  return type === 'text/html' || type === 'application/pdf' || type === 'image/svg+xml';
}

// Called from a click: the tab is opened at once, while the click still allows it.
export async function openRendered(href, name, contentType) {
  const tab = opensInTab(contentType) ? window.open('', '_blank') : null;
  try {
    const blob = await (await request(href)).blob();
    const url = URL.createObjectURL(blob);
    if (tab) {
      tab.opener = null;
      tab.location.href = url;
    } else {
      const link = document.createElement('a');
      link.href = url;
      link.download = name;
      document.body.append(link);
      link.click();
      link.remove();
    }
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  } catch (err) {
    if (tab) tab.close();
    throw err;
  }
}
