// This machine's platform in OCI terms, and the choice of one manifest of an index for it, as
// containers/image chooses: the same os and architecture, the best variant this CPU runs.
import { PoddError } from "../../base/errors.ts";
import type { Descriptor, Platform } from "./source.ts";

const ARCH: Readonly<Record<string, string>> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64", loong64: "loong64" };

export function hostPlatform(arch: string = process.arch): Platform {
  const architecture = ARCH[arch] ?? arch;
  const p: Platform = { os: "linux", architecture };
  if (architecture === "arm64") p.variant = "v8";
  if (architecture === "arm") {
    const v = (process.config.variables as { arm_version?: string }).arm_version;
    p.variant = `v${v ?? "7"}`;
  }
  return p;
}

/** Variants this platform runs, best first; "" stands for a manifest that names none. */
function variants(p: Platform): string[] {
  if (p.architecture === "arm64") return ["v8", ""];
  if (p.architecture === "arm") {
    const n = Number(p.variant?.slice(1) ?? 7);
    const out: string[] = [];
    for (let v = n; v >= 5; v--) out.push(`v${v}`);
    return [...out, ""];
  }
  if (p.architecture === "amd64") return ["", "v1"];
  return [p.variant ?? ""];
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;
}

/** The manifest of an index for `want`, or an error that lists what the index offers. */
export function choosePlatform(manifests: readonly Descriptor[], want: Platform, what: string): Descriptor {
  const ok = variants(want);
  let best: Descriptor | undefined;
  let rank = Infinity;
  for (const m of manifests) {
    const p = m.platform;
    if (!p || p.os !== want.os || p.architecture !== want.architecture) continue;
    const r = ok.indexOf(p.variant ?? "");
    if (r >= 0 && r < rank) {
      best = m;
      rank = r;
    }
  }
  if (best) return best;
  const offered = manifests.map((m) => (m.platform ? formatPlatform(m.platform) : "unknown")).join(", ");
  throw new PoddError(`${what}: no image for ${formatPlatform(want)} in the manifest list (it has ${offered || "none"})`, { code: "NotFound" });
}
