// The flow modeler page: bpmn-js with the properties panel (Camunda 7 properties and SealFlow's element
// templates), live validation by the server's own validator, and deploying (which asks a second seal
// administrator first). The page's texts come translated from the server in #flow-modeler-text.
import BpmnModeler from 'bpmn-js/lib/Modeler';
import {
  BpmnPropertiesPanelModule,
  BpmnPropertiesProviderModule,
  CamundaPlatformPropertiesProviderModule,
} from 'bpmn-js-properties-panel';
import { ElementTemplatesPropertiesProviderModule } from 'bpmn-js-element-templates';
import ElementTemplateChooserModule from '@bpmn-io/element-template-chooser';
import CamundaBehaviorsModule from 'camunda-bpmn-js-behaviors/lib/camunda-platform';
import camundaModdle from 'camunda-bpmn-moddle/resources/camunda.json';
import chinese from 'bpmn-js-i18n/translations/zn';
import panelChinese from './properties-panel-zh.js';
import { problemsPanel } from './problems.js';
import './flow-modeler.css';

const root = document.getElementById('flow-modeler');
const text = JSON.parse(document.getElementById('flow-modeler-text').textContent);
const status = root.querySelector('[data-role=status]');
const deployButton = root.querySelector('[data-role=deploy]');
const deployForm = root.querySelector('form[data-role=deploy-form]');

// The modeler's own words in the page's language: the canvas's (palette, context pad, menus) from bpmn-js-i18n, the
// properties panel's from SealFlow's own table.
function translation(table) {
  const translate = (template, replacements = {}) => (table[template] || template)
    .replace(/{([^}]+)}/g, (_, key) => (key in replacements ? replacements[key] : `{${key}}`));
  return { translate: ['value', translate] };
}

function say(message, kind = '') {
  status.textContent = message;
  status.className = `modeler-status ${kind}`;
}

async function main() {
  const templates = await (await fetch(root.dataset.templatesUrl, { credentials: 'same-origin' })).json();
  const modeler = new BpmnModeler({
    container: root.querySelector('[data-role=canvas]'),
    propertiesPanel: { parent: root.querySelector('[data-role=properties]') },
    additionalModules: [
      BpmnPropertiesPanelModule,
      BpmnPropertiesProviderModule,
      CamundaPlatformPropertiesProviderModule,
      CamundaBehaviorsModule,
      ElementTemplatesPropertiesProviderModule,
      ElementTemplateChooserModule,
      ...(root.dataset.locale === 'zh' ? [translation({ ...chinese, ...panelChinese })] : []),
    ],
    moddleExtensions: { camunda: camundaModdle },
    elementTemplates: templates,
  });
  window.sealflowModeler = modeler; // for the browser tests and the curious

  const problems = problemsPanel(modeler, root.querySelector('[data-role=problems]'), text);
  let checked = 0; // the number of the newest validation asked for; older answers are dropped
  let pending = null;

  async function validate() {
    const mine = ++checked;
    say(text.checking);
    deployButton.disabled = true;
    let answer;
    try {
      // bpmn-js may fail to write a diagram it read (two namespaces under one prefix, say): said, not thrown.
      const { xml } = await modeler.saveXML({ format: true });
      const response = await fetch(root.dataset.validateUrl, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRFToken': root.dataset.csrf },
        body: JSON.stringify({ xml }),
      });
      answer = await response.json();
      if (!response.ok && !answer.problems) throw new Error(answer.error || response.statusText);
    } catch (error) {
      if (mine === checked) say(`${text.unchecked} ${error.message}`, 'error');
      return;
    }
    if (mine !== checked) return;
    const warnings = answer.warnings || [];
    problems.show(answer.problems, warnings);
    const count = answer.problems.length;
    const summary = count === 1 ? text.problem : text.problems.replace('%(count)s', count);
    const warned = warnings.length === 1 ? text.warning : text.warnings.replace('%(count)s', warnings.length);
    say(count ? summary : (warnings.length ? `${text.valid} ${warned}` : text.valid), count ? 'error' : 'ok');
    deployButton.disabled = count > 0;
  }

  // An edit makes the last verdict stale at once: the status and the deploy button say so until the check, which
  // waits for the edits to pause, has answered (a click in between would deploy what nobody checked).
  modeler.on('commandStack.changed', () => {
    clearTimeout(pending);
    say(text.checking);
    deployButton.disabled = true;
    pending = setTimeout(validate, 400);
  });

  async function open(xml) {
    try {
      const { warnings } = await modeler.importXML(xml);
      if (warnings.length) console.warn('import warnings', warnings);
      modeler.get('canvas').zoom('fit-viewport', 'auto');
      await validate();
    } catch (error) {
      problems.show([]);
      say(`${text.unreadable} ${error.message}`, 'error');
    }
  }

  const initial = await fetch(root.dataset.xmlUrl, { credentials: 'same-origin' });
  await open(await initial.text());

  root.querySelector('[data-role=open]').addEventListener('change', async (event) => {
    const file = event.target.files[0];
    if (file) await open(await file.text());
    event.target.value = '';
  });

  root.querySelector('[data-role=download]').addEventListener('click', async () => {
    const { xml } = await modeler.saveXML({ format: true });
    const process = modeler.getDefinitions().rootElements.find((e) => e.$type === 'bpmn:Process');
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([xml], { type: 'application/xml' }));
    link.download = `${process ? process.id : 'diagram'}.bpmn`;
    link.click();
    URL.revokeObjectURL(link.href);
  });

  const deployError = root.querySelector('[data-role=deploy-error]');
  deployForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    deployButton.disabled = true;
    deployError.textContent = text.deploying;
    const { xml } = await modeler.saveXML({ format: true });
    const response = await fetch(root.dataset.deployUrl, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRFToken': root.dataset.csrf },
      body: JSON.stringify({ xml, comment: deployForm.querySelector('textarea[name=comment]').value }),
    });
    const answer = await response.json().catch(() => ({ error: response.statusText }));
    if (response.ok) {
      window.location.assign(answer.url);
      return;
    }
    deployError.textContent = answer.error;
    if (answer.problems) problems.show(answer.problems);
    deployButton.disabled = false;
  });
}

main().catch((error) => say(`${text.failed} ${error.message}`, 'error'));
