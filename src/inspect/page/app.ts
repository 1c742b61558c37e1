/**
 * svasim inspector page: wires the data source, the model and the panels (timeline, filters and legend,
 * statecharts, sequence diagram, details). Bundled by the server with esbuild into `app.js`.
 */
import { createSource } from './api.ts';
import { chartDefs } from './chart.ts';
import { byId, h } from './dom.ts';
import { DetailsPanel } from './details.ts';
import { FilterBar } from './filters.ts';
import { loadingSizes, Model } from './model.ts';
import { SequencePanel, type LaneMode } from './sequence.ts';
import { StatechartsPanel } from './statecharts.ts';
import { Timeline } from './timeline.ts';
import type { Session } from './types.ts';

function hashSeq(): number | null {
  const m = /(?:^#|&)seq=(\d+)/.exec(location.hash);
  return m?.[1] === undefined ? null : Number(m[1]);
}

function header(session: Session, kind: 'http' | 'inline'): void {
  document.title = `svasim inspect · ${session.title}`;
  byId('title').textContent = session.title;
  byId('title').title = session.title;
  const badges = byId('badges');
  badges.replaceChildren(h('span', { class: 'badge', title: 'PASID policy' }, `pasid=${session.policy.pasid}`),
    h('span', { class: 'badge', title: 'LAM policy' }, `lam=${session.policy.lam}`),
    h('span', { class: 'badge', title: 'what this session shows' }, kind === 'inline' ? 'report' : session.source),
  );
  if (session.live && kind === 'http') badges.append(h('span', { class: 'badge live', id: 'live-badge', title: 'steps run on demand' }, 'live'));
}

/** Drag handles between panels: set a CSS variable on the layout. */
function splitter(handle: HTMLElement, layout: HTMLElement, prop: string, axis: 'x' | 'y', min: number, fromEnd: boolean): void {
  handle.addEventListener('pointerdown', (e) => {
    e.preventDefault();
    handle.setPointerCapture(e.pointerId);
    const rect = layout.getBoundingClientRect();
    const move = (ev: PointerEvent): void => {
      const pos = axis === 'x' ? ev.clientX - rect.left : ev.clientY - rect.top;
      const total = axis === 'x' ? rect.width : rect.height;
      const v = Math.max(min, Math.min(total - min, fromEnd ? total - pos : pos));
      layout.style.setProperty(prop, `${Math.round(v)}px`);
    };
    const up = (): void => {
      handle.removeEventListener('pointermove', move);
      handle.removeEventListener('pointerup', up);
      window.dispatchEvent(new Event('resize'));
    };
    handle.addEventListener('pointermove', move);
    handle.addEventListener('pointerup', up);
  });
}

async function main(): Promise<void> {
  const source = createSource();
  const status = byId('status');
  let session: Session;
  try {
    session = await source.session();
    performance.mark('svasim:session');
  } catch (e) {
    // Where the title would be, and in the status line: never "loading…" for ever.
    byId('title').textContent = 'cannot load the session';
    status.textContent = `cannot load the session: ${(e as Error).message}`;
    status.classList.add('error');
    return;
  }
  document.body.append(chartDefs());
  header(session, source.kind);
  const m = new Model(source, session, loadingSizes(window.SVASIM_LOADING));
  // The URL's #seq=N, else the record the session opens on (a counterexample's finding).
  const want = hashSeq() ?? session.selected ?? null;
  if (want !== null) m.current = Math.max(0, Math.min(session.lastSeq, want));
  // Start the requests first: the panels build while the records and the state are on their way.
  const loading = m.loadAll();
  m.requestState(m.current);
  document.body.classList.toggle('is-live', session.live && source.kind === 'http');
  document.body.classList.toggle('is-report', source.kind === 'inline');

  m.on('status', () => {
    status.textContent = m.status;
    // The line may be cut to the bar's width: the whole text on hover.
    status.title = m.status;
    status.classList.toggle('error', m.statusError);
  });

  const timeline = new Timeline(m);
  new FilterBar(m, byId('filters'), byId('legend'));
  performance.mark('svasim:filters');
  const charts = new StatechartsPanel(m, byId('statecharts'), byId('statecharts-scroll'), byId('statecharts-tools'));
  performance.mark('svasim:statecharts');
  const seq = new SequencePanel(m, byId('sequence'), byId('sequence-scroll'), (lane) => {
    if (lane.id.startsWith('process:') && lane.process !== null) m.setFilter('process', new Set([lane.process]));
    else charts.reveal(lane.id);
  });
  const laneMode = byId<HTMLSelectElement>('lane-mode');
  laneMode.addEventListener('change', () => {
    const v = laneMode.value;
    if (v === 'auto' || v === 'actors' || v === 'processes') seq.setMode(v satisfies LaneMode);
  });
  new DetailsPanel(m, byId('details'));
  performance.mark('svasim:panels');

  // The selection follows the current seq: the details panel shows the message just delivered.
  const follow = (): void => {
    m.select(m.current > 0 ? m.current : null);
    const h2 = `#seq=${m.current}`;
    if (location.hash !== h2 && source.kind === 'http') history.replaceState(null, '', h2);
  };
  m.on('seq', follow);
  follow();

  if (session.live && source.kind === 'http') {
    const badge = document.getElementById('live-badge');
    // The server stopped: say so at once (not at the next click) and disable the live controls.
    const bannerText = h('span', {});
    const banner = h(
      'div',
      { id: 'server-banner', class: 'server-banner', role: 'alert', hidden: true },
      bannerText,
      h('button', { type: 'button', class: 'btn', id: 'btn-reload' }, 'reload'),
    );
    banner.querySelector('button')?.addEventListener('click', () => location.reload());
    document.body.append(banner);
    let down = false;
    const setDown = (): void => {
      if (down) return;
      down = true;
      document.body.classList.add('server-down');
      badge?.classList.add('offline');
      if (badge) badge.textContent = 'server stopped';
      bannerText.textContent = 'server stopped — restart svasim inspect and reload (what is loaded can still be browsed)';
      banner.hidden = false;
      timeline.setOffline(true);
      m.setStatus('server stopped — restart svasim inspect and reload', true);
    };
    let probing = false;
    const probe = (): void => {
      if (probing || down) return;
      probing = true;
      fetch('api/session', { cache: 'no-store' })
        .then((r) => {
          if (!r.ok) setDown();
        })
        .catch(() => setDown())
        .finally(() => {
          probing = false;
        });
    };
    timeline.onFetchFailed = probe;
    // The server's position and verdict again (new actors, records by loading, a run that stopped).
    const catchUp = (): void => {
      source
        .session()
        .then((s) => m.applyStep({ records: [], actors: s.actors, nextStep: s.nextStep, lastSeq: s.lastSeq, stopped: s.stopped }))
        .catch((e: unknown) => m.setStatus(`cannot catch up with the server: ${(e as Error).message}`, true));
    };
    timeline.onStepRefused = catchUp;
    source.subscribe(
      (s) => m.applyStep(s),
      (ok) => {
        if (!down) badge?.classList.toggle('offline', !ok);
        if (!ok) probe();
        else if (down) {
          // A server answers again, but it is a new run: this page's session is stale.
          bannerText.textContent = 'svasim inspect answers again, but this page shows the previous run — reload the page.';
        }
      },
      (at) => {
        // Steps ran while the stream was down: catch up (new actors from the session, records by loading).
        if (at.lastSeq <= m.lastSeq && at.nextStep <= m.nextStep) return;
        catchUp();
      },
    );
  }

  const layout = byId('main');
  splitter(byId('split-v'), layout, '--left-w', 'x', 220, false);
  splitter(byId('split-h'), byId('right'), '--details-h', 'y', 80, true);

  // Prefetch neighbouring states when idle (stepping back and forth is then instant).
  m.on('state', () => {
    if (!timeline.playing) m.prefetch([m.current - 1, m.current + 1]);
  });

  m.on('records', () => performance.mark('svasim:records'));
  await loading;
  performance.mark('svasim:ready');
  document.body.dataset['ready'] = 'true';
  const n = (x: number): string => x.toLocaleString('en-US');
  if (!m.statusError) {
    m.setStatus(
      m.partial
        ? `${n(m.lastSeq)} messages (large log: records load as you scroll; filters see the loaded ones) · ${n(m.actors.length)} actors`
        : `${n(m.loadedCount)} messages · ${n(m.actors.length)} actors`,
    );
  }
}

void main();
