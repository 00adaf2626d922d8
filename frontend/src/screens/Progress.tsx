import { useEffect, useState } from 'preact/hooks';
import { api } from '../api/client';
import type { Progress } from '../api/types';
import { Alert } from '../components/Alert';
import { t } from '../i18n';
import { errorMessage } from '../lib/errors';
import { formatNumber } from '../lib/format';
import { type FailureReason, failureReasons } from '../lib/workflow';
import type { ScreenProps } from '../router';

const POLL_MS = 1000;

export const percent = (p: Pick<Progress, 'done' | 'failed' | 'total'>): number =>
  p.total === 0 ? 100 : Math.floor(((p.done + p.failed) * 100) / p.total);


/** The signing that follows an approval: done / failed / total, polled until every document is through. */
export default function ProgressScreen({ params, query }: ScreenProps) {
  const id = params['id'] ?? '';
  const [progress, setProgress] = useState<Progress | null>(null);
  const [error, setError] = useState('');
  const [why, setWhy] = useState<FailureReason[]>([]);
  const finished = !!progress && progress.done + progress.failed >= progress.total;
  const failedAtEnd = finished && progress.failed > 0;

  useEffect(() => {
    if (!failedAtEnd) return;
    let live = true;
    api<Progress>('GET', `/approvals/${id}`)
      .then((full) => live && setWhy(failureReasons(full.items)))
      .catch(() => undefined); // the counts are shown anyway; the reasons are a help
    return () => {
      live = false;
    };
  }, [id, failedAtEnd]);

  useEffect(() => {
    let live = true;
    let timer = 0;
    const poll = async () => {
      try {
        const next = await api<Progress>('GET', `/approvals/${id}?items=false`);
        if (!live) return;
        setError('');
        setProgress(next);
        if (next.done + next.failed >= next.total) return;
      } catch (failure) {
        if (live) setError(errorMessage(failure));
      }
      if (live) timer = window.setTimeout(() => void poll(), POLL_MS);
    };
    void poll();
    return () => {
      live = false;
      window.clearTimeout(timer);
    };
  }, [id]);

  const className = query.get('class');
  const pct = progress ? percent(progress) : 0;
  return (
    <div class="stack">
      <h1>{t('title.progress')}</h1>
      {className && <p class="lead">{t('progress.class', { name: className })}</p>}
      <Alert>{error}</Alert>
      {!progress && !error && <p class="muted">{t('app.loading')}</p>}
      {progress && (
        <section class="card stack" aria-labelledby="progress-heading">
          <h2 id="progress-heading" class="h3">
            {!finished
              ? t('progress.running')
              : progress.done === 0 && progress.failed > 0
                ? t('progress.finishedNone')
                : t('progress.finished')}
          </h2>
          <div
            class="bar"
            role="progressbar"
            aria-label={t('title.progress')}
            aria-valuemin={0}
            aria-valuemax={100}
            aria-valuenow={pct}
          >
            <div class="bar-fill" style={{ width: `${pct}%` }} />
          </div>
          <p class="big-number" aria-live="polite">
            {t('progress.percent', { pct: formatNumber(pct) })}
          </p>
          <dl class="counts">
            <div>
              <dt>{t('progress.done')}</dt>
              <dd>{formatNumber(progress.done)}</dd>
            </div>
            <div>
              <dt>{t('progress.failed')}</dt>
              <dd>{formatNumber(progress.failed)}</dd>
            </div>
            <div>
              <dt>{t('progress.total')}</dt>
              <dd>{formatNumber(progress.total)}</dd>
            </div>
          </dl>
          {progress.failed > 0 && (
            <div class="alert alert-error">
              <p>{t('progress.failedHint')}</p>
              {why.length > 0 && (
                <ul aria-label={t('progress.reasons')}>
                  {why.map((r) => (
                    <li key={r.text}>
                      {r.text} ({formatNumber(r.count)})
                    </li>
                  ))}
                </ul>
              )}
            </div>
          )}
        </section>
      )}
      {finished && (
        <div class="row">
          <a class="button" href="/history">
            {t('title.history')}
          </a>
          <a class="button button-secondary" href="/">
            {t('nav.home')}
          </a>
        </div>
      )}
    </div>
  );
}
