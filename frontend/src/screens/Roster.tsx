import { useState } from 'preact/hooks';
import { apiForm } from '../api/client';
import type { RosterReport } from '../api/types';
import { Alert } from '../components/Alert';
import { t } from '../i18n';
import { formatNumber } from '../lib/format';
import { useAction } from '../lib/useAction';

/** Staff or class list import (CSV/XLSX): all rows or none, with the report row by row. */
export default function Roster() {
  const [report, setReport] = useState<RosterReport | null>(null);
  const action = useAction();
  const submit = (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    form.set('dry_run', form.get('dry_run') ? 'true' : 'false');
    if (!form.get('school_year')) form.delete('school_year');
    void action.run(async () => setReport(await apiForm<RosterReport>('/roster/imports', form)));
  };
  return (
    <div class="stack wide">
      <h1>{t('title.roster')}</h1>
      <form class="card stack-small" onSubmit={submit}>
        <div class="field">
          <label for="kind">{t('roster.kind')}</label>
          <select id="kind" name="kind">
            <option value="staff">{t('roster.staff')}</option>
            <option value="classes">{t('roster.classes')}</option>
          </select>
        </div>
        <div class="field">
          <label for="roster-year">{t('upload.year')}</label>
          <input id="roster-year" name="school_year" placeholder="2024-2025" autoComplete="off" />
        </div>
        <div class="field">
          <label for="roster-file">{t('roster.file')}</label>
          <input id="roster-file" name="file" type="file" required accept=".csv,.xlsx" />
        </div>
        <label class="check">
          <input type="checkbox" name="dry_run" value="true" />
          <span>{t('roster.dryRun')}</span>
        </label>
        <Alert>{action.error}</Alert>
        <button type="submit" class="button" disabled={action.busy}>
          {t('roster.submit')}
        </button>
      </form>
      {report && (
        <section class="card stack-small" aria-labelledby="roster-report">
          <h2 id="roster-report">{t(`roster.status.${report.status === 'applied' ? 'applied' : report.status === 'dry_run' ? 'dry_run' : 'refused'}`)}</h2>
          <p role="status">
            {t('roster.counts', {
              accepted: formatNumber(report.counts.accepted),
              updated: formatNumber(report.counts.updated),
              unchanged: formatNumber(report.counts.unchanged),
              refused: formatNumber(report.counts.refused),
              total: formatNumber(report.counts.total),
            })}
          </p>
          <div class="table-wrap" tabIndex={0} role="region" aria-labelledby="roster-report">
            <table class="table">
              <thead>
                <tr>
                  <th scope="col">{t('roster.row')}</th>
                  <th scope="col">{t('roster.name')}</th>
                  <th scope="col">{t('roster.result')}</th>
                </tr>
              </thead>
              <tbody>
                {report.rows.map((row) => (
                  <tr key={row.row} class={row.status === 'refused' ? 'row-refused' : ''}>
                    <td class="num">{row.row}</td>
                    <td>{row.name ?? '—'}</td>
                    <td>
                      {t(`roster.row.${row.status === 'accepted' || row.status === 'updated' || row.status === 'unchanged' ? row.status : 'refused'}`)}
                      {row.reason && ` — ${row.reason}`}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
    </div>
  );
}
