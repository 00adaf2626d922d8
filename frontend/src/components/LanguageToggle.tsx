import { LANGS, setLanguage, t, useLang } from '../i18n';

/** One button that switches to the other language, labelled in that language. */
export function LanguageToggle() {
  const current = useLang();
  const other = LANGS.find((code) => code !== current) ?? 'vi';
  return (
    <button type="button" class="link-button" lang={other} onClick={() => void setLanguage(other)}>
      {t(`lang.${other}`)}
    </button>
  );
}
