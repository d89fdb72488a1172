// A pod's attachment to the CNI network: ADD through the plugins of one list when its sandbox
// is made, DEL in reverse when it goes, CHECK when a daemon takes it up.
//
// Two records per attachment, so that no address or port mapping is ever leaked:
// - before ADD, an intent in the state root (attachments/<id>.json, fsynced): the list's bytes,
//   the arguments, and after each plugin but the last the result so far. It outlives a crash
//   in the middle of ADD (DEL then gets what the plugins that ran made: the firewall plugin
//   removes its rules only for addresses it is told of), and a reboot, after which
//   host-local's leases are still on disk but nothing else is; DEL then runs with the list the
//   attachment was made with, whatever the configuration directory holds now.
// - after ADD, the result in the run root, in libcni's cache format (results/<net>-<id>-<if>):
//   what DEL and CHECK are given as prevResult, and the pod's IPs for a daemon that adopts it.
// Both go only once DEL has succeeded; a DEL that fails leaves them, and is retried.
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fsyncDir, writeFileAtomic } from "../../base/atomic.ts";
import { hasErrno, PoddError } from "../../base/errors.ts";
import type { PodRef } from "../../base/paths.ts";
import { hasCheck, loadConfList, parseConfList, type DefaultNetwork, type NetworkConfList } from "./conflist.ts";
import { callPlugin, pluginConfig, type CniCommand } from "./plugin.ts";

export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: "tcp" | "udp" | "sctp";
  hostIP?: string;
}

export interface DnsCapability {
  servers: string[];
  searches: string[];
  options: string[];
}

export interface NetworkOptions {
  /** where the list comes from: the first file of this directory */
  confDir: string;
  /** confDir is podd's own (no --cni-conf-dir): podd's default network is written there when it is empty */
  ownConfDir: boolean;
  /** plugin directories, searched in order */
  binDirs: string[];
  /** <state root>/cni: attachments/ (and podd's own network's leases) */
  stateDir: string;
  /** <run root>/cni: results/ */
  runDir: string;
  /** the limit of every plugin call */
  timeoutMs: number;
  /** podd's own network, when the directory has none */
  defaults: DefaultNetwork;
}

/** libcni's cache record (cniCacheV1); `result` is absent in the intent written before ADD. */
export interface AttachmentRecord {
  kind: "cniCacheV1";
  containerId: string;
  /** the list's bytes, base64, as libcni's []byte field is */
  config: string;
  ifName: string;
  networkName: string;
  netns: string;
  cniArgs: [string, string][];
  capabilityArgs: { portMappings?: PortMapping[]; dns?: DnsCapability };
  result?: Record<string, unknown>;
  /** in memory only: result is what an ADD cut short had made, not the list's final result */
  partial?: true;
}

export interface AttachRequest {
  pod: PodRef;
  /** the pod's network namespace pin */
  netns: string;
  portMappings: PortMapping[];
  dns?: DnsCapability;
}

const IF_NAME = "eth0";

export class PodNetwork {
  /** every attachment not yet torn down, by container (sandbox) id */
  private readonly records = new Map<string, AttachmentRecord>();
  /** records open() could not read, with why: left where they are for a person to look at */
  readonly unreadable: { path: string; error: string }[] = [];

  constructor(readonly opts: NetworkOptions) {}

  private intentDir(): string {
    return join(this.opts.stateDir, "attachments");
  }

  private resultDir(): string {
    return join(this.opts.runDir, "results");
  }

  private resultPath(r: Pick<AttachmentRecord, "networkName" | "containerId" | "ifName">): string {
    return join(this.resultDir(), `${r.networkName}-${r.containerId}-${r.ifName}`);
  }

  /** Reads what earlier runs left: every intent, with its result where the run root still has it. */
  open(): void {
    this.records.clear();
    this.unreadable.length = 0;
    let names: string[];
    try {
      names = readdirSync(this.intentDir());
    } catch (err) {
      if (hasErrno(err, "ENOENT")) return;
      throw PoddError.wrap(`read ${this.intentDir()}`, err);
    }
    for (const name of names) {
      if (!name.endsWith(".json") || name.startsWith(".")) continue;
      const path = join(this.intentDir(), name);
      try {
        const intent = JSON.parse(readFileSync(path, "utf8")) as AttachmentRecord;
        if (intent.kind !== "cniCacheV1" || typeof intent.containerId !== "string") throw new Error("not an attachment record");
        const result = readResult(this.resultPath(intent));
        this.records.set(intent.containerId, result ? { ...intent, result } : intent.result ? { ...intent, partial: true } : intent);
      } catch (err) {
        this.unreadable.push({ path, error: (err as Error).message });
      }
    }
  }

