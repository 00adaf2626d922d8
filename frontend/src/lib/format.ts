import { locale, t } from '../i18n';

function toDate(value: string | Date): Date {
  return typeof value === 'string' ? new Date(value) : value;
}

/** dd/MM/yyyy in both languages (Vietnamese convention). */
export function formatDate(value: string | Date, loc: string = locale()): string {
  return new Intl.DateTimeFormat(loc, { day: '2-digit', month: '2-digit', year: 'numeric' }).format(
    toDate(value),
  );
}

export function formatTime(value: string | Date, loc: string = locale()): string {
  return new Intl.DateTimeFormat(loc, { hour: '2-digit', minute: '2-digit', hour12: false }).format(
    toDate(value),
  );
}

export function formatDateTime(value: string | Date): string {
  return t('format.datetime', { date: formatDate(value), time: formatTime(value) });
}

export function formatNumber(value: number, loc: string = locale()): string {
  return new Intl.NumberFormat(loc).format(value);
}

/** The Vietnamese school year a day falls in ("2026-2027" from August 2026 to July 2027), as the
 * server's `current_school_year` counts it. */
export function schoolYearOf(day: Date): string {
  const start = day.getMonth() >= 7 ? day.getFullYear() : day.getFullYear() - 1;
  return `${start}-${start + 1}`;
}
