// The image verbs on an Images: what the daemon serves on its socket, and what `podd image`
// runs in-process on a state root no daemon holds.
import { statSync } from "node:fs";
import type { Readable } from "node:stream";
import type { ImageDetail, ImagesApi, ImageSummary, PullOutcome } from "../../api/images.ts";
import { PoddError } from "../../base/errors.ts";
import type { Images } from "./service.ts";
import { imageKey, ImageStore, type ImageRecord } from "./store.ts";

export function summaryOf(store: ImageStore, r: ImageRecord): ImageSummary {
  const s: ImageSummary = { name: r.name, id: r.id, size: ImageStore.size(r), storedAt: r.storedAt, source: r.source };
  if (r.digest) s.digest = r.digest;
  const created = store.imageOf(r)?.config.created;
  if (created) s.created = created;
  return s;
}

export class ImagesFacade implements ImagesApi {
  /** inUse: the image names (imageKey) of every container the daemon keeps */
  constructor(private readonly images: Images, private readonly inUse: () => ReadonlySet<string>) {}

  async list(): Promise<ImageSummary[]> {
    return this.images.list().map((r) => summaryOf(this.images.store, r));
  }

  async inspect(name: string): Promise<ImageDetail> {
    const image = this.images.get(name);
    if (!image) throw new PoddError(`image "${name}" not found`, { code: "NotFound" });
    const body = this.images.store.readBlob(image.id);
    return { ...summaryOf(this.images.store, image.record), config: body ? JSON.parse(body.toString("utf8")) : null, layers: image.record.layers };
  }

  async pull(name: string, onProgress?: Parameters<ImagesApi["pull"]>[1]): Promise<PullOutcome> {
    const r = await this.images.pull(name, onProgress);
    return { image: summaryOf(this.images.store, r.record), fetched: r.fetched, ms: r.ms };
  }

  async import(name: string, path: string, opts: { env?: string[]; workingDir?: string; replace?: boolean }): Promise<ImageSummary> {
    return summaryOf(this.images.store, await this.images.import(name, path, opts));
  }

  async load(input: { path: string } | { stream: Readable }): Promise<ImageSummary[]> {
    let records: ImageRecord[];
    if ("stream" in input) records = await this.images.load(input.stream, "archive from the request");
    else {
      try {
        statSync(input.path);
      } catch (err) {
        throw PoddError.wrap(`load ${input.path}`, err, "Invalid");
      }
      records = await this.images.load(input.path, `archive ${input.path}`);
    }
    return records.map((r) => summaryOf(this.images.store, r));
  }

  async remove(name: string): Promise<ImageSummary[]> {
    return this.images.remove(name, this.inUse()).map((r) => summaryOf(this.images.store, r));
  }

  async prune(): Promise<ImageSummary[]> {
    return this.images.prune(this.inUse()).map((r) => summaryOf(this.images.store, r));
  }
}

/** The image keys of the containers of these pods (an unparsable name, or `host`, names none). */
export function imagesInUse(images: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const i of images) {
    if (i === "host") continue;
    try {
      out.add(imageKey(i));
    } catch {
      // InvalidImageName: such a container never got an image, so it holds none
    }
  }
  return out;
}
