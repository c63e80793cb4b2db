// Bundle the widget (src/widget.js) into ../src/embedexplore/static/ with esbuild.
//   node build.mjs                one build, minified
//   node build.mjs --watch        rebuild on change, with source maps
//   node build.mjs --outdir=DIR   one build into DIR (tests/test_widget_js.py compares it with
//                                 the bundle in static/, to tell whether that one is up to date)
import { readFile } from "node:fs/promises";
import * as esbuild from "esbuild";

// regl-scatterplot draws the trajectories' lines with mitered joins and no miter limit: where a
// track's path turns back on itself (common in t-SNE maps) the join becomes a spike across the
// whole pane. It offers no option for it, so its default is switched to plain joins here; the
// build fails if a new version no longer has the line this changes.
const plainJoins = {
  name: "plain-line-joins",
  setup(build) {
    build.onLoad({ filter: /regl-scatterplot[\\/]dist[\\/]regl-scatterplot\.esm\.js$/ }, async (args) => {
      const source = await readFile(args.path, "utf8");
      const patched = source.replace("miter = true,", "miter = false,");
      if (patched === source) {
        throw new Error("regl-scatterplot: 'miter = true,' not found; check the line-join patch");
      }
      return { contents: patched, loader: "js" };
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
  minify: !watch,
  sourcemap: watch ? "inline" : false,
  outdir: outdir || "../src/embedexplore/static",
  plugins: [plainJoins],
  logLevel: outdir ? "warning" : "info",
};
if (watch) {
  await (await esbuild.context(options)).watch();
} else {
  await esbuild.build(options);
}
