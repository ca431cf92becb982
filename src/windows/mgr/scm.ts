/**
 * The service control manager (SCM), wrapped the way golang.org/x/sys/windows/svc/mgr wraps it:
 * open the manager or a service, create one or change its configuration (and the "config2"
 * settings: description, failure actions), query its status, send it a control, wait for a
 * state, start, stop and delete it. Nothing here knows about the agent: its service name,
 * description, failure actions and command line are the installer's (installer.ts).
 *
 * Windows only: every function below {@link describeStatus} calls into the system, and every
 * one that changes something needs an elevated process (elevation.ts).
 *
 * @module
 */
import {
  advapi32,
  DELETE,
  HKEY_LOCAL_MACHINE_VALUE,
  KEY_READ,
  SC_MANAGER_CONNECT,
  SC_STATUS_PROCESS_INFO,
  SERVICE_ALL_ACCESS,
  SERVICE_AUTO_START,
  SERVICE_CONFIG_DESCRIPTION,
  SERVICE_CONFIG_FAILURE_ACTIONS,
  SERVICE_CONTROL_STOP,
  SERVICE_ERROR_NORMAL,
  SERVICE_QUERY_STATUS,
  SERVICE_RUNNING,
  SERVICE_START,
  SERVICE_STOP,
  SERVICE_STOPPED,
  SERVICE_WIN32_OWN_PROCESS,
} from "../../../ffi/advapi32.ts";
import { ERROR_SERVICE_SPECIFIC_ERROR, unwrap, Win32Error } from "../../../ffi/error.ts";
import {
  decodeFailureActions,
  decodeScActions,
  decodeServiceStatus,
  decodeServiceStatusProcess,
  encodeFailureActions,
  encodeScActions,
  encodeServiceDescription,
  readAddress,
  SC_ACTION_SIZE,
  type ScAction,
  SERVICE_STATUS_PROCESS_SIZE,
  SERVICE_STATUS_SIZE,
  type ServiceStatus,
  type ServiceStatusProcess,
} from "../../../ffi/structs.ts";
import { kernel32 } from "../../../ffi/kernel32.ts";
import { readWide, wide } from "../../../ffi/wide.ts";
import { type Clock, systemClock } from "../../clock.ts";
import { type ServiceOps, startWhenStable, stopWhenStable } from "./service_control.ts";

/** How long start, stop and restart wait for the service's new state. */
export const STATE_TIMEOUT_MS = 30_000;
/** How often {@link waitForState} asks the service manager for the state. */
const POLL_INTERVAL_MS = 100;
/** A service still STOPPED this long after StartServiceW has failed to start. */
const START_GRACE_MS = 3_000;

const STATE_NAMES: Record<number, string> = {
  1: "STOPPED",
  2: "START_PENDING",
  3: "STOP_PENDING",
  4: "RUNNING",
  5: "CONTINUE_PENDING",
  6: "PAUSE_PENDING",
  7: "PAUSED",
};

/** The name of a service state code, as `sc query` prints it. */
export function stateName(code: number): string {
  return STATE_NAMES[code] ?? `state ${code}`;
}

/**
 * A status in words: the state, the process id while it has one, and why a stopped service
 * stopped (its service-specific exit code, or the Win32 error).
 */
