/**
 * The security descriptors of the install folder, its files and the service, as SDDL, and the
 * decisions made from a descriptor read back: is its owner trusted, is its DACL restricted, can
 * ordinary users write to a folder. Pure: no system call, tested on Linux.
 *
 * Who may do what (docs/administration.md, "Security model"):
 * - the install folder and every file in it: owner Administrators; full control for SYSTEM and
 *   the Administrators only, nothing inherited from C:\ProgramData (whose ACL lets users create
 *   files); an owner always holds WRITE_DAC, so an owner outside those two groups is untrusted;
 * - the service: SYSTEM and the Administrators all rights; every other signed-in user may read
 *   its state and configuration and interrogate it, nothing else (no start, stop, or
 *   user-defined control).
 *
 * @module
 */

/** Owner Administrators, protected DACL: SYSTEM and Administrators full control, inherited. */
export const INSTALL_DIR_SDDL = "O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)";
/** A file of the agent: owner Administrators, protected DACL for SYSTEM and Administrators. */
export const AGENT_FILE_SDDL = "O:BAD:P(A;;FA;;;SY)(A;;FA;;;BA)";
/** The DACL part of {@link INSTALL_DIR_SDDL} (what the folder's DACL must read back as). */
export const PROTECTED_SDDL = "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)";

/**
 * The service's DACL: SYSTEM (CC DC LC SW RP WP DT LO CR RC) and the Administrators (all service
 * rights and DELETE, READ_CONTROL, WRITE_DAC, WRITE_OWNER) manage it; Authenticated Users (every
 * signed-in user and service account) may only query its configuration (CC) and state (LC),
 * enumerate its dependents (SW), interrogate it (LO) and read its descriptor (RC): no start
 * (RP), stop (WP) or user-defined control (CR: 128 reload and the test controls).
 */
export const SERVICE_SDDL = "D:(A;;CCDCLCSWRPWPDTLOCRRC;;;SY)" +
  "(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;BA)(A;;CCLCSWLORC;;;AU)";

/** TrustedInstaller's service SID (NT SERVICE\TrustedInstaller), owner of Windows' own files. */
export const TRUSTED_INSTALLER_SID =
  "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464";

/** The owners a folder or file of the agent may have. */
const TRUSTED_OWNERS = new Set(["SY", "S-1-5-18", "BA", "S-1-5-32-544", TRUSTED_INSTALLER_SID]);

/** One ACE of an SDDL string. */
export interface SddlAce {
  type: string;
  flags: string;
  rights: string;
  trustee: string;
}

/** The DACL part of an SDDL string: its flags (e.g. "P", "PAI") and its ACEs. */
export function parseDacl(sddl: string): { flags: string; aces: SddlAce[] } {
  const match = /D:([A-Z]*)((?:\([^)]*\))*)/.exec(sddl);
  if (!match) throw new SyntaxError(`Invalid SDDL: no DACL in "${sddl}"`);
  const aces = [...match[2].matchAll(/\(([^)]*)\)/g)].map(([, body]) => {
    const [type, flags, rights, , , trustee] = body.split(";");
    return { type, flags, rights, trustee };
  });
  return { flags: match[1], aces };
}

/** The owner of an SDDL string ("BA", "SY", a SID), or undefined when it has none. */
export function parseOwner(sddl: string): string | undefined {
  return /O:((?:S(?:-\d+)+)|[A-Z]{2})/.exec(sddl)?.[1];
}

/** True when `owner` (SDDL alias or SID) is SYSTEM, the Administrators or TrustedInstaller. */
export function isTrustedOwner(owner: string | undefined): boolean {
  return owner !== undefined && TRUSTED_OWNERS.has(owner);
}

/**
 * True when `sddl`'s DACL is protected and grants access only to SYSTEM and the
 * Administrators (by alias or SID).
 */
export function isRestrictedDacl(sddl: string): boolean {
  const { flags, aces } = parseDacl(sddl);
  const allowed = new Set(["SY", "BA", "S-1-5-18", "S-1-5-32-544"]);
  return flags.includes("P") && aces.length > 0 &&
    aces.every((ace) => ace.type !== "A" || allowed.has(ace.trustee));
}

/** What the agent does with an existing folder or file, from its descriptor read back. */
export type TrustDecision =
  | { action: "secure" }
  | { action: "refuse"; reason: string }
  | { action: "replace"; reason: string };

/**
 * The decision for an existing object, from what its handle said: a reparse point (junction,
 * symbolic link) is refused. The object is not trusted, and is replaced ("replace": moved
 * aside, the agent starts afresh), when its owner is outside SYSTEM/Administrators/
 * TrustedInstaller (an owner can change the DACL at any time), when its DACL lets ordinary users
 * write, add files or folders, delete children or change permissions or owner (a folder an
 * administrator made under C:\ProgramData inherits such an entry for Users), or when `entries`
 * (called last, only if all else passed) names an entry inside that is not trusted: resetting
 * the DACL would keep whatever such users put in it (a DLL beside the exe is loaded before
 * System32's). Otherwise the owner and DACL are set ("secure"). `securityStored: false` (Wine,
 * which stores no owner and makes its DACLs up) checks only for a reparse point.
 */
