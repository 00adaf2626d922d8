import { useState } from 'preact/hooks';
import { api } from '../api/client';
import type { Doc } from '../api/types';
import { Alert } from '../components/Alert';
import { t } from '../i18n';
import { formatNumber } from '../lib/format';
import { useAction } from '../lib/useAction';
import { useLoad } from '../lib/useLoad';
import { approve } from '../lib/workflow';
import { navigate, type ScreenProps } from '../router';

/** One class's transcripts waiting for me: review one, select several, or approve them all at once. */
export default function ClassInbox({ params }: ScreenProps) {
  const classId = params['classId'] ?? '';
  const inbox = useLoad(() => api<Doc[]>('GET', `/inbox?class_id=${encodeURIComponent(classId)}`), [classId]);
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const action = useAction();
  const docs = inbox.data ?? [];
  const className = docs[0]?.class_name ?? '';

  const toggle = (id: string) => {
    const next = new Set(chosen);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setChosen(next);
  };
  const allChosen = docs.length > 0 && chosen.size === docs.length;

  const run = (selection: Parameters<typeof approve>[0]) =>
    void action.run(async () => {
      const id = await approve(selection);
      navigate(`/approvals/${id}?class=${encodeURIComponent(className)}`);
    });

  return (
    <div class="stack">
      <p>
        <a href="/">{t('nav.back')}</a>
      </p>
      <h1>{className ? t('inbox.classTitle', { name: className }) : t('title.inbox')}</h1>
      <Alert>{inbox.error}</Alert>
      {!inbox.data && !inbox.error && <p class="muted">{t('app.loading')}</p>}
      {inbox.data && docs.length === 0 && (
        <div class="card empty-state">
          <p>
            <strong>{t('home.inboxEmpty')}</strong>
          </p>
        </div>
      )}
      {docs.length > 0 && (
        <>
          <div class="card stack-small sticky-actions">
            <p>{t('inbox.selected', { count: formatNumber(chosen.size), total: formatNumber(docs.length) })}</p>
            <Alert kind="notice">{action.busy && t('approve.working')}</Alert>
            <Alert>{action.error}</Alert>
            <div class="row">
              <button type="button" class="button" disabled={action.busy} onClick={() => run({ class_id: classId })}>
                {t('inbox.approveClass', { count: formatNumber(docs.length) })}
              </button>
              <button
                type="button"
                class="button button-secondary"
                disabled={action.busy || chosen.size === 0}
                onClick={() => run({ document_ids: [...chosen] })}
              >
                {t('inbox.approveSelected', { count: formatNumber(chosen.size) })}
              </button>
            </div>
          </div>
          <label class="check">
            <input
              type="checkbox"
              checked={allChosen}
              onChange={() => setChosen(allChosen ? new Set() : new Set(docs.map((d) => d.id)))}
            />
            <span>{t('inbox.selectAll')}</span>
          </label>
          <ul class="item-list card" aria-label={t('inbox.listLabel')}>
            {docs.map((doc) => (
              <li key={doc.id} class="item doc-row">
                <label class="check">
                  <input type="checkbox" checked={chosen.has(doc.id)} onChange={() => toggle(doc.id)} />
                  <span>
                    {doc.student_name ?? doc.filename}
                    <span class="muted"> · {doc.student_code}</span>
                  </span>
                </label>
                <a
                  class="button button-secondary button-small"
                  href={`/documents/${doc.id}`}
                  aria-label={t('inbox.viewOne', { name: doc.student_name ?? doc.filename ?? '' })}
                >
                  {t('inbox.view')}
                </a>
              </li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}
