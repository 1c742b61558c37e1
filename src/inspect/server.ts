/**
 * The inspector's HTTP server: the page, its JSON API and a server-sent-events stream for live steps.
 *
 * Safety: it listens on 127.0.0.1 only; it serves a fixed table of its own assets (no path is ever
 * mapped to the file system, so `..` in a URL cannot reach a file); requests with another Host are
 * refused (DNS rebinding); a state-changing request sent by another web page (its `Origin` or
 * `Sec-Fetch-Site` says so) is refused, so a page open in the same browser cannot run steps; URLs and
 * bodies are bounded; the page's Content-Security-Policy allows nothing but this origin, so no request
 * leaves the machine.
 *
 * Errors: what a client can get wrong (a bad seq, no step left, a state past a divergence) is a 4xx with
 * a one-line JSON `{"error": …}` and nothing on stderr; only a bug (500) prints its stack. A live step
 * that fails stops the run (src/inspect/session.ts): a plugin's error (a registered kind's code failing)
 * is a 422 and one line on stderr, a bug a 500 with its stack; either way every open page hears it (a
 * `step` event with `stopped`), and every later step is a 409 saying where and why the run stopped.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { LogError } from '../log/reader.ts';
import { DivergenceError } from '../replay/checkpoints.ts';
import { machineLayouts } from './layout.ts';
import { KindError } from '../runtime/kinds.ts';
import { NoStateAt, NoStepLeft, RunStopped, StepFailed, type InspectSession, type StepUpdate } from './session.ts';

const PAGE_DIR = fileURLToPath(new URL('./page/', import.meta.url));
const MAX_URL = 2048;
const MAX_BODY = 1024;
const CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface PageAssets {
  readonly html: string;
  readonly js: string;
  readonly css: string;
}

let assets: PageAssets | null = null;

/**
 * The page's script: `page/app.ts` and what it imports, bundled by esbuild into one browser script.
 * The package's build calls this once and ships the result as `page/app.js`; esbuild is loaded only
 * here, so it is a build tool, not a run-time dependency.
 */
