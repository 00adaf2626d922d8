import { describe, expect, it } from 'vitest';
import { match, NOT_FOUND } from './router';

describe('match', () => {
  it('finds screens and their parameters', () => {
    expect(match('/').route.pattern).toBe('/');
    expect(match('/settings/devices/').route.pattern).toBe('/settings/devices');
    const enrol = match('/enrol/abc.DEF-12');
    expect(enrol.route.pattern).toBe('/enrol/:token');
    expect(enrol.params).toEqual({ token: 'abc.DEF-12' });
  });

  it('falls back to not found', () => {
    expect(match('/enrol').route).toBe(NOT_FOUND);
    expect(match('/nope/nope').route).toBe(NOT_FOUND);
  });
});
