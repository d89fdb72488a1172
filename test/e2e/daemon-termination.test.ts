// Termination messages, as a user reads them: what a container writes to its
// terminationMessagePath shows as state/lastState.terminated.message in `podd get -o yaml` and
// `podd describe` (the docs' termination-demo); on an image rootfs, a read-only one, a custom
// path and the host's root as a non-root uid; FallbackToLogsOnError takes the log's tail; the
// message of a container that ended while no daemon ran is read by the daemon that adopts it
// and kept across one more restart; a pod that ended stays ended, message and all, across a
// restart; and the file goes with the pod.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { e2eSkip, importBusybox, leftovers, waitFor } from "./harness.ts";
import { withCli } from "./cli-helpers.ts";
import { containerStatus, crashDaemon, getPod, podManifest, podPath, putPod, startDaemon, stopDaemon, waitGone, waitRunning, withDaemonEnv } from "./daemon-helpers.ts";
import { podRunDir } from "./pod-helpers.ts";

const skip = e2eSkip();

// The docs' debug/termination.yaml, with a shorter sleep.
const terminationDemo = `apiVersion: v1
kind: Pod
metadata:
  name: termination-demo
spec:
  containers:
  - name: termination-demo-container
    image: busybox:local
    command: ["/bin/sh"]
    args: ["-c", "sleep 1 && echo Sleep expired > /dev/termination-log"]
`;

