// image: host — the host's own root filesystem, read-only, with the pieces a container needs
// of its own: private /tmp, /run and /var/tmp, its own /proc and a minimal /dev, /sys
// read-only, the pod's /etc/hosts, /etc/hostname and /etc/resolv.conf, podd's roots hidden,
// and the usual masks over /proc and /sys. One pod prints what it sees; each line is checked
// against what the host sees, so a check that would pass anyway shows up.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { e2eSkip } from "./harness.ts";
import { assertNothingLeft, inEnv, inEnvUnder, linesOf, runManifest, said, shCommand, valuesOf } from "./pod-helpers.ts";

const skip = e2eSkip();

describe("image: host", { skip }, () => {
  test("read-only host root with private scratch dirs, own /proc and /dev, pod files, hidden roots, masks", () =>
    // Roots outside /tmp: the container's private /tmp would hide them anyway.
    inEnvUnder("/var/lib", async (env) => {
      const probe = `podd-probe-${process.pid}-${Date.now()}`;
      const script = `
        try() { out=$(sh -c "$2" 2>&1) && echo "$1=ok" || echo "$1=$out"; }
        try usr "touch /usr/${probe}"
        try etc "touch /etc/${probe}"
        for d in /tmp /run /var/tmp; do try "write$d" "echo x > $d/${probe} && test -s $d/${probe}"; echo "fs$d=$(stat -f -c %T $d)"; done
        echo "pid=$$"
        echo "pid1=$(cat /proc/1/comm)"
        echo "pid1-cmdline=[$(tr -d '\\0' < /proc/1/cmdline)]"
        echo "dev=$(ls -A /dev | sort | tr '\\n' ' ')"
        try sys "touch /sys/${probe}"
        try proc-sys "echo probe > /proc/sys/kernel/hostname"
        for f in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug /proc/sysrq-trigger; do
          if [ ! -e $f ]; then echo "$f=absent"; else echo "$f=$(wc -c < $f) bytes, $([ -w $f ] && echo writable || echo read-only)"; fi
        done
        echo "/sys/firmware=$(ls -A /sys/firmware | wc -l) entries"
        for r in ${env.state} ${env.run} ${env.log}; do echo "root $r=[$(ls -A $r | tr '\\n' ' ')]"; done
        sed 's/^/hosts: /' /etc/hosts
        echo "hostname-file=$(cat /etc/hostname)"
        sed 's/^/resolv: /' /etc/resolv.conf
      `;
      const r = await runManifest(env, "host.yaml", `
apiVersion: v1
kind: Pod
metadata: {name: on-host}
spec:
  restartPolicy: Never
  hostAliases:
    - {ip: 10.1.2.3, hostnames: [foo.local, bar.local]}
  containers:
    - name: c
      image: host
      command: ${shCommand(script)}
`);
      assert.equal(r.code, 0, said(r));
      const v = valuesOf(r, "on-host", "c");
      // the host root is read-only
      assert.match(v.get("usr") ?? "", /Read-only file system/);
      assert.match(v.get("etc") ?? "", /Read-only file system/);
      // /tmp, /run, /var/tmp: writable tmpfs of the container's own, none of it on the host
      for (const d of ["/tmp", "/run", "/var/tmp"]) {
        assert.equal(v.get(`write${d}`), "ok", d);
        assert.equal(v.get(`fs${d}`), "tmpfs", d);
        assert.ok(!existsSync(join(d, probe)), `${d}/${probe} reached the host`);
      }
      // its own /proc: podd-init is PID 1, the command PID 2
      assert.equal(v.get("pid"), "2");
      assert.equal(v.get("pid1"), "podd-init");
      // its command line, which named host paths, is hidden from the container
      assert.equal(v.get("pid1-cmdline"), "[podd-init]");
      // a minimal /dev, and the termination log bound on the default terminationMessagePath
      assert.deepEqual(v.get("dev")!.trim().split(" "), ["fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "termination-log", "tty", "urandom", "zero"]);
      assert.ok(readdirSync("/dev").length > 14, "control: the host's /dev has more");
      // /sys and /proc/sys read-only
      assert.match(v.get("sys") ?? "", /Read-only file system/);
      assert.match(v.get("proc-sys") ?? "", /Read-only file system/);
      // masked (by /dev/null, as runc does): empty where the kernel has them
      for (const f of ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug"]) {
        assert.match(v.get(f) ?? "", existsSync(f) ? /^0 bytes, / : /^absent$/, f);
      }
      assert.ok(readFileSync("/proc/timer_list", "utf8").length > 0, "control: the host's /proc/timer_list is not empty");
      assert.match(v.get("/proc/sysrq-trigger") ?? "", existsSync("/proc/sysrq-trigger") ? /read-only$/ : /^absent$/);
      assert.equal(v.get("/sys/firmware"), "0 entries");
      // podd's roots: empty inside; the host's log root, for one, is not
      for (const root of [env.state, env.run, env.log]) assert.equal(v.get(`root ${root}`), "[]", root);
      assert.notDeepEqual(readdirSync(env.log), [], "control: the host sees the log root's files");
      // the pod's files
      const hosts = linesOf(r, "on-host", "c").filter((l) => l.startsWith("hosts: ")).map((l) => l.slice(7));
      assert.ok(hosts.includes("127.0.0.1\tlocalhost"), hosts.join("\n"));
      assert.ok(hosts.includes("127.0.1.1\ton-host"), hosts.join("\n"));
      assert.ok(hosts.includes("10.1.2.3\tfoo.local\tbar.local"), hosts.join("\n"));
      assert.equal(v.get("hostname-file"), "on-host");
      const resolv = linesOf(r, "on-host", "c").filter((l) => l.startsWith("resolv: ")).map((l) => l.slice(8));
      const hostResolv = readFileSync("/etc/resolv.conf", "utf8").trimEnd().split("\n");
      if (!/^\s*nameserver\s+127\.0\.0\.53\b/m.test(hostResolv.join("\n"))) assert.deepEqual(resolv, hostResolv);
      assertNothingLeft(env, r.namespaces);
    }));

  test("a volume on a path the host's root lacks: mounted there, the host's root unchanged, the root itself read-only", () =>
    inEnv(async (env) => {
      const top = `/podd-test-data-${process.pid}`;
      assert.equal(existsSync(top), false);
      const src = join(env.dir, "src");
      mkdirSync(src);
      execFileSync("sh", ["-c", `echo from-host > ${src}/file`]);
      const r = await runManifest(env, "newpath.yaml", `
apiVersion: v1
kind: Pod
metadata: {name: newpath}
spec:
  restartPolicy: Never
  volumes: [{name: data, hostPath: {path: ${src}, type: Directory}}, {name: scratch, emptyDir: {}}]
  containers:
    - name: c
      image: host
      command: ${shCommand(`echo "data=$(cat ${top}/file)"; echo "config=$(ls -d /config/deeper)"; touch /new-top 2>/dev/null && echo "root=writable" || echo "root=read-only"; echo "etc=$(ls /etc/hostname)"`)}
      volumeMounts: [{name: data, mountPath: ${top}}, {name: scratch, mountPath: /config/deeper}]
`);
      assert.equal(r.code, 0, said(r));
      const v = valuesOf(r, "newpath", "c");
      assert.equal(v.get("data"), "from-host");
      assert.equal(v.get("config"), "/config/deeper");
      assert.equal(v.get("root"), "read-only");
      assert.equal(v.get("etc"), "/etc/hostname", "the host's directories are there");
      assert.equal(existsSync(top), false, "the host's root did not change");
      assert.equal(existsSync("/config/deeper"), false);
      assertNothingLeft(env, r.namespaces);
    }));

  test("the host's mounts under podd's roots are all detached: nested, stacked and many side by side", () =>
    inEnvUnder("/var/lib", async (env) => {
      // Mounts of the kinds a busy host has under the run root (pins, shm, rootfs binds), made
      // here in a directory of this environment and unmounted before the leftover check.
      const extra = join(env.run, "extra");
      const made: string[] = [];
      const tmpfs = (dir: string) => {
        mkdirSync(dir, { recursive: true });
        execFileSync("mount", ["-t", "tmpfs", "-o", "size=16k", "podd-test", dir]);
        made.push(dir);
      };
      try {
        // Two mounts stacked on one point, the lower one with a mount of its own that the upper
        // one shadows: a detach by path takes the top one only.
        tmpfs(extra);
        tmpfs(join(extra, "under-the-lower"));
        tmpfs(extra);
        for (let i = 0; i < 40; i++) tmpfs(join(extra, `side${i}`));
        tmpfs(join(extra, "nested"));
        tmpfs(join(extra, "nested", "deeper"));
        tmpfs(join(extra, "nested", "deeper", "deepest"));
        tmpfs(join(extra, "stacked"));
        tmpfs(join(extra, "stacked"));
        const hostSees = readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l.split(" ")[4]?.startsWith(extra)).length;
        assert.equal(hostSees, made.length, "control: the host sees every mount made");
        const r = await runManifest(env, "hidden.yaml", `
apiVersion: v1
kind: Pod
metadata: {name: hidden}
spec:
  restartPolicy: Never
  containers:
    - name: c
      image: host
      command: ${shCommand(`echo "points=[$(awk '{print $5}' /proc/self/mountinfo | grep '^${env.run}' | tr '\\n' ' ')]"; echo "extra=$(ls -A ${env.run} | wc -l)"`)}
`);
        assert.equal(r.code, 0, said(r));
        const v = valuesOf(r, "hidden", "c");
        assert.equal(v.get("points"), `[${env.run} ]`, "only the empty tmpfs over the run root");
        assert.equal(v.get("extra"), "0");
      } finally {
        for (const dir of made.reverse()) spawnSync("umount", ["-l", dir]);
      }
    }));
});
