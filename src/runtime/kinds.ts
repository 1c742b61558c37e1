/**
 * Actor kinds: svasim's own (thread, mm, iommu, wq, kernel) and those a library user or a plugin
 * registers. A kind is a {@link Behavior} (src/runtime/actor.ts), the message types it introduces with a
 * schema for each, and where its actors live:
 * - a **device model** (`device: true`) stands in for svasim's work queue: a scenario device that names
 *   the kind (`"devices": [{ "name": "iax0", "kind": "iax" }]`) is an actor of it at `wq:iax0`, and the
 *   mm, the IOMMU and `complete` steps talk to it with the work-queue messages (`wq.submit`, `wq.drain`,
 *   `wq.execute`, `iommu.translated`, `fault.dmar`) as they would to the built-in one (README, "Your own
 *   actor kinds", has the protocol);
 * - any other kind has an address prefix: a scenario's `"actors": [{ "name": "gen", "kind": "workload" }]`
 *   is an actor at `<prefix>:gen`.
 * Every actor of every kind sends and receives with seq and cause, is logged, snapshotted and replayed.
 * A kind may also observe message types delivered to svasim's actors (`observes`: it hears a copy,
 * caused by the original, as a subscriber of Akka's event stream does) and add invariant monitors.
 */
import type { AnyStateMachine } from 'xstate';
import { MACHINES, type ActorKind as BuiltinKind } from '../../machines/index.ts';
import { MESSAGE_TYPES, type Address, type AnyMessage } from '../../machines/protocol.ts';
import { fromMachine, type Behavior, type EngineKind } from './actor.ts';

/**
 * A schema in the Standard Schema v1 form (https://standardschema.dev): zod 4, valibot and ArkType
 * schemas are ones. It validates one message type's whole message (`type` included).
 */
export interface StandardSchema {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardResult | Promise<StandardResult>;
  };
}
type StandardResult =
  | { readonly value: unknown; readonly issues?: undefined }
  | { readonly issues: readonly { readonly message: string; readonly path?: readonly (PropertyKey | { readonly key: PropertyKey })[] | undefined }[] };

/** What a kind's monitor sees after each step (quiescence), as the built-in invariant monitor does. */
export interface StepView {
  /** The step's deliveries, in order. */
  readonly messages: readonly { readonly seq: number; readonly from: Address; readonly to: Address; readonly msg: AnyMessage }[];
  /** Addresses of the actors whose state changed during the step. */
  readonly changed: ReadonlySet<Address>;
  /** Any actor's state and context (`undefined`: no actor there). */
  actor(address: Address): { readonly kind: string; readonly state: string; readonly context: unknown } | undefined;
}

/** An invariant a kind adds: checked after every step; each string returned is one violation's detail. */
export interface KindMonitor {
  /** Its name in `invariant.violation` messages (choose one that is not G*, S*, M*, L*: e.g. `IAX1`). */
  readonly invariant: string;
  /** Pure: a function of the view (monitors are re-run, never restored). */
  check(view: StepView): readonly string[];
}

/** Who registered a kind: a plugin module (its package name and version) or the library user. */
export interface KindOrigin {
  readonly name: string;
  readonly version: string;
}

/**
 * An actor kind to register ({@link Kinds.register}): its name, its behavior, where its actors live (a
 * device model at `wq:<device>`, or `<prefix>:<name>`), and optionally its message types with their
 * schemas, the types it observes and its invariant monitors.
 */
