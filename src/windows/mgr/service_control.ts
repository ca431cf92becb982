/**
 * Start and stop that survive a service in a pending state. A control sent while the service is
 * START_PENDING or STOP_PENDING fails with ERROR_SERVICE_CANNOT_ACCEPT_CTRL (1061), and
 * StartServiceW on a service still stopping fails with ERROR_SERVICE_ALREADY_RUNNING: right
 * after boot, during a failure restart or while an old instance exits, install, stop, restart
 * and remove would abort. Here each first waits for a stable state (RUNNING or STOPPED), then
 * acts; when the action still fails, the state is read again directly (an error code read
 * through a second FFI call can be lost) and the action retried while the service is pending.
 *
 * The service manager is reached through {@link ServiceOps}, so the logic runs on Linux against
 * a fake service manager.
 *
 * @module
 */
import {
  SERVICE_CONTINUE_PENDING,
  SERVICE_PAUSE_PENDING,
  SERVICE_RUNNING,
  SERVICE_START_PENDING,
  SERVICE_STOP_PENDING,
  SERVICE_STOPPED,
} from "../../../ffi/advapi32.ts";
import type { Clock } from "../../clock.ts";

/** The service manager calls start and stop need, for one service. */
export interface ServiceOps {
  /** QueryServiceStatusEx: the current state and process id. */
  query(): { currentState: number; processId: number };
  /** ControlService(SERVICE_CONTROL_STOP); throws when refused. */
  stop(): void;
  /** StartServiceW; throws when refused. */
  start(): void;
}

/** Options of {@link stopWhenStable} and {@link startWhenStable}. */
export interface StableOptions {
  clock: Clock;
  /** The whole wait, pending states included (default 30 s). */
  timeoutMs?: number;
  /** Between two status queries (default 100 ms). */
  pollMs?: number;
}

/** A service still STOPPED this long after StartServiceW has failed to start. */
const START_GRACE_MS = 3_000;

const PENDING = new Set([
  SERVICE_START_PENDING,
  SERVICE_STOP_PENDING,
  SERVICE_CONTINUE_PENDING,
  SERVICE_PAUSE_PENDING,
]);

/** True for the states in which a service accepts no control. */
export function isPending(state: number): boolean {
  return PENDING.has(state);
}

/** Polls until `done(state)` or the deadline; returns the last status. */
async function pollUntil(
  ops: ServiceOps,
  done: (state: number) => boolean,
  deadline: number,
  options: StableOptions,
): Promise<{ currentState: number; processId: number }> {
  let status = ops.query();
  while (!done(status.currentState) && options.clock.monotonic() < deadline) {
    await options.clock.sleep(options.pollMs ?? 100);
    status = ops.query();
  }
  return status;
}

/**
 * Stops the service: waits out a pending state, sends STOP, retries while the service is
 * pending, and waits for STOPPED. Returns the last status (STOPPED unless the deadline passed)
 * and the pid of the process that ran the service (to wait for its exit).
 */
export async function stopWhenStable(
  ops: ServiceOps,
  options: StableOptions,
): Promise<{ currentState: number; processId: number; ranAsPid: number }> {
  const deadline = options.clock.monotonic() + (options.timeoutMs ?? 30_000);
  let ranAsPid = ops.query().processId;
  let status = await pollUntil(ops, (s) => !isPending(s), deadline, options);
  ranAsPid = status.processId || ranAsPid;
  while (status.currentState !== SERVICE_STOPPED && options.clock.monotonic() < deadline) {
    try {
      ops.stop();
    } catch (error) {
      status = ops.query(); // the decision comes from the state, not the error code alone
      if (status.currentState === SERVICE_STOPPED) break;
      if (!isPending(status.currentState)) throw error;
      ranAsPid = status.processId || ranAsPid;
      status = await pollUntil(ops, (s) => !isPending(s), deadline, options);
      continue;
    }
    status = await pollUntil(ops, (s) => s === SERVICE_STOPPED, deadline, options);
  }
  return { ...status, ranAsPid };
}

/**
 * Starts the service: waits out a pending state (a stop in progress ends first), sends START
 * unless it is running, retries while the service is pending, and waits for RUNNING (or for a
 * fall back to STOPPED: the start failed). Returns the last status.
 */
export async function startWhenStable(
  ops: ServiceOps,
  options: StableOptions,
): Promise<{ currentState: number; processId: number }> {
  const deadline = options.clock.monotonic() + (options.timeoutMs ?? 30_000);
  let status = await pollUntil(ops, (s) => !isPending(s), deadline, options);
  if (status.currentState === SERVICE_RUNNING) return status;
  for (;;) {
    try {
      ops.start();
      break;
    } catch (error) {
      status = ops.query();
      if (
        status.currentState === SERVICE_RUNNING || status.currentState === SERVICE_START_PENDING
      ) {
        break; // started meanwhile (by the service manager or another administrator)
      }
      if (!isPending(status.currentState) || options.clock.monotonic() >= deadline) throw error;
      status = await pollUntil(ops, (s) => !isPending(s), deadline, options);
    }
  }
  // Wait for RUNNING; a service that reports STOPPED after it was pending, or that is still
  // STOPPED a few seconds after StartServiceW, has failed to start.
  const grace = options.clock.monotonic() + START_GRACE_MS;
  let seenPending = false;
  return await pollUntil(
    ops,
    (s) => {
      if (isPending(s)) seenPending = true;
      return s === SERVICE_RUNNING ||
        (s === SERVICE_STOPPED && (seenPending || options.clock.monotonic() >= grace));
    },
    deadline,
    options,
  );
}
