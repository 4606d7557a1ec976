// Drives the counter tablet in headless Debian Chromium with a fake camera that
// shows a real card's QR code.
// Usage: node tablet.mjs <base-url> <setup.json> <camera.y4m>   (started by
// `cargo test -p merchant-redemption --test tablet_browser -- --ignored`, which
// prepares the town, the shop, the cards and the video). Screenshots go to
// ./screenshots (git-ignored).
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [base, setupFile, y4m] = process.argv.slice(2);
assert.ok(base && setupFile && y4m, 'usage: node tablet.mjs <base-url> <setup.json> <camera.y4m>');
const setup = JSON.parse(readFileSync(setupFile, 'utf8'));
const shots = join(dirname(fileURLToPath(import.meta.url)), 'screenshots');
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run',
    '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
    `--use-file-for-fake-video-capture=${y4m}`],
});
let passed = 0;
let failed = 0;
// A step that hangs fails after a minute instead of stopping the whole run.
async function step(name, fn) {
  let timer;
  const limit = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('step timed out')), 60000); });
  try { await Promise.race([fn(), limit]); passed += 1; console.log('ok   ' + name); } catch (e) { failed += 1; console.log('FAIL ' + name + '\n' + e.stack); }
  clearTimeout(timer);
}
setTimeout(() => { console.log('the whole run took too long'); process.exit(2); }, 8 * 60000).unref();

