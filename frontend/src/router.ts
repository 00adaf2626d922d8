import type { ComponentType } from 'preact';
import type { MessageKey } from './i18n';
import { createStore } from './lib/store';

export type RouteParams = Record<string, string>;
export interface ScreenProps {
  params: RouteParams;
  query: URLSearchParams;
}
type Loader = () => Promise<{ default: ComponentType<ScreenProps> }>;

export interface Route {
  pattern: string;
  title: MessageKey;
  auth: boolean;
  load: Loader;
}

/** Every screen is its own chunk: the first screen downloads only what it shows. */
export const ROUTES: Route[] = [
  { pattern: '/', title: 'title.home', auth: true, load: () => import('./screens/Home') },
  { pattern: '/signin', title: 'title.signin', auth: false, load: () => import('./screens/SignIn') },
  { pattern: '/enrol/:token', title: 'title.enrol', auth: false, load: () => import('./screens/Enrol') },
  { pattern: '/settings/devices', title: 'title.devices', auth: true, load: () => import('./screens/Devices') },
  { pattern: '/inbox', title: 'title.home', auth: true, load: () => import('./screens/Home') },
  { pattern: '/inbox/:classId', title: 'title.inbox', auth: true, load: () => import('./screens/ClassInbox') },
  { pattern: '/documents/:id', title: 'title.document', auth: true, load: () => import('./screens/Document') },
  { pattern: '/approvals/:id', title: 'title.progress', auth: true, load: () => import('./screens/Progress') },
  { pattern: '/history', title: 'title.history', auth: true, load: () => import('./screens/History') },
  { pattern: '/notices', title: 'title.notices', auth: true, load: () => import('./screens/Notices') },
  { pattern: '/school', title: 'title.school', auth: true, load: () => import('./screens/School') },
  { pattern: '/usage', title: 'title.usage', auth: true, load: () => import('./screens/Usage') },
  { pattern: '/district', title: 'title.district', auth: true, load: () => import('./screens/District') },
  { pattern: '/operator', title: 'title.operator', auth: true, load: () => import('./screens/Operator') },
  { pattern: '/delegations', title: 'title.delegations', auth: true, load: () => import('./screens/Delegations') },
  { pattern: '/admin/upload', title: 'title.upload', auth: true, load: () => import('./screens/Upload') },
  { pattern: '/admin/roster', title: 'title.roster', auth: true, load: () => import('./screens/Roster') },
  { pattern: '/admin/invitations', title: 'title.invitations', auth: true, load: () => import('./screens/Invitations') },
  { pattern: '/admin/blocked', title: 'title.blocked', auth: true, load: () => import('./screens/Blocked') },
  { pattern: '/admin/api-clients', title: 'title.apiClients', auth: true, load: () => import('./screens/ApiClients') },
];
export const NOT_FOUND: Route = {
  pattern: '*',
  title: 'title.notFound',
  auth: false,
  load: () => import('./screens/NotFound'),
};

export function match(path: string, routes: Route[] = ROUTES): { route: Route; params: RouteParams } {
  const parts = path.replace(/\/+$/, '').split('/').slice(1);
  for (const route of routes) {
    const want = route.pattern.replace(/\/+$/, '').split('/').slice(1);
    if (want.length !== parts.length) continue;
    const params: RouteParams = {};
    const ok = want.every((segment, i) => {
      const part = parts[i] ?? '';
      if (segment.startsWith(':')) {
        params[segment.slice(1)] = decodeURIComponent(part);
        return part !== '';
      }
      return segment === part;
    });
    if (ok) return { route, params };
  }
  return { route: NOT_FOUND, params: {} };
}

export interface Location {
  path: string;
  query: URLSearchParams;
}

const here = (): Location => ({ path: window.location.pathname, query: new URLSearchParams(window.location.search) });
export const location = createStore<Location>({ path: '/', query: new URLSearchParams() });

export function navigate(to: string, { replace = false } = {}): void {
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  location.set(here());
}

/** Same-origin links become client-side navigation; everything else behaves as the browser would. */
function onClick(event: MouseEvent): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey)
    return;
  const anchor = (event.target as Element | null)?.closest?.('a');
  if (!anchor || anchor.target || anchor.hasAttribute('download') || anchor.origin !== window.location.origin) return;
  if (anchor.pathname.startsWith('/api/')) return;
  if (anchor.hash && anchor.pathname === window.location.pathname) return; // in-page jump (skip link)
  event.preventDefault();
  if (anchor.pathname + anchor.search !== window.location.pathname + window.location.search)
    navigate(anchor.pathname + anchor.search);
}

export function startRouter(): void {
  location.set(here());
  window.addEventListener('popstate', () => location.set(here()));
  document.addEventListener('click', onClick);
}
