// The UI shell: loads without errors, speaks Russian by default for a
// Russian browser and English for an English one, switches language and
// remembers it, routes between sections, shows server status, and is
// usable from the keyboard and on a phone.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { VIEWPORTS, launch, newPage, screenshot, startServer } from './harness.mjs';

let server, chrome;
before(async () => {
  server = await startServer();
  chrome = await launch();
});
after(async () => {
  await chrome?.close();
  await server?.stop();
});

test('Russian by default for a Russian browser, English for an English one', async () => {
  const ru = await newPage(chrome.browser, { locale: 'ru-RU' });
  await ru.goto(server.url + '/');
  await ru.waitForSelector('nav a[aria-current="page"]');
  assert.equal(await ru.textContent('nav a[data-route="people"]'), 'Люди');
  assert.equal(await ru.getAttribute('html', 'lang'), 'ru');
  const en = await newPage(chrome.browser, { locale: 'en-US' });
  await en.goto(server.url + '/');
  await en.waitForSelector('nav a[aria-current="page"]');
  assert.equal(await en.textContent('nav a[data-route="people"]'), 'People');
  assert.deepEqual([...ru.problems, ...en.problems], []);
});

test('language switch applies at once and is remembered', async () => {
  const page = await newPage(chrome.browser, { locale: 'ru-RU' });
  await page.goto(server.url + '/');
  await page.selectOption('#lang', 'en');
  assert.equal(await page.textContent('nav a[data-route="jobs"]'), 'Jobs');
  await page.reload();
  await page.waitForSelector('nav a[aria-current="page"]');
  assert.equal(await page.textContent('nav a[data-route="jobs"]'), 'Jobs');
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
});

test('status light reflects /health', async () => {
  const page = await newPage(chrome.browser);
  await page.goto(server.url + '/');
  await page.waitForSelector('#status[data-state="ok"]');
});

test('unknown section shows a not-found message; keyboard reaches navigation', async () => {
  const page = await newPage(chrome.browser, { locale: 'en-US' });
  await page.goto(server.url + '/#/no-such-place');
  await page.waitForSelector('main h1');
  assert.equal(await page.textContent('main h1'), 'Page not found');
  await page.keyboard.press('Tab'); // skip link
  await page.keyboard.press('Tab'); // brand
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.route), 'files');
});

test('screenshots at desktop and phone sizes', async () => {
  for (const [name, viewport] of Object.entries(VIEWPORTS)) {
    const page = await newPage(chrome.browser, { viewport });
    await page.goto(server.url + '/#/files');
    await page.waitForSelector('#status[data-state]');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    assert.equal(overflow, false, `${name}: the page scrolls sideways`);
    await screenshot(page, `shell-${name}`);
  }
});
