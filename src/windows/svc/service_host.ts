/**
 * The Windows service host of `--service run`. It calls StartServiceCtrlDispatcherW first thing
 * (on a worker thread: the call blocks for the service's lifetime). Started by the service
 * manager, the dispatcher calls ServiceMain, which registers HandlerEx and reports START_PENDING;
 * from then on session changes are accepted and handed to the session source the agent listens
 * to (session_source.ts; the agent holds them until its journal is open). host_lifecycle.ts has
 * the order of everything that follows: journal first, RUNNING, then the network; stop,
 * preshutdown and their caps. Started from a console, the dispatcher fails at once
 * (ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) and the agent runs in the foreground until Ctrl+C.
 *
 * HandlerEx runs on the dispatcher's thread, which Deno blocks until the JavaScript callback has
 * run on the event loop. Its first statement takes the time of the event; it copies the session
 * id, queues the rest (the user lookup, the journal) on a later turn of the event loop and
 * returns at once.
 *
 * Control 128 (reload) is rate-limited. The test-only session controls are not part of this
 * module: a test build registers them with {@link registerExtraControls}
 * (tests/windows/test_controls.ts); a release build has none.
 *
 * @module
 */
import {
  advapi32,
  SERVICE_CONTROL_INTERROGATE,
  SERVICE_CONTROL_PRESHUTDOWN,
  SERVICE_CONTROL_SESSIONCHANGE,
  SERVICE_CONTROL_SHUTDOWN,
  SERVICE_CONTROL_STOP,
} from "../../../ffi/advapi32.ts";
import { unwrap } from "../../../ffi/error.ts";
import {
  decodeSessionNotification,
  encodeServiceStatus,
  encodeServiceTable,
  WTSSESSION_NOTIFICATION_SIZE,
} from "../../../ffi/structs.ts";
import { wide } from "../../../ffi/wide.ts";
import { type Clock, systemClock } from "../../clock.ts";
import { runInForeground } from "../../foreground.ts";
import type { ServiceHooks } from "../../platform.ts";
import { errorText } from "../../text.ts";
import { serviceExitCode } from "../../exit_codes.ts";
import { HostLifecycle } from "./host_lifecycle.ts";
import {
  type HostState,
  RELOAD_CONTROL,
  SERVICE_NAME,
  serviceStatusFor,
} from "./service_status.ts";
import { wtsCodeName } from "./session_map.ts";
import type { WtsSessionSource } from "./session_source.ts";

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
export const HANDLER_EX = {
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
  /**
   * Where SERVICE_CONTROL_SESSIONCHANGE goes: the session source the agent listens to. Without
   * one (a `--simulate` run), session changes are ignored.
   */
  sessions?: () => WtsSessionSource | undefined;
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

/**
 * Extra user-defined controls (a test build's session controls): returns true when it took the
 * control. `handlerEx` is the service's own HandlerEx, callable through its native pointer.
 */
export type ExtraControls = (
  control: number,
  handlerEx: Deno.UnsafeCallback<typeof HANDLER_EX>["pointer"],
) => boolean;

let extraControls: ExtraControls | undefined;

/** Registers the extra controls of this process (tests/windows/test_controls.ts only). */
export function registerExtraControls(controls: ExtraControls): void {
  extraControls = controls;
}

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
  #clock: Clock;
  #sessions: () => WtsSessionSource | undefined;
  #resources?: HostResources;
  #statusHandle: Deno.PointerValue = null;
  #lifecycle: HostLifecycle;
  #serviceMainCalled = Promise.withResolvers<void>();
  #registrationFailed = Promise.withResolvers<number>();
  readonly timings: HostTimings = {};

  constructor(hooks: ServiceHooks, options: ServiceHostOptions = {}) {
    this.#hooks = hooks;
    this.#serviceName = options.serviceName ?? SERVICE_NAME;
    this.#clock = options.clock ?? systemClock;
    this.#sessions = options.sessions ?? (() => undefined);
    this.#lifecycle = new HostLifecycle({
      hooks,
      clock: this.#clock,
      report: (state, details) => this.#setStatus(state, details),
      onRunning: () => this.#running(),
    });
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
    const code = await Promise.race([
      this.#lifecycle.finished,
      this.#registrationFailed.promise,
    ]);
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

  /**
   * The service's own HandlerEx, as the service manager calls it (tests synthesise session
   * changes through it); null before `run`.
   */
  get handlerEx(): Deno.UnsafeCallback<typeof HANDLER_EX>["pointer"] | null {
    return this.#resources?.handlerEx.pointer ?? null;
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
    } catch (error) {
      this.#hooks.log("error", `The service could not register its handler: ${errorText(error)}`);
      this.#serviceMainCalled.resolve();
      this.#registrationFailed.resolve(serviceExitCode(error));
      return;
    }
    this.#serviceMainCalled.resolve();
    // From here on session changes are accepted and held (START_PENDING accepts them).
    this.#lifecycle.begin();
  }

  #handlerEx(control: number, eventType: number, eventData: Deno.PointerValue): number {
    // The event's time, first: before anything else can delay it.
    const at = this.#clock.wallNow();
    try {
      switch (control) {
        case SERVICE_CONTROL_INTERROGATE:
          return NO_ERROR;
        case SERVICE_CONTROL_STOP:
          this.#later(() => this.#lifecycle.stop());
          return NO_ERROR;
        case SERVICE_CONTROL_PRESHUTDOWN:
        case SERVICE_CONTROL_SHUTDOWN:
          this.#later(() => this.#lifecycle.shutdown());
          return NO_ERROR;
        case SERVICE_CONTROL_SESSIONCHANGE: {
          const session = readSessionId(eventData);
          this.#later(() => this.#sessionChange(eventType, session, at));
          return NO_ERROR;
        }
        case RELOAD_CONTROL:
          this.#later(() => this.#lifecycle.reload());
          return NO_ERROR;
      }
      if (extraControls?.(control, this.#resources!.handlerEx.pointer)) return NO_ERROR;
      return ERROR_CALL_NOT_IMPLEMENTED;
    } catch (error) {
      this.#hooks.log("error", `Service control ${control} failed: ${errorText(error)}`);
      return NO_ERROR;
    }
  }

  /**
   * Runs `fn` on a later turn of the event loop: HandlerEx returns first. (Wine's service
   * manager also waits for HandlerEx's answer before it takes a status report, so
   * SetServiceStatus from inside HandlerEx would stall until ControlService times out.)
   */
  #later(fn: () => void): void {
    this.#clock.after(0, () => {
      try {
        fn();
      } catch (error) {
        this.#hooks.log("error", `Service control failed: ${errorText(error)}`);
      }
    });
  }

  #sessionChange(wtsCode: number, session: number, atMs: number): void {
    const sessions = this.#sessions();
    if (sessions) sessions.notify(wtsCode, session, atMs);
    else this.#hooks.log("debug", `Ignored ${wtsCodeName(wtsCode)} for session ${session}`);
  }

  #running(): void {
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
  }

  #setStatus(state: HostState, details: { checkPoint: number; exitCode: number }): void {
    if (this.#statusHandle === null) return;
    try {
      const status = serviceStatusFor(state, details);
      unwrap(
        "SetServiceStatus",
        advapi32().SetServiceStatus(this.#statusHandle, encodeServiceStatus(status)),
      );
    } catch (error) {
      this.#hooks.log("error", `Cannot report the service state ${state}: ${errorText(error)}`);
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

/** Hosts the agent: `Platform.runService` on Windows. */
export async function runWindowsService(
  hooks: ServiceHooks,
  options?: ServiceHostOptions,
): Promise<number> {
  return await new ServiceHost(hooks, options).run();
}
