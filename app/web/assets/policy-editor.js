// The decision-table editor page: dmn-js opened on the table, live validation by the server's own validator (the
// same code that deploys it), and deploying under dual control. Texts come translated in #policy-editor-text.
import DmnModeler from 'dmn-js/lib/Modeler';
import camundaModdle from 'camunda-dmn-moddle/resources/camunda.json';
import './policy-editor.css';

const root = document.getElementById('policy-editor');
const text = JSON.parse(document.getElementById('policy-editor-text').textContent);
const status = root.querySelector('[data-role=status]');
const list = root.querySelector('[data-role=problems]');
const deployForm = root.querySelector('[data-role=deploy-form]');
const deployButton = root.querySelector('[data-role=deploy]');
const deployError = root.querySelector('[data-role=deploy-error]');
const backTestForm = root.querySelector('[data-role=back-test-form]');
const backTestError = root.querySelector('[data-role=back-test-error]');
const backTestResult = root.querySelector('[data-role=back-test-result]');

function say(message, kind = '') {
  status.textContent = message;
  status.className = `modeler-status ${kind}`;
}

async function post(url, body) {
  const response = await fetch(url, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRFToken': root.dataset.csrf },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({ error: response.statusText }));
  return { response, answer };
}

// Problems name rules, inputs or outputs by id: their cells are marked in the table.
function show(problems) {
  root.querySelectorAll('.sf-problem-cell').forEach((cell) => cell.classList.remove('sf-problem-cell'));
  list.replaceChildren(...problems.map((problem) => {
    const li = document.createElement('li');
    const where = problem.element_name || problem.element_id;
    li.textContent = where ? `${where}: ${problem.message}` : problem.message;
    if (problem.element_id) {
      root.querySelectorAll(`[data-row-id="${CSS.escape(problem.element_id)}"], `
        + `[data-col-id="${CSS.escape(problem.element_id)}"]`).forEach((cell) => cell.classList.add('sf-problem-cell'));
    }
    return li;
  }));
}

async function main() {
  const modeler = new DmnModeler({
    container: root.querySelector('[data-role=canvas]'),
    common: { moddleExtensions: { camunda: camundaModdle } },
  });
  window.sealflowPolicyEditor = modeler; // for the browser tests

  let checked = 0;
  let pending = null;
  async function validate() {
    const mine = ++checked;
    say(text.checking);
    deployButton.disabled = true;
    const { xml } = await modeler.saveXML({ format: true });
    const { response, answer } = await post(root.dataset.validateUrl, { xml, name: root.dataset.name });
    if (mine !== checked) return;
    if (!response.ok) {
      say(`${text.unchecked} ${answer.error}`, 'error');
      return;
    }
    show(answer.problems);
    const count = answer.problems.length;
    const summary = count === 1 ? text.problem : text.problems.replace('%(count)s', count);
    say(count ? summary : text.valid, count ? 'error' : 'ok');
    deployButton.disabled = count > 0;
  }
  function changed() {
    clearTimeout(pending);
    say(text.checking); // stale until checked again (see flow-modeler.js)
    deployButton.disabled = true;
    pending = setTimeout(validate, 400);
  }

  const xml = await (await fetch(root.dataset.xmlUrl, { credentials: 'same-origin' })).text();
  await modeler.importXML(xml);
  const table = modeler.getViews().find((view) => view.type === 'decisionTable');
  if (table) await modeler.open(table);
  modeler.getActiveViewer().on('elements.changed', changed);
  modeler.on('views.changed', () => modeler.getActiveViewer().on('elements.changed', changed));
  await validate();

  // The server answers the report as HTML it rendered (escaped there), or an error with the draft's problems.
  backTestForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = backTestForm.querySelector('button');
    button.disabled = true;
    backTestError.textContent = text.back_testing;
    backTestResult.replaceChildren();
    const { xml } = await modeler.saveXML({ format: true });
    const months = Number(backTestForm.querySelector('input[name=months]').value);
    const { response, answer } = await post(root.dataset.backTestUrl, { xml, name: root.dataset.name, months });
    button.disabled = false;
    if (!response.ok) {
      backTestError.textContent = answer.error;
      if (answer.problems) show(answer.problems);
      return;
    }
    backTestError.textContent = '';
    backTestResult.innerHTML = answer.html;
  });

  deployForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    deployButton.disabled = true;
    deployError.textContent = text.deploying;
    const saved = await modeler.saveXML({ format: true });
    const comment = deployForm.querySelector('textarea[name=comment]').value;
    const { response, answer } = await post(root.dataset.deployUrl, { xml: saved.xml, name: root.dataset.name, comment });
    if (response.ok) {
      window.location.assign(answer.url);
      return;
    }
    deployError.textContent = answer.error;
    if (answer.problems) show(answer.problems);
    deployButton.disabled = false;
  });
}

main().catch((error) => say(`${text.failed} ${error.message}`, 'error'));
