/**
 * Writes a Windows version resource (VS_VERSIONINFO: product name, file and product version,
 * description...) into a PE file, with the npm packages `resedit` and `pe-library`. `deno
 * compile` has no option for it (denoland/deno#29038).
 *
 * Into the compiled exe, not into the denort base binary: Deno 2.9.6's compile (libsui) writes a
 * new resource directory that holds only its payload (RCDATA "D3N0L4ND"), so a version resource
 * written into the base binary given as DENORT_BIN is gone from the output (checked by
 * scripts/version_resource_test.ts). Written afterwards, it sits beside the payload, which is
 * kept byte for byte (the runtime finds it with FindResource), and the release's smoke test runs
 * the result on Windows.
 *
 * Usage: deno run -A scripts/version_resource.ts <in.exe> <out.exe> [--version x.y.z]
 *   (version default: deno.json's)
 *
 * @module
 */
// @ts-types="./resedit_types.d.ts"
import * as PE from "pe-library";
// @ts-types="./resedit_types.d.ts"
import * as ResEdit from "resedit";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

/** The strings and numbers written. */
export interface VersionInfo {
  /** major.minor.patch (a suffix such as -rc.1 is kept in the strings only). */
  version: string;
  productName: string;
  description: string;
  company?: string;
  originalFilename?: string;
  copyright?: string;
}

/** U.S. English, Unicode: the language and code page the strings are filed under. */
export const LANGUAGE = { lang: 1033, codepage: 1200 } as const;

/** The four numbers of a version resource: 1.2.3 → [1, 2, 3, 0]. */
export function versionNumbers(version: string): [number, number, number, number] {
  const match = /^(\d+)\.(\d+)\.(\d+)(?:\.(\d+))?/.exec(version);
  if (!match) throw new TypeError(`Invalid version "${version}": expected major.minor.patch`);
  const numbers = match.slice(1).map((n) => Number(n ?? 0));
  if (numbers.some((n) => n > 65535)) {
    throw new RangeError(`Invalid version "${version}": each part must be 65535 or less`);
  }
  return numbers as [number, number, number, number];
}

/** The product's resource, from deno.json's version. */
export function agentVersionInfo(version: string): VersionInfo {
  return {
    version,
    productName: "User Session Monitor Agent",
    description: "User Session Monitor Agent: records Windows session events for the server",
    company: "UserSessionMon",
    originalFilename: "winagentUSM.exe",
  };
}

/** Returns `pe` with its version resource replaced by `info` (the other resources kept). */
export function withVersionResource(pe: Uint8Array, info: VersionInfo): Uint8Array {
  const exe = PE.NtExecutable.from(pe, { ignoreCert: true });
  const resources = PE.NtExecutableResource.from(exe);
  const [existing] = ResEdit.Resource.VersionInfo.fromEntries(resources.entries);
  const vi = existing ?? ResEdit.Resource.VersionInfo.createEmpty();
  // Replace, not merge: strings of the base binary (deno's) must not survive.
  for (const language of vi.getAllLanguagesForStringValues()) {
    vi.removeAllStringValues(language);
  }
  const [major, minor, patch, build] = versionNumbers(info.version);
  vi.setFileVersion(major, minor, patch, build, LANGUAGE.lang);
  vi.setProductVersion(major, minor, patch, build, LANGUAGE.lang);
  const strings: Record<string, string> = {
    ProductName: info.productName,
    FileDescription: info.description,
    FileVersion: info.version,
    ProductVersion: info.version,
    InternalName: (info.originalFilename ?? "").replace(/\.exe$/i, ""),
  };
  if (info.company) strings.CompanyName = info.company;
  if (info.originalFilename) strings.OriginalFilename = info.originalFilename;
  if (info.copyright) strings.LegalCopyright = info.copyright;
  vi.setStringValues(LANGUAGE, strings);
  vi.outputToResourceEntries(resources.entries);
  resources.outputResource(exe);
  return new Uint8Array(exe.generate());
}

/** The version resource of a PE file: its numbers and strings, or undefined when it has none. */
export function readVersionResource(
  pe: Uint8Array,
): { fileVersion: string; productVersion: string; strings: Record<string, string> } | undefined {
  const exe = PE.NtExecutable.from(pe, { ignoreCert: true });
  const resources = PE.NtExecutableResource.from(exe);
  const [vi] = ResEdit.Resource.VersionInfo.fromEntries(resources.entries);
  if (!vi) return undefined;
  const { fixedInfo } = vi;
  const join4 = (ms: number, ls: number) =>
    [ms >>> 16, ms & 0xffff, ls >>> 16, ls & 0xffff].join(".");
  const language = vi.getAllLanguagesForStringValues()[0];
  return {
    fileVersion: join4(fixedInfo.fileVersionMS, fixedInfo.fileVersionLS),
    productVersion: join4(fixedInfo.productVersionMS, fixedInfo.productVersionLS),
    strings: language ? vi.getStringValues(language) : {},
  };
}

if (import.meta.main) {
  const [input, output] = Deno.args.filter((a, i, all) =>
    !a.startsWith("--") && all[i - 1] !== "--version"
  );
  const flag = Deno.args.indexOf("--version");
  const root = fileURLToPath(new URL("..", import.meta.url));
  const version = flag >= 0
    ? Deno.args[flag + 1]
    : JSON.parse(await Deno.readTextFile(join(root, "deno.json"))).version;
  if (!input || !output) {
    console.error(
      "Usage: deno run -A scripts/version_resource.ts <in.exe> <out.exe> [--version x.y.z]",
    );
    Deno.exit(2);
  }
  const result = withVersionResource(await Deno.readFile(input), agentVersionInfo(version));
  await Deno.writeFile(output, result);
  const read = readVersionResource(result)!;
  console.log(
    `Wrote the version resource ${read.fileVersion} (${read.strings.ProductName}) into ${output}`,
  );
}
