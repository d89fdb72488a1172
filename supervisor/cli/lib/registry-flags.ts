// The flags of every verb that reaches registries (their settings file, the credentials).
export const registryFlags = {
  registries: { type: "string" },
  authfile: { type: "string" },
} as const;
