import { useEffect, useState } from 'preact/hooks';
import { api } from '../api/client';
import type { CreationOptions, Passkey, Session } from '../api/types';
import { createPasskey, deviceLabel } from '../api/webauthn';
import { Alert } from '../components/Alert';
import { PushOptIn } from '../components/PushOptIn';
import { LANGS, setLanguage, t, useLang } from '../i18n';
import { takeFlash } from '../lib/flash';
import { formatDate, formatDateTime } from '../lib/format';
import { loadMe, me, signOut } from '../lib/session';
import { useStore } from '../lib/store';
import { useAction } from '../lib/useAction';
import { navigate } from '../router';

/** Where the last action's outcome is shown: next to the control that was used (phones scroll). */
type Place = 'top' | 'passkeys' | 'sessions' | 'signout';

/** My passkeys, my sessions, language, sign out. */
export default function Devices() {
  const person = useStore(me);
  const [passkeys, setPasskeys] = useState<Passkey[] | null>(null);
  const [sessions, setSessions] = useState<Session[] | null>(null);
  const [notice, setNotice] = useState(takeFlash);
  const [place, setPlace] = useState<Place>('top');
  const action = useAction();
  const outcome = (here: Place) =>
    place === here && (
      <>
        <Alert kind="notice">{notice}</Alert>
        <Alert>{action.error}</Alert>
      </>
    );

  async function loadLists(): Promise<void> {
    const [keys, active] = await Promise.all([
      api<Passkey[]>('GET', '/me/passkeys'),
      api<Session[]>('GET', '/me/sessions'),
    ]);
    setPasskeys(keys);
    setSessions(active);
  }

  useEffect(() => {
    void action.run(loadLists);
  }, []);

  /** Runs a change, then reloads the lists and the profile (factor counts) and says what happened. */
  const change = (where: Place, work: () => Promise<unknown>, done: string) => {
    setPlace(where);
    return action.run(async () => {
      setNotice('');
      await work();
      await Promise.all([loadLists(), loadMe()]);
      setNotice(done);
    });
  };

  const addPasskey = () =>
    change('passkeys', async () => {
      const { publicKey } = await api<CreationOptions>('POST', '/me/passkeys/options');
      const credential = await createPasskey(publicKey);
      await api('POST', '/me/passkeys', { credential, name: deviceLabel(navigator.userAgent) || t('devices.unknownDevice') });
    }, t('devices.added'));

  const leave = () => {
    setPlace('signout');
    return action.run(async () => {
      await signOut();
      navigate('/signin', { replace: true });
    });
  };

  return (
    <div class="stack">
      <h1>{t('title.devices')}</h1>
      {outcome('top')}

      <section class="card stack" aria-labelledby="passkeys-heading">
        <h2 id="passkeys-heading">{t('devices.passkeys')}</h2>
        {passkeys === null && <p class="muted">{t('app.loading')}</p>}
        {passkeys?.length === 0 && <p>{t('devices.passkeysEmpty')}</p>}
        {passkeys && passkeys.length > 0 && (
          <ul class="item-list">
            {passkeys.map((key) => (
              <PasskeyItem
                key={key.id}
                passkey={key}
                busy={action.busy}
                onRename={(name) => change('passkeys', () => api('PATCH', `/me/passkeys/${key.id}`, { name }), t('devices.renamed'))}
                onRemove={() => change('passkeys', () => api('DELETE', `/me/passkeys/${key.id}`), t('devices.removed'))}
              />
            ))}
          </ul>
        )}
        {outcome('passkeys')}
        <button type="button" class="button button-secondary" disabled={action.busy} onClick={() => void addPasskey()}>
          {t('devices.add')}
        </button>
      </section>

      <section class="card stack" aria-labelledby="totp-status">
        <h2 id="totp-status">{t('devices.totp')}</h2>
        <p>{person?.factors.totp ? t('devices.totpOn') : t('devices.totpOff')}</p>
      </section>

      <section class="card stack" aria-labelledby="sessions-heading">
        <h2 id="sessions-heading">{t('devices.sessions')}</h2>
        {outcome('sessions')}
        {sessions === null && <p class="muted">{t('app.loading')}</p>}
        {sessions && (
          <ul class="item-list">
            {[...sessions].sort((a, b) => Number(b.current) - Number(a.current)).map((session) => (
              <li key={session.id} class="item stack-small">
                <p class="item-title">
                  {deviceLabel(session.user_agent ?? '') || t('devices.unknownDevice')}
                  {session.current && <span class="badge">{t('devices.sessionCurrent')}</span>}
                </p>
                <p class="muted">{t('devices.sessionSince', { when: formatDateTime(session.created_at) })}</p>
                <p class="muted">{t('devices.sessionSeen', { when: formatDateTime(session.last_seen_at) })}</p>
                {!session.current && (
                  <button
                    type="button"
                    class="button button-secondary button-small"
                    disabled={action.busy}
                    onClick={() => void change('sessions', () => api('DELETE', `/me/sessions/${session.id}`), t('devices.revoked'))}
                  >
                    {t('devices.revoke')}
                  </button>
                )}
              </li>
            ))}
          </ul>
        )}
      </section>

      <PushOptIn />

      <LanguageChoice />

      {outcome('signout')}
      <button type="button" class="button button-secondary" disabled={action.busy} onClick={() => void leave()}>
        {t('settings.signout')}
      </button>
    </div>
  );
}

