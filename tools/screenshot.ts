/**
 * The README's screenshot of the inspector: seed case (a) run live to its DMAR fault, the fault
 * selected. `node --import tsx tools/screenshot.ts [out.png]` (needs /usr/bin/chromium).
 */
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../src/inspect/browser.ts';
import { LiveSession } from '../src/inspect/session.ts';
import { startInspector } from '../src/inspect/server.ts';
import { loadScenarioFile } from '../src/scenario/load.ts';
import { builtinPath } from '../src/scenarios/index.ts';

const out = process.argv[2] ?? new URL('./screenshots/inspector-seed-a.png', import.meta.url).pathname;
const path = builtinPath('seed-a-unbind-dmar');
if (!path) throw new Error('no built-in seed-a-unbind-dmar');
const scenario = loadScenarioFile(path);
const server = await startInspector(new LiveSession(scenario));
const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS] });
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  await page.goto(server.url);
  await page.waitForSelector('#statecharts');
  for (let i = 0; i < scenario.steps.length; i++) {
    await page.click('#btn-next-step');
    await page.waitForFunction((n) => (document.querySelector('#btn-next-step') as HTMLButtonElement | null)?.disabled === true || n >= 0, i);
  }
  const fault = page.locator('#sequence .msg-row[data-type="fault.dmar"]').first();
  await fault.waitFor();
  await fault.click();
  await page.waitForTimeout(300);
  await page.screenshot({ path: out });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await server.close();
}
