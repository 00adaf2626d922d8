import { t } from '../i18n';
import { online } from '../lib/network';
import { useStore } from '../lib/store';

export function OfflineBanner() {
  const isOnline = useStore(online);
  return (
    <div role="status" class={isOnline ? 'visually-hidden' : 'offline-banner'}>
      {isOnline ? '' : t('offline.banner')}
    </div>
  );
}
