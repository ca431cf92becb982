/**
 * The API key handed over through the registry, the channel the MSI uses so that the key is on
 * no process command line: the MSI writes it as the REG_SZ value `ApiKey` under
 * `HKLM\SOFTWARE\UserSessionMon\Setup`, a key it creates readable by SYSTEM and the
 * Administrators only (MsiLockPermissionsEx); `--service install` reads it, writes it into
 * config.ini and deletes the value and the key. An administrator can use the same channel by
 * hand (README "Getting the API key to the PCs").
 *
 * @module
 */
import { advapi32, HKEY_LOCAL_MACHINE_VALUE, RRF_RT_REG_SZ } from "../../../ffi/advapi32.ts";
import { ERROR_FILE_NOT_FOUND, Win32Error } from "../../../ffi/error.ts";
import { readWide, wide } from "../../../ffi/wide.ts";

/** The key (under HKEY_LOCAL_MACHINE) that holds the handed-over API key. */
export const SETUP_KEY = "SOFTWARE\\UserSessionMon\\Setup";
/** The value that holds it. */
export const SETUP_API_KEY_VALUE = "ApiKey";

const hklm = () => Deno.UnsafePointer.create(HKEY_LOCAL_MACHINE_VALUE);

/** The handed-over API key, trimmed; undefined when there is none (or it is empty). */
export function readSetupApiKey(): string | undefined {
  const size = new Uint32Array(1);
  const name = wide(SETUP_API_KEY_VALUE);
  let status = advapi32().RegGetValueW(
    hklm(),
    wide(SETUP_KEY),
    name,
    RRF_RT_REG_SZ,
    null,
    null,
    size,
  );
  if (status === ERROR_FILE_NOT_FOUND) return undefined;
  if (status !== 0) {
    throw new Win32Error(`RegGetValueW(${SETUP_KEY}\\${SETUP_API_KEY_VALUE})`, status);
  }
  const data = new Uint8Array(size[0] + 2);
  size[0] = data.length;
  status = advapi32().RegGetValueW(hklm(), wide(SETUP_KEY), name, RRF_RT_REG_SZ, null, data, size);
  if (status !== 0) {
    throw new Win32Error(`RegGetValueW(${SETUP_KEY}\\${SETUP_API_KEY_VALUE})`, status);
  }
  const key = readWide(Deno.UnsafePointer.of(data), size[0] / 2).trim();
  return key === "" ? undefined : key;
}

/** Deletes the value and then the key (when nothing else is left in it). */
export function deleteSetupApiKey(): void {
  const status = advapi32().RegDeleteKeyValueW(hklm(), wide(SETUP_KEY), wide(SETUP_API_KEY_VALUE));
  if (status !== 0 && status !== ERROR_FILE_NOT_FOUND) {
    throw new Win32Error(`RegDeleteKeyValueW(${SETUP_KEY}\\${SETUP_API_KEY_VALUE})`, status);
  }
  advapi32().RegDeleteKeyW(hklm(), wide(SETUP_KEY)); // fails harmlessly when not empty
}
