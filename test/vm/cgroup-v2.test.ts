// The cgroup tests again, for real, on cgroup v2: this machine boots v1 (hybrid), current
// distributions boot v2 only. run-in-vm.sh boots a v2-only VM over the host's root and runs
// the cgroup unit and end-to-end tests there; their own output is passed through.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

const script = fileURLToPath(new URL("./run-in-vm.sh", import.meta.url));
const repo = resolve(fileURLToPath(new URL("../..", import.meta.url)));
/** the test files, by path fragment, that must pass on v2 too (and AppArmor, which the VM has); node's OOM scores also where root
 * holds CAP_SYS_RESOURCE, as it does in the VM (not the user namespace tests: the VM's roots are
 * on filesystems Debian 12's kernel cannot idmap) */
const suites = ["test/unit/cgroups", "test/e2e/cgroups", "test/e2e/pod-cgroups", "test/e2e/pod-devices", "test/e2e/container-security", "test/e2e/node", "test/e2e/pod-apparmor"];

function whyNot(): string | false {
  if (process.env.PODD_IN_VM) return "already inside the test VM";
  if (process.platform !== "linux" || process.arch !== "x64") return "needs Linux on x86-64";
  if (process.getuid?.() !== 0) return "needs root (boots a VM over the host's root)";
  if (spawnSync("sh", ["-c", "command -v qemu-system-x86_64"]).status !== 0)
    return "qemu-system-x86_64 missing: apt-get install qemu-system-x86 linux-image-amd64";
  if (!readdirSync("/boot").some((f) => f.startsWith("vmlinuz-") && existsSync(`/lib/modules/${f.slice(8)}/modules.dep`)))
    return "no Debian kernel: apt-get install linux-image-amd64";
  return false;
}

test("cgroup tests pass on a cgroup-v2-only kernel", { skip: whyNot(), timeout: 1_500_000 }, async (t) => {
  const child = spawn(script, ["--timeout", "1400", "--timing", "--", "node", "test/run.mjs", ...suites], { cwd: repo, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (out += d));
  const code = await new Promise<number | null>((r) => child.on("close", r));
  t.diagnostic(out.split("\n").filter((l) => /^ℹ (tests|pass|fail|skipped)|boot|took/.test(l)).join("\n"));
  assert.equal(code, 0, `the v2 run failed (exit ${code}):\n${out}`);
  // A run that skipped everything proves nothing about v2.
  assert.match(out, /ℹ pass [1-9]/, out);
  assert.match(out, /ℹ skipped 0/, `tests were skipped inside the VM:\n${out}`);
});
