// Bundles the browser parts (bpmn.io's libraries and SealFlow's glue) into app/web/static/dist/.
// Run by manage.py at set-up (`npm ci`, then `node app/web/assets/build.mjs`); the output is not committed.
import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'static', 'dist');

// The properties panel builds its containers from HTML with style attributes, which the pages' CSP (style-src
// 'self', no inline styles) refuses; the same rules are in flow-modeler.css. The build fails if the markup changes.
const inlineStyles = {
  name: 'strip-inline-styles',
  setup(builder) {
    builder.onLoad({ filter: /bpmn-js-properties-panel[\\/]dist[\\/]index\.esm\.js$/ }, (args) => {
      let source = readFileSync(args.path, 'utf8');
      for (const style of [' style="height: 100%"', ' style="flex: none; height: auto"']) {
        if (!source.includes(style)) throw new Error(`${args.path} no longer has ${style}: check the CSP rules`);
        source = source.replaceAll(style, '');
      }
      return { contents: source, loader: 'js' };
    });
  },
};

rmSync(out, { recursive: true, force: true });
await build({
  entryPoints: {
    'flow-modeler': join(here, 'flow-modeler.js'),
    'flow-diff': join(here, 'flow-diff.js'),
  },
  bundle: true,
  minify: true,
  sourcemap: true,
  format: 'esm',
  target: ['chrome110', 'firefox110', 'safari16'],
  outdir: out,
  // Fonts and images become files beside the bundle: the pages' CSP allows fonts from 'self' only.
  loader: { '.woff': 'file', '.woff2': 'file', '.ttf': 'file', '.eot': 'file', '.svg': 'file', '.png': 'file' },
  assetNames: 'assets/[name]-[hash]',
  plugins: [inlineStyles],
  logLevel: 'warning',
});
console.log(`[sealflow] front-end bundles written to ${out}`);
