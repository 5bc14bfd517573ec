// auth.test.mjs — the dashboard on a ctgd with tokens: it asks for one, keeps it for the tab
// only, shows what a token may see, and says plainly when it may not (401, 403).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  api, launchBrowser, loadDemo, makeToken, openPage, screenshotPath, startServer,
} from './harness.mjs';

const admin = makeToken('ops', 'admin', '*');
const reader29 = makeToken('lecture29', 'reader', ['29']);
const editor15 = makeToken('caf15', 'editor', ['15']);
let server;
let browser;
let demo;

// A page without a token opens the dialog by itself once the API has answered 401, at a moment
// of its own: a pointer click on the button could then wait behind the modal dialog until it
// timed out. The button's handler (app.askToken) does nothing while the dialog is open, so the
// click event is dispatched to it whatever the dialog's state.
async function useToken(page, secret) {
  const dialog = page.locator('#token-dialog');
  await page.locator('#token-button').dispatchEvent('click');
  await dialog.waitFor({ state: 'visible' });
  await page.fill('#token-input', secret);
  await dialog.getByRole('button', { name: 'Utiliser ce jeton' }).click();
}

const shownIds = (page) => page.$$eval('table.list tbody tr', (trs) => trs.map((tr) => tr.dataset.id));

describe('dashboard with tokens', () => {
  before(async () => {
    server = await startServer({ tokens: [admin, reader29, editor15] });
    demo = await loadDemo(server, admin.secret);
    browser = await launchBrowser();
  });

  after(async () => {
    if (browser) await browser.close();
    if (server) await server.stop();
  });

  it('asks for a token, refuses an unknown one, and keeps a good one for the tab', async () => {
    const page = await openPage(browser, `${server.url}/`);
    const dialog = page.locator('#token-dialog');
    await dialog.waitFor({ state: 'visible' });
    assert.match(await page.textContent('#token-reason'), /jeton/);
    await page.screenshot({ path: screenshotPath('20-token-asked') });

    assert.match(await page.textContent('.error-block'), /jeton d’accès est nécessaire/);
    await useToken(page, 'not-a-token');
    await page.locator('.error-block').filter({ hasText: 'Le jeton saisi est inconnu' }).waitFor();
    assert.match(await page.textContent('.error-block'), /unknown token/);
    await page.screenshot({ path: screenshotPath('21-token-unknown') });

    await useToken(page, reader29.secret);
    await page.waitForSelector('table.list tbody tr');
    assert.deepEqual(await shownIds(page), demo.filter((d) => d.department === '29').map((d) => d.id));
    assert.equal(await page.textContent('#token-button'), 'Jeton d’accès (actif)');
    await page.waitForSelector('#live-status[data-state="on"]');

    // Session storage: the same tab keeps it after a reload; a new session starts without.
    await page.reload();
    await page.waitForSelector('table.list tbody tr');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('ctgd.token')), reader29.secret);
    const fresh = await openPage(browser, `${server.url}/`);
    await fresh.locator('#token-dialog').waitFor({ state: 'visible' });
    assert.deepEqual(page.problems, []);
    await page.context().close();
    await fresh.context().close();
  });

  it('says why a reader cannot save, and why another department is out of reach', async () => {
    const page = await openPage(browser, `${server.url}/`);
    await useToken(page, reader29.secret);
    const own = demo.find((d) => d.department === '29');
    await page.goto(`${server.url}/#/conventions/${own.id}`);
    await page.waitForSelector('#convention-status');
    await page.selectOption('#convention-status', 'monitoring');
    await page.getByRole('button', { name: 'Enregistrer le statut' }).click();
    const error = page.locator('#status .form-error');
    await error.waitFor();
    assert.match(await error.textContent(), /ne permet pas cette opération/);
    await page.screenshot({ path: screenshotPath('22-reader-cannot-save'), fullPage: true });
    const stored = await api(server, 'GET', `/v1/conventions/${own.id}`, { token: admin.secret });
    assert.equal(stored.body.rev, 1);

    await page.goto(`${server.url}/#/conventions/15-saint-flour-communaute`);
    await page.locator('.error-block').waitFor();
    assert.match(await page.textContent('.error-block'), /ne permet pas/);
    await page.screenshot({ path: screenshotPath('23-other-department') });
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });

  it('lets an editor save in its department, and the change reaches a reader of it live',
    async () => {
      const editor = await openPage(browser, `${server.url}/`);
      await useToken(editor, editor15.secret);
      await editor.goto(`${server.url}/#/conventions/15-saint-flour-communaute`);
      await editor.waitForSelector('#live-status[data-state="on"]');
      const watcher = await openPage(browser, `${server.url}/`);
      await useToken(watcher, admin.secret);
      await watcher.goto(`${server.url}/#/conventions/15-saint-flour-communaute`);
      await watcher.waitForSelector('#live-status[data-state="on"]');

      const form = editor.locator('article.action[data-action-id="fiche-10"]');
      await form.locator('input[name="progress"]').fill('25');
      await form.getByRole('button', { name: 'Enregistrer' }).click();
      await editor.waitForSelector('.notice:has-text("Enregistré")');
      await watcher.locator('article.action[data-action-id="fiche-10"] .progress__figure')
        .filter({ hasText: '25 %' }).waitFor();
      const { body } = await api(server, 'GET', '/v1/conventions/15-saint-flour-communaute/history',
        { token: admin.secret });
      assert.equal(body.history.at(-1).actor, 'caf15');
      assert.match(await watcher.textContent('.meta'), /par caf15/);
      assert.deepEqual(editor.problems, []);
      assert.deepEqual(watcher.problems, []);
      await editor.context().close();
      await watcher.context().close();
    });
});