  /** The list new attachments use, read afresh each time (an edit applies to the next pod, as with containerd). */
  confList(): NetworkConfList {
    return loadConfList(this.opts.confDir, this.opts.ownConfDir, this.opts.defaults);
  }

  /** The pod's attachments not yet torn down (one, as a rule). */
  ofPod(uid: string): AttachmentRecord[] {
    return [...this.records.values()].filter((r) => argOf(r, "K8S_POD_UID") === uid);
  }

  all(): AttachmentRecord[] {
    return [...this.records.values()];
  }

  /** The pod's attachment that ADD completed, if it has one. */
  completeOf(uid: string): AttachmentRecord | undefined {
    return this.ofPod(uid).find((a) => a.result && !a.partial);
  }

  /**
   * ADD through every plugin of the list, each given the result of the one before. On failure
   * the attachment is torn down again (DEL) before the error is thrown; a DEL that fails too
   * leaves the records, which the pod's next sandbox attempt, or the next daemon, tears down.
   */
  async attach(req: AttachRequest): Promise<AttachmentRecord> {
    const list = this.confList();
    const containerId = randomBytes(32).toString("hex");
    const record: AttachmentRecord = {
      kind: "cniCacheV1",
      containerId,
      config: list.bytes.toString("base64"),
      ifName: IF_NAME,
      networkName: list.name,
      netns: req.netns,
      cniArgs: [
        ["IgnoreUnknown", "1"],
        ["K8S_POD_NAMESPACE", req.pod.namespace],
        ["K8S_POD_NAME", req.pod.name],
        ["K8S_POD_INFRA_CONTAINER_ID", containerId],
        ["K8S_POD_UID", req.pod.uid],
      ],
      capabilityArgs: { ...(req.portMappings.length > 0 ? { portMappings: req.portMappings } : {}), ...(req.dns ? { dns: req.dns } : {}) },
    };
    mkdirSync(this.intentDir(), { recursive: true, mode: 0o700 });
    this.writeIntent(record);
    this.records.set(containerId, record);
    let prev: Record<string, unknown> | undefined;
    try {
      for (const [i, plugin] of list.plugins.entries()) {
        prev = await this.call("ADD", list, plugin, record, prev);
        if (prev && i < list.plugins.length - 1) {
          const sofar: AttachmentRecord = { ...record, result: prev, partial: true };
          this.writeIntent(sofar);
          this.records.set(containerId, sofar);
        }
      }
    } catch (err) {
      try {
        await this.detachOne(prev ? { ...record, result: prev, partial: true } : record);
      } catch (delErr) {
        throw new PoddError(`${(err as Error).message}; tearing the attachment down again also failed: ${(delErr as Error).message}`, { cause: err });
      }
      throw err;
    }
    const done: AttachmentRecord = { ...record, ...(prev ? { result: prev } : {}) };
    mkdirSync(this.resultDir(), { recursive: true, mode: 0o700 });
    writeFileAtomic(this.resultPath(done), JSON.stringify(done) + "\n", 0o600);
    this.records.set(containerId, done);
    return done;
  }

  private writeIntent(r: AttachmentRecord): void {
    const { partial: _, ...persisted } = r;
    writeFileAtomic(join(this.intentDir(), `${r.containerId}.json`), JSON.stringify(persisted) + "\n", 0o600);
  }

  /** DEL of every attachment of the pod. Throws on the first that fails; its records stay for a retry. */
  async detachPod(uid: string): Promise<void> {
    for (const r of this.ofPod(uid)) await this.detachOne(r);
  }