export interface KindDefinition<S = unknown> {
  /** The kind's name (`[a-z][a-z0-9_-]*`), as scenarios name it; not one of svasim's. */
  readonly name: string;
  readonly behavior: Behavior<S>;
  /** A device model: scenario devices of this kind are its actors, at `wq:<device>`. */
  readonly device?: boolean;
  /** The address prefix of its actors (`<prefix>:<name>`); required unless `device`. */
  readonly prefix?: string;
  /**
   * The message types it introduces, each with the schema every such message must pass (when sent by any
   * actor, injected, or read from a log). Dotted lowercase names, not svasim's own types.
   */
  readonly messages?: Readonly<Record<string, StandardSchema>>;
  /**
   * A message type (one of its own) that creates an actor: delivered to a free address under the
   * kind's prefix, it starts an actor there with input `{ name, message }` (as `mm.create` starts an
   * mm), recorded and logged like any message. Any actor may send it: actors spawn actors.
   */
  readonly birth?: string;
  /**
   * Message types its actors hear a copy of when one is delivered to one of svasim's actors (thread, mm,
   * iommu, wq, kernel, or `user`: a registered actor's message to `user` is heard too), caused by that
   * delivery and marked `copy`. Each must be svasim's, one of this kind's own, or one registered before.
   */
  readonly observes?: readonly string[];
  readonly monitors?: readonly KindMonitor[];
  /**
   * The schema of the `options` a scenario gives its actors (or devices, for a device model): checked by
   * the loader, each problem at its JSON path. Without it, options are passed unchecked.
   */
  readonly options?: StandardSchema;
  /** Set by the plugin loader; the log header names it. */
  readonly origin?: KindOrigin;
}

/** A kind definition that is wrong (a duplicate, a reserved name, a bad schema…): a one-line message. */
export class KindError extends Error {}

const NAME = /^[a-z][a-z0-9_-]*$/;
const TYPE = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/;
const BUILTIN_KINDS: readonly BuiltinKind[] = ['kernel', 'iommu', 'thread', 'mm', 'wq', 'file'];
const RESERVED_PREFIXES = new Set<string>(['user', 'kernel', 'iommu', 'monitor', 'thread', 'mm', 'wq', 'file']);
const BUILTIN_TYPES: ReadonlySet<string> = new Set<string>(MESSAGE_TYPES);

/** One kind as the runtime uses it. */
export interface Kind {
  readonly name: string;
  readonly builtin: boolean;
  readonly behavior: Behavior;
  readonly device: boolean;
  readonly prefix: string | undefined;
  readonly machine: AnyStateMachine | undefined;
  readonly definition: KindDefinition | undefined;
}

/**
 * The kinds a system knows: svasim's five and every registered one. Pass the same registry to the
 * scenario loader, `runScenario`, `replay`, the log reader and the inspector.
 */
export class Kinds {
  private readonly byName = new Map<string, Kind>();
  private readonly byPrefix = new Map<string, Kind>();
  private readonly schemas = new Map<string, { readonly schema: StandardSchema; readonly kind: string }>();
  private readonly observers = new Map<string, string[]>();
  private readonly defs: KindDefinition[] = [];
  private monitorList: { readonly kind: string; readonly monitor: KindMonitor }[] | undefined;

  /** A registry with svasim's own kinds and, optionally, the given ones registered in order. */
  constructor(definitions: readonly KindDefinition[] = []) {
    for (const k of BUILTIN_KINDS) {
      this.byName.set(k, { name: k, builtin: true, behavior: fromMachine(MACHINES[k]), device: k === 'wq', prefix: k === 'kernel' || k === 'iommu' ? undefined : k, machine: MACHINES[k], definition: undefined });
    }
    for (const d of definitions) this.register(d);
  }

  private sealed = false;

  /** Refuse further registrations (a shared registry). */
  seal(): this {
    this.sealed = true;
    return this;
  }