export function describeStatus(status: ServiceStatusProcess): string {
  let text = stateName(status.currentState);
  if (status.processId) text += ` (pid ${status.processId})`;
  if (status.currentState === SERVICE_STOPPED && status.win32ExitCode !== 0) {
    text += status.win32ExitCode === ERROR_SERVICE_SPECIFIC_ERROR
      ? ` with service exit code ${status.serviceSpecificExitCode}`
      : ` with error ${status.win32ExitCode}`;
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// Everything below calls into the system (Windows only).

/** An open SC_HANDLE, closed by `close()` (idempotent). */
export class ScHandle {
  #handle: Deno.PointerValue;
  constructor(handle: Deno.PointerObject) {
    this.#handle = handle;
  }
  get handle(): Deno.PointerObject {
    if (this.#handle === null) throw new Error("Service handle used after close");
    return this.#handle;
  }
  close(): void {
    if (this.#handle === null) return;
    advapi32().CloseServiceHandle(this.#handle);
    this.#handle = null;
  }
  [Symbol.dispose](): void {
    this.close();
  }
}

/** Opens the service manager of this machine with `access` (SC_MANAGER_*). */
export function openManager(access: number): ScHandle {
  return new ScHandle(
    unwrap("OpenSCManagerW", advapi32().OpenSCManagerW(null, null, access)),
  );
}

/**
 * Opens a service, or returns undefined when it is not installed. "Not installed" is decided by
 * a direct look at the service's registry key, never by GetLastError alone: read through a
 * second FFI call it can be 0, and any other failure (access denied, a service marked for
 * deletion) must not read as "not installed".
 */
export function openService(name: string, access: number): ScHandle | undefined {
  using manager = openManager(SC_MANAGER_CONNECT);
  return openServiceThrough(manager, name, access);
}

/** {@link openService} through an open manager. */
export function openServiceThrough(
  manager: ScHandle,
  name: string,
  access: number,
): ScHandle | undefined {
  const handle = advapi32().OpenServiceW(manager.handle, wide(name), access);
  if (handle !== null) return new ScHandle(handle);
  const code = kernel32().GetLastError();
  if (!serviceKeyExists(name)) return undefined;
  throw new Win32Error(`OpenServiceW(${name})`, code);
}

/** True when HKLM\SYSTEM\CurrentControlSet\Services\<name> exists. */
export function serviceKeyExists(name: string): boolean {
  const key = new BigUint64Array(1);
  const status = advapi32().RegOpenKeyExW(
    Deno.UnsafePointer.create(HKEY_LOCAL_MACHINE_VALUE),
    wide(`SYSTEM\\CurrentControlSet\\Services\\${name}`),
    0,
    KEY_READ,
    key,
  );
  if (status === 0) advapi32().RegCloseKey(Deno.UnsafePointer.create(key[0]));
  return status === 0;
}

/** QueryServiceStatusEx(SC_STATUS_PROCESS_INFO). */
export function queryStatus(service: ScHandle): ServiceStatusProcess {
  const buffer = new Uint8Array(SERVICE_STATUS_PROCESS_SIZE);
  const needed = new Uint32Array(1);
  unwrap(
    "QueryServiceStatusEx",
    advapi32().QueryServiceStatusEx(
      service.handle,
      SC_STATUS_PROCESS_INFO,
      buffer,
      buffer.byteLength,
      needed,
    ),
  );
  return decodeServiceStatusProcess(buffer);
}

/** Sends a control code; returns the status the service reported (the SERVICE_STATUS). */
export function controlService(service: ScHandle, control: number): ServiceStatus {
  const status = new Uint8Array(SERVICE_STATUS_SIZE);
  unwrap(`ControlService(${control})`, advapi32().ControlService(service.handle, control, status));
  return decodeServiceStatus(status);
}

/** Options of {@link waitForState} and of the start and stop that wait. */
export interface WaitOptions {
  /** How long to wait (default {@link STATE_TIMEOUT_MS}). */
  timeoutMs?: number;
  /** The clock the wait reads (its monotonic time) and sleeps on; default the system clock. */
  clock?: Clock;
}

/**
 * Polls until the service reaches `state` or the timeout passes (waiting for RUNNING also ends
 * when the service falls back to STOPPED); returns the last status.
 */
export async function waitForState(
  service: ScHandle,
  state: number,
  options: WaitOptions = {},
): Promise<ServiceStatusProcess> {
  const clock = options.clock ?? systemClock;
  const timeoutMs = options.timeoutMs ?? STATE_TIMEOUT_MS;
  const started = clock.monotonic();
  const elapsed = () => clock.monotonic() - started;
  let status = queryStatus(service);
  let moved = false; // a service that was pending and fell back to STOPPED has failed
  while (status.currentState !== state && elapsed() < timeoutMs) {
    if (status.currentState !== SERVICE_STOPPED) moved = true;
    else if (state === SERVICE_RUNNING && (moved || elapsed() > START_GRACE_MS)) break;
    await clock.sleep(POLL_INTERVAL_MS);
    status = queryStatus(service);
  }
  return status;
}

/** The service manager calls of service_control.ts, for one open service. */
export function serviceOps(service: ScHandle): ServiceOps {
  return {
    query: () => queryStatus(service),
    stop: () => void controlService(service, SERVICE_CONTROL_STOP),
    start: () => void unwrap("StartServiceW", advapi32().StartServiceW(service.handle, 0, null)),
  };
}

/**
 * Starts a service (one already running is fine) and waits for RUNNING; a pending state is
 * waited out first and a refused start retried (service_control.ts). Returns the last status.
 * Throws when the service is not installed.
 */
export async function startService(
  name: string,
  options: WaitOptions = {},
): Promise<ServiceStatusProcess> {
  using service = openService(name, SERVICE_START | SERVICE_QUERY_STATUS);
  if (!service) throw new Error(`Service ${name} is not installed: run --service install`);
  await startWhenStable(serviceOps(service), {
    clock: options.clock ?? systemClock,
    timeoutMs: options.timeoutMs ?? STATE_TIMEOUT_MS,
  });
  return queryStatus(service);
}

/**
 * Stops a service (one already stopped is fine) and waits for STOPPED; a pending state is
 * waited out first and a refused stop retried (service_control.ts). Returns the last status
 * with the pid of the process that ran the service (0 when none), or undefined when the
 * service is not installed.
 */
export async function stopService(
  name: string,
  options: WaitOptions = {},
): Promise<(ServiceStatusProcess & { ranAsPid: number }) | undefined> {
  using service = openService(name, SERVICE_STOP | SERVICE_QUERY_STATUS);
  if (!service) return undefined;
  const { ranAsPid } = await stopWhenStable(serviceOps(service), {
    clock: options.clock ?? systemClock,
    timeoutMs: options.timeoutMs ?? STATE_TIMEOUT_MS,
  });
  return { ...queryStatus(service), ranAsPid };
}

/**
 * The configuration of a service this module creates: its own process, started automatically,
 * errors logged (SERVICE_ERROR_NORMAL), run as LocalSystem.
 */
export interface ServiceConfig {
  /** lpBinaryPathName: the command line, every path in it quoted. */
  binaryPath: string;
  /** The name shown in services.msc. */
  displayName: string;
}

/** Creates a service (CreateServiceW) with `config`; the handle has SERVICE_ALL_ACCESS. */
export function createService(manager: ScHandle, name: string, config: ServiceConfig): ScHandle {
  return new ScHandle(unwrap(
    "CreateServiceW",
    advapi32().CreateServiceW(
      manager.handle,
      wide(name),
      wide(config.displayName),
      SERVICE_ALL_ACCESS,
      SERVICE_WIN32_OWN_PROCESS,
      SERVICE_AUTO_START,
      SERVICE_ERROR_NORMAL,
      wide(config.binaryPath),
      null,
      null,
      null,
      null, // LocalSystem
      null,
    ),
  ));
}

/** Changes an existing service's configuration to `config` (ChangeServiceConfigW). */
export function updateServiceConfig(service: ScHandle, config: ServiceConfig): void {
  unwrap(
    "ChangeServiceConfigW",
    advapi32().ChangeServiceConfigW(
      service.handle,
      SERVICE_WIN32_OWN_PROCESS,
      SERVICE_AUTO_START,
      SERVICE_ERROR_NORMAL,
      wide(config.binaryPath),
      null,
      null,
      null,
      wide("LocalSystem"),
      null,
      wide(config.displayName),
    ),
  );
}

/**
 * Opens the service `name` with SERVICE_ALL_ACCESS through `manager` and changes its
 * configuration to `config`, or creates it when it cannot be opened. Returns the handle and
 * whether the service was created.
 */
export function createOrUpdate(
  manager: ScHandle,
  name: string,
  config: ServiceConfig,
): { service: ScHandle; created: boolean } {
  const existing = openServiceThrough(manager, name, SERVICE_ALL_ACCESS);
  if (!existing) return { service: createService(manager, name, config), created: true };
  try {
    updateServiceConfig(existing, config);
  } catch (error) {
    existing.close();
    throw error;
  }
  return { service: existing, created: false };
}

/** Sets the description shown in services.msc (SERVICE_CONFIG_DESCRIPTION). */
export function setDescription(service: ScHandle, description: string): void {
  const text = wide(description);
  unwrap(
    "ChangeServiceConfig2W(SERVICE_CONFIG_DESCRIPTION)",
    advapi32().ChangeServiceConfig2W(
      service.handle,
      SERVICE_CONFIG_DESCRIPTION,
      encodeServiceDescription(pointerValue(text)),
    ),
  );
}

/** What the service manager does when the service fails (SERVICE_FAILURE_ACTIONS). */
export interface RecoveryActions {
  actions: readonly ScAction[];
  /** After this many seconds without a failure the failure count starts again at zero. */
  resetPeriodSeconds: number;
}

/** Sets the failure actions (SERVICE_CONFIG_FAILURE_ACTIONS), x/sys's SetRecoveryActions. */
export function setFailureActions(service: ScHandle, recovery: RecoveryActions): void {
  const actions = encodeScActions(recovery.actions);
  unwrap(
    "ChangeServiceConfig2W(SERVICE_CONFIG_FAILURE_ACTIONS)",
    advapi32().ChangeServiceConfig2W(
      service.handle,
      SERVICE_CONFIG_FAILURE_ACTIONS,
      encodeFailureActions({
        resetPeriodSeconds: recovery.resetPeriodSeconds,
        rebootMessage: 0n,
        command: 0n,
        actionCount: recovery.actions.length,
        actions: pointerValue(actions),
      }),
    ),
  );
}

function pointerValue(buffer: BufferSource): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer)));
}

function queryConfig2(service: ScHandle, level: number, what: string): Uint8Array {
  const buffer = new Uint8Array(8_192);
  const needed = new Uint32Array(1);
  unwrap(
    `QueryServiceConfig2W(${what})`,
    advapi32().QueryServiceConfig2W(service.handle, level, buffer, buffer.byteLength, needed),
  );
  return buffer;
}

/** A service's description, read back (QueryServiceConfig2W). */
export function queryServiceDescription(service: ScHandle): string {
  const buffer = queryConfig2(service, SERVICE_CONFIG_DESCRIPTION, "description");
  return readWide(Deno.UnsafePointer.create(readAddress(buffer)));
}

/** A service's failure actions, read back (QueryServiceConfig2W). */
export function queryFailureActions(
  service: ScHandle,
): { resetPeriodSeconds: number; actions: ScAction[] } {
  const failure = decodeFailureActions(
    queryConfig2(service, SERVICE_CONFIG_FAILURE_ACTIONS, "failure actions"),
  );
  const actionBytes = new Uint8Array(failure.actionCount * SC_ACTION_SIZE);
  if (failure.actionCount > 0) {
    new Deno.UnsafePointerView(Deno.UnsafePointer.create(failure.actions)!).copyInto(actionBytes);
  }
  return {
    resetPeriodSeconds: failure.resetPeriodSeconds,
    actions: decodeScActions(actionBytes, failure.actionCount),
  };
}

/** Deletes the service (after it stopped). Returns false when it was not installed. */
export function deleteService(name: string): boolean {
  using service = openService(name, DELETE | SERVICE_QUERY_STATUS);
  if (!service) return false;
  unwrap("DeleteService", advapi32().DeleteService(service.handle));
  return true;
}
