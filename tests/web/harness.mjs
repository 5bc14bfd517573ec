// harness.mjs — what the dashboard tests share: a real ctgd on a loopback port with the demo
// data, and Debian's Chromium driven by playwright-core.
//
// Environment: CTGD_BIN (the server under test, required), CTG_BUILD_DIR (screenshots go to
// its web-screenshots/ folder), CHROMIUM_BIN (default /usr/bin/chromium).

import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const START_TIMEOUT_MS = 10000;
const STOP_TIMEOUT_MS = 10000;
const SANITIZER_MARKS = ['AddressSanitizer', 'runtime error', 'LeakSanitizer'];

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const luaString = (s) => JSON.stringify(s);

// A token the tests can use: its secret, and the line of configuration that declares it.
export function makeToken(name, role, departments) {
  const secret = randomBytes(24).toString('hex');
  const sha256 = createHash('sha256').update(secret).digest('hex');
  const scope = departments === '*' ? '"*"' : `{ ${departments.map(luaString).join(', ')} }`;
  return { name, secret, line: `{ name = ${luaString(name)}, sha256 = "${sha256}", `
    + `role = "${role}", departments = ${scope} }` };
}

// A ctgd in its own temporary folder, with the shipped plugins and the given tokens.
export async function startServer({ tokens = [] } = {}) {
  const bin = process.env.CTGD_BIN;
  if (!bin) throw new Error('set CTGD_BIN to the ctgd binary under test');
  const dir = mkdtempSync(join(tmpdir(), 'ctgd-web-'));
  const port = await freePort();
  const config = [
    `listen = "127.0.0.1:${port}"`,
    `data_dir = ${luaString(join(dir, 'data'))}`,
    'map_size = 64 * 1024 * 1024',
    `events = { bind = ${luaString(`ipc://${join(dir, 'events.ipc')}`)}, heartbeat = 1 }`,
    `plugins = { ${luaString(join(REPO, 'plugins'))} }`,
    tokens.length ? `tokens = { ${tokens.map((t) => t.line).join(', ')} }` : '',
    'log_level = "warn"',
  ].join('\n');
  writeFileSync(join(dir, 'ctgd.conf'), `${config}\n`);
  const proc = spawn(bin, ['-c', join(dir, 'ctgd.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', (chunk) => { output += chunk; });
  proc.stderr.on('data', (chunk) => { output += chunk; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(url, proc);

  return {
    url,
    // Stops with SIGTERM and checks a clean exit: code 0 and no sanitizer report.
    async stop() {
      const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
      proc.kill('SIGTERM');
      const { code, signal } = await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      const mark = SANITIZER_MARKS.find((m) => output.includes(m));
      if (code !== 0 || mark) {
        throw new Error(`ctgd did not stop cleanly (code ${code}, signal ${signal}):\n${output}`);
      }
    },
  };
}

async function waitHealthy(url, proc) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`ctgd exited with code ${proc.exitCode}`);
    try {
      if ((await fetch(`${url}/v1/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  proc.kill('SIGKILL');
  throw new Error('ctgd did not answer its health check in time');
}

// One HTTP call to the API, as another client would do it (not through the page).
export async function api(server, method, path, { body, token, headers = {} } = {}) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      ...(body !== undefined ? { 'Content-Type': method === 'POST' && path.endsWith('_bulk')
        ? 'application/x-ndjson' : 'application/json' } : {}),
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: typeof body === 'string' || body === undefined ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

// The five seed conventions of conf/demo, through the bulk endpoint.
export async function loadDemo(server, token) {
  const folder = join(REPO, 'conf', 'demo');
  const lines = readdirSync(folder).filter((f) => f.endsWith('.json')).sort()
    .map((f) => JSON.stringify(JSON.parse(readFileSync(join(folder, f), 'utf8'))));
  const answer = await api(server, 'POST', '/v1/conventions/_bulk',
    { body: `${lines.join('\n')}\n`, token });
  const refused = answer.body.results.filter((r) => r.status >= 300);
  if (answer.status !== 200 || refused.length) {
    throw new Error(`demo data refused: ${JSON.stringify(answer.body)}`);
  }
  return lines.map((l) => JSON.parse(l));
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// A page that fails the test on any script error or console error of the dashboard.
export async function openPage(browser, url, { viewport = { width: 1280, height: 900 } } = {}) {
  const context = await browser.newContext({ viewport, locale: 'fr-FR' });
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (err) => page.problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    // Chromium logs every 4xx answer; the page handles those, the tests check how.
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) {
      page.problems.push(`console error: ${msg.text()}`);
    }
  });
  await page.goto(url);
  return page;
}

export function screenshotPath(name) {
  const folder = join(process.env.CTG_BUILD_DIR || join(REPO, 'build'), 'web-screenshots');
  mkdirSync(folder, { recursive: true });
  return join(folder, `${name}.png`);
}
