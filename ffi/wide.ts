/**
 * UTF-16LE ("wide") strings for the W functions of the Win32 API. Strings are made from
 * `charCodeAt` code units and read with `TextDecoder("utf-16le")`: UTF-8 bytes are never widened
 * one by one (that turns every non-ASCII character into mojibake).
 *
 * @module
 */

const decoder = new TextDecoder("utf-16le");

/** Longest string read from foreign memory, in UTF-16 code units (the NT path limit). */
export const MAX_WIDE_UNITS = 32_767;

/** Encodes `text` as a NUL-terminated UTF-16LE string (an LPCWSTR argument). */
export function wide(text: string): Uint16Array<ArrayBuffer> {
  const units = new Uint16Array(text.length + 1);
  for (let i = 0; i < text.length; i++) units[i] = text.charCodeAt(i);
  return units;
}

/**
 * Encodes several strings as a REG_MULTI_SZ / double-NUL-terminated list (e.g. lpDependencies):
 * each string NUL-terminated, then one more NUL.
 */
export function wideList(texts: readonly string[]): Uint16Array<ArrayBuffer> {
  const joined = texts.map((text) => text + "\0").join("") + "\0";
  const units = new Uint16Array(joined.length);
  for (let i = 0; i < joined.length; i++) units[i] = joined.charCodeAt(i);
  return units;
}

/** Decodes UTF-16LE code units up to the first NUL (or the end of `units`). */
export function fromWide(units: Uint16Array): string {
  let end = units.indexOf(0);
  if (end < 0) end = units.length;
  return decoder.decode(units.subarray(0, end));
}

/** Decodes `byteLength` bytes of UTF-16LE at `byteOffset` of `buffer`, stopping at the first NUL. */
export function fromWideBytes(
  buffer: ArrayBufferLike,
  byteOffset = 0,
  byteLength?: number,
): string {
  const length = Math.floor((byteLength ?? buffer.byteLength - byteOffset) / 2);
  return fromWide(new Uint16Array(buffer, byteOffset, length));
}

/**
 * Reads a NUL-terminated UTF-16LE string from foreign memory (an LPWSTR the system returned).
 * A null pointer reads as "". Reads at most `maxUnits` code units.
 */
export function readWide(pointer: Deno.PointerValue, maxUnits = MAX_WIDE_UNITS): string {
  if (pointer === null) return "";
  const view = new Deno.UnsafePointerView(pointer);
  let length = 0;
  while (length < maxUnits && view.getUint16(length * 2) !== 0) length++;
  if (length === 0) return "";
  return decoder.decode(new Uint8Array(view.getArrayBuffer(length * 2)));
}
