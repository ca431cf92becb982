/**
 * A temporary folder for one test, removed after it, and the names in a folder.
 *
 * @module
 */

/** Runs `fn` in a new temporary folder (named from `prefix`) and removes the folder after it. */
export async function withDir(
  fn: (dir: string) => Promise<void>,
  prefix = "usm_test_",
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The names in `dir`, sorted. */
export async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}
