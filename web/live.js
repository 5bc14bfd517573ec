// live.js — follows GET /v1/events (Server-Sent Events) and hands every change to the page.
//
// EventSource cannot send an Authorization header, so the stream is read with fetch() and
// parsed here. After a cut, it reconnects with Last-Event-ID: no change is missed or repeated.

import { authHeaders } from './api.js';

const RETRY_MS = 2000;
const STATE_TEXT = {
  off: 'Flux en direct : arrêté',
  connecting: 'Flux en direct : connexion…',
  on: 'Flux en direct : connecté',
  retrying: 'Flux en direct : coupé, nouvelle tentative…',
  refused: 'Flux en direct : refusé (jeton)',
};

export class LiveFeed {
  constructor(onEvent, onState) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.lastSeq = null;
    this.controller = null;
    this.generation = 0;
  }

  // Starts after seq `since` (the store's last seq when the page loaded).
  start(since) {
    this.lastSeq = since;
    this.restart();
  }

  // Drops the connection and opens a new one (after a token change), from the same seq.
  restart() {
    this.stop();
    this.run(this.generation);
  }

  stop() {
    this.generation++;
    if (this.controller) this.controller.abort();
    this.controller = null;
    this.setState('off');
  }

  setState(state) {
    this.onState(state, STATE_TEXT[state]);
  }

  async run(generation) {
    while (generation === this.generation) {
      this.controller = new AbortController();
      this.setState('connecting');
      let refused = false;
      try {
        const response = await fetch('/v1/events', {
          headers: this.requestHeaders(), signal: this.controller.signal, cache: 'no-store',
        });
        refused = response.status === 401 || response.status === 403;
        if (response.ok && generation === this.generation) {
          this.setState('on');
          await this.read(response.body, generation);
        }
      } catch {
        // a cut connection, or stop(): the loop decides
      }
      if (generation !== this.generation) return;
      this.setState(refused ? 'refused' : 'retrying');
      await new Promise((resolve) => setTimeout(resolve, refused ? 5 * RETRY_MS : RETRY_MS));
    }
  }

  requestHeaders() {
    const headers = { Accept: 'text/event-stream', ...authHeaders() };
    if (this.lastSeq !== null) headers['Last-Event-ID'] = String(this.lastSeq);
    return headers;
  }

  async read(body, generation) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let pending = '';
    while (generation === this.generation) {
      const { value, done } = await reader.read();
      if (done) return;
      pending += value.replace(/\r\n?/g, '\n');
      let end;
      while ((end = pending.indexOf('\n\n')) >= 0) {
        this.dispatch(pending.slice(0, end));
        pending = pending.slice(end + 2);
      }
    }
  }

  // One SSE block: "id:", "event:" and "data:" lines; comments (keep-alives) start with ":".
  dispatch(block) {
    let id = null;
    const data = [];
    for (const line of block.split('\n')) {
      const colon = line.indexOf(':');
      if (colon === 0) continue;
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') id = value;
      else if (field === 'data') data.push(value);
    }
    if (!data.length) return;
    let event;
    try {
      event = JSON.parse(data.join('\n'));
    } catch {
      return;
    }
    if (id !== null) this.lastSeq = Number(id);
    this.onEvent(event);
  }
}
