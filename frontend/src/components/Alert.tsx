import type { ComponentChildren } from 'preact';

/** An error (announced at once) or a notice (announced politely); renders nothing when empty. */
export function Alert({ kind = 'error', children }: { kind?: 'error' | 'notice'; children: ComponentChildren }) {
  if (!children) return null;
  return kind === 'error' ? (
    <p role="alert" class="alert alert-error">
      {children}
    </p>
  ) : (
    <p role="status" class="alert alert-notice">
      {children}
    </p>
  );
}
