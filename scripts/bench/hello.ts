/**
 * Baseline child of scripts/bench.ts: prints one line and exits, to compare the agent's start-up
 * time with a bare `deno run`.
 *
 * @module
 */
console.log("ready");
