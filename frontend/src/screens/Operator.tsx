import type { ComponentChildren } from 'preact';
import { api } from '../api/client';
import { Alert } from '../components/Alert';
import type { Quota } from '../components/UsageCharts';
import { hasMessage, t, type MessageKey } from '../i18n';
import { formatDate, formatDateTime, formatNumber } from '../lib/format';
import { me } from '../lib/session';
import { useStore } from '../lib/store';
import { useLoad } from '../lib/useLoad';

/** The shapes of /operator/* and /billing/{plans,subscriptions} (operators only). */
type Tenant = {
  id: string;
  kind: string;
  code: string;
  name: string;
  parent_id: string | null;
  quota: (Quota & { organisation_id: string; subscription_id: string }) | null;
};
type Plan = {
  id: string;
  code: string;
  name: string;
  scope: string;
  included_signatures: number;
  price_vnd: number;
  overage_allowed: boolean;
  active: boolean;
};
type Subscription = {
  id: string;
  organisation_id: string;
  plan_id: string;
  status: string;
  period_start: string;
  period_end: string;
  used_signatures: number;
};
type Hsm = {
  ok: boolean;
  module?: string | null;
  token_label?: string | null;
  manufacturer?: string | null;
  model?: string | null;
  key_count?: number | null;
  error?: string | null;
};
type Queue = {
  ok: boolean;
  broker: string;
  queues: Record<string, number>;
  error?: string | null;
};
type Stalled = {
  available: boolean;
  items: {
    document_id: string;
    tenant_id: string;
    status: string;
    step: number;
    lease_until: string | null;
    attempts: number;
  }[];
};

/** A value the server names (a status, a kind) in the person's words, or as sent when unknown. */
const word = (prefix: string, value: string): string => {
  const key = `${prefix}.${value}`;
  return hasMessage(key) ? t(key) : value;
};
const vnd = (amount: number) => t('usage.vnd', { amount: formatNumber(amount) });

/** The operator console: tenants and their quota, plans, subscriptions, the HSM, the queue, stalled work. */
export default function Operator() {
  const person = useStore(me);
  const allowed = person?.roles.some((r) => r.role === 'operator') ?? false;
  return (
    <div class="stack wide">
      <h1>{t('title.operator')}</h1>
      {allowed ? <Console /> : <p class="card empty-state">{t('operator.refused')}</p>}
    </div>
  );
}

