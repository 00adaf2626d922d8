import { useEffect, useState } from 'preact/hooks';
import { Alert } from './Alert';
import { t } from '../i18n';
import { useAction } from '../lib/useAction';
import { currentSubscription, PushDenied, pushSupported, subscribe, unsubscribe } from '../lib/push';

/** Settings: "tell me when transcripts are waiting" (one notification per batch, not per document). */
export function PushOptIn() {
  const [on, setOn] = useState<boolean | null>(null);
  const [notice, setNotice] = useState('');
  const [denied, setDenied] = useState('');
  const action = useAction();
  useEffect(() => {
    void currentSubscription().then((s) => setOn(!!s), () => setOn(false));
  }, []);

  const toggle = () =>
    void action.run(async () => {
      setNotice('');
      setDenied('');
      try {
        await (on ? unsubscribe() : subscribe());
        setOn(!on);
        setNotice(on ? t('push.off') : t('push.on'));
      } catch (failure) {
        if (failure instanceof Error && failure.name === 'ApiError') throw failure;
        setDenied(failure instanceof PushDenied ? t('push.denied') : t('push.failed'));
      }
    });

  return (
    <section class="card stack-small" aria-labelledby="push-heading">
      <h2 id="push-heading">{t('push.heading')}</h2>
      <p>{t('push.intro')}</p>
      {!pushSupported() ? (
        <p class="muted">{t('push.unsupported')}</p>
      ) : (
        <>
          <p>{on === null ? t('app.loading') : on ? t('push.stateOn') : t('push.stateOff')}</p>
          <Alert kind="notice">{notice}</Alert>
          <Alert>{denied || action.error}</Alert>
          <button type="button" class="button button-secondary" disabled={action.busy || on === null} onClick={toggle}>
            {on ? t('push.disable') : t('push.enable')}
          </button>
        </>
      )}
    </section>
  );
}
