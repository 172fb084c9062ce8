// The application page's history on the diagram: the process on the version it ran (bpmn-js viewer), with the
// elements done, the flows taken, what waits and what failed marked, loops counted; clicking an element lists its
// events; a replay steps through the history, re-colouring the diagram and showing the process data after each
// event. The data comes from /applications/<id>/path.json, the page's words from #path-viewer-text. Everything
// from the server is put in with textContent, never as HTML.
import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';
import camundaModdle from 'camunda-bpmn-moddle/resources/camunda.json';
import './path-viewer.css';

const root = document.getElementById('path-viewer');
const text = JSON.parse(document.getElementById('path-viewer-text').textContent);
const part = (role) => root.querySelector(`[data-role=${role}]`);

const MARKERS = { done: 'sf-path-done', taken: 'sf-path-taken', waiting: 'sf-path-waiting', failed: 'sf-path-failed',
  current: 'sf-path-current' };
const COUNT = 'sf-path-count';

function fill(template, values) {
  return template.replace(/{(\w+)}/g, (found, key) => (key in values ? String(values[key]) : found));
}

// "2026-12-02T03:08:58Z" as the page's other history tables write it (UTC).
function when(iso) {
  return iso.replace('T', ' ').replace(/Z$/, '');
}

function node(tag, className, content) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (content !== undefined) element.textContent = content;
  return element;
}

function show(value) {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'object') return JSON.stringify(value, null, 2);
  return String(value);
}

// The path at one moment drawn on the diagram: markers on what was done, taken, waits or failed, loop counts.
function drawMoment(viewer, moment, currentElement) {
  const canvas = viewer.get('canvas');
  const registry = viewer.get('elementRegistry');
  const overlays = viewer.get('overlays');
  overlays.remove({ type: COUNT });
  registry.getAll().forEach((element) => Object.values(MARKERS).forEach((m) => canvas.removeMarker(element, m)));
  const mark = (id, marker) => registry.get(id) && canvas.addMarker(id, marker);
  Object.entries(moment.done).forEach(([id, passes]) => {
    mark(id, MARKERS.done);
    if (passes > 1 && registry.get(id)) {
      overlays.add(id, COUNT, { position: { top: -10, right: 10 },
        html: node('span', 'sf-path-count-badge', fill(text.times, { count: passes })) });
    }
  });
  Object.keys(moment.flows).forEach((id) => mark(id, MARKERS.taken));
  moment.waiting.forEach((id) => mark(id, MARKERS.waiting));
  moment.failed.forEach((id) => mark(id, MARKERS.failed));
  if (currentElement) mark(currentElement, MARKERS.current);
}

function dataTable(table, data, changed) {
  const body = table.tBodies[0];
  body.replaceChildren();
  Object.keys(data).sort().forEach((key) => {
    const row = node('tr', key in changed ? 'sf-changed-here' : '');
    row.dataset.key = key;
    const value = data[key];
    const cell = node('td');
    cell.append(value !== null && typeof value === 'object' ? node('pre', '', show(value)) : show(value));
    row.append(node('th', '', key), cell);
    body.append(row);
  });
  if (!body.rows.length) {
    const row = node('tr');
    const cell = node('td', 'hint', text.no_data);
    cell.colSpan = 2;
    row.append(cell);
    body.append(row);
  }
}

function fact(list, label, value) {
  if (value === null || value === undefined || value === '') return;
  list.append(node('dt', '', label), node('dd', '', value));
}

// One event in the element's list: when, who (for whom), what, the decision, the comment, the data it set.
function eventItem(step, later) {
  const item = node('li', later ? 'sf-later' : '');
  item.dataset.step = step.id;
  const head = node('div', 'sf-event-head');
  head.append(node('time', '', when(step.at)), ` ${step.actor} · ${step.label}`);
  item.append(head);
  const facts = node('dl', 'sf-event-facts');
  fact(facts, text.on_behalf_of, step.on_behalf_of);
  fact(facts, text.decision, step.decision);
  fact(facts, text.comment, step.comment);
  const changed = Object.entries(step.changed);
  if (changed.length) {
    const values = node('dd');
    const list = node('ul', 'sf-changed-list');
    changed.forEach(([key, value]) => {
      const entry = node('li');
      entry.append(node('code', '', key), ' = ', node('span', '', show(value)));
      list.append(entry);
    });
    values.append(list);
    facts.append(node('dt', '', text.changed), values);
  }
  if (facts.children.length) item.append(facts);
  return item;
}

