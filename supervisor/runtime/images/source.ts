// Where image content comes from: a registry (registry.ts) or an archive on disk (archive.ts).
// Both hand out manifests and blobs as they are; the store (store.ts) verifies every byte
// against its descriptor as it streams, so a source is never trusted.
import type { Readable } from "node:stream";

export const MediaType = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerSchema1: "application/vnd.docker.distribution.manifest.v1+json",
  dockerSchema1Signed: "application/vnd.docker.distribution.manifest.v1+prettyjws",
} as const;

/** The manifest kinds podd reads, in the order an Accept header lists them. */
export const MANIFEST_MEDIA_TYPES = [MediaType.ociIndex, MediaType.dockerManifestList, MediaType.ociManifest, MediaType.dockerManifest];

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  "os.version"?: string;
  "os.features"?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface ManifestBlob {
  /** what the source said the body is (Content-Type, or the descriptor's mediaType) */
  mediaType: string;
  /** "sha256:…" of body */
  digest: string;
  body: Buffer;
}

export interface ImageSource {
  /** for messages: "registry 127.0.0.1:5000", "archive ./images.tar" */
  readonly name: string;
  /** The manifest or index a tag or a digest names; by digest, body is checked against it. */
  getManifest(reference: string): Promise<ManifestBlob>;
  /** A blob's bytes as the source has them: the caller checks digest and size while reading. */
  openBlob(desc: Descriptor): Promise<Readable>;
}
