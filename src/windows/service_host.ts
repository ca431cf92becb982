/**
 * The Windows service host of `--service run`. It calls StartServiceCtrlDispatcherW first thing
 * (on a worker thread: the call blocks for the service's lifetime). Started by the service
 * manager, the dispatcher calls ServiceMain, which registers HandlerEx and reports START_PENDING;
 * the agent starts and the host reports RUNNING. Started from a console, the dispatcher fails at
 * once (ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) and the agent runs in the foreground until
 * Ctrl+C.
 *
 * HandlerEx runs on the dispatcher's thread (Deno hands the call to the event loop and blocks
 * that thread until it returns): it copies what it needs (the session id, the time), queues the
 * work and returns at once. The queue runs one task at a time, in order, so a stop waits for the
 * session changes before it.
 *
 * @module
 */
import {
  advapi32,
  SERVICE_CONTROL_INTERROGATE,
  SERVICE_CONTROL_SESSIONCHANGE,
  SERVICE_CONTROL_SHUTDOWN,
  SERVICE_CONTROL_STOP,
} from "../../ffi/advapi32.ts";
import { unwrap } from "../../ffi/error.ts";
import {
  decodeSessionNotification,
  encodeServiceStatus,
  encodeServiceTable,
  encodeSessionNotification,
  WTSSESSION_NOTIFICATION_SIZE,
} from "../../ffi/structs.ts";
import { wide } from "../../ffi/wide.ts";
import { type Clock, systemClock, type Timer } from "../clock.ts";
import { runInForeground } from "../foreground.ts";
import type { ServiceHooks } from "../platform.ts";
import { errorText } from "../text.ts";
import { SessionMemory, type UserLookup, wtsCodeName } from "./session_map.ts";
import {
  decodeTestControl,
  type HostState,
  RELOAD_CONTROL,
  SERVICE_NAME,
  serviceExitCode,
  serviceStatusFor,
  TEST_HOOKS_ENV,
} from "./service_status.ts";
import { enumerateWhenReady, querySessionUser, type WtsSession } from "./wts.ts";

const NO_ERROR = 0;
const ERROR_CALL_NOT_IMPLEMENTED = 120;

const SERVICE_MAIN = {
  parameters: [
    "u32", // DWORD dwNumServicesArgs
    "pointer", // LPWSTR* lpServiceArgVectors
  ],
  result: "void",
} as const;

/** LPHANDLER_FUNCTION_EX. */
const HANDLER_EX = {
  parameters: [
    "u32", // DWORD dwControl
    "u32", // DWORD dwEventType
    "pointer", // LPVOID lpEventData: owned by the service manager, valid during the call
    "pointer", // LPVOID lpContext
  ],
  result: "u32", // DWORD: NO_ERROR, or ERROR_CALL_NOT_IMPLEMENTED for unknown controls
} as const;

/** Options of {@link ServiceHost}, mostly for tests. */
export interface ServiceHostOptions {
  /** Default {@link SERVICE_NAME}. */
  serviceName?: string;
  /** Accept the test-only session controls; default: `USM_TEST_HOOKS=1` in the environment. */
  testHooks?: boolean;
  /** How long to wait for Terminal Services before enumerating sessions (default 60 s). */
  termSrvTimeoutMs?: number;
  /** Replaces WTSQuerySessionInformationW. */
  lookupUser?: UserLookup;
  /** Replaces the start-up session enumeration. */
  enumerate?: (signal: AbortSignal) => Promise<WtsSession[] | undefined>;
  /** The host's timers and timings, and the time of a session change; default the system clock. */
  clock?: Clock;
}

/**
 * What the host measured, for logs and benchmarks: readings of the clock's monotonic time (the
 * system clock's counts milliseconds since the process started).
 */
export interface HostTimings {
  /** When StartServiceCtrlDispatcherW was called. */
  dispatcherCalledMs?: number;
  /** When ServiceMain ran. */
  serviceMainMs?: number;
  /** When RUNNING was reported. */
  runningMs?: number;
}

/** How long the host waits for the dispatcher to return after it reported STOPPED. */
const DISPATCHER_RETURN_MS = 5_000;
/** How often a pending state is reported again (a new checkpoint) while the agent starts or stops. */
const PENDING_REPORT_MS = 5_000;

