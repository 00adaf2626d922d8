import { api } from '../api/client';
import type { Doc, Role } from '../api/types';
import { Alert } from '../components/Alert';
import { hasMessage, t } from '../i18n';
import { takeFlash } from '../lib/flash';
import { formatNumber } from '../lib/format';
import { me } from '../lib/session';
import { useStore } from '../lib/store';
import { useAction } from '../lib/useAction';
import { useLoad } from '../lib/useLoad';
import { approve, groupByClass, isAdmin, isPrincipal, type ClassGroup } from '../lib/workflow';
import { navigate, type ScreenProps } from '../router';
import { useState } from 'preact/hooks';

function roleLabel(role: Role): string {
  const key = `role.${role.role}`;
  const parts = [hasMessage(key) ? t(key) : role.role];
  if (role.class_name) parts.push(t('role.class', { name: role.class_name }));
  if (role.school_year) parts.push(t('role.year', { year: role.school_year }));
  return parts.join(', ');
}

/** Home: my inbox grouped by class (approve a whole class with one passkey prompt), and my other work. */
export default function Home({ query }: ScreenProps) {
  const person = useStore(me);
  const inbox = useLoad(() => api<Doc[]>('GET', '/inbox'));
  const [notice] = useState(takeFlash);
  const action = useAction();
  const [acting, setActing] = useState('');
  if (!person) return null;
  const groups = inbox.data ? groupByClass(inbox.data) : null;
  const wanted = query.get('class');

  const approveClass = (group: ClassGroup) => {
    setActing(group.key);
    void action.run(async () => {
      const selection = group.classId ? { class_id: group.classId } : { document_ids: group.docs.map((d) => d.id) };
      const id = await approve(selection);
      navigate(`/approvals/${id}?class=${encodeURIComponent(group.className)}`);
    });
  };

  return (
    <div class="stack">
      <div>
        <h1>{t('home.greeting', { name: person.display_name })}</h1>
        {person.school && <p class="lead">{person.school.name}</p>}
      </div>
      <Alert kind="notice">{notice}</Alert>
      <section class="stack" aria-labelledby="inbox-heading">
        <h2 id="inbox-heading">{t('home.inbox')}</h2>
        <Alert>{inbox.error}</Alert>
        {!groups && !inbox.error && <p class="muted">{t('app.loading')}</p>}
        {groups?.length === 0 && (
          <div class="card empty-state">
            <p>
              <strong>{t('home.inboxEmpty')}</strong>
            </p>
            <p class="muted">{t('home.inboxEmptyHint')}</p>
          </div>
        )}
        {groups && groups.length > 0 && (
          <ul class="item-list stack">
            {groups.map((group) => (
              <li key={group.key} class={`card stack-small${wanted === group.className ? ' card-highlight' : ''}`}>
                <h3 class="h3">
                  {t('inbox.classCount', { name: group.className, count: formatNumber(group.docs.length) })}
                </h3>
                <p class="muted">{t(group.docs[0]?.step === 2 ? 'inbox.stepPrincipal' : 'inbox.stepTeacher')}</p>
                {acting === group.key && <Alert kind="notice">{action.busy && t('approve.working')}</Alert>}
                {acting === group.key && <Alert>{action.error}</Alert>}
                <div class="row">
                  <button
                    type="button"
                    class="button"
                    disabled={action.busy}
                    onClick={() => approveClass(group)}
                  >
                    {t('inbox.approveClass', { count: formatNumber(group.docs.length) })}
                  </button>
                  <a class="button button-secondary" href={`/inbox/${encodeURIComponent(group.classId ?? group.key)}`}>
                    {t('inbox.review')}
                  </a>
                </div>
              </li>
            ))}
          </ul>
        )}
      </section>

      <nav class="card stack-small" aria-labelledby="more-heading">
        <h2 id="more-heading" class="h3">
          {t('home.more')}
        </h2>
        <ul class="link-list">
          {isPrincipal(person) && (
            <>
              <li>
                <a href="/school">{t('title.school')}</a>
              </li>
              <li>
                <a href="/delegations">{t('title.delegations')}</a>
              </li>
            </>
          )}
          {isAdmin(person) && (
            <>
              <li>
                <a href="/admin/upload">{t('title.upload')}</a>
              </li>
              <li>
                <a href="/admin/blocked">{t('title.blocked')}</a>
              </li>
              <li>
                <a href="/admin/roster">{t('title.roster')}</a>
              </li>
              <li>
                <a href="/admin/invitations">{t('title.invitations')}</a>
              </li>
              <li>
                <a href="/admin/api-clients">{t('title.apiClients')}</a>
              </li>
            </>
          )}
          {(isPrincipal(person) || isAdmin(person)) && (
            <li>
              <a href="/usage">{t('title.usage')}</a>
            </li>
          )}
          <li>
            <a href="/history">{t('title.history')}</a>
          </li>
          <li>
            <a href="/notices">{t('title.notices')}</a>
          </li>
        </ul>
      </nav>

      {person.factors.passkeys === 0 && (
        <p class="card">
          {t('home.addPasskey')} <a href="/settings/devices">{t('home.addPasskeyLink')}</a>
        </p>
      )}
      {person.roles.length > 0 && (
        <section class="stack" aria-labelledby="roles-heading">
          <h2 id="roles-heading" class="h3">
            {t('home.roles')}
          </h2>
          <ul class="plain-list">
            {person.roles.map((role) => (
              <li key={`${role.role}-${role.organisation_id}-${role.class_id}-${role.school_year}`}>{roleLabel(role)}</li>
            ))}
          </ul>
        </section>
      )}
    </div>
  );
}
