#!/usr/bin/env node
// Entry point of the `svasim` command. The package's build copies this file next to the built CLI
// (dist/src/cli/), where it runs main.js with plain Node; in a clone, from src/cli/, it loads the
// TypeScript sources through tsx (a dev dependency), as `npm start` and the tests do.
import { existsSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';

// No allocation-site pretenuring. V8 watches which allocation sites' objects survive young-generation
// collections and moves such sites to the old generation for good. Building thousands of actors at the
// start of a run makes it tenure the sites of xstate's transition objects; from then on each message's
// short-lived objects land in the old generation and keep what they point to alive through every young
// collection until the next full GC (measured: ~4 MB promoted per scavenge instead of ~0.1 MB, 15% of a
// long run spent in GC). See README, "Benchmark".
setFlagsFromString('--no-allocation-site-pretenuring');

// A reader that stops early (`svasim run x | head`) is not an error of the run.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}
const built = new URL('./main.js', import.meta.url);
let cli;
if (existsSync(built)) {
  cli = await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import('./main.ts');
}
const { main } = cli;
const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
// Exit now: a library socket (the Stately bridge's, which retries forever) must not keep the process up.
// stdout and stderr are synchronous for files and pipes on Linux, so nothing written is lost.
process.exit(code);
