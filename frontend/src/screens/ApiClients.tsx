import { useState } from 'preact/hooks';
import { api } from '../api/client';
import type { ApiClient } from '../api/types';
import { Alert } from '../components/Alert';
import { t } from '../i18n';
import { formatDate, formatDateTime } from '../lib/format';
import { useAction } from '../lib/useAction';
import { useLoad } from '../lib/useLoad';

const SCOPES = ['documents:write', 'documents:read', 'signing:read'] as const;

/** The school information system's API clients; a new client's secret is shown once. */
export default function ApiClients() {
  const loaded = useLoad(() => api<ApiClient[]>('GET', '/api-clients'));
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<string[]>(["documents:write", "documents:read"]);
  const [created, setCreated] = useState<ApiClient | null>(null);
  const action = useAction();

  const create = (event: Event) => {
    event.preventDefault();
    void action.run(async () => {
      setCreated(await api<ApiClient>('POST', '/api-clients', { name: name.trim(), scopes }));
      setName('');
      loaded.reload();
    });
  };
  const revoke = (id: string) =>
    void action.run(async () => {
      await api('DELETE', `/api-clients/${id}`);
      loaded.reload();
    });

  return (
    <div class="stack wide">
      <h1>{t('title.apiClients')}</h1>
      <Alert>{loaded.error || action.error}</Alert>
      {created?.client_secret && (
        <section class="card stack-small secret-box" aria-labelledby="secret-heading">
          <h2 id="secret-heading" class="h3">
            {t('clients.secretOnce')}
          </h2>
          <p>
            {t('clients.clientId')} <code class="secret">{created.client_id}</code>
          </p>
          <p>
            {t('clients.secret')} <code class="secret">{created.client_secret}</code>
          </p>
        </section>
      )}
      <form class="card stack-small" onSubmit={create}>
        <h2 class="h3">{t('clients.new')}</h2>
        <div class="field">
          <label for="client-name">{t('clients.name')}</label>
          <input id="client-name" required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </div>
        <fieldset class="stack-small">
          <legend class="h3">{t('clients.scopes')}</legend>
          {SCOPES.map((s) => (
            <label key={s} class="check">
              <input type="checkbox" checked={scopes.includes(s)} onChange={() => setScopes(scopes.includes(s) ? scopes.filter((x) => x !== s) : [...scopes, s])} />
              <span>
                {t(`scope.${s}`)} <code>{s}</code>
              </span>
            </label>
          ))}
        </fieldset>
        <button type="submit" class="button" disabled={action.busy || !name.trim() || scopes.length === 0}>
          {t('clients.create')}
        </button>
      </form>
      <section class="card stack-small" aria-labelledby="clients-heading">
        <h2 id="clients-heading" class="h3">
          {t('clients.list')}
        </h2>
        {loaded.data?.length === 0 && <p class="muted">{t('clients.none')}</p>}
        <ul class="item-list">
          {loaded.data?.map((c) => (
            <li key={c.id} class="item stack-small">
              <p class="item-title">
                {c.name} <code>{c.client_id}</code>
              </p>
              <p class="muted">
                {t('clients.created', { date: formatDate(c.created_at) })} ·{' '}
                {c.last_used_at ? t('devices.lastUsed', { when: formatDateTime(c.last_used_at) }) : t('clients.neverUsed')}
              </p>
              {c.revoked_at ? (
                <p class="muted">{t('clients.revoked')}</p>
              ) : (
                <button type="button" class="button button-danger button-small" disabled={action.busy} onClick={() => revoke(c.id)} aria-label={t('clients.revokeOne', { name: c.name })}>
                  {t('clients.revoke')}
                </button>
              )}
            </li>
          ))}
        </ul>
      </section>
    </div>
  );
}
