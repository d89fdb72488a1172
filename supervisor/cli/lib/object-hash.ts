// The name suffix of --append-hash, computed as kubectl computes it, so `podd create configmap
// app --from-file=… --append-hash` names the object exactly as kubectl (and kustomize's
// generators) would: a changed content gets a new name, and pods that name the old one keep it.
//
// The hash is the SHA-256 of Go's JSON of {kind, name, data[, binaryData]} (Secrets: with
// type), keys sorted as Go sorts a map's, []byte values in base64; its first ten hex digits
// are kept, with 0 1 3 a e mapped to g h k m t so that no word can be spelled.
import { createHash } from "node:crypto";
import { goMarshal, goSortedMap } from "./go-json.ts";

function encodeHash(text: string): string {
  const hex = createHash("sha256").update(text, "utf8").digest("hex").slice(0, 10);
  const swap: Record<string, string> = { "0": "g", "1": "h", "3": "k", a: "m", e: "t" };
  return [...hex].map((c) => swap[c] ?? c).join("");
}

/** The suffix for a ConfigMap named `name` (the name before the suffix). */
export function configMapHash(name: string, data: ReadonlyMap<string, string>, binaryData: ReadonlyMap<string, Buffer>): string {
  // Keys in Go's (sorted) map order; binaryData only when it holds something, as kubectl does.
  const doc = {
    ...(binaryData.size > 0 ? { binaryData: goSortedMap(binaryData, (b) => b.toString("base64")) } : {}),
    data: goSortedMap(data, (v) => v),
    kind: "ConfigMap",
    name,
  };
  return encodeHash(goMarshal(doc));
}

/** The suffix for a Secret; type "" when none was given, as kubectl hashes it. */
export function secretHash(name: string, type: string, data: ReadonlyMap<string, Buffer>): string {
  const doc = { data: goSortedMap(data, (b) => b.toString("base64")), kind: "Secret", name, type };
  return encodeHash(goMarshal(doc));
}
