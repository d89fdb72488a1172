// Which program a container's run gets: none for Unconfined, the RuntimeDefault compiled once per
// set of the capabilities its rules look at (a bounded cache), a Localhost profile read from the
// seccomp directory, refused when a rule would deny a call podd cannot name.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { DEFAULT_CAPABILITIES, type Capability } from "../../pod-specs/security.ts";
import { ConfigError } from "../../supervisor/runtime/launch.ts";
import { SeccompFilters } from "../../supervisor/runtime/seccomp/container-filter.ts";

const dir = mkdtempSync(join(tmpdir(), "podd-seccomp-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const filters = new SeccompFilters(dir);
const runtimeDefault = (caps: readonly Capability[]) => ({ seccomp: { type: "RuntimeDefault" }, capabilities: [...caps] });

test("Unconfined has no program; RuntimeDefault one per set of the capabilities its rules name", () => {
  assert.equal(filters.forContainer({ seccomp: { type: "Unconfined" }, capabilities: [] }), undefined);
  const base = filters.forContainer(runtimeDefault(DEFAULT_CAPABILITIES));
  assert.ok(base && base.length > 0 && base.length % 8 === 0);
  // NET_ADMIN unlocks no rule: the same program, not a new cache entry.
  assert.equal(filters.forContainer(runtimeDefault([...DEFAULT_CAPABILITIES, "NET_ADMIN"])), base);
  // SYS_ADMIN unlocks mount and more: another program.
  const admin = filters.forContainer(runtimeDefault([...DEFAULT_CAPABILITIES, "SYS_ADMIN"]));
  assert.notDeepEqual(admin, base);
});

test("Localhost: read from the directory; missing, or denying a call podd cannot name, is a configuration error", () => {
  writeFileSync(join(dir, "ok.json"), JSON.stringify({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["keyctl"], action: "SCMP_ACT_ERRNO" }] }));
  assert.ok(filters.forContainer({ seccomp: { type: "Localhost", localhostProfile: "ok.json" }, capabilities: [] }));
  writeFileSync(join(dir, "typo.json"), JSON.stringify({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["keyctll"], action: "SCMP_ACT_ERRNO" }] }));
  assert.throws(
    () => filters.forContainer({ seccomp: { type: "Localhost", localhostProfile: "typo.json" }, capabilities: [] }),
    (e: unknown) => e instanceof ConfigError && /does not know the system calls keyctll, which a rule denies/.test((e as Error).message),
  );
  // In a rule that allows, an unknown name only denies more: accepted.
  writeFileSync(join(dir, "allow.json"), JSON.stringify({ defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["read", "write", "futurecall"], action: "SCMP_ACT_ALLOW" }] }));
  assert.ok(filters.forContainer({ seccomp: { type: "Localhost", localhostProfile: "allow.json" }, capabilities: [] }));
  assert.throws(
    () => filters.forContainer({ seccomp: { type: "Localhost", localhostProfile: "absent.json" }, capabilities: [] }),
    (e: unknown) => e instanceof ConfigError && /absent\.json does not exist/.test((e as Error).message),
  );
});
