/** Shows which cells jupyter-codegen wrote: a class on every cell whose metadata carries its mark. */
import { Notebook } from '@jupyterlab/notebook';

import { CELL_METADATA_KEY } from './protocol';

export const GENERATED_CLASS = 'jp-CodegenGenerated';

export function markGeneratedCells(notebook: Notebook): void {
  for (const cell of notebook.widgets) {
    const mark = cell.model.getMetadata(CELL_METADATA_KEY);
    cell.toggleClass(GENERATED_CLASS, mark !== null && typeof mark === 'object');
  }
}

/** Keeps the marks up to date as the notebook changes (at most once per frame). */
export function watchGeneratedCells(notebook: Notebook): void {
  let pending = false;
  const update = (): void => {
    if (pending) {
      return;
    }
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      if (!notebook.isDisposed) {
        markGeneratedCells(notebook);
      }
    });
  };
  notebook.modelContentChanged.connect(update);
  update();
}
