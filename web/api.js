// api.js — every call to the ctgd API: the token, the JSON errors of SPEC §3, and what they
// mean for a user, in French.

const TOKEN_KEY = 'ctgd.token';

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export function authHeaders() {
  const t = token();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

// An answer other than 2xx: the HTTP status and the "error" object of the body.
export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || (status === 0 ? 'network' : 'unknown');
    this.details = Array.isArray(error.details) ? error.details : [];
    this.currentRev = error.current_rev;
  }

  get isConflict() {
    return this.status === 409 && this.code === 'rev_conflict' || this.status === 412;
  }
}

// fetch() with the token; resolves to the Response when it is 2xx, else throws an ApiError.
export async function request(path, { method = 'GET', body, rev } = {}) {
  const headers = authHeaders();
  if (body !== undefined) {
    headers['Content-Type'] = method === 'PATCH' ? 'application/merge-patch+json'
      : 'application/json';
  }
  if (rev !== undefined) headers['If-Match'] = `"${rev}"`;
  let response;
  try {
    response = await fetch(path, {
      method, headers, cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, null);
  }
  if (response.ok) return response;
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    // an answer that is not JSON (a proxy's page): the status alone says enough
  }
  throw new ApiError(response.status, payload);
}

export async function getJSON(path) {
  return (await request(path)).json();
}

export async function sendJSON(method, path, body, rev) {
  return (await request(path, { method, body, rev })).json();
}

// A path under /v1 with its query: parts are encoded, empty values left out.
export function apiPath(path, query = {}) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(key, value);
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

export function enc(segment) {
  return encodeURIComponent(segment);
}

const MESSAGES = {
  0: 'Le serveur ne répond pas. Vérifiez la connexion, puis réessayez.',
  400: 'La demande est mal formée.',
  401: 'Un jeton d’accès est nécessaire pour ces données.',
  403: 'Votre jeton ne permet pas cette opération.',
  404: 'Introuvable.',
  409: 'Cette convention a été modifiée entre-temps.',
  412: 'Cette convention a été modifiée entre-temps.',
  413: 'La demande est trop volumineuse.',
  422: 'Le serveur a refusé ces valeurs.',
  428: 'La demande ne précise pas la révision lue.',
  500: 'Erreur du serveur.',
  503: 'Le stockage est indisponible : rien n’a été enregistré.',
  507: 'Le stockage est plein : rien n’a été enregistré.',
};

// One sentence for the user, then the server's own message (in English, as the API speaks),
// which names the token, the rule or the plugin concerned.
export function describeError(err) {
  if (!(err instanceof ApiError)) return `Erreur inattendue : ${err.message}`;
  const sentence = err.status === 401 && token() ? 'Le jeton saisi est inconnu du serveur.'
    : MESSAGES[err.status] || `Erreur ${err.status}.`;
  if (err.status === 0 || !err.message || err.message === `HTTP ${err.status}`) return sentence;
  return `${sentence} (${err.message})`;
}
