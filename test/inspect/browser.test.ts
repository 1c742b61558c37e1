/**
 * The inspector in a real browser: Debian's chromium driven by playwright-core, on the seed case (a)
 * scenario run live. Required in CI (`.ci/run` installs chromium and sets SVASIM_REQUIRE_BROWSER=1);
 * elsewhere it is reported as skipped when /usr/bin/chromium is missing.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../src/inspect/browser.ts';
import { LiveSession } from '../../src/inspect/session.ts';
import { startInspector, type InspectorServer } from '../../src/inspect/server.ts';
import { loadScenarioFile } from '../../src/scenario/load.ts';
import { builtinPath } from '../../src/scenarios/index.ts';

const CHROMIUM = CHROMIUM_PATH;
const required = process.env['SVASIM_REQUIRE_BROWSER'] === '1';
const available = existsSync(CHROMIUM);
if (required && !available) throw new Error(`SVASIM_REQUIRE_BROWSER=1 but ${CHROMIUM} is missing (apt-get install chromium)`);


describe.skipIf(!available)('inspector in chromium (seed case a, live)', () => {
  let server: InspectorServer;
  let browser: Browser;
  let page: Page;
  const outside: string[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    const path = builtinPath('seed-a-unbind-dmar');
    if (!path) throw new Error('no built-in seed-a-unbind-dmar');
    server = await startInspector(new LiveSession(loadScenarioFile(path)));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS] });
    page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    // Nothing may leave the machine: any request to another origin is recorded and aborted.
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(server.url) || url.startsWith('data:')) return route.continue();
      outside.push(url);
      return route.abort();
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(server.url);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('shows the statecharts and steps live to the DMAR fault', async () => {
    await page.waitForSelector('#statecharts');
    const steps = loadScenarioFile(builtinPath('seed-a-unbind-dmar') ?? '').steps.length;
    for (let i = 0; i < steps; i++) {
      await page.click('#btn-next-step');
      await page.waitForFunction((n) => Number(document.querySelector('#seq-current')?.textContent?.match(/\d+/)?.[0] ?? 0) > 0 && n >= 0, i);
    }
    const fault = page.locator('#sequence .msg-row[data-type="fault.dmar"]').first();
    await fault.waitFor({ timeout: 10_000 });
    // The statecharts: thread A1 and the mm exist, each drawn with its current state.
    const a1 = page.locator('#statecharts [data-actor="thread:A1"]').first();
    await a1.waitFor();
    expect(await a1.getAttribute('data-state')).toBe('running');
    expect(await page.locator('#statecharts [data-actor="mm:1"]').first().getAttribute('data-state')).toMatch(/^alive/);
    expect(await page.locator('#statecharts svg').count()).toBeGreaterThan(0);
  }, 60_000);

  let faultSeq = 0;
  it('selecting the fault shows its payload and its chain of causes', async () => {
    const fault = page.locator('#sequence .msg-row[data-type="fault.dmar"]').first();
    faultSeq = Number(await fault.getAttribute('data-seq'));
    expect(faultSeq).toBeGreaterThan(1);
    await fault.click();
    const payload = await page.locator('#details-payload').innerText();
    expect(payload).toContain('fault.dmar');
    expect(payload).toMatch(/"?pasid"?\s*:\s*1/);
    const causes = await page.locator('#details-causes').innerText();
    expect(causes).toMatch(/insn\.enqcmd|portal\.store|wq\./);
  });

  it('time travel: jump to a seq, step back and forward, and the panels follow', async () => {
    await page.fill('#seq-input', '1');
    await page.click('#btn-jump');
    await page.waitForFunction(() => /\b1\b/.test(document.querySelector('#seq-current')?.textContent ?? ''));
    // At seq 1 only the spawn has happened: thread A1 does not exist yet.
    await page.waitForFunction(() => document.querySelector('#statecharts [data-actor="thread:A1"]') === null || document.querySelector('#statecharts [data-actor="thread:A1"]')?.getAttribute('data-state') !== 'running');
    await page.click('#btn-forward');
    await page.waitForFunction(() => /\b2\b/.test(document.querySelector('#seq-current')?.textContent ?? ''));
    await page.click('#btn-back');
    await page.waitForFunction(() => /\b1\b/.test(document.querySelector('#seq-current')?.textContent ?? ''));
  });

  it('no request left the machine, the page raised no error; a screenshot is saved', async () => {
    const dir = join(tmpdir(), 'svasim-browser');
    mkdirSync(dir, { recursive: true });
    // Back to the fault (the sequence scrolls to it), selected, for the picture.
    await page.fill('#seq-input', String(faultSeq));
    await page.click('#btn-jump');
    await page.waitForFunction((s) => new RegExp(`\\b${s}\\b`).test(document.querySelector('#seq-current')?.textContent ?? ''), faultSeq);
    await page.locator(`#sequence .msg-row[data-seq="${faultSeq}"]`).first().click();
    const shot = join(dir, 'inspector-seed-a.png');
    await page.screenshot({ path: shot, fullPage: false });
    expect(existsSync(shot)).toBe(true);
    expect(outside).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
