// Bundles the browser parts (bpmn.io's libraries and SealFlow's glue) into app/web/static/dist/.
// Run by manage.py at set-up (`npm ci`, then `node app/web/assets/build.mjs`); the output is not committed.
import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'static', 'dist');

// Some of the libraries build HTML with style attributes, which the pages' CSP (style-src 'self', no inline
// styles) refuses: the attributes are taken out here (each [found, replaced by]) and the same rules are in the
// bundles' CSS (flow-modeler.css, policy-editor.css). The build fails if a library's markup changes, so an upgrade
// cannot break the pages silently.
const INLINE_STYLES = [
  [/bpmn-js-properties-panel[\\/]dist[\\/]index\.esm\.js$/, [
    [' style="height: 100%"', ''],
    [' style="flex: none; height: auto"', ''],
  ]],
  [/dmn-js-shared[\\/]lib[\\/]util[\\/]PoweredByUtil\.js$/, [ // the bpmn.io link and its lightbox stay
    [' style="vertical-align:middle"', ''],
    ["'style=\"position: absolute; bottom: 15px; right: 15px; z-index: 100;\">'", "'>'"],
    [' style="\' + LIGHTBOX_STYLES + \'"', ''],
    [' style="\' + BACKDROP_STYLES + \'"', ''],
    [' style="\' + NOTICE_STYLES + \'"', ''],
    [' style="margin: 15px 20px 15px 10px; align-self: center;\' + \'"', ''],
  ]],
  // CodeMirror's styles (the FEEL and expression editors) go into a <style> element on a document; constructed
  // style sheets, which it uses elsewhere, are not inline styles.
  [/style-mod[\\/]src[\\/]style-mod\.js$/, [
    ['if (!root.head && root.adoptedStyleSheets && win.CSSStyleSheet)', 'if (root.adoptedStyleSheets && win.CSSStyleSheet)'],
  ]],
];
const inlineStyles = {
  name: 'strip-inline-styles',
  setup(builder) {
    for (const [filter, replacements] of INLINE_STYLES) {
      builder.onLoad({ filter }, (args) => {
        let source = readFileSync(args.path, 'utf8');
        for (const [found, replaced] of replacements) {
          if (!source.includes(found)) throw new Error(`${args.path} no longer has ${found}: check the CSP rules`);
          source = source.replaceAll(found, replaced);
        }
        return { contents: source, loader: 'js' };
      });
    }
  },
};

rmSync(out, { recursive: true, force: true });
await build({
  entryPoints: {
    'flow-modeler': join(here, 'flow-modeler.js'),
    'flow-diff': join(here, 'flow-diff.js'),
    'policy-editor': join(here, 'policy-editor.js'),
    'path-viewer': join(here, 'path-viewer.js'),
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