describe("termination messages", { skip, timeout: 120_000 }, () => {
  test("the docs' termination-demo: lastState.terminated.message in get -o yaml and describe", () =>
    withCli(
      async (c) => {
        assert.equal((await c.apply("termination.yaml", terminationDemo)).code, 0);
        await waitFor("termination-demo to have ended once", async () => containerStatus(await getPod(c.d, "termination-demo"), "termination-demo-container")?.lastState?.terminated, 30_000);
        const got = await c.run("get", ["pod", "termination-demo", "-o", "yaml"]);
        assert.equal(got.code, 0, got.stderr);
        const pod = parse(got.stdout);
        assert.equal(pod.status.containerStatuses[0].lastState.terminated.message, "Sleep expired\n", got.stdout);
        assert.equal(pod.status.containerStatuses[0].lastState.terminated.reason, "Completed");
        const described = await c.run("describe", ["pod", "termination-demo"]);
        assert.equal(described.code, 0, described.stderr);
        assert.match(described.stdout, /^ {4}Last State: +Terminated\n {6}Reason: +Completed\n {6}Message: +Sleep expired\n/m, described.stdout);
      },
      ["--backoff-initial", "200ms"],
    ));

  test("read-only and host roots, a custom path, a non-root uid, FallbackToLogsOnError; the file goes with the pod", () =>
    withCli(async (c) => {
      const ro = { readOnlyRootFilesystem: true };
      const pod = podManifest("why", {
        restartPolicy: "Never",
        containers: [
          { name: "ro", image: "busybox:local", securityContext: ro, command: ["sh", "-c", "echo read-only > /dev/termination-log"] },
          { name: "custom", image: "busybox:local", securityContext: ro, terminationMessagePath: "/tmp/why", command: ["sh", "-c", "echo custom > /tmp/why; exit 2"] },
          { name: "host", image: "host", securityContext: { runAsUser: 65534, runAsGroup: 65534 }, command: ["/bin/sh", "-c", "echo host > /dev/termination-log"] },
          { name: "host-tmp", image: "host", terminationMessagePath: "/tmp/why", command: ["/bin/sh", "-c", "echo host tmp > /tmp/why"] },
          // No mount point can be made on the host's read-only root there: the container runs
          // without a termination log rather than not at all.
          { name: "host-nowhere", image: "host", terminationMessagePath: "/var/lib/podd-test-nowhere/why", command: ["/bin/true"] },
          { name: "fallback", image: "busybox:local", terminationMessagePolicy: "FallbackToLogsOnError", command: ["sh", "-c", "echo one; echo two >&2; exit 3"] },
          // The control: the same failure with the File policy has no message.
          { name: "file", image: "busybox:local", command: ["sh", "-c", "echo one; exit 3"] },
        ],
      });
      assert.equal((await putPod(c.d, pod)).status, 201);
      const ended = await waitFor("every container of why to have ended", async () => {
        const p = await getPod(c.d, "why");
        return p?.status?.phase === "Failed" ? p : undefined;
      }, 30_000);
      const terminated = (name: string) => containerStatus(ended, name).state.terminated;
      assert.equal(terminated("ro").message, "read-only\n", JSON.stringify(ended.status));
      assert.equal(terminated("custom").message, "custom\n");
      assert.equal(terminated("custom").exitCode, 2);
      assert.equal(terminated("host").message, "host\n", JSON.stringify(terminated("host")));
      assert.equal(terminated("host-tmp").message, "host tmp\n");
      assert.equal(terminated("host-nowhere").reason, "Completed", JSON.stringify(terminated("host-nowhere")));
      assert.equal(terminated("host-nowhere").message, undefined);
      assert.equal(terminated("fallback").message, "one\ntwo\n");
      assert.equal(terminated("file").message, undefined);

      const uid = ended.metadata.uid;
      const logFile = join(c.env.state, "pods", `default_why_${uid}`, "layers", "ro", "termination-log");
      assert.ok(existsSync(logFile), `no termination log at ${logFile}`);
      assert.equal((await c.d.request("DELETE", `${podPath("why")}?gracePeriodSeconds=0`)).status, 200);
      await waitGone(c.d, "why");
      assert.ok(!existsSync(logFile), "the termination log outlived its pod");
      assert.deepEqual(leftovers(c.env), { mounts: [], cgroups: [], processes: [], pins: [] });
    }));

  test("a pod that ended stays ended across a daemon restart, its message with it", () =>
    withDaemonEnv(async (env, daemons) => {
      await importBusybox(env);
      daemons.current = await startDaemon(env);
      const pod = podManifest("done", { restartPolicy: "Never", containers: [{ name: "c", image: "busybox:local", command: ["sh", "-c", "echo finished > /dev/termination-log; exit 3"] }] });
      assert.equal((await putPod(daemons.current, pod)).status, 201);
      const ended = await waitFor("done Failed", async () => {
        const p = await getPod(daemons.current!, "done");
        return p?.status?.phase === "Failed" && !podRunDir(env, "done") ? p : undefined;
      });
      const before = containerStatus(ended, "c");
      assert.equal(before.state.terminated.message, "finished\n");
      // Recorded before the sandbox went, so that no crash in between can make it run again.
      const record = JSON.parse(readFileSync(join(env.state, "pods", `default_done_${ended.metadata.uid}`, "ended.json"), "utf8"));
      assert.equal(record.observed.sandboxReady, true);

      await stopDaemon(daemons.current);
      daemons.current = await startDaemon(env);
      const after = await getPod(daemons.current, "done");
      assert.equal(after.status.phase, "Failed", JSON.stringify(after.status));
      assert.deepEqual(containerStatus(after, "c"), before);
      assert.equal(podRunDir(env, "done"), undefined, "the ended pod was run again");
      assert.equal((await daemons.current.request("DELETE", `${podPath("done")}?gracePeriodSeconds=0`)).status, 200);
      await waitGone(daemons.current, "done");
      assert.ok(!existsSync(join(env.state, "pods", `default_done_${ended.metadata.uid}`)), "the pod's state dir outlived it");
    }));

  test("a container that ended while no daemon ran: the next daemon reads its message, and a restart keeps it", () =>
    withDaemonEnv(async (env, daemons) => {
      await importBusybox(env);
      const gate = join(env.dir, "gate");
      mkdirSync(gate);
      const backOff = ["--backoff-initial", "200ms"];
      daemons.current = await startDaemon(env, backOff);
      const pod = podManifest("away", {
        restartPolicy: "OnFailure",
        volumes: [{ name: "gate", hostPath: { path: gate, type: "Directory" } }],
        containers: [
          {
            name: "c",
            image: "busybox:local",
            volumeMounts: [{ name: "gate", mountPath: "/gate" }],
            // The first run waits for the test to open the gate, which it does only once the
            // daemon is gone, and fails; the second runs on.
            command: ["sh", "-c", "if [ -e /gate/done ]; then exec sleep 1000; fi; while [ ! -e /gate/open ]; do sleep 0.05; done; touch /gate/done; echo ended while away > /dev/termination-log; exit 4"],
          },
        ],
      });
      assert.equal((await putPod(daemons.current, pod)).status, 201);
      await waitRunning(daemons.current, "away", "c");
      await crashDaemon(daemons.current);
      writeFileSync(join(gate, "open"), "");
      const exitFile = join(podRunDir(env, "away")!, "containers", "c", "exit.json");
      await waitFor("the exit record of away/c", () => existsSync(exitFile) && JSON.parse(readFileSync(exitFile, "utf8")));

      daemons.current = await startDaemon(env, backOff);
      const restarted = async () => {
        const s = containerStatus(await getPod(daemons.current!, "away"), "c");
        return s?.restartCount === 1 && s.state.running ? s : undefined;
      };
      const s = await waitFor("away/c restarted under the new daemon", restarted);
      assert.equal(s.lastState.terminated.exitCode, 4);
      assert.equal(s.lastState.terminated.message, "ended while away\n");
      // The second run's start replaced the file: what shows now was kept, not read again.
      await stopDaemon(daemons.current);
      daemons.current = await startDaemon(env, backOff);
      const again = await waitFor("away/c adopted", restarted);
      assert.equal(again.lastState.terminated.message, "ended while away\n");
    }));
});
