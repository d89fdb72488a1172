// How this process reaches registries: placeholder until the registry client lands.
import type { ImageSource } from "../../runtime/images/source.ts";
import type { Reference } from "../../runtime/images/reference.ts";

export function defaultRegistry(_state: string, _env: NodeJS.ProcessEnv): ((ref: Reference) => ImageSource) | undefined {
  return undefined;
}
