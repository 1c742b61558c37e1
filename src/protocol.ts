/**
 * `svasim/protocol`: the messages svasim's actors exchange and the addresses they are sent to (SPEC §9;
 * the README's "Messages" section describes each type).
 *
 * @packageDocumentation
 */
export type { Message, MessageType, MessageOf, Outgoing, Address, Errno, Refused, Policy, PasidPolicy, LamPolicy, CpuFeatures, LamState, SysValue, ArchCodeName, FdEntry } from '../machines/protocol.ts';
export {
  MESSAGE_TYPES,
  ERRNOS,
  PASID_POLICIES,
  LAM_POLICIES,
  DEFAULT_POLICY,
  DEFAULT_CPU,
  DEFAULT_PASID_RANGE,
  PASID_MAX,
  DMAR_REASON_PASID_ENTRY_NOT_PRESENT,
  ARCH_CODES,
  LAM_OFF,
  threadAddr,
  mmAddr,
  wqAddr,
  fileAddr,
  UNTAG_MASK_OFF,
  UNTAG_MASK_U57,
  LAM_U57_BITS,
} from '../machines/protocol.ts';
export { REFUSALS, REFUSAL_CODES, describeRefusal } from '../machines/refusals.ts';
export type { Refusal, RefusalInfo } from '../machines/refusals.ts';
