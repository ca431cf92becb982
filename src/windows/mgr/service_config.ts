/**
 * The hardening settings of the agent's service, set at every install and read back by the
 * tests: its DACL (SetServiceObjectSecurity: other users may query and interrogate it, nothing
 * else), the preshutdown timeout (SERVICE_CONFIG_PRESHUTDOWN_INFO), failure actions for a
 * failed start too (SERVICE_CONFIG_FAILURE_ACTIONS_FLAG: without it, a service that reports
 * STOPPED with an exit code is never restarted), and no `Environment` value on the service's
 * key (a variable set there for this service alone, e.g. by an earlier test run, could change
 * what the service does; an install clears it).
 *
 * @module
 */
import {
  advapi32,
  DACL_SECURITY_INFORMATION,
  HKEY_LOCAL_MACHINE_VALUE,
  SERVICE_CONFIG_FAILURE_ACTIONS_FLAG,
  SERVICE_CONFIG_PRESHUTDOWN_INFO,
} from "../../../ffi/advapi32.ts";
import {
  ERROR_FILE_NOT_FOUND,
  ERROR_INSUFFICIENT_BUFFER,
  unwrap,
  Win32Error,
} from "../../../ffi/error.ts";
import { kernel32 } from "../../../ffi/kernel32.ts";
import { encodeDwordInfo, readDword } from "../../../ffi/structs.ts";
import { wide } from "../../../ffi/wide.ts";
import { SERVICE_SDDL } from "../security/descriptor.ts";
import { descriptorText, withDescriptor } from "../security/file_security.ts";
import type { ScHandle } from "./scm.ts";

/** How long Windows waits for the service at shutdown (the preshutdown timeout). */
export const PRESHUTDOWN_TIMEOUT_MS = 15_000;

/** Sets the service's DACL (SetServiceObjectSecurity); the handle needs WRITE_DAC. */
export function setServiceDacl(service: ScHandle, sddl = SERVICE_SDDL): void {
  withDescriptor(sddl, (descriptor) => {
    unwrap(
      "SetServiceObjectSecurity",
      advapi32().SetServiceObjectSecurity(service.handle, DACL_SECURITY_INFORMATION, descriptor),
    );
  });
}

/** The service's DACL as SDDL (QueryServiceObjectSecurity); the handle needs READ_CONTROL. */
export function queryServiceDacl(service: ScHandle): string {
  const needed = new Uint32Array(1);
  let buffer = new Uint8Array(1_024);
  for (let attempt = 0; attempt < 2; attempt++) {
    const ok = advapi32().QueryServiceObjectSecurity(
      service.handle,
      DACL_SECURITY_INFORMATION,
      buffer,
      buffer.byteLength,
      needed,
    );
    if (ok !== 0) return descriptorText(Deno.UnsafePointer.of(buffer), DACL_SECURITY_INFORMATION);
    const code = kernel32().GetLastError();
    if (needed[0] <= buffer.byteLength && code !== ERROR_INSUFFICIENT_BUFFER) {
      throw new Win32Error("QueryServiceObjectSecurity", code);
    }
    buffer = new Uint8Array(needed[0]);
  }
  throw new Win32Error("QueryServiceObjectSecurity", ERROR_INSUFFICIENT_BUFFER);
}

/** Sets the preshutdown timeout (SERVICE_CONFIG_PRESHUTDOWN_INFO). */
export function setPreshutdownTimeout(service: ScHandle, timeoutMs = PRESHUTDOWN_TIMEOUT_MS): void {
  unwrap(
    "ChangeServiceConfig2W(SERVICE_CONFIG_PRESHUTDOWN_INFO)",
    advapi32().ChangeServiceConfig2W(
      service.handle,
      SERVICE_CONFIG_PRESHUTDOWN_INFO,
      encodeDwordInfo(timeoutMs),
    ),
  );
}

/** Failure actions also for a start that fails (SERVICE_CONFIG_FAILURE_ACTIONS_FLAG = TRUE). */
export function setFailureActionsOnNonCrash(service: ScHandle, enabled = true): void {
  unwrap(
    "ChangeServiceConfig2W(SERVICE_CONFIG_FAILURE_ACTIONS_FLAG)",
    advapi32().ChangeServiceConfig2W(
      service.handle,
      SERVICE_CONFIG_FAILURE_ACTIONS_FLAG,
      encodeDwordInfo(enabled ? 1 : 0),
    ),
  );
}

function queryDword(service: ScHandle, level: number, what: string): number {
  const buffer = new Uint8Array(64);
  const needed = new Uint32Array(1);
  unwrap(
    `QueryServiceConfig2W(${what})`,
    advapi32().QueryServiceConfig2W(service.handle, level, buffer, buffer.byteLength, needed),
  );
  return readDword(buffer, 0);
}

/** The preshutdown timeout, read back (ms). */
export function queryPreshutdownTimeout(service: ScHandle): number {
  return queryDword(service, SERVICE_CONFIG_PRESHUTDOWN_INFO, "SERVICE_CONFIG_PRESHUTDOWN_INFO");
}

/** Whether failure actions fire for a failed start, read back. */
export function queryFailureActionsOnNonCrash(service: ScHandle): boolean {
  return queryDword(
    service,
    SERVICE_CONFIG_FAILURE_ACTIONS_FLAG,
    "SERVICE_CONFIG_FAILURE_ACTIONS_FLAG",
  ) !== 0;
}

/**
 * Deletes the `Environment` value of the service's registry key (a service's own environment
 * variables). Returns true when there was one.
 */
export function removeServiceEnvironment(name: string): boolean {
  const status = advapi32().RegDeleteKeyValueW(
    Deno.UnsafePointer.create(HKEY_LOCAL_MACHINE_VALUE),
    wide(`SYSTEM\\CurrentControlSet\\Services\\${name}`),
    wide("Environment"),
  );
  if (status === 0) return true;
  if (status === ERROR_FILE_NOT_FOUND) return false;
  throw new Win32Error(`RegDeleteKeyValueW(${name}\\Environment)`, status);
}
