/**
 * How svasim's browser test and benchmark start Debian's chromium (driven by playwright-core): headless,
 * no sandbox (CI containers), and nothing that reaches the network on its own.
 */
export const CHROMIUM_PATH = '/usr/bin/chromium';

export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
