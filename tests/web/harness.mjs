// harness.mjs -- start a real `kadr serve` and drive Debian's Chromium.
//
// Environment (set by CTest): KADR_BIN (the binary), KADR_WEB_DIR (web/),
// KADR_WEB_MODULES (node_modules with playwright-core), KADR_SHOTS (where
// screenshots go; written for reviewers, never committed).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(path.join(process.env.KADR_WEB_MODULES || '.', 'x.js'));
const { chromium } = require('playwright-core');

export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'];

export const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } };

// Start kadr serve on a free port with a fresh data dir and library root.
export async function startServer(extraArgs = []) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'kadr-web-'));
  const library = path.join(home, 'library');
  fs.mkdirSync(library, { recursive: true });
  const args = ['serve', '--port', '0', '--root', library, '--web', process.env.KADR_WEB_DIR, ...extraArgs];
  const proc = spawn(process.env.KADR_BIN, args, { env: { ...process.env, KADR_HOME: home }, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`kadr serve did not start: ${out}`)), 10000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/http:\/\/127\.0\.0\.1:(\d+)\//);
      if (m) { clearTimeout(timer); resolve(+m[1]); }
    });
    proc.on('exit', (code) => reject(new Error(`kadr serve exited with ${code}: ${out}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`, home, library,
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.on('exit', r));
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}

// Playwright gives every launch a fresh temporary profile and removes it.
export async function launch() {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
  return { browser, close: () => browser.close() };
}

// A page whose console errors and failed requests fail the test.
export async function newPage(browser, { viewport = VIEWPORTS.desktop, locale = 'ru-RU' } = {}) {
  const context = await browser.newContext({ viewport, locale });
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') page.problems.push(`console: ${m.text()}`); });
  return page;
}

export async function screenshot(page, name) {
  const dir = process.env.KADR_SHOTS || path.join(os.tmpdir(), 'kadr-shots');
  fs.mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}
