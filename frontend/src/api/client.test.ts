import { afterEach, describe, expect, it, vi } from 'vitest';
import { api, ApiError, NetworkError, readCookie } from './client';
import { online } from '../lib/network';

function stubFetch(response: Response | Error) {
  const fetch = vi.fn(() => (response instanceof Error ? Promise.reject(response) : Promise.resolve(response)));
  vi.stubGlobal('fetch', fetch);
  vi.stubGlobal('document', { cookie: 'theme=dark; signet_csrf=tok%3D1; other=x' });
  return fetch;
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

afterEach(() => {
  vi.unstubAllGlobals();
  online.set(true);
});

describe('api', () => {
  it('reads one cookie', () => {
    expect(readCookie('signet_csrf', 'a=1; signet_csrf=abc; b=2')).toBe('abc');
    expect(readCookie('missing', 'a=1')).toBeNull();
  });

  it('sends the CSRF token on unsafe requests only, with same-origin credentials', async () => {
    const fetch = stubFetch(json({ ok: true }));
    await api('POST', '/auth/logout', {});
    await api('GET', '/me');
    const [post, get] = fetch.mock.calls as unknown as [string, RequestInit][];
    expect(post[0]).toBe('/api/v1/auth/logout');
    expect(post[1].credentials).toBe('same-origin');
    expect((post[1].headers as Record<string, string>)['X-CSRF-Token']).toBe('tok=1');
    expect((get[1].headers as Record<string, string>)['X-CSRF-Token']).toBeUndefined();
  });

  it('turns the error payload into an ApiError', async () => {
    stubFetch(json({ code: 'invitation.expired', status: 410, error: 'Gone', message: 'Expired.' }, 410));
    const error = await api('GET', '/invitations/x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 410, code: 'invitation.expired', message: 'Expired.' });
  });

  it('marks the app offline when the request cannot leave the phone', async () => {
    stubFetch(new TypeError('Failed to fetch'));
    await expect(api('POST', '/auth/totp', {})).rejects.toBeInstanceOf(NetworkError);
    expect(online.get()).toBe(false);
  });
});