export function trustDecision(
  found: {
    reparsePoint: boolean;
    sddl: string;
    securityStored?: boolean;
    entries?: () => string | undefined;
  },
): TrustDecision {
  if (found.reparsePoint) {
    return { action: "refuse", reason: "it is a junction or symbolic link" };
  }
  if (found.securityStored === false) return { action: "secure" };
  const owner = ownerProblem(found.sddl);
  if (owner !== undefined) return { action: "replace", reason: owner };
  const writers = ordinaryWriters(found.sddl);
  if (writers.length > 0) {
    return {
      action: "replace",
      reason: `its permissions let ${trusteeNames(writers)} write in it` +
        " (any of them may have put files in it)",
    };
  }
  const entry = found.entries?.();
  return entry === undefined ? { action: "secure" } : { action: "replace", reason: entry };
}

/** Why the owner of `sddl` is not trusted, or undefined when it is. */
export function ownerProblem(sddl: string): string | undefined {
  const owner = parseOwner(sddl);
  if (isTrustedOwner(owner)) return undefined;
  return `its owner ${owner ?? "(none)"} is not SYSTEM, Administrators or TrustedInstaller` +
    " (an owner can always change the permissions, and may have put files in it)";
}

/**
 * Why an entry found inside a folder (its path relative to the folder, its descriptor read
 * back) makes the folder untrusted, or undefined: an owner outside SYSTEM/Administrators/
 * TrustedInstaller (someone else put it there), or a DACL that lets ordinary users write it.
 */
export function entryProblem(relative: string, sddl: string): string | undefined {
  const owner = parseOwner(sddl);
  if (!isTrustedOwner(owner)) {
    return `it holds ${relative}, owned by ${
      trusteeNames([owner ?? "(none)"])
    }, not SYSTEM, Administrators or TrustedInstaller (someone else put it there)`;
  }
  const writers = ordinaryWriters(sddl);
  if (writers.length > 0) {
    return `it holds ${relative}, which ${trusteeNames(writers)} may write`;
  }
  return undefined;
}

/**
 * The access mask of each two-letter right of an SDDL ACE string (Microsoft, "ACE strings"); on
 * a file or folder the directory-service letters stand for file bits (CC 0x1 is read data, DT
 * 0x40 delete child, LC 0x4 add subfolder), so letters and hex masks are judged by one mask.
 */
const SDDL_RIGHTS: Readonly<Record<string, number>> = {
  GA: 0x1000_0000,
  GR: 0x8000_0000,
  GW: 0x4000_0000,
  GX: 0x2000_0000,
  RC: 0x2_0000,
  SD: 0x1_0000,
  WD: 0x4_0000,
  WO: 0x8_0000,
  CC: 0x1,
  DC: 0x2,
  LC: 0x4,
  SW: 0x8,
  RP: 0x10,
  WP: 0x20,
  DT: 0x40,
  LO: 0x80,
  CR: 0x100,
  FA: 0x1f_01ff,
  FR: 0x12_0089,
  FW: 0x12_0116,
  FX: 0x12_00a0,
};

/** The access mask of an ACE's rights field: a hex mask, or two-letter rights. */
function accessMask(rights: string): number {
  if (/^0x[0-9a-f]+$/i.test(rights)) return parseInt(rights, 16);
  return (rights.match(/../g) ?? []).reduce((mask, right) => mask | (SDDL_RIGHTS[right] ?? 0), 0);
}
/** FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_WRITE_EA | FILE_DELETE_CHILD | FILE_WRITE_ATTRIBUTES
 * | DELETE | WRITE_DAC | WRITE_OWNER | GENERIC_ALL | GENERIC_WRITE. */
export const WRITE_MASK = 0x2 | 0x4 | 0x10 | 0x40 | 0x100 | 0x1_0000 | 0x4_0000 | 0x8_0000 |
  0x1000_0000 | 0x4000_0000;
/** Trustees that are administrators or the system (their write access is no risk). */
const PRIVILEGED = new Set([
  "SY",
  "S-1-5-18",
  "BA",
  "S-1-5-32-544",
  "TI",
  TRUSTED_INSTALLER_SID,
  "CO", // CREATOR OWNER: stands for the creator of a child, checked through the owner instead
]);

/**
 * The trustees that may write to a folder, from its DACL (allow ACEs that grant a write right
 * to anyone but SYSTEM, the Administrators, TrustedInstaller or CREATOR OWNER). Inherit-only
 * ACEs (IO) do not apply to the folder itself and are skipped.
 */
export function ordinaryWriters(sddl: string): string[] {
  return ordinaryHolders(sddl, WRITE_MASK);
}

