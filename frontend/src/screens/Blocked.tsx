import { useState } from 'preact/hooks';
import { api } from '../api/client';
import type { Doc } from '../api/types';
import { Alert } from '../components/Alert';
import { t } from '../i18n';
import { formatDateTime, formatNumber } from '../lib/format';
import { useAction } from '../lib/useAction';
import { useLoad } from '../lib/useLoad';
import { codeText } from './Upload';

const FIELDS = ['student_code', 'student_name', 'personal_id', 'class_name', 'school_year'] as const;
type Field = (typeof FIELDS)[number];

/** Blocked transcripts (with the reason) and those a signer returned: fix the data, release, resubmit. */
export default function Blocked() {
  const loaded = useLoad(() =>
    Promise.all([api<Doc[]>('GET', '/documents?status=blocked&limit=1000'), api<Doc[]>('GET', '/documents?status=rejected&limit=1000')]),
  );
  const [blocked, rejected] = loaded.data ?? [[], []];
  return (
    <div class="stack wide">
      <h1>{t('title.blocked')}</h1>
      <Alert>{loaded.error}</Alert>
      {!loaded.data && !loaded.error && <p class="muted">{t('app.loading')}</p>}
      <section class="stack-small" aria-labelledby="rejected-heading">
        <h2 id="rejected-heading">{t('blocked.rejected', { count: formatNumber(rejected.length) })}</h2>
        {loaded.data && rejected.length === 0 && <p class="muted">{t('blocked.noneRejected')}</p>}
        <ul class="item-list stack-small">
          {rejected.map((doc) => (
            <FixItem key={doc.id} doc={doc} onDone={loaded.reload} />
          ))}
        </ul>
      </section>
      <section class="stack-small" aria-labelledby="blocked-heading">
        <h2 id="blocked-heading">{t('blocked.blocked', { count: formatNumber(blocked.length) })}</h2>
        {loaded.data && blocked.length === 0 && <p class="muted">{t('blocked.noneBlocked')}</p>}
        <ul class="item-list stack-small">
          {blocked.map((doc) => (
            <FixItem key={doc.id} doc={doc} onDone={loaded.reload} />
          ))}
        </ul>
      </section>
    </div>
  );
}

function FixItem({ doc, onDone }: { doc: Doc; onDone: () => void }) {
  const [open, setOpen] = useState(false);
  const [values, setValues] = useState<Record<Field, string>>({
    student_code: doc.student_code ?? '',
    student_name: doc.student_name ?? '',
    personal_id: '',
    class_name: doc.class_name ?? '',
    school_year: doc.school_year ?? '',
  });
  const [notice, setNotice] = useState('');
  const action = useAction();
  const rejected = doc.status === 'rejected';
  const title = doc.student_name ?? doc.filename ?? doc.id;

  const save = (event: Event) => {
    event.preventDefault();
    void action.run(async () => {
      const changes: Record<string, string | null> = {};
      for (const f of FIELDS) if (values[f].trim() !== '') changes[f] = values[f].trim();
      const fixed = await api<Doc>('PATCH', `/documents/${doc.id}`, changes);
      if (rejected) await api<Doc>('POST', `/documents/${doc.id}/resubmit`);
      setNotice(fixed.status === 'blocked' ? codeText(fixed.blocked_code, fixed.blocked_message) : t('blocked.fixed'));
      if (fixed.status !== 'blocked') onDone();
    });
  };
  const resubmit = () =>
    void action.run(async () => {
      await api<Doc>('POST', `/documents/${doc.id}/resubmit`);
      onDone();
    });

  return (
    <li class="card stack-small">
      <p class="item-title">
        <a href={`/documents/${doc.id}`}>{title}</a>
      </p>
      <p class="muted">{t('document.meta', { class: doc.class_name ?? '—', year: doc.school_year ?? '—', code: doc.student_code ?? '—' })}</p>
      <p class="alert alert-error">
        {rejected ? t('blocked.reason', { reason: doc.rejected_reason ?? '' }) : codeText(doc.blocked_code, doc.blocked_message)}
      </p>
      <p class="muted">{formatDateTime(doc.updated_at)}</p>
      <Alert kind="notice">{notice}</Alert>
      <Alert>{action.error}</Alert>
      <div class="row">
        <button type="button" class="button button-secondary button-small" aria-expanded={open} onClick={() => setOpen(!open)}>
          {t('blocked.fix')}
        </button>
        {rejected && (
          <button type="button" class="button button-small" disabled={action.busy} onClick={resubmit}>
            {t('blocked.resubmit')}
          </button>
        )}
      </div>
      {open && (
        <form class="stack-small" onSubmit={save}>
          {FIELDS.map((f) => (
            <div key={f} class="field">
              <label for={`${doc.id}-${f}`}>{t(`blocked.field.${f}`)}</label>
              <input
                id={`${doc.id}-${f}`}
                value={values[f]}
                inputMode={f === 'personal_id' ? 'numeric' : undefined}
                onInput={(e) => setValues({ ...values, [f]: e.currentTarget.value })}
              />
            </div>
          ))}
          <button type="submit" class="button" disabled={action.busy}>
            {rejected ? t('blocked.saveResubmit') : t('blocked.save')}
          </button>
        </form>
      )}
    </li>
  );
}
