/**
 * Shared parts of the Windows service tests: a service that runs tests/windows/host_harness.ts
 * (its hook calls as JSON lines in a file), and waiting for those lines.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { createOrUpdateService, quotePath } from "../../src/windows/mgr/installer.ts";
import { deleteService } from "../../src/windows/mgr/scm.ts";
import { WindowsServiceManager } from "../../src/windows/mgr/service_manager.ts";

export const ignore = Deno.build.os !== "windows";
/** Set by .github/workflows/windows.yml: checks that only real Windows can show. */
export const realWindows = Deno.env.get("USM_REAL_WINDOWS") === "1";
export const HARNESS = fileURLToPath(new URL("./host_harness.ts", import.meta.url));

export interface HookEntry {
  hook: string;
  [key: string]: unknown;
}

export async function readHooks(path: string): Promise<HookEntry[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line));
}

export async function waitForHook(
  path: string,
  predicate: (entry: HookEntry) => boolean,
  timeoutMs = 20_000,
): Promise<HookEntry> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = (await readHooks(path)).find(predicate);
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `No hook entry matched in ${path} within ${timeoutMs} ms:\n${
      JSON.stringify(await readHooks(path), null, 1)
    }`,
  );
}

export function harnessCommand(out: string, name: string, extra: string[] = []): string {
  return [
    quotePath(Deno.execPath()),
    "run",
    "-A",
    quotePath(HARNESS),
    "--out",
    quotePath(out),
    "--name",
    name,
    ...extra,
  ].join(" ");
}

/** Sets a service's environment (the REG_MULTI_SZ value Environment of its registry key). */
export async function setServiceEnvironment(name: string, variables: string[]): Promise<void> {
  const { success, stderr } = await new Deno.Command("reg", {
    args: [
      "add",
      `HKLM\\SYSTEM\\CurrentControlSet\\Services\\${name}`,
      "/v",
      "Environment",
      "/t",
      "REG_MULTI_SZ",
      "/d",
      variables.join("\\0"),
      "/f",
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(success, `reg add failed: ${new TextDecoder().decode(stderr)}`);
}

export async function withService(
  name: string,
  extra: string[],
  body: (out: string, manager: WindowsServiceManager) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "usm-host-" });
  const out = `${dir}\\hooks.jsonl`;
  const manager = new WindowsServiceManager({ serviceName: name });
  // A service left by an interrupted run (auto-start: Wine starts it when its prefix boots).
  await manager.action("stop", { print: () => {} }).catch(() => {});
  try {
    createOrUpdateService(name, harnessCommand(out, name, extra), `USM test ${name}`);
    await body(out, manager);
  } catch (error) {
    throw new Error(
      `${(error as Error).message}\nhooks:\n${await Deno.readTextFile(out).catch(() => "")}`,
      {
        cause: error,
      },
    );
  } finally {
    await manager.action("stop", { print: () => {} }).catch(() => {});
    deleteService(name);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