/**
 * DELETE | FILE_DELETE_CHILD | WRITE_DAC | WRITE_OWNER | GENERIC_ALL: the rights on a folder
 * that let their holder rename or delete it or a folder in it (delete child), or give
 * themselves those rights. Adding files or subfolders (FILE_WRITE_DATA, FILE_APPEND_DATA, what
 * Users hold on C:\ProgramData and Authenticated Users on a drive's root) is not among them,
 * nor GENERIC_WRITE (FILE_GENERIC_WRITE has no delete right).
 */
export const REPLACE_MASK = 0x1_0000 | 0x40 | 0x4_0000 | 0x8_0000 | 0x1000_0000;

/**
 * The trustees that may rename or delete a folder or a folder in it, from its DACL: allow
 * ACEs (not inherit-only) granting a right of {@link REPLACE_MASK} to anyone but SYSTEM, the
 * Administrators, TrustedInstaller or CREATOR OWNER.
 */
export function ordinaryReplacers(sddl: string): string[] {
  return ordinaryHolders(sddl, REPLACE_MASK);
}

function ordinaryHolders(sddl: string, mask: number): string[] {
  const holders: string[] = [];
  for (const ace of parseDacl(sddl).aces) {
    if (ace.type !== "A" || ace.flags.includes("IO") || PRIVILEGED.has(ace.trustee)) continue;
    const holds = (accessMask(ace.rights) & mask) !== 0;
    if (holds && !holders.includes(ace.trustee)) holders.push(ace.trustee);
  }
  return holders;
}

/**
 * Why a parent of the install folder (its descriptor read back) lets someone other than
 * SYSTEM, the Administrators or TrustedInstaller swap the install folder, or undefined: a
 * reparse point (the real parent is elsewhere), an untrusted owner (who may change the
 * permissions), or a right of {@link REPLACE_MASK} for anyone else. `securityStored: false`
 * (Wine) checks only for a reparse point.
 */
export function parentProblem(
  found: { reparsePoint: boolean; sddl: string; securityStored?: boolean },
): string | undefined {
  if (found.reparsePoint) return "it is a junction or symbolic link";
  if (found.securityStored === false) return undefined;
  const owner = parseOwner(found.sddl);
  if (!isTrustedOwner(owner)) {
    return `its owner ${trusteeNames([owner ?? "(none)"])} may change its permissions`;
  }
  const replacers = ordinaryReplacers(found.sddl);
  if (replacers.length > 0) {
    return `${trusteeNames(replacers)} may rename or delete it or the folders in it`;
  }
  return undefined;
}

/**
 * True when two SDDL strings describe the same owner and DACL: the DACL's flags compared
 * without AI (Windows adds "auto-inherited" when it stores a protected DACL), each ACE's rights
 * compared as a set of two-letter codes (their order in the string is Windows' choice).
 */
export function sameDescriptor(actual: string, expected: string): boolean {
  const norm = (sddl: string) => {
    const { flags, aces } = parseDacl(sddl);
    return JSON.stringify({
      owner: parseOwner(sddl) ?? null,
      flags: flags.replace("AI", ""),
      aces: aces.map((ace) => ({
        ...ace,
        rights: /^0x/i.test(ace.rights)
          ? ace.rights.toLowerCase()
          : (ace.rights.match(/../g) ?? []).sort().join(""),
      })),
    });
  };
  return norm(actual) === norm(expected);
}

/** Names of the well-known SDDL trustee abbreviations an administrator meets in a folder's DACL. */
const TRUSTEE_NAMES: Readonly<Record<string, string>> = {
  WD: "Everyone",
  BU: "Users",
  AU: "Authenticated Users",
  IU: "INTERACTIVE",
  BG: "Guests",
  DU: "Domain Users",
  AN: "ANONYMOUS LOGON",
  NU: "NETWORK",
  PU: "Power Users",
};

/** Trustees in words: "Users (BU)", or the SID itself. */
export function trusteeNames(trustees: readonly string[]): string {
  return trustees.map((t) => TRUSTEE_NAMES[t] ? `${TRUSTEE_NAMES[t]} (${t})` : t).join(", ");
}

/**
 * Who besides SYSTEM, the Administrators and TrustedInstaller may write in the folder whose
 * descriptor is `sddl` (its writers, and an owner outside those, who may change the DACL at
 * will), in words; undefined when nobody.
 */
export function describeOpenAccess(sddl: string): string | undefined {
  const parts = ordinaryWriters(sddl).map((trustee) => TRUSTEE_NAMES[trustee] ?? trustee);
  const owner = parseOwner(sddl);
  if (owner !== undefined && !isTrustedOwner(owner)) {
    parts.push(`its owner ${TRUSTEE_NAMES[owner] ?? owner} (who may change its permissions)`);
  }
  return parts.length > 0 ? parts.join(", ") : undefined;
}
