/**
 * Waiting for a process to exit, by its pid: a service reports STOPPED before its process has
 * exited, and its executable cannot be replaced or deleted until then.
 *
 * @module
 */
import {
  kernel32,
  PROCESS_QUERY_LIMITED_INFORMATION,
  SYNCHRONIZE,
  WAIT_OBJECT_0,
} from "../../../ffi/kernel32.ts";

/**
 * Waits up to `timeoutMs` for process `pid` to exit (OpenProcess + WaitForSingleObject on a
 * worker thread). Returns true when it has exited (or no such process is left).
 */
export async function waitForProcessExit(pid: number, timeoutMs: number): Promise<boolean> {
  if (pid === 0) return true;
  const handle = kernel32().OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, 0, pid);
  // No handle: the process has gone (ERROR_INVALID_PARAMETER) or may not be opened; a process
  // that may not be opened cannot be waited for, and the replacement then says what holds it.
  if (handle === null) return true;
  try {
    const result = await kernel32().WaitForSingleObjectAsync(
      handle,
      Math.max(0, Math.ceil(timeoutMs)),
    );
    return result === WAIT_OBJECT_0;
  } finally {
    kernel32().CloseHandle(handle);
  }
}