export function bundlePageScript(pageDir: string = PAGE_DIR): string {
  const { buildSync } = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
  const built = buildSync({
    entryPoints: [`${pageDir}app.ts`],
    bundle: true,
    format: 'iife',
    target: 'es2022',
    platform: 'browser',
    write: false,
    minify: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const js = built.outputFiles[0]?.text;
  if (js === undefined) throw new Error('bundling the inspector page produced nothing');
  return js;
}

/**
 * The page: index.html, the app and the stylesheet. The app is the bundle the package's build made
 * (`page/app.js`, next to the built server), or, running from the TypeScript sources, bundled now
 * (once per process).
 */
export function pageAssets(): PageAssets {
  if (assets) return assets;
  const prebuilt = `${PAGE_DIR}app.js`;
  const js = existsSync(prebuilt) ? readFileSync(prebuilt, 'utf8') : bundlePageScript();
  assets = { html: readFileSync(`${PAGE_DIR}index.html`, 'utf8'), js, css: readFileSync(`${PAGE_DIR}style.css`, 'utf8') };
  return assets;
}

export interface InspectorServer {
  readonly url: string;
  readonly port: number;
  /** Stop accepting, end open streams, and resolve when the server is closed. */
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The HTTP status of an error a client can cause; `null` for anything else (a bug: 500). */
function clientStatus(e: unknown): number | null {
  if (e instanceof HttpError) return e.status;
  if (e instanceof NoStepLeft || e instanceof RunStopped) return 409;
  // A step that failed on bad input (a plugin's kind), and a kind's view code failing: not svasim's bug.
  if ((e instanceof StepFailed && e.badInput) || e instanceof KindError) return 422;
  // A seq the session cannot show, or a log that stops matching the model: the log's limits, not a bug.
  if (e instanceof NoStateAt || e instanceof DivergenceError || e instanceof LogError) return 422;
  return null;
}

/** Methods that only read: the page's own requests and any cross-origin GET (whose answer a browser withholds). */
const SAFE_METHODS = new Set(['GET', 'HEAD']);

/**
 * Why a state-changing request must be refused, or `null`: its `Origin` is present and not one of
 * `origins`, or its `Sec-Fetch-Site` is present and not `same-origin`/`none`. A request with neither
 * header (curl, a script) is a local tool and allowed: what this guards against is a web page in the
 * user's browser posting to 127.0.0.1 (browsers send `Origin` on every cross-origin POST).
 */
export function crossSiteReason(headers: IncomingMessage['headers'], origins: readonly string[]): string | null {
  const origin = headers.origin;
  if (origin !== undefined && !origins.includes(origin)) return `refused: a request from another origin (${origin.slice(0, 100)}) cannot change this inspector's state`;
  const site = headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return `refused: a ${site.slice(0, 40)} request cannot change this inspector's state`;
  return null;
}

/** Start serving `session` on 127.0.0.1:`port` (0: any free port). */
export async function startInspector(session: InspectSession, opts: { port?: number } = {}): Promise<InspectorServer> {
  const page = pageAssets();
  // The statechart layouts (elkjs) are computed before the first page asks for them.
  await machineLayouts();
  const streams = new Set<ServerResponse>();
  let port = 0;

  const send = (res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void => {
    res.writeHead(status, {
      'content-type': type,
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'content-security-policy': CSP,
      'referrer-policy': 'no-referrer',
      ...extra,
    });
    res.end(body);
  };
  const json = (res: ServerResponse, status: number, body: string): void => send(res, status, 'application/json; charset=utf-8', body);
  /** A step's answer and `step` event (`stopped` when it failed and stopped the run). */
  const stepBody = (u: StepUpdate): string =>
    `{"records":${u.recordsJson},"actors":${JSON.stringify(u.actors)},"nextStep":${u.nextStep},"lastSeq":${u.lastSeq}${u.stopped === undefined ? '' : `,"stopped":${JSON.stringify(u.stopped)}`}}`;
  const broadcast = (body: string): void => {
    for (const s of streams) s.write(`event: step\ndata: ${body}\n\n`);
  };

  const seqParam = (q: URLSearchParams, name: string): number | undefined => {
    const v = q.get(name);
    if (v === null) return undefined;
    if (!/^\d{1,12}$/.test(v)) throw new HttpError(400, `${name} must be a non-negative integer`);
    return Number(v);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const rawUrl = req.url ?? '/';
    if (rawUrl.length > MAX_URL) throw new HttpError(414, 'URL too long');
    const host = req.headers.host ?? '';
    if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) throw new HttpError(403, 'unexpected Host header');
    const url = new URL(rawUrl, `http://127.0.0.1:${port}`);
    if (!SAFE_METHODS.has(req.method ?? 'GET')) {
      const why = crossSiteReason(req.headers, [`http://127.0.0.1:${port}`, `http://localhost:${port}`]);
      if (why !== null) throw new HttpError(403, why);
    }
    // HEAD is answered as GET without the body (Node drops it).
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    const route = `${method} ${url.pathname}`;
    if (method === 'POST') await readBody(req);
    switch (route) {
      case 'GET /':
      case 'GET /index.html':
        return send(res, 200, 'text/html; charset=utf-8', page.html);
      case 'GET /app.js':
        return send(res, 200, 'text/javascript; charset=utf-8', page.js);
      case 'GET /style.css':
        return send(res, 200, 'text/css; charset=utf-8', page.css);
      case 'GET /api/session':
        return json(res, 200, JSON.stringify(await session.info()));
      case 'GET /api/records': {
        const from = seqParam(url.searchParams, 'from') ?? 1;
        const to = seqParam(url.searchParams, 'to') ?? Number.POSITIVE_INFINITY;
        return json(res, 200, `{"records":${session.recordsJson(from, to)}}`);
      }
      case 'GET /api/state': {
        const seq = seqParam(url.searchParams, 'seq') ?? session.lastSeq;
        if (seq > session.lastSeq) throw new HttpError(400, `seq ${seq} is past the last record (${session.lastSeq})`);
        return json(res, 200, JSON.stringify(session.stateAt(seq)));
      }
      case 'GET /api/models': {
        // What the selected record's receiver did with it, and the kernel code each transition models.
        const seq = seqParam(url.searchParams, 'seq');
        if (seq === undefined) throw new HttpError(400, 'seq is required');
        return json(res, 200, JSON.stringify(session.modelsAt(seq)));
      }
      case 'POST /api/step': {
        if (!session.live) throw new HttpError(409, 'this session shows a log: there are no steps to run');
        let u: StepUpdate;
        try {
          u = session.step();
        } catch (e) {
          // Every open page gets what the failed step delivered, and that the run stopped.
          if (e instanceof StepFailed) broadcast(stepBody(e.update));
          throw e;
        }
        const body = stepBody(u);
        broadcast(body);
        return json(res, 200, body);
      }
      case 'GET /api/events': {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-content-type-options': 'nosniff' });
        res.write(`event: hello\ndata: {"lastSeq":${session.lastSeq},"nextStep":${session.nextStep}}\n\n`);
        streams.add(res);
        req.on('close', () => streams.delete(res));
        return;
      }
      default:
        if (method !== 'GET' && method !== 'POST') throw new HttpError(405, `method ${method} not allowed`);
        throw new HttpError(404, `no such page: ${url.pathname}`);
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const status = clientStatus(e) ?? 500;
      // One line: the page shows it in the status bar and where the data would have been.
      const message = (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
      if (e instanceof StepFailed) {
        // The terminal says it too, once: one line for a plugin's error; a bug's stack (its cause's).
        const cause: unknown = e.cause;
        process.stderr.write(`svasim inspect: ${message}\n${e.badInput ? '' : `${cause instanceof Error ? (cause.stack ?? '') : String(cause)}\n`}`);
      } else if (status === 500) process.stderr.write(`svasim inspect: ${e instanceof Error ? (e.stack ?? message) : message}\n`);
      if (!res.headersSent) json(res, status, JSON.stringify({ error: message }));
      else res.end();
    });
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  server.maxHeadersCount = 50;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of streams) s.end();
        streams.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > MAX_BODY) throw new HttpError(413, `request body over ${MAX_BODY} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}
