/**
 * Whether the agent runs under Wine (its ntdll.dll exports wine_get_version; Windows' never
 * does, and ntdll is a KnownDLL that no file can stand in for). Wine stores no owner or ACL: it
 * reports every object as owned by its one user, so the owner check that protects a real PC
 * would move every folder aside under Wine; it is skipped there, and asserted on real Windows.
 *
 * @module
 */
import { systemDirectory, systemLibraryPathFrom } from "../../../ffi/system32.ts";

let wine: boolean | undefined;

/** True under Wine; asked once. */
export function runningUnderWine(): boolean {
  if (wine !== undefined) return wine;
  try {
    const ntdll = Deno.dlopen(systemLibraryPathFrom(systemDirectory(), "ntdll.dll"), {
      wine_get_version: { parameters: [], result: "pointer" },
    });
    ntdll.close();
    wine = true;
  } catch {
    wine = false;
  }
  return wine;
}
