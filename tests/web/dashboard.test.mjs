// dashboard.test.mjs — the dashboard in a real browser, on a ctgd with the demo data and no
// token: filtering, a convention's page, editing with the rev rule, live updates through SSE,
// the server's validation messages, the department page, exports, a phone screen.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import {
  api, launchBrowser, loadDemo, openPage, screenshotPath, startServer,
} from './harness.mjs';

const CONVENTION = '15-saint-flour-communaute';
let server;
let browser;
let demo;

const rows = (page) => page.$$eval('table.list tbody tr', (trs) => trs.map((tr) => tr.dataset.id));

async function waitForRows(page, ids) {
  await page.waitForFunction((expected) => {
    const shown = [...document.querySelectorAll('table.list tbody tr')].map((tr) => tr.dataset.id);
    return JSON.stringify(shown) === JSON.stringify(expected);
  }, ids, { timeout: 5000 }).catch(async () => {
    assert.deepEqual(await rows(page), ids);
  });
}

const idsOf = (docs) => docs.map((d) => d.id).sort();
const card = (page, actionId) => page.locator(`article.action[data-action-id="${actionId}"]`);

async function openConvention(page, id = CONVENTION) {
  await page.goto(`${server.url}/#/conventions/${id}`);
  await page.waitForSelector('#indicators table');
  await page.waitForSelector('#live-status[data-state="on"]');
}

async function saveAction(page, actionId, { status, progress }) {
  const form = card(page, actionId);
  if (status !== undefined) await form.locator('select[name="status"]').selectOption(status);
  if (progress !== undefined) await form.locator('input[name="progress"]').fill(String(progress));
  await form.getByRole('button', { name: 'Enregistrer' }).click();
}

async function storedAction(id, actionId) {
  const { body } = await api(server, 'GET', `/v1/conventions/${id}`);
  return { rev: body.rev, action: body.actions.find((a) => a.id === actionId) };
}

function assertNoProblems(...pages) {
  for (const page of pages) assert.deepEqual(page.problems, [], 'the page logged errors');
}

