import { createStore } from './store';

/**
 * Whether the server is reachable. `navigator.onLine` alone is not enough (it reads true again after a
 * reload served by the service worker), so a failed API call also sets it to false, and a successful
 * one back to true.
 */
export const online = createStore<boolean>(typeof navigator === 'undefined' ? true : navigator.onLine);

export function watchNetwork(): void {
  window.addEventListener('online', () => online.set(true));
  window.addEventListener('offline', () => online.set(false));
}
