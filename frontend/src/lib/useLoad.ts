import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api/client';
import { errorMessage } from './errors';
import { signedIn } from './session';

/** Loads data for a screen; `reload()` fetches again. `error` is already in the person's words. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[] = []) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState('');
  const [round, setRound] = useState(0);
  useEffect(() => {
    let live = true;
    setError('');
    load().then(
      (value) => live && setData(() => value),
      (failure: unknown) => {
        if (!live) return;
        if (failure instanceof ApiError && failure.code === 'auth.required') signedIn(null);
        setError(errorMessage(failure));
      },
    );
    return () => {
      live = false;
    };
  }, [...deps, round]);
  return { data, error, reload: () => setRound((r) => r + 1), setData };
}
