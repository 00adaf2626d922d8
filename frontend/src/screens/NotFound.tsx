import { t } from '../i18n';

export default function NotFound() {
  return (
    <div class="stack">
      <h1>{t('title.notFound')}</h1>
      <p>{t('notFound.body')}</p>
      <a href="/">{t('notFound.home')}</a>
    </div>
  );
}
