import vi from './vi.json';
import { createStore, useStore } from '../lib/store';

export type Lang = 'vi' | 'en';
export type MessageKey = keyof typeof vi;
export type Messages = Record<MessageKey, string>;
export type Params = Record<string, string | number>;

export const LANGS: readonly Lang[] = ['vi', 'en'];
const STORAGE_KEY = 'signet.lang';
const LOCALES: Record<Lang, string> = { vi: 'vi-VN', en: 'en-GB' }; // en-GB keeps dd/MM/yyyy

const catalogs: Partial<Record<Lang, Messages>> = { vi };
let current: Messages = vi;
export const lang = createStore<Lang>('vi');

/** Replaces `{name}` placeholders; a missing parameter stays visible rather than vanishing. */
export function interpolate(template: string, params: Params = {}): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

export function t(key: MessageKey, params?: Params): string {
  return interpolate(current[key], params);
}

export function hasMessage(key: string): key is MessageKey {
  return key in current;
}

export function locale(): string {
  return LOCALES[lang.get()];
}

async function load(code: Lang): Promise<Messages> {
  const found = catalogs[code];
  if (found) return found;
  const messages: Messages = (await import('./en.json')).default;
  catalogs[code] = messages;
  return messages;
}

export async function setLanguage(code: Lang): Promise<void> {
  current = await load(code);
  document.documentElement.lang = code;
  try {
    localStorage.setItem(STORAGE_KEY, code);
  } catch {
    // private mode: the choice lasts for this visit only
  }
  lang.set(code);
}

/** Vietnamese unless the person chose English before on this device. */
export async function initLanguage(): Promise<void> {
  let saved: string | null = null;
  try {
    saved = localStorage.getItem(STORAGE_KEY);
  } catch {
    saved = null;
  }
  await setLanguage(saved === 'en' ? 'en' : 'vi');
}

export function useLang(): Lang {
  return useStore(lang);
}
