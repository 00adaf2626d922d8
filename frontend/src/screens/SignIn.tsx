import { useEffect, useState } from 'preact/hooks';
import { api } from '../api/client';
import type { RequestOptions, SignedIn } from '../api/types';
import { getPasskey, passkeysSupported } from '../api/webauthn';
import { Alert } from '../components/Alert';
import { CodeField } from '../components/CodeField';
import { t } from '../i18n';
import { flash } from '../lib/flash';
import { formatNumber } from '../lib/format';
import { me, signedIn } from '../lib/session';
import { useStore } from '../lib/store';
import { useAction } from '../lib/useAction';
import { navigate, type ScreenProps } from '../router';

type Mode = 'passkey' | 'totp' | 'recovery';

/** Only same-site paths: `next` comes from the address bar. */
function safeNext(query: URLSearchParams): string {
  const next = query.get('next') ?? '/';
  return next.startsWith('/') && !next.startsWith('//') ? next : '/';
}

export default function SignIn({ query }: ScreenProps) {
  const person = useStore(me);
  const [mode, setMode] = useState<Mode>(passkeysSupported() ? 'passkey' : 'totp');
  const action = useAction();
  const next = safeNext(query);

  useEffect(() => {
    if (person) navigate(next, { replace: true });
  }, [person, next]);

  const withPasskey = () =>
    action.run(async () => {
      const { publicKey } = await api<RequestOptions>('POST', '/auth/passkey/options');
      const credential = await getPasskey(publicKey);
      signedIn((await api<SignedIn>('POST', '/auth/passkey', { credential })).person);
    });

  return (
    <div class="stack">
      <h1>{t('title.signin')}</h1>
      {mode === 'passkey' ? (
        <div class="card stack">
          <p>{t('signin.intro')}</p>
          <button type="button" class="button button-large" disabled={action.busy} onClick={() => void withPasskey()}>
            {t('signin.passkey')}
          </button>
          <Alert kind="notice">{action.busy && t('signin.working')}</Alert>
          <Alert>{action.error}</Alert>
        </div>
      ) : (
        <CodeSignIn key={mode} mode={mode} />
      )}
      <section class="stack" aria-labelledby="other-ways">
        <h2 id="other-ways" class="h3">
          {t('signin.other')}
        </h2>
        <ul class="plain-list">
          {mode !== 'passkey' && passkeysSupported() && (
            <li>
              <button type="button" class="link-button" onClick={() => setMode('passkey')}>
                {t('signin.passkey')}
              </button>
            </li>
          )}
          {mode !== 'totp' && (
            <li>
              <button type="button" class="link-button" onClick={() => setMode('totp')}>
                {t('signin.useTotp')}
              </button>
            </li>
          )}
          {mode !== 'recovery' && (
            <li>
              <button type="button" class="link-button" onClick={() => setMode('recovery')}>
                {t('signin.useRecovery')}
              </button>
            </li>
          )}
        </ul>
      </section>
    </div>
  );
}

/** Username + a TOTP code, or username + a recovery code. */
function CodeSignIn({ mode }: { mode: 'totp' | 'recovery' }) {
  const [username, setUsername] = useState('');
  const [code, setCode] = useState('');
  const action = useAction();
  const ready = username.trim() !== '' && (mode === 'totp' ? code.length === 6 : code.trim() !== '');

  const submit = (event: Event) => {
    event.preventDefault();
    void action.run(async () => {
      const result = await api<SignedIn>('POST', mode === 'totp' ? '/auth/totp' : '/auth/recovery', {
        username: username.trim(),
        code: code.trim(),
      });
      signedIn(result.person);
      if (result.remaining_recovery_codes !== undefined) {
        flash.set(t('signin.recoveryLeft', { count: formatNumber(result.remaining_recovery_codes) }));
        navigate('/settings/devices', { replace: true });
      }
    });
  };

  return (
    <form class="card stack" onSubmit={submit} noValidate>
      <h2 class="h3">{mode === 'totp' ? t('signin.useTotp') : t('signin.useRecovery')}</h2>
      <div class="field">
        <label for="username">{t('signin.username')}</label>
        <input
          id="username"
          name="username"
          autoComplete="username"
          autoCapitalize="none"
          spellcheck={false}
          required
          value={username}
          onInput={(event) => setUsername(event.currentTarget.value)}
        />
      </div>
      {mode === 'totp' ? (
        <CodeField id="signin-code" label={t('signin.totpCode')} value={code} onInput={setCode} />
      ) : (
        <div class="field">
          <label for="recovery-code">{t('signin.recoveryCode')}</label>
          <input
            id="recovery-code"
            name="recovery-code"
            autoComplete="off"
            autoCapitalize="none"
            spellcheck={false}
            required
            value={code}
            onInput={(event) => setCode(event.currentTarget.value)}
          />
        </div>
      )}
      <Alert>{action.error}</Alert>
      <button type="submit" class="button" disabled={action.busy || !ready}>
        {t('signin.submit')}
      </button>
    </form>
  );
}