describe('dashboard', () => {
  before(async () => {
    server = await startServer();
    demo = await loadDemo(server);
    browser = await launchBrowser();
  });

  after(async () => {
    if (browser) await browser.close();
    if (server) await server.stop();
  });

  it('lists the demo conventions and filters them by department, status, champ and text',
    async () => {
      const page = await openPage(browser, `${server.url}/`);
      await waitForRows(page, idsOf(demo));
      await page.screenshot({ path: screenshotPath('01-list'), fullPage: true });

      await page.selectOption('#filter-department', '29');
      await waitForRows(page, idsOf(demo.filter((d) => d.department === '29')));
      assert.match(page.url(), /#\/\?department=29$/);

      await page.selectOption('#filter-department', '');
      await page.selectOption('#filter-status', 'action_plan');
      await waitForRows(page, idsOf(demo.filter((d) => d.status === 'action_plan')));

      await page.selectOption('#filter-status', '');
      await page.selectOption('#filter-champ', 'gens-du-voyage');
      await waitForRows(page, idsOf(demo.filter((d) => d.champs.includes('gens-du-voyage'))));

      await page.selectOption('#filter-champ', '');
      await page.fill('#filter-q', 'VIGANAIS');
      await page.press('#filter-q', 'Enter');
      await waitForRows(page, idsOf(demo.filter((d) => /viganais/i.test(d.title))));
      await page.screenshot({ path: screenshotPath('02-list-filtered'), fullPage: true });

      // The filters live in the URL: opening it again shows the same selection.
      const again = await openPage(browser, page.url());
      await waitForRows(again, idsOf(demo.filter((d) => /viganais/i.test(d.title))));
      assert.equal(await again.inputValue('#filter-q'), 'VIGANAIS');
      assertNoProblems(page, again);
      await page.context().close();
      await again.context().close();
    });

  it('opens a convention with its territory, signatories, champs, actions, indicators, '
    + 'history and exports', async () => {
    const doc = demo.find((d) => d.id === CONVENTION);
    const page = await openPage(browser, `${server.url}/`);
    await page.getByRole('link', { name: doc.title }).click();
    await page.waitForSelector('#indicators table');
    assert.match(page.url(), new RegExp(`#/conventions/${CONVENTION}$`));
    assert.equal(await page.textContent('h1'), doc.title);

    const territory = await page.textContent('#territory');
    assert.ok(territory.includes(doc.territory.name));
    const signatories = await page.textContent('#signatories');
    for (const s of doc.signatories) assert.ok(signatories.includes(s.organisation));
    for (const o of doc.objectives) {
      assert.ok((await page.textContent('#objectives')).includes(o.title));
    }
    const cards = await page.$$eval('article.action', (list) => list.map((a) => a.dataset.actionId));
    assert.deepEqual(cards.sort(), doc.actions.map((a) => a.id).sort());

    const { body: dept } = await api(server, 'GET', '/v1/departments/15');
    const champs = await page.$$eval('#champs .chip', (list) => list.map((c) => c.textContent));
    assert.deepEqual(champs, doc.champs.map((k) => dept.champs.find((c) => c.key === k).label));
    const indicators = await page.$$eval('#indicators tbody tr', (list) =>
      list.map((tr) => tr.dataset.indicator));
    assert.deepEqual(indicators.sort(), dept.indicators.map((i) => i.key).sort());

    await page.waitForSelector('#history li');
    assert.match(await page.textContent('#history'), /Révision 1 — Création/);
    await page.waitForSelector('#exports a');
    const exports = await page.$$eval('#exports a', (list) => list.map((a) => a.textContent));
    assert.deepEqual(exports.sort(), dept.exports.map((e) => e.label).sort());
    await page.screenshot({ path: screenshotPath('03-convention'), fullPage: true });
    assertNoProblems(page);
    await page.context().close();
  });

  it('saves an action\'s status and progress, and a second page sees it without reloading',
    async () => {
      const editor = await openPage(browser, `${server.url}/`);
      const watcher = await openPage(browser, `${server.url}/`);
      await openConvention(editor);
      await openConvention(watcher);
      await watcher.evaluate(() => { window.notReloaded = true; });
      const before = await storedAction(CONVENTION, 'fiche-2');

      await saveAction(editor, 'fiche-2', { status: 'in_progress', progress: 40 });
      await editor.waitForSelector(`.notice:has-text("révision ${before.rev + 1}")`);
      const after = await storedAction(CONVENTION, 'fiche-2');
      assert.equal(after.rev, before.rev + 1);
      assert.equal(after.action.progress, 40);
      assert.equal(after.action.status, 'in_progress');

      // The second page shows it through /v1/events, on the same page (no navigation).
      await card(watcher, 'fiche-2').locator('.progress__figure:has-text("40 %")').waitFor();
      assert.equal(await card(watcher, 'fiche-2').locator('.badge').textContent(), 'En cours');
      assert.equal(await watcher.evaluate(() => window.notReloaded), true);
      assert.match(await watcher.textContent('.meta'), new RegExp(`Révision ${after.rev}`));
      await watcher.waitForSelector(`.notice:has-text("révision ${after.rev}")`);
      await editor.screenshot({ path: screenshotPath('04-action-saved'), fullPage: true });
      await watcher.screenshot({ path: screenshotPath('05-live-update') });
      assertNoProblems(editor, watcher);
      await editor.context().close();
      await watcher.context().close();
    });

  it('shows a rev conflict plainly and reloads the current version', async () => {
    const mine = await openPage(browser, `${server.url}/`);
    await openConvention(mine);
    const before = await storedAction(CONVENTION, 'fiche-7');

    // Someone starts typing; meanwhile another client saves the same convention.
    await card(mine, 'fiche-7').locator('input[name="progress"]').fill('55');
    const other = await api(server, 'PATCH', `/v1/conventions/${CONVENTION}/actions/fiche-7`,
      { body: { status: 'done', progress: 100 }, headers: { 'If-Match': `"${before.rev}"` } });
    assert.equal(other.status, 200);
    await mine.waitForSelector('.banner--stale:has-text("Modifiée ailleurs")');
    // What was typed is still there.
    assert.equal(await card(mine, 'fiche-7').locator('input[name="progress"]').inputValue(), '55');

    await card(mine, 'fiche-7').getByRole('button', { name: 'Enregistrer' }).click();
    const banner = mine.locator('.banner--conflict[role="alert"]');
    await banner.waitFor();
    assert.match(await banner.textContent(), /Conflit de révision/);
    assert.match(await banner.textContent(), new RegExp(`révision ${other.body.rev}`));
    assert.match(await card(mine, 'fiche-7').locator('.form-error').textContent(), /Non enregistré/);
    await mine.screenshot({ path: screenshotPath('06-conflict'), fullPage: false });
    const stored = await storedAction(CONVENTION, 'fiche-7');
    assert.equal(stored.action.progress, 100, 'the stale write must not reach the store');

    await banner.getByRole('button', { name: 'Recharger la convention' }).click();
    await mine.waitForSelector('.banner--conflict', { state: 'detached' });
    await card(mine, 'fiche-7').locator('.progress__figure:has-text("100 %")').waitFor();
    assert.equal(await card(mine, 'fiche-7').locator('input[name="progress"]').inputValue(), '100');
    assert.match(await mine.textContent('.meta'), new RegExp(`Révision ${stored.rev}`));
    assertNoProblems(mine);
    await mine.context().close();
  });

  it('shows the server\'s validation messages next to their field and changes nothing',
    async () => {
      const page = await openPage(browser, `${server.url}/`);
      await openConvention(page);
      const before = await storedAction(CONVENTION, 'fiche-9');

      // The national plugin's rule: a convention's status moves one step at a time.
      await page.selectOption('#convention-status', 'closed');
      await page.getByRole('button', { name: 'Enregistrer le statut' }).click();
      const statusError = page.locator('#convention-status-error');
      await statusError.waitFor();
      assert.match(await statusError.textContent(), /ne peut pas passer de .* à .*plugin cnaf/);
      assert.equal(await page.getAttribute('#convention-status', 'aria-invalid'), 'true');

      // The document model: a progress is a number from 0 to 100.
      await saveAction(page, 'fiche-9', { progress: 150 });
      const progressError = card(page, 'fiche-9').locator('.field-error:not([hidden])');
      await progressError.waitFor();
      assert.match(await progressError.textContent(), /100/);
      assert.equal(await card(page, 'fiche-9').locator('input[name="progress"]')
        .getAttribute('aria-invalid'), 'true');
      await page.screenshot({ path: screenshotPath('07-validation'), fullPage: true });

      // A number the browser cannot read is not sent (it would read as "remove it").
      const progressInput = card(page, 'fiche-9').locator('input[name="progress"]');
      await progressInput.fill('');
      await progressInput.focus();
      await page.keyboard.type('5-');
      await card(page, 'fiche-9').getByRole('button', { name: 'Enregistrer' }).click();
      await card(page, 'fiche-9').locator('.field-error').filter({ hasText: 'saisissez un nombre' })
        .waitFor();

      const afterwards = await storedAction(CONVENTION, 'fiche-9');
      assert.equal(afterwards.rev, before.rev, 'a refused write must change nothing');
      assertNoProblems(page);
      await page.context().close();
    });

  it('shows a department: its champs, reports, and the indicators of its conventions',
    async () => {
      const { body: dept } = await api(server, 'GET', '/v1/departments/15');
      const page = await openPage(browser, `${server.url}/#/departements/15`);
      await page.waitForSelector('table.matrix');
      await page.waitForFunction(() =>
        ![...document.querySelectorAll('table.matrix td.figure')].some((td) =>
          td.textContent === '…'));
      const chips = await page.$$eval('#champs .chip', (list) => list.map((c) => c.textContent));
      assert.deepEqual(chips.sort(), dept.champs.map((c) => c.label).sort());
      const reports = await page.$$eval('#reports a', (list) => list.map((a) => a.textContent));
      assert.deepEqual(reports.sort(), dept.reports.map((r) => r.label).sort());
      const columns = await page.$$eval('table.matrix thead th', (list) => list.length);
      assert.equal(columns, 2 + dept.indicators.length);
      const matrixRows = await page.$$eval('table.matrix tbody tr', (list) =>
        list.map((tr) => tr.dataset.id));
      assert.deepEqual(matrixRows, idsOf(demo.filter((d) => d.department === '15')));

      // The figures are the server's (fiche 7 is done since the conflict test).
      const { body: computed } = await api(server, 'GET', `/v1/conventions/${CONVENTION}/indicators`);
      const realised = computed.indicators.find((i) => i.key === 'taux-realisation');
      const column = dept.indicators.findIndex((i) => i.key === 'taux-realisation');
      const cell = await page.$eval(`table.matrix tbody tr td.figure:nth-of-type(${column + 2})`,
        (td) => td.textContent);
      assert.equal(cell.replace(/\s/g, ' '), `${realised.value} %`.replace(/\s/g, ' '));
      await page.screenshot({ path: screenshotPath('08-department'), fullPage: true });
      assertNoProblems(page);
      await page.context().close();
    });

  it('shows the HTML export in a sandboxed frame and saves the CSV export', async () => {
    const page = await openPage(browser, `${server.url}/`);
    await openConvention(page);
    await page.waitForSelector('#exports a');
    await page.getByRole('link', { name: 'Rapport (HTML)' }).click();
    const dialog = page.locator('#preview-dialog');
    await dialog.waitFor({ state: 'visible' });
    // No script and an origin of its own: the sandbox attribute is present and empty.
    assert.equal(await page.getAttribute('#preview-frame', 'sandbox'), '');
    const doc = demo.find((d) => d.id === CONVENTION);
    const frame = page.frameLocator('#preview-frame');
    await frame.locator('h1').filter({ hasText: doc.title }).waitFor();
    await page.screenshot({ path: screenshotPath('09-export-rapport'), fullPage: false });
    const [saved] = await Promise.all([page.waitForEvent('download'),
      page.getByRole('button', { name: 'Enregistrer le fichier' }).click()]);
    assert.equal(saved.suggestedFilename(), `${CONVENTION}-rapport.html`);
    await page.getByRole('button', { name: 'Fermer' }).click();
    await dialog.waitFor({ state: 'hidden' });

    const [download] = await Promise.all([page.waitForEvent('download'),
      page.getByRole('link', { name: 'Fiches actions (CSV)' }).click()]);
    assert.equal(download.suggestedFilename(), `${CONVENTION}-actions.csv`);
    const text = await readFile(await download.path(), 'utf8');
    assert.equal(text.trim().split('\n').length, 1 + doc.actions.length);
    assertNoProblems(page);
    await page.context().close();
  });

  it('follows changes made elsewhere on the list, and says when a convention is deleted',
    async () => {
      const list = await openPage(browser, `${server.url}/`);
      await list.waitForSelector('#live-status[data-state="on"]');
      const viewer = await openPage(browser, `${server.url}/`);
      await openConvention(viewer, '88-ccpvm');
      const { body: doc } = await api(server, 'GET', '/v1/conventions/88-ccpvm');

      const renamed = `${doc.title} (avenant)`;
      const patched = await api(server, 'PATCH', '/v1/conventions/88-ccpvm',
        { body: { title: renamed }, headers: { 'If-Match': `"${doc.rev}"` } });
      assert.equal(patched.status, 200);
      await list.getByRole('link', { name: renamed }).waitFor();
      await viewer.locator('h1').filter({ hasText: renamed }).waitFor();

      const deleted = await api(server, 'DELETE', '/v1/conventions/88-ccpvm',
        { headers: { 'If-Match': `"${patched.body.rev}"` } });
      assert.equal(deleted.status, 200);
      await viewer.locator('.banner--conflict').filter({ hasText: 'Convention supprimée' }).waitFor();
      assert.equal(await viewer.locator('form.edit-form button[type="submit"]:not([disabled])')
        .count(), 0);
      await list.waitForFunction(() => !document.querySelector('tr[data-id="88-ccpvm"]'));
      await viewer.screenshot({ path: screenshotPath('12-deleted-elsewhere') });
      assertNoProblems(list, viewer);
      await list.context().close();
      await viewer.context().close();
    });

  it('fits a phone screen and labels every control', async () => {
    const phone = { width: 390, height: 844 };
    const page = await openPage(browser, `${server.url}/`, { viewport: phone });
    await page.waitForSelector('table.list tbody tr');
    await page.screenshot({ path: screenshotPath('10-phone-list'), fullPage: true });
    await openConvention(page);
    await page.screenshot({ path: screenshotPath('11-phone-convention'), fullPage: false });
    const overflow = await page.evaluate(() =>
      document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than the phone`);

    // Fields are named by their <label>; buttons and links by their text.
    const unlabelled = (p) => p.$$eval('input, select, textarea, button, a', (controls) =>
      controls.filter((c) => c.offsetParent !== null)
        .filter((c) => (['INPUT', 'SELECT', 'TEXTAREA'].includes(c.tagName)
          ? !(c.labels && c.labels.length) && !c.getAttribute('aria-label')
          : !c.textContent.trim() && !c.getAttribute('aria-label')))
        .map((c) => c.outerHTML));
    assert.deepEqual(await unlabelled(page), []);
    const list = await openPage(browser, `${server.url}/`, { viewport: phone });
    await list.waitForSelector('table.list tbody tr');
    assert.deepEqual(await unlabelled(list), []);
    await list.context().close();

    // The keyboard reaches the status form's button and submits it with Enter.
    await page.focus('#convention-status');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'convention-status-save');
    await page.keyboard.press('Enter');
    await page.locator('#status .form-error').filter({ hasText: 'Rien à enregistrer' }).waitFor();
    assertNoProblems(page);
    await page.context().close();
  });
});