/**
 * Everything the operating system holds a pointer to while the dispatcher runs: the service
 * name, the service table and the two callbacks. Released once, by {@link HostResources.close},
 * after the dispatcher has returned.
 */
class HostResources {
  readonly name: Uint16Array<ArrayBuffer>;
  readonly serviceMain: Deno.UnsafeCallback<typeof SERVICE_MAIN>;
  readonly handlerEx: Deno.UnsafeCallback<typeof HANDLER_EX>;
  readonly table: Uint8Array<ArrayBuffer>;
  #closed = false;

  constructor(
    serviceName: string,
    serviceMain: (argc: number, argv: Deno.PointerValue) => void,
    handlerEx: (
      control: number,
      eventType: number,
      eventData: Deno.PointerValue,
      context: Deno.PointerValue,
    ) => number,
  ) {
    this.name = wide(serviceName);
    this.serviceMain = Deno.UnsafeCallback.threadSafe(SERVICE_MAIN, serviceMain);
    this.handlerEx = Deno.UnsafeCallback.threadSafe(HANDLER_EX, handlerEx);
    this.table = encodeServiceTable([[
      Deno.UnsafePointer.value(Deno.UnsafePointer.of(this.name)) as bigint,
      Deno.UnsafePointer.value(this.serviceMain.pointer) as bigint,
    ]]);
  }

  /** Releases the callbacks; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.serviceMain.close();
    this.handlerEx.close();
  }
}

/** Hosts the agent as a Windows service (or in the console); see the module documentation. */
export class ServiceHost {
  #hooks: ServiceHooks;
  #serviceName: string;
  #testHooks: boolean;
  #termSrvTimeoutMs: number;
  #clock: Clock;
  #memory: SessionMemory;
  #enumerate: (signal: AbortSignal) => Promise<WtsSession[] | undefined>;
  #resources?: HostResources;
  #statusHandle: Deno.PointerValue = null;
  #state: HostState = "start_pending";
  #checkPoint = 0;
  #pendingTimer?: Timer;
  #queue: Promise<void> = Promise.resolve();
  #stopRequested = false;
  #abort = new AbortController();
  #serviceMainCalled = Promise.withResolvers<void>();
  #finished = Promise.withResolvers<number>();
  #priming?: Promise<void>;
  readonly timings: HostTimings = {};

  constructor(hooks: ServiceHooks, options: ServiceHostOptions = {}) {
    this.#hooks = hooks;
    this.#serviceName = options.serviceName ?? SERVICE_NAME;
    this.#testHooks = options.testHooks ?? readTestHooksEnv();
    this.#termSrvTimeoutMs = options.termSrvTimeoutMs ?? 60_000;
    this.#clock = options.clock ?? systemClock;
    this.#memory = new SessionMemory(options.lookupUser ?? querySessionUser);
    this.#enumerate = options.enumerate ??
      ((signal) => enumerateWhenReady(this.#termSrvTimeoutMs, { signal, clock: this.#clock }));
  }

  /**
   * Connects to the service manager and hosts the agent until it stops. Returns the process
   * exit code: 0 after a clean stop, the service-specific code when the agent could not start.
   */
  async run(): Promise<number> {
    const resources = new HostResources(
      this.#serviceName,
      () => this.#serviceMain(),
      (control, eventType, eventData) => this.#handlerEx(control, eventType, eventData),
    );
    this.#resources = resources;
    this.timings.dispatcherCalledMs = this.#clock.monotonic();
    const dispatcher = advapi32().StartServiceCtrlDispatcherW(resources.table);
    const first = await Promise.race([
      dispatcher.then((ok) => ({ returned: true, ok })),
      this.#serviceMainCalled.promise.then(() => ({ returned: false, ok: 1 })),
    ]);
    if (first.returned) {
      // Not started by the service manager (ERROR_FAILED_SERVICE_CONTROLLER_CONNECT 1063; the
      // code itself is unreadable: it belongs to the worker thread of the nonblocking call).
      resources.close();
      this.#hooks.log(
        "info",
        "Not started by the service manager: running in the console until Ctrl+C",
      );
      return await runInForeground(this.#hooks);
    }
    const code = await this.#finished.promise;
    // The dispatcher returns once STOPPED is reported; the OS holds the callbacks until then.
    const returned = await Promise.race([
      dispatcher.then(() => true),
      new Promise<false>((resolve) => {
        const timer = this.#clock.after(DISPATCHER_RETURN_MS, () => resolve(false));
        dispatcher.finally(() => timer.cancel());
      }),
    ]);
    if (returned) resources.close();
    else this.#hooks.log("warn", "The service dispatcher did not return 5 s after STOPPED");
    return code;
  }

  /** The memory of session users (for status and tests). */
  get sessions(): SessionMemory {
    return this.#memory;
  }

  #serviceMain(): void {
    this.timings.serviceMainMs = this.#clock.monotonic();
    try {
      this.#statusHandle = unwrap(
        "RegisterServiceCtrlHandlerExW",
        advapi32().RegisterServiceCtrlHandlerExW(
          this.#resources!.name,
          this.#resources!.handlerEx.pointer,
          null,
        ),
      );
      this.#report("start_pending");
    } catch (error) {
      this.#hooks.log("error", `The service could not register its handler: ${errorText(error)}`);
      this.#serviceMainCalled.resolve();
      this.#finished.resolve(serviceExitCode(error));
      return;
    }
    this.#serviceMainCalled.resolve();
    this.#enqueue("start", () => this.#start());
  }

