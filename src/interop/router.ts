/**
 * svasim's machines in your own xstate system: the routing and deferral svasim's bus applies
 * (src/runtime/system.ts), for real xstate actors.
 *
 * svasim's machines talk by `emit`ting messages that name their destination (`{ type, …, to }`); nothing
 * in xstate delivers those. A {@link SvasimRouter} does, with svasim's rules:
 * - Each of svasim's actors is an xstate actor registered under its address as `systemId` (`kernel`,
 *   `iommu`, `wq:dsa0`, `mm:1`, `thread:A` …) in one actor system. The router listens to each one's
 *   emitted events (`actor.on('*', …)`) and makes them pending; a {@link Scheduler} (FIFO by default)
 *   picks which is delivered next, sent to the target as from the sender's actor (xstate's `inspect`
 *   stream shows the event between the two).
 * - `mm.create`, `thread.start` and `file.open` to an address with no actor create it (the `spawn`
 *   option, by default `createActor(machine, { parent: host, systemId, input })`): an mm is created with
 *   the devices that are not user-submission safe and the fd table and caps its `mm.create` carries, a
 *   device file (`file:<id>`, idxd_cdev_open's file) with the bond its opener's mm made, as
 *   `System` creates them; a syscall input naming a thread
 *   that does not exist goes to `kernel` (which answers ESRCH); messages to `user` or `monitor` are
 *   delivered to no actor.
 * - A message the target's current state cannot take — xstate's `machine.getTransitionData(snapshot,
 *   event)` is empty, the "taken" rule of svasim's actor contract (src/runtime/actor.ts) — is deferred,
 *   not dropped, and offered again (as the newest of its channel) after that actor's snapshot next
 *   changes. Messages between the same two actors are delivered in the order they were sent (a
 *   scheduler that does not declare `keepsChannelOrder` is checked, as `System` checks it).
 * - Every delivery gets a `seq`, a `cause` (the seq of the message whose handling sent it) and the
 *   `step` of its input, and is published on `delivered$`: the same records as svasim's own log, in the
 *   same order under the same scheduler (tested on every built-in scenario). A subscriber that throws
 *   fails that delivery with a `SubscriberError`, as on `System.delivered$` (src/runtime/publish.ts).
 * - What it does not do (it knows svasim's six kinds only): no copies for kinds that `observe`
 *   message types, no kind monitors, no births of registered kinds (create those actors yourself).
 *
 * Delivery is synchronous and driven from outside the actors: call `input` then `runToQuiescence` (or
 * `step`) from your program, not from inside an action of an actor the router delivers to.
 *
 * The initial actors and the inputs each is created with: {@link svasimActors} (ThreadInput, MmInput,
 * IommuInput, WqInput, FileInput from `svasim/machines`; the kernel has none).
 */
import { Subject } from 'rxjs';
import { createActor, createMachine, isMachineSnapshot, type ActorOptions, type AnyActorLogic, type AnyActorRef, type AnyStateMachine, type EventObject, type Subscription } from 'xstate';
import { MACHINES } from '../../machines/index.ts';
import type { FileInput } from '../../machines/file.ts';
import type { IommuInput } from '../../machines/iommu.ts';
import type { MmInput } from '../../machines/mm.ts';
import { isBuiltinMessage, LAM_OFF, wqAddr, type Address, type AnyMessage } from '../../machines/protocol.ts';
import type { ThreadInput } from '../../machines/thread.ts';
import type { WqInput } from '../../machines/wq.ts';
import { ChannelOrder, ChoiceScheduler, FifoScheduler, type Envelope, type Scheduler } from '../runtime/scheduler.ts';
import { DeferredMessages } from '../runtime/deferred.ts';
import { publishSync } from '../runtime/publish.ts';
import { SubscriberError, type Delivered, type SystemConfig } from '../runtime/system.ts';
import { relay } from './internals.ts';

/** One of svasim's actors to create: its address (its `systemId`), machine and input. */
export type SvasimActorSpec =
  | { readonly kind: 'kernel'; readonly address: 'kernel'; readonly machine: AnyStateMachine; readonly input: undefined }
  | { readonly kind: 'iommu'; readonly address: 'iommu'; readonly machine: AnyStateMachine; readonly input: IommuInput }
  | { readonly kind: 'wq'; readonly address: `wq:${string}`; readonly machine: AnyStateMachine; readonly input: WqInput }
  | { readonly kind: 'mm'; readonly address: `mm:${number}`; readonly machine: AnyStateMachine; readonly input: MmInput }
  | { readonly kind: 'thread'; readonly address: `thread:${string}`; readonly machine: AnyStateMachine; readonly input: ThreadInput }
  | { readonly kind: 'file'; readonly address: `file:${string}`; readonly machine: AnyStateMachine; readonly input: FileInput };

