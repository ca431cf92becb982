/**
 * Baseline child of scripts/bench.ts: a bare Deno process that stays alive doing nothing (one
 * no-op timer a second), to compare the agent's idle memory and CPU with.
 *
 * @module
 */
setInterval(() => {}, 1_000);
console.log("ready");
