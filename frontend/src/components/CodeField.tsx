import { t } from '../i18n';

/** A 6-digit one-time code: numeric keypad on phones, filled by the OS from SMS/authenticator when it can. */
export function CodeField({ id, label, value, onInput }: { id: string; label: string; value: string; onInput: (code: string) => void }) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input
        id={id}
        name="code"
        class="code-input"
        inputMode="numeric"
        autoComplete="one-time-code"
        pattern="[0-9]{6}"
        maxLength={6}
        required
        aria-describedby={`${id}-hint`}
        value={value}
        onInput={(event) => onInput(event.currentTarget.value.replace(/\D/g, '').slice(0, 6))}
      />
      <p id={`${id}-hint`} class="hint">
        {t('field.code6')}
      </p>
    </div>
  );
}
