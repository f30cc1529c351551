/**
 * Inserting a bundle's cells once its magic cell has run (never on render, so re-opening a saved notebook inserts
 * nothing): below the magic cell, or as the new source of an `%%infill` cell; one undo step; marked in the cells'
 * metadata so that a re-run replaces its own earlier, unedited cells instead of piling up more.
 */
import { ICodeCellModel } from '@jupyterlab/cells';
import { Notebook } from '@jupyterlab/notebook';

import { endUndoStep } from './edits';
import { sourceHash } from './hash';
import { CELLS_MIME, CELL_METADATA_KEY, ICellsBundle, IGeneratedCellMetadata, readBundle } from './protocol';

/** The last cells bundle in a code cell's outputs (the final display of a magic run), if any. */
export function bundleOf(model: ICodeCellModel): ICellsBundle | null {
  for (let i = model.outputs.length - 1; i >= 0; i--) {
    const data = model.outputs.get(i).data;
    if (CELLS_MIME in data) {
      return readBundle(data[CELLS_MIME]);
    }
  }
  return null;
}

function generatedMetadata(value: unknown): IGeneratedCellMetadata | null {
  if (value === null || typeof value !== 'object') {
    return null;
  }
  const meta = value as Partial<IGeneratedCellMetadata>;
  return typeof meta.generation_id === 'string' && typeof meta.source_cell_id === 'string' ? (meta as IGeneratedCellMetadata) : null;
}


export class CellInserter {
  /** Whether to insert at all (the `insert` setting); the code stays visible in the output either way. */
  enabled = true;

  /**
   * Inserts what the magic cell `cellId` of `notebook` generated, if its output asks the frontend to and this
   * generation was not handled before. Returns the number of cells inserted or replaced.
   */
  handleExecuted(notebook: Notebook, cellId: string): number {
    const shared = notebook.model?.sharedModel;
    const widget = notebook.widgets.find(w => w.model.id === cellId);
    if (!shared || !widget || widget.model.type !== 'code') {
      return 0;
    }
    const bundle = bundleOf(widget.model as ICodeCellModel);
    if (bundle === null || bundle.insert !== 'frontend' || this._handled.has(bundle.generation_id)) {
      return 0;
    }
    this._handled.add(bundle.generation_id);
    if (!this.enabled) {
      return 0;
    }
    const cells = shared.cells;
    if (cells.some(c => generatedMetadata(c.getMetadata(CELL_METADATA_KEY))?.generation_id === bundle.generation_id)) {
      return 0; // Already in the notebook (inserted by another view of the same document).
    }
    const index = cells.findIndex(c => c.getId() === cellId);
    if (index < 0) {
      return 0;
    }
    const sourceCellId = bundle.source_cell_id ?? cellId;
    const mark = (source: string): IGeneratedCellMetadata => ({
      generation_id: bundle.generation_id,
      source_cell_id: sourceCellId,
      kind: bundle.kind,
      inserted_hash: sourceHash(source)
    });

    endUndoStep(shared);
    let changed = 0;
    if (bundle.replace_source !== null) {
      const source = bundle.replace_source;
      shared.transact(() => {
        cells[index].setSource(source);
        cells[index].setMetadata(CELL_METADATA_KEY, mark(source));
      });
      changed = 1;
    } else if (bundle.cells.length > 0) {
      // Earlier cells of the same magic cell that the user has not edited since: this run replaces them.
      const stale: number[] = [];
      cells.forEach((c, i) => {
        const meta = generatedMetadata(c.getMetadata(CELL_METADATA_KEY));
        if (i !== index && meta?.source_cell_id === sourceCellId && meta.inserted_hash === sourceHash(c.getSource())) {
          stale.push(i);
        }
      });
      shared.transact(() => {
        for (const i of stale.reverse()) {
          shared.deleteCell(i);
        }
        const at = shared.cells.findIndex(c => c.getId() === cellId) + 1;
        shared.insertCells(
          at,
          bundle.cells.map(cell => ({
            cell_type: 'code' as const,
            source: cell.source,
            metadata: { [CELL_METADATA_KEY]: { ...mark(cell.source) } }
          }))
        );
      });
      changed = bundle.cells.length;
    }
    endUndoStep(shared);
    return changed;
  }

  private readonly _handled = new Set<string>();
}