  #handlerEx(control: number, eventType: number, eventData: Deno.PointerValue): number {
    try {
      switch (control) {
        case SERVICE_CONTROL_INTERROGATE:
          return NO_ERROR;
        case SERVICE_CONTROL_STOP:
        case SERVICE_CONTROL_SHUTDOWN:
          this.#requestStop(control === SERVICE_CONTROL_STOP ? "STOP" : "SHUTDOWN");
          return NO_ERROR;
        case SERVICE_CONTROL_SESSIONCHANGE: {
          const at = Temporal.Instant.fromEpochMilliseconds(this.#clock.wallNow());
          const session = readSessionId(eventData);
          this.#enqueue("session change", () => this.#sessionChange(eventType, session, at));
          return NO_ERROR;
        }
        case RELOAD_CONTROL:
          this.#enqueue("reload", () => this.#hooks.reload());
          return NO_ERROR;
      }
      const test = this.#testHooks ? decodeTestControl(control) : undefined;
      if (test) {
        this.#enqueue("test control", () => this.#synthesize(test.wtsCode, test.session));
        return NO_ERROR;
      }
      return ERROR_CALL_NOT_IMPLEMENTED;
    } catch (error) {
      this.#hooks.log("error", `Service control ${control} failed: ${errorText(error)}`);
      return NO_ERROR;
    }
  }

  /**
   * Test-only path (USM_TEST_HOOKS=1): calls the service's own HandlerEx through its native
   * function pointer with a synthesised WTSSESSION_NOTIFICATION, as the service manager would.
   */
  #synthesize(wtsCode: number, session: number): Promise<void> {
    const notification = encodeSessionNotification(session);
    const handler = new Deno.UnsafeFnPointer(this.#resources!.handlerEx.pointer, HANDLER_EX);
    handler.call(
      SERVICE_CONTROL_SESSIONCHANGE,
      wtsCode,
      Deno.UnsafePointer.of(notification),
      null,
    );
    return Promise.resolve();
  }

