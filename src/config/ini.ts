/**
 * A format-preserving INI document: what Python's configparser (the server's generator of
 * config.ini) writes and what an administrator types by hand.
 *
 * - Parsing then {@linkcode IniDocument.toString} gives back the text byte for byte: the UTF-8
 *   BOM (if any), CRLF, LF or CR line endings, comments, blank lines, spacing, unknown sections and
 *   keys, and a missing final newline are all kept.
 * - {@linkcode IniDocument.set} rewrites only the value part of one line, or inserts one line.
 *
 * Accepted lines (leading and trailing spaces are ignored):
 *
 * | line | meaning |
 * |---|---|
 * | `[Name]` | a section; names are case-sensitive; a `;` or `#` comment may follow the `]` |
 * | `key = value`, `key=value`, `key: value` | an entry; the first `=` or `:` separates; keys are case-insensitive (configparser lowercases them) |
 * | `; text`, `# text` | a full-line comment |
 * | (empty) | a blank line |
 *
 * Values are taken verbatim after trimming, as configparser does: `;` after a value is part of
 * the value (configparser has no inline comments by default). One exception, for hand-edited
 * files: a value wrapped in one pair of matching double quotes (`server_url = "https://x:8000"`)
 * is read without them; configparser would keep them, which is never what an admin meant.
 * Continuation lines (configparser's indented multi-line values) are not supported: an indented
 * line is read like any other line.
 *
 * Anything else is a `SyntaxError` naming the file, the line number, the line and the accepted
 * form: a line without `=`/`:`, an entry before the first section, a key repeated in a section,
 * a section repeated in the file, an unterminated `[section`.
 *
 * @module
 */

/** One physical line: its text without the terminator, and the terminator ("", "\n", "\r\n", "\r"). */
interface RawLine {
  text: string;
  eol: string;
}

type Line =
  | RawLine & { kind: "blank" | "comment" }
  | RawLine & { kind: "section"; name: string }
  | RawLine & {
    kind: "entry";
    /** The key as spelled in the file. */
    key: string;
    /** Everything before the value: indentation, key, separator and the spaces after it. */
    head: string;
    /** The value as written (after trimming), quotes included. */
    raw: string;
    /** Whitespace after the value. */
    tail: string;
  };

/** Options of {@linkcode IniDocument.parse}. */
export interface IniParseOptions {
  /**
   * Keys (lowercase) whose value must never appear in an error message; a malformed line that
   * starts with one of them is shown masked. Default: `["api_key"]`.
   */
  secretKeys?: readonly string[];
}

/** One entry of a section, as {@linkcode IniDocument.entries} lists it. */
export interface IniEntry {
  /** The key as spelled in the file. */
  key: string;
  /** The value, trimmed, with one pair of surrounding double quotes removed. */
  value: string;
  /** 1-based line number in the file. */
  line: number;
}

const ACCEPTED = `is not "key = value", a [section] or a ; comment`;

/** Removes one pair of matching surrounding double quotes. */
function unquote(raw: string): string {
  return raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw;
}

/** Shows a line in an error message, masking the value of a secret key or a bare secret. */
function showLine(text: string, secretKeys: readonly string[]): string {
  const trimmed = text.trim();
  const word = /^[^\s=:]+/.exec(trimmed)?.[0] ?? "";
  if (secretKeys.includes(word.toLowerCase()) && trimmed.length > word.length) {
    return JSON.stringify(`${word} (value hidden)`);
  }
  // A long token of letters and digits is most likely a key pasted without "api_key =" or
  // under a misspelled name: hide it.
  const hidden = trimmed.replace(
    /[A-Za-z0-9_\-+/=.]{16,}/g,
    (t) => /\d/.test(t) && /[A-Za-z]/.test(t) ? "(hidden)" : t,
  );
  return JSON.stringify(hidden.length > 80 ? `${hidden.slice(0, 77)}...` : hidden);
}

/** A parsed INI file that writes back exactly what it read, plus the changes made with `set`. */
export class IniDocument {
  #bom: string;
  #lines: Line[];
  #eol: string;

  private constructor(bom: string, lines: Line[], eol: string) {
    this.#bom = bom;
    this.#lines = lines;
    this.#eol = eol;
  }

