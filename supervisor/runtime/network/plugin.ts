// One call of one CNI plugin, as the CNI spec defines it: the command and the container's
// identity in the environment, the plugin's configuration on stdin, a result or an error
// object on stdout. Plugins are separate processes, so Node's threads do not matter to their
// namespace work.
import { accessSync, constants } from "node:fs";
import { join } from "node:path";
import { PoddError } from "../../base/errors.ts";
import { run } from "../../base/exec-file.ts";
import type { PluginConf } from "./conflist.ts";

export type CniCommand = "ADD" | "DEL" | "CHECK";

export interface PluginCall {
  command: CniCommand;
  containerId: string;
  netns: string;
  ifName: string;
  /** CNI_ARGS, in order */
  args: readonly (readonly [string, string])[];
  /** the plugin's configuration with name, cniVersion, runtimeConfig and prevResult put in */
  config: Record<string, unknown>;
}

/** A plugin that failed: its CNI error code (the spec's table) when it printed one. */
export class CniError extends PoddError {
  constructor(
    message: string,
    readonly cniCode: number | undefined,
  ) {
    super(message, { code: "Internal" });
  }
}

/** A result is a few kB; a plugin that prints more than this is broken, and its output is not kept. */
const MAX_PLUGIN_OUTPUT = 1 << 20;

/** The executable of a plugin type: the first of the directories that has it, as CNI_PATH is searched. */
export function findPlugin(binDirs: readonly string[], type: string): string {
  for (const dir of binDirs) {
    const path = join(dir, type);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not in this directory (or not executable there): the next one may have it
    }
  }
  throw new CniError(`CNI plugin "${type}" not found in ${binDirs.join(", ")}; install containernetworking-plugins, name its directory with --cni-bin-dir, or run pods without a network with --pod-network none`, undefined);
}

/** The configuration one plugin of a list gets, as libcni builds it. */
export function pluginConfig(
  list: { name: string; cniVersion: string },
  plugin: PluginConf,
  capabilityArgs: Readonly<Record<string, unknown>>,
  prevResult: unknown,
): Record<string, unknown> {
  const config: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
  // A plugin gets only the runtime arguments it says it handles.
  const runtimeConfig: Record<string, unknown> = {};
  for (const [cap, on] of Object.entries(plugin.capabilities ?? {})) {
    if (on && capabilityArgs[cap] !== undefined) runtimeConfig[cap] = capabilityArgs[cap];
  }
  if (Object.keys(runtimeConfig).length > 0) config.runtimeConfig = runtimeConfig;
  if (prevResult !== undefined) config.prevResult = prevResult;
  return config;
}

/** Runs the plugin; its parsed result (ADD), or undefined (DEL, CHECK). Throws CniError. */
export async function callPlugin(binDirs: readonly string[], plugin: PluginConf, call: PluginCall, timeoutMs: number): Promise<Record<string, unknown> | undefined> {
  const exe = findPlugin(binDirs, plugin.type);
  const what = `CNI plugin ${plugin.type} (${call.command})`;
  const env: NodeJS.ProcessEnv = {
    // The plugins run iptables, ip and their own IPAM plugins: the usual places.
    PATH: process.env.PATH || "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    CNI_COMMAND: call.command,
    CNI_CONTAINERID: call.containerId,
    CNI_NETNS: call.netns,
    CNI_IFNAME: call.ifName,
    CNI_ARGS: call.args.map(([k, v]) => `${k}=${v}`).join(";"),
    CNI_PATH: binDirs.join(":"),
  };
  let ran;
  try {
    ran = await run(exe, [], { env, input: JSON.stringify(call.config), timeoutMs, maxOutputBytes: MAX_PLUGIN_OUTPUT });
  } catch (err) {
    const timedOut = /timed out/.test((err as Error).message);
    throw new CniError(timedOut ? `${what}: no answer within ${timeoutMs / 1000} s; it was killed` : `${what}: ${(err as Error).message}`, undefined);
  }
  const out = ran.stdout.trim();
  if (ran.code !== 0) {
    const e = parseJson(out) as { code?: unknown; msg?: unknown; details?: unknown } | undefined;
    const msg = typeof e?.msg === "string" ? e.msg : ran.stderr.trim().split("\n").pop() || out.split("\n").pop() || `exit code ${ran.code}`;
    const details = typeof e?.details === "string" && e.details && e.details !== msg ? `: ${e.details}` : "";
    throw new CniError(`${what} failed: ${msg}${details}`, typeof e?.code === "number" ? e.code : undefined);
  }
  if (call.command !== "ADD") return undefined;
  const result = parseJson(out);
  if (!result || typeof result !== "object" || Array.isArray(result)) throw new CniError(`${what}: its output is not a CNI result: ${JSON.stringify(out.slice(0, 200))}`, undefined);
  return result as Record<string, unknown>;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // not JSON: the caller reports the text itself
  }
}
