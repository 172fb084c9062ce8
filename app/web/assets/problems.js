// The list of problems the server's validator found, and their markers on the diagram: each problem that names
// an element marks it (and counts on a badge); clicking a problem selects its element and scrolls to it.
export function problemsPanel(modeler, list, text) {
  const canvas = modeler.get('canvas');
  const overlays = modeler.get('overlays');
  const registry = modeler.get('elementRegistry');
  const selection = modeler.get('selection');
  let marked = [];

  function clear() {
    marked.forEach((id) => registry.get(id) && canvas.removeMarker(id, 'sf-problem'));
    overlays.remove({ type: 'sf-problem' });
    marked = [];
    list.replaceChildren();
  }

  function badge(count) {
    const element = document.createElement('span');
    element.className = 'sf-problem-badge';
    element.textContent = String(count);
    return element;
  }

  function item(problem) {
    const li = document.createElement('li');
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

  return {
    show(problems) {
      clear();
      const counts = new Map();
      problems.forEach((problem) => {
        list.append(item(problem));
        if (problem.element_id && registry.get(problem.element_id)) {
          counts.set(problem.element_id, (counts.get(problem.element_id) || 0) + 1);
        }
      });
      counts.forEach((count, id) => {
        canvas.addMarker(id, 'sf-problem');
        overlays.add(id, 'sf-problem', { position: { top: -10, right: 10 }, html: badge(count) });
        marked.push(id);
      });
    },
  };
}
