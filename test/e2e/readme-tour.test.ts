// The README's tour, run as a new user runs it: every command of its "A tour of the CLI"
// section, in order and as written, through bash in a fresh directory, with podd from dist/
// as npm ci built it (on PATH through the tour's own `export PATH=…` line) and the places
// set with PODD_ROOT, PODD_RUN_ROOT, PODD_LOG_ROOT and PODD_CGROUP_PARENT in a temporary
// directory. The daemon is the one `podd apply` starts itself. A `console` block's output must
// be what the README shows; every other command must succeed, and the checks below say what
// each must print. A command of the README without a check here, or a check without its
// command, fails the test, so the two cannot drift apart.
import { hostname } from "node:os";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { destroyEnv, e2eSkip, ensureBuilt, leftovers, makeEnv, repo, waitFor, type Env } from "./harness.ts";
import { makeNetns, removeNetns } from "../lib/netns.ts";

const skip = e2eSkip() || (existsSync("/usr/lib/cni/bridge") ? false : "needs Debian's containernetworking-plugins (the tour's pods are on podd's own network)");

interface Step {
  command: string;
  /** a console block's output, as the README shows it */
  expected?: string;
}

/** The commands of the README's tour section: sh blocks line by line, console blocks as `$ ` lines with their output. */
export function tourSteps(readme: string): Step[] {
  const start = readme.indexOf("\n## A tour of the CLI");
  assert.ok(start >= 0, "the README has a tour section");
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const steps: Step[] = [];
  for (const m of section.matchAll(/^```(sh|console)\n([\s\S]*?)^```$/gm)) {
    const lines = m[2]!.replace(/\n$/, "").split("\n");
    if (m[1] === "sh") {
      for (const line of lines) {
        const command = line.replace(/\s{2,}#.*$/, "").trim();
        if (command !== "" && !command.startsWith("#")) steps.push({ command });
      }
      continue;
    }
    for (let i = 0; i < lines.length; ) {
      const line = lines[i]!;
      assert.ok(line.startsWith("$ "), `a console block starts each command with "$ ": ${line}`);
      let command = line.slice(2);
      i++;
      const heredoc = /<<'(\w+)'$/.exec(command)?.[1];
      if (heredoc !== undefined) {
        while (i < lines.length && lines[i] !== heredoc) command += "\n" + lines[i++];
        command += "\n" + heredoc;
        i++;
      }
      const out: string[] = [];
      while (i < lines.length && !lines[i]!.startsWith("$ ")) out.push(lines[i++]!);
      steps.push({ command, expected: out.length ? out.join("\n") + "\n" : "" });
    }
  }
  return steps;
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The network namespace the tour runs in, so that podd's own network is made there, not on the host. */
let tourNetns = "";

function bash(script: string, cwd: string, env: NodeJS.ProcessEnv, input = "", timeoutMs = 120_000): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn("nsenter", [`--net=${tourNetns}`, "bash", "-c", script], { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    // A command that does not read its input may exit before it is written: EPIPE is no failure.
    child.stdin.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE") reject(err);
    });
    child.stdin.end(input);
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${script} did not finish in ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The daemon apply said it started. */
let daemonPid: number | undefined;

/** What each command of the tour must print, beyond succeeding. */
const checks: Record<string, (r: Ran) => void> = {
  'export PATH="$PWD/node_modules/.bin:$PATH"': () => {},
  "podd run -f examples/init-emptydir.yaml": (r) => {
    assert.match(r.stdout, /^\[init-emptydir\/app\] config written by the init container at \d\d:\d\d:\d\d$/m);
    assert.match(r.stderr, /pod\/init-emptydir Succeeded/);
  },
  "podd run -f examples/sidecar.yaml -o json --timeout 1m": (r) => {
    const list = JSON.parse(r.stdout) as { kind: string; items: { metadata: { name: string }; status: { phase: string } }[] };
    assert.equal(list.kind, "List");
    assert.deepEqual(list.items.map((p) => [p.metadata.name, p.status.phase]), [["sidecar", "Succeeded"]]);
  },
  "mkdir -p rootfs/bin && cp /bin/busybox rootfs/bin/": () => {},
  "for applet in $(rootfs/bin/busybox --list); do [ $applet = busybox ] || ln -sf busybox rootfs/bin/$applet; done": () => {},
  "podd image import busybox:1.36 ./rootfs --env PATH=/bin": (r) => assert.equal(r.stdout, "image/busybox:1.36 imported\n"),
  "podd image ls": (r) => assert.match(r.stdout, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\ndocker\.io\/library\/busybox\s+1\.36\s+[0-9a-f]{12}\s+\d+s ago\s+[\d.]+ [kM]B\n$/),
  "podd apply -f examples/web.yaml --wait": (r) => {
    assert.equal(r.stdout, "pod/web created\npod/web ready\n");
    const m = /^no podd daemon was running: started one \(pid (\d+)\); its log is (\S+), its state (\S+)$/m.exec(r.stderr);
    assert.ok(m, `apply started the daemon itself:\n${r.stderr}`);
    daemonPid = Number(m[1]);
    const cmdline = readFileSync(`/proc/${daemonPid}/cmdline`, "utf8").split("\0");
    assert.ok(cmdline.some((a) => a.endsWith("/dist/podd.js")), `the daemon runs from dist/: ${cmdline.join(" ")}`);
    assert.ok(cmdline.includes("daemon"));
  },
  "podd get pods -o wide": (r) => assert.match(r.stdout, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE.*\nweb\s+2\/2\s+Running\s+0\s+\S+\s+10\.87\.\d+\.\d+\s/),
  "podd wait --for=condition=Ready pod/web --timeout 30s": (r) => assert.equal(r.stdout, "pod/web condition met\n"),
  "podd get pods -A -l app=web --field-selector status.phase=Running": (r) => assert.match(r.stdout, /^NAMESPACE\s+NAME\s+READY\s+STATUS.*\ndefault\s+web\s+2\/2\s+Running\s/),
  "podd describe pod web": (r) => {
    assert.match(r.stdout, /^Name:\s+web$/m);
    assert.match(r.stdout, /^Labels:\s+app=web$/m);
    assert.match(r.stdout, /^\s+shipper:$/m);
    assert.match(r.stdout, /^\s+app:$/m);
    assert.match(r.stdout, /^\s+Readiness:\s+exec \[test -s \/run\/shared\/app\.log\] delay=0s timeout=1s period=2s #success=1 #failure=3$/m);
  },
  "podd logs web": (r) => {
    assert.equal(r.stdout, "app: started on web\n");
    assert.equal(r.stderr, "", "the default-container annotation picks app without a note");
  },
  "podd logs web -c shipper --tail 2": (r) => {
    const lines = r.stdout.trimEnd().split("\n");
    assert.ok(lines.length >= 1 && lines.length <= 2, r.stdout);
    for (const l of lines) assert.match(l, /^tick \d+$/);
  },
  "podd exec web -- cat /etc/hostname": (r) => assert.equal(r.stdout, "web\n"),
  "podd exec -it web -- sh": (r) => assert.match(r.stdout, /\/dev\/pts\/\d+/, "the shell has a terminal of its own in the container"),
  "podd top pod --containers": (r) => {
    assert.match(r.stdout, /^POD\s+NAME\s+CPU\(cores\)\s+MEMORY\(bytes\)/);
    assert.match(r.stdout, /^web\s+app\s+\d+m\s+\d+Mi/m);
    assert.match(r.stdout, /^web\s+shipper\s+\d+m\s+\d+Mi/m);
  },
  "podd events": (r) => assert.match(r.stdout, /Started\s+Pod\/web\s+Started container app/),
  "podd delete pod web": (r) => assert.equal(r.stdout, 'pod "web" deleted\n'),
  "podd get nodes": (r) => assert.match(r.stdout, new RegExp(`^NAME\\s+STATUS\\s+ROLES\\s+AGE\\s+VERSION\\n${hostname().trim().toLowerCase()}\\s+Ready\\s+<none>\\s+\\S+\\s+v\\d`)),
  "podd create secret generic db-credentials --from-literal=user=app --from-literal=password='s3cr3t!'": (r) => assert.equal(r.stdout, "secret/db-credentials created\n"),
  "podd apply -f examples/notes.yaml --wait": (r) => assert.equal(r.stdout, "configmap/app-config created\npersistentvolumeclaim/notes created\npod/notes created\npod/notes ready\n"),
  "podd get pvc": (r) => assert.match(r.stdout, /^NAME\s+STATUS\s+VOLUME\s+CAPACITY\s+ACCESS MODES\s+STORAGECLASS\s+VOLUMEATTRIBUTESCLASS\s+AGE\nnotes\s+Bound\s+pvc-[0-9a-f-]+\s+100Mi\s+RWO\s+local-path\s+<unset>\s+\S+\n$/),
  "podd describe secret db-credentials": (r) => {
    assert.match(r.stdout, /^password:\s+7 bytes$/m);
    assert.match(r.stdout, /^user:\s+3 bytes$/m);
    assert.ok(!r.stdout.includes("s3cr3t") && !r.stdout.includes(Buffer.from("s3cr3t!").toString("base64")), "describe shows sizes only");
  },
  "podd exec notes -- cat /data/notes": (r) => assert.equal(r.stdout, "hello from a ConfigMap; the password has 7 bytes\n"),
  "podd delete pod notes": (r) => assert.equal(r.stdout, 'pod "notes" deleted\n'),
  "podd delete pvc notes": (r) => assert.equal(r.stdout, 'persistentvolumeclaim "notes" deleted\n'),
};

/** What the interactive shell of `exec -it` is given to type: it prints its terminal and leaves. */
const typed = "tty\nexit\n";

describe("the README's tour", { skip }, () => {
  test("every command runs as written, from dist/, against a daemon podd apply started", async () => {
    ensureBuilt();
    const steps = tourSteps(readFileSync(join(repo, "README.md"), "utf8"));
    const covered = new Set(steps.filter((s) => s.expected === undefined).map((s) => s.command));
    assert.deepEqual([...covered].filter((c) => !checks[c]), [], "each tour command has a check here");
    assert.deepEqual(Object.keys(checks).filter((c) => !covered.has(c)), [], "each check names a command of the tour");

    const env: Env = makeEnv();
    try {
      // As a user's machine: podd's own network (the tour gives no --pod-network none), made in
      // a network namespace of the test's own, which the daemon that apply starts inherits.
      tourNetns = makeNetns(join(env.dir, "tour.net"));
      const cwd = join(env.dir, "tour");
      mkdirSync(cwd);
      for (const d of ["examples", "node_modules"]) symlinkSync(join(repo, d), join(cwd, d));
      let vars: NodeJS.ProcessEnv = { ...process.env, PODD_ROOT: env.state, PODD_RUN_ROOT: env.run, PODD_LOG_ROOT: env.log, PODD_CGROUP_PARENT: env.cgroupParent, TERM: "xterm" };
      delete vars.NODE_EXTRA_CA_CERTS;
      delete vars.PODD_SOCKET;
      for (const step of steps) {
        if (step.command.startsWith("export ")) {
          const r = await bash(`${step.command} && env -0`, cwd, vars);
          assert.equal(r.code, 0, r.stderr);
          vars = Object.fromEntries(r.stdout.split("\0").filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
          continue;
        }
        if (step.expected !== undefined) {
          const r = await bash(`{\n${step.command}\n} 2>&1`, cwd, vars);
          assert.equal(r.stdout, step.expected, `$ ${step.command}`);
          continue;
        }
        // An interactive command gets a terminal of its own, as in a shell, and is typed at.
        const interactive = / -it /.test(step.command);
        const script = interactive ? `script -qec ${JSON.stringify(step.command)} /dev/null` : step.command;
        const r = await bash(script, cwd, vars, interactive ? typed : "");
        assert.equal(r.code, 0, `${step.command}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
        checks[step.command]!(r);
        if (step.command.startsWith("podd apply -f examples/web.yaml")) {
          // The tour goes on at once, as a user would; the shipper's first tick is what logs reads.
          await waitFor("the first tick", async () => (await bash("podd logs web -c shipper", cwd, vars)).stdout.includes("tick 1"));
        }
      }
      assert.ok(daemonPid !== undefined, "the tour started its daemon through podd apply");
      process.kill(daemonPid, "SIGTERM");
      await waitFor("the daemon to exit", () => {
        try {
          process.kill(daemonPid!, 0);
          return false;
        } catch {
          return true; // gone
        }
      }, 30_000);
      removeNetns(tourNetns);
      assert.deepEqual(leftovers(env), { mounts: [], cgroups: [], processes: [], pins: [] }, "nothing of the tour's pods is left");
    } finally {
      destroyEnv(env);
    }
  });
});
