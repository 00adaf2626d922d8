import type { Me } from '../api/types';
import { t } from '../i18n';

const LINKS = [
  { href: '/', label: 'nav.home' },
  { href: '/settings/devices', label: 'nav.settings' },
] as const;

export function Header({ person, path }: { person: Me | null; path: string }) {
  return (
    <header class="header">
      <a class="brand" href="/">
        <img src="/icons/favicon-48.png" alt="" width={28} height={28} />
        <span>{t('app.name')}</span>
      </a>
      {person && (
        <nav aria-label={t('nav.label')}>
          <ul class="nav">
            {LINKS.map(({ href, label }) => (
              <li key={href}>
                <a href={href} aria-current={path === href ? 'page' : undefined}>
                  {t(label)}
                </a>
              </li>
            ))}
          </ul>
        </nav>
      )}
    </header>
  );
}
