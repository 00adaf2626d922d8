import { useEffect, useMemo, useState } from 'preact/hooks';
import { t } from '../i18n';
import { Alert } from './Alert';

/** The ten one-time recovery codes, shown once; the person confirms they saved them before going on. */
export function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  const [saved, setSaved] = useState(false);
  const [copied, setCopied] = useState(false);
  const text = codes.join('\n') + '\n';
  const download = useMemo(() => URL.createObjectURL(new Blob([text], { type: 'text/plain;charset=utf-8' })), [text]);
  useEffect(() => () => URL.revokeObjectURL(download), [download]);

  async function copy() {
    await navigator.clipboard.writeText(text);
    setCopied(true);
  }

  return (
    <section class="card stack" aria-labelledby="recovery-heading">
      <h2 id="recovery-heading">{t('recovery.heading')}</h2>
      <p>{t('recovery.intro')}</p>
      <ol class="recovery-codes" aria-label={t('recovery.listLabel')}>
        {codes.map((code) => (
          <li key={code}>
            <code>{code}</code>
          </li>
        ))}
      </ol>
      <div class="row">
        {'clipboard' in navigator && (
          <button type="button" class="button button-secondary" onClick={() => void copy()}>
            {t('recovery.copy')}
          </button>
        )}
        <a class="button button-secondary" href={download} download={t('recovery.fileName')}>
          {t('recovery.download')}
        </a>
      </div>
      <Alert kind="notice">{copied && t('recovery.copied')}</Alert>
      <label class="check">
        <input type="checkbox" checked={saved} onChange={(event) => setSaved(event.currentTarget.checked)} />
        <span>{t('recovery.saved')}</span>
      </label>
      <button type="button" class="button" disabled={!saved} onClick={onDone}>
        {t('recovery.continue')}
      </button>
    </section>
  );
}
