import { api } from '../api/client';
import type { Me } from '../api/types';
import { Alert } from '../components/Alert';
import { UsageOverview, type DayCount, type Quota } from '../components/UsageCharts';
import { t } from '../i18n';
import { formatNumber } from '../lib/format';
import { me } from '../lib/session';
import { useStore } from '../lib/store';
import { useLoad } from '../lib/useLoad';
import type { ScreenProps } from '../router';

/** GET /billing/usage/districts/:id */
type DistrictDashboard = {
  district_id: string;
  district_name: string;
  quota: (Quota & { organisation_id: string }) | null;
  period_start: string;
  period_end: string;
  year_progress_percent: number;
  total: number;
  per_day: DayCount[];
  schools: { tenant_id: string; code: string; name: string; total: number; paid_by: string | null }[];
};

const districtOf = (person: Me): string | null =>
  person.roles.find((r) => r.role === 'district_admin')?.organisation_id ?? null;
const isOperator = (person: Me): boolean => person.roles.some((r) => r.role === 'operator');

/** The district office's dashboard: the pooled quota, signatures per day, and every school's usage. */
export default function District({ query }: ScreenProps) {
  const person = useStore(me);
  // a district admin sees their own office; an operator may open any district from the console (?id=)
  const districtId = (person && isOperator(person) && query.get('id')) || (person && districtOf(person)) || '';
  return (
    <div class="stack wide">
      <h1>{t('title.district')}</h1>
      {districtId ? <Dashboard districtId={districtId} /> : <p class="card empty-state">{t('district.refused')}</p>}
    </div>
  );
}

function Dashboard({ districtId }: { districtId: string }) {
  const loaded = useLoad(
    () => api<DistrictDashboard>('GET', '/billing/usage/districts/' + encodeURIComponent(districtId)),
    [districtId],
  );
  const d = loaded.data;
  const payer = (paidBy: string | null) =>
    paidBy === null ? t('district.paidByNone') : paidBy === d?.district_id ? t('district.paidByDistrict') : t('district.paidBySchool');
  return (
    <>
      <Alert>{loaded.error}</Alert>
      {!d && !loaded.error && <p class="muted">{t('app.loading')}</p>}
      {d && (
        <>
          <UsageOverview name={d.district_name} usage={d} quotaHeading={t('district.pool')} noPlan={t('district.noPlan')} />
          {d.schools.length === 0 ? (
            <p class="card empty-state">{t('district.noSchools')}</p>
          ) : (
            <div class="table-wrap" tabIndex={0} role="region" aria-labelledby="schools-caption">
              <table class="table">
                <caption id="schools-caption">{t('district.schools', { count: formatNumber(d.schools.length) })}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t('district.school')}</th>
                    <th scope="col">{t('district.code')}</th>
                    <th scope="col">{t('usage.signatures')}</th>
                    <th scope="col">{t('district.paidBy')}</th>
                  </tr>
                </thead>
                <tbody>
                  {d.schools.map((school) => (
                    <tr key={school.tenant_id}>
                      <th scope="row">{school.name}</th>
                      <td>{school.code}</td>
                      <td class={school.total ? 'num' : 'num zero'}>{formatNumber(school.total)}</td>
                      <td>{payer(school.paid_by)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </>
  );
}
