/**
 * The device file (machines/file.ts): references, the mmap gates in idxd_cdev_mmap's order, the release
 * (drain always, unbind if still bound, the bond's grab dropped), a driver-level unbind.
 */
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { fileMachine, type FileInput } from '../../machines/file.ts';
import type { Outgoing } from '../../machines/protocol.ts';
import { unsupported } from '../../src/runtime/compiled.ts';

function file(input: Partial<FileInput> = {}) {
  const out: Outgoing[] = [];
  const actor = createActor(fileMachine, { input: { id: '1.1', device: 'dsa0', mm: 1, pasid: 7, holder: 'fd:A/dsa0', safe: true, ...input } });
  actor.on('*', (e) => void out.push(e as Outgoing));
  actor.start();
  const take = (): Outgoing[] => out.splice(0);
  return { actor, take, state: () => actor.getSnapshot().value, ctx: () => actor.getSnapshot().context };
}

describe('file', () => {
  it('compiles (the runtime steps it with its compiled executor)', () => {
    expect(unsupported(fileMachine)).toBeNull();
  });

  it('get adds a reference and acks; a put that is not the last answers at once', () => {
    const f = file();
    f.actor.send({ type: 'file.get', holder: 'fd:C/dsa0', reply: 'mm:2' });
    expect(f.take()).toStrictEqual([{ type: 'file.got', holder: 'fd:C/dsa0', file: 'file:1.1', to: 'mm:2' }]);
    f.actor.send({ type: 'file.put', holder: 'fd:A/dsa0', reply: 'mm:1' });
    expect(f.take()).toStrictEqual([{ type: 'file.dropped', holder: 'fd:A/dsa0', file: 'file:1.1', released: false, to: 'mm:1' }]);
    expect(f.ctx().holders).toStrictEqual(['fd:C/dsa0']);
  });

  it('the last put releases: drain, unbind, the bond drops ctx->mm, then the put returns', () => {
    const f = file();
    f.actor.send({ type: 'file.get', holder: 'fd:C/dsa0', reply: 'mm:2' });
    f.actor.send({ type: 'file.put', holder: 'fd:A/dsa0', reply: 'mm:1' });
    f.take();
    f.actor.send({ type: 'file.put', holder: 'fd:C/dsa0', reply: 'mm:2' });
    expect(f.take()).toStrictEqual([{ type: 'wq.drain', pasid: 7, mm: 1, file: 'file:1.1', to: 'wq:dsa0' }]);
    f.actor.send({ type: 'wq.drained', device: 'dsa0', pasid: 7 });
    expect(f.take()).toStrictEqual([{ type: 'iommu.unbind', mm: 1, device: 'dsa0', pasid: 7, count: 1, file: 'file:1.1', to: 'iommu' }]);
    f.actor.send({ type: 'iommu.unbound', device: 'dsa0', pasid: 7 });
    expect(f.take()).toStrictEqual([
      { type: 'mm.drop', device: 'dsa0', file: 'file:1.1', to: 'mm:1' },
      { type: 'file.dropped', holder: 'fd:C/dsa0', file: 'file:1.1', released: true, to: 'mm:2' },
    ]);
    expect(f.state()).toBe('released');
  });

  it('after a driver-level unbind the release still drains, and does not unbind again', () => {
    const f = file();
    f.actor.send({ type: 'file.unbind', thread: 'A', reply: 'mm:1' });
    expect(f.take()).toStrictEqual([{ type: 'iommu.unbind', mm: 1, device: 'dsa0', pasid: 7, count: 1, file: 'file:1.1', to: 'iommu' }]);
    f.actor.send({ type: 'iommu.unbound', device: 'dsa0', pasid: 7 });
    expect(f.take()).toStrictEqual([
      { type: 'mm.drop', device: 'dsa0', file: 'file:1.1', to: 'mm:1' },
      { type: 'file.unbound', thread: 'A', file: 'file:1.1', to: 'mm:1' },
    ]);
    f.actor.send({ type: 'file.put', holder: 'fd:A/dsa0', reply: 'mm:1' });
    expect(f.take()).toStrictEqual([{ type: 'wq.drain', pasid: 7, mm: 1, file: 'file:1.1', to: 'wq:dsa0' }]);
    f.actor.send({ type: 'wq.drained', device: 'dsa0', pasid: 7 });
    expect(f.take()).toStrictEqual([{ type: 'file.dropped', holder: 'fd:A/dsa0', file: 'file:1.1', released: true, to: 'mm:1' }]);
    expect(f.state()).toBe('released');
  });

  it('mmap: CAP_SYS_RAWIO gate first, then the other-mm gate, else a mapping reference', () => {
    const unsafe = file({ safe: false });
    unsafe.actor.send({ type: 'file.mmap', thread: 'C', mm: 2, caps: [], holder: 'map:mm:2', reply: 'mm:2' });
    expect(unsafe.take()).toStrictEqual([{ type: 'file.mapped', thread: 'C', device: 'dsa0', file: 'file:1.1', holder: 'map:mm:2', errno: 'EPERM', reason: 'no-cap-sys-rawio', to: 'mm:2' }]);
    unsafe.actor.send({ type: 'file.mmap', thread: 'C', mm: 2, caps: ['CAP_SYS_RAWIO'], holder: 'map:mm:2', reply: 'mm:2' });
    expect(unsafe.take()).toStrictEqual([{ type: 'file.mapped', thread: 'C', device: 'dsa0', file: 'file:1.1', holder: 'map:mm:2', errno: 'EPERM', reason: 'file-of-other-mm', to: 'mm:2' }]);
    unsafe.actor.send({ type: 'file.mmap', thread: 'A', mm: 1, caps: ['CAP_SYS_RAWIO'], holder: 'map:mm:1', reply: 'mm:1' });
    expect(unsafe.take()).toStrictEqual([{ type: 'file.mapped', thread: 'A', device: 'dsa0', file: 'file:1.1', holder: 'map:mm:1', to: 'mm:1' }]);
    expect(unsafe.ctx().holders).toStrictEqual(['fd:A/dsa0', 'map:mm:1']);
  });
});
