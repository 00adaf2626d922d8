import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from '../api/client';
import type { CreationOptions, Enrolled, Invitation, TotpEnrolment } from '../api/types';
import { createPasskey, deviceLabel, passkeysSupported } from '../api/webauthn';
import { Alert } from '../components/Alert';
import { CodeField } from '../components/CodeField';
import { RecoveryCodes } from '../components/RecoveryCodes';
import { t } from '../i18n';
import { errorMessage } from '../lib/errors';
import { formatDateTime } from '../lib/format';
import { signedIn } from '../lib/session';
import { svgDataUrl } from '../lib/svg';
import { useAction } from '../lib/useAction';
import { navigate, type ScreenProps } from '../router';

type Step = { kind: 'choose' } | { kind: 'totp'; enrolment: TotpEnrolment } | { kind: 'done'; codes: string[] };

/** The invitation link a teacher opens on their phone: create a passkey (or TOTP), keep the recovery codes. */
export default function Enrol({ params }: ScreenProps) {
  const token = params.token ?? '';
  const base = `/invitations/${encodeURIComponent(token)}`;
  const [invitation, setInvitation] = useState<Invitation | null>(null);
  const [loadError, setLoadError] = useState<{ message: string; used: boolean } | null>(null);
  const [step, setStep] = useState<Step>({ kind: 'choose' });
  const action = useAction();

  useEffect(() => {
    api<Invitation>('GET', base).then(setInvitation, (error) =>
      setLoadError({ message: errorMessage(error), used: error instanceof ApiError && error.code === 'invitation.used' }),
    );
  }, [base]);

  function finish(result: Enrolled) {
    signedIn(result.person);
    setStep({ kind: 'done', codes: result.recovery_codes });
  }

  const withPasskey = () =>
    action.run(async () => {
      const { publicKey } = await api<CreationOptions>('POST', `${base}/passkey/options`);
      const credential = await createPasskey(publicKey);
      const name = deviceLabel(navigator.userAgent);
      finish(await api<Enrolled>('POST', `${base}/passkey`, { credential, ...(name && { device_name: name }) }));
    });

  const startTotp = () =>
    action.run(async () => {
      setStep({ kind: 'totp', enrolment: await api<TotpEnrolment>('POST', `${base}/totp/options`) });
    });

  if (loadError)
    return (
      <div class="stack">
        <h1>{t('title.enrol')}</h1>
        <Alert>{loadError.message}</Alert>
        {loadError.used && (
          <a class="button" href="/signin">
            {t('enrol.signin')}
          </a>
        )}
      </div>
    );

  return (
    <div class="stack">
      <h1>{invitation ? t('enrol.greeting', { name: invitation.person_name }) : t('title.enrol')}</h1>
      {!invitation && <p class="muted">{t('app.loading')}</p>}
      {invitation && step.kind !== 'done' && (
        <>
          {invitation.school_name && <p class="lead">{t('enrol.school', { school: invitation.school_name })}</p>}
          <p>{t('enrol.intro')}</p>
          <p class="muted">{t('enrol.expires', { when: formatDateTime(invitation.expires_at) })}</p>
        </>
      )}
      {invitation && step.kind === 'choose' && (
        <div class="card stack">
          {passkeysSupported() && invitation.methods.includes('passkey') && (
            <>
              <button type="button" class="button button-large" disabled={action.busy} onClick={() => void withPasskey()}>
                {t('enrol.passkey')}
              </button>
              <p class="hint">{t('enrol.passkeyHint')}</p>
            </>
          )}
          <Alert kind="notice">{action.busy && t('enrol.working')}</Alert>
          <Alert>{action.error}</Alert>
          {invitation.methods.includes('totp') && (
            <button type="button" class="link-button" disabled={action.busy} onClick={() => void startTotp()}>
              {t('enrol.useTotp')}
            </button>
          )}
        </div>
      )}
      {step.kind === 'totp' && (
        <TotpSetup base={base} enrolment={step.enrolment} onEnrolled={finish} onBack={() => setStep({ kind: 'choose' })} />
      )}
      {step.kind === 'done' && <RecoveryCodes codes={step.codes} onDone={() => navigate('/', { replace: true })} />}
    </div>
  );
}

function secretOf(uri: string): string {
  const secret = new URL(uri).searchParams.get('secret') ?? '';
  return secret.replace(/(.{4})(?=.)/g, '$1 ');
}

function TotpSetup({
  base,
  enrolment,
  onEnrolled,
  onBack,
}: {
  base: string;
  enrolment: TotpEnrolment;
  onEnrolled: (result: Enrolled) => void;
  onBack: () => void;
}) {
  const [code, setCode] = useState('');
  const action = useAction();
  const qr = svgDataUrl(enrolment.qr_svg);

  const submit = (event: Event) => {
    event.preventDefault();
    void action.run(async () => {
      onEnrolled(await api<Enrolled>('POST', `${base}/totp`, { enrolment_id: enrolment.enrolment_id, code }));
    });
  };

  return (
    <section class="card stack" aria-labelledby="totp-heading">
      <h2 id="totp-heading">{t('totp.heading')}</h2>
      <p>{t('totp.step1')}</p>
      <img class="qr" src={qr} alt={t('totp.qrAlt')} width={240} height={240} />
      <p>{t('totp.step2')}</p>
      <p>
        <span class="visually-hidden">{t('totp.secret')}: </span>
        <code class="secret">
          {secretOf(enrolment.otpauth_uri)}
        </code>
      </p>
      <form class="stack" onSubmit={submit} noValidate>
        <p>{t('totp.step3')}</p>
        <CodeField id="totp-code" label={t('totp.code')} value={code} onInput={setCode} />
        <Alert>{action.error}</Alert>
        <button type="submit" class="button" disabled={action.busy || code.length !== 6}>
          {t('totp.confirm')}
        </button>
      </form>
      <button type="button" class="link-button" onClick={onBack}>
        {t('enrol.usePasskey')}
      </button>
    </section>
  );
}
