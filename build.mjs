// npm run build: the CLI and daemon as one bundled ESM program in dist/ (one chunk per verb,
// loaded when the verb runs), so a CLI call pays for one Node start and no module resolution
// across forty files. Type checking is tsc's job (npm test); koffi stays external: it loads
// a native addon from its own package directory.
import { build } from "esbuild";

await build({
  entryPoints: { podd: "supervisor/cli/main.ts" },
  bundle: true,
  splitting: true,
  platform: "node",
  format: "esm",
  target: "node20",
  outdir: "dist",
  entryNames: "[name]",
  chunkNames: "chunks/[name]-[hash]",
  external: ["koffi"],
  // The bundled CommonJS dependencies (yaml, winston) call require(); ESM has none of its own.
  banner: { js: "import { createRequire as __poddRequire } from 'node:module'; const require = __poddRequire(import.meta.url);" },
  logLevel: "warning",
});