/**
 * The actors a svasim system starts with, as svasim creates them: the kernel, the IOMMU and one work
 * queue per device (mms, threads and device files are born later, from `mm.create`, `thread.start` and
 * `file.open`). A device of a
 * registered kind (a device model) is not among them: create its actor at `wq:<device>` yourself.
 */
export function svasimActors(config: SystemConfig): SvasimActorSpec[] {
  const out: SvasimActorSpec[] = [
    { kind: 'kernel', address: 'kernel', machine: MACHINES.kernel, input: undefined },
    { kind: 'iommu', address: 'iommu', machine: MACHINES.iommu, input: { policy: config.policy.pasid, pasidRange: config.pasidRange, devices: config.devices.map((d) => d.name) } },
  ];
  for (const d of config.devices) {
    if ((d.kind ?? 'wq') !== 'wq') continue;
    out.push({ kind: 'wq', address: wqAddr(d.name), machine: MACHINES.wq, input: { device: d.name, wqSize: d.wqSize, threshold: d.threshold, autoComplete: d.autoComplete } });
  }
  return out;
}

export interface SvasimRouterOptions {
  /** Creates the actor for a spec (the initial ones missing from the system, and every birth). It must
   * be registered in the host's system under `spec.address` and started. Default: `createActor(spec.machine,
   * { parent: host, id: spec.address, systemId: spec.address, input: spec.input }).start()`. */
  readonly spawn?: ((spec: SvasimActorSpec) => AnyActorRef) | undefined;
  /** Which pending message is delivered next (default: FIFO, as `svasim run`). */
  readonly scheduler?: Scheduler | undefined;
}

/** One actor the router delivers to: its ref, the snapshot it last saw, and its listeners. */
interface Slot {
  readonly address: Address;
  readonly ref: AnyActorRef;
  last: unknown;
  /** Snapshots the actor published since the router last looked (a processed event publishes one). */
  updates: number;
  readonly subs: Subscription[];
}

/**
 * Routes svasim's messages between xstate actors of one system (see the module's header). Made by
 * {@link createSvasimRouter} (or {@link createSvasimSystem}, which also makes the system).
 */
export class SvasimRouter {
  /**
   * Every delivered message, in delivery order (the records svasim's log would hold), synchronously. A
   * subscriber that throws makes the delivery throw `SubscriberError` (every subscriber still gets the
   * message first), in the `step` or `runToQuiescence` that delivered it, as `System.delivered$` does.
   */
  readonly delivered$ = new Subject<Delivered>();
  private readonly slots = new Map<Address, Slot>();
  private readonly deferred = new DeferredMessages();
  private seq = 0;
  /** The delivery in progress: what its actor emits is caused by it. */
  private current: Envelope | null = null;
  /** An error raised inside an xstate listener (xstate would only report it asynchronously). */
  private fault: Error | null = null;
  private readonly scheduler: Scheduler;
  private readonly order: ChannelOrder | null;
  private readonly spawn: (spec: SvasimActorSpec) => AnyActorRef;
  /** Devices that are not user-submission safe (`userSubmissionSafe: false`): every mm's input names them (mmap needs CAP_SYS_RAWIO). */
  private readonly unsafeDevices: readonly string[];

  constructor(
    /** An actor of the system svasim's actors live in (the default `spawn` makes them its children). */
    readonly host: AnyActorRef,
    readonly config: SystemConfig,
    options: SvasimRouterOptions = {},
  ) {
    this.scheduler = options.scheduler ?? new FifoScheduler();
    this.order = this.scheduler.keepsChannelOrder === true ? null : new ChannelOrder();
    // As System does: a choice scheduler holds a message to an actor whose birth is still pending.
    if (this.scheduler instanceof ChoiceScheduler) this.scheduler.bindBirths((e) => this.isBirth(e));
    this.spawn =
      options.spawn ?? ((spec) => createActor(spec.machine, { parent: host, id: spec.address, systemId: spec.address, input: spec.input }).start());
    this.unsafeDevices = config.devices.filter((d) => d.userSubmissionSafe === false).map((d) => d.name);
    for (const spec of svasimActors(config)) if (this.lookup(spec.address) === undefined) this.create(spec);
    for (const d of config.devices) {
      if ((d.kind ?? 'wq') !== 'wq' && this.lookup(wqAddr(d.name)) === undefined) {
        throw new Error(`device ${d.name} is of kind "${d.kind ?? ''}": create its actor at ${wqAddr(d.name)} (systemId) before the router`);
      }
    }
  }

