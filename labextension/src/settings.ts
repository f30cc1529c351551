/** The extension's settings (schema/plugin.json), read through JupyterLab's settings system. */
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { ISettingsMessage } from './protocol';
import { IModelChoice, IOptions } from './service';

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

/** The settings as the kernel's comm message: what the magics' traits take. */
export function settingsMessage(settings: ICodegenSettings): ISettingsMessage {
  return {
    type: 'settings',
    model: settings.model.trim() || null,
    temperature: settings.temperature,
    max_new_tokens: settings.maxTokens
  };
}

/** The model of a chat or fill request: empty leaves the server's CodeGen.model. */
export function modelChoice(settings: ICodegenSettings): IModelChoice {
  const model = settings.model.trim();
  return model ? { model } : {};
}

/** The options of a chat or fill request: only what the user set, the rest is the server's CodeGen settings. */
export function requestOptions(settings: ICodegenSettings): IOptions | null {
  const options: IOptions = {};
  if (settings.temperature !== null) {
    options.temperature = settings.temperature;
  }
  if (settings.maxTokens !== null) {
    options.max_new_tokens = settings.maxTokens;
  }
  return Object.keys(options).length > 0 ? options : null;
}
