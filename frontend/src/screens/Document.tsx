import { useState } from 'preact/hooks';
import { api } from '../api/client';
import type { Doc } from '../api/types';
import { Alert } from '../components/Alert';
import { hasMessage, t } from '../i18n';
import { flash } from '../lib/flash';
import { formatNumber } from '../lib/format';
import { me } from '../lib/session';
import { useStore } from '../lib/store';
import { useAction } from '../lib/useAction';
import { useLoad } from '../lib/useLoad';
import { approve, isPrincipal, previewWidth } from '../lib/workflow';
import { navigate, type ScreenProps } from '../router';

/** The server renders each page as a PNG this wide; the service worker keeps it for offline. */
export const pageUrl = (id: string, page: number, width: number): string =>
  '/api/v1/documents/' + encodeURIComponent(id) + '/pages/' + String(page) + '.png?width=' + String(width);

export function statusLabel(doc: Doc): string {
  const key = `status.${doc.status}${doc.status === 'waiting' ? doc.step : ''}`;
  return hasMessage(key) ? t(key) : doc.status;
}

/** One transcript: its pages (server-rendered PNGs, cached for offline), approve it or send it back. */
export default function DocumentScreen({ params }: ScreenProps) {
  const id = params['id'] ?? '';
  const person = useStore(me);
  const loaded = useLoad(() => api<Doc>('GET', `/documents/${id}`), [id]);
  const [page, setPage] = useState(1);
  const [zoom, setZoom] = useState(1);
  const [rejecting, setRejecting] = useState(false);
  const [reason, setReason] = useState('');
  const action = useAction();
  const doc = loaded.data;
  const width = previewWidth(Math.min(window.innerWidth, 640), window.devicePixelRatio || 1);

  const mine =
    !!doc &&
    !!person &&
    doc.status === 'waiting' &&
    ((doc.step === 1 && doc.teacher_id === person.id) || (doc.step === 2 && isPrincipal(person)));

  const approveOne = () =>
    void action.run(async () => {
      const approvalId = await approve({ document_ids: [id] });
      navigate(`/approvals/${approvalId}?class=${encodeURIComponent(doc?.class_name ?? '')}`);
    });

  const reject = (event: Event) => {
    event.preventDefault();
    void action.run(async () => {
      await api<Doc>('POST', `/documents/${id}/reject`, { reason: reason.trim() });
      flash.set(t('document.rejected', { name: doc?.student_name ?? '' }));
      navigate('/');
    });
  };

  return (
    <div class="stack">
      <p>
        <a href={doc?.class_id ? `/inbox/${doc.class_id}` : '/'}>{t('nav.back')}</a>
      </p>
      <Alert>{loaded.error}</Alert>
      {!doc && !loaded.error && <p class="muted">{t('app.loading')}</p>}
      {doc && (
        <>
          <div>
            <h1>{doc.student_name ?? doc.filename}</h1>
            <p class="muted">
              {t('document.meta', { class: doc.class_name ?? '—', year: doc.school_year ?? '—', code: doc.student_code ?? '—' })}
            </p>
            {doc.personal_id_masked && <p class="muted">{t('document.personalId', { id: doc.personal_id_masked })}</p>}
            <p>
              <span class="badge badge-status">{statusLabel(doc)}</span>
            </p>
          </div>
          <section class="stack-small" aria-labelledby="preview-heading">
            <h2 id="preview-heading" class="visually-hidden">
              {t('document.preview')}
            </h2>
            <div class="preview" tabIndex={0} aria-label={t('document.previewHint')}>
              <img
                key={`${page}-${width}`}
                src={pageUrl(id, page, width)}
                alt={t('document.pageAlt', { page, pages: doc.pages, name: doc.student_name ?? '' })}
                style={{ width: `${zoom * 100}%` }}
              />
            </div>
            <div class="row pager">
              {doc.pages > 1 && (
                <button type="button" class="button button-secondary button-small" disabled={page <= 1} onClick={() => setPage(page - 1)}>
                  {t('document.prev')}
                </button>
              )}
              <p aria-live="polite">{t('document.page', { page: formatNumber(page), pages: formatNumber(doc.pages) })}</p>
              {doc.pages > 1 && (
                <button
                  type="button"
                  class="button button-secondary button-small"
                  disabled={page >= doc.pages}
                  onClick={() => setPage(page + 1)}
                >
                  {t('document.next')}
                </button>
              )}
              <button
                type="button"
                class="button button-secondary button-small"
                aria-pressed={zoom > 1}
                onClick={() => setZoom(zoom > 1 ? 1 : 2)}
              >
                {zoom > 1 ? t('document.zoomOut') : t('document.zoomIn')}
              </button>
            </div>
          </section>
          {(doc.blocked_message || doc.rejected_reason) && (
            <p class="alert alert-error">{doc.blocked_message ?? doc.rejected_reason}</p>
          )}
          {mine && (
            <section class="card stack-small" aria-labelledby="decide-heading">
              <h2 id="decide-heading" class="h3">
                {t('document.decide')}
              </h2>
              <Alert kind="notice">{action.busy && t('approve.working')}</Alert>
              <Alert>{action.error}</Alert>
              {!rejecting && (
                <div class="row">
                  <button type="button" class="button" disabled={action.busy} onClick={approveOne}>
                    {t('document.approve')}
                  </button>
                  <button type="button" class="button button-danger" disabled={action.busy} onClick={() => setRejecting(true)}>
                    {t('document.reject')}
                  </button>
                </div>
              )}
              {rejecting && (
                <form class="stack-small" onSubmit={reject}>
                  <div class="field">
                    <label for="reject-reason">{t('document.reason')}</label>
                    <p id="reject-reason-hint" class="hint">
                      {t('document.reasonHint')}
                    </p>
                    <textarea
                      id="reject-reason"
                      required
                      minLength={3}
                      maxLength={2000}
                      rows={3}
                      aria-describedby="reject-reason-hint"
                      value={reason}
                      onInput={(event) => setReason(event.currentTarget.value)}
                    />
                  </div>
                  <div class="row">
                    <button type="submit" class="button button-danger" disabled={action.busy || reason.trim().length < 3}>
                      {t('document.rejectSend')}
                    </button>
                    <button type="button" class="button button-secondary" onClick={() => setRejecting(false)}>
                      {t('devices.cancel')}
                    </button>
                  </div>
                </form>
              )}
            </section>
          )}
        </>
      )}
    </div>
  );
}
