import { api, ApiError, NetworkError } from '../api/client';
import type { Me } from '../api/types';
import { createStore } from './store';

/** `undefined` until the first /me answer; `null` when signed out. */
export const me = createStore<Me | null | undefined>(undefined);

const PREVIEW_CACHE = 'signet-document-pages';
const REMEMBERED = 'signet.me'; // last known profile, so the app shell still greets the person offline

function remembered(): Me | null {
  try {
    const text = localStorage.getItem(REMEMBERED);
    return text ? (JSON.parse(text) as Me) : null;
  } catch {
    return null;
  }
}

export function signedIn(person: Me | null): void {
  try {
    if (person) {
      const { csrf_token: _csrf, ...profile } = person;
      localStorage.setItem(REMEMBERED, JSON.stringify(profile));
    } else localStorage.removeItem(REMEMBERED);
  } catch {
    // storage unavailable: offline greeting is a nicety
  }
  me.set(person);
}

export async function loadMe(): Promise<void> {
  try {
    signedIn(await api<Me>('GET', '/me'));
  } catch (error) {
    if (error instanceof NetworkError) me.set(remembered());
    else if (error instanceof ApiError && error.status === 401) signedIn(null);
    else me.set(null);
  }
}

export async function signOut(): Promise<void> {
  await api<void>('POST', '/auth/logout');
  signedIn(null);
  // document previews of this person must not stay on a shared phone
  if ('caches' in window) await caches.delete(PREVIEW_CACHE);
}
