/**
 * The agent's event source in the Windows Application log: registered at install (and removed at
 * uninstall) under `HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\
 * UserSessionMonService`, with Windows' own `%SystemRoot%\System32\EventCreate.exe` as the
 * message file: its message table maps every ID from 1 to 1000 to "%1", so Event Viewer shows
 * the agent's text as written, on every Windows, with no message DLL to ship (the same choice
 * as golang.org/x/sys/windows/svc/eventlog's InstallAsEventCreate; `eventcreate /id` accepts
 * 1..1000 for the same reason). The IDs and texts are in src/log/app_event_log.ts.
 *
 * @module
 */
import {
  advapi32,
  EVENTLOG_ERROR_TYPE,
  EVENTLOG_INFORMATION_TYPE,
  EVENTLOG_WARNING_TYPE,
  HKEY_LOCAL_MACHINE_VALUE,
  KEY_SET_VALUE,
  REG_DWORD,
  REG_EXPAND_SZ,
  REG_OPTION_NON_VOLATILE,
} from "../../../ffi/advapi32.ts";
import { checkStatus, ERROR_FILE_NOT_FOUND, unwrap } from "../../../ffi/error.ts";
import { wide } from "../../../ffi/wide.ts";
import type { EventLevel, SystemEventLog } from "../../platform.ts";

/** The source name: the service's name, as Event Viewer's "Source" column shows it. */
export const EVENT_SOURCE = "UserSessionMonService";
/** The source's key under HKEY_LOCAL_MACHINE. */
export const EVENT_SOURCE_KEY =
  `SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\${EVENT_SOURCE}`;
/** A message file on every Windows whose IDs 1..1000 all read "%1". */
export const EVENT_MESSAGE_FILE = "%SystemRoot%\\System32\\EventCreate.exe";
/** error | warning | information. */
export const TYPES_SUPPORTED = EVENTLOG_ERROR_TYPE | EVENTLOG_WARNING_TYPE |
  EVENTLOG_INFORMATION_TYPE;

/** ReportEventW's type for a level. */
export function eventType(level: EventLevel): number {
  return level === "error"
    ? EVENTLOG_ERROR_TYPE
    : level === "warning"
    ? EVENTLOG_WARNING_TYPE
    : EVENTLOG_INFORMATION_TYPE;
}

/** The registry values of the source: name, type and data bytes. */
export function sourceValues(): { name: string; type: number; data: Uint8Array }[] {
  const dword = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);
  const text = (s: string) => new Uint8Array(wide(s).buffer);
  return [
    { name: "EventMessageFile", type: REG_EXPAND_SZ, data: text(EVENT_MESSAGE_FILE) },
    { name: "TypesSupported", type: REG_DWORD, data: dword(TYPES_SUPPORTED) },
    { name: "CustomSource", type: REG_DWORD, data: dword(1) },
  ];
}

function hklm(): Deno.PointerValue {
  return Deno.UnsafePointer.create(HKEY_LOCAL_MACHINE_VALUE);
}

/** Registers (or re-registers) the event source; needs an elevated process. Idempotent. */
export function registerEventSource(): void {
  const api = advapi32();
  const key = new BigUint64Array(1);
  checkStatus(
    "RegCreateKeyExW",
    api.RegCreateKeyExW(
      hklm(),
      wide(EVENT_SOURCE_KEY),
      0,
      null,
      REG_OPTION_NON_VOLATILE,
      KEY_SET_VALUE,
      null,
      key,
      null,
    ),
  );
  const handle = Deno.UnsafePointer.create(key[0]);
  try {
    for (const value of sourceValues()) {
      checkStatus(
        "RegSetValueExW",
        api.RegSetValueExW(handle, wide(value.name), 0, value.type, value.data, value.data.length),
      );
    }
  } finally {
    api.RegCloseKey(handle);
  }
}

/** Removes the event source's key; false when it was not there. */
export function unregisterEventSource(): boolean {
  const status = advapi32().RegDeleteKeyW(hklm(), wide(EVENT_SOURCE_KEY));
  if (status === ERROR_FILE_NOT_FOUND) return false;
  checkStatus("RegDeleteKeyW", status);
  return true;
}

/**
 * `--service install`: registers the source and says so. A failure is printed, not thrown: the
 * agent runs without its Event Log entries (they then read "The description for Event ID ...
 * cannot be found"), which is no reason to leave the PC without the agent.
 */
export function registerEventSourceReporting(print: (line: string) => void): void {
  try {
    registerEventSource();
    print(`Event Log source ${EVENT_SOURCE} registered in the Application log`);
  } catch (error) {
    print(
      `Warning: the Event Log source ${EVENT_SOURCE} could not be registered (${
        (error as Error).message
      }); the agent runs, and its Event Log entries lack their description`,
    );
  }
}

/** `--service remove`: removes the source and says so; a failure is printed, not thrown. */
export function unregisterEventSourceReporting(print: (line: string) => void): void {
  try {
    if (unregisterEventSource()) print(`Event Log source ${EVENT_SOURCE} removed`);
  } catch (error) {
    print(
      `Warning: the Event Log source ${EVENT_SOURCE} could not be removed: ${
        (error as Error).message
      }`,
    );
  }
}

/** The Application log through the agent's source. Close it when the agent stops. */
export class WindowsEventLog implements SystemEventLog {
  #handle: Deno.PointerValue;

  private constructor(handle: Deno.PointerValue) {
    this.#handle = handle;
  }

  /** Opens the source (works even when it is not registered; the text then reads badly). */
  static open(source = EVENT_SOURCE): WindowsEventLog {
    return new WindowsEventLog(
      unwrap("RegisterEventSourceW", advapi32().RegisterEventSourceW(null, wide(source))),
    );
  }

  /** {@link WindowsEventLog.write}; the agent calls it through reportTo, which catches. */
  report(id: number, level: EventLevel, text: string): void {
    this.write(id, level, text);
  }

  /** Writes one entry; throws a Win32Error when ReportEventW fails. */
  write(id: number, level: EventLevel, text: string): void {
    if (this.#handle === null) throw new Error("The event log is closed");
    const message = wide(text);
    const strings = new BigUint64Array([
      BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(message))),
    ]);
    unwrap(
      "ReportEventW",
      advapi32().ReportEventW(this.#handle, eventType(level), 0, id, null, 1, 0, strings, null),
    );
    // `message` must live until ReportEventW has returned: keep it reachable until here.
    void message.length;
  }

  /** Idempotent. */
  close(): void {
    if (this.#handle === null) return;
    advapi32().DeregisterEventSource(this.#handle);
    this.#handle = null;
  }
}

/** The number of records in a log (OpenEventLogW + GetNumberOfEventLogRecords). */
export function eventLogRecordCount(log = "Application"): number {
  const api = advapi32();
  const handle = unwrap("OpenEventLogW", api.OpenEventLogW(null, wide(log)));
  try {
    const count = new Uint32Array(1);
    unwrap("GetNumberOfEventLogRecords", api.GetNumberOfEventLogRecords(handle, count));
    return count[0];
  } finally {
    api.CloseEventLog(handle);
  }
}
