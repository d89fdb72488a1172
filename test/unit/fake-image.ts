// An image as the runtime hands it to planLaunch, without a store behind it.
import type { ImageConfig } from "../../supervisor/runtime/images/config.ts";
import type { Image } from "../../supervisor/runtime/images/store.ts";

export function fakeImage(config: Partial<ImageConfig> = {}, name = "docker.io/library/i:latest"): Image {
  const full: ImageConfig = { os: "linux", architecture: "amd64", entrypoint: [], cmd: [], env: [], workingDir: "", user: "", labels: {}, diffIds: [], ...config };
  return { name, id: `sha256:${"0".repeat(64)}`, config: full, layerDirs: ["/nonexistent"], record: { name, id: `sha256:${"0".repeat(64)}`, layers: [], source: "test", storedAt: "" } };
}
