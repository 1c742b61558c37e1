/**
 * The timeline bar: current seq / last seq, back / forward by one message or one scenario step, play /
 * pause (a message every 150 ms), jump to a seq, a scrubber, and in live mode "Next step" (POST
 * `api/step`, showing the text of the step it will run).
 */
import { ApiError } from './api.ts';
import { byId } from './dom.ts';
import { recordFilter } from './filters.ts';
import { kindOf } from './kinds.ts';
import type { Model } from './model.ts';

const PLAY_MS = 150;
const NOTABLE = new Set(['msg-gp', 'msg-fault', 'msg-signal', 'msg-invariant']);

export class Timeline {
  private timer: number | null = null;
  private readonly cur = byId('seq-current');
  private readonly last = byId('seq-last');
  private readonly back = byId<HTMLButtonElement>('btn-back');
  private readonly fwd = byId<HTMLButtonElement>('btn-forward');
  private readonly backStep = byId<HTMLButtonElement>('btn-back-step');
  private readonly fwdStep = byId<HTMLButtonElement>('btn-forward-step');
  private readonly play = byId<HTMLButtonElement>('btn-play');
  private readonly prevNotable = byId<HTMLButtonElement>('btn-prev-notable');
  private readonly nextNotable = byId<HTMLButtonElement>('btn-next-notable');
  private readonly input = byId<HTMLInputElement>('seq-input');
  private readonly jump = byId<HTMLButtonElement>('btn-jump');
  private readonly slider = byId<HTMLInputElement>('seq-slider');
  private readonly stepLabel = byId('step-label');
  private readonly live = byId('live-controls');
  private readonly next = byId<HTMLButtonElement>('btn-next-step');
  private readonly nextText = byId('next-step-text');
  private stepping = false;
  /** The live server is gone: the live controls stay disabled. */
  private offline = false;
  /** A request failed without an answer (the server may have stopped). */
  onFetchFailed: (() => void) | null = null;
  /** The server refused or failed a step: learn its position (and whether the run stopped) again. */
  onStepRefused: (() => void) | null = null;

