// A pod's /etc/hosts: what the kubelet writes (its header, the localhost lines, the pod's IPs
// with its hostname, the FQDN first with a subdomain, then hostAliases), and after it the other
// pods of the same namespace by hostname, so that pods find each other by name without a
// cluster DNS. The peer lines are rewritten in place as pods come and go (see PeerHosts). Pure.

/** The cluster domain of the FQDN a subdomain gives, the kubelet's default (--cluster-domain). */
export const CLUSTER_DOMAIN = "cluster.local";

export interface HostsEntry {
  hostname: string;
  /** spec.subdomain: the FQDN is <hostname>.<subdomain>.<namespace>.svc.<cluster domain> */
  subdomain?: string;
  namespace: string;
  ips: readonly string[];
}

export interface HostsInput extends HostsEntry {
  hostAliases: readonly { ip: string; hostnames: readonly string[] }[];
  /** hostNetwork: the host's own /etc/hosts comes first, as the kubelet copies it */
  hostFile?: string;
  /** the other pods of the namespace that have an address */
  peers?: readonly HostsEntry[];
}

function names(e: HostsEntry): string {
  return e.subdomain ? `${e.hostname}.${e.subdomain}.${e.namespace}.svc.${CLUSTER_DOMAIN}\t${e.hostname}` : e.hostname;
}

export function hostsFile(h: HostsInput): string {
  let out: string;
  if (h.hostFile !== undefined) {
    out = "# Kubernetes-managed hosts file (host network).\n" + h.hostFile + (h.hostFile.endsWith("\n") || h.hostFile === "" ? "" : "\n");
  } else {
    const lines = [
      "# Kubernetes-managed hosts file.",
      "127.0.0.1\tlocalhost",
      "::1\tlocalhost ip6-localhost ip6-loopback",
      "fe00::0\tip6-localnet",
      "fe00::0\tip6-mcastprefix",
      "fe00::1\tip6-allnodes",
      "fe00::2\tip6-allrouters",
    ];
    // A network that gave the pod no address (a loopback-only list): the hostname still
    // resolves, to a loopback address, so that `hostname -i` and self-connections work.
    for (const ip of h.ips.length ? h.ips : ["127.0.1.1"]) lines.push(`${ip}\t${names(h)}`);
    out = lines.join("\n") + "\n";
  }
  if (h.hostAliases.length) {
    out += "\n# Entries added by HostAliases.\n";
    for (const a of h.hostAliases) out += `${a.ip}\t${a.hostnames.join("\t")}\n`;
  }
  const peers = (h.peers ?? []).filter((p) => p.ips.length > 0);
  if (peers.length) {
    out += `\n# Other pods of namespace ${h.namespace}, kept current by podd.\n`;
    for (const p of [...peers].sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0))) {
      for (const ip of p.ips) out += `${ip}\t${names(p)}\n`;
    }
  }
  return out;
}
