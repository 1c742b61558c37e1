/**
 * Typed views of a system's deliveries as rxjs operators: by message type (narrowed to that message's
 * fields for svasim's own types), by receiving or sending address (an exact address, or a prefix such
 * as `thread:` or `gen:`).
 *
 * ```ts
 * sys.delivered$.pipe(ofType('fault.dmar')).subscribe((d) => console.log(d.seq, d.msg.reason));
 * sys.delivered$.pipe(toAddress('thread:A')).subscribe(…);
 * ```
 */
import { filter, type OperatorFunction } from 'rxjs';
import type { Address, MessageOf, MessageType } from '../../machines/protocol.ts';
import type { Delivered } from './scheduler.ts';

/** A delivered message of one of svasim's types, its `msg` narrowed to that type. */
export type DeliveredOf<T extends MessageType> = Delivered & { readonly msg: MessageOf<T> };

/** Deliveries of the given svasim message types (narrowed), or of any registered kind's types (by name). */
export function ofType<T extends MessageType>(...types: T[]): OperatorFunction<Delivered, DeliveredOf<T>>;
export function ofType(...types: string[]): OperatorFunction<Delivered, Delivered>;
export function ofType(...types: string[]): OperatorFunction<Delivered, Delivered> {
  const set = new Set(types);
  return filter((d) => set.has(d.msg.type));
}

/** `address` ends with `:`: every address with that prefix; else that address exactly. */
const matches = (address: string): ((a: Address) => boolean) => (address.endsWith(':') ? (a) => a.startsWith(address) : (a) => a === address);

/** Deliveries to an actor (`thread:A`), or to every actor under a prefix (`thread:`). */
export function toAddress(address: Address | `${string}:`): OperatorFunction<Delivered, Delivered> {
  const m = matches(address);
  return filter((d) => m(d.to));
}

/** Deliveries sent by an actor (`wq:dsa0`), or by every actor under a prefix (`wq:`). */
export function fromAddress(address: Address | `${string}:`): OperatorFunction<Delivered, Delivered> {
  const m = matches(address);
  return filter((d) => m(d.from));
}
