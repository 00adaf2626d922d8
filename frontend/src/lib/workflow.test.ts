import { describe, expect, it } from 'vitest';
import type { Doc, Me } from '../api/types';
import { classState, failureReasons, groupByClass, previewWidth, signedBy } from './workflow';

const doc = (over: Partial<Doc>): Doc =>
  ({ id: 'd', class_id: 'c', class_name: '3A', status: 'waiting', step: 1, teacher_id: 't', principal_id: 'p', ...over }) as Doc;

describe('workflow helpers', () => {
  it('groups by class in natural order', () => {
    const groups = groupByClass([
      doc({ id: '1', class_id: 'x', class_name: '10A' }),
      doc({ id: '2', class_id: 'y', class_name: '2B' }),
      doc({ id: '3', class_id: 'x', class_name: '10A' }),
    ]);
    expect(groups.map((g) => [g.className, g.docs.length])).toEqual([
      ['2B', 1],
      ['10A', 2],
    ]);
  });

  it('knows what a person signed', () => {
    const teacher = { id: 't' } as Me;
    expect(signedBy(teacher, doc({ step: 1 }))).toBe(false);
    expect(signedBy(teacher, doc({ step: 2 }))).toBe(true);
    expect(signedBy(teacher, doc({ status: 'completed', step: 3 }))).toBe(true);
    expect(signedBy({ id: 'p' } as Me, doc({ step: 2 }))).toBe(false);
  });

  it('says where a class stands', () => {
    expect(classState(doc({ step: 2 }))).toBe('me');
    expect(classState(doc({ status: 'blocked', step: 0 }))).toBe('blocked');
    expect(classState(doc({ status: 'completed', step: 3 }))).toBe('done');
  });

  it('sizes previews for the phone', () => {
    expect(previewWidth(393, 2.75)).toBe(1100);
    expect(previewWidth(100, 1)).toBe(400);
  });
});

describe('failure reasons', () => {
  const item = (status: string, code: string | null, message: string | null = null) => ({
    document_id: 'd',
    status,
    failure_code: code,
    failure_message: message,
  });

  it('counts each reason once, most frequent first, in words we have, else the server message', () => {
    const reasons = failureReasons([
      item('done', null),
      item('failed', 'approval.document_changed'),
      item('failed', 'billing.quota_exceeded'),
      item('failed', 'billing.quota_exceeded'),
      item('failed', 'hsm.unavailable', 'The HSM did not answer.'),
    ]);
    expect(reasons.map((r) => r.count)).toEqual([2, 1, 1]);
    expect(reasons[0]?.text).toMatch(/lượt ký/);
    expect(reasons.map((r) => r.text)).toContain('The HSM did not answer.');
  });
});
