import { api } from '../api/client';
import type { SchoolDashboard } from '../api/types';
import { Alert } from '../components/Alert';
import { BarList } from '../components/Charts';
import { UsageOverview } from '../components/UsageCharts';
import { t } from '../i18n';
import { formatNumber } from '../lib/format';
import { me } from '../lib/session';
import { useStore } from '../lib/store';
import { useLoad } from '../lib/useLoad';

const vnd = (amount: number) => t('usage.vnd', { amount: formatNumber(amount) });

/** The school's usage: quota, signatures per day and per class, the school year, cost per teacher. */
export default function Usage() {
  const person = useStore(me);
  const schoolId = person?.school?.id ?? '';
  const loaded = useLoad(() => api<SchoolDashboard>('GET', '/billing/usage/schools/' + encodeURIComponent(schoolId)), [schoolId]);
  const d = loaded.data;
  return (
    <div class="stack wide">
      <h1>{t('title.usage')}</h1>
      <Alert>{loaded.error}</Alert>
      {!d && !loaded.error && <p class="muted">{t('app.loading')}</p>}
      {d && (
        <>
          <UsageOverview name={d.school_name} usage={d} quotaHeading={t('usage.quota')} noPlan={t('usage.noPlan')} />
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
