/**
 * RFC 4180 CSV, small and exact: the format of event_log.csv.
 *
 * Formula injection (a cell starting with `=`, `+`, `-` or `@` that Excel evaluates) is deliberately
 * NOT guarded against by altering values: the five event columns are the server's duplicate key and
 * must stay byte-for-byte what was captured and sent, so a user name starting with `=` is written as
 * is (the original agent did the same). event_log.csv is readable only by SYSTEM and Administrators;
 * an administrator who opens it in Excel should import it as text.
 *
 * @module
 */

const NEEDS_QUOTES = /[",\r\n]/;

/**
 * Formats one CSV record without a line end. A field is quoted only when it contains a comma, a
 * double quote, CR or LF; quotes inside are doubled. Non-ASCII letters need no quoting.
 */
export function formatCsvRow(fields: string[]): string {
  return fields.map(formatCsvField).join(",");
}

function formatCsvField(field: string): string {
  return NEEDS_QUOTES.test(field) ? `"${field.replaceAll('"', '""')}"` : field;
}

/** One record found by {@linkcode scanCsv}. */
export interface CsvRecord {
  /** The fields, unquoted. */
  fields: string[];
  /** Index in the text of the record's first character. */
  start: number;
  /** Index just past the record's line end (or the end of the text when it has none). */
  end: number;
  /** Length of the line end that closes the record: 1 ("\n"), 2 ("\r\n") or 0 (none). */
  lineEnd: 0 | 1 | 2;
  /** False when the text ended inside a quoted field. */
  closed: boolean;
}

/**
 * Scans RFC 4180 CSV text record by record, keeping each record's position so a caller can tell a
 * complete line from a torn one. Quoted fields may hold commas, quotes ("") and line breaks; records
 * end with "\n" or "\r\n". An empty text has no records; a final line end does not start another.
 *
 * @throws {SyntaxError} When a character other than a comma or a line end follows a closing quote.
 */
export function scanCsv(text: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  for (let i = 0; i < text.length;) {
    const record = scanCsvRecord(text, i);
    records.push(record);
    i = record.end;
  }
  return records;
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;

/**
 * Scans the one record that starts at index `start` of `text` (see {@linkcode scanCsv}). Fields
 * are sliced from the text, never built a character at a time.
 *
 * @throws {SyntaxError} When a character other than a comma or a line end follows a closing quote.
 */
export function scanCsvRecord(text: string, start: number): CsvRecord {
  const n = text.length;
  const fields: string[] = [];
  const lineEndAt = (j: number) =>
    text.charCodeAt(j) === LF
      ? 1
      : text.charCodeAt(j) === CR && text.charCodeAt(j + 1) === LF
      ? 2
      : 0;
  let i = start;
  for (;;) {
    if (i < n && text.charCodeAt(i) === QUOTE) {
      const parts: string[] = [];
      let from = i + 1;
      for (;;) {
        const quote = text.indexOf('"', from);
        if (quote < 0) {
          parts.push(text.slice(from));
          fields.push(parts.join(""));
          return { fields, start, end: n, lineEnd: 0, closed: false };
        }
        parts.push(text.slice(from, quote));
        if (text.charCodeAt(quote + 1) !== QUOTE) {
          i = quote + 1;
          break;
        }
        parts.push('"');
        from = quote + 2;
      }
      fields.push(parts.join(""));
      if (i < n && text.charCodeAt(i) !== COMMA && lineEndAt(i) === 0) {
        throw new SyntaxError(
          `Invalid CSV at character ${i}: a closing quote must be followed by a comma or a line end`,
        );
      }
    } else {
      let j = i;
      while (j < n && text.charCodeAt(j) !== COMMA && lineEndAt(j) === 0) j++;
      fields.push(text.slice(i, j));
      i = j;
    }
    if (i < n && text.charCodeAt(i) === COMMA) {
      i++;
      continue;
    }
    const lineEnd = i < n ? lineEndAt(i) as 1 | 2 : 0;
    return { fields, start, end: i + lineEnd, lineEnd, closed: true };
  }
}

/**
 * Parses RFC 4180 CSV text into records of fields. Accepts "\n" and "\r\n" line ends and quoted
 * fields holding commas, doubled quotes and line breaks.
 *
 * @throws {SyntaxError} When a quoted field is not closed, or a closing quote is followed by
 * anything but a comma or a line end.
 */
export function parseCsv(text: string): string[][] {
  return scanCsv(text).map((record) => {
    if (!record.closed) {
      throw new SyntaxError(
        `Invalid CSV at character ${record.start}: a quoted field is not closed before the end of the text`,
      );
    }
    return record.fields;
  });
}
