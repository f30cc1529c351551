/**
 * The renderer of the cells bundle: it only shows the generated code. Inserting happens when the cell has run
 * (see insertion.ts), never here, so re-opening a saved notebook inserts nothing.
 */
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';

import { CELLS_MIME, ICellsBundle, readBundle } from './protocol';

function caption(bundle: ICellsBundle): string {
  const parts = ['jupyter-codegen'];
  if (bundle.model) {
    parts.push(bundle.model);
  }
  if (bundle.cancelled) {
    parts.push('stopped early');
  }
  if (bundle.insert === 'none') {
    parts.push('not inserted');
  } else if (bundle.replace_source !== null) {
    parts.push('fills this cell');
  } else {
    const n = bundle.cells.length;
    parts.push(`${n} cell${n === 1 ? '' : 's'} below`);
  }
  return parts.join(' · ');
}

export class CellsRenderer extends Widget implements IRenderMime.IRenderer {
  constructor() {
    super();
    this.addClass('jp-CodegenCells');
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    this.node.textContent = '';
    const bundle = readBundle(model.data[CELLS_MIME]);
    if (bundle === null) {
      this.node.textContent = 'This jupyter-codegen output is from a newer version; update the JupyterLab extension to see it.';
      return;
    }
    const header = document.createElement('div');
    header.className = 'jp-CodegenCells-caption';
    header.textContent = caption(bundle);
    this.node.appendChild(header);
    const sources = bundle.replace_source !== null ? [bundle.replace_source] : bundle.cells.map(c => c.source);
    for (const source of sources) {
      const pre = document.createElement('pre');
      pre.className = 'jp-CodegenCells-code';
      pre.textContent = source;
      this.node.appendChild(pre);
    }
  }
}

export const rendererFactory: IRenderMime.IRendererFactory = {
  safe: true,
  mimeTypes: [CELLS_MIME],
  createRenderer: () => new CellsRenderer()
};

const extension: IRenderMime.IExtension = {
  id: 'jupyter-codegen:cells-renderer',
  rendererFactory,
  // Before markdown (60) and plain text: the same code, with what happened to it.
  rank: 10,
  dataType: 'json'
};

export default extension;
