#!/usr/bin/env -S node --max-semi-space-size=64
// Entry point of the `svasim` command: loads the TypeScript sources through tsx, then runs the CLI.
// A larger young generation (64 MiB semi-spaces): a run's messages and actor snapshots live for a few
// steps, and with V8's default they are promoted and collected again by full GCs (~25% of a long run).
import { register } from 'tsx/esm/api';

register();
// A reader that stops early (`svasim run x | head`) is not an error of the run.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}
const { main } = await import('./main.ts');
const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
// Exit now: a library socket (the Stately bridge's, which retries forever) must not keep the process up.
// stdout and stderr are synchronous for files and pipes on Linux, so nothing written is lost.
process.exit(code);