  /**
   * Parses INI text. `path` is only used in error messages.
   *
   * @throws {SyntaxError} on a malformed line, naming `path`, the line number and the line.
   */
  static parse(text: string, path: string, options: IniParseOptions = {}): IniDocument {
    const secretKeys = options.secretKeys ?? ["api_key"];
    const bom = text.startsWith("\uFEFF") ? "\uFEFF" : "";
    const body = text.slice(bom.length);
    const raws: RawLine[] = [];
    // CR alone ends a line too (classic Mac OS, some editors): else the file is one long line.
    const re = /\r\n|\n|\r/g;
    let start = 0;
    for (let m = re.exec(body); m !== null; m = re.exec(body)) {
      raws.push({ text: body.slice(start, m.index), eol: m[0] });
      start = m.index + m[0].length;
    }
    if (start < body.length) raws.push({ text: body.slice(start), eol: "" });
    const eol = raws.find((r) => r.eol !== "")?.eol ?? "\n";

    const lines: Line[] = [];
    const seenSections = new Map<string, number>();
    let seenKeys: Map<string, number> | undefined;
    let section: string | undefined;
    raws.forEach((r, i) => {
      const n = i + 1;
      const fail = (detail: string): never => {
        throw new SyntaxError(
          `Invalid line ${n} in ${path}: ${showLine(r.text, secretKeys)} ${detail}`,
        );
      };
      const t = r.text.trim();
      if (t === "") {
        lines.push({ ...r, kind: "blank" });
      } else if (t.startsWith(";") || t.startsWith("#")) {
        lines.push({ ...r, kind: "comment" });
      } else if (t.startsWith("[")) {
        const m = /^\[([^\]]*)\]\s*(?:[;#].*)?$/.exec(t);
        if (m === null) {
          fail(
            t.includes("]")
              ? `${ACCEPTED} (text after "]")`
              : `is an unterminated [section]: add "]"`,
          );
        }
        const name = m![1].trim();
        if (name === "") fail(`is an empty section name: write [API] or [Logging]`);
        const first = seenSections.get(name);
        if (first !== undefined) {
          fail(`repeats section [${name}] of line ${first}: merge the two sections`);
        }
        seenSections.set(name, n);
        seenKeys = new Map();
        section = name;
        lines.push({ ...r, kind: "section", name });
      } else {
        const m = /^(\s*)([^=:]*?)(\s*[=:]\s*)(.*?)(\s*)$/.exec(r.text);
        if (m === null) fail(ACCEPTED);
        const [, indent, key, sep, raw, tail] = m!;
        if (key === "") fail(`has no key before "${sep.trim()}": write "key = value"`);
        if (section === undefined) fail(`comes before any [section]: put it under [API]`);
        const lower = key.toLowerCase();
        const first = seenKeys!.get(lower);
        if (first !== undefined) {
          fail(`repeats key "${key}" of line ${first} in [${section}]: keep only one`);
        }
        seenKeys!.set(lower, n);
        lines.push({ ...r, kind: "entry", key, head: indent + key + sep, raw, tail });
      }
    });
    return new IniDocument(bom, lines, eol);
  }

  /** The line terminator the file uses ("\r\n" or "\n"; "\n" for a file without one). */
  get eol(): string {
    return this.#eol;
  }

  /** Whether the text started with a UTF-8 byte order mark. */
  get hasBom(): boolean {
    return this.#bom !== "";
  }

  /** The section names, in file order. */
  sections(): string[] {
    return this.#lines.flatMap((l) => l.kind === "section" ? [l.name] : []);
  }

  /** The entries of `section` in file order; empty when the section is missing. */
  entries(section: string): IniEntry[] {
    const [from, to] = this.#range(section) ?? [0, 0];
    const out: IniEntry[] = [];
    for (let i = from; i < to; i++) {
      const l = this.#lines[i];
      if (l.kind === "entry") out.push({ key: l.key, value: unquote(l.raw), line: i + 1 });
    }
    return out;
  }

  /** The value of `key` (case-insensitive) in `section` (case-sensitive), or undefined. */
  get(section: string, key: string): string | undefined {
    const i = this.#find(section, key);
    if (i === undefined) return undefined;
    return unquote((this.#lines[i] as Line & { kind: "entry" }).raw);
  }

  /** The 1-based line number of `key` in `section`, or undefined. */
  lineOf(section: string, key: string): number | undefined {
    const i = this.#find(section, key);
    return i === undefined ? undefined : i + 1;
  }

  /**
   * Sets `key` in `section`. An existing line keeps its key spelling, spacing and quotes and
   * only its value changes. A missing key is inserted after the section's last entry (before
   * trailing blank lines and before comments that lead into the next section), spaced like the
   * section's other entries or as `key = value`. A missing section is appended to the file.
   *
   * @throws {TypeError} when `value` has a line break or `key` cannot be written as a key.
   */
  set(section: string, key: string, value: string): void {
    if (/[\r\n]/.test(value)) {
      throw new TypeError(`Cannot set ${key} in [${section}]: the value has a line break`);
    }
    if (key.trim() !== key || key === "" || /[=:\r\n]/.test(key) || /^[;#[]/.test(key)) {
      throw new TypeError(
        `Cannot set key ${JSON.stringify(key)}: a key has no "=", ":" or edge spaces`,
      );
    }
    if (/[\]\r\n]/.test(section) || section.trim() === "") {
      throw new TypeError(`Cannot add section ${JSON.stringify(section)}: a name has no "]"`);
    }
    value = value.trim();
    const i = this.#find(section, key);
    if (i !== undefined) {
      const l = this.#lines[i] as Line & { kind: "entry" };
      let head = l.head;
      // `key =` or `key:` with no value yet: give the new value the usual space.
      if (l.raw === "" && value !== "" && !/\s$/.test(head)) {
        if (head.endsWith(":") || /\s=$/.test(head)) head += " ";
      }
      const quoted = l.raw.length >= 2 && l.raw.startsWith('"') && l.raw.endsWith('"');
      this.#lines[i] = { ...l, head, raw: quoted ? `"${value}"` : value };
      return;
    }
    const range = this.#range(section);
    if (range === undefined) {
      const last = this.#lines.at(-1);
      const final = last === undefined || last.eol !== "" ? this.#eol : "";
      if (last !== undefined && last.eol === "") last.eol = this.#eol;
      if (last !== undefined && last.kind !== "blank") {
        this.#lines.push({ text: "", eol: this.#eol, kind: "blank" });
      }
      const text = `[${section}]`;
      this.#lines.push({ text, eol: this.#eol, kind: "section", name: section });
      const entry = this.#entry(key, value, " = ");
      entry.eol = final;
      this.#lines.push(entry);
      return;
    }
    const [from, to] = range;
    let at = to;
    if (to < this.#lines.length) { // comments touching the next header belong to it
      while (at > from && this.#lines[at - 1].kind === "comment") at--;
    }
    while (at > from && this.#lines[at - 1].kind === "blank") at--;
    if (at === from) at = to; // only comments/blanks: keep the comment block before the key
    while (at > from && this.#lines[at - 1].kind === "blank") at--;
    let sep = " = ";
    for (let j = at - 1; j >= from; j--) {
      const l = this.#lines[j];
      if (l.kind === "entry") {
        sep = l.head.slice(l.head.indexOf(l.key) + l.key.length);
        if (l.raw === "" && !/\s$/.test(sep) && /\s/.test(sep)) sep += " ";
        break;
      }
    }
    const prev = this.#lines[at - 1];
    const entry = this.#entry(key, value, sep);
    if (prev.eol === "") { // the file ends without a newline: so does it after the insert
      prev.eol = this.#eol;
      entry.eol = "";
    }
    this.#lines.splice(at, 0, entry);
  }

  /** The document as text: byte-identical to the parsed text when nothing was set. */
  toString(): string {
    let out = this.#bom;
    for (const l of this.#lines) {
      out += (l.kind === "entry" ? l.head + l.raw + l.tail : l.text) + l.eol;
    }
    return out;
  }

  #entry(key: string, value: string, sep: string): Line & { kind: "entry" } {
    const head = key + sep;
    return { text: "", eol: this.#eol, kind: "entry", key, head, raw: value, tail: "" };
  }

  /** [index of the header, index after the section's last line], or undefined. */
  #range(section: string): [number, number] | undefined {
    const from = this.#lines.findIndex((l) => l.kind === "section" && l.name === section);
    if (from < 0) return undefined;
    let to = from + 1;
    while (to < this.#lines.length && this.#lines[to].kind !== "section") to++;
    return [from + 1, to];
  }

  #find(section: string, key: string): number | undefined {
    const range = this.#range(section);
    if (range === undefined) return undefined;
    const lower = key.toLowerCase();
    for (let i = range[0]; i < range[1]; i++) {
      const l = this.#lines[i];
      if (l.kind === "entry" && l.key.toLowerCase() === lower) return i;
    }
    return undefined;
  }
}
