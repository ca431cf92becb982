/**
 * Facts about a path before something is created at it.
 *
 * @module
 */
import { dirname } from "node:path";

/**
 * The file that stands where a folder of `path` should be (`/etc/hosts` for
 * `/etc/hosts/agent/config.ini`), or undefined when the nearest existing folder above `path` is
 * a folder. Creating `path` fails there with "Not a directory", which no permission can fix.
 */
export async function fileAbove(path: string): Promise<string | undefined> {
  for (let at = dirname(path);; at = dirname(at)) {
    const info = await Deno.stat(at).catch((error) => error as Error);
    if (!(info instanceof Error)) return info.isDirectory ? undefined : at;
    if (dirname(at) === at) return undefined;
  }
}
