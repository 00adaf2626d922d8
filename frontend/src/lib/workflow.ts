import { api } from '../api/client';
import type { ApprovalCreated, Doc, Me, Progress } from '../api/types';
import { getPasskey } from '../api/webauthn';
import { hasMessage, t } from '../i18n';

export type Selection = { document_ids: string[] } | { class_id: string } | { all_ready: true };

/**
 * Approve a selection with ONE passkey prompt: the server builds the manifest of every document and a
 * challenge over it; one assertion approves them all. Resolves to the approval id (for its progress).
 */
export async function approve(selection: Selection): Promise<string> {
  const created = await api<ApprovalCreated>('POST', '/approvals', selection);
  const credential = await getPasskey(created.publicKey);
  await api<Progress>('POST', `/approvals/${created.id}/passkey`, { credential });
  return created.id;
}

export const isPrincipal = (person: Me): boolean =>
  person.roles.some((r) => r.role === 'principal' || r.role === 'vice_principal');
export const isAdmin = (person: Me): boolean => person.roles.some((r) => r.role === 'clerk' || r.role === 'school_admin');
export const isTeacher = (person: Me): boolean =>
  person.roles.some((r) => r.role === 'teacher' || r.role === 'homeroom_teacher');

export interface ClassGroup {
  key: string;
  classId: string | null;
  className: string;
  docs: Doc[];
}

/** Documents grouped by class, classes in natural order (1A, 2B, 10A). */
export function groupByClass(docs: Doc[]): ClassGroup[] {
  const groups = new Map<string, ClassGroup>();
  for (const doc of docs) {
    const key = doc.class_id ?? doc.class_name ?? '';
    let group = groups.get(key);
    if (!group) {
      group = { key, classId: doc.class_id, className: doc.class_name ?? '—', docs: [] };
      groups.set(key, group);
    }
    group.docs.push(doc);
  }
  const collator = new Intl.Collator('vi', { numeric: true });
  return [...groups.values()].sort((a, b) => collator.compare(a.className, b.className));
}

/** Every document of the school (the API pages by 1000). */
export async function allDocuments(query = ''): Promise<Doc[]> {
  const out: Doc[] = [];
  for (let offset = 0; ; offset += 1000) {
    const page = await api<Doc[]>('GET', `/documents?limit=1000&offset=${offset}${query}`);
    out.push(...page);
    if (page.length < 1000) return out;
  }
}

/** What I signed: my step of the chain is behind the document. */
export function signedBy(person: Me, doc: Doc): boolean {
  const done = doc.status === 'completed';
  if (doc.teacher_id === person.id && (doc.step > 1 || done)) return true;
  return doc.principal_id === person.id && (doc.step > 2 || done);
}

export type ClassState = 'teacher' | 'me' | 'done' | 'blocked' | 'signing';

export function classState(doc: Doc): ClassState {
  if (doc.status === 'completed') return 'done';
  if (doc.status === 'blocked' || doc.status === 'rejected' || doc.status === 'failed') return 'blocked';
  if (doc.status === 'waiting' && doc.step === 1) return 'teacher';
  if (doc.status === 'waiting' && doc.step === 2) return 'me';
  return 'signing';
}

/** Preview width for this screen: the phone's width in device pixels, within what the server allows. */
export function previewWidth(cssWidth: number, ratio: number): number {
  const raw = Math.round((cssWidth * Math.min(ratio, 3)) / 100) * 100;
  return Math.max(400, Math.min(1600, raw));
}

export interface FailureReason {
  text: string;
  count: number;
}

/** Why an approval's documents were not signed, most frequent first, in the reader's language where
 * we have the reason's words (else the server's message). */
export function failureReasons(items: Progress['items']): FailureReason[] {
  const counts = new Map<string, number>();
  for (const item of items) {
    if (item.status !== 'failed') continue;
    const key = `error.${item.failure_code ?? ''}`;
    const text = hasMessage(key) ? t(key) : item.failure_message || t('error.generic');
    counts.set(text, (counts.get(text) ?? 0) + 1);
  }
  return [...counts].map(([text, count]) => ({ text, count })).sort((a, b) => b.count - a.count);
}
