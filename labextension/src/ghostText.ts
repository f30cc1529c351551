/**
 * Ghost-text completion: an inline completion provider (JupyterLab 4's inline completer) that fills in at the
 * cursor with the cell's text on both sides and the notebook around it, through the server's shared model. Each
 * new keystroke cancels the request before it on the server (request ids), so the model never works on stale text
 * and typing never waits. A suggestion is not a turn of the conversation until the user keeps it.
 */
import {
  CompletionHandler,
  IInlineCompletionContext,
  IInlineCompletionItem,
  IInlineCompletionList,
  IInlineCompletionProvider,
  InlineCompletionTriggerKind
} from '@jupyterlab/completer';
import { NotebookPanel } from '@jupyterlab/notebook';

import { codegenIcon } from './icon';
import { ModelService, requestId } from './service';
import { ICodegenSettings, modelChoice } from './settings';
import { takeSnapshot } from './snapshot';

export const GHOST_PROVIDER_ID = 'jupyter-codegen:ghost-text';

const EMPTY: IInlineCompletionList = { items: [] };

/** Most tokens of one suggestion: a few lines, so it comes back while the user still looks at the cursor. */
export const GHOST_MAX_TOKENS = 48;

export class GhostTextProvider implements IInlineCompletionProvider {
  readonly name = 'jupyter-codegen';
  readonly identifier = GHOST_PROVIDER_ID;
  readonly icon = codegenIcon;
  readonly schema = {
    default: { enabled: true, debouncerDelay: 250, timeout: 15000, autoFillInMiddle: true }
  };

  constructor(
    private readonly service: ModelService,
    private readonly settings: () => ICodegenSettings,
    private readonly ranInKernel: (panel: NotebookPanel, cellId: string) => boolean,
    /** The notebook's variables summary as of its last run cell (kept fresh by the caller; typing never waits). */
    private readonly variables: (panel: NotebookPanel) => string | null
  ) {}

  async fetch(request: CompletionHandler.IRequest, context: IInlineCompletionContext): Promise<IInlineCompletionList> {
    const panel = context.widget instanceof NotebookPanel ? context.widget : null;
    const before = request.text.slice(0, request.offset);
    const after = request.text.slice(request.offset);
    if (panel === null || (context.triggerKind === InlineCompletionTriggerKind.Automatic && !before.trim())) {
      return EMPTY;
    }
    this._cancelPending();
    const id = requestId('ghost');
    const cellId = panel.content.activeCell?.model.id ?? null;
    const snapshot = takeSnapshot(panel.content, cellId, panel.context.path, cell => this.ranInKernel(panel, cell));
    const settings = this.settings();
    const maxTokens = Math.min(settings.maxTokens ?? GHOST_MAX_TOKENS, GHOST_MAX_TOKENS);
    const temperature = settings.temperature;
    return new Promise<IInlineCompletionList>(resolve => {
      this._pending = { id, resolve };
      this.service.fill(
        {
          type: 'fill', id, path: panel.context.path, before, after, snapshot, variables: this.variables(panel),
          model: modelChoice(settings),
          options: temperature === null ? { max_new_tokens: maxTokens } : { max_new_tokens: maxTokens, temperature },
          record: false
        },
        {
          done: result => {
            this._settle(id);
            const text = result.fill.replace(/\s+$/, '');
            if (result.cancelled || !text.trim()) {
              resolve(EMPTY);
              return;
            }
            const item: IInlineCompletionItem = { insertText: text };
            resolve({ items: [item] });
          },
          failed: message => {
            this._settle(id);
            console.warn(`jupyter-codegen ghost text: ${message}`);
            resolve(EMPTY);
          }
        }
      );
    });
  }

  /** The request still running is stale now: the server drops it and its late answer is ignored here. */
  private _cancelPending(): void {
    const pending = this._pending;
    if (pending !== null) {
      this._pending = null;
      this.service.cancel(pending.id);
      this.service.forget(pending.id);
      pending.resolve(EMPTY);
    }
  }

  private _settle(id: string): void {
    if (this._pending?.id === id) {
      this._pending = null;
    }
  }

  private _pending: { id: string; resolve: (list: IInlineCompletionList) => void } | null = null;
}
