#!/usr/bin/env node
// Runs every test file under test/ (unit, init, e2e) through node:test with tsx.
// Node 20's --test does not expand globs or pick up .ts files, so the list is built here.
// Benchmarks (test/bench) are not tests and are never run from here. test/vm boots a
// cgroup-v2 VM and runs the cgroup tests again inside it (they skip themselves in the VM).
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const skipDirs = new Set(["bench", "fixtures"]);

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (!skipDirs.has(name)) out.push(...collect(path));
    } else if (name.endsWith(".test.ts")) {
      out.push(path);
    }
  }
  return out;
}

const filters = process.argv.slice(2);
const files = collect(join(root, "test"))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error(`no test files match ${filters.join(" ")}`);
  process.exit(1);
}
// NODE_EXTRA_CA_CERTS (set on some machines) makes Node 20 parse
// a CA bundle at every start, ~55 ms; the suite starts node hundreds of times and opens
// no TLS connection, so it runs without it.
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;
const r = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-reporter=spec", ...files], {
  cwd: root,
  stdio: "inherit",
  env,
});
process.exit(r.status ?? 1);