  /** DEL through the plugins in reverse, with the cached result; the records go once all succeeded. */
  async detachOne(record: AttachmentRecord): Promise<void> {
    const list = parseConfList(Buffer.from(record.config, "base64"), `the attachment of container ${record.containerId}`);
    for (const plugin of [...list.plugins].reverse()) await this.call("DEL", list, plugin, record, record.result);
    rmSync(this.resultPath(record), { force: true });
    rmSync(join(this.intentDir(), `${record.containerId}.json`), { force: true });
    fsyncDir(this.intentDir());
    this.records.delete(record.containerId);
  }

  /**
   * CHECK through the plugins in order, each given the cached result (CNI 0.4.0 and later);
   * the first failure's message, or undefined when the attachment is as it was made.
   */
  async check(uid: string): Promise<string | undefined> {
    const record = this.completeOf(uid);
    if (!record) return "the pod has no network attachment on record";
    const list = parseConfList(Buffer.from(record.config, "base64"), `the attachment of container ${record.containerId}`);
    if (!hasCheck(list) || list.disableCheck) return undefined;
    const v6 = resultIPs(record.result ?? {}).some((ip) => ip.includes(":"));
    for (const plugin of list.plugins) {
      try {
        await this.call("CHECK", list, plugin, record, record.result);
      } catch (err) {
        // portmap up to 1.1.1 (Debian 12's) checks for its ip6tables chain even for a pod with
        // no IPv6 address, where ADD made none (containernetworking/plugins#819): that failure
        // says nothing about the attachment.
        if (plugin.type === "portmap" && !v6 && /could not check ipv6 dnat/.test((err as Error).message)) continue;
        return (err as Error).message;
      }
    }
    return undefined;
  }

  /**
   * DEL of every attachment whose pod sandbox is not live: those of pods deleted while no
   * daemon ran, those a crash left between ADD and its result, and all of them after a
   * reboot (the run root empty, the leases still on disk). A failure is reported and left for
   * the next start; it does not hold the others.
   */
  async releaseStale(isLive: (r: AttachmentRecord) => boolean, onError: (r: AttachmentRecord, err: Error) => void): Promise<number> {
    let released = 0;
    for (const r of this.all()) {
      if (isLive(r)) continue;
      try {
        await this.detachOne(r);
        released++;
      } catch (err) {
        onError(r, err as Error);
      }
    }
    return released;
  }

  private call(command: CniCommand, list: NetworkConfList, plugin: NetworkConfList["plugins"][number], record: AttachmentRecord, prevResult: unknown): Promise<Record<string, unknown> | undefined> {
    return callPlugin(
      this.opts.binDirs,
      plugin,
      {
        command,
        containerId: record.containerId,
        netns: record.netns,
        ifName: record.ifName,
        args: record.cniArgs,
        config: pluginConfig(list, plugin, record.capabilityArgs, prevResult),
      },
      this.opts.timeoutMs,
    );
  }
}

/** The value of one CNI_ARGS key of a record. */
export function argOf(r: Pick<AttachmentRecord, "cniArgs">, key: string): string | undefined {
  return r.cniArgs.find(([k]) => k === key)?.[1];
}

function readResult(path: string): Record<string, unknown> | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if (hasErrno(err, "ENOENT")) return undefined;
    throw PoddError.wrap(`read ${path}`, err);
  }
  try {
    return (JSON.parse(text) as AttachmentRecord).result;
  } catch {
    // Unreadable (atomic writes make this a damaged disk): as if absent, so that the
    // attachment is still torn down, with what the intent holds.
    return undefined;
  }
}

/**
 * The pod's addresses in a CNI result (0.3.0 and later): those of the interfaces in the
 * sandbox, or with no interface named; IPv4 first, as the kubelet reports the primary IP.
 */
export function resultIPs(result: Record<string, unknown>): string[] {
  const interfaces = Array.isArray(result.interfaces) ? (result.interfaces as { sandbox?: unknown }[]) : [];
  const ips = Array.isArray(result.ips) ? (result.ips as { address?: unknown; interface?: unknown }[]) : [];
  const out: string[] = [];
  for (const ip of ips) {
    if (typeof ip.address !== "string") continue;
    if (typeof ip.interface === "number" && interfaces[ip.interface] && !interfaces[ip.interface]!.sandbox) continue;
    out.push(ip.address.replace(/\/\d+$/, ""));
  }
  return [...out.filter((a) => !a.includes(":")), ...out.filter((a) => a.includes(":"))];
}
