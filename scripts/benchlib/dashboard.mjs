// dashboard.mjs — how fast the dashboard shows things, in Debian's Chromium:
//   * load: from navigation to the list of conventions on screen (a fresh page each time);
//   * convention: from navigation to a convention's page with its indicators;
//   * live: from a write acknowledged by the API to the change on a page that watches it.
// Usage: CTGD_BIN=build/ctgd node scripts/benchlib/dashboard.mjs [runs]   (needs scripts/setup --test)

import { api, launchBrowser, loadDemo, openPage, startServer } from '../../tests/web/harness.mjs';

const runs = Number(process.argv[2] || 20);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p90 = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)];

async function timed(fn) {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

const server = await startServer();
await loadDemo(server);
const browser = await launchBrowser();
const id = '15-saint-flour-communaute';
const results = { load: [], convention: [], live: [] };

for (let i = 0; i < runs; i++) {
  const context = await browser.newContext();
  const page = await context.newPage();
  results.load.push(await timed(async () => {
    await page.goto(`${server.url}/`);
    await page.waitForSelector('table.list tbody tr');
  }));
  results.convention.push(await timed(async () => {
    await page.goto(`${server.url}/#/conventions/${id}`);
    await page.waitForSelector('#indicators table');
  }));
  await context.close();
}

const watcher = await openPage(browser, `${server.url}/#/conventions/${id}`);
await watcher.waitForSelector('#live-status[data-state="on"]');
for (let i = 0; i < runs; i++) {
  const { body: doc } = await api(server, 'GET', `/v1/conventions/${id}`);
  const progress = (i % 100) + 1 === doc.actions[0].progress ? 0 : (i % 100) + 1;
  const shown = watcher.waitForFunction((p) => document.querySelector(
    'article.action .progress__figure')?.textContent === `${p} %`, progress, { polling: 'raf' });
  const answer = await api(server, 'PATCH', `/v1/conventions/${id}/actions/${doc.actions[0].id}`,
    { body: { progress }, headers: { 'If-Match': `"${doc.rev}"` } });
  const acknowledged = performance.now();
  if (answer.status !== 200) throw new Error(`write refused: ${answer.status}`);
  await shown;
  results.live.push(performance.now() - acknowledged);
}

await browser.close();
await server.stop();
for (const [name, xs] of Object.entries(results)) {
  console.log(`${name.padEnd(10)} median ${median(xs).toFixed(1)} ms  p90 ${p90(xs).toFixed(1)} ms  (${xs.length} runs)`);
}