  /** Register a kind. Throws {@link KindError} naming what is wrong. Returns the registry. */
  register<S>(def: KindDefinition<S>): this {
    if (this.sealed) throw new Error('this kind registry is sealed (svasim\'s own kinds): make one with new Kinds()');
    const who = def.origin ? `plugin ${def.origin.name}` : 'kind';
    const name = def.name;
    // At most 64 characters: every log header names it.
    if (typeof name !== 'string' || !NAME.test(name) || name.length > 64) {
      const shown = typeof name === 'string' && name.length > 40 ? `${JSON.stringify(name.slice(0, 40))}… (${name.length} characters)` : JSON.stringify(name);
      throw new KindError(`${who}: kind name ${shown} is not [a-z][a-z0-9_-]* of at most 64 characters`);
    }
    if (this.byName.has(name)) {
      const other = this.byName.get(name)?.definition?.origin;
      throw new KindError(`${who}: kind "${name}" is already registered${this.byName.get(name)?.builtin ? ' (one of svasim\'s)' : other ? ` (by plugin ${other.name})` : ''}`);
    }
    const b = def.behavior as Partial<Behavior> | undefined;
    for (const fn of ['initial', 'step', 'persist', 'restore', 'value', 'context'] as const) {
      if (typeof b?.[fn] !== 'function') throw new KindError(`${who}: kind "${name}": behavior.${fn} is not a function (make one with fromMachine or fromDecider)`);
    }
    const device = def.device === true;
    let prefix: string | undefined;
    if (!device) {
      prefix = def.prefix;
      if (typeof prefix !== 'string' || !NAME.test(prefix)) throw new KindError(`${who}: kind "${name}": prefix ${JSON.stringify(prefix)} is not [a-z][a-z0-9_-]* (actors live at <prefix>:<name>)`);
      if (RESERVED_PREFIXES.has(prefix)) throw new KindError(`${who}: kind "${name}": prefix "${prefix}" is svasim's`);
      const other = this.byPrefix.get(prefix);
      if (other) throw new KindError(`${who}: kind "${name}": prefix "${prefix}" is already kind "${other.name}"'s`);
    } else if (def.prefix !== undefined && def.prefix !== 'wq') {
      throw new KindError(`${who}: kind "${name}" is a device model: its actors live at wq:<device> (no prefix)`);
    }
    for (const [type, schema] of Object.entries(def.messages ?? {})) {
      if (!TYPE.test(type)) throw new KindError(`${who}: kind "${name}": message type "${type}" is not dotted lowercase (like "gen.tick")`);
      if (BUILTIN_TYPES.has(type)) throw new KindError(`${who}: kind "${name}": message type "${type}" is svasim's`);
      const other = this.schemas.get(type);
      if (other) throw new KindError(`${who}: kind "${name}": message type "${type}" is already kind "${other.kind}"'s`);
      if (typeof (schema as Partial<StandardSchema> | undefined)?.['~standard']?.validate !== 'function') {
        throw new KindError(`${who}: kind "${name}": the schema of "${type}" is not a Standard Schema (a zod, valibot or ArkType schema)`);
      }
    }
    for (const type of def.observes ?? []) {
      if (typeof type !== 'string' || !TYPE.test(type)) throw new KindError(`${who}: kind "${name}": observes ${JSON.stringify(type)}, not a message type`);
      if (!BUILTIN_TYPES.has(type) && !Object.hasOwn(def.messages ?? {}, type) && !this.schemas.has(type)) {
        throw new KindError(`${who}: kind "${name}": observes "${type}", which is neither svasim's nor a registered message type (a typo? it would never be heard)`);
      }
    }
    if (def.options !== undefined && typeof (def.options as Partial<StandardSchema>)['~standard']?.validate !== 'function') {
      throw new KindError(`${who}: kind "${name}": its options schema is not a Standard Schema (a zod, valibot or ArkType schema)`);
    }
    if (def.birth !== undefined && (device || !Object.hasOwn(def.messages ?? {}, def.birth))) {
      throw new KindError(`${who}: kind "${name}": birth ${JSON.stringify(def.birth)} must be one of its own message types${device ? ' (and a device model has none: scenario devices are its actors)' : ''}`);
    }
    const kind: Kind = { name, builtin: false, behavior: def.behavior as Behavior, device, prefix, machine: def.behavior.machine, definition: def as KindDefinition };
    this.byName.set(name, kind);
    if (prefix !== undefined) this.byPrefix.set(prefix, kind);
    for (const [type, schema] of Object.entries(def.messages ?? {})) this.schemas.set(type, { schema, kind: name });
    for (const type of def.observes ?? []) {
      const list = this.observers.get(type);
      if (list) list.push(name);
      else this.observers.set(type, [name]);
    }
    this.defs.push(def as KindDefinition);
    this.monitorList = undefined;
    return this;
  }

  /** The kind of that name (`undefined`: none). */
  get(name: string): Kind | undefined {
    return this.byName.get(name);
  }

  /** The registered (non-built-in) kind whose actors live under `prefix`. */
  withPrefix(prefix: string): Kind | undefined {
    return this.byPrefix.get(prefix);
  }

