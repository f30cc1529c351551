/** The extension's settings (schema/plugin.json), read through JupyterLab's settings system. */
import { ISettingRegistry } from '@jupyterlab/settingregistry';

export const PLUGIN_ID = 'jupyter-codegen:plugin';

export interface ICodegenSettings {
  /** The model the magics and the chat use; empty means the kernel's `CodeGen.model`. */
  model: string;
  /** Sampling temperature; null means the kernel's default. */
  temperature: number | null;
  /** Most tokens in one answer; null means the kernel's default. */
  maxTokens: number | null;
  /** Whether generated code is inserted as new cells (else it is only shown in the output). */
  insert: boolean;
}

export const DEFAULT_SETTINGS: ICodegenSettings = { model: '', temperature: null, maxTokens: null, insert: true };

export function readSettings(settings: ISettingRegistry.ISettings): ICodegenSettings {
  const get = (key: string): unknown => settings.get(key).composite;
  const model = get('model');
  const temperature = get('temperature');
  const maxTokens = get('maxTokens');
  const insert = get('insert');
  return {
    model: typeof model === 'string' ? model : DEFAULT_SETTINGS.model,
    temperature: typeof temperature === 'number' ? temperature : null,
    maxTokens: typeof maxTokens === 'number' ? maxTokens : null,
    insert: typeof insert === 'boolean' ? insert : DEFAULT_SETTINGS.insert
  };
}

/** Calls `apply` with the settings now and whenever they change; with the defaults when they cannot be read. */
export async function watchSettings(
  registry: ISettingRegistry | null,
  apply: (settings: ICodegenSettings) => void
): Promise<void> {
  apply(DEFAULT_SETTINGS);
  if (registry === null) {
    return;
  }
  try {
    const settings = await registry.load(PLUGIN_ID);
    apply(readSettings(settings));
    settings.changed.connect(() => apply(readSettings(settings)));
  } catch (error) {
    console.warn('jupyter-codegen could not read its settings and uses the defaults.', error);
  }
}
