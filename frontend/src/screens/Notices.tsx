import { api } from '../api/client';
import type { Notice } from '../api/types';
import { Alert } from '../components/Alert';
import { hasMessage, t } from '../i18n';
import { formatDateTime } from '../lib/format';
import { useLoad } from '../lib/useLoad';
import { navigate } from '../router';

export function noticeText(notice: Notice): string {
  const key = `notice.${notice.kind}`;
  const params = { count: notice.count, subject: notice.subject ?? '' };
  return hasMessage(key) ? t(key, params) : notice.kind;
}

/** My notices, newest first; opening one marks it read. */
export default function Notices() {
  const loaded = useLoad(() => api<Notice[]>('GET', '/notices'));
  const open = (notice: Notice) => (event: Event) => {
    event.preventDefault();
    void api('POST', `/notices/${notice.id}/read`).finally(() =>
      navigate(notice.url.startsWith('/') && !notice.url.startsWith('//') ? notice.url : '/'),
    );
  };
  return (
    <div class="stack">
      <h1>{t('title.notices')}</h1>
      <Alert>{loaded.error}</Alert>
      {!loaded.data && !loaded.error && <p class="muted">{t('app.loading')}</p>}
      {loaded.data?.length === 0 && (
        <div class="card empty-state">
          <p>{t('notices.empty')}</p>
        </div>
      )}
      {loaded.data && loaded.data.length > 0 && (
        <ul class="item-list card">
          {loaded.data.map((notice) => (
            <li key={notice.id} class="item">
              <a href={notice.url} onClick={open(notice)} class={notice.read_at ? '' : 'unread'}>
                {noticeText(notice)}
              </a>
              <p class="muted">
                {formatDateTime(notice.created_at)}
                {!notice.read_at && <span class="badge">{t('notices.new')}</span>}
              </p>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