try {
  // An iPad in landscape.
  const context = await browser.newContext({ viewport: { width: 1180, height: 820 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') console.log('console: ' + m.text()); });
  const shot = (n) => page.screenshot({ path: join(shots, n + '.png'), fullPage: true });
  const visible = (sel) => page.waitForSelector(sel, { state: 'visible' });
  const typeAmount = async (text) => {
    for (const ch of text) await page.click(`#keypad [data-key="${ch}"]`);
  };
  // One redemption from the amount screen on: amount, the first offer, confirm.
  const redeem = async (amount, prefix) => {
    await visible('#amount');
    await typeAmount(amount);
    if (prefix) await shot(prefix + '-amount');
    await page.click('#amount-ok');
    await visible('#offers');
    await page.waitForSelector('.offer:not([disabled])');
    if (prefix) await shot(prefix + '-offers');
    await page.click('.offer:not([disabled])');
    await visible('#confirm');
    if (prefix) await shot(prefix + '-confirm');
    await page.click('#confirm-ok');
    await visible('#result');
  };

  await step('enrol the tablet with the owner\'s one-time code (Slovenian by default)', async () => {
    await page.goto(base + '/tablet');
    await visible('#enrol');
    assert.equal(await page.textContent('#enrol h1'), 'Prijava tablice');
    await page.fill('#enrol-form input[name=town]', setup.town);
    await page.fill('#enrol-form input[name=code]', 'WRONG');
    await page.click('#enrol-form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#enrol-error').textContent.length > 0);
    await page.fill('#enrol-form input[name=code]', setup.code);
    await shot('01-enrol');
    await page.click('#enrol-form button[type=submit]');
    await visible('#unlock');
  });

  await step('English; a wrong PIN is refused, the right one unlocks', async () => {
    await page.selectOption('#lang', 'en');
    assert.equal(await page.textContent('#unlock h1'), 'Unlock');
    await page.fill('#unlock-form input[name=email]', setup.email);
    await page.fill('#unlock-form input[name=pin]', '0000');
    await page.click('#unlock-form button[type=submit]');
    await page.waitForFunction(() => /Wrong/.test(document.querySelector('#unlock-error').textContent));
    await page.fill('#unlock-form input[name=pin]', setup.pin);
    await shot('02-unlock');
    await page.click('#unlock-form button[type=submit]');
    await page.waitForFunction(() => document.body.dataset.screen !== 'unlock');
  });

  await step('the fake camera\'s QR is read and the card redeemed online', async () => {
    await visible('#amount');
    assert.match(await page.textContent('#amount-card'), new RegExp(setup.qr_card_number.slice(-4)));
    await redeem('24,90', '03');
    assert.match(await page.getAttribute('#verdict', 'class'), /\bok\b/);
    assert.equal(await page.textContent('#verdict-title'), 'REDEEMED');
    assert.match(await page.textContent('#receipt'), /€2\.49/);
    assert.match(await page.textContent('#receipt'), /€22\.41/);
    await shot('04-receipt');
    await page.emulateMedia({ media: 'print' });
    assert.equal(await page.isVisible('#next'), false, 'no buttons on paper');
    assert.equal(await page.isVisible('#receipt'), true);
    await shot('04-receipt-print');
    await page.emulateMedia({ media: 'screen' });
  });

  await step('the same card still in front of the camera does not start a second redemption', async () => {
    await page.click('#next');
    await visible('#scan');
    await visible('#rescan');
    assert.equal(await page.evaluate(() => document.body.dataset.screen), 'scan');
  });

  await step('a typed number with a typo is refused at once', async () => {
    await page.fill('#number-form input[name=number]', setup.typo_number);
    await page.waitForFunction(() => document.querySelector('#number-error').textContent.length > 0);
    assert.match(await page.textContent('#number-error'), /check digit/);
    assert.equal(await page.evaluate(() => document.body.dataset.screen), 'scan', 'nothing was sent');
    await shot('05-scan-typo');
  });

  await step('a replaced card is refused with its reason', async () => {
    await page.fill('#number-form input[name=number]', setup.replaced_number);
    assert.equal(await page.textContent('#number-error'), '');
    await page.click('#number-form button[type=submit]');
    await visible('#result');
    assert.equal(await page.getAttribute('#verdict', 'data-code'), 'card_replaced');
    assert.match(await page.textContent('#verdict'), /REFUSED/);
    assert.match(await page.textContent('#verdict'), /replaced/);
    await shot('06-refused');
    await page.click('#next');
    await visible('#scan');
  });

  await step('the service worker controls the page and the offline pack is stored', async () => {
    await page.waitForFunction(() => navigator.serviceWorker && navigator.serviceWorker.controller !== null, null, { timeout: 20000 })
      .catch(async () => { await page.reload(); await page.waitForFunction(() => navigator.serviceWorker.controller !== null); });
    await page.waitForFunction(() => new Promise((resolve) => {
      const r = indexedDB.open('towncard-tablet');
      r.onsuccess = () => {
        const g = r.result.transaction('kv').objectStore('kv').get('pack');
        g.onsuccess = () => resolve(!!g.result && Array.isArray(g.result.keys) && g.result.keys.length > 0);
        g.onerror = () => resolve(false);
      };
      r.onerror = () => resolve(false);
    }));
    await visible('#scan');
  });

  await step('offline: the banner says so; the QR is verified with the cached keys and queued', async () => {
    await context.setOffline(true);
    await visible('#offline-banner');
    assert.match(await page.textContent('#offline-banner'), /OFFLINE/);
    assert.match(await page.textContent('#allowance'), /0 of 20/);
    await page.click('#rescan');
    await visible('#amount');
    assert.match(await page.textContent('#amount-card'), /Offline/i);
    await redeem('10', '07-offline');
    assert.match(await page.getAttribute('#verdict', 'class'), /\bqueued\b/);
    assert.match(await page.textContent('#verdict-title'), /SAVED OFFLINE/);
    assert.match(await page.textContent('#receipt'), /€1\.00/);
    await shot('08-offline-receipt');
  });

  await step('offline: a typed number is checked against the cached cards and queued', async () => {
    await page.click('#next');
    await visible('#scan');
    await page.fill('#number-form input[name=number]', setup.typed_number);
    await page.click('#number-form button[type=submit]');
    await redeem('8,50');
    assert.match(await page.getAttribute('#verdict', 'class'), /\bqueued\b/);
    await page.click('#next');
    await visible('#scan');
    await page.waitForFunction(() => document.querySelector('#queue-count').textContent === '2');
    assert.match(await page.textContent('#allowance'), /2 of 20/);
  });

  await step('offline: a replaced card is refused by the tablet alone', async () => {
    await page.fill('#number-form input[name=number]', setup.replaced_number);
    await page.click('#number-form button[type=submit]');
    await visible('#result');
    assert.equal(await page.getAttribute('#verdict', 'data-code'), 'card_replaced');
    await page.click('#next');
    await visible('#scan');
  });

  await step('offline: a reload opens the app from the service worker with the queue intact', async () => {
    await page.reload();
    await visible('#scan');
    await visible('#offline-banner');
    // The card redeemed last is still in front of the camera: it stays ignored after the reload.
    await visible('#rescan');
    assert.match(await page.textContent('#scan-hint'), /previous customer/);
    await page.waitForFunction(() => document.querySelector('#queue-count').textContent === '2');
    await page.click('#go-sync');
    await visible('#sync');
    // The list is drawn from IndexedDB after the view shows: wait for it.
    await page.waitForFunction(() => document.querySelectorAll('#sync-queue [data-pending]').length >= 2);
    assert.equal(await page.locator('#sync-queue [data-pending]').count(), 2);
    await shot('09-offline-queue');
  });

  await step('back online the queue syncs by itself; a lost answer leaves it queued', async () => {
    let dropped = 0;
    // The server gets the batch, the tablet never hears back (Wi-Fi drops again).
    await page.route('**/redemption/v1/offline/sync', async (route) => {
      if (dropped > 0) return route.continue();
      dropped += 1;
      await route.fetch();
      await route.abort('internetdisconnected');
    });
    await context.setOffline(false);
    await page.waitForFunction(() => /Sync failed/.test(document.querySelector('#sync-status').textContent));
    assert.equal(dropped, 1, 'the automatic sync reached the server');
    assert.equal(await page.locator('#sync-queue [data-pending]').count(), 2, 'still queued');
  });

  await step('syncing again: both accepted (the server answers from what it stored)', async () => {
    await page.click('#sync-now');
    await page.waitForFunction(() => document.querySelectorAll('#sync-results [data-outcome=accepted]').length === 2);
    assert.equal(await page.locator('#sync-queue [data-pending]').count(), 0);
    assert.match(await page.textContent('#sync-status'), /accepted: 2/);
    await shot('10-sync');
  });

  await step('syncing once more sends nothing', async () => {
    await page.click('#sync-now');
    await page.waitForFunction(() => /Nothing waiting/.test(document.querySelector('#sync-status').textContent));
  });

  await step('Italian: today\'s list, a partial refund of the online redemption', async () => {
    await page.selectOption('#lang', 'it');
    await page.click('#sync-today');
    await visible('#today');
    await page.waitForFunction(() => document.querySelectorAll('#today-list [data-receipt]').length === 3);
    assert.match(await page.textContent('#today .tab.current'), /Riscatti di oggi/);
    const online = page.locator('#today-list [data-receipt]').filter({ hasText: '24,90' });
    await online.locator('input[name=amount]').fill('10');
    await online.locator('button[type=submit]').click();
    await page.waitForSelector('#today-list .row.partially_refunded');
    await shot('11-today-it');
  });

  await step('a void needs a second tap', async () => {
    const row = page.locator('#today-list .row.redeemed').filter({ hasText: '8,50' });
    await row.locator('[data-void]').click();
    assert.match(await row.locator('[data-void]').textContent(), /Annullare/);
    await row.locator('[data-void]').click();
    await page.waitForSelector('#today-list .row.voided');
  });

  await step('no script errors', async () => {
    assert.deepEqual(errors, []);
  });
} finally {
  await browser.close();
}
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
