// Boots the cgroup-v2-only test VM (run-in-vm.sh) and checks what the podd
// tests inside it rely on. Runs on the host, as root, with qemu and a Debian
// kernel installed; otherwise every test is skipped with the reason.
//   node --import tsx --test test/vm/smoke.test.ts
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const script = fileURLToPath(new URL("./run-in-vm.sh", import.meta.url));
const repo = resolve(fileURLToPath(new URL("../..", import.meta.url)));

function whyNot(): string | false {
  if (process.platform !== "linux" || process.arch !== "x64") return "needs Linux on x86-64";
  if (process.getuid?.() !== 0) return "needs root (reads the whole host root and /boot)";
  if (process.env.PODD_IN_VM) return "already inside the test VM";
  if (spawnSync("sh", ["-c", "command -v qemu-system-x86_64"]).status !== 0)
    return "qemu-system-x86_64 missing: apt-get install qemu-system-x86 linux-image-amd64";
  const kernels = readdirSync("/boot").filter(
    (f) => f.startsWith("vmlinuz-") && existsSync(`/lib/modules/${f.slice(8)}/modules.dep`),
  );
  if (kernels.length === 0) return "no Debian kernel: apt-get install qemu-system-x86 linux-image-amd64";
  return false;
}
const skip = whyNot();

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

function runInVm(args: string[], limitMs = 240_000): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(script, args, { cwd: repo, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGTERM"), limitMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, seconds: (Date.now() - started) / 1000 });
    });
  });
}

function show(r: Run): string {
  return `exit ${r.code} after ${r.seconds.toFixed(1)}s\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

test("the VM runs cgroup v2 only, runs Node, and passes the exit code back", { skip, timeout: 300_000 }, async (t) => {
  const r = await runInVm([
    "--timing",
    "--",
    "sh",
    "-c",
    'stat -fc %T /sys/fs/cgroup; cat /sys/fs/cgroup/cgroup.controllers; node -e "console.log(process.version)"; exit 7',
  ]);
  t.diagnostic(r.stderr.trim());
  assert.equal(r.code, 7, show(r));
  const lines = r.stdout.split("\n");
  assert.equal(lines[0], "cgroup2fs", show(r));
  const controllers = (lines[1] ?? "").split(" ");
  assert.ok(controllers.includes("memory") && controllers.includes("pids"), show(r));
  assert.match(lines[2] ?? "", /^v20\./, show(r));
  assert.equal(lines.length, 4, `no other output expected\n${show(r)}`); // three lines and the final newline
});

// What podd and its tests need from the VM, checked in one boot. Each check
// prints "ok <name>" on success.
const checks = String.raw`
set -u
ok() { echo "ok $1"; }
[ "$(pwd)" = "$1" ] && ok cwd
[ "$PODD_IN_VM" = 1 ] && [ "$HOME" = /root ] && [ "$(id -u)" = 0 ] && ok env
grep -q ' - cgroup2 ' /proc/self/mountinfo && ! grep -q ' - cgroup ' /proc/self/mountinfo && ok cgroup-v2-only
grep -qw memory /sys/fs/cgroup/cgroup.subtree_control && grep -qw pids /sys/fs/cgroup/cgroup.subtree_control && ok delegated
mkdir /sys/fs/cgroup/smoke && sh -c 'echo $$ > /sys/fs/cgroup/smoke/cgroup.procs; exec sleep 60' &
sleep 0.5; [ -e /sys/fs/cgroup/smoke/cgroup.kill ] && echo 1 > /sys/fs/cgroup/smoke/cgroup.kill && wait && rmdir /sys/fs/cgroup/smoke && ok cgroup.kill
echo 'const n: number = 41; console.log(n + 1);' > /tmp/smoke.ts
[ "$(node --import tsx /tmp/smoke.ts)" = 42 ] && ok tsx
echo data > /tmp/smoke && [ "$(cat /tmp/smoke)" = data ] && touch /var/lib/podd/x /var/log/podd/x /run/x /var/tmp/x ./.podd-vm-smoke && ok writable
mkdir -p /var/lib/podd/ov/u /var/lib/podd/ov/w /var/lib/podd/ov/m /tmp/ov/u /tmp/ov/w /tmp/ov/m
mount -t overlay overlay -o lowerdir=/usr,upperdir=/var/lib/podd/ov/u,workdir=/var/lib/podd/ov/w /var/lib/podd/ov/m &&
  echo x > /var/lib/podd/ov/m/new && [ -e /var/lib/podd/ov/u/new ] && [ -x /var/lib/podd/ov/m/bin/sh ] && umount /var/lib/podd/ov/m &&
  mount -t overlay overlay -o lowerdir=/var/lib/podd/ov/u,upperdir=/tmp/ov/u,workdir=/tmp/ov/w /tmp/ov/m && umount /tmp/ov/m && ok overlay
[ "$(unshare --pid --fork --mount-proc sh -c 'echo $$')" = 1 ] && unshare --pid --fork --mount-proc true && ok unshare
unshare --mount --fork sh -c 'mount --make-rprivate / && mkdir -p /tmp/nr/old && mount -t tmpfs t /tmp/nr && mkdir /tmp/nr/old && cd /tmp/nr && pivot_root . old' && ok pivot_root
bins=$(find init/build -maxdepth 1 -type f -perm -u+x 2>/dev/null)
if [ -z "$bins" ]; then echo "skip static (no binary in init/build)"; fi
for b in $bins; do timeout 10 "$b" </dev/null >/dev/null 2>&1; rc=$?; [ $rc -ne 126 ] && [ $rc -ne 127 ] && ok "static $b"; done
`;

test("in the VM: cwd, env, cgroup delegation and kill, tsx, writable dirs, overlayfs, unshare, pivot_root", { skip, timeout: 300_000 }, async (t) => {
  const r = await runInVm(["--timing", "--", "sh", "-c", checks, "checks", repo]);
  t.diagnostic(r.stderr.trim());
  assert.equal(r.code, 0, show(r));
  const got = new Set(r.stdout.split("\n").filter((l) => l.startsWith("ok ")).map((l) => l.slice(3)));
  const want = ["cwd", "env", "cgroup-v2-only", "delegated", "cgroup.kill", "tsx", "writable", "overlay", "unshare", "pivot_root"];
  for (const name of want) assert.ok(got.has(name), `check "${name}" failed\n${show(r)}`);
  const build = join(repo, "init", "build");
  if (existsSync(build)) {
    for (const f of readdirSync(build)) {
      const st = statSync(join(build, f));
      if (st.isFile() && st.mode & 0o100) assert.ok(got.has(`static init/build/${f}`), `init/build/${f} did not run\n${show(r)}`);
    }
  }
  // The overlay root is a tmpfs: the write to the checkout did not reach the host.
  assert.ok(!existsSync(join(repo, ".podd-vm-smoke")), "a write inside the VM leaked to the host");
});

test("--timeout kills the VM and exits 124", { skip, timeout: 120_000 }, async () => {
  const r = await runInVm(["--timeout", "2", "--", "sleep", "600"]);
  assert.equal(r.code, 124, show(r));
  assert.match(r.stderr, /timed out/, show(r));
});
