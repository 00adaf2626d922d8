import { useState } from 'preact/hooks';
import { api, apiForm } from '../api/client';
import type { SchoolClass, UploadReport } from '../api/types';
import { Alert } from '../components/Alert';
import { hasMessage, t } from '../i18n';
import { formatNumber, schoolYearOf } from '../lib/format';
import { useAction } from '../lib/useAction';
import { useLoad } from '../lib/useLoad';

export function codeText(code: string | null, fallback: string | null): string {
  if (!code) return fallback ?? '';
  const key = `code.${code}`;
  return hasMessage(key) ? t(key) : (fallback ?? code);
}

/** The clerk uploads transcripts (PDFs, or a ZIP with its CSV manifest); each file gets its own result. */
export default function Upload() {
  const [report, setReport] = useState<UploadReport | null>(null);
  const action = useAction();
  const [year, setYear] = useState(schoolYearOf(new Date()));
  // the roster's classes: the class is chosen, not typed (a typed name the roster lacks blocks every file)
  const classes = useLoad(() => api<SchoolClass[]>('GET', '/classes').catch(() => [] as SchoolClass[]));
  const ofYear = (classes.data ?? []).filter((c) => c.school_year === year.trim());

  const submit = (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    for (const [key, value] of [...form.entries()]) {
      if (value === '' || (value instanceof File && value.size === 0 && value.name === '')) form.delete(key);
    }
    void action.run(async () => {
      setReport(await apiForm<UploadReport>('/documents', form));
    });
  };

  return (
    <div class="stack wide">
      <h1>{t('title.upload')}</h1>
      <form class="card stack-small" onSubmit={submit}>
        <div class="field">
          <label for="files">{t('upload.files')}</label>
          <p id="files-hint" class="hint">
            {t('upload.filesHint')}
          </p>
          <input id="files" name="files" type="file" multiple required accept=".pdf,.zip,application/pdf,application/zip" aria-describedby="files-hint" />
        </div>
        <div class="field">
          <label for="manifest">{t('upload.manifest')}</label>
          <p id="manifest-hint" class="hint">
            {t('upload.manifestHint')}
          </p>
          <input id="manifest" name="manifest" type="file" accept=".csv,text/csv" aria-describedby="manifest-hint" />
        </div>
        <div class="field">
          <label for="school_year">{t('upload.year')}</label>
          <input
            id="school_year"
            name="school_year"
            value={year}
            placeholder={schoolYearOf(new Date())}
            autoComplete="off"
            onInput={(e) => setYear((e.currentTarget as HTMLInputElement).value)}
          />
        </div>
        <div class="field">
          <label for="class">{t('upload.class')}</label>
          {classes.data && ofYear.length === 0 && (
            <p id="class-hint" class="hint">
              {t('upload.noClasses', { year: year.trim() })}
            </p>
          )}
          <select id="class" name="class" aria-describedby={classes.data && ofYear.length === 0 ? 'class-hint' : undefined}>
            <option value="">{t('upload.classFromManifest')}</option>
            {ofYear.map((c) => (
              <option key={c.id} value={c.name}>
                {c.name}
              </option>
            ))}
          </select>
        </div>
        <Alert kind="notice">{action.busy && t('upload.working')}</Alert>
        <Alert>{action.error}</Alert>
        <button type="submit" class="button" disabled={action.busy}>
          {t('upload.submit')}
        </button>
      </form>
      {report && (
        <section class="card stack-small" aria-labelledby="report-heading">
          <h2 id="report-heading">{t('upload.report')}</h2>
          <p role="status">
            {t('upload.summary', {
              created: formatNumber(report.created),
              duplicates: formatNumber(report.duplicates),
              refused: formatNumber(report.refused),
              blocked: formatNumber(report.blocked),
            })}
          </p>
          <ul class="item-list">
            {report.files.map((f, i) => (
              <li key={`${f.file}-${i}`} class="item">
                <p class="item-title">{f.file}</p>
                <p class={f.outcome === 'refused' || f.status === 'blocked' ? 'text-error' : 'muted'}>
                  {f.status === 'blocked'
                    ? t('upload.blockedBecause', { reason: codeText(f.blocked_code, null) })
                    : t(`upload.outcome.${f.outcome}`)}
                  {f.outcome === 'refused' && ` — ${codeText(f.code, f.message)}`}
                </p>
              </li>
            ))}
          </ul>
          {report.blocked > 0 && <a href="/admin/blocked">{t('title.blocked')}</a>}
        </section>
      )}
    </div>
  );
}
