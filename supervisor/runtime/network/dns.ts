// A pod's /etc/resolv.conf, formed as the kubelet forms it (pkg/kubelet/network/dns): the
// policy picks the base (the host's resolver configuration, or nothing), spec.dnsConfig is
// merged in, and the result is cut to the resolver's limits with the kubelet's events. Pure.
import type { Pod } from "../../../pod-specs/types.ts";

export interface DnsConfig {
  servers: string[];
  searches: string[];
  /** "name" or "name:value" */
  options: string[];
}

export interface DnsWarning {
  reason: "MissingClusterDNS" | "DNSConfigForming";
  message: string;
}

/** The kubelet's limits, which are glibc's: three nameservers, 32 search paths of 2048 characters in all. */
export const MAX_NAMESERVERS = 3;
export const MAX_SEARCH_PATHS = 32;
export const MAX_SEARCH_CHARS = 2048;

/** nameserver, search (the last line wins, as the resolver reads it), domain and options lines. */
export function parseResolvConf(text: string): DnsConfig {
  const out: DnsConfig = { servers: [], searches: [], options: [] };
  for (const raw of text.split("\n")) {
    const line = raw.replace(/[#;].*$/, "").trim();
    if (!line) continue;
    const [key, ...fields] = line.split(/\s+/);
    if (key === "nameserver" && fields[0]) out.servers.push(fields[0]);
    // As the kubelet reads it: "." (systemd-resolved's "no search domain") is no path, and a
    // trailing dot is dropped, so that a.example. and a.example count once.
    else if (key === "search" || key === "domain") out.searches = fields.filter((f) => f !== ".").map((f) => f.replace(/\.$/, ""));
    // A later option of the same name replaces an earlier one, as the resolver reads them.
    else if (key === "options") out.options = mergeOptions(out.options, fields.map((f) => ({ name: f.split(":")[0], ...(f.includes(":") ? { value: f.slice(f.indexOf(":") + 1) } : {}) })));
  }
  return out;
}

export function formatResolvConf(c: DnsConfig): string {
  const lines: string[] = [];
  if (c.searches.length) lines.push(`search ${c.searches.join(" ")}`);
  for (const s of c.servers) lines.push(`nameserver ${s}`);
  if (c.options.length) lines.push(`options ${c.options.join(" ")}`);
  return lines.join("\n") + "\n";
}

type PodDns = Pick<Pod, "metadata"> & { spec: Pick<Pod["spec"], "dnsPolicy" | "dnsConfig" | "hostNetwork"> };

/**
 * The pod's resolver configuration from the host's. podd has no cluster DNS, so ClusterFirst
 * (the default policy) is Default with the kubelet's MissingClusterDNS warning, except with
 * hostNetwork, where ClusterFirst means Default anyway and the kubelet says nothing.
 */
export function podDnsConfig(pod: PodDns, host: DnsConfig): { config: DnsConfig; warnings: DnsWarning[] } {
  const warnings: DnsWarning[] = [];
  const policy = pod.spec.dnsPolicy ?? "ClusterFirst";
  let base: DnsConfig;
  if (policy === "None") base = { servers: [], searches: [], options: [] };
  else {
    const cluster = policy === "ClusterFirstWithHostNet" || (policy === "ClusterFirst" && pod.spec.hostNetwork !== true);
    if (cluster) {
      const m = pod.metadata as { name: string; namespace?: string; uid?: string };
      warnings.push({
        reason: "MissingClusterDNS",
        // The kubelet's wording, with podd for the kubelet (there is no cluster DNS to configure)
        // and the policy the pod asked for.
        message: `pod: "${m.name}_${m.namespace ?? "default"}(${m.uid ?? ""})". podd does not have ClusterDNS IP configured and cannot create Pod using "${policy}" policy. Falling back to "Default" policy.`,
      });
    }
    base = { servers: [...host.servers], searches: [...host.searches], options: [...host.options] };
  }
  const extra = pod.spec.dnsConfig;
  if (extra) {
    base.servers = unique([...base.servers, ...(extra.nameservers ?? [])]);
    base.searches = unique([...base.searches, ...(extra.searches ?? [])]);
    base.options = mergeOptions(base.options, extra.options ?? []);
  }
  return { config: fitLimits(base, warnings), warnings };
}

function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}

/** The pod's options replace the base's of the same name; order: the base's, then new ones. */
function mergeOptions(base: string[], extra: readonly { name?: string; value?: string }[]): string[] {
  const m = new Map<string, string | undefined>();
  for (const o of base) {
    const i = o.indexOf(":");
    if (i < 0) m.set(o, undefined);
    else m.set(o.slice(0, i), o.slice(i + 1));
  }
  for (const o of extra) if (o.name) m.set(o.name, o.value || undefined);
  return [...m].map(([k, v]) => (v === undefined ? k : `${k}:${v}`));
}

function fitLimits(c: DnsConfig, warnings: DnsWarning[]): DnsConfig {
  if (c.servers.length > MAX_NAMESERVERS) {
    c.servers = c.servers.slice(0, MAX_NAMESERVERS);
    warnings.push({ reason: "DNSConfigForming", message: `Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: ${c.servers.join(" ")}` });
  }
  // A path longer than a domain name can be is dropped, as the kubelet drops it (glibc aborts on one).
  let searches = c.searches.filter((p) => p.length <= 253).slice(0, MAX_SEARCH_PATHS);
  while (searches.join(" ").length > MAX_SEARCH_CHARS) searches = searches.slice(0, -1);
  if (searches.length < c.searches.length) {
    c.searches = searches;
    warnings.push({ reason: "DNSConfigForming", message: `Search Line limits were exceeded, some search paths have been omitted, the applied search line is: ${searches.join(" ")}` });
  }
  return c;
}