// The element's events, those after the replay's step greyed; a flow has none, only how often it was taken.
function showElement(element, steps, index) {
  const target = element.labelTarget || element;
  const business = target.businessObject || {};
  part('element-title').textContent = business.name ? `${business.name} (${target.id})` : target.id;
  const mine = steps.map((s, at) => [s, at > index]).filter(([s]) => s.element === target.id);
  part('element-events').replaceChildren(...mine.map(([s, later]) => eventItem(s, later)));
  const taken = steps[index].state.flows[target.id];
  const empty = part('element-empty');
  empty.textContent = taken ? fill(text.taken, { count: taken }) : text.nothing;
  empty.hidden = mine.length > 0;
  root.dataset.element = target.id;
}

function replay(viewer, path) {
  const { steps } = path;
  const slider = part('slider');
  const buttons = { first: part('first'), previous: part('previous'), next: part('next'), last: part('last') };
  let index = steps.length - 1;
  let selected = null;
  slider.max = String(Math.max(steps.length - 1, 0));
  slider.disabled = steps.length < 2;

  function go(to) {
    index = Math.min(Math.max(to, 0), steps.length - 1);
    const step = steps[index];
    slider.value = String(index);
    buttons.first.disabled = buttons.previous.disabled = index <= 0;
    buttons.next.disabled = buttons.last.disabled = index >= steps.length - 1;
    drawMoment(viewer, step.state, step.element);
    part('position').textContent = fill(text.step, { step: index + 1, count: steps.length });
    const who = step.on_behalf_of ? fill(text.acting, { who: step.actor, whom: step.on_behalf_of }) : step.actor;
    part('event').textContent = `${when(step.at)} · ${who} · ${step.label}`;
    part('data-title').textContent = fill(text.data_at, { step: index + 1 });
    dataTable(part('data'), step.data, step.changed);
    if (selected) showElement(selected, steps, index);
    root.dataset.step = String(index + 1);
  }

  buttons.first.addEventListener('click', () => go(0));
  buttons.previous.addEventListener('click', () => go(index - 1));
  buttons.next.addEventListener('click', () => go(index + 1));
  buttons.last.addEventListener('click', () => go(steps.length - 1));
  slider.addEventListener('input', () => go(Number(slider.value)));
  viewer.on('element.click', ({ element }) => {
    if (element.type === 'bpmn:Process' || element.type === 'bpmn:Collaboration') return;
    selected = element;
    showElement(element, steps, index);
  });
  go(index);
}

async function main() {
  const response = await fetch(root.dataset.pathUrl, { credentials: 'same-origin' });
  if (!response.ok) throw new Error(`${response.status}`);
  const path = await response.json();
  const viewer = new NavigatedViewer({
    container: part('canvas'),
    moddleExtensions: { camunda: camundaModdle },
  });
  // The canvas sits in a long page: the wheel scrolls the page, Ctrl + wheel zooms the diagram, dragging moves it.
  part('canvas').addEventListener('wheel', (event) => event.ctrlKey || event.stopPropagation(), { capture: true });
  await viewer.importXML(path.diagram);
  viewer.get('canvas').zoom('fit-viewport', 'auto');
  part('fit').addEventListener('click', () => viewer.get('canvas').zoom('fit-viewport', 'auto'));
  if (path.steps.length) {
    replay(viewer, path);
  } else {
    drawMoment(viewer, path.now, null);
    part('replay').hidden = true;
  }
  window.sealflowPath = { viewer, path }; // for the browser tests
  root.dataset.ready = 'true';
}

main().catch((error) => {
  const status = part('failed');
  status.textContent = `${text.failed} ${error.message}`;
  status.hidden = false;
});
