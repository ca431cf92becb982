/**
 * The part of the npm packages `pe-library` and `resedit` that scripts/version_resource.ts uses,
 * typed here: their own declarations refer to Node's Buffer, which makes `deno check` load
 * Node's global types for the whole program (and breaks the web stream types in src/).
 */
export interface ResourceEntry {
  type: string | number;
  id: string | number;
  lang: string | number;
  codepage: number;
  bin: ArrayBuffer;
}

export declare class NtExecutable {
  static from(bin: ArrayBuffer | ArrayBufferView, options?: { ignoreCert?: boolean }): NtExecutable;
  generate(paddingSize?: number): ArrayBuffer;
}

export declare class NtExecutableResource {
  static from(exe: NtExecutable, ignoreUnparsableData?: boolean): NtExecutableResource;
  entries: ResourceEntry[];
  outputResource(exe: NtExecutable, noGrow?: boolean, allowShrink?: boolean): void;
}

export interface VersionLanguage {
  lang: number;
  codepage: number;
}

export declare class VersionInfo {
  static fromEntries(entries: readonly ResourceEntry[]): VersionInfo[];
  static createEmpty(): VersionInfo;
  fixedInfo: {
    fileVersionMS: number;
    fileVersionLS: number;
    productVersionMS: number;
    productVersionLS: number;
  };
  getAllLanguagesForStringValues(): VersionLanguage[];
  getStringValues(language: VersionLanguage): Record<string, string>;
  setStringValues(language: VersionLanguage, values: Record<string, string>): void;
  removeAllStringValues(language: VersionLanguage): void;
  setFileVersion(
    major: number,
    minor: number,
    micro: number,
    revision: number,
    lang?: number,
  ): void;
  setProductVersion(
    major: number,
    minor: number,
    micro: number,
    revision: number,
    lang?: number,
  ): void;
  outputToResourceEntries(entries: ResourceEntry[]): void;
}

export declare const Resource: { VersionInfo: typeof VersionInfo };
