import { createStore } from './store';

/** A one-off notice for the next screen (e.g. "you have 9 recovery codes left"). */
export const flash = createStore<string>('');

export function takeFlash(): string {
  const message = flash.get();
  flash.set('');
  return message;
}
