import { useEffect, useState } from 'preact/hooks';
import type { ComponentType } from 'preact';
import type { Me } from './api/types';
import { Header } from './components/Header';
import { LanguageToggle } from './components/LanguageToggle';
import { OfflineBanner } from './components/OfflineBanner';
import { t, useLang } from './i18n';
import { me } from './lib/session';
import { useStore } from './lib/store';
import { location, match, navigate, type Route, type RouteParams, type ScreenProps } from './router';

let navigations = 0; // the first screen keeps the browser's focus; later ones move it to their heading

function focusHeading(): void {
  const heading = document.querySelector<HTMLElement>('main h1');
  if (!heading) return;
  heading.setAttribute('tabindex', '-1');
  heading.focus();
}

function Screen({ route, params, query }: { route: Route; params: RouteParams; query: URLSearchParams }) {
  const [Component, setComponent] = useState<ComponentType<ScreenProps> | null>(null);
  const [failed, setFailed] = useState(false);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let live = true;
    setFailed(false);
    route.load().then(
      (module) => live && setComponent(() => module.default),
      () => live && setFailed(true),
    );
    return () => {
      live = false;
    };
  }, [route, attempt]);

  useEffect(() => {
    if (Component && navigations++ > 0) focusHeading();
  }, [Component]);

  if (failed)
    return (
      <div class="stack">
        <p role="alert" class="alert alert-error">
          {t('app.screenFailed')}
        </p>
        <button type="button" class="button" onClick={() => setAttempt(attempt + 1)}>
          {t('app.retry')}
        </button>
      </div>
    );
  if (!Component) return <p class="muted">{t('app.loading')}</p>;
  return <Component params={params} query={query} />;
}

/** Staff pages, shown only to the roles they are for: the operator console, the district dashboard. */
function StaffNav({ person, path }: { person: Me | null; path: string }) {
  const roles = new Set(person?.roles.map((r) => r.role));
  const links = [
    ...(roles.has('operator') ? [{ href: '/operator', label: t('title.operator') }] : []),
    ...(roles.has('district_admin') ? [{ href: '/district', label: t('title.district') }] : []),
  ];
  if (links.length === 0) return null;
  return (
    <nav class="header" aria-label={t('nav.staff')}>
      <ul class="nav">
        {links.map(({ href, label }) => (
          <li key={href}>
            <a href={href} aria-current={path === href ? 'page' : undefined}>
              {label}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}

export function App() {
  useLang(); // a language switch re-renders everything
  const { path, query } = useStore(location);
  const person = useStore(me);
  const { route, params } = match(path);
  const mustSignIn = route.auth && person === null;

  useEffect(() => {
    document.title = `${t(route.title)} — ${t('app.name')}`;
  });

  useEffect(() => {
    // effects run after paint: skip when the app has moved on meanwhile (e.g. to /signin after signing out)
    if (!mustSignIn || location.get().path !== path) return;
    navigate(`/signin?next=${encodeURIComponent(path + (query.size ? `?${query}` : ''))}`, { replace: true });
  }, [mustSignIn, path, query]);

  const waiting = route.auth && person === undefined;
  return (
    <>
      <a class="skip-link" href="#main">
        {t('app.skip')}
      </a>
      <Header person={person ?? null} path={path} />
      <StaffNav person={person ?? null} path={path} />
      <OfflineBanner />
      <main id="main" tabIndex={-1}>
        {waiting && <p class="muted">{t('app.loading')}</p>}
        {!waiting && !mustSignIn && <Screen key={path} route={route} params={params} query={query} />}
      </main>
      <footer class="footer">
        <LanguageToggle />
      </footer>
    </>
  );
}
