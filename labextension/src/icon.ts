/** The sidebar tab's icon: a chat bubble holding a code bracket, drawn for this extension. */
import { LabIcon } from '@jupyterlab/ui-components';

const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <path class="jp-icon3" fill="#616161" d="M4 3h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm0 2v10h2v2l2.5-2H20V5H4z"/>
  <path class="jp-icon3" fill="#616161" d="M9.6 7.2 6.8 10l2.8 2.8 1.1-1.1L9 10l1.7-1.7zm4.8 0-1.1 1.1L15 10l-1.7 1.7 1.1 1.1 2.8-2.8z"/>
</svg>`;

export const codegenIcon = new LabIcon({ name: 'jupyter-codegen:chat', svgstr: svg });
