import { describe, expect, it } from 'vitest';
import { formatDate, formatNumber, formatTime, schoolYearOf } from './format';

const noon = '2026-08-12T05:00:00Z'; // 12:00 in Hà Nội, the same calendar day everywhere from UTC-4 to UTC+14

describe('formatting', () => {
  it('writes dates as dd/MM/yyyy in both languages', () => {
    expect(formatDate(noon, 'vi-VN')).toBe('12/08/2026');
    expect(formatDate(noon, 'en-GB')).toBe('12/08/2026');
  });

  it('names the school year a day falls in, which starts in August', () => {
    expect(schoolYearOf(new Date(2026, 10, 23))).toBe('2026-2027');
    expect(schoolYearOf(new Date(2026, 7, 1))).toBe('2026-2027');
    expect(schoolYearOf(new Date(2026, 6, 31))).toBe('2025-2026');
    expect(schoolYearOf(new Date(2027, 0, 5))).toBe('2026-2027');
  });

  it('writes times on a 24-hour clock', () => {
    expect(formatTime(new Date(2026, 7, 12, 17, 5), 'vi-VN')).toBe('17:05');
  });

  it('groups thousands with a dot in Vietnamese', () => {
    expect(formatNumber(34911, 'vi-VN')).toBe('34.911');
  });
});
