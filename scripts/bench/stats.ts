/**
 * Small statistics and formatting helpers of scripts/bench.ts.
 *
 * @module
 */
import { errorText } from "../../src/text.ts";

/** Nearest-rank percentile (`p` in 0..100) of `values`; NaN when there are none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** The median of `values` (mean of the two middle ones for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** A figure measured several times: its samples, or why it could not be measured. */
export type Figure = { samples: number[] } | { error: string };

/** Rounds for display: 3 significant digits, no exponent, thousands kept whole. */
export function round(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return value.toLocaleString("en-US");
  const abs = Math.abs(value);
  if (abs >= 100) return Math.round(value).toLocaleString("en-US");
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toPrecision(2);
}

/** `median (min–max, n runs)`, or the reason it was not measured. */
export function describeFigure(figure: Figure, unit: string): string {
  if ("error" in figure) return `not measured: ${figure.error}`;
  const s = figure.samples;
  const space = unit ? " " : "";
  if (s.length === 1) return `${round(s[0])}${space}${unit}`;
  return `${round(median(s))}${space}${unit} (${round(Math.min(...s))}–${
    round(Math.max(...s))
  }, ${s.length} runs)`;
}

/** The ratio of two figures' medians, or a dash when either is missing or zero. */
export function ratio(agent: Figure, baseline: Figure): string {
  if ("error" in agent || "error" in baseline) return "—";
  const b = median(baseline.samples);
  if (b === 0 || !Number.isFinite(b)) return "—";
  return `${round(median(agent.samples) / b)}×`;
}

/** An error's text cut to its first three lines, joined by " / " (one table cell). */
export function briefErrorText(error: unknown): string {
  return errorText(error).split("\n").slice(0, 3).join(" / ");
}

/** Runs a measurement: its samples, or why it gave none. */
export async function measure(what: string, run: () => Promise<number[]>): Promise<Figure> {
  try {
    const samples = await run();
    if (samples.length === 0 || samples.some((s) => !Number.isFinite(s))) {
      return { error: `${what} gave no finite samples` };
    }
    return { samples };
  } catch (error) {
    return { error: briefErrorText(error) };
  }
}
