import type { Doc } from '../api/types';
import { Alert } from '../components/Alert';
import { t } from '../i18n';
import { formatDate, formatNumber } from '../lib/format';
import { me } from '../lib/session';
import { useStore } from '../lib/store';
import { useLoad } from '../lib/useLoad';
import { allDocuments, groupByClass, signedBy } from '../lib/workflow';
import { statusLabel } from './Document';

/** What I signed, by class, newest first, with where each transcript is now. */
export default function History() {
  const person = useStore(me);
  const loaded = useLoad(() => allDocuments());
  const mine = person && loaded.data ? loaded.data.filter((d) => signedBy(person, d)) : null;
  const collator = new Intl.Collator('vi', { numeric: true });
  // newest day first; within a day, by name (a batch is signed within seconds)
  const ordered = mine?.sort(
    (a, b) =>
      b.updated_at.slice(0, 10).localeCompare(a.updated_at.slice(0, 10)) ||
      collator.compare(a.student_name ?? '', b.student_name ?? ''),
  );
  const groups = ordered ? groupByClass(ordered) : null;
  return (
    <div class="stack">
      <h1>{t('title.history')}</h1>
      <Alert>{loaded.error}</Alert>
      {!groups && !loaded.error && <p class="muted">{t('app.loading')}</p>}
      {groups?.length === 0 && (
        <div class="card empty-state">
          <p>{t('history.empty')}</p>
        </div>
      )}
      {groups?.map((group) => (
        <section key={group.key} class="card stack-small" aria-labelledby={`h-${group.key}`}>
          <h2 id={`h-${group.key}`} class="h3">
            {t('history.class', { name: group.className, count: formatNumber(group.docs.length) })}
          </h2>
          <ul class="item-list">
            {group.docs.map((doc: Doc) => (
              <li key={doc.id} class="item">
                <a href={`/documents/${doc.id}`}>{doc.student_name ?? doc.filename}</a>
                <p class="muted">
                  {statusLabel(doc)} · {formatDate(doc.updated_at)}
                </p>
              </li>
            ))}
          </ul>
        </section>
      ))}
    </div>
  );
}
