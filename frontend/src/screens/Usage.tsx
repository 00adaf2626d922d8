import { api } from '../api/client';
import type { SchoolDashboard } from '../api/types';
import { Alert } from '../components/Alert';
import { BarList, ColumnChart } from '../components/Charts';
import { t } from '../i18n';
import { formatDate, formatNumber } from '../lib/format';
import { me } from '../lib/session';
import { useStore } from '../lib/store';
import { useLoad } from '../lib/useLoad';

/** The 30 days up to today, days without signatures as 0, so one busy day is one thin column. */
function lastThirtyDays(perDay: { day: string; count: number }[]): { day: string; count: number }[] {
  const counts = new Map(perDay.map((x) => [x.day, x.count]));
  const out = [];
  const day = new Date();
  day.setDate(day.getDate() - 29);
  for (let i = 0; i < 30; i++, day.setDate(day.getDate() + 1)) {
    const key = `${day.getFullYear()}-${String(day.getMonth() + 1).padStart(2, '0')}-${String(day.getDate()).padStart(2, '0')}`;
    out.push({ day: key, count: counts.get(key) ?? 0 });
  }
  return out;
}

const vnd = (amount: number) => t('usage.vnd', { amount: formatNumber(amount) });

/** The school's usage: quota, signatures per day and per class, the school year, cost per teacher. */
export default function Usage() {
  const person = useStore(me);
  const schoolId = person?.school?.id ?? '';
  const loaded = useLoad(() => api<SchoolDashboard>('GET', '/billing/usage/schools/' + encodeURIComponent(schoolId)), [schoolId]);
  const d = loaded.data;
  const lastDays = d ? lastThirtyDays(d.per_day) : [];
  return (
    <div class="stack wide">
      <h1>{t('title.usage')}</h1>
      <Alert>{loaded.error}</Alert>
      {!d && !loaded.error && <p class="muted">{t('app.loading')}</p>}
      {d && (
        <>
          <p class="lead">
            {d.school_name} · {t('usage.period', { from: formatDate(d.period_start), to: formatDate(d.period_end) })}
          </p>
          <section class="card stack-small" aria-labelledby="quota-heading">
            <h2 id="quota-heading" class="h3">
              {t('usage.quota')}
            </h2>
            {d.quota ? (
              <>
                <p class="big-number">{t('usage.used', { used: formatNumber(d.quota.used), included: formatNumber(d.quota.included) })}</p>
                <div
                  class="bar"
                  role="progressbar"
                  aria-label={t('usage.quota')}
                  aria-valuemin={0}
                  aria-valuemax={100}
                  aria-valuenow={Math.round(d.quota.percent_used)}
                >
                  <div class={`bar-fill${d.quota.percent_used >= 80 ? ' bar-warn' : ''}`} style={{ width: `${Math.min(100, d.quota.percent_used)}%` }} />
                </div>
                <p>{t('usage.remaining', { remaining: formatNumber(d.quota.remaining), pct: formatNumber(Math.round(d.quota.percent_used)) })}</p>
              </>
            ) : (
              <p class="muted">{t('usage.noPlan')}</p>
            )}
            <p class="muted">{t('usage.year', { pct: formatNumber(Math.round(d.year_progress_percent)) })}</p>
          </section>
          <section class="card stack-small" aria-labelledby="days-heading">
            <h2 id="days-heading" class="h3">
              {t('usage.perDay', { total: formatNumber(d.total) })}
            </h2>
            {d.per_day.length === 0 ? (
              <p class="muted">{t('usage.none')}</p>
            ) : (
              <>
                <ColumnChart
                  label={t('usage.perDayChart', { days: lastDays.length, total: formatNumber(lastDays.reduce((a, b) => a + b.count, 0)) })}
                  bars={lastDays.map((x) => ({ label: formatDate(x.day), value: x.count }))}
                />
                <details>
                  <summary>{t('usage.table')}</summary>
                  <table class="table">
                    <thead>
                      <tr>
                        <th scope="col">{t('usage.day')}</th>
                        <th scope="col">{t('usage.signatures')}</th>
                      </tr>
                    </thead>
                    <tbody>
                      {lastDays.filter((x) => x.count > 0).map((x) => (
                        <tr key={x.day}>
                          <td>{formatDate(x.day)}</td>
                          <td class="num">{formatNumber(x.count)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </details>
              </>
            )}
          </section>
          <section class="card stack-small" aria-labelledby="classes-heading">
            <h2 id="classes-heading" class="h3">
              {t('usage.perClass')}
            </h2>
            {d.per_class.length === 0 ? (
              <p class="muted">{t('usage.none')}</p>
            ) : (
              <BarList label={t('usage.perClass')} bars={d.per_class.map((c) => ({ label: c.class_name, value: c.count }))} />
            )}
          </section>
          {d.cost && (
            <section class="card stack-small" aria-labelledby="cost-heading">
              <h2 id="cost-heading" class="h3">
                {t('usage.cost')}
              </h2>
              <p>{t('usage.costPerSigner', { amount: vnd(d.cost.cost_per_signer_vnd), signers: formatNumber(d.cost.signers) })}</p>
              <p>{t('usage.reference', { amount: vnd(d.cost.reference_certificate_vnd) })}</p>
              <p>
                <strong>
                  {d.cost.saving_vnd >= 0
                    ? t('usage.saving', { amount: vnd(d.cost.saving_vnd) })
                    : t('usage.extra', { amount: vnd(-d.cost.saving_vnd) })}
                </strong>
              </p>
            </section>
          )}
        </>
      )}
    </div>
  );
}
