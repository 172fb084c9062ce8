// The list of problems the server's validator found, and their markers on the diagram: each problem that names
// an element marks it (and counts on a badge); clicking a problem selects its element and scrolls to it. Warnings
// (which do not stop a deployment) follow the problems, marked in another colour.
export function problemsPanel(modeler, list, text) {
  const canvas = modeler.get('canvas');
  const overlays = modeler.get('overlays');
  const registry = modeler.get('elementRegistry');
  const selection = modeler.get('selection');
  let marked = [];

  function clear() {
    marked.forEach(([id, kind]) => registry.get(id) && canvas.removeMarker(id, kind));
    overlays.remove({ type: 'sf-problem' });
    marked = [];
    list.replaceChildren();
  }

  function badge(count, kind) {
    const element = document.createElement('span');
    element.className = `${kind}-badge`;
    element.textContent = String(count);
    return element;
  }

  function item(problem, kind) {
    const li = document.createElement('li');
    li.className = kind;
    const element = problem.element_id && registry.get(problem.element_id);
    const where = problem.element_id ? `${problem.element_name || problem.element_id}` : (
      problem.line ? text.line.replace('%(line)s', problem.line) : '');
    const label = document.createElement(element ? 'button' : 'span');
    if (element) {
      label.type = 'button';
      label.className = 'link';
      label.dataset.elementId = problem.element_id;
      label.addEventListener('click', () => {
        selection.select(element);
        canvas.scrollToElement(element);
      });
    }
    label.textContent = where;
    const message = document.createElement('span');
    message.textContent = where ? `: ${problem.message}` : problem.message;
    li.append(label, message);
    return li;
  }

  function mark(findings, kind, skip) {
    const counts = new Map();
    findings.forEach((finding) => {
      list.append(item(finding, kind));
      if (finding.element_id && registry.get(finding.element_id) && !skip.has(finding.element_id)) {
        counts.set(finding.element_id, (counts.get(finding.element_id) || 0) + 1);
      }
    });
    counts.forEach((count, id) => {
      canvas.addMarker(id, kind);
      overlays.add(id, 'sf-problem', { position: { top: -10, right: 10 }, html: badge(count, kind) });
      marked.push([id, kind]);
    });
    return counts;
  }

  return {
    show(problems, warnings = []) {
      clear();
      const withProblems = mark(problems, 'sf-problem', new Set());
      mark(warnings, 'sf-warning', new Set(withProblems.keys())); // a problem's marker says enough
    },
  };
}
