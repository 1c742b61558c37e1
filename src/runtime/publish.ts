/**
 * Publishing a delivery on an rxjs `Subject` so that a subscriber's error fails the delivery, at once,
 * instead of surfacing later as an uncaught exception: the one way svasim's bus (`System.delivered$`)
 * and the interop router (`SvasimRouter.delivered$`) both publish.
 */
import { config as rxjsConfig, type Subject } from 'rxjs';

/**
 * `subject.next(value)`, with what a subscriber throws thrown from here (wrapped by `wrap`) once every
 * subscriber has had the value. Nothing happens when nobody subscribed (no rxjs machinery runs).
 *
 * rxjs 7 reports a subscriber's error later (a timer), after the delivery is over; with its synchronous
 * error handling on for the duration of this call, `next` throws it here instead. The flag is rxjs's own
 * and restored at once (no other code runs in between). That holds for operators of the same rxjs copy
 * as svasim's.
 */
export function publishSync<T>(subject: Subject<T>, value: T, wrap: (thrown: unknown) => Error): void {
  if (!subject.observed) return;
  const sync = rxjsConfig.useDeprecatedSynchronousErrorHandling;
  rxjsConfig.useDeprecatedSynchronousErrorHandling = true;
  try {
    subject.next(value);
  } catch (e) {
    throw wrap(e);
  } finally {
    rxjsConfig.useDeprecatedSynchronousErrorHandling = sync;
  }
}
