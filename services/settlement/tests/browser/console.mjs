// Drives the municipality console in headless Debian Chromium.
// Usage: node console.mjs <base-url> <town-slug>   (started by `cargo test -p settlement --test browser -- --ignored`,
// which prepares the town, its users and data). Screenshots go to ./screenshots (git-ignored).
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [base, town] = process.argv.slice(2);
assert.ok(base && town, 'usage: node console.mjs <base-url> <town-slug>');
const shots = join(dirname(fileURLToPath(import.meta.url)), 'screenshots');
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
let passed = 0;
let failed = 0;
async function step(name, fn) {
  try { await fn(); passed += 1; console.log('ok   ' + name); } catch (e) { failed += 1; console.log('FAIL ' + name + '\n' + e.stack); }
}

try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(10000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const shot = (n) => page.screenshot({ path: join(shots, n + '.png'), fullPage: true });
  const login = async (email) => {
    await page.goto(base + '/settlement/console');
    await page.fill('input[name=town]', town);
    await page.fill('input[name=email]', email);
    await page.fill('input[name=password]', 'correct horse battery');
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#app:not([hidden]) table');
    assert.equal(await page.isVisible('#login-form'), false, 'the login form is gone once logged in');
  };

  await step('the login page speaks Slovenian by default and refuses a wrong password', async () => {
    await page.goto(base + '/settlement/console');
    // The form shows once the words are loaded (a fetch after DOMContentLoaded,
    // which can finish after the page's load event).
    await page.waitForSelector('#login-form:not([hidden])');
    assert.equal(await page.textContent('#login-form h1'), 'Prijava');
    await page.fill('input[name=town]', town);
    await page.fill('input[name=email]', 'admin@town.test');
    await page.fill('input[name=password]', 'wrong');
    await page.click('#login-form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#login-error').textContent.length > 0);
    await shot('01-login');
  });

  await step('a town admin sees the periods with the close action', async () => {
    await login('admin@town.test');
    await page.waitForSelector('[data-close="2026-02"]');
    assert.match(await page.textContent('#view'), /2026-03/);
    await shot('02-periods-sl');
  });

  await step('closing asks for confirmation, cancel keeps it open, OK closes it', async () => {
    await page.click('[data-close="2026-02"]');
    await page.waitForSelector('dialog#confirm[open]');
    assert.match(await page.textContent('#confirm-text'), /2026-02/);
    await shot('03-close-confirm');
    await page.click('dialog#confirm button[value=cancel]');
    assert.ok(await page.$('[data-close="2026-02"]'), 'still open after cancel');
    await page.click('[data-close="2026-02"]');
    await page.click('dialog#confirm button[value=ok]');
    await page.waitForSelector('[data-pay="2026-02"]');
    assert.equal(await page.$('[data-close="2026-02"]'), null);
  });

  await step('English: promotions with budget burn charts', async () => {
    await page.selectOption('#lang', 'en');
    await page.selectOption('#period', '2026-03');
    await page.click('nav button[data-view=promotions]');
    await page.waitForSelector('svg.chart polyline');
    assert.equal(await page.textContent('nav button[data-view=periods]'), 'Periods');
    assert.ok((await page.$$('svg.chart')).length >= 1);
    await shot('04-promotions-en');
  });

  await step('merchants with totals', async () => {
    await page.click('nav button[data-view=merchants]');
    // The promotions view also has a table: wait for the merchants' rows themselves.
    await page.waitForFunction(() => /Kavarna Loggia/.test(document.querySelector('#view')?.textContent ?? ''));
    const text = await page.textContent('#view');
    assert.match(text, /Kavarna Loggia/);
    assert.match(text, /Total/);
    await shot('05-merchants-en');
  });

  await step('downloads show their SHA-256', async () => {
    await page.click('nav button[data-view=downloads]');
    await page.click('[data-download="summary.pdf"]');
    await page.waitForFunction(() => /SHA-256 [0-9a-f]{64}/.test(document.querySelector('[data-digest="summary.pdf"]').textContent));
    await page.click('[data-download="payout.xml"]');
    await page.waitForFunction(() => /SHA-256 [0-9a-f]{64}/.test(document.querySelector('[data-digest="payout.xml"]').textContent));
    await shot('06-downloads-en');
  });

  await step('Italian: reconciliation, and the admin resolves a difference', async () => {
    await page.selectOption('#lang', 'it');
    await page.click('nav button[data-view=reconciliation]');
    await page.waitForSelector('.rec-differs');
    assert.equal(await page.textContent('nav button[data-view=reconciliation]'), 'Riconciliazione');
    await page.click('[data-decide=accept][data-receipt="C-2"]');
    await page.waitForFunction(() => document.querySelector('#view').textContent.includes('Accetta'));
    await shot('07-reconciliation-it');
  });

  await step('an auditor sees everything read-only', async () => {
    await page.click('#logout');
    await page.selectOption('#lang', 'sl');
    await login('auditor@town.test');
    await page.waitForSelector('#read-only');
    assert.equal(await page.$('[data-close]'), null);
    assert.equal(await page.$('[data-pay]'), null);
    await page.selectOption('#period', '2026-03');
    await page.click('nav button[data-view=reconciliation]');
    await page.waitForSelector('.rec-differs');
    assert.equal(await page.$('[data-decide]'), null);
    await page.click('nav button[data-view=promotions]');
    await page.waitForSelector('svg.chart');
    await shot('08-auditor-sl');
  });

  await step('no script errors', async () => { assert.deepEqual(errors, []); });
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
