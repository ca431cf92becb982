/**
 * The pure parts of the Windows service host: the service's name, its control codes (including
 * the user-defined reload control and the test-only session controls), the exit codes it reports
 * when it cannot start, and the SERVICE_STATUS it reports in each state.
 *
 * @module
 */
import {
  SERVICE_ACCEPT_PRESHUTDOWN,
  SERVICE_ACCEPT_SESSIONCHANGE,
  SERVICE_ACCEPT_SHUTDOWN,
  SERVICE_ACCEPT_STOP,
  SERVICE_RUNNING,
  SERVICE_START_PENDING,
  SERVICE_STOP_PENDING,
  SERVICE_STOPPED,
  SERVICE_WIN32_OWN_PROCESS,
} from "../../../ffi/advapi32.ts";
import { ERROR_SERVICE_SPECIFIC_ERROR } from "../../../ffi/error.ts";
import type { ServiceStatus } from "../../../ffi/structs.ts";

/** The service's name (part of the contract with the server's install_service.bat). */
export const SERVICE_NAME = "UserSessionMonService";
/** The name shown in services.msc. */
export const SERVICE_DISPLAY_NAME = "User Session Monitor Agent";
/** The description shown in services.msc. */
export const SERVICE_DESCRIPTION =
  "Records Windows logon, logoff, lock and unlock events in event_log.csv and sends them to the User Session Monitor server.";

/** User-defined control: config.ini changed, reread it and run a health check. */
export const RELOAD_CONTROL = 128;
/** The states the host reports. */
export type HostState = "start_pending" | "running" | "stop_pending" | "stopped";

const STATE_CODES: Record<HostState, number> = {
  start_pending: SERVICE_START_PENDING,
  running: SERVICE_RUNNING,
  stop_pending: SERVICE_STOP_PENDING,
  stopped: SERVICE_STOPPED,
};

/** Wait hint reported with the pending states (ms): the longest a single real step may take. */
export const PENDING_WAIT_HINT_MS = 30_000;

/**
 * The controls accepted in each state (INTERROGATE always is). START_PENDING: SESSIONCHANGE
 * (changes are held from the moment the handler is registered) and PRESHUTDOWN (a shutdown
 * during the start still journals what is held); not STOP, as Microsoft advises for a start in
 * progress. RUNNING: STOP, PRESHUTDOWN, SHUTDOWN, SESSIONCHANGE. Stopping: none.
 */
export function controlsAcceptedIn(state: HostState): number {
  switch (state) {
    case "start_pending":
      return SERVICE_ACCEPT_SESSIONCHANGE | SERVICE_ACCEPT_PRESHUTDOWN;
    case "running":
      return SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_PRESHUTDOWN | SERVICE_ACCEPT_SHUTDOWN |
        SERVICE_ACCEPT_SESSIONCHANGE;
    default:
      return 0;
  }
}

/**
 * The SERVICE_STATUS for `state`: pending states carry a wait hint and a checkpoint; the
 * controls accepted are {@link controlsAcceptedIn}'s; STOPPED with a nonzero `exitCode` reports
 * ERROR_SERVICE_SPECIFIC_ERROR and that code.
 */
export function serviceStatusFor(
  state: HostState,
  options: { checkPoint?: number; exitCode?: number } = {},
): ServiceStatus {
  const pending = state === "start_pending" || state === "stop_pending";
  const failed = state === "stopped" && (options.exitCode ?? 0) !== 0;
  return {
    serviceType: SERVICE_WIN32_OWN_PROCESS,
    currentState: STATE_CODES[state],
    controlsAccepted: controlsAcceptedIn(state),
    win32ExitCode: failed ? ERROR_SERVICE_SPECIFIC_ERROR : 0,
    serviceSpecificExitCode: failed ? options.exitCode! : 0,
    checkPoint: pending ? options.checkPoint ?? 1 : 0,
    waitHint: pending ? PENDING_WAIT_HINT_MS : 0,
  };
}