  /** The kind whose birth message `type` creates an actor at `address` (`undefined`: none). */
  bornBy(address: string, type: string): Kind | undefined {
    if (this.byPrefix.size === 0) return undefined;
    const colon = address.indexOf(':');
    if (colon < 0) return undefined;
    const kind = this.byPrefix.get(address.slice(0, colon));
    return kind?.definition?.birth === type ? kind : undefined;
  }

  /** The registered kinds, in registration order. */
  registered(): readonly KindDefinition[] {
    return this.defs;
  }

  /** Every kind's name: svasim's, then the registered ones. */
  names(): string[] {
    return [...this.byName.keys()];
  }

  /** Whether a message type is svasim's or a registered kind's. */
  knows(type: string): boolean {
    return BUILTIN_TYPES.has(type) || this.schemas.has(type);
  }

  /** Every registered message type (svasim's not included). */
  messageTypes(): string[] {
    return [...this.schemas.keys()];
  }

  /** Kinds that observe a message type. */
  observersOf(type: string): readonly string[] | undefined {
    return this.observers.get(type);
  }

  /**
   * Check a registered type's message against its schema: `undefined` when it passes (or is svasim's:
   * those are checked by the log reader's own schemas), else a one-line reason with the field's path.
   */
  check(msg: AnyMessage): string | undefined {
    const entry = this.schemas.get(msg.type);
    if (entry === undefined) return BUILTIN_TYPES.has(msg.type) ? undefined : `unknown message type "${msg.type}"`;
    const def = this.byName.get(entry.kind)?.definition;
    const who = def?.origin ? `plugin ${def.origin.name}: ` : '';
    let r: StandardResult | Promise<StandardResult>;
    try {
      r = entry.schema['~standard'].validate(msg);
    } catch (e) {
      const why = (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, ' ');
      throw new KindError(`${who}kind "${entry.kind}": the schema of "${msg.type}" threw: ${why}`, { cause: e });
    }
    if (r instanceof Promise) throw new KindError(`${who}kind "${entry.kind}": the schema of "${msg.type}" is asynchronous (svasim steps synchronously)`);
    if (r.issues === undefined) return undefined;
    const first = r.issues[0];
    const path = (first?.path ?? []).map((p) => String(typeof p === 'object' && p !== null && 'key' in p ? p.key : p)).join('.');
    return `${msg.type}${path ? `.${path}` : ''}: ${first?.message ?? 'refused by its schema'}`;
  }

  /**
   * Check an actor's `options` against its kind's schema: `undefined` when they pass (or the kind has no
   * schema), else `[path, message]` of the first problem (path inside the options).
   */
  checkOptions(kindName: string, options: unknown): [readonly string[], string] | undefined {
    const schema = this.byName.get(kindName)?.definition?.options;
    if (schema === undefined) return undefined;
    const r = schema['~standard'].validate(options ?? {});
    if (r instanceof Promise) throw new KindError(`kind "${kindName}": its options schema is asynchronous`);
    if (r.issues === undefined) return undefined;
    const first = r.issues[0];
    const path = (first?.path ?? []).map((p) => String(typeof p === 'object' && p !== null && 'key' in p ? p.key : p));
    return [path, first?.message ?? 'refused by its schema'];
  }

  /** The kind that registered a message type (for error messages). */
  kindOfType(type: string): string | undefined {
    return this.schemas.get(type)?.kind;
  }

  /** Every kind monitor, with its kind (the same array until the next registration). */
  monitors(): readonly { readonly kind: string; readonly monitor: KindMonitor }[] {
    this.monitorList ??= this.defs.flatMap((d) => (d.monitors ?? []).map((monitor) => ({ kind: d.name, monitor })));
    return this.monitorList;
  }

  /** Whether any kind is registered (svasim's own checks can skip foreign messages cheaply when none is). */
  get hasRegistered(): boolean {
    return this.defs.length > 0;
  }

  /** The behavior of a kind under an engine (a registered kind keeps the behavior it was given). */
  behavior(kind: Kind, engine: EngineKind): Behavior {
    if (kind.builtin && kind.machine) return fromMachine(kind.machine, { engine });
    return kind.behavior;
  }
}

/** svasim's own kinds only (shared: a registry without registrations never changes). */
export const BUILTIN_KINDS_REGISTRY = new Kinds().seal();
