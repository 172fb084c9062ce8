// Two versions of a flow side by side, what changed highlighted (bpmn-js-differ): added elements on the new
// diagram in green, removed ones on the old diagram in red, changed ones on both in orange with a list of what
// changed, moved ones outlined in blue. The two canvases scroll and zoom together.
import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';
import { diff } from 'bpmn-js-differ';
import camundaModdle from 'camunda-bpmn-moddle/resources/camunda.json';
import './flow-diff.css';

const root = document.getElementById('flow-diff');
const text = JSON.parse(document.getElementById('flow-diff-text').textContent);

function viewer(selector) {
  return new NavigatedViewer({
    container: root.querySelector(selector),
    moddleExtensions: { camunda: camundaModdle },
  });
}

async function load(view, url) {
  const response = await fetch(url, { credentials: 'same-origin' });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  await view.importXML(await response.text());
  return view.getDefinitions();
}

function mark(view, ids, marker) {
  const registry = view.get('elementRegistry');
  const canvas = view.get('canvas');
  ids.forEach((id) => registry.get(id) && canvas.addMarker(id, marker));
}

function label(model) {
  return model.name ? `${model.name} (${model.id})` : model.id;
}

function show(value) {
  if (value === undefined || value === null) return '—';
  if (typeof value === 'object') return value.id || value.$type || JSON.stringify(value);
  return String(value);
}

function listChanges(changes) {
  const list = root.querySelector('[data-role=changes]');
  const rows = [
    ...Object.values(changes._added).map((m) => ['added', label(m), m.$type]),
    ...Object.values(changes._removed).map((m) => ['removed', label(m), m.$type]),
    ...Object.values(changes._changed).map(({ model, attrs }) => ['changed', label(model),
      // bpmn-js-differ 3.2 files jsondiffpatch's [old, new] as (newValue, oldValue): read it the right way round.
      Object.entries(attrs).map(([name, c]) => `${name}: ${show(c.newValue)} → ${show(c.oldValue)}`).join('; ')]),
    ...Object.values(changes._layoutChanged).filter((m) => !changes._changed[m.id])
      .map((m) => ['layout-changed', label(m), text.moved]),
  ];
  if (!rows.length) {
    list.textContent = text.same;
    return;
  }
  rows.forEach(([kind, what, detail]) => {
    const li = document.createElement('li');
    li.className = `sf-${kind}`;
    const badge = document.createElement('span');
    badge.className = `change-kind sf-${kind}`;
    badge.textContent = text[kind];
    li.append(badge, ` ${what}: ${detail}`);
    list.append(li);
  });
}

async function main() {
  const before = viewer('[data-role=old]');
  const after = viewer('[data-role=new]');
  const [oldDefinitions, newDefinitions] = await Promise.all([
    load(before, root.dataset.oldUrl), load(after, root.dataset.newUrl)]);
  const changes = diff(oldDefinitions, newDefinitions);
  mark(before, Object.keys(changes._removed), 'sf-removed');
  mark(after, Object.keys(changes._added), 'sf-added');
  mark(before, Object.keys(changes._changed), 'sf-changed');
  mark(after, Object.keys(changes._changed), 'sf-changed');
  mark(after, Object.keys(changes._layoutChanged).filter((id) => !changes._changed[id]), 'sf-layout-changed');
  listChanges(changes);
  [before, after].forEach((view) => view.get('canvas').zoom('fit-viewport'));
  // Keep the two canvases on the same part of the diagram.
  let syncing = false;
  [[before, after], [after, before]].forEach(([from, to]) => {
    from.on('canvas.viewbox.changed', ({ viewbox }) => {
      if (syncing) return;
      syncing = true;
      to.get('canvas').viewbox(viewbox);
      syncing = false;
    });
  });
  window.sealflowDiff = changes; // for the browser tests
  root.dataset.ready = 'true';
}

main().catch((error) => {
  root.querySelector('[data-role=changes]').textContent = `${text.failed} ${error.message}`;
});
