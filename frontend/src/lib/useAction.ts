import { useState } from 'preact/hooks';
import { ApiError } from '../api/client';
import { errorMessage } from './errors';
import { signedIn } from './session';

/**
 * Runs one user action at a time and keeps its error message for display. Resolves to whether it
 * succeeded. A session that ended meanwhile (401 auth.required) sends the person to sign in.
 */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  async function run(action: () => Promise<void>): Promise<boolean> {
    if (busy) return false;
    setBusy(true);
    setError('');
    try {
      await action();
      return true;
    } catch (failure) {
      if (failure instanceof ApiError && failure.code === 'auth.required') signedIn(null);
      setError(errorMessage(failure));
      return false;
    } finally {
      setBusy(false);
    }
  }
  return { busy, error, run };
}
