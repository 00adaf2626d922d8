import type { ApiErrorBody } from './types';
import { online } from '../lib/network';

export const API = '/api/v1';
const CSRF_COOKIE = 'signet_csrf';
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The server answered with an error: `{code, status, error, message}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The request never reached the server (offline, DNS, captive portal …). */
export class NetworkError extends Error {
  constructor() {
    super('network');
    this.name = 'NetworkError';
  }
}

export function readCookie(name: string, cookies: string = document.cookie): string | null {
  for (const part of cookies.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return decodeURIComponent(rest.join('='));
  }
  return null;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (!SAFE.has(method)) {
    const token = readCookie(CSRF_COOKIE);
    if (token) headers['X-CSRF-Token'] = token;
  }
  let response: Response;
  try {
    response = await fetch(API + path, {
      method,
      headers,
      credentials: 'same-origin',
      cache: 'no-store',
      body: body === undefined ? null : JSON.stringify(body),
    });
  } catch {
    online.set(false);
    throw new NetworkError();
  }
  online.set(response.headers.get('X-Signet-From-Cache') !== '1'); // the service worker answered offline
  if (response.status === 204) return undefined as T;
  const data: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (data ?? {}) as Partial<ApiErrorBody>;
    throw new ApiError(response.status, error.code ?? 'error', error.message ?? response.statusText);
  }
  return data as T;
}

/** A multipart upload (files): the same CSRF and error handling as `api`. */
export async function apiForm<T>(path: string, form: FormData): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  const token = readCookie(CSRF_COOKIE);
  if (token) headers['X-CSRF-Token'] = token;
  let response: Response;
  try {
    response = await fetch(API + path, { method: 'POST', headers, credentials: 'same-origin', body: form });
  } catch {
    online.set(false);
    throw new NetworkError();
  }
  online.set(true);
  const data: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (data ?? {}) as Partial<ApiErrorBody>;
    throw new ApiError(response.status, error.code ?? 'error', error.message ?? response.statusText);
  }
  return data as T;
}