  /** The seq of the last delivered message. */
  get lastSeq(): number {
    return this.seq;
  }

  /** Messages pending delivery. */
  get pendingSize(): number {
    return this.scheduler.size;
  }

  /** Messages deferred because their target could not take them yet. */
  get deferredSize(): number {
    return this.deferred.size;
  }

  /** The actor at an address (`undefined`: none in the system). */
  actor(address: Address): AnyActorRef | undefined {
    return this.lookup(address)?.ref;
  }

  /** Put an input (a scenario step's message) on the bus. */
  input(msg: AnyMessage, to: Address, step: number, from: Address = 'user'): void {
    this.enqueue({ msg, from, to, cause: undefined, step, seq: 0 });
  }

  /** Send a message with an explicit sender and cause (a foreign actor's, a monitor's). */
  post(msg: AnyMessage, from: Address, to: Address, cause: number | undefined, step: number): void {
    this.enqueue({ msg, from, to, cause, step, seq: 0 });
  }

  /** Deliver the message the scheduler picks; `undefined` when nothing can be delivered. */
  step(): Delivered | undefined {
    for (;;) {
      const env = this.scheduler.next();
      if (env === undefined) return undefined;
      this.order?.take(env);
      const done = this.deliver(env);
      if (done) return done;
    }
  }

  /** Deliver until nothing is pending; returns how many messages were delivered. */
  runToQuiescence(limit = Number.POSITIVE_INFINITY): number {
    let n = 0;
    while (n < limit && this.step() !== undefined) n++;
    return n;
  }

  /** Stop listening to the actors and complete `delivered$` (the actors themselves are yours). */
  stop(): void {
    for (const s of this.slots.values()) for (const sub of s.subs) sub.unsubscribe();
    this.slots.clear();
    this.delivered$.complete();
  }

  private enqueue(env: Envelope): void {
    this.scheduler.enqueue(env);
    this.order?.add(env);
  }

  /** Whether a pending message creates the actor it goes to (`mm.create`, `thread.start`, `file.open` to a free address), as System's `isBirth`. */
  private isBirth(env: Envelope): boolean {
    const to = env.to;
    if (this.slots.has(to) || this.host.system.get(to) !== undefined) return false;
    const t = env.msg.type;
    if (t === 'mm.create') return to.startsWith('mm:');
    if (t === 'thread.start') return to.startsWith('thread:');
    if (t === 'file.open') return to.startsWith('file:');
    return false;
  }

  /** The slot of an address: known, or an actor of the system with that systemId (then listened to). */
  private lookup(address: Address): Slot | undefined {
    const known = this.slots.get(address);
    if (known !== undefined) return known;
    const ref: AnyActorRef | undefined = this.host.system.get(address);
    return ref === undefined ? undefined : this.attach(address, ref);
  }

  private create(spec: SvasimActorSpec): Slot {
    const ref = this.spawn(spec);
    if (this.host.system.get(spec.address) !== ref) throw new Error(`spawn: the actor for ${spec.address} is not registered under systemId "${spec.address}" in the host's system`);
    return this.attach(spec.address, ref);
  }

  private attach(address: Address, ref: AnyActorRef): Slot {
    const slot: Slot = { address, ref, last: ref.getSnapshot(), updates: 0, subs: [] };
    slot.subs.push(
      ref.on('*', (ev: EventObject) => this.emitted(slot, ev)),
      ref.subscribe({
        next: (snapshot: unknown) => {
          slot.updates++;
          if (snapshot !== slot.last) {
            slot.last = snapshot;
            this.retryDeferred(address);
          }
        },
        error: (err: unknown) => {
          this.fault ??= new Error(`${address} failed: ${err instanceof Error ? err.message : String(err)}`);
        },
      }),
    );
    this.slots.set(address, slot);
    return slot;
  }

  /** An actor emitted a message: pending, caused by the delivery in progress. */
  private emitted(slot: Slot, ev: EventObject): void {
    const to = (ev as { readonly to?: unknown }).to;
    if (typeof to !== 'string') {
      this.fault ??= new Error(`${slot.address} emitted ${ev.type} without a "to" address`);
      return;
    }
    const cur = this.current;
    this.enqueue({ msg: ev as AnyMessage, from: slot.address, to: to as Address, cause: cur === null ? undefined : this.seq, step: cur?.step ?? 0, seq: 0 });
  }

