// Bundle the widget (src/widget.js) into ../src/embedexplore/static/ with esbuild.
//   node build.mjs                one build, minified
//   node build.mjs --watch        rebuild on change, with source maps
//   node build.mjs --outdir=DIR   one build into DIR (tests/test_widget_js.py compares it with
//                                 the bundle in static/, to tell whether that one is up to date)
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import * as esbuild from "esbuild";
import { patchScatterplot } from "./patches.mjs";

// regl-scatterplot is changed while bundling (see patches.mjs for what and why); the build fails
// if a new version no longer has a line a patch changes.
const patchedScatterplot = {
  name: "patched-regl-scatterplot",
  setup(build) {
    build.onLoad({ filter: /regl-scatterplot[\\/]dist[\\/]regl-scatterplot\.esm\.js$/ }, async (args) => {
      return { contents: patchScatterplot(await readFile(args.path, "utf8")), loader: "js" };
    });
  },
};

// `import source from "./x.js?worker"`: x.js bundled on its own (its imports included) and
// given as a string, to start as a Web Worker from a Blob: anywidget loads the widget from one
// module, so a worker cannot be a file of its own beside it.
const workerSource = {
  name: "worker-source",
  setup(build) {
    build.onResolve({ filter: /\?worker$/ }, (args) => ({
      path: resolve(args.resolveDir, args.path.slice(0, -"?worker".length)),
      namespace: "worker-source",
    }));
    build.onLoad({ filter: /.*/, namespace: "worker-source" }, async (args) => {
      const out = await esbuild.build({
        entryPoints: [args.path],
        bundle: true,
        format: "iife",
        target: "es2020",
        minify: !watch,
        write: false,
      });
      return { contents: `export default ${JSON.stringify(out.outputFiles[0].text)};`, loader: "js" };
    });
  },
};

const watch = process.argv.includes("--watch");
const outdir = process.argv.find((a) => a.startsWith("--outdir="))?.slice("--outdir=".length);
const options = {
  entryPoints: ["src/widget.js"],
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: !watch && !process.env.EE_NO_MINIFY,
  sourcemap: watch ? "inline" : false,
  outdir: outdir || "../src/embedexplore/static",
  plugins: [patchedScatterplot, workerSource],
  logLevel: outdir ? "warning" : "info",
};
if (watch) {
  await (await esbuild.context(options)).watch();
} else {
  await esbuild.build(options);
}
