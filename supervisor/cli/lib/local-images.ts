// podd image without a daemon: the store of the given roots, used in the CLI's own process under
// their lock. The one place the CLI reaches into runtime/ and daemon/ (as `podd run` does): a
// verb imports it only when no daemon answers.
import { join, resolve } from "node:path";
import { rootsFromEnv } from "../../base/paths.ts";
import { systemClock } from "../../base/time.ts";
import type { ImagesApi } from "../../api/images.ts";
import { lockRoots } from "../../daemon/lock.ts";
import { ImagesFacade } from "../../runtime/images/facade.ts";
import { Images } from "../../runtime/images/service.ts";
import { LinuxSys } from "../../sys/linux.ts";
import type { Io } from "./client-verb.ts";
import { defaultRegistry } from "./registry-access.ts";
import { initPath } from "./supervisor-flags.ts";

export function openLocalImages(values: { root?: string | undefined; registries?: string | undefined; authfile?: string | undefined }, io: Io): { api: ImagesApi; close(): void } {
  const state = resolve(values.root ?? rootsFromEnv(io.env).state);
  const sys = new LinuxSys();
  const lock = lockRoots(sys, { state, run: state, log: state });
  const images = new Images({ dir: join(state, "images"), initPath: initPath(), clock: systemClock, registry: defaultRegistry(state, io.env, values) });
  images.recover();
  return { api: new ImagesFacade(images, () => new Set()), close: () => lock.release() };
}
