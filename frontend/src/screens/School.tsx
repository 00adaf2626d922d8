import { api } from '../api/client';
import type { Doc } from '../api/types';
import { Alert } from '../components/Alert';
import { t } from '../i18n';
import { formatNumber } from '../lib/format';
import { useAction } from '../lib/useAction';
import { useLoad } from '../lib/useLoad';
import { allDocuments, approve, classState, groupByClass, type ClassState } from '../lib/workflow';
import { navigate } from '../router';

const COLUMNS: ClassState[] = ['teacher', 'me', 'signing', 'done', 'blocked'];

/** The principal's view: every class, how many transcripts wait for the teacher, for me, are done or blocked. */
export default function School() {
  const loaded = useLoad(() => Promise.all([allDocuments(), api<Doc[]>('GET', '/inbox')]));
  const action = useAction();
  const [docs, inbox] = loaded.data ?? [null, null];
  const groups = docs ? groupByClass(docs.filter((d) => d.status !== 'cancelled' && d.status !== 'superseded')) : null;

  const approveAll = () =>
    void action.run(async () => {
      const id = await approve({ all_ready: true });
      navigate(`/approvals/${id}`);
    });

  return (
    <div class="stack">
      <h1>{t('title.school')}</h1>
      <Alert>{loaded.error}</Alert>
      {inbox && (
        <section class="card stack-small" aria-labelledby="ready-heading">
          <h2 id="ready-heading" class="h3">
            {t('school.ready', { count: formatNumber(inbox.length) })}
          </h2>
          <Alert kind="notice">{action.busy && t('approve.working')}</Alert>
          <Alert>{action.error}</Alert>
          <button type="button" class="button button-large" disabled={action.busy || inbox.length === 0} onClick={approveAll}>
            {t('school.approveAll', { count: formatNumber(inbox.length) })}
          </button>
        </section>
      )}
      {!groups && !loaded.error && <p class="muted">{t('app.loading')}</p>}
      {groups && groups.length === 0 && <p class="card empty-state">{t('school.empty')}</p>}
      {groups && groups.length > 0 && (
        <div class="table-wrap" tabIndex={0} role="region" aria-labelledby="classes-caption">
          <table class="table">
            <caption id="classes-caption">{t('school.byClass')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('school.class')}</th>
                {COLUMNS.map((c) => (
                  <th key={c} scope="col">
                    {t(`school.state.${c}`)}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {groups.map((group) => {
                const counts: Record<ClassState, number> = { teacher: 0, me: 0, signing: 0, done: 0, blocked: 0 };
                for (const doc of group.docs) counts[classState(doc)] += 1;
                return (
                  <tr key={group.key}>
                    <th scope="row">{group.className}</th>
                    {COLUMNS.map((c) => (
                      <td key={c} class={counts[c] ? `num state-${c}` : 'num zero'}>
                        {formatNumber(counts[c])}
                      </td>
                    ))}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <p>
        <a href="/delegations">{t('title.delegations')}</a>
      </p>
    </div>
  );
}