function PasskeyItem({
  passkey,
  busy,
  onRename,
  onRemove,
}: {
  passkey: Passkey;
  busy: boolean;
  onRename: (name: string) => Promise<boolean>;
  onRemove: () => Promise<boolean>;
}) {
  const [mode, setMode] = useState<'view' | 'rename' | 'remove'>('view');
  const [name, setName] = useState(passkey.name);
  const inputId = `passkey-name-${passkey.id}`;

  const rename = (event: Event) => {
    event.preventDefault();
    void onRename(name.trim()).then((ok) => ok && setMode('view'));
  };

  return (
    <li class="item stack-small">
      <p class="item-title">
        {passkey.name}
        {passkey.backed_up && <span class="badge">{t('devices.synced')}</span>}
      </p>
      <p class="muted">{t('devices.created', { date: formatDate(passkey.created_at) })}</p>
      <p class="muted">
        {passkey.last_used_at ? t('devices.lastUsed', { when: formatDateTime(passkey.last_used_at) }) : t('devices.neverUsed')}
      </p>
      {mode === 'view' && (
        <div class="row">
          <button type="button" class="button button-secondary button-small" disabled={busy} onClick={() => setMode('rename')}>
            {t('devices.rename')}
          </button>
          <button type="button" class="button button-danger button-small" disabled={busy} onClick={() => setMode('remove')}>
            {t('devices.remove')}
          </button>
        </div>
      )}
      {mode === 'rename' && (
        <form class="stack-small" onSubmit={rename}>
          <div class="field">
            <label for={inputId}>{t('devices.name')}</label>
            <input id={inputId} required maxLength={64} value={name} onInput={(event) => setName(event.currentTarget.value)} />
          </div>
          <div class="row">
            <button type="submit" class="button button-small" disabled={busy || name.trim() === ''}>
              {t('devices.save')}
            </button>
            <button type="button" class="button button-secondary button-small" onClick={() => setMode('view')}>
              {t('devices.cancel')}
            </button>
          </div>
        </form>
      )}
      {mode === 'remove' && (
        <div class="confirm stack-small" role="group" aria-label={t('devices.remove')}>
          <p>{t('devices.removeConfirm', { name: passkey.name })}</p>
          <div class="row">
            <button type="button" class="button button-danger button-small" disabled={busy} onClick={() => void onRemove().then(() => setMode('view'))}>
              {t('devices.removeYes')}
            </button>
            <button type="button" class="button button-secondary button-small" onClick={() => setMode('view')}>
              {t('devices.cancel')}
            </button>
          </div>
        </div>
      )}
    </li>
  );
}

function LanguageChoice() {
  const current = useLang();
  return (
    <fieldset class="card stack-small">
      <legend>{t('settings.language')}</legend>
      {LANGS.map((code) => (
        <label key={code} class="check" lang={code}>
          <input
            type="radio"
            name="language"
            value={code}
            checked={current === code}
            onChange={() => void setLanguage(code)}
          />
          <span>{t(`lang.${code}`)}</span>
        </label>
      ))}
    </fieldset>
  );
}