  constructor(private readonly m: Model) {
    this.back.addEventListener('click', () => this.move(-1));
    this.fwd.addEventListener('click', () => this.move(1));
    this.backStep.addEventListener('click', () => this.moveStep(-1));
    this.fwdStep.addEventListener('click', () => this.moveStep(1));
    this.play.addEventListener('click', () => this.toggle());
    this.prevNotable.addEventListener('click', () => this.notable(-1));
    this.nextNotable.addEventListener('click', () => this.notable(1));
    this.jump.addEventListener('click', () => this.jumpTo());
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') this.jumpTo();
    });
    this.slider.addEventListener('input', () => this.m.setCurrent(Number(this.slider.value)));
    this.next.addEventListener('click', () => void this.runStep());
    m.on('seq', () => this.render());
    m.on('session', () => this.render());
    m.on('records', () => this.renderStep());
    document.addEventListener('keydown', (e) => this.key(e));
    this.live.hidden = !m.session.live || m.source.kind !== 'http';
    this.render();
  }

  /** Move by one message (filters hide rows, not messages: the state is always the one after `seq`). */
  move(dir: 1 | -1): void {
    this.m.setCurrent(this.m.current + dir);
  }

  /** Forward: to the end of the step the next message belongs to. Back: to the end of the previous step. */
  moveStep(dir: 1 | -1): void {
    const m = this.m;
    if (dir === 1) {
      const nx = m.record(m.current + 1);
      if (!nx) {
        m.setCurrent(m.current + 1);
        return;
      }
      let s = m.current + 1;
      while (s < m.lastSeq && m.record(s + 1)?.step === nx.step) s++;
      m.setCurrent(s);
    } else {
      const here = m.record(m.current)?.step;
      if (here === undefined) {
        m.setCurrent(m.current - 1);
        return;
      }
      let s = m.current - 1;
      while (s >= 1 && m.record(s)?.step === here) s--;
      m.setCurrent(s);
    }
  }

  /**
   * To the previous / next notable message (#GP, DMAR fault, SIGSEGV, invariant violation), or with
   * filters on, the previous / next message they let through (among the loaded records).
   */
  notable(dir: 1 | -1): void {
    const m = this.m;
    const f = recordFilter(m) ?? ((r: { type: string }): boolean => NOTABLE.has(kindOf(r.type).cls));
    for (let s = m.current + dir; s >= 1 && s <= m.lastSeq; s += dir) {
      const r = m.record(s);
      if (r && f(r)) {
        this.stop();
        m.setCurrent(s);
        return;
      }
    }
    m.setStatus(`no ${m.filtering ? 'matching' : 'notable'} message ${dir === 1 ? 'after' : 'before'} #${m.current}${m.fullyLoaded ? '' : ' (among the loaded records)'}`);
  }

  toggle(): void {
    if (this.timer !== null) this.stop();
    else this.start();
  }

  start(): void {
    if (this.timer !== null) return;
    if (this.m.current >= this.m.lastSeq) this.m.setCurrent(0);
    this.timer = window.setInterval(() => {
      if (this.m.current >= this.m.lastSeq) {
        this.stop();
        return;
      }
      this.m.setCurrent(this.m.current + 1);
    }, PLAY_MS);
    this.render();
  }

  stop(): void {
    if (this.timer !== null) window.clearInterval(this.timer);
    this.timer = null;
    this.render();
  }

  /** The live server stopped (or came back): disable (enable) "Next step". */
  setOffline(offline: boolean): void {
    this.offline = offline;
    this.next.title = offline ? 'the server stopped: restart svasim inspect and reload the page' : 'run the next scenario step';
    this.render();
  }

  get playing(): boolean {
    return this.timer !== null;
  }

  private jumpTo(): void {
    const v = Number(this.input.value);
    if (!Number.isFinite(v) || this.input.value.trim() === '') {
      this.m.setStatus(`not a seq: "${this.input.value}"`, true);
      return;
    }
    this.stop();
    this.m.setCurrent(v);
  }

  private async runStep(): Promise<void> {
    if (this.stepping) return;
    this.stepping = true;
    this.next.disabled = true;
    try {
      const r = await this.m.source.step();
      this.m.applyStep(r);
      this.m.setCurrent(this.m.lastSeq);
      this.m.setStatus(`step ${r.nextStep - 1} ran: ${r.records.length} message${r.records.length === 1 ? '' : 's'}`);
    } catch (e) {
      if (e instanceof ApiError) {
        // A failed step stops the run (its message says where and why): the status line keeps saying so.
        this.m.setStatus(e.status === 409 && !e.message.includes('the run stopped') ? `no step left: ${e.message}` : e.message, true);
        this.onStepRefused?.();
      } else {
        this.m.setStatus(`step failed: ${(e as Error).message}`, true);
        this.onFetchFailed?.();
      }
    } finally {
      this.stepping = false;
      this.render();
    }
  }

  private key(e: KeyboardEvent): void {
    const t = e.target as HTMLElement | null;
    if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable)) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === 'ArrowLeft' || e.key === 'ArrowUp' || e.key === 'k') {
      if (e.shiftKey) this.moveStep(-1);
      else this.move(-1);
    } else if (e.key === 'ArrowRight' || e.key === 'ArrowDown' || e.key === 'j') {
      if (e.shiftKey) this.moveStep(1);
      else this.move(1);
    } else if (e.key === ' ') {
      // Space on a focused button is that button's click.
      if (t?.tagName === 'BUTTON') return;
      this.toggle();
    }
    else if (e.key === 'n') this.notable(1);
    else if (e.key === 'p') this.notable(-1);
    else if (e.key === 'Home') this.m.setCurrent(0);
    else if (e.key === 'End') this.m.setCurrent(this.m.lastSeq);
    else return;
    e.preventDefault();
  }

  private render(): void {
    const m = this.m;
    this.cur.textContent = String(m.current);
    this.last.textContent = String(m.lastSeq);
    this.back.disabled = m.current <= 0;
    this.backStep.disabled = m.current <= 0;
    this.fwd.disabled = m.current >= m.lastSeq;
    this.fwdStep.disabled = m.current >= m.lastSeq;
    this.play.textContent = this.playing ? '❚❚ Pause' : '▶ Play';
    this.play.setAttribute('aria-pressed', String(this.playing));
    this.play.classList.toggle('on', this.playing);
    this.slider.max = String(m.lastSeq);
    this.slider.value = String(m.current);
    if (document.activeElement !== this.input) this.input.value = String(m.current);
    this.input.max = String(m.lastSeq);
    const steps = m.session.steps;
    const next = steps.find((s) => s.index === m.nextStep) ?? steps[m.nextStep];
    const stopped = m.stopped;
    this.nextText.textContent = stopped !== null ? 'the run stopped: no further step' : next ? `step ${next.index}: ${next.text}` : 'no step left';
    this.nextText.title = stopped ?? '';
    this.next.disabled = this.stepping || this.offline || stopped !== null || next === undefined;
    this.renderStep();
  }

  private renderStep(): void {
    const r = this.m.record(this.m.current);
    if (this.m.current === 0) this.stepLabel.textContent = 'before the first message';
    else if (!r) this.stepLabel.textContent = '';
    else {
      const st = this.m.stepText(r.step);
      this.stepLabel.textContent = `step ${r.step}${st !== null ? `: ${st}` : ''}`;
      this.stepLabel.title = `#${r.seq} ${r.type} ${r.from} → ${r.to}`;
    }
  }
}
