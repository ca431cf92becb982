/**
 * What a config command (`--url`, `--api-key`, ...) checks before it writes config.ini and says
 * after: that the folder exists, whether the file was created or updated, whether an agent runs
 * to pick the change up, and the health check's verdict.
 *
 * @module
 */
import { dirname, resolve } from "node:path";
import type { HealthResult } from "../delivery/health.ts";
import { fileAbove } from "../paths.ts";
import { agentRunning } from "../status/status.ts";

/**
 * The error for a config.ini under a file or whose folder does not exist, or undefined when its
 * folder exists or is the install folder (made on first use, with its permissions, by the platform). A typo in `--config`
 * would otherwise start a second configuration that no agent reads.
 */
export async function missingFolder(
  configPath: string,
  installDir: string,
): Promise<string | undefined> {
  const dir = dirname(configPath);
  const file = await fileAbove(configPath);
  if (file !== undefined) {
    return `Cannot write ${configPath}: ${file} is a file, not a folder; give --config a config.ini in a folder`;
  }
  if (await Deno.stat(dir).catch(() => undefined)) return undefined;
  if (resolve(dir) === resolve(installDir)) return undefined;
  return `The folder ${dir} of ${configPath} does not exist: check the path given with --config, or create the folder first; nothing was written`;
}

/** Whether a file exists at `path` (before a command writes it). */
export async function fileExists(path: string): Promise<boolean> {
  return (await Deno.lstat(path).catch(() => undefined)) !== undefined;
}

/**
 * The line after config.ini was written: who reads the change. `toldService`: the service got
 * the reload control (Windows).
 */
export function reloadNotice(configPath: string, toldService: boolean): string {
  if (toldService) return "The running service was told to reload config.ini and check the server";
  const running = agentRunning(dirname(configPath));
  if (running === false) return "No agent runs with this config.ini: it reads it when it starts";
  return "A running agent reloads config.ini by itself when the file changes";
}

/** The health check's line, without the server's message when it only repeats the verdict. */
export function healthLine(result: HealthResult): string {
  const verdict = `Health check ${result.ok ? "passed" : "failed"}`;
  const said = result.message.trim().replace(/[.!]$/, "");
  return said.toLowerCase() === verdict.toLowerCase() ? verdict : `${verdict}: ${result.message}`;
}
