import { ApiError, NetworkError } from '../api/client';
import { hasMessage, t } from '../i18n';

/** What to tell the person about a failure: our own words for known codes, else the server's message. */
export function errorMessage(error: unknown): string {
  if (error instanceof NetworkError) return t('error.network');
  if (error instanceof ApiError) {
    const key = `error.${error.code}`;
    if (hasMessage(key)) return t(key);
    return error.message || t('error.generic');
  }
  if (error instanceof DOMException) {
    if (error.name === 'InvalidStateError') return t('error.passkey.exists');
    if (error.name === 'NotSupportedError') return t('error.passkey.unsupported');
    return t('error.passkey.cancelled'); // NotAllowedError, AbortError, TimeoutError …
  }
  return t('error.generic');
}
