// podd run: the pods of the given manifests in the foreground, until each reaches a terminal
// phase (or a signal or --timeout stops them gracefully). Events go to stderr as they happen,
// container output to stdout prefixed [pod/container], and -o json prints the final Pods.
import { NO_OBJECTS } from "../runtime/config-volumes.ts";
import type { ConfigMap, Secret } from "../../pod-specs/index.ts";
import { parseDuration } from "../base/time.ts";
import { PoddError } from "../base/errors.ts";
import type { PodEvent } from "../daemon/events.ts";
import { LogFollower } from "../runtime/logs.ts";
import { Supervisor } from "../daemon/supervisor.ts";
import { podKeyOf } from "../base/paths.ts";
import { parseValidateMode, readManifests, recursiveFlag } from "./lib/manifests.ts";
import { requireRoot, supervisorFlags, supervisorOptions } from "./lib/supervisor-flags.ts";
import { parseFlags, type Verb } from "./lib/verb.ts";
import { defaultRegistry, registryFlags } from "./lib/registry-access.ts";

function clockTime(ms: number): string {
  return new Date(ms).toTimeString().slice(0, 8);
}

export function formatEvent(e: PodEvent): string {
  const ctr = e.container ? ` container/${e.container}` : "";
  return `${clockTime(e.time)} pod/${e.pod}${ctr} ${e.reason}${e.message && e.type === "Warning" ? `: ${e.message}` : ""}`;
}

export const run: Verb = {
  summary: "Run pods in the foreground until they finish",
  usage: "-f FILE|DIR|- [-f …] [-R] [-o json] [--timeout DURATION] [--root DIR] [--run-root DIR] [--log-root DIR] [--cgroup-parent NAME] [--system-reserved cpu=Q,memory=Q] [--kube-reserved cpu=Q,memory=Q] [--allowed-unsafe-sysctls 'kernel.msg*,net.core.somaxconn'] [--backoff-initial D] [--backoff-max D] [--pod-pids-limit N] [--registries FILE] [--authfile FILE] [--pod-network cni|none] [--cni-conf-dir DIR] [--cni-bin-dir DIR[:DIR…]] [--cni-timeout DURATION]",
  async run(argv) {
    const { values } = parseFlags(argv, {
      filename: { type: "string", short: "f", multiple: true },
    ...recursiveFlag,
      output: { type: "string", short: "o" },
      timeout: { type: "string" },
      validate: { type: "string" },
      ...supervisorFlags,
      ...registryFlags,
    });
    if (values.output !== undefined && values.output !== "json") {
      throw new PoddError(`unsupported output format "${values.output}": podd run prints -o json`, { code: "Invalid" });
    }
    const json = values.output === "json";
    const timeoutMs = values.timeout ? parseDuration(values.timeout) : undefined;
    const set = readManifests(values.filename ?? [], parseValidateMode(values.validate), { verb: "run", recursive: values.recursive === true });
    for (const w of set.warnings) process.stderr.write(`warning: ${w}\n`);
    if (set.errors.length) {
      for (const e of set.errors) process.stderr.write(`${e}\n`);
      return 1;
    }
    const claim = set.objects.find((o) => o.kind === "PersistentVolumeClaim");
    if (claim) {
      throw new PoddError(`persistentvolumeclaim/${claim.metadata.name}: podd run keeps nothing after it ends, and a claim is kept storage; apply the file to a daemon with podd apply -f`, { code: "Invalid" });
    }
    requireRoot("run");
    const opts = supervisorOptions(values);
    const registry = defaultRegistry(opts.roots.state, process.env, values);
    // A daemon's pods on these roots (it is not running: the roots are locked) are left for it
    // to take up; what a killed podd run or an interrupted delete left is removed.
    const say = (prefix: string) => (m: string) => process.stderr.write(`${clockTime(Date.now())} ${prefix}${m}\n`);
    const sup = await Supervisor.open({ ...opts, registry }, { info: say(""), warn: say("warning: "), error: say("error: ") });
    // The file's config maps and secrets, for its pods' volumes and env, for as long as they run.
    const ofFile = (kind: "ConfigMap" | "Secret", namespace: string, name: string) =>
      set.objects.find((o) => o.kind === kind && (o.metadata.namespace ?? "default") === namespace && o.metadata.name === name) as (ConfigMap & Secret) | undefined;
    sup.runtime.setObjects({ ...NO_OBJECTS, configMap: (ns, name) => ofFile("ConfigMap", ns, name), secret: (ns, name) => ofFile("Secret", ns, name) });
    sup.events.on("event", (e) => process.stderr.write(formatEvent(e) + "\n"));
    const followers = new Map<string, LogFollower>();
    if (!json) {
      sup.events.on("runStarted", (_uid, pod, container, logPath) => {
        const f = new LogFollower(logPath, (r) => {
          (r.stream === "stdout" ? process.stdout : process.stderr).write(`[${pod}/${container}] ${r.message}\n`);
        });
        followers.set(logPath, f);
        f.start();
      });
      sup.events.on("runEnded", (_uid, _pod, _container, logPath) => {
        followers.get(logPath)?.stop();
        followers.delete(logPath);
      });
    }

    let stoppedBy: number | undefined;
    const stopAll = (code: number) => {
      if (stoppedBy !== undefined) return;
      stoppedBy = code;
      process.stderr.write(`${clockTime(Date.now())} stopping all pods\n`);
      for (const w of sup.list()) w.delete();
    };
    const onInt = () => stopAll(130);
    const onTerm = () => stopAll(143);
    process.on("SIGINT", onInt);
    process.on("SIGTERM", onTerm);
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => stopAll(124), timeoutMs);

    try {
      // The uid is podd's to give, as the API server's: one in the file is not kept.
      for (const pod of set.pods) sup.add({ ...pod, metadata: { ...pod.metadata, uid: undefined } } as typeof pod);
      await Promise.all(sup.list().map((w) => w.done));
      const objects = sup.objects();
      await Promise.all(sup.list().map((w) => sup.delete(podKeyOf(w.pod))));
      if (json) process.stdout.write(JSON.stringify({ apiVersion: "v1", kind: "List", items: objects, metadata: { resourceVersion: "" } }, null, 4) + "\n");
      for (const o of objects) process.stderr.write(`${clockTime(Date.now())} pod/${o.metadata.name} ${o.status.phase}\n`);
      if (stoppedBy !== undefined) return stoppedBy;
      return objects.every((o) => o.status.phase === "Succeeded") ? 0 : 1;
    } finally {
      if (timer) clearTimeout(timer);
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      for (const f of followers.values()) f.stop();
      // A pull nobody waits for any more (its pods were stopped) must not keep us running.
      registry.close();
    }
  },
};
