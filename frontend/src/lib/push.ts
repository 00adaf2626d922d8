import { api } from '../api/client';
import { fromBase64Url } from '../api/webauthn';
import { lang } from '../i18n';

/** Web Push opt-in: the browser subscribes with Signet's VAPID key; the server keeps the subscription. */
export const pushSupported = (): boolean =>
  typeof navigator !== 'undefined' && 'serviceWorker' in navigator && typeof PushManager !== 'undefined' && typeof Notification !== 'undefined';

async function registration(): Promise<ServiceWorkerRegistration> {
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('sw')), 10_000));
  return Promise.race([navigator.serviceWorker.ready, timeout]);
}

export async function currentSubscription(): Promise<PushSubscription | null> {
  if (!pushSupported()) return null;
  const existing = await navigator.serviceWorker.getRegistration();
  return existing ? existing.pushManager.getSubscription() : null;
}

export class PushDenied extends Error {}

export async function subscribe(): Promise<void> {
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') throw new PushDenied('denied');
  const reg = await registration();
  const { public_key } = await api<{ public_key: string }>('GET', '/push/vapid-key');
  const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: fromBase64Url(public_key) });
  await api('POST', '/push/subscriptions', { ...sub.toJSON(), lang: lang.get() });
}

export async function unsubscribe(): Promise<void> {
  const sub = await currentSubscription();
  if (!sub) return;
  await api('DELETE', '/push/subscriptions', { endpoint: sub.endpoint });
  await sub.unsubscribe();
}
