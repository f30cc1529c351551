/**
 * The messages of jupyter_codegen/frontend_protocol.py, as TypeScript types.
 *
 * Kernel -> frontend: a `CellsBundle` under `CELLS_MIME` in a magic's output.
 * Frontend -> kernel: a comm (target `COMM_TARGET`) opened with a `Hello`, then a `Snapshot` before each magic run,
 * and `Settings` whenever the shared settings change.
 */

export const PROTOCOL_VERSION = 1;
export const COMM_TARGET = 'jupyter_codegen';
export const CELLS_MIME = 'application/vnd.jupyter-codegen.cells.v1+json';
export const CELL_METADATA_KEY = 'jupyter_codegen';
export const INSERT_CELLS = 'insert-cells';
export const REPLACE_SOURCE = 'replace-source';

export type Insert = 'frontend' | 'kernel' | 'none';
export type GenerationKind = 'codegen' | 'infill';

export interface INewCell {
  cell_type: 'code';
  source: string;
}

export interface ICellsBundle {
  version: 1;
  generation_id: string;
  kind: GenerationKind;
  source_cell_id: string | null;
  cells: INewCell[];
  replace_source: string | null;
  fills: string[];
  marker: string | null;
  insert: Insert;
  cancelled: boolean;
  model: string;
}

/** The settings the magics share with the chat; null gives the kernel its own CodeGen value. */
export interface ISettingsMessage {
  type: 'settings';
  model: string | null;
  temperature: number | null;
  max_new_tokens: number | null;
}

export interface IHello {
  type: 'hello';
  protocol: number;
  frontend: string;
  capabilities: string[];
  settings: ISettingsMessage;
}

export interface ISnapshotOutput {
  output_type: string;
  name?: string | null;
  text?: string | null;
  data?: { [mime: string]: string };
  ename?: string | null;
  evalue?: string | null;
}

export interface ISnapshotCell {
  id: string | null;
  cell_type: 'code' | 'markdown' | 'raw';
  source: string;
  execution_count: number | null;
  outputs: ISnapshotOutput[];
}

export interface ISnapshot {
  type: 'snapshot';
  protocol: number;
  notebook_path: string | null;
  cell_id: string | null;
  cell_index: number | null;
  cells: ISnapshotCell[];
}

export interface IWelcome {
  type: 'welcome';
  protocol: number;
  version: string;
  cells_mime: string;
  notebook_key: string | null;
}

export interface ICommError {
  type: 'error';
  message: string;
}

/** The kernel's variables summary, answering a `variables_request` with the same id. */
export interface IVariables {
  type: 'variables';
  id: string;
  summary: string;
}

export type KernelMessage = IWelcome | ICommError | IVariables;

/** What the extension writes under `CELL_METADATA_KEY` on each cell it inserts. */
// A type (not an interface) so that it is assignable to a JSON value.
export type IGeneratedCellMetadata = {
  generation_id: string;
  source_cell_id: string;
  /** `chat`: inserted from a sidebar chat answer (its generation_id is the chat request's id). */
  kind: GenerationKind | 'chat';
  /** Hash of the source as inserted: a cell whose source no longer matches was edited by the user. */
  inserted_hash: string;
};

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

/** The bundle in `value`, or null when it is not one this version understands (then the output is only shown). */
export function readBundle(value: unknown): ICellsBundle | null {
  if (value === null || typeof value !== 'object') {
    return null;
  }
  const raw = value as { [key: string]: unknown };
  const insert = raw.insert;
  const kind = raw.kind;
  if (
    raw.version !== 1 ||
    !isString(raw.generation_id) ||
    (kind !== 'codegen' && kind !== 'infill') ||
    (insert !== 'frontend' && insert !== 'kernel' && insert !== 'none')
  ) {
    return null;
  }
  const cells = Array.isArray(raw.cells) ? raw.cells : [];
  return {
    version: 1,
    generation_id: raw.generation_id,
    kind,
    source_cell_id: isString(raw.source_cell_id) ? raw.source_cell_id : null,
    cells: cells
      .filter(cell => cell && isString((cell as { source?: unknown }).source))
      .map(cell => ({ cell_type: 'code', source: (cell as INewCell).source })),
    replace_source: isString(raw.replace_source) ? raw.replace_source : null,
    fills: Array.isArray(raw.fills) ? raw.fills.filter(isString) : [],
    marker: isString(raw.marker) ? raw.marker : null,
    insert,
    cancelled: raw.cancelled === true,
    model: isString(raw.model) ? raw.model : ''
  };
}

/** Whether a cell's source is a `%%codegen` or `%%infill` cell (a cell magic must be its first line). */
export function isMagicSource(source: string): boolean {
  return /^\s*%%(codegen|infill)\b/.test(source);
}