  private deliver(env: Envelope): Delivered | undefined {
    let slot = this.lookup(env.to);
    if (slot === undefined) {
      const to = env.to;
      if (to === 'user' || to === 'monitor') return this.record(env);
      const m = env.msg;
      if (isBuiltinMessage(m) && m.type === 'mm.create' && to.startsWith('mm:')) {
        const id = Number(to.slice(3));
        const input: MmInput = {
          id, process: m.process, threads: m.threads, lam: m.lam ?? LAM_OFF, policy: this.config.policy, cpu: this.config.cpu,
          unsafe: this.unsafeDevices, ...(m.fds === undefined ? {} : { fds: m.fds }), ...(m.caps === undefined ? {} : { caps: m.caps }),
        };
        this.create({ kind: 'mm', address: `mm:${id}`, machine: MACHINES.mm, input });
        return this.record(env);
      }
      // idxd_cdev_open's file: born with the bond the opener's mm just made.
      if (isBuiltinMessage(m) && m.type === 'file.open' && to.startsWith('file:')) {
        const id = to.slice(5);
        this.create({ kind: 'file', address: `file:${id}`, machine: MACHINES.file, input: { id, device: m.device, mm: m.mm, pasid: m.pasid, holder: m.holder, safe: m.safe } });
        return this.record(env);
      }
      if (isBuiltinMessage(m) && m.type === 'thread.start' && to.startsWith('thread:')) {
        this.create({ kind: 'thread', address: `thread:${to.slice(7)}`, machine: MACHINES.thread, input: { name: to.slice(7), process: m.process, mm: m.mm, enqcmd: this.config.cpu.enqcmd } });
        return this.record(env);
      }
      if (env.from === 'user' && to.startsWith('thread:')) {
        env.to = 'kernel';
        slot = this.lookup('kernel');
      }
      if (slot === undefined) throw new Error(`no actor ${env.to} for ${env.msg.type} (from ${env.from})`);
    }
    const snapshot: unknown = slot.ref.getSnapshot();
    if (isMachineSnapshot(snapshot) && snapshot.machine.getTransitionData(snapshot, env.msg).length === 0) {
      this.defer(env);
      return undefined;
    }
    // Its seq is the next one: what the actor emits while handling it is caused by it.
    env.seq = ++this.seq;
    this.current = env;
    slot.updates = 0;
    try {
      // Sent as its sender did: xstate's inspect stream shows the event from the sender's actor.
      relay(this.host.system, this.slots.get(env.from)?.ref, slot.ref, env.msg);
    } finally {
      this.current = null;
    }
    const fault = this.fault;
    if (fault !== null) {
      this.fault = null;
      throw fault;
    }
    if (slot.updates === 0) {
      throw new Error(`${env.to} did not handle ${env.msg.type} at once (not started, stopped, or busy: deliver from outside the actors' own actions)`);
    }
    this.publish(env);
    return env;
  }

  /** A message for no actor (`user`, `monitor`) or a birth: delivered as it is. */
  private record(env: Envelope): Delivered {
    env.seq = ++this.seq;
    this.publish(env);
    return env;
  }

  /** On `delivered$`; a subscriber's error fails this delivery (after every subscriber had it). */
  private publish(env: Delivered): void {
    publishSync(this.delivered$, env, (e) => new SubscriberError(env, e));
  }

  private defer(env: Envelope): void {
    this.deferred.add(env);
  }

  private retryDeferred(address: Address): void {
    const list = this.deferred.take(address);
    if (list) for (const env of list) this.enqueue(env);
  }
}

/** A router over the system `host` belongs to (see {@link SvasimRouter}); creates the initial actors it lacks. */
export function createSvasimRouter(host: AnyActorRef, config: SystemConfig, options: SvasimRouterOptions = {}): SvasimRouter {
  return new SvasimRouter(host, config, options);
}

/**
 * A new xstate actor system holding svasim's actors: an idle root actor (`host`, created with your
 * `inspect` observer, so the whole system is inspected) whose children are svasim's actors, and the
 * router between them.
 */
export function createSvasimSystem(
  config: SystemConfig,
  options: SvasimRouterOptions & { readonly inspect?: ActorOptions<AnyActorLogic>['inspect'] } = {},
): { readonly host: AnyActorRef; readonly router: SvasimRouter } {
  const host = createActor(createMachine({ id: 'svasim' }), options.inspect === undefined ? {} : { inspect: options.inspect }).start();
  return { host, router: new SvasimRouter(host, config, options) };
}
