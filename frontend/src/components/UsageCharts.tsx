import { t } from '../i18n';
import { formatDate, formatNumber } from '../lib/format';
import { ColumnChart } from './Charts';

export type DayCount = {
  day: string;
  count: number;
};

export type Quota = {
  status: string;
  included: number;
  used: number;
  remaining: number;
  percent_used: number;
};

/** The 30 days up to today, days without signatures as 0, so one busy day is one thin column. */
export function lastThirtyDays(perDay: DayCount[]): DayCount[] {
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

/** Signatures per day of the last 30 days as columns, with the numbers in a table behind "see the figures". */
export function SignaturesPerDay({ perDay }: { perDay: DayCount[] }) {
  if (perDay.length === 0) return <p class="muted">{t('usage.none')}</p>;
  const lastDays = lastThirtyDays(perDay);
  return (
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
  );
}

/** Used / included as a big number and a progress bar (amber from 80 %), then what remains. */
export function QuotaMeter({ quota }: { quota: Quota }) {
  return (
    <>
      <p class="big-number">{t('usage.used', { used: formatNumber(quota.used), included: formatNumber(quota.included) })}</p>
      <div
        class="bar"
        role="progressbar"
        aria-label={t('usage.quota')}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(quota.percent_used)}
      >
        <div class={`bar-fill${quota.percent_used >= 80 ? ' bar-warn' : ''}`} style={{ width: `${Math.min(100, quota.percent_used)}%` }} />
      </div>
      <p>{t('usage.remaining', { remaining: formatNumber(quota.remaining), pct: formatNumber(Math.round(quota.percent_used)) })}</p>
    </>
  );
}

/** What a school's and a district's dashboard both open with: who and which period, the quota (or
 *  why there is none) with the school year's progress, and signatures per day. */
export function UsageOverview({
  name,
  usage,
  quotaHeading,
  noPlan,
}: {
  name: string;
  usage: {
    period_start: string;
    period_end: string;
    quota: Quota | null;
    year_progress_percent: number;
    total: number;
    per_day: DayCount[];
  };
  quotaHeading: string;
  noPlan: string;
}) {
  return (
    <>
      <p class="lead">
        {name} · {t('usage.period', { from: formatDate(usage.period_start), to: formatDate(usage.period_end) })}
      </p>
      <section class="card stack-small" aria-labelledby="quota-heading">
        <h2 id="quota-heading" class="h3">
          {quotaHeading}
        </h2>
        {usage.quota ? <QuotaMeter quota={usage.quota} /> : <p class="muted">{noPlan}</p>}
        <p class="muted">{t('usage.year', { pct: formatNumber(Math.round(usage.year_progress_percent)) })}</p>
      </section>
      <section class="card stack-small" aria-labelledby="days-heading">
        <h2 id="days-heading" class="h3">
          {t('usage.perDay', { total: formatNumber(usage.total) })}
        </h2>
        <SignaturesPerDay perDay={usage.per_day} />
      </section>
    </>
  );
}