function Console() {
  const tenants = useLoad(() => api<Tenant[]>('GET', '/operator/tenants'));
  const plans = useLoad(() => api<Plan[]>('GET', '/billing/plans'));
  const subscriptions = useLoad(() => api<Subscription[]>('GET', '/billing/subscriptions'));
  const hsm = useLoad(() => api<Hsm>('GET', '/operator/hsm'));
  const queue = useLoad(() => api<Queue>('GET', '/operator/queue'));
  const stalled = useLoad(() => api<Stalled>('GET', '/operator/stalled'));
  const orgName = new Map((tenants.data ?? []).map((x) => [x.id, x.name]));
  const planName = new Map((plans.data ?? []).map((x) => [x.id, `${x.code} · ${x.name}`]));
  const queues = queue.data ? Object.entries(queue.data.queues) : [];
  const waiting = queues.reduce((a, [, n]) => a + n, 0);

  return (
    <>
      <Section id="hsm" heading="operator.hsm" error={hsm.error} loading={!hsm.data}>
        {hsm.data && (
          <Table caption={hsm.data.ok ? t('operator.hsmOk') : t('operator.hsmDown')}>
            <tbody>
              {hsm.data.ok ? (
                <>
                  <Row term="operator.token" value={hsm.data.token_label} />
                  <Row term="operator.manufacturer" value={hsm.data.manufacturer} />
                  <Row term="operator.model" value={hsm.data.model} />
                  <Row term="operator.keys" value={formatNumber(hsm.data.key_count ?? 0)} />
                  <Row term="operator.module" value={hsm.data.module} />
                </>
              ) : (
                <Row term="operator.error" value={hsm.data.error} />
              )}
            </tbody>
          </Table>
        )}
      </Section>

      <Section id="queue" heading="operator.queue" error={queue.error} loading={!queue.data}>
        {queue.data && (
          <Table
            caption={
              queue.data.ok
                ? t('operator.queueCaption', { broker: queue.data.broker, count: formatNumber(waiting) })
                : t('operator.queueDown', { broker: queue.data.broker, error: queue.data.error ?? '' })
            }
          >
            <thead>
              <tr>
                <th scope="col">{t('operator.queueName')}</th>
                <th scope="col">{t('operator.messages')}</th>
              </tr>
            </thead>
            <tbody>
              {queues.map(([name, count]) => (
                <tr key={name}>
                  <th scope="row">{name}</th>
                  <td class={count ? 'num' : 'num zero'}>{formatNumber(count)}</td>
                </tr>
              ))}
            </tbody>
          </Table>
        )}
      </Section>

      <Section id="stalled" heading="operator.stalled" error={stalled.error} loading={!stalled.data}>
        {stalled.data &&
          (stalled.data.items.length === 0 ? (
            <p class="muted">{t('operator.stalledNone')}</p>
          ) : (
            <Table caption={t('operator.stalledCaption', { count: formatNumber(stalled.data.items.length) })}>
              <thead>
                <tr>
                  <th scope="col">{t('operator.document')}</th>
                  <th scope="col">{t('operator.organisation')}</th>
                  <th scope="col">{t('operator.status')}</th>
                  <th scope="col">{t('operator.leaseUntil')}</th>
                  <th scope="col">{t('operator.attempts')}</th>
                </tr>
              </thead>
              <tbody>
                {stalled.data.items.map((item) => (
                  <tr key={item.document_id}>
                    <th scope="row">
                      <code>{item.document_id}</code>
                    </th>
                    <td>{orgName.get(item.tenant_id) ?? item.tenant_id}</td>
                    <td>{word('status', item.status)}</td>
                    <td>{item.lease_until ? formatDateTime(item.lease_until) : '—'}</td>
                    <td class="num">{formatNumber(item.attempts)}</td>
                  </tr>
                ))}
              </tbody>
            </Table>
          ))}
      </Section>

      <Section id="tenants" heading="operator.tenants" error={tenants.error} loading={!tenants.data}>
        {tenants.data &&
          (tenants.data.length === 0 ? (
            <p class="muted">{t('operator.tenantsNone')}</p>
          ) : (
            <Table caption={t('operator.tenantsCaption', { count: formatNumber(tenants.data.length) })}>
              <thead>
                <tr>
                  <th scope="col">{t('operator.organisation')}</th>
                  <th scope="col">{t('operator.kind')}</th>
                  <th scope="col">{t('operator.quota')}</th>
                  <th scope="col">{t('operator.status')}</th>
                  <th scope="col">{t('operator.paidBy')}</th>
                </tr>
              </thead>
              <tbody>
                {tenants.data.map((org) => (
                  <tr key={org.id}>
                    <th scope="row">
                      {org.kind === 'district' ? <a href={`/district?id=${encodeURIComponent(org.id)}`}>{org.name}</a> : org.name}
                      <br />
                      <span class="muted">{org.code}</span>
                    </th>
                    <td>{word('tenant.kind', org.kind)}</td>
                    <td class="num">
                      {org.quota
                        ? t('usage.used', { used: formatNumber(org.quota.used), included: formatNumber(org.quota.included) })
                        : '—'}
                    </td>
                    <td>{org.quota ? word('billing.status', org.quota.status) : t('operator.noPlan')}</td>
                    <td>{org.quota ? (orgName.get(org.quota.organisation_id) ?? org.quota.organisation_id) : '—'}</td>
                  </tr>
                ))}
              </tbody>
            </Table>
          ))}
      </Section>

      <Section id="plans" heading="operator.plans" error={plans.error} loading={!plans.data}>
        {plans.data &&
          (plans.data.length === 0 ? (
            <p class="muted">{t('operator.plansNone')}</p>
          ) : (
            <Table caption={t('operator.plansCaption', { count: formatNumber(plans.data.length) })}>
              <thead>
                <tr>
                  <th scope="col">{t('operator.plan')}</th>
                  <th scope="col">{t('operator.scope')}</th>
                  <th scope="col">{t('operator.included')}</th>
                  <th scope="col">{t('operator.price')}</th>
                  <th scope="col">{t('operator.overage')}</th>
                  <th scope="col">{t('operator.active')}</th>
                </tr>
              </thead>
              <tbody>
                {plans.data.map((plan) => (
                  <tr key={plan.id}>
                    <th scope="row">
                      {plan.name}
                      <br />
                      <span class="muted">{plan.code}</span>
                    </th>
                    <td>{word('plan.scope', plan.scope)}</td>
                    <td class="num">{formatNumber(plan.included_signatures)}</td>
                    <td class="num">{vnd(plan.price_vnd)}</td>
                    <td>{t(plan.overage_allowed ? 'operator.yes' : 'operator.no')}</td>
                    <td>{t(plan.active ? 'operator.yes' : 'operator.no')}</td>
                  </tr>
                ))}
              </tbody>
            </Table>
          ))}
      </Section>

      <Section id="subscriptions" heading="operator.subscriptions" error={subscriptions.error} loading={!subscriptions.data}>
        {subscriptions.data &&
          (subscriptions.data.length === 0 ? (
            <p class="muted">{t('operator.subscriptionsNone')}</p>
          ) : (
            <Table caption={t('operator.subscriptionsCaption', { count: formatNumber(subscriptions.data.length) })}>
              <thead>
                <tr>
                  <th scope="col">{t('operator.organisation')}</th>
                  <th scope="col">{t('operator.plan')}</th>
                  <th scope="col">{t('operator.status')}</th>
                  <th scope="col">{t('operator.period')}</th>
                  <th scope="col">{t('operator.used')}</th>
                </tr>
              </thead>
              <tbody>
                {subscriptions.data.map((sub) => (
                  <tr key={sub.id}>
                    <th scope="row">{orgName.get(sub.organisation_id) ?? sub.organisation_id}</th>
                    <td>{planName.get(sub.plan_id) ?? sub.plan_id}</td>
                    <td>{word('billing.status', sub.status)}</td>
                    <td>{t('usage.period', { from: formatDate(sub.period_start), to: formatDate(sub.period_end) })}</td>
                    <td class="num">{formatNumber(sub.used_signatures)}</td>
                  </tr>
                ))}
              </tbody>
            </Table>
          ))}
      </Section>
    </>
  );
}

function Section(props: { id: string; heading: MessageKey; error: string; loading: boolean; children: ComponentChildren }) {
  return (
    <section class="stack-small" aria-labelledby={`${props.id}-heading`}>
      <h2 id={`${props.id}-heading`}>{t(props.heading)}</h2>
      <Alert>{props.error}</Alert>
      {props.loading && !props.error && <p class="muted">{t('app.loading')}</p>}
      {props.children}
    </section>
  );
}

/** A read-only table that scrolls sideways on a phone, named by its caption. */
function Table({ caption, children }: { caption: string; children: ComponentChildren }) {
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={caption}>
      <table class="table">
        <caption>{caption}</caption>
        {children}
      </table>
    </div>
  );
}

function Row({ term, value }: { term: MessageKey; value: string | null | undefined }) {
  return (
    <tr>
      <th scope="row">{t(term)}</th>
      <td>{value ?? '—'}</td>
    </tr>
  );
}