  async #start(): Promise<void> {
    try {
      await this.#hooks.start();
    } catch (error) {
      const code = serviceExitCode(error);
      this.#hooks.log(
        "error",
        `The agent could not start (service exit code ${code}): ${errorText(error)}`,
      );
      this.#report("stopped", code);
      this.#finished.resolve(code);
      return;
    }
    if (this.#stopRequested) return; // the queued stop reports the rest
    this.#report("running");
    this.timings.runningMs = this.#clock.monotonic();
    const t = this.timings;
    this.#hooks.log(
      "info",
      `Service running: dispatcher called ${
        t.dispatcherCalledMs!.toFixed(0)
      } ms after process start, START_PENDING to RUNNING in ${
        (t.runningMs! - t.serviceMainMs!).toFixed(0)
      } ms`,
    );
    this.#priming = this.#primeSessions();
  }

  async #primeSessions(): Promise<void> {
    try {
      const sessions = await this.#enumerate(this.#abort.signal);
      if (sessions === undefined) {
        if (!this.#abort.signal.aborted) {
          this.#hooks.log("warn", "Terminal Services was not ready: sessions not enumerated");
        }
        return;
      }
      for (const session of sessions) {
        this.#memory.learn(session.sessionId);
        await this.#clock.sleep(0); // let HandlerEx's controls in between (issue 9 item 11)
      }
      this.#hooks.log(
        "debug",
        `Sessions at start: ${sessions.length} enumerated, ${this.#memory.size} with a user`,
      );
    } catch (error) {
      this.#hooks.log("warn", `Sessions could not be enumerated at start: ${errorText(error)}`);
    }
  }

  async #sessionChange(wtsCode: number, session: number, at: Temporal.Instant): Promise<void> {
    const change = this.#memory.resolve(wtsCode, session, at);
    if (!change) {
      this.#hooks.log("debug", `Ignored ${wtsCodeName(wtsCode)} for session ${session}`);
      return;
    }
    await this.#hooks.sessionChange(change);
  }

  #requestStop(reason: string): void {
    if (this.#stopRequested) return;
    this.#stopRequested = true;
    this.#abort.abort();
    // Not from inside HandlerEx: Wine's service manager waits for HandlerEx's answer before it
    // takes a status report, so SetServiceStatus there stalls until ControlService times out.
    this.#clock.after(0, () => this.#stop(reason));
  }

  #stop(reason: string): void {
    if (this.#state !== "stopped") this.#report("stop_pending");
    this.#enqueue("stop", async () => {
      if (this.#state === "stopped") return; // start failed and reported
      this.#hooks.log("info", `Service ${reason} received: stopping`);
      let code = 0;
      try {
        await this.#hooks.stop();
      } catch (error) {
        code = serviceExitCode(error);
        this.#hooks.log("error", `The agent did not stop cleanly: ${errorText(error)}`);
      }
      await this.#priming;
      this.#report("stopped", code);
      this.#finished.resolve(code);
    });
  }

  #enqueue(what: string, task: () => Promise<void>): void {
    this.#queue = this.#queue.then(task).catch((error) => {
      this.#hooks.log("error", `Service ${what} failed: ${errorText(error)}`);
    });
  }

  #report(state: HostState, exitCode = 0): void {
    this.#state = state;
    this.#pendingTimer?.cancel();
    this.#pendingTimer = undefined;
    const pending = state === "start_pending" || state === "stop_pending";
    this.#checkPoint = pending ? this.#checkPoint + 1 : 0;
    this.#setStatus(exitCode);
    if (pending) {
      // Keep the service manager patient while the agent starts or stops.
      this.#pendingTimer = this.#clock.every(PENDING_REPORT_MS, () => {
        this.#checkPoint++;
        this.#setStatus(0);
      });
    }
  }

  #setStatus(exitCode: number): void {
    if (this.#statusHandle === null) return;
    try {
      const status = serviceStatusFor(this.#state, { checkPoint: this.#checkPoint, exitCode });
      unwrap(
        "SetServiceStatus",
        advapi32().SetServiceStatus(this.#statusHandle, encodeServiceStatus(status)),
      );
    } catch (error) {
      this.#hooks.log(
        "error",
        `Cannot report the service state ${this.#state}: ${errorText(error)}`,
      );
    }
  }
}

/** Copies dwSessionId out of a WTSSESSION_NOTIFICATION the service manager owns. */
function readSessionId(eventData: Deno.PointerValue): number {
  if (eventData === null) throw new TypeError("SERVICE_CONTROL_SESSIONCHANGE without event data");
  const copy = new Uint8Array(WTSSESSION_NOTIFICATION_SIZE);
  new Deno.UnsafePointerView(eventData).copyInto(copy);
  return decodeSessionNotification(copy).sessionId;
}

function readTestHooksEnv(): boolean {
  try {
    return Deno.env.get(TEST_HOOKS_ENV) === "1";
  } catch {
    return false;
  }
}

/** Hosts the agent: `Platform.runService` on Windows. */
export async function runWindowsService(
  hooks: ServiceHooks,
  options?: ServiceHostOptions,
): Promise<number> {
  return await new ServiceHost(hooks, options).run();
}
