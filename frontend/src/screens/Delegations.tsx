import { useState } from 'preact/hooks';
import { api } from '../api/client';
import type { Delegation, Person, SchoolClass } from '../api/types';
import { Alert } from '../components/Alert';
import { t } from '../i18n';
import { formatDate } from '../lib/format';
import { me } from '../lib/session';
import { useStore } from '../lib/store';
import { useAction } from '../lib/useAction';
import { useLoad } from '../lib/useLoad';

/** Today on this phone's calendar (not UTC's: in Hà Nội, UTC is still yesterday until 07:00). */
const today = (): string => {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
};

/** Delegate the principal's signature to a vice-principal (KT.), for dates and optionally some classes. */
export default function Delegations() {
  const person = useStore(me);
  const loaded = useLoad(() =>
    Promise.all([
      api<Delegation[]>('GET', '/delegations'),
      api<Person[]>('GET', '/people?role=vice_principal').catch(() => [] as Person[]),
      api<SchoolClass[]>('GET', '/classes').catch(() => [] as SchoolClass[]),
    ]),
  );
  const [delegate, setDelegate] = useState('');
  const [starts, setStarts] = useState(today);
  const [ends, setEnds] = useState(today);
  const [classes, setClasses] = useState<string[]>([]);
  const [notice, setNotice] = useState('');
  const action = useAction();
  const [delegations, people, allClasses] = loaded.data ?? [[], [], []];
  const nameOf = (id: string) => people.find((p) => p.id === id)?.display_name ?? (id === person?.id ? person.display_name : id);
  const classNames = (ids: string[] | null) =>
    ids?.length ? ids.map((id) => allClasses.find((c) => c.id === id)?.name ?? id).join(', ') : t('delegation.allClasses');

  const create = (event: Event) => {
    event.preventDefault();
    void action.run(async () => {
      setNotice('');
      await api('POST', '/delegations', {
        delegate_id: delegate,
        starts_on: starts,
        ends_on: ends,
        class_ids: classes.length ? classes : null,
      });
      setNotice(t('delegation.created'));
      setDelegate('');
      setClasses([]);
      loaded.reload();
    });
  };
  const revoke = (id: string) =>
    void action.run(async () => {
      setNotice('');
      await api('POST', `/delegations/${id}/revoke`);
      setNotice(t('delegation.revoked'));
      loaded.reload();
    });

  return (
    <div class="stack">
      <h1>{t('title.delegations')}</h1>
      <p>{t('delegation.intro')}</p>
      <Alert>{loaded.error}</Alert>
      <Alert kind="notice">{notice}</Alert>
      <Alert>{action.error}</Alert>
      <section class="card stack-small" aria-labelledby="current-heading">
        <h2 id="current-heading" class="h3">
          {t('delegation.current')}
        </h2>
        {delegations.length === 0 && <p class="muted">{t('delegation.none')}</p>}
        <ul class="item-list">
          {delegations.map((d) => (
            <li key={d.id} class="item stack-small">
              <p class="item-title">{nameOf(d.delegate_id)}</p>
              <p class="muted">
                {t('delegation.range', { from: formatDate(d.starts_on), to: formatDate(d.ends_on) })} · {classNames(d.class_ids)}
              </p>
              {d.revoked_at ? (
                <p class="muted">{t('delegation.revokedOn', { date: formatDate(d.revoked_at) })}</p>
              ) : (
                <button type="button" class="button button-danger button-small" disabled={action.busy} onClick={() => revoke(d.id)}>
                  {t('delegation.revoke')}
                </button>
              )}
            </li>
          ))}
        </ul>
      </section>
      <form class="card stack-small" onSubmit={create} aria-labelledby="new-heading">
        <h2 id="new-heading" class="h3">
          {t('delegation.new')}
        </h2>
        <div class="field">
          <label for="delegate">{t('delegation.delegate')}</label>
          <select id="delegate" required value={delegate} onChange={(e) => setDelegate(e.currentTarget.value)}>
            <option value="">{t('delegation.choose')}</option>
            {people.map((p) => (
              <option key={p.id} value={p.id}>
                {p.display_name}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="starts">{t('delegation.from')}</label>
          <input id="starts" type="date" required value={starts} onInput={(e) => setStarts(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="ends">{t('delegation.to')}</label>
          <input id="ends" type="date" required min={starts} value={ends} onInput={(e) => setEnds(e.currentTarget.value)} />
        </div>
        {allClasses.length > 0 && (
          <fieldset class="stack-small">
            <legend class="h3">{t('delegation.classes')}</legend>
            <p class="hint">{t('delegation.classesHint')}</p>
            <div class="check-grid">
              {allClasses.map((c) => (
                <label key={c.id} class="check">
                  <input
                    type="checkbox"
                    checked={classes.includes(c.id)}
                    onChange={() => setClasses(classes.includes(c.id) ? classes.filter((x) => x !== c.id) : [...classes, c.id])}
                  />
                  <span>{c.name}</span>
                </label>
              ))}
            </div>
          </fieldset>
        )}
        <button type="submit" class="button" disabled={action.busy || !delegate}>
          {t('delegation.submit')}
        </button>
      </form>
    </div>
  );
}
