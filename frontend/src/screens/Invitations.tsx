import { useState } from 'preact/hooks';
import { api } from '../api/client';
import type { InvitationCreated, Person } from '../api/types';
import { Alert } from '../components/Alert';
import { hasMessage, t } from '../i18n';
import { formatDateTime } from '../lib/format';
import { svgDataUrl } from '../lib/svg';
import { useAction } from '../lib/useAction';
import { useLoad } from '../lib/useLoad';

const roleNames = (p: Person) =>
  p.roles.map((r) => { const key = `role.${r.role}`; return hasMessage(key) ? t(key) : r.role; }).join(', ');

/** Invitations with QR codes, to hand out or print (one card per person; the print sheet has only the cards). */
export default function Invitations() {
  const people = useLoad(() => api<Person[]>('GET', '/people?status=active'));
  const [made, setMade] = useState<Record<string, InvitationCreated>>({});
  const action = useAction();
  const waiting = (people.data ?? []).filter((p) => !p.enrolled_at);

  const invite = (ids: string[]) =>
    void action.run(async () => {
      const next = { ...made };
      for (const id of ids) next[id] = await api<InvitationCreated>('POST', '/invitations', { person_id: id });
      setMade(next);
    });

  return (
    <div class="stack wide">
      <h1>{t('title.invitations')}</h1>
      <p class="no-print">{t('invite.intro')}</p>
      <Alert>{people.error || action.error}</Alert>
      {people.data && waiting.length === 0 && <p class="card empty-state">{t('invite.none')}</p>}
      {waiting.length > 0 && (
        <div class="row no-print">
          <button type="button" class="button" disabled={action.busy} onClick={() => invite(waiting.filter((p) => !made[p.id]).map((p) => p.id))}>
            {t('invite.all', { count: waiting.length })}
          </button>
          <button type="button" class="button button-secondary" disabled={Object.keys(made).length === 0} onClick={() => window.print()}>
            {t('invite.print')}
          </button>
        </div>
      )}
      <ul class="invite-grid">
        {waiting.map((p) => {
          const invitation = made[p.id];
          return (
            <li key={p.id} class={`card stack-small invite-card${invitation ? '' : ' no-print'}`}>
              <h2 class="h3">{p.display_name}</h2>
              <p class="muted">{roleNames(p)}</p>
              {invitation ? (
                <>
                  <img class="qr" src={svgDataUrl(invitation.qr_svg)} alt={t('invite.qrAlt', { name: p.display_name })} />
                  <p class="secret small-url">{invitation.url}</p>
                  <p class="muted">{t('invite.until', { when: formatDateTime(invitation.expires_at) })}</p>
                </>
              ) : (
                <button
                  type="button"
                  class="button button-secondary button-small no-print"
                  disabled={action.busy}
                  onClick={() => invite([p.id])}
                  aria-label={t('invite.oneFor', { name: p.display_name })}
                >
                  {t('invite.one')}
                </button>
              )}
            </li>
          );
        })}
      </ul>
    </div>
  );
}
